//! The HTTP API: one router over the core, with a dialect per ecosystem.
//! Each dialect lives in one folder: pure conversions of requests,
//! responses, errors and webhook bodies, plus handlers of a few lines.
//! `native` is design.md §2's API; `openwa` speaks open-wa (its wrapper
//! routes, its EASY API and its webhook bodies); `twilio` speaks Twilio's
//! Messages API; `cloud` speaks Meta's WhatsApp Cloud API.

pub mod auth;
pub mod body;
pub mod cloud;
pub mod dashboard;
pub mod limits;
pub mod native;
pub mod openapi;
pub mod openwa;
pub mod ops;
pub mod serve;
pub mod twilio;

use crate::core::Core;
use crate::domain::{Delivery, Format};
use crate::webhook::{Render, Rendered};
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{Method, StatusCode, Uri},
    middleware,
    response::{IntoResponse, Response},
    routing::{any, get},
};
use limits::Dialect;
use native::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use tower_http::trace::TraceLayer;

/// A route nothing took. Twilio's and the Cloud API's clients read only
/// their own error shape, so a path under their prefix gets it.
async fn not_found(uri: Uri) -> Response {
    let path = uri.path();
    match limits::dialect_of(path) {
        Dialect::Twilio => twilio::convert::TwilioError::not_found(path).into_response(),
        Dialect::Cloud => cloud::convert::GraphError::unknown_path(path).into_response(),
        Dialect::Native | Dialect::OpenWa => {
            ApiError::not_found("route_not_found", "no such route").into_response()
        }
        Dialect::Easy => {
            openwa::easy::EasyError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
                .into_response()
        }
    }
}

/// A route that does not take this method, in its dialect's shape.
async fn wrong_method(method: Method, uri: Uri) -> Response {
    match limits::dialect_of(uri.path()) {
        // Twilio's 20004 "Method not allowed".
        Dialect::Twilio => twilio::convert::TwilioError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            20004,
            format!("Method not allowed: {method}"),
        )
        .into_response(),
        Dialect::Cloud => cloud::convert::GraphError::param(format!(
            "Unsupported {} request.",
            method.as_str().to_ascii_lowercase()
        ))
        .into_response(),
        Dialect::Native | Dialect::OpenWa => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not take that method",
        )
        .into_response(),
        // The EASY API takes POST only.
        Dialect::Easy => openwa::easy::EasyError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("the EASY API takes POST, not {method}"),
        )
        .into_response(),
    }
}

/// What the router needs besides the core.
pub struct Settings {
    pub api_key: Arc<str>,
    /// How long open-wa's `POST /session/create` waits for a QR.
    pub qr_wait: Duration,
    /// Where clients reach this daemon (media links).
    pub public_url: String,
    /// The key behind the Cloud API's business-scoped user ids.
    pub user_ids: cloud::convert::UserIds,
    /// Set once the sessions of the last run were restored (`/ready`).
    pub ready: Arc<std::sync::atomic::AtomicBool>,
    /// The Prometheus recorder's handle; None: no `/metrics`.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub limits: limits::Limits,
}

pub fn router(core: Core, s: Settings) -> Router {
    let keys = auth::Keys::new(s.api_key.clone(), core.clone());
    // Paths of one or two segments: the open-wa EASY API (`POST /{method}`,
    // `POST /{session}/{method}`) and the Cloud API's media (`GET|DELETE
    // /{version}/{media_id}`, `POST /{version}/upload:{id}`). As routes they would shadow every other
    // route's 404 and 405: they get only what nothing else took.
    let media_body = DefaultBodyLimit::max(s.limits.max_media_body);
    // One open-wa state for both its route sets (a chat's loaded history).
    let openwa_chats = openwa::LoadedChats::default();
    let (easy_default, easy, easy_root) = openwa::easy_routes(
        core.clone(),
        keys.clone(),
        &s.public_url,
        media_body,
        openwa_chats.clone(),
    );
    let media = cloud::media_route(
        core.clone(),
        keys.clone(),
        s.user_ids.clone(),
        &s.public_url,
        media_body,
    );
    let two = any(move |req: axum::extract::Request| {
        let (easy, media) = (easy.clone(), media.clone());
        async move {
            let mut segs = req.uri().path().trim_start_matches('/').split('/');
            let (first, second) = (segs.next().unwrap_or(""), segs.next().unwrap_or(""));
            let version = cloud::convert::is_version(first);
            // A session id has no dot: `/v21.0/x` is Graph's, never EASY's
            // (a POST there is a resumable upload's part, or no edge).
            let graph = version && first.contains('.');
            let cloud = (version && matches!(*req.method(), Method::GET | Method::DELETE))
                || (graph
                    && req.method() == Method::POST
                    && crate::core::is_upload_session(
                        &percent_encoding::percent_decode_str(second).decode_utf8_lossy(),
                    ));
            let res = if cloud {
                media.oneshot(req).await
            // `/api/…` is the native API's: a path it has not is its 404,
            // not an EASY method of a session named "api".
            } else if req.method() == Method::POST && !graph && first != "api" {
                easy.oneshot(req).await
            } else {
                Ok(not_found(req.uri().clone()).await)
            };
            res.unwrap_or_else(|e| match e {})
        }
    });
    let rest = Router::new()
        .route(
            "/{method}",
            // The native API's root: its 404, not an EASY method named "api".
            easy_default.route_layer(axum::middleware::from_fn(
                |req: axum::extract::Request, next: axum::middleware::Next| async move {
                    match req.uri().path() {
                        "/api" | "/api/" => not_found(req.uri().clone()).await,
                        _ => next.run(req).await,
                    }
                },
            )),
        )
        .route("/{first}/{second}", two)
        .fallback(not_found)
        .method_not_allowed_fallback(not_found);
    let ops = ops::Ops {
        core: core.clone(),
        ready: s.ready.clone(),
        metrics: s.metrics.clone(),
    };
    let keyed_ops = Router::new()
        .route("/metrics", get(ops::metrics))
        .route_layer(middleware::from_fn_with_state(
            auth::Guard::new(keys.clone(), native::deny).admin_only(),
            auth::require_key,
        ))
        .with_state(ops.clone());
    Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/openapi.json", get(ops::openapi_json))
        .with_state(ops)
        .merge(keyed_ops)
        .merge(dashboard::routes())
        // open-wa's middleware also takes `POST /` with the method in the body.
        .route("/", easy_root)
        .merge(native::routes(core.clone(), keys.clone(), media_body))
        .merge(openwa::routes(
            core.clone(),
            keys.clone(),
            s.qr_wait,
            &s.public_url,
            media_body,
            openwa_chats,
        ))
        .merge(twilio::routes(core.clone(), keys.clone()))
        .merge(cloud::routes(
            core,
            keys,
            s.user_ids,
            &s.public_url,
            media_body,
        ))
        .method_not_allowed_fallback(wrong_method)
        .fallback_service(rest)
        .layer(DefaultBodyLimit::max(s.limits.max_json))
        .layer(middleware::from_fn_with_state(
            limits::Gate::new(&s.limits),
            limits::gate,
        ))
        .layer(middleware::from_fn(ops::track))
        .layer(TraceLayer::new_for_http())
}

/// Renders a webhook delivery in its format: each dialect owns its bodies.
/// Given to the dispatcher at start. `public_url`: where receivers reach
/// this daemon (Twilio's `MediaUrl0` points there).
pub fn webhook_renderer(public_url: String, user_ids: cloud::convert::UserIds) -> Render {
    Arc::new(move |d: &Delivery, now_s: i64| -> Rendered {
        match d.hook.format {
            Format::Native => native::webhook::render(d, now_s),
            Format::Simple => openwa::webhook::render_simple(d, now_s),
            Format::Openwa => openwa::webhook::render_openwa(d, now_s, &public_url),
            Format::Twilio => twilio::webhook::render(d, &public_url),
            Format::Cloud => cloud::webhook::render(d, &user_ids),
        }
    })
}
