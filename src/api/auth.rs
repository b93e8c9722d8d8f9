//! The API key, on every route but /health. Accepted as `Authorization:
//! Bearer <key>`, `X-Api-Key`, open-wa's `key` / `api_key` headers, or HTTP
//! Basic with the key as the password and any user name, so that a client
//! that cannot add a header can carry it in its base URL
//! (`http://wabridge:KEY@host:8002`; Twilio clients send `AccountSid:token`
//! the same way). Each dialect says how a refusal looks.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use base64::Engine as _;
use std::sync::Arc;

/// Why a request was refused, in a sentence for the dialect's error body.
pub enum Denied {
    Missing,
    Invalid,
}

impl Denied {
    pub fn sentence(&self) -> &'static str {
        match self {
            Denied::Missing => {
                "an API key is required: send 'Authorization: Bearer <key>', 'X-Api-Key: <key>', or HTTP Basic auth with the key as the password"
            }
            Denied::Invalid => "the API key is not valid",
        }
    }
}

/// The key, and how one dialect answers a refusal (a 401 in its shape).
#[derive(Clone)]
pub struct Guard {
    key: Arc<str>,
    deny: fn(Denied) -> Response,
}

impl Guard {
    pub fn new(key: Arc<str>, deny: fn(Denied) -> Response) -> Self {
        Guard { key, deny }
    }
}

fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = v.trim().split_once(' ').unwrap_or((v, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(rest.trim().to_string());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            // user:password; the key is the password, the user is anything.
            let password = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|d| d.split_once(':').map(|(_, p)| p.to_string()));
            if password.is_some() {
                return password;
            }
        }
    }
    ["x-api-key", "key", "api_key"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(|k| k.trim().to_string())
}

/// Constant-time in the key's content and length: digests are compared.
fn same(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `?key=` (or `?api_key=`): for clients that can send neither a header
/// nor credentials in the URL, like a browser's `EventSource`.
fn in_query(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "key" || k == "api_key")
        .map(|(_, v)| v.into_owned())
}

pub async fn require_key(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let denied = match presented(req.headers()).or_else(|| in_query(req.uri().query())) {
        Some(k) if same(&k, &g.key) => return next.run(req).await,
        Some(_) => Denied::Invalid,
        None => Denied::Missing,
    };
    let mut resp = (g.deny)(denied);
    for challenge in [
        "Bearer realm=\"wabridge\"",
        "Basic realm=\"wabridge\", charset=\"UTF-8\"",
    ] {
        resp.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_presenting_the_key() {
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        for (h, v) in [
            ("authorization", "Bearer k1".to_string()),
            ("authorization", "bearer k1".to_string()),
            ("authorization", basic("wabridge:k1")),
            ("authorization", basic(":k1")),
            ("x-api-key", "k1".to_string()),
            ("key", "k1".to_string()),
            ("api_key", "k1".to_string()),
        ] {
            let mut m = HeaderMap::new();
            m.insert(h, v.parse().unwrap());
            assert_eq!(presented(&m).as_deref(), Some("k1"), "{h}: {v}");
        }
        let mut m = HeaderMap::new();
        m.insert("authorization", basic("no-colon").parse().unwrap());
        assert_eq!(presented(&m), None);
        // A malformed Basic header does not hide a key sent another way.
        m.insert("x-api-key", "k1".parse().unwrap());
        assert_eq!(presented(&m).as_deref(), Some("k1"));
        assert_eq!(in_query(Some("a=1&key=k%2F1")).as_deref(), Some("k/1"));
        assert_eq!(in_query(Some("a=1")), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "abcd"));
    }
}
