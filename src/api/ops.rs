//! Routes for operators: `/health` (liveness, no key), `/ready` (the store
//! answers and the sessions were restored; no key, for probes), `/metrics`
//! (Prometheus text, keyed like every route), and the middleware that
//! counts API requests by route.

use crate::api::native::ApiError;
use crate::core::Core;
use crate::telemetry;
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

pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

pub async fn ready(State(ops): State<Ops>) -> Response {
    let restored = ops.ready.load(Ordering::Acquire);
    let store = ops.core.check_store();
    let body = json!({
        "status": if restored && store.is_ok() { "ready" } else { "not_ready" },
        "store": match &store { Ok(()) => "ok".to_string(), Err(e) => e.to_string() },
        "sessions_restored": restored,
    });
    let code = if restored && store.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

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
    let (pending, dead) = ops.core.outbox_counts().map_err(ApiError::from)?;
    telemetry::gauge(telemetry::OUTBOX, "state", "pending", pending as f64);
    telemetry::gauge(telemetry::OUTBOX, "state", "dead", dead as f64);
    handle.run_upkeep();
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response())
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
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    telemetry::http_request(&route, &method, res.status().as_u16(), started.elapsed());
    res
}
