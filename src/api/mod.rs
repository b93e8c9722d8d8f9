//! The HTTP API: one router over the core, with a dialect per ecosystem.
//! Each dialect lives in one folder: pure conversions of requests,
//! responses, errors and webhook bodies, plus handlers of a few lines.
//! `native` is design.md §2's API; `openwa` speaks open-wa.

pub mod auth;
pub mod body;
pub mod native;
pub mod openwa;

use crate::core::Core;
use crate::domain::{Delivery, Format};
use crate::webhook::Rendered;
use axum::{Json, Router, extract::DefaultBodyLimit, http::StatusCode, middleware, routing::get};
use native::ApiError;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

/// Bodies may carry base64 media.
pub const MAX_BODY: usize = 96 << 20;

pub fn router(core: Core, api_key: Arc<str>) -> Router {
    let api =
        native::routes().route_layer(middleware::from_fn_with_state(api_key, auth::require_key));
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(api)
        .fallback(|| async { ApiError::not_found("route_not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(120),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(core)
}

/// Renders a webhook delivery in its format: each dialect owns its bodies.
/// Given to the dispatcher at start.
pub fn render_webhook(d: &Delivery, now_s: i64) -> Rendered {
    match d.hook.format {
        Format::Simple => openwa::webhook::render_simple(d, now_s),
        // Validation admits only native and simple so far.
        Format::Native | Format::Openwa | Format::Cloud | Format::Twilio => {
            native::webhook::render(d, now_s)
        }
    }
}
