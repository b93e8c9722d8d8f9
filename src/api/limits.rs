//! What one client may take of the daemon: requests at once, time per
//! request, event streams at once, body sizes. A refusal is a clear error
//! in the dialect of the route asked (503 with `Retry-After`, or 413), so a
//! client of any ecosystem can read it.

use super::{cloud, native, openwa, twilio};
use crate::core::CoreError;
use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits of the HTTP API.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_requests: usize,
    pub request_timeout: Duration,
    pub max_streams: usize,
    /// Bodies without media.
    pub max_json: usize,
    /// Bodies that may carry media in base64 (derived from the media cap).
    pub max_media_body: usize,
}

impl Limits {
    /// Room for `max_media` bytes in base64 inside a JSON body.
    pub fn media_body(max_media: usize) -> usize {
        max_media / 3 * 4 + (1 << 20)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_requests: 256,
            request_timeout: Duration::from_secs(120),
            max_streams: 64,
            max_json: 1 << 20,
            max_media_body: Self::media_body(crate::core::MAX_SEND_MEDIA),
        }
    }
}

/// The gate every request but the probes passes.
#[derive(Clone)]
pub struct Gate {
    requests: Arc<Semaphore>,
    timeout: Duration,
    streams: StreamSlots,
}

/// Places for event streams: a stream holds one while it is open.
#[derive(Clone)]
pub struct StreamSlots(Arc<Semaphore>);

impl StreamSlots {
    pub fn take(&self) -> Result<OwnedSemaphorePermit, CoreError> {
        self.0
            .clone()
            .try_acquire_owned()
            .map_err(|_| CoreError::Overloaded {
                code: "too_many_streams",
                message:
                    "too many event streams are open (--max-streams); close one or retry later"
                        .into(),
            })
    }
}

impl Gate {
    pub fn new(l: &Limits) -> Self {
        Gate {
            requests: Arc::new(Semaphore::new(l.max_requests.max(1))),
            timeout: l.request_timeout,
            streams: StreamSlots(Arc::new(Semaphore::new(l.max_streams.max(1)))),
        }
    }
}

/// Probes answer even when the daemon is at its limits.
fn is_probe(path: &str) -> bool {
    matches!(path, "/health" | "/ready")
}

pub async fn gate(State(g): State<Gate>, req: Request, next: Next) -> Response {
    // A refusal may come before the body was read (a wrong key, no such
    // route, too large): HTTP/1.1 cannot then reuse the connection, so it
    // says so, rather than a client's next request on it meeting a closed
    // socket.
    let unread_body = req.version() == axum::http::Version::HTTP_11
        && (req.headers().contains_key(header::TRANSFER_ENCODING)
            || req
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0"));
    let mut res = admit(g, req, next).await;
    if unread_body && (res.status().is_client_error() || res.status().is_server_error()) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

async fn admit(g: Gate, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if is_probe(&path) {
        return next.run(req).await;
    }
    // Path parameters are text: a path that does not decode to UTF-8
    // would fail every extractor with a plain-text answer.
    if percent_encoding::percent_decode_str(&path)
        .decode_utf8()
        .is_err()
    {
        return malformed(&path, "the path is not UTF-8 once percent-decoded");
    }
    let Ok(_permit) = g.requests.try_acquire() else {
        return refuse(
            &path,
            CoreError::Overloaded {
                code: "server_busy",
                message: "the daemon is serving as many requests as it may (--max-requests); retry shortly".into(),
            },
        );
    };
    req.extensions_mut().insert(g.streams.clone());
    match tokio::time::timeout(g.timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => refuse(
            &path,
            CoreError::Overloaded {
                code: "request_timeout",
                message: format!(
                    "the request took longer than {} s (--request-timeout-s)",
                    g.timeout.as_secs()
                ),
            },
        ),
    }
}

/// Which dialect a path belongs to, for errors raised before any handler.
#[derive(Debug, PartialEq)]
pub enum Dialect {
    Native,
    /// open-wa's wrapper routes (`/session/create`, `/message/send`, …).
    OpenWa,
    /// open-wa's EASY API (`POST /{method}`, `POST /{session}/{method}`).
    Easy,
    Twilio,
    Cloud,
}

pub fn dialect_of(path: &str) -> Dialect {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        // `/` is the dashboard's (a POST there, the EASY API's, keeps the
        // native shape for what the router answers itself).
        [
            "api" | "metrics" | "openapi.json" | "health" | "ready" | "docs" | "dashboard" | "",
            ..,
        ] => Dialect::Native,
        ["2010-04-01", ..] => Dialect::Twilio,
        ["cloud", ..] => Dialect::Cloud,
        [v, ..] if cloud::convert::is_version(v) => Dialect::Cloud,
        // open-wa's wrapper routes; the EASY API is everything else.
        ["sessions"] | ["message", "send"] | ["session", "create"] => Dialect::OpenWa,
        ["session", _, "status" | "logout"] => Dialect::OpenWa,
        _ => Dialect::Easy,
    }
}

/// A request that cannot be read at all, as the dialect of `path` says so.
pub fn malformed(path: &str, message: &str) -> Response {
    match dialect_of(path) {
        Dialect::Native | Dialect::OpenWa => native::ApiError::bad_request(message).into_response(),
        Dialect::Easy => openwa::easy::EasyError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "MALFORMED_BODY",
            message,
        )
        .into_response(),
        Dialect::Twilio => {
            twilio::convert::TwilioError::new(axum::http::StatusCode::BAD_REQUEST, 20001, message)
                .into_response()
        }
        Dialect::Cloud => cloud::convert::GraphError::param(message).into_response(),
    }
}

/// A core error as the dialect of `path` answers it.
pub fn refuse(path: &str, e: CoreError) -> Response {
    match dialect_of(path) {
        Dialect::Native => native::ApiError::from(e).into_response(),
        Dialect::OpenWa => openwa::convert::WrapperError::from(e).into_response(),
        Dialect::Easy => openwa::easy::EasyError::from(e).into_response(),
        Dialect::Twilio => twilio::convert::TwilioError::from(e).into_response(),
        Dialect::Cloud => cloud::convert::GraphError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_dialect() {
        assert_eq!(dialect_of("/api/sessions"), Dialect::Native);
        assert_eq!(
            dialect_of("/2010-04-01/Accounts/a/Messages.json"),
            Dialect::Twilio
        );
        assert_eq!(dialect_of("/v21.0/shop/messages"), Dialect::Cloud);
        assert_eq!(dialect_of("/cloud/media/1"), Dialect::Cloud);
        assert_eq!(dialect_of("/shop/sendText"), Dialect::Easy);
        assert_eq!(dialect_of("/sendText"), Dialect::Easy);
        assert_eq!(dialect_of("/session/sendText"), Dialect::Easy);
        assert_eq!(dialect_of("/session/create"), Dialect::OpenWa);
        assert_eq!(dialect_of("/session/shop/status"), Dialect::OpenWa);
        assert_eq!(dialect_of("/message/send"), Dialect::OpenWa);
        assert_eq!(dialect_of("/sessions"), Dialect::OpenWa);
        assert_eq!(dialect_of("/"), Dialect::Native);
        assert_eq!(dialect_of("/health"), Dialect::Native);
        assert_eq!(Limits::media_body(3 << 20), (4 << 20) + (1 << 20));
    }
}
