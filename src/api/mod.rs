//! The HTTP API: routing, auth, errors. Handlers translate HTTP to calls on
//! the session manager and back; they hold no state of their own.

pub mod auth;
mod deliveries;
pub mod error;
mod events;
mod messages;
mod sessions;

use crate::session::Manager;
use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

#[derive(Clone)]
pub struct AppState {
    pub manager: Arc<Manager>,
    pub api_key: Arc<str>,
}

/// Bodies may carry base64 media.
pub const MAX_BODY: usize = 96 << 20;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/sessions", post(sessions::create).get(sessions::list))
        .route(
            "/api/sessions/{id}",
            get(sessions::get).delete(sessions::delete),
        )
        .route("/api/sessions/{id}/start", post(sessions::start))
        .route("/api/sessions/{id}/stop", post(sessions::stop))
        .route("/api/sessions/{id}/restart", post(sessions::restart))
        .route("/api/sessions/{id}/logout", post(sessions::logout))
        .route(
            "/api/sessions/{id}/webhooks",
            axum::routing::put(sessions::put_webhooks),
        )
        .route("/api/sessions/{id}/qr", get(sessions::qr))
        .route(
            "/api/sessions/{id}/messages",
            post(messages::send).get(messages::list),
        )
        .route(
            "/api/sessions/{id}/messages/{mid}/media",
            get(messages::media),
        )
        .route("/api/sessions/{id}/chats", get(messages::chats))
        .route("/api/sessions/{id}/chats/{chat}/read", post(messages::read))
        .route(
            "/api/sessions/{id}/contacts/{phone}",
            get(messages::contact),
        )
        .route("/api/sessions/{id}/deliveries", get(deliveries::list))
        .route(
            "/api/sessions/{id}/deliveries/{did}/retry",
            post(deliveries::retry),
        )
        .route("/api/events", get(events::stream))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(api)
        .fallback(|| async { error::ApiError::not_found("route_not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(120),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
