//! The open-wa dialect: what backends written for open-wa send and receive.
//! * the wrapper routes many open-wa servers put in front of it:
//!   `POST /session/create`, `POST /message/send`, `GET /session/{id}/status`
//!   (and list, logout, delete);
//! * the EASY API: `POST /{sessionId}/{method}` and `POST /{method}` with
//!   `{"args": {...} | [...]}`;
//! * webhook bodies: `simple` (wrapper backends) and `openwa` (open-wa's own).
//!
//! Pure conversions in `convert`, the EASY API's calls in `easy`, handlers
//! in `handlers`, bodies in `webhook`.

pub mod convert;
pub mod easy;
mod handlers;
pub mod webhook;

use crate::api::auth::{ActAs, Denied, Guard, Keys, require_key};
use crate::core::Core;
use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    middleware,
    response::{IntoResponse, Response},
    routing::{MethodRouter, delete, get, post},
};
use handlers as h;
use std::time::Duration;

#[derive(Clone)]
pub struct OpenWa {
    core: Core,
    /// How long `POST /session/create` waits for the first QR.
    qr_wait: Duration,
    /// Where clients reach this daemon (messages' media links).
    public_url: std::sync::Arc<str>,
    /// How far back `loadEarlierMessages` has gone in each chat.
    loaded: LoadedChats,
}

/// Per session and chat: the oldest message `loadEarlierMessages` has
/// brought (its id and time), back to which `getAllMessagesInChat` shows
/// the chat.
pub type LoadedChats = std::sync::Arc<
    std::sync::Mutex<std::collections::HashMap<(crate::domain::SessionId, String), (String, i64)>>,
>;

impl ActAs for OpenWa {
    fn act_as(mut self, access: crate::domain::Access) -> Self {
        self.core = self.core.acting_as(access);
        self
    }
}

/// A refused key, in the open-wa routes' shape.
fn deny(d: Denied) -> Response {
    (
        d.status(),
        Json(serde_json::json!({"success": false, "message_id": null, "error": d.sentence()})),
    )
        .into_response()
}

/// open-wa's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    h::create,
    h::status,
    h::sessions,
    h::send,
    h::logout,
    h::delete,
    h::easy_default,
    h::easy,
    h::easy_root,
    h::easy_on_session
))]
pub struct Doc;

/// The wrapper routes.
pub fn routes(
    core: Core,
    keys: Keys,
    qr_wait: Duration,
    public_url: &str,
    media_body: DefaultBodyLimit,
    loaded: LoadedChats,
) -> Router {
    Router::new()
        .route("/session/create", post(h::create))
        .route("/session/{id}/status", get(h::status))
        .route("/session/{id}/logout", post(h::logout))
        // A POST here is the EASY API on a session named "session" (open-wa's
        // default sessionId): `POST /session/sendText`.
        .route(
            "/session/{id}",
            delete(h::delete).post(h::easy_on_session).layer(media_body),
        )
        .route("/sessions", get(h::sessions))
        .route("/message/send", post(h::send))
        .route_layer(middleware::from_fn_with_state(
            Guard::new(keys, deny),
            require_key,
        ))
        .with_state(OpenWa {
            core,
            qr_wait,
            public_url: public_url.into(),
            loaded,
        })
}

/// The EASY API: `POST /{method}` (the default session; `POST /{session}`
/// with the method in the body), `POST /{session}/{method}`, and `POST /`
/// with the method in the body. These paths match almost anything of one or
/// two segments: the router serves them only for what no other route took.
pub fn easy_routes(
    core: Core,
    keys: Keys,
    public_url: &str,
    media_body: DefaultBodyLimit,
    loaded: LoadedChats,
) -> (MethodRouter, MethodRouter, MethodRouter) {
    let st = OpenWa {
        core,
        qr_wait: Duration::ZERO,
        public_url: public_url.into(),
        loaded,
    };
    let layer = || middleware::from_fn_with_state(Guard::new(keys.clone(), deny), require_key);
    (
        post(h::easy_default)
            .layer(media_body)
            .route_layer(layer())
            .with_state(st.clone()),
        post(h::easy)
            .layer(media_body)
            .route_layer(layer())
            .with_state(st.clone()),
        post(h::easy_root)
            .layer(media_body)
            .route_layer(layer())
            .with_state(st),
    )
}
