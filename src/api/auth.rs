//! API key check for every route but /health: `Authorization: Bearer`,
//! `X-Api-Key`, or open-wa's `key` / `api_key` headers.

use super::native::ApiError;
use axum::{
    extract::{Request, State},
    http::{HeaderMap, StatusCode},
    middleware::Next,
    response::Response,
};
use std::sync::Arc;

fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        if let Some(k) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(k.trim());
        }
    }
    ["x-api-key", "key", "api_key"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

/// Constant-time, so response timing does not reveal the key.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn require_key(
    State(api_key): State<Arc<str>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match presented(req.headers()) {
        Some(k) if same(k, &api_key) => Ok(next.run(req).await),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the API key is not valid",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_accepted() {
        for (h, v) in [
            ("authorization", "Bearer k1"),
            ("x-api-key", "k1"),
            ("key", "k1"),
            ("api_key", "k1"),
        ] {
            let mut m = HeaderMap::new();
            m.insert(h, v.parse().unwrap());
            assert_eq!(presented(&m), Some("k1"), "{h}");
        }
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "abcd"));
    }
}
