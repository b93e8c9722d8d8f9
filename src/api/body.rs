//! JSON request bodies for every dialect: a rejection says what is wrong
//! (not JSON, a field that does not fit, too large) without choosing an
//! error shape; each dialect turns `BodyError` into its own.

/// A refusal that says when to come back (`Retry-After`, seconds).
pub fn with_retry_after(
    mut r: axum::response::Response,
    secs: Option<u64>,
) -> axum::response::Response {
    if let Some(s) = secs
        && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    r
}

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

#[derive(Debug)]
pub enum BodyError {
    /// Not JSON at all, or unreadable.
    Malformed(String),
    /// JSON that does not fit; `field` is the path ("." for the whole body).
    Invalid {
        field: String,
        why: String,
    },
    TooLarge,
}

/// `Json<T>` with dialect-neutral rejections. An empty body reads as `{}`.
pub struct JsonBody<T>(pub T);

/// The body's bytes, with dialect-neutral rejections (too large: 413).
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = BodyError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    BodyError::TooLarge
                } else {
                    BodyError::Malformed(format!("could not read the body: {e}"))
                }
            })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = BodyError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    BodyError::TooLarge
                } else {
                    BodyError::Malformed(format!("could not read the body: {e}"))
                }
            })?;
        parse(&bytes).map(JsonBody)
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let body: &[u8] = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        // A shape error may be found before a syntax error further on:
        // only a body that is JSON at all is "invalid" rather than malformed.
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        if inner.is_syntax() || inner.is_eof() || !is_json {
            BodyError::Malformed(format!("the body is not valid JSON: {inner}"))
        } else {
            BodyError::Invalid {
                field,
                why: inner.to_string(),
            }
        }
    })?;
    // One JSON value: what follows it (a second object, stray text) would
    // otherwise be dropped unread.
    de.end()
        .map_err(|e| BodyError::Malformed(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Only reached by a handler that takes `JsonBody` without converting the
/// rejection into its dialect's error; every dialect does.
impl axum::response::IntoResponse for BodyError {
    fn into_response(self) -> axum::response::Response {
        let (status, msg) = match self {
            BodyError::Malformed(m) => (StatusCode::BAD_REQUEST, m),
            BodyError::Invalid { field, why } => {
                (StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {why}"))
            }
            BodyError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too large".into()),
        };
        (status, msg).into_response()
    }
}

/// Media bytes as every dialect serves them: a content type that is a
/// well-formed `type/subtype` (else octet-stream), never sniffed, never
/// rendered as a page of this origin.
pub fn media_response(
    mimetype: &str,
    filename: Option<&str>,
    bytes: Vec<u8>,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let essence = mimetype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = matches!(essence.split_once('/'), Some((t, s)) if token(t) && token(s));
    let ctype = if ok {
        essence
    } else {
        "application/octet-stream".into()
    };
    let mut resp = ([(header::CONTENT_TYPE, ctype)], bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Opened in a browser after all: no script, no origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    let name = filename.filter(|n| !n.contains(['"', '\\', '\r', '\n']));
    let disposition = match name {
        Some(n) => format!("attachment; filename=\"{n}\""),
        None => "attachment".into(),
    };
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Bytes as a request or response body (a file, an export): in the OpenAPI
/// document a binary string, which generated clients read as a file, not
/// an array of integers.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_is_served_with_a_checked_type_never_inline() {
        let r = media_response("image/PNG; q=1", Some("cat.png"), vec![1]);
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            r.headers()["content-disposition"],
            "attachment; filename=\"cat.png\""
        );
        for bad in ["", "text", "image/png\r\nx: y", "a b/c", "a/b/c"] {
            let r = media_response(bad, Some("a\"b"), vec![]);
            assert_eq!(
                r.headers()["content-type"],
                "application/octet-stream",
                "{bad:?}"
            );
            assert_eq!(r.headers()["content-disposition"], "attachment");
        }
    }

    #[test]
    fn bodies_that_are_not_json_are_malformed_not_invalid() {
        #[derive(serde::Deserialize, Debug)]
        struct B {
            #[allow(dead_code)]
            a: String,
        }
        assert!(matches!(parse::<B>(b"[1,2"), Err(BodyError::Malformed(_))));
        for trailing in [&b"{\"a\": \"x\"}{\"a\": \"y\"}"[..], b"{\"a\": \"x\"} z"] {
            assert!(matches!(parse::<B>(trailing), Err(BodyError::Malformed(_))));
        }
        assert!(parse::<B>(b"{\"a\": \"x\"}\n").is_ok());
        assert!(matches!(
            parse::<B>(b"{\"a\": 1}"),
            Err(BodyError::Invalid { .. })
        ));
        assert!(matches!(parse::<B>(b"  "), Err(BodyError::Invalid { .. })));
        assert_eq!(parse::<B>(b"{\"a\": \"x\"}").unwrap().a, "x");
    }
}
