//! The native dialect (design.md §2): `/api/...`. Pure conversions in
//! `convert`, thin handlers in `handlers`, the webhook body in `webhook`.

pub mod convert;
mod handlers;
pub mod webhook;

pub use convert::ApiError;

use crate::core::Core;
use axum::{
    Router,
    routing::{get, post, put},
};
use handlers as h;

pub fn routes() -> Router<Core> {
    Router::new()
        .route("/api/sessions", post(h::create).get(h::list))
        .route("/api/sessions/{id}", get(h::get).delete(h::delete))
        .route("/api/sessions/{id}/start", post(h::start))
        .route("/api/sessions/{id}/stop", post(h::stop))
        .route("/api/sessions/{id}/restart", post(h::restart))
        .route("/api/sessions/{id}/logout", post(h::logout))
        .route("/api/sessions/{id}/webhooks", put(h::put_webhooks))
        .route("/api/sessions/{id}/qr", get(h::qr))
        .route(
            "/api/sessions/{id}/messages",
            post(h::send).get(h::messages),
        )
        .route("/api/sessions/{id}/messages/{mid}/media", get(h::media))
        .route("/api/sessions/{id}/chats", get(h::chats))
        .route("/api/sessions/{id}/chats/{chat}/read", post(h::read))
        .route("/api/sessions/{id}/contacts/{phone}", get(h::contact))
        .route("/api/sessions/{id}/deliveries", get(h::deliveries))
        .route("/api/sessions/{id}/deliveries/{did}/retry", post(h::retry))
        .route("/api/events", get(h::events))
}
