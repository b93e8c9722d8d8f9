//! Routes for operators: `/health` (liveness, no key), `/ready` (the store
//! answers and the sessions were restored; no key, for probes), `/metrics`
//! (Prometheus text, keyed like every route), and the middleware that
//! counts API requests by route.

use crate::api::native::ApiError;
use crate::core::Core;
use crate::telemetry;
use axum::http::Method;
use axum::{
    Json,
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the operator routes read.
#[derive(Clone)]
pub struct Ops {
    pub core: Core,
    /// Set once the sessions of the last run were restored.
    pub ready: Arc<AtomicBool>,
    /// None when no recorder is installed (then `/metrics` is 404).
    pub metrics: Option<PrometheusHandle>,
}

/// The operator routes' part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(health, ready, metrics, openapi_json))]
pub struct Doc;

#[utoipa::path(get, path = "/health", tag = "operations", summary = "Liveness: the process answers and its store takes writes", security(()),
    responses((status = 200, description = "{status: ok}", body = Object),
              (status = 503, description = "{status: broken}: a write to the store failed, and only a restart reopens it", body = Object)))]
pub async fn health(State(ops): State<Ops>) -> Response {
    // A store that stopped taking writes stays so until a restart: a
    // liveness probe must see it, or the process is never restarted (a
    // disk found full before a write is /ready's, as it passes by itself;
    // one that fails a write breaks the store as any failed write does).
    if ops.core.store_broken() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "broken", "store": "store_broken"})),
        )
            .into_response();
    }
    Json(json!({"status": "ok"})).into_response()
}

#[utoipa::path(get, path = "/ready", tag = "operations", summary = "Readiness: the store answers and the sessions were restored", security(()),
    responses((status = 200, description = "{status: ready, store, sessions_restored}", body = Object),
              (status = 503, description = "Not ready yet, or the store fails", body = Object)))]
pub async fn ready(State(ops): State<Ops>) -> Response {
    let restored = ops.ready.load(Ordering::Acquire);
    let store = ops.core.check_store();
    if let Err(e) = &store {
        tracing::debug!("not ready: the store fails: {e}");
    }
    let body = json!({
        "status": if restored && store.is_ok() { "ready" } else { "not_ready" },
        // Its code, not its text: /ready answers without a key, and a
        // store's error names paths on the host.
        "store": match &store { Ok(()) => "ok", Err(e) => e.code() },
        "sessions_restored": restored,
    });
    let code = if restored && store.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics (text exposition format)",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain"),
              (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody),
              (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody)))]
pub async fn metrics(State(ops): State<Ops>) -> Result<Response, ApiError> {
    let Some(handle) = &ops.metrics else {
        return Err(ApiError::not_found(
            "metrics_disabled",
            "metrics are not recorded by this process",
        ));
    };
    for (status, n) in ops.core.status_counts().await {
        telemetry::gauge(telemetry::SESSIONS, "status", status.as_str(), n as f64);
    }
    let live = ops.core.session_ids().await;
    // A store that fails makes its gauges unknown (NaN), not the whole
    // page an error.
    let (pending, dead) = match ops.core.outbox_counts() {
        Ok((p, d)) => (p as f64, d as f64),
        Err(e) => {
            tracing::warn!("the outbox could not be counted for /metrics: {e}");
            (f64::NAN, f64::NAN)
        }
    };
    telemetry::gauge(telemetry::OUTBOX, "state", "pending", pending);
    telemetry::gauge(telemetry::OUTBOX, "state", "dead", dead);
    handle.run_upkeep();
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        telemetry::without_gone_sessions(&handle.render(), &live),
    )
        .into_response())
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", summary = "This document (OpenAPI 3.1)", security(()),
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn openapi_json() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| {
        crate::api::openapi::document()
            .to_pretty_json()
            .unwrap_or_default()
    });
    ([(header::CONTENT_TYPE, "application/json")], doc.as_str()).into_response()
}

/// Counts each request by its route pattern; requests that matched no
/// route of the outer router (the open-wa EASY API, the Cloud media
/// paths, 404s) count as `other`.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    // Any token is a method to hyper: only the standard ones become labels,
    // or a client could add a series per request.
    let method = match *req.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS => req.method().as_str(),
        _ => "other",
    }
    .to_string();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    telemetry::http_request(&route, &method, res.status().as_u16(), started.elapsed());
    res
}
