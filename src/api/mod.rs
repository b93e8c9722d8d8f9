//! The HTTP API: one router over the core, with a dialect per ecosystem.
//! Each dialect lives in one folder: pure conversions of requests,
//! responses, errors and webhook bodies, plus handlers of a few lines.
//! `native` is design.md §2's API; `openwa` speaks open-wa (its wrapper
//! routes, its EASY API and its webhook bodies); `twilio` speaks Twilio's
//! Messages API.

pub mod auth;
pub mod body;
pub mod native;
pub mod openwa;
pub mod twilio;

use crate::core::Core;
use crate::domain::{Delivery, Format};
use crate::webhook::{Render, Rendered};
use axum::{Json, Router, extract::DefaultBodyLimit, http::StatusCode, routing::get};
use native::ApiError;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

/// Bodies may carry base64 media.
pub const MAX_BODY: usize = 96 << 20;

async fn not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such route")
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// `qr_wait`: how long open-wa's `POST /session/create` waits for a QR.
pub fn router(core: Core, api_key: Arc<str>, qr_wait: Duration) -> Router {
    // The EASY API's paths (`/{method}`, `/{session}/{method}`) would shadow
    // every other route's 404 and 405: it gets only what nothing else took.
    let easy = openwa::easy_routes(core.clone(), api_key.clone())
        .fallback(not_found)
        .method_not_allowed_fallback(not_found);
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(native::routes(core.clone(), api_key.clone()))
        .merge(openwa::routes(core.clone(), api_key.clone(), qr_wait))
        .merge(twilio::routes(core, api_key))
        .method_not_allowed_fallback(wrong_method)
        .fallback_service(easy)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(120),
        ))
        .layer(TraceLayer::new_for_http())
}

/// Renders a webhook delivery in its format: each dialect owns its bodies.
/// Given to the dispatcher at start. `public_url`: where receivers reach
/// this daemon (Twilio's `MediaUrl0` points there).
pub fn webhook_renderer(public_url: String) -> Render {
    Arc::new(move |d: &Delivery, now_s: i64| -> Rendered {
        match d.hook.format {
            Format::Simple => openwa::webhook::render_simple(d, now_s),
            Format::Openwa => openwa::webhook::render_openwa(d, now_s),
            Format::Twilio => twilio::webhook::render(d, &public_url),
            // Validation admits no cloud webhooks yet.
            Format::Native | Format::Cloud => native::webhook::render(d, now_s),
        }
    })
}
