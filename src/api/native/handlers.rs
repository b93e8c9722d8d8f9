//! The native routes: each a few lines over the core.

use super::convert::{self as cv, ApiError};
use crate::api::auth::Caller;
use crate::api::body::{BodyError, JsonBody};
use crate::core::Core;
use crate::domain::Webhook;
use axum::{
    Json,
    extract::{Path, Query, rejection::QueryRejection},
    http::{HeaderMap, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;

type Body<T> = Result<JsonBody<T>, BodyError>;
type Answer = Result<Json<Value>, ApiError>;
type Params<T> = Result<Query<T>, QueryRejection>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let secs = self.retry_after;
        crate::api::body::with_retry_after((self.status, Json(self.body())).into_response(), secs)
    }
}

// ---- sessions

#[utoipa::path(post, path = "/api/sessions", tag = "sessions", summary = "Create a session (and start it: a QR follows)", request_body = cv::CreateSession, responses((status = 201, description = "The session", body = Object), (status = 409, description = "It exists", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn create(
    Caller(core): Caller<Core>,
    body: Body<cv::CreateSession>,
) -> Result<Response, ApiError> {
    let b = body?.0;
    let id = match b.id {
        Some(raw) => cv::session_id(&raw)?,
        None => crate::domain::SessionId::generate(),
    };
    let view = core
        .create_session(id, b.webhooks, b.start, b.proxy, b.limits, b.calls)
        .await?;
    Ok((StatusCode::CREATED, Json(cv::session(&view))).into_response())
}

#[utoipa::path(get, path = "/api/sessions", tag = "sessions", summary = "List sessions", responses((status = 200, description = "Every session, as an array", body = [Object]), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn list(Caller(core): Caller<Core>) -> Json<Vec<Value>> {
    Json(
        core.readable_sessions()
            .await
            .iter()
            .map(cv::session)
            .collect(),
    )
}

#[utoipa::path(get, path = "/api/sessions/{id}", tag = "sessions", summary = "A session: status, account, webhooks", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "The session", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn get(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(
        &core.session(&cv::session_id(&id)?).await?,
    )))
}

#[utoipa::path(post, path = "/api/sessions/{id}/start", tag = "sessions", summary = "Start a stopped session", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "The session", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn start(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(&core.start(&cv::session_id(&id)?).await?)))
}

#[utoipa::path(post, path = "/api/sessions/{id}/stop", tag = "sessions", summary = "Stop a session (keeps the link)", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "The session", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn stop(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(&core.stop(&cv::session_id(&id)?).await?)))
}

#[utoipa::path(post, path = "/api/sessions/{id}/restart", tag = "sessions", summary = "Restart a session's browser (no rescan)", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "The session", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn restart(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(
        &core.restart(&cv::session_id(&id)?).await?,
    )))
}

#[utoipa::path(post, path = "/api/sessions/{id}/logout", tag = "sessions", summary = "Log the device out (a new QR scan is needed)", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "The session", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn logout(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(
        &core.logout(&cv::session_id(&id)?).await?,
    )))
}

#[utoipa::path(delete, path = "/api/sessions/{id}", tag = "sessions", summary = "Delete a session: logs out, removes its data", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "{id, deleted}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn delete(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    let id = cv::session_id(&id)?;
    core.delete(&id).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

#[utoipa::path(get, path = "/api/sessions/{id}/export", tag = "sessions", summary = "The session in one file (auth state, history, webhooks, pending deliveries): a backup or a move. The session must be stopped, or asked with ?stop=true (it then stays stopped). Admin key only", params(("id" = String, Path, description = "The session id"), ExportQuery), responses((status = 200, description = "application/x-tar", content_type = "application/x-tar", body = crate::api::body::Binary), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is running (session_running)", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 503, description = "Busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn export(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    q: Params<ExportQuery>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let id = cv::session_id(&id)?;
    let stop = match q.stop.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("stop", "must be true or false")),
    };
    let bytes = core.export_session(&id, stop).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/x-tar".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.wabridge.tar\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `true`: a running session is stopped for the export, and stays so.
    stop: Option<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/import", tag = "sessions", summary = "Restore a session from its export (no QR scan); refused if this daemon has the same or a newer copy. Admin key only", params(("id" = String, Path, description = "The session id (as in the export)")), request_body(content = crate::api::body::Binary, content_type = "application/octet-stream", description = "What GET /api/sessions/{id}/export gave (a tar; sent as application/octet-stream or application/x-tar)"), responses((status = 201, description = "The session", body = Object), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody), (status = 409, description = "This daemon has the same or a newer copy of the session (move epoch)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "Not a session export, or not of this session", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body is too large", body = crate::api::native::convert::ErrorBody), (status = 503, description = "Busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn import(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let id = cv::session_id(&id)?;
    // Refused before the body is read: hundreds of megabytes are the
    // admin's to send, not any key's.
    core.access()
        .check_admin()
        .map_err(crate::core::CoreError::from)?;
    let bytes = import_body(body).await?;
    let view = core.import_session(&id, bytes).await?;
    Ok((StatusCode::CREATED, Json(cv::session(&view))).into_response())
}

#[utoipa::path(post, path = "/api/sessions/import", tag = "sessions", summary = "Restore a session from its export, under the id the export names (no QR scan); refused if this daemon has the same or a newer copy. Admin key only", request_body(content = crate::api::body::Binary, content_type = "application/octet-stream", description = "What GET /api/sessions/{id}/export gave (a tar; sent as application/octet-stream or application/x-tar)"), responses((status = 201, description = "The session", body = Object), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody), (status = 409, description = "This daemon has the same or a newer copy of the session (move epoch)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "Not a session export", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body is too large", body = crate::api::native::convert::ErrorBody), (status = 503, description = "Busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn import_any(
    Caller(core): Caller<Core>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    core.access()
        .check_admin()
        .map_err(crate::core::CoreError::from)?;
    let bytes = import_body(body).await?;
    let view = core.import_any(bytes).await?;
    Ok((StatusCode::CREATED, Json(cv::session(&view))).into_response())
}

/// An export's bytes, up to the largest taken in.
async fn import_body(body: axum::body::Body) -> Result<Vec<u8>, ApiError> {
    let bytes = axum::body::to_bytes(body, super::MAX_IMPORT)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a session export is at most {} MB", super::MAX_IMPORT >> 20),
            )
        })?;
    Ok(bytes.into())
}

#[utoipa::path(patch, path = "/api/sessions/{id}", tag = "sessions", summary = "Change a session: its proxy (the browser restarts on it, no rescan), its own browser ceilings (limits: max_pss_mb, browser_max_age; null for the daemon's), what it does with calls (calls: {reject, message?}; null for nothing)", params(("id" = String, Path, description = "The session id")), request_body = cv::PatchSession, responses((status = 200, description = "The session", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 503, description = "Busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn patch(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<cv::PatchSession>,
) -> Answer {
    let id = cv::session_id(&id)?;
    let b = body?.0;
    let view = core.patch_session(&id, b.limits, b.proxy, b.calls).await?;
    Ok(Json(cv::session(&view)))
}

#[utoipa::path(put, path = "/api/sessions/{id}/webhooks", tag = "sessions", summary = "Replace a session's webhooks", params(("id" = String, Path, description = "The session id")), request_body = Vec<crate::domain::Webhook>, responses((status = 200, description = "The session", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn put_webhooks(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<Vec<Webhook>>,
) -> Answer {
    let id = cv::session_id(&id)?;
    let hooks = body?.0;
    Ok(Json(cv::session(&core.set_webhooks(&id, hooks).await?)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/qr", tag = "sessions", summary = "The QR to scan: JSON with a data URL, or a PNG with Accept: image/png", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "{qr, data_url} as JSON; the PNG itself with Accept: image/png", content((Object = "application/json"), (crate::api::body::Binary = "image/png"))), (status = 409, description = "No QR now (not waiting for a scan)", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn qr(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let qr = core.qr(&cv::session_id(&id)?).await?;
    let internal =
        |e: anyhow::Error| ApiError::from(crate::core::CoreError::Internal(e.to_string()));
    let wants_png = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("image/png"));
    if wants_png {
        let png = crate::qr::png(&qr).map_err(internal)?;
        return Ok((
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            png,
        )
            .into_response());
    }
    let data_url = crate::qr::png_data_url(&qr).map_err(internal)?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"qr": qr, "data_url": data_url})),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairIn {
    /// The phone number of the account to link, digits with country code.
    phone: String,
}

#[utoipa::path(post, path = "/api/sessions/{id}/pair", tag = "sessions", summary = "Link by phone number: the 8-character code to type into WhatsApp on that phone",
    params(("id" = String, Path, description = "The session id")),
    request_body = PairIn,
    responses((status = 200, description = "{code, phone}", body = Object),
              (status = 409, description = "Not waiting for a link (status is not SCAN_QR)", body = crate::api::native::convert::ErrorBody),
              (status = 422, description = "Not a phone number", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn pair(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<PairIn>,
) -> Answer {
    let phone = body?.0.phone;
    let code = core.pair(&cv::session_id(&id)?, &phone).await?;
    let phone = crate::domain::parse_phone(&phone).unwrap_or(phone);
    Ok(Json(json!({"code": code, "phone": phone})))
}

// ---- messages

#[utoipa::path(post, path = "/api/sessions/{id}/messages", tag = "messages", summary = "Send text or media (Idempotency-Key honoured)", params(("id" = String, Path, description = "The session id"), ("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key answer the first result")), request_body = cv::SendIn, responses((status = 201, description = "The message sent", body = crate::core::SentMessage), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn send(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body<cv::SendIn>,
) -> Result<Response, ApiError> {
    let id = cv::session_id(&id)?;
    let req = body?.0.try_into()?;
    let key = cv::idempotency_key(headers.get("idempotency-key"))?;
    let sent = core.send(&id, req, key.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(sent)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    chat: Option<String>,
    limit: Option<String>,
    before: Option<String>,
}

#[utoipa::path(get, path = "/api/sessions/{id}/messages", tag = "messages", summary = "Stored messages, newest first, paged", params(("id" = String, Path, description = "The session id"), ListQuery), responses((status = 200, description = "{messages, next}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn messages(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    q: Params<ListQuery>,
) -> Answer {
    let Query(q) = q?;
    let id = cv::session_id(&id)?;
    let chat = cv::optional_chat(q.chat.as_deref(), "chat")?;
    let limit = cv::limit(q.limit.as_deref(), 50, 500)?;
    let before = cv::cursor_in(q.before.as_deref())?;
    let page = core
        .messages(&id, chat.as_ref(), limit, before.as_deref())
        .await?;
    Ok(Json(
        json!({"messages": page.messages.iter().map(cv::message).collect::<Vec<_>>(), "next": cv::cursor_out(page.next)}),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for, in text and captions, any case.
    q: Option<String>,
    /// Only in this chat.
    chat: Option<String>,
    /// From 1.
    page: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/api/sessions/{id}/messages/search", tag = "messages", summary = "WhatsApp Web's own search of the messages it holds (text and captions), newest first, paged",
    params(("id" = String, Path, description = "The session id"), SearchQuery),
    responses((status = 200, description = "{messages, page, more}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a chat the account does not have (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; a WhatsApp Web build without this (unsupported_by_whatsapp_web)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn search(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    q: Params<SearchQuery>,
) -> Answer {
    let Query(q) = q?;
    let id = cv::session_id(&id)?;
    let chat = cv::optional_chat(q.chat.as_deref(), "chat")?;
    let page = cv::page_number(q.page.as_deref())?;
    let limit = cv::limit(q.limit.as_deref(), 20, 100)?;
    let found = core
        .search_messages(
            &id,
            q.q.as_deref().unwrap_or(""),
            chat.as_ref(),
            page,
            limit,
        )
        .await?;
    Ok(Json(json!({
        "messages": found.messages.iter().map(cv::message).collect::<Vec<_>>(),
        "page": page,
        "more": found.more,
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StarredQuery {
    /// Only in this chat.
    chat: Option<String>,
    /// Older than this message (a page's `next`).
    before: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/api/sessions/{id}/messages/starred", tag = "messages", summary = "The account's starred messages (starred here, on the phone or another device), newest first, paged",
    params(("id" = String, Path, description = "The session id"), StarredQuery),
    responses((status = 200, description = "{messages, next}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a chat the account does not have (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; a WhatsApp Web build without this (unsupported_by_whatsapp_web)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid (`before` must be a starred message)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn starred(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    q: Params<StarredQuery>,
) -> Answer {
    let Query(q) = q?;
    let id = cv::session_id(&id)?;
    let chat = cv::optional_chat(q.chat.as_deref(), "chat")?;
    let limit = cv::limit(q.limit.as_deref(), 50, 200)?;
    let before = q.before.as_deref().filter(|b| !b.is_empty());
    let found = core
        .starred_messages(&id, chat.as_ref(), before, limit)
        .await?;
    Ok(Json(json!({
        "messages": found.messages.iter().map(cv::message).collect::<Vec<_>>(),
        "next": found.last.filter(|_| found.more),
    })))
}

#[utoipa::path(get, path = "/api/sessions/{id}/messages/{mid}/media", tag = "messages", summary = "A message's media, as its bytes", params(("id" = String, Path, description = "The session id"), ("mid" = String, Path, description = "The message id")), responses((status = 200, description = "The media, with its content type", body = crate::api::body::Binary, content_type = "*/*"), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session or message; a message with no media (no_media); one received to be viewed once, whose media only the receiver's phone opens (view_once)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn media(
    Caller(core): Caller<Core>,
    Path((id, mid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (info, bytes) = core.media(&cv::session_id(&id)?, &mid).await?;
    // What a contact sent: never a page of this origin (an HTML document
    // would run with the caller's key).
    Ok(crate::api::body::media_response(
        info.mimetype.as_deref().unwrap_or(""),
        info.filename.as_deref(),
        bytes,
    ))
}

#[utoipa::path(get, path = "/api/sessions/{id}/messages/{mid}", tag = "messages", summary = "One stored message, with its edits, reactions and whether it was deleted",
    params(("id" = String, Path, description = "The session id"), ("mid" = String, Path, description = "The message id")),
    responses((status = 200, description = "The Message", body = Object), (status = 404, description = "No such session or message", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn message(
    Caller(core): Caller<Core>,
    Path((id, mid)): Path<(String, String)>,
) -> Answer {
    Ok(Json(cv::message(
        core.message(&cv::session_id(&id)?, &mid).await?,
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionIn {
    /// One emoji; empty or null takes this account's reaction back.
    emoji: Option<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/messages/{mid}/reaction", tag = "messages", summary = "React to a message (an empty emoji removes the reaction)",
    params(("id" = String, Path, description = "The session id"), ("mid" = String, Path, description = "The message id")),
    request_body = ReactionIn,
    responses((status = 200, description = "{id, emoji}", body = Object), (status = 404, description = "No such session or message", body = crate::api::native::convert::ErrorBody),
              (status = 409, description = "Not connected, or the message was deleted", body = crate::api::native::convert::ErrorBody), (status = 422, description = "Not one emoji", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn react(
    Caller(core): Caller<Core>,
    Path((id, mid)): Path<(String, String)>,
    body: Body<ReactionIn>,
) -> Answer {
    let emoji = body?.0.emoji.unwrap_or_default();
    core.react(&cv::session_id(&id)?, &mid, &emoji).await?;
    Ok(Json(json!({"id": mid, "emoji": emoji})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditIn {
    text: String,
}

#[utoipa::path(patch, path = "/api/sessions/{id}/messages/{mid}", tag = "messages", summary = "Edit one of this account's messages (within 15 minutes of sending)",
    params(("id" = String, Path, description = "The session id"), ("mid" = String, Path, description = "The message id")),
    request_body = EditIn,
    responses((status = 200, description = "{id, text, edited}", body = Object), (status = 404, description = "No such session or message", body = crate::api::native::convert::ErrorBody),
              (status = 409, description = "Not this account's message, too old, deleted, or not connected", body = crate::api::native::convert::ErrorBody), (status = 422, description = "No text", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn edit(
    Caller(core): Caller<Core>,
    Path((id, mid)): Path<(String, String)>,
    body: Body<EditIn>,
) -> Answer {
    let text = body?.0.text;
    core.edit(&cv::session_id(&id)?, &mid, &text).await?;
    Ok(Json(json!({"id": mid, "text": text, "edited": true})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// `everyone` (the default: one of ours within 60 hours, or anyone's in
    /// a group we run) or `me` (gone from this account's phone, devices and
    /// stored history; the others keep theirs).
    #[serde(rename = "for")]
    for_whom: Option<String>,
}

#[utoipa::path(delete, path = "/api/sessions/{id}/messages/{mid}", tag = "messages", summary = "Delete a message for everyone, or for this account only (?for=me)",
    params(("id" = String, Path, description = "The session id"), ("mid" = String, Path, description = "The message id"), DeleteQuery),
    responses((status = 200, description = "{id, revoked: true}, or with ?for=me {id, deleted_for_me: true}", body = Object), (status = 404, description = "No such session or message", body = crate::api::native::convert::ErrorBody),
              (status = 409, description = "Not this account's message (not_own_message), past the window, a status with ?for=me (status_not_deletable_for_me), or not connected", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn revoke(
    Caller(core): Caller<Core>,
    Path((id, mid)): Path<(String, String)>,
    q: Params<DeleteQuery>,
) -> Answer {
    let Query(q) = q?;
    let session = cv::session_id(&id)?;
    match q.for_whom.as_deref() {
        None | Some("everyone") => {
            core.revoke(&session, &mid).await?;
            Ok(Json(json!({"id": mid, "revoked": true})))
        }
        Some("me") => {
            core.delete_for_me(&session, &mid).await?;
            Ok(Json(json!({"id": mid, "deleted_for_me": true})))
        }
        Some(_) => Err(ApiError::invalid("for", "must be everyone or me")),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StarIn {
    /// true stars it, false takes the star off.
    starred: Option<bool>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/messages/{mid}/star", tag = "messages", summary = "Star a message, or take its star off (the phone and every device see it)",
    params(("id" = String, Path, description = "The session id"), ("mid" = String, Path, description = "The message id")), request_body = StarIn,
    responses((status = 200, description = "{id, starred}", body = Object), (status = 404, description = "No such session or message", body = crate::api::native::convert::ErrorBody), (status = 409, description = "Not connected, or the message was deleted for everyone", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn star(
    Caller(core): Caller<Core>,
    Path((id, mid)): Path<(String, String)>,
    body: Body<StarIn>,
) -> Answer {
    let on = body?
        .0
        .starred
        .ok_or_else(|| ApiError::invalid("starred", "is required (true or false)"))?;
    core.star(&cv::session_id(&id)?, &mid, on).await?;
    Ok(Json(json!({"id": mid, "starred": on})))
}

#[utoipa::path(get, path = "/api/sessions/{id}/messages/{mid}/receipts", tag = "messages", summary = "Who got, read and played one of this account's messages (WhatsApp Web's message info: in a group, each member)",
    params(("id" = String, Path, description = "The session id"), ("mid" = String, Path, description = "The message id")),
    responses((status = 200, description = "{id, ack, recipients: [{id, delivered_at, read_at, played_at}], pending: {delivery, read, played}}", body = Object), (status = 404, description = "No such session or message", body = crate::api::native::convert::ErrorBody), (status = 409, description = "Not connected; another's message (not_own_message); a status, whose viewers are not kept (status_receipts)", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn receipts(
    Caller(core): Caller<Core>,
    Path((id, mid)): Path<(String, String)>,
) -> Answer {
    let r = core.receipts(&cv::session_id(&id)?, &mid).await?;
    Ok(Json(cv::receipts(&mid, &r)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinIn {
    /// true pins it, false unpins it.
    pinned: Option<bool>,
    /// For how long, in seconds: 86400 (a day), 604800 (a week, the
    /// default) or 2592000 (30 days), as WhatsApp offers; WhatsApp Web also
    /// knows 5, 15 and 60.
    duration: Option<i64>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/messages/{mid}/pin", tag = "messages", summary = "Pin a message in its chat for everyone in it (three at most: a fourth takes the oldest one's place), or unpin it",
    params(("id" = String, Path, description = "The session id"), ("mid" = String, Path, description = "The message id")), request_body = PinIn,
    responses((status = 200, description = "{id, pinned, pinned_by, pinned_at, expires_at}", body = Object), (status = 404, description = "No such session or message; a group this account is no longer in (group_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "Not connected; the message was deleted for everyone (message_revoked), is a status or not yet sent (not_pinnable); a group where only admins pin (not_group_admin); a WhatsApp Web build without pins (unsupported_by_whatsapp_web)", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn pin(
    Caller(core): Caller<Core>,
    Path((id, mid)): Path<(String, String)>,
    body: Body<PinIn>,
) -> Answer {
    let b = body?.0;
    let on = b
        .pinned
        .ok_or_else(|| ApiError::invalid("pinned", "is required (true or false)"))?;
    let duration = cv::pin_duration(b.duration)?;
    let state = core.pin(&cv::session_id(&id)?, &mid, on, duration).await?;
    Ok(Json(cv::pin_state(&mid, state.as_ref())))
}

#[utoipa::path(get, path = "/api/sessions/{id}/chats/{chat}/pinned", tag = "messages", summary = "The messages pinned in a chat (here, on the phone or by anyone in it), newest pin first",
    params(("id" = String, Path, description = "The session id"), ("chat" = String, Path, description = "The chat id or phone")),
    responses((status = 200, description = "{pinned: [{message, pinned_by, pinned_at, expires_at}]}", body = Object), (status = 404, description = "No such session, or a chat the account does not have (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; a WhatsApp Web build without this (unsupported_by_whatsapp_web)", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn pinned(
    Caller(core): Caller<Core>,
    Path((id, chat)): Path<(String, String)>,
) -> Answer {
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    let pins = core.pinned(&cv::session_id(&id)?, &chat).await?;
    Ok(Json(
        json!({"pinned": pins.iter().map(cv::pinned).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatsQuery {
    /// Only the chats that carry this label (a business account's).
    label: Option<String>,
    /// `true`: each chat with `last_message`, the newest message stored
    /// of it (null where none is).
    last_message: Option<bool>,
}

#[utoipa::path(get, path = "/api/sessions/{id}/chats", tag = "messages", summary = "The account's chats", params(("id" = String, Path, description = "The session id"), ChatsQuery), responses((status = 200, description = "Chats, newest first", body = [Object]), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn chats(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    q: Params<ChatsQuery>,
) -> Answer {
    let Query(q) = q?;
    let id = cv::session_id(&id)?;
    let label =
        |c: &crate::session::ChatInfo| q.label.as_ref().is_none_or(|l| c.labels.contains(l));
    if q.last_message != Some(true) {
        let mut chats = core.chats(&id).await?;
        chats.retain(label);
        return Ok(Json(json!(chats)));
    }
    let chats = core.chats_with_last(&id, label).await?;
    Ok(Json(json!(
        chats
            .into_iter()
            .map(|(c, last)| cv::chat_with_last(&c, last.as_ref()))
            .collect::<Vec<_>>()
    )))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatQuery {
    /// `true`: with `last_message`, the newest message stored of it (null
    /// where none is).
    last_message: Option<bool>,
}

#[utoipa::path(get, path = "/api/sessions/{id}/chats/{chat}", tag = "messages", summary = "One chat, as the list shows it", params(("id" = String, Path, description = "The session id"), ("chat" = String, Path, description = "The chat id or phone"), ChatQuery), responses((status = 200, description = "The chat", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn chat(
    Caller(core): Caller<Core>,
    Path((id, chat)): Path<(String, String)>,
    q: Params<ChatQuery>,
) -> Answer {
    let Query(q) = q?;
    let id = cv::session_id(&id)?;
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    let with_last = q.last_message == Some(true);
    let (c, last) = core.chat(&id, &chat, with_last).await?;
    Ok(Json(match with_last {
        true => cv::chat_with_last(&c, last.as_ref()),
        false => json!(c),
    }))
}

#[utoipa::path(get, path = "/api/sessions/{id}/contacts/{phone}", tag = "messages", summary = "Whether a phone number is on WhatsApp", params(("id" = String, Path, description = "The session id"), ("phone" = String, Path, description = "Phone number or WhatsApp id")), responses((status = 200, description = "{exists, id}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn contact(
    Caller(core): Caller<Core>,
    Path((id, phone)): Path<(String, String)>,
) -> Answer {
    let id = cv::session_id(&id)?;
    let who = crate::domain::Wid::parse(&phone).map_err(|e| ApiError::invalid("phone", e))?;
    let found = core.contact(&id, &who).await?;
    Ok(Json(json!({"exists": found.is_some(), "id": found})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactsQuery {
    /// Only those in the address book.
    #[serde(default)]
    saved: bool,
    /// Only this person (a phone, `…@c.us` or `…@lid`): one or none.
    id: Option<String>,
}

#[utoipa::path(get, path = "/api/sessions/{id}/contacts", tag = "contacts", summary = "The people WhatsApp Web knows: the address book (saved ones first, by name) and everyone heard from",
    params(("id" = String, Path, description = "The session id"), ContactsQuery),
    responses((status = 200, description = "Contacts", body = [crate::core::Contact]), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn contacts(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    q: Params<ContactsQuery>,
) -> Answer {
    let Query(q) = q?;
    let session = cv::session_id(&id)?;
    if let Some(who) = q.id {
        let who = crate::domain::Wid::parse(&who).map_err(|e| ApiError::invalid("id", e))?;
        let one = core.known_contact(&session, &who).await?;
        return Ok(Json(json!(
            one.into_iter()
                .filter(|c| c.saved || !q.saved)
                .collect::<Vec<_>>()
        )));
    }
    Ok(Json(json!(core.contacts(&session, q.saved).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    /// Up to 100 characters.
    first_name: Option<String>,
    last_name: Option<String>,
    /// Also in the phone's own address book, not only WhatsApp's (default true).
    sync_to_phone: Option<bool>,
}

#[utoipa::path(put, path = "/api/sessions/{id}/contacts/{phone}", tag = "contacts", summary = "Save a contact to the address book, or rename one (the phone and every device see it)",
    params(("id" = String, Path, description = "The session id"), ("phone" = String, Path, description = "Phone number or …@c.us")), request_body = ContactIn,
    responses((status = 200, description = "The contact", body = crate::core::Contact), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn save_contact(
    Caller(core): Caller<Core>,
    Path((id, phone)): Path<(String, String)>,
    body: Body<ContactIn>,
) -> Answer {
    let b = body?.0;
    let who = crate::domain::Wid::parse(&phone).map_err(|e| ApiError::invalid("phone", e))?;
    let first = b
        .first_name
        .ok_or_else(|| ApiError::invalid("first_name", "is required"))?;
    let c = core
        .save_contact(
            &cv::session_id(&id)?,
            &who,
            &first,
            b.last_name.as_deref(),
            b.sync_to_phone.unwrap_or(true),
        )
        .await?;
    Ok(Json(json!(c)))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/contacts/{phone}", tag = "contacts", summary = "Take a contact out of the address book",
    params(("id" = String, Path, description = "The session id"), ("phone" = String, Path, description = "Phone number or …@c.us")),
    responses((status = 200, description = "{id, removed: true}", body = Object), (status = 404, description = "No such session, or not in the address book (contact_not_found)", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn remove_contact(
    Caller(core): Caller<Core>,
    Path((id, phone)): Path<(String, String)>,
) -> Answer {
    let who = crate::domain::Wid::parse(&phone).map_err(|e| ApiError::invalid("phone", e))?;
    core.remove_contact(&cv::session_id(&id)?, &who).await?;
    Ok(Json(json!({"id": who, "removed": true})))
}

#[utoipa::path(post, path = "/api/sessions/{id}/chats/{chat}/read", tag = "messages", summary = "Mark a chat read", params(("id" = String, Path, description = "The session id"), ("chat" = String, Path, description = "The chat id or phone")), responses((status = 200, description = "{chat, read}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn read(Caller(core): Caller<Core>, Path((id, chat)): Path<(String, String)>) -> Answer {
    let id = cv::session_id(&id)?;
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    core.mark_read(&id, &chat).await?;
    Ok(Json(json!({"chat": chat, "read": true})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatIn {
    archived: Option<bool>,
    /// WhatsApp pins three chats at most.
    pinned: Option<bool>,
    /// Muted until (unix s); -1: always; 0: unmuted.
    muted_until: Option<i64>,
    /// true: marked unread; false: read.
    unread: Option<bool>,
}

#[utoipa::path(patch, path = "/api/sessions/{id}/chats/{chat}", tag = "messages", summary = "Archive, pin, mute or mark a chat unread", params(("id" = String, Path, description = "The session id"), ("chat" = String, Path, description = "The chat id or phone")), request_body = ChatIn, responses((status = 200, description = "The chat as it is after", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or three chats are pinned (pin_limit_reached)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn edit_chat(
    Caller(core): Caller<Core>,
    Path((id, chat)): Path<(String, String)>,
    body: Body<ChatIn>,
) -> Answer {
    let b = body?.0;
    let id = cv::session_id(&id)?;
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    let change = crate::session::ChatChange {
        archive: b.archived,
        pin: b.pinned,
        mute_until: b.muted_until,
        unread: b.unread,
    };
    Ok(Json(json!(core.edit_chat(&id, &chat, &change).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearIn {
    /// Keep the chat's starred messages (default true, as WhatsApp offers).
    keep_starred: Option<bool>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/chats/{chat}/clear", tag = "messages", summary = "Clear a chat: its messages go from the phone, every device and the stored history; the chat stays",
    params(("id" = String, Path, description = "The session id"), ("chat" = String, Path, description = "The chat id or phone")), request_body = ClearIn,
    responses((status = 200, description = "{chat, cleared: how many stored messages went}", body = Object), (status = 404, description = "No such session or chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn clear_chat(
    Caller(core): Caller<Core>,
    Path((id, chat)): Path<(String, String)>,
    body: Body<ClearIn>,
) -> Answer {
    // No body: WhatsApp's default.
    let keep = body?.0.keep_starred.unwrap_or(true);
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    let n = core
        .clear_chat(&cv::session_id(&id)?, &chat, false, keep)
        .await?;
    Ok(Json(json!({"chat": chat, "cleared": n})))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/chats/{chat}", tag = "messages", summary = "Delete a chat: it and its messages go from the phone, every device and the stored history",
    params(("id" = String, Path, description = "The session id"), ("chat" = String, Path, description = "The chat id or phone")),
    responses((status = 200, description = "{chat, deleted: true, cleared}", body = Object), (status = 404, description = "No such session or chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn delete_chat(
    Caller(core): Caller<Core>,
    Path((id, chat)): Path<(String, String)>,
) -> Answer {
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    let n = core
        .clear_chat(&cv::session_id(&id)?, &chat, true, false)
        .await?;
    Ok(Json(json!({"chat": chat, "deleted": true, "cleared": n})))
}

// ---- deliveries

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    status: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/api/sessions/{id}/deliveries", tag = "deliveries", summary = "Webhook deliveries: pending, dead, delivered", params(("id" = String, Path, description = "The session id"), DeliveriesQuery), responses((status = 200, description = "{deliveries}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn deliveries(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    q: Params<DeliveriesQuery>,
) -> Answer {
    let Query(q) = q?;
    let id = cv::session_id(&id)?;
    let want = cv::delivery_status(q.status.as_deref())?;
    let limit = cv::limit(q.limit.as_deref(), 100, 1000)?;
    let list = core.deliveries(&id, want, limit).await?;
    Ok(Json(
        json!({"deliveries": list.iter().map(|d| d.view()).collect::<Vec<_>>()}),
    ))
}

#[utoipa::path(post, path = "/api/sessions/{id}/deliveries/{did}/retry", tag = "deliveries", summary = "Requeue a dead delivery", params(("id" = String, Path, description = "The session id"), ("did" = String, Path, description = "The delivery id")), responses((status = 200, description = "The delivery", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn retry(Caller(core): Caller<Core>, Path((id, did)): Path<(String, String)>) -> Answer {
    Ok(Json(
        core.retry_delivery(&cv::session_id(&id)?, &did)
            .await?
            .view(),
    ))
}

// ---- events

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    session: Option<String>,
    events: Option<String>,
    /// Resume after this place (as `Last-Event-ID` does).
    since: Option<String>,
}

/// Server-Sent Events from the event log: each carries its place as `id:`,
/// and a reader that comes back with `Last-Event-ID` (or `?since=`) gets
/// what it missed, then the live stream, with no gap and no repeat.
#[utoipa::path(get, path = "/api/events", tag = "events", summary = "Server-Sent Events; resumes after Last-Event-ID or ?since=", params(EventsQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")), responses((status = 200, description = "An event stream: each event has id, event (its kind) and data (the native envelope)", body = String, content_type = "text/event-stream"), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn events(
    Caller(core): Caller<Core>,
    slots: Option<axum::Extension<crate::api::limits::StreamSlots>>,
    headers: HeaderMap,
    q: Params<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(q) = q?;
    // Held while the stream is open: the cap counts open streams.
    let slot = slots.map(|s| s.0.take()).transpose()?;
    let session = q
        .session
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(cv::session_id)
        .transpose()?;
    // A typo is a 404, not a stream that stays silent for ever.
    if let Some(s) = &session {
        core.session(s).await?;
    }
    let kinds = cv::event_kinds(q.events.as_deref())?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        // An empty header is no place: `?since=` still counts.
        .filter(|v| !v.trim().is_empty())
        .map(String::from)
        .or(q.since);
    let since = cv::event_place(resume.as_deref())?;
    let stream = core.live(session, kinds, since)?.map(move |item| {
        let _open = &slot;
        Ok(match item {
            // A comment: every SSE client passes over it.
            crate::core::Live::From { after } => SseEvent::default().comment(format!("from {after}")),
            crate::core::Live::Event(l) => SseEvent::default()
                .id(l.seq.to_string())
                .event(l.event.event.as_str())
                .data(cv::event(&l.event).to_string()),
            // Asked for more than the log keeps: say so, then go on live.
            crate::core::Live::Gone { pruned_through } => SseEvent::default().event("gone").data(
                json!({"error": {"code": "events_gone", "message": format!(
                    "events up to {pruned_through} are no longer kept; resuming from the oldest kept"
                )}})
                .to_string(),
            ),
        })
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

// ---- API keys

#[utoipa::path(post, path = "/api/keys", tag = "keys", summary = "Make an API key scoped to sessions (admin key only; the secret is shown once)", request_body = cv::CreateKey, responses((status = 201, description = "{id, key, sessions, scopes, ...}", body = Object), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn create_key(
    Caller(core): Caller<Core>,
    body: Body<cv::CreateKey>,
) -> Result<Response, ApiError> {
    let b = body?.0;
    let sessions = cv::session_ids("sessions", &b.sessions)?;
    let (k, secret) = core.create_key(b.name, sessions, b.scopes).await?;
    Ok((StatusCode::CREATED, Json(cv::key_with_secret(&k, &secret))).into_response())
}

#[utoipa::path(get, path = "/api/keys", tag = "keys", summary = "The scoped API keys (admin key only; no secrets)", responses((status = 200, description = "{keys}", body = Object), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn keys(Caller(core): Caller<Core>) -> Answer {
    let keys: Vec<Value> = core.keys()?.iter().map(cv::key).collect();
    Ok(Json(json!({"keys": keys})))
}

#[utoipa::path(get, path = "/api/keys/{key_id}", tag = "keys", summary = "One scoped API key (admin key only)", params(("key_id" = String, Path, description = "The key's id (key_...)")), responses((status = 200, description = "The key", body = Object), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such key", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn key(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::key(&core.key(&id)?)))
}

#[utoipa::path(delete, path = "/api/keys/{key_id}", tag = "keys", summary = "Revoke a key: refused from the next request on", params(("key_id" = String, Path, description = "The key's id (key_...)")), responses((status = 200, description = "{id, revoked}", body = Object), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such key", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn revoke_key(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    core.revoke_key(&id).await?;
    Ok(Json(json!({"id": id, "revoked": true})))
}

#[utoipa::path(post, path = "/api/keys/{key_id}/rotate", tag = "keys", summary = "A new secret for a key (the old one stops working; shown once)", params(("key_id" = String, Path, description = "The key's id (key_...)")), responses((status = 200, description = "{id, key, ...}", body = Object), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "Not the admin key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such key", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn rotate_key(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    let (k, secret) = core.rotate_key(&id).await?;
    Ok(Json(cv::key_with_secret(&k, &secret)))
}

// ---- templates

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateIn {
    body: String,
    language: Option<String>,
}

#[utoipa::path(put, path = "/api/templates/{name}", tag = "templates", summary = "Create or replace a template", params(("name" = String, Path, description = "Template name")), request_body = TemplateIn, responses((status = 200, description = "The template", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn put_template(
    Caller(core): Caller<Core>,
    Path(name): Path<String>,
    body: Body<TemplateIn>,
) -> Answer {
    let b = body?.0;
    let t = core.put_template(crate::core::Template {
        name,
        body: b.body,
        language: b.language,
    })?;
    Ok(Json(json!(t)))
}

#[utoipa::path(get, path = "/api/templates", tag = "templates", summary = "Message templates (for the Cloud API dialect)", responses((status = 200, description = "{templates}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn templates(Caller(core): Caller<Core>) -> Answer {
    Ok(Json(json!({"templates": core.templates()?})))
}

#[utoipa::path(get, path = "/api/templates/{name}", tag = "templates", summary = "A template", params(("name" = String, Path, description = "Template name")), responses((status = 200, description = "The template", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn template(Caller(core): Caller<Core>, Path(name): Path<String>) -> Answer {
    let t = core.template(&name)?.ok_or_else(|| {
        ApiError::not_found("template_not_found", format!("no template '{name}'"))
    })?;
    Ok(Json(json!(t)))
}

#[utoipa::path(delete, path = "/api/templates/{name}", tag = "templates", summary = "Delete a template", params(("name" = String, Path, description = "Template name")), responses((status = 200, description = "{name, deleted}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn delete_template(Caller(core): Caller<Core>, Path(name): Path<String>) -> Answer {
    core.delete_template(&name)?;
    Ok(Json(json!({"name": name, "deleted": true})))
}

// ---- groups

fn group_wid(raw: &str) -> Result<crate::domain::Wid, ApiError> {
    crate::domain::Wid::parse(raw).map_err(|e| ApiError::invalid("group", e))
}

fn wids(field: &str, raw: &[String]) -> Result<Vec<crate::domain::Wid>, ApiError> {
    raw.iter()
        .enumerate()
        .map(|(i, p)| {
            crate::domain::Wid::parse(p).map_err(|e| ApiError::invalid(&format!("{field}[{i}]"), e))
        })
        .collect()
}

#[utoipa::path(get, path = "/api/sessions/{id}/groups", tag = "groups", summary = "The groups this account is in, with their participants",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "[Group]", body = [Object]), (status = 409, description = "Not connected", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn groups(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(json!(core.groups(&cv::session_id(&id)?).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupIn {
    subject: String,
    /// Phone numbers or ids of the people to add.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    participants: Vec<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/groups", tag = "groups", summary = "Create a group",
    params(("id" = String, Path, description = "The session id")), request_body = GroupIn,
    responses((status = 201, description = "The Group, with `failed`: those WhatsApp did not add, `[{id, code, error, invite_code?, invite_expires?}]`", body = Object), (status = 422, description = "No subject, or a participant that is not a phone", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn create_group(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<GroupIn>,
) -> Result<Response, ApiError> {
    let b = body?.0;
    let people = wids("participants", &b.participants)?;
    let g = core
        .create_group(&cv::session_id(&id)?, &b.subject, &people)
        .await?;
    Ok((StatusCode::CREATED, Json(cv::group_after(&g))).into_response())
}

#[utoipa::path(get, path = "/api/sessions/{id}/groups/{gid}", tag = "groups", summary = "One group: subject, owner, participants and admins",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id (…@g.us)")),
    responses((status = 200, description = "The Group", body = Object), (status = 404, description = "Not in such a group", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn group(Caller(core): Caller<Core>, Path((id, gid)): Path<(String, String)>) -> Answer {
    Ok(Json(json!(
        core.group(&cv::session_id(&id)?, &group_wid(&gid)?).await?
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantsIn {
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    add: Vec<String>,
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    remove: Vec<String>,
    /// Participants to make admins.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    promote: Vec<String>,
    /// Admins to make members again.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    demote: Vec<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/groups/{gid}/participants", tag = "groups", summary = "Add and remove participants, make and unmake admins (admins only)",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id")), request_body = ParticipantsIn,
    responses((status = 200, description = "The Group after the change, with `failed`: those WhatsApp did not add, `[{id, code, error, invite_code?, invite_expires?}]`", body = Object), (status = 502, description = "WhatsApp refused (not an admin)", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn group_participants(
    Caller(core): Caller<Core>,
    Path((id, gid)): Path<(String, String)>,
    body: Body<ParticipantsIn>,
) -> Answer {
    let b = body?.0;
    let m = crate::core::Membership {
        add: wids("add", &b.add)?,
        remove: wids("remove", &b.remove)?,
        promote: wids("promote", &b.promote)?,
        demote: wids("demote", &b.demote)?,
    };
    let g = core
        .group_participants(&cv::session_id(&id)?, &group_wid(&gid)?, &m)
        .await?;
    Ok(Json(cv::group_after(&g)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/groups/{gid}/invite", tag = "groups", summary = "The group's invite code and link (admins only)",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id")),
    responses((status = 200, description = "{code, link}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn group_invite(
    Caller(core): Caller<Core>,
    Path((id, gid)): Path<(String, String)>,
) -> Answer {
    let code = core
        .group_invite(&cv::session_id(&id)?, &group_wid(&gid)?)
        .await?;
    Ok(Json(
        json!({"code": code, "link": format!("{}{code}", crate::core::INVITE_PREFIX)}),
    ))
}

#[utoipa::path(post, path = "/api/sessions/{id}/groups/{gid}/invite/revoke", tag = "groups", summary = "Reset the group's invite link (admins only): the old one stops working",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id")),
    responses((status = 200, description = "{code, link}: the new ones", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or we are no admin (not_group_admin)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn revoke_group_invite(
    Caller(core): Caller<Core>,
    Path((id, gid)): Path<(String, String)>,
) -> Answer {
    let code = core
        .revoke_group_invite(&cv::session_id(&id)?, &group_wid(&gid)?)
        .await?;
    Ok(Json(
        json!({"code": code, "link": format!("{}{code}", crate::core::INVITE_PREFIX)}),
    ))
}

#[utoipa::path(get, path = "/api/sessions/{id}/groups/{gid}/requests", tag = "groups", summary = "Who asks to join the group, where its admins approve who joins (admins only)",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id")),
    responses((status = 200, description = "The requests, oldest first", body = [crate::core::JoinRequest]), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such group (group_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or we are no admin (not_group_admin)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn join_requests(
    Caller(core): Caller<Core>,
    Path((id, gid)): Path<(String, String)>,
) -> Answer {
    let list = core
        .join_requests(&cv::session_id(&id)?, &group_wid(&gid)?)
        .await?;
    Ok(Json(json!(list)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinAnswersIn {
    /// Who may join (they join as if added).
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    approve: Vec<String>,
    /// Whose request to turn down.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    reject: Vec<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/groups/{gid}/requests", tag = "groups", summary = "Approve and reject requests to join (admins only)",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id")), request_body = JoinAnswersIn,
    responses((status = 200, description = "{approved, rejected, failed: [{id, error}]}", body = crate::core::JoinAnswers), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such group (group_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or we are no admin (not_group_admin)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn answer_join_requests(
    Caller(core): Caller<Core>,
    Path((id, gid)): Path<(String, String)>,
    body: Body<JoinAnswersIn>,
) -> Answer {
    let b = body?.0;
    let (approve, reject) = (wids("approve", &b.approve)?, wids("reject", &b.reject)?);
    let done = core
        .answer_join_requests(&cv::session_id(&id)?, &group_wid(&gid)?, &approve, &reject)
        .await?;
    Ok(Json(json!(done)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/invites/{code}", tag = "groups", summary = "The group an invite code opens, before joining it",
    params(("id" = String, Path, description = "The session id"), ("code" = String, Path, description = "The invite code (the last part of a chat.whatsapp.com link)")),
    responses((status = 200, description = "The Group, as the invite shows it (with its size)", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or the invite is not valid (invite_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn invite_info(
    Caller(core): Caller<Core>,
    Path((id, code)): Path<(String, String)>,
) -> Answer {
    let g = core.invite_info(&cv::session_id(&id)?, &code).await?;
    let size = g.size.unwrap_or(g.participants.len());
    let mut v = json!(g);
    v["size"] = json!(size);
    Ok(Json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinIn {
    /// An invite code, or a https://chat.whatsapp.com/… link.
    invite: String,
}

#[utoipa::path(post, path = "/api/sessions/{id}/groups/join", tag = "groups", summary = "Join a group by invite code or link ({id, pending_approval}: where its admins approve who joins, a request until then)",
    params(("id" = String, Path, description = "The session id")), request_body = JoinIn,
    responses((status = 200, description = "{id}", body = Object), (status = 502, description = "WhatsApp refused the invite", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn join_group(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<JoinIn>,
) -> Answer {
    let (gid, pending) = core
        .join_group(&cv::session_id(&id)?, &body?.0.invite)
        .await?;
    Ok(Json(json!({"id": gid, "pending_approval": pending})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectIn {
    subject: String,
}

#[utoipa::path(put, path = "/api/sessions/{id}/groups/{gid}/subject", tag = "groups", summary = "Rename a group",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id")), request_body = SubjectIn,
    responses((status = 200, description = "{id, subject}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn group_subject(
    Caller(core): Caller<Core>,
    Path((id, gid)): Path<(String, String)>,
    body: Body<SubjectIn>,
) -> Answer {
    let edit = crate::core::GroupEdit {
        subject: Some(body?.0.subject),
        ..Default::default()
    };
    let g = core
        .edit_group(&cv::session_id(&id)?, &group_wid(&gid)?, &edit)
        .await?;
    Ok(Json(json!({"id": g.id, "subject": g.subject})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupEditIn {
    subject: Option<String>,
    /// Up to 2048 characters; empty removes it.
    description: Option<String>,
    /// Only admins send messages.
    announce: Option<bool>,
    /// Only admins change the subject and description.
    restrict: Option<bool>,
    /// Disappearing messages: how long one lasts, in seconds: 86400 (a
    /// day), 604800 (a week), 7776000 (90 days); 0 turns them off.
    ephemeral: Option<u32>,
    /// A JPEG, PNG, GIF or WebP, base64 (up to 5 MB); null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    picture: Option<Option<String>>,
}

#[utoipa::path(patch, path = "/api/sessions/{id}/groups/{gid}", tag = "groups", summary = "Change a group's subject, description and settings (settings: admins only)",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id")), request_body = GroupEditIn,
    responses((status = 200, description = "The Group after the change", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or only admins may (not_group_admin)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn edit_group(
    Caller(core): Caller<Core>,
    Path((id, gid)): Path<(String, String)>,
    body: Body<GroupEditIn>,
) -> Answer {
    let b = body?.0;
    let e = crate::core::GroupEdit {
        subject: b.subject,
        description: b.description,
        announce: b.announce,
        restrict: b.restrict,
        picture: picture_bytes(b.picture)?,
        ephemeral: b.ephemeral,
    };
    let g = core
        .edit_group(&cv::session_id(&id)?, &group_wid(&gid)?, &e)
        .await?;
    Ok(Json(json!(g)))
}

#[utoipa::path(post, path = "/api/sessions/{id}/groups/{gid}/leave", tag = "groups", summary = "Leave a group",
    params(("id" = String, Path, description = "The session id"), ("gid" = String, Path, description = "The group id")),
    responses((status = 200, description = "{id, left}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn leave_group(
    Caller(core): Caller<Core>,
    Path((id, gid)): Path<(String, String)>,
) -> Answer {
    let g = group_wid(&gid)?;
    core.leave_group(&cv::session_id(&id)?, &g).await?;
    Ok(Json(json!({"id": g, "left": true})))
}

// ---- communities

fn community_wid(raw: &str) -> Result<crate::domain::Wid, ApiError> {
    crate::domain::Wid::parse(raw).map_err(|e| ApiError::invalid("community", e))
}

/// What WhatsApp did with each group asked to be linked or unlinked.
fn linking(done: &str, l: crate::core::Linking) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert(done.into(), json!(l.done));
    out.insert("failed".into(), json!(l.failed));
    serde_json::Value::Object(out)
}

#[utoipa::path(get, path = "/api/sessions/{id}/communities", tag = "communities", summary = "The communities this account is in: each with its announcement group and the linked groups this account is in",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "[Community]", body = [crate::core::Community]), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn communities(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(json!(core.communities(&cv::session_id(&id)?).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityIn {
    name: String,
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    description: String,
    /// Groups this account runs, to link to it.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    groups: Vec<String>,
    /// A JPEG, PNG, GIF or WebP, base64 (up to 5 MB).
    picture: Option<String>,
    /// Groups made for it (this account alone in each), then linked.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    new_groups: Vec<NewGroupIn>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupIn {
    subject: String,
    /// A JPEG, PNG, GIF or WebP, base64.
    picture: Option<String>,
    /// Disappearing messages: 86400, 604800 or 7776000 seconds; 0 off.
    ephemeral: Option<u32>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/communities", tag = "communities", summary = "Create a community (with its announcement group), linking groups this account runs",
    params(("id" = String, Path, description = "The session id")), request_body = CommunityIn,
    responses((status = 201, description = "The Community, and `failed`: the groups WhatsApp did not link, each with its error (403 not their admin, 404 no such group, 409 already in a community)", body = Object), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "No name, or a group id that is not one", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn create_community(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<CommunityIn>,
) -> Result<Response, ApiError> {
    let b = body?.0;
    let new = crate::core::NewCommunity {
        groups: wids("groups", &b.groups)?,
        picture: picture_bytes(b.picture.map(Some))?.flatten(),
        name: b.name,
        description: b.description,
        new_groups: b
            .new_groups
            .into_iter()
            .map(|g| {
                Ok(crate::core::NewGroup {
                    picture: picture_bytes(g.picture.map(Some))?.flatten(),
                    subject: g.subject,
                    ephemeral: g.ephemeral,
                })
            })
            .collect::<Result<_, ApiError>>()?,
    };
    let made = core.create_community(&cv::session_id(&id)?, &new).await?;
    let mut out = json!(made.community);
    out["failed"] = json!(made.failed);
    out["warnings"] = json!(made.warnings);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[utoipa::path(get, path = "/api/sessions/{id}/communities/{cid}", tag = "communities", summary = "One community, with its members (everyone in its announcement group) and admins",
    params(("id" = String, Path, description = "The session id"), ("cid" = String, Path, description = "The community's id (…@g.us)")),
    responses((status = 200, description = "The Community", body = crate::core::Community), (status = 404, description = "No such session, or a community the account is not in (community_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn community(
    Caller(core): Caller<Core>,
    Path((id, cid)): Path<(String, String)>,
) -> Answer {
    Ok(Json(json!(
        core.community(&cv::session_id(&id)?, &community_wid(&cid)?)
            .await?
    )))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/communities/{cid}", tag = "communities", summary = "Deactivate a community (its creator only): its groups are unlinked and stay; its announcement group closes",
    params(("id" = String, Path, description = "The session id"), ("cid" = String, Path, description = "The community's id (…@g.us)")),
    responses((status = 200, description = "{id, deactivated: true}", body = Object), (status = 404, description = "No such session, or a community the account is not in (community_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the community's creator may (not_community_creator)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn deactivate_community(
    Caller(core): Caller<Core>,
    Path((id, cid)): Path<(String, String)>,
) -> Answer {
    let c = community_wid(&cid)?;
    core.deactivate_community(&cv::session_id(&id)?, &c).await?;
    Ok(Json(json!({"id": c, "deactivated": true})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityEditIn {
    name: Option<String>,
    /// Up to 2048 characters; empty removes it.
    description: Option<String>,
    /// A JPEG, PNG, GIF or WebP, base64 (up to 5 MB); null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    picture: Option<Option<String>>,
}

#[utoipa::path(patch, path = "/api/sessions/{id}/communities/{cid}", tag = "communities", summary = "Rename a community, change its description or picture (its admins only)",
    params(("id" = String, Path, description = "The session id"), ("cid" = String, Path, description = "The community's id (…@g.us)")), request_body = CommunityEditIn,
    responses((status = 200, description = "The Community after the change", body = crate::core::Community), (status = 404, description = "No such session, or a community the account is not in (community_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the community's admins may (not_community_admin)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn edit_community(
    Caller(core): Caller<Core>,
    Path((id, cid)): Path<(String, String)>,
    body: Body<CommunityEditIn>,
) -> Answer {
    let b = body?.0;
    let e = crate::core::CommunityEdit {
        name: b.name,
        description: b.description,
        picture: picture_bytes(b.picture)?,
    };
    let c = core
        .edit_community(&cv::session_id(&id)?, &community_wid(&cid)?, &e)
        .await?;
    Ok(Json(json!(c)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    /// Group ids (…@g.us).
    groups: Vec<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/communities/{cid}/groups", tag = "communities", summary = "Link groups to a community (its admins only; each group one this account runs): their members join the community",
    params(("id" = String, Path, description = "The session id"), ("cid" = String, Path, description = "The community's id (…@g.us)")), request_body = LinkIn,
    responses((status = 200, description = "{linked: [group id], failed: [{id, error}]}: error 403 not the group's admin, 404 no such group, 409 already in a community", body = Object), (status = 404, description = "No such session, or a community the account is not in (community_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the community's admins may (not_community_admin)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "No group, or an id that is not a group's", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn link_groups(
    Caller(core): Caller<Core>,
    Path((id, cid)): Path<(String, String)>,
    body: Body<LinkIn>,
) -> Answer {
    let b = body?.0;
    let groups = wids("groups", &b.groups)?;
    let l = core
        .link_groups(&cv::session_id(&id)?, &community_wid(&cid)?, &groups, true)
        .await?;
    Ok(Json(linking("linked", l)))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/communities/{cid}/groups/{gid}", tag = "communities", summary = "Unlink a group from a community (its admins only): the group stays; its members no other linked group holds leave the community",
    params(("id" = String, Path, description = "The session id"), ("cid" = String, Path, description = "The community's id (…@g.us)"), ("gid" = String, Path, description = "The group's id (…@g.us)")),
    responses((status = 200, description = "{id, community, unlinked: true}", body = Object), (status = 404, description = "No such session, a community the account is not in (community_not_found), or a group not linked to it (group_not_linked)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the community's admins may (not_community_admin)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn unlink_group(
    Caller(core): Caller<Core>,
    Path((id, cid, gid)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (c, g) = (community_wid(&cid)?, group_wid(&gid)?);
    let l = core
        .link_groups(&cv::session_id(&id)?, &c, std::slice::from_ref(&g), false)
        .await?;
    if let Some(f) = l.failed.first() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "group_not_linked",
            format!(
                "WhatsApp did not unlink {} from {c} ({}): it is not linked to it",
                f.id, f.error
            ),
        ));
    }
    Ok(Json(json!({"id": g, "community": c, "unlinked": true})).into_response())
}

#[utoipa::path(post, path = "/api/sessions/{id}/communities/{cid}/leave", tag = "communities", summary = "Exit a community: its linked groups and its announcement group",
    params(("id" = String, Path, description = "The session id"), ("cid" = String, Path, description = "The community's id (…@g.us)")),
    responses((status = 200, description = "{id, left: true}", body = Object), (status = 404, description = "No such session, or a community the account is not in (community_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn leave_community(
    Caller(core): Caller<Core>,
    Path((id, cid)): Path<(String, String)>,
) -> Answer {
    let c = community_wid(&cid)?;
    core.leave_community(&cv::session_id(&id)?, &c).await?;
    Ok(Json(json!({"id": c, "left": true})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityAdminsIn {
    /// Members to make admins.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    promote: Vec<String>,
    /// Admins to make members again.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    demote: Vec<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/communities/{cid}/participants", tag = "communities", summary = "Make community members its admins, or members again (its admins only)",
    params(("id" = String, Path, description = "The session id"), ("cid" = String, Path, description = "The community's id (…@g.us)")), request_body = CommunityAdminsIn,
    responses((status = 200, description = "The Community after the change", body = crate::core::Community), (status = 404, description = "No such session, or a community the account is not in (community_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the community's admins may (not_community_admin)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn community_participants(
    Caller(core): Caller<Core>,
    Path((id, cid)): Path<(String, String)>,
    body: Body<CommunityAdminsIn>,
) -> Answer {
    let b = body?.0;
    let c = core
        .community_admins(
            &cv::session_id(&id)?,
            &community_wid(&cid)?,
            &wids("promote", &b.promote)?,
            &wids("demote", &b.demote)?,
        )
        .await?;
    Ok(Json(json!(c)))
}

// ---- presence and contacts

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceIn {
    /// typing, recording or paused (with `chat`); online or offline (without).
    state: String,
    chat: Option<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/presence", tag = "contacts", summary = "Show typing, recording or paused in a chat; or online/offline",
    params(("id" = String, Path, description = "The session id")), request_body = PresenceIn,
    responses((status = 200, description = "{state, chat}", body = Object), (status = 422, description = "An unknown state", body = crate::api::native::convert::ErrorBody), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn presence(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<PresenceIn>,
) -> Answer {
    let b = body?.0;
    let chat = cv::optional_wid(b.chat.as_deref(), "chat")?;
    core.presence(&cv::session_id(&id)?, chat.as_ref(), &b.state)
        .await?;
    Ok(Json(json!({"state": b.state, "chat": chat})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeIn {
    /// Phones or ids whose presence to hear (`presence.update` events).
    contacts: Vec<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/presence/subscribe", tag = "contacts", summary = "Hear these contacts' presence as presence.update events",
    params(("id" = String, Path, description = "The session id")), request_body = SubscribeIn,
    responses((status = 200, description = "{subscribed: [id]}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn subscribe_presence(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<SubscribeIn>,
) -> Answer {
    let ids = wids("contacts", &body?.0.contacts)?;
    let done = core.subscribe_presence(&cv::session_id(&id)?, &ids).await?;
    Ok(Json(json!({"subscribed": done})))
}

fn contact_wid(raw: &str) -> Result<crate::domain::Wid, ApiError> {
    crate::domain::Wid::parse(raw).map_err(|e| ApiError::invalid("phone", e))
}

#[utoipa::path(get, path = "/api/sessions/{id}/blocklist", tag = "contacts", summary = "Everyone this account blocked",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "{blocked: [ids]}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn blocklist(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    let blocked = core.blocklist(&cv::session_id(&id)?).await?;
    Ok(Json(json!({ "blocked": blocked })))
}

#[utoipa::path(get, path = "/api/sessions/{id}/labels", tag = "contacts", summary = "A business account's labels, and the palette a label's colour comes from",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "{labels: [{id, name, color, count}], palette}", body = crate::core::Labels), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, label (label_not_found) or chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or not a business account (not_business)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn labels(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(json!(core.labels(&cv::session_id(&id)?).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelIn {
    /// 1 to 100 characters.
    name: Option<String>,
    /// `#rrggbb`, one of the palette's; left out: WhatsApp picks one.
    color: Option<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/labels", tag = "contacts", summary = "Make a label (business accounts)",
    params(("id" = String, Path, description = "The session id")), request_body = LabelIn,
    responses((status = 201, description = "The label", body = crate::core::Label), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, label (label_not_found) or chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or not a business account (not_business)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn create_label(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<LabelIn>,
) -> Result<Response, ApiError> {
    let b = body?.0;
    let name = b
        .name
        .ok_or_else(|| ApiError::invalid("name", "is required"))?;
    let l = core
        .create_label(&cv::session_id(&id)?, &name, b.color.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(json!(l))).into_response())
}

#[utoipa::path(patch, path = "/api/sessions/{id}/labels/{label}", tag = "contacts", summary = "Rename or recolour a label",
    params(("id" = String, Path, description = "The session id"), ("label" = String, Path, description = "The label's id")), request_body = LabelIn,
    responses((status = 200, description = "The label", body = crate::core::Label), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, label (label_not_found) or chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or not a business account (not_business)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn edit_label(
    Caller(core): Caller<Core>,
    Path((id, label)): Path<(String, String)>,
    body: Body<LabelIn>,
) -> Answer {
    let b = body?.0;
    let l = core
        .edit_label(
            &cv::session_id(&id)?,
            &label,
            b.name.as_deref(),
            b.color.as_deref(),
        )
        .await?;
    Ok(Json(json!(l)))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/labels/{label}", tag = "contacts", summary = "Delete a label: it comes off every chat",
    params(("id" = String, Path, description = "The session id"), ("label" = String, Path, description = "The label's id")),
    responses((status = 200, description = "{id, deleted: true}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, label (label_not_found) or chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or not a business account (not_business)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn delete_label(
    Caller(core): Caller<Core>,
    Path((id, label)): Path<(String, String)>,
) -> Answer {
    core.delete_label(&cv::session_id(&id)?, &label).await?;
    Ok(Json(json!({"id": label, "deleted": true})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelChatsIn {
    /// Chats to put the label on.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    add: Vec<String>,
    /// Chats to take it off.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    remove: Vec<String>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/labels/{label}/chats", tag = "contacts", summary = "Put a label on chats, or take it off (GET .../chats?label= lists them)",
    params(("id" = String, Path, description = "The session id"), ("label" = String, Path, description = "The label's id")), request_body = LabelChatsIn,
    responses((status = 200, description = "The label after", body = crate::core::Label), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, label (label_not_found) or chat (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or not a business account (not_business)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn label_chats(
    Caller(core): Caller<Core>,
    Path((id, label)): Path<(String, String)>,
    body: Body<LabelChatsIn>,
) -> Answer {
    let b = body?.0;
    let chat = |field: &str, raw: &[String]| -> Result<Vec<crate::domain::Wid>, ApiError> {
        raw.iter()
            .map(|c| {
                crate::domain::Wid::parse(c)
                    .map_err(|e| ApiError::invalid(field, format!("'{c}': {e}")))
            })
            .collect()
    };
    let (add, remove) = (chat("add", &b.add)?, chat("remove", &b.remove)?);
    let l = core
        .label_chats(&cv::session_id(&id)?, &label, &add, &remove)
        .await?;
    Ok(Json(json!(l)))
}

#[utoipa::path(post, path = "/api/sessions/{id}/calls/{call}/reject", tag = "contacts", summary = "Decline a call that rings (call.received names it): the caller hears it declined",
    params(("id" = String, Path, description = "The session id"), ("call" = String, Path, description = "The call's id, from call.received")),
    responses((status = 200, description = "{id, rejected: true}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such call ringing (call_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The call no longer rings (call_not_ringing), or the session is not ready", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn reject_call(
    Caller(core): Caller<Core>,
    Path((id, call)): Path<(String, String)>,
) -> Answer {
    core.reject_call(&cv::session_id(&id)?, &call).await?;
    Ok(Json(json!({"id": call, "rejected": true})))
}

#[utoipa::path(get, path = "/api/sessions/{id}/profile", tag = "contacts", summary = "This account's name, about, profile picture URL and (a business account's) business profile, as its contacts see them",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "{id, name, about, picture_url, business: {description, email, website, address, categories} | null}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn my_profile(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(core.my_profile(&cv::session_id(&id)?).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileIn {
    /// 1 to 25 characters.
    name: Option<String>,
    /// Up to 139 characters.
    about: Option<String>,
    /// A JPEG or PNG, base64 (up to 5 MB); null removes the picture.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    picture: Option<Option<String>>,
    /// A WhatsApp Business account's business profile (409 `not_business`
    /// for another account); what is left out stays, `""` clears a text.
    business: Option<BusinessIn>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessIn {
    /// Up to 512 characters.
    description: Option<String>,
    /// Up to 256 characters.
    address: Option<String>,
    /// Up to 128 characters.
    email: Option<String>,
    /// All its websites: at most 2 http(s) URLs; `[]` removes them
    /// (`website`, as the profile shows them, is taken too).
    #[serde(alias = "website")]
    websites: Option<Vec<String>>,
}

/// A picture field: base64 to bytes; null (remove it) and left out kept apart.
fn picture_bytes(p: Option<Option<String>>) -> Result<Option<Option<Vec<u8>>>, ApiError> {
    p.map(|p| {
        p.map(|data| {
            crate::domain::base64_bytes(&data).map_err(|_| {
                ApiError::invalid("picture", "must be base64 (a JPEG, PNG, GIF or WebP)")
            })
        })
        .transpose()
    })
    .transpose()
}

/// A field given as null is `Some(None)`; one left out, `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[utoipa::path(patch, path = "/api/sessions/{id}/profile", tag = "contacts", summary = "Change this account's name, about, profile picture and (a business account's) business profile (manage scope)",
    params(("id" = String, Path, description = "The session id")), request_body = ProfileIn,
    responses((status = 200, description = "The profile after the change: {id, name, about, picture_url, business}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn edit_my_profile(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<ProfileIn>,
) -> Answer {
    let b = body?.0;
    let e = crate::core::ProfileEdit {
        name: b.name,
        about: b.about,
        picture: picture_bytes(b.picture)?,
        business: b.business.map(|b| crate::core::BusinessEdit {
            description: b.description,
            address: b.address,
            email: b.email,
            websites: b.websites,
        }),
    };
    Ok(Json(core.edit_my_profile(&cv::session_id(&id)?, &e).await?))
}

#[utoipa::path(get, path = "/api/sessions/{id}/contacts/{phone}/profile", tag = "contacts", summary = "A contact's about, profile picture URL, business profile and whether it is blocked",
    params(("id" = String, Path, description = "The session id"), ("phone" = String, Path, description = "Phone number or WhatsApp id")),
    responses((status = 200, description = "{id, about, picture_url, business, blocked}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn profile(
    Caller(core): Caller<Core>,
    Path((id, phone)): Path<(String, String)>,
) -> Answer {
    Ok(Json(
        core.profile(&cv::session_id(&id)?, &contact_wid(&phone)?)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/sessions/{id}/contacts/{phone}/presence", tag = "contacts", summary = "A person's presence: online, or when last seen where they show it (asking subscribes to it: later presence.update events tell its changes)",
    params(("id" = String, Path, description = "The session id"), ("phone" = String, Path, description = "Phone number, WhatsApp id or privacy id")),
    responses((status = 200, description = "{id, online, last_seen, known}", body = crate::session::Presence), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn presence_of(
    Caller(core): Caller<Core>,
    Path((id, phone)): Path<(String, String)>,
) -> Answer {
    Ok(Json(json!(
        core.presence_of(&cv::session_id(&id)?, &contact_wid(&phone)?)
            .await?
    )))
}

#[utoipa::path(get, path = "/api/sessions/{id}/contacts/{phone}/lid", tag = "contacts", summary = "The privacy id (…@lid) and the phone WhatsApp pairs for a person, asked by either (null where WhatsApp tells none, as for a phone kept hidden)",
    params(("id" = String, Path, description = "The session id"), ("phone" = String, Path, description = "Phone number, WhatsApp id or privacy id")),
    responses((status = 200, description = "{id, lid, phone}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn lid(Caller(core): Caller<Core>, Path((id, phone)): Path<(String, String)>) -> Answer {
    Ok(Json(
        core.lid_and_phone(&cv::session_id(&id)?, &contact_wid(&phone)?)
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/sessions/{id}/contacts/{phone}/block", tag = "contacts", summary = "Block a contact (its messages stop arriving)",
    params(("id" = String, Path, description = "The session id"), ("phone" = String, Path, description = "Phone number or WhatsApp id")),
    responses((status = 200, description = "{id, blocked}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn block(
    Caller(core): Caller<Core>,
    Path((id, phone)): Path<(String, String)>,
) -> Answer {
    let who = contact_wid(&phone)?;
    core.block(&cv::session_id(&id)?, &who, true).await?;
    Ok(Json(json!({"id": who, "blocked": true})))
}

#[utoipa::path(post, path = "/api/sessions/{id}/contacts/{phone}/unblock", tag = "contacts", summary = "Unblock a contact",
    params(("id" = String, Path, description = "The session id"), ("phone" = String, Path, description = "Phone number or WhatsApp id")),
    responses((status = 200, description = "{id, blocked}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or no such thing in it", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this", body = crate::api::native::convert::ErrorBody), (status = 413, description = "The body or its media is too large", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody), (status = 507, description = "The disk is full (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn unblock(
    Caller(core): Caller<Core>,
    Path((id, phone)): Path<(String, String)>,
) -> Answer {
    let who = contact_wid(&phone)?;
    core.block(&cv::session_id(&id)?, &who, false).await?;
    Ok(Json(json!({"id": who, "blocked": false})))
}

/// A channel named in the path (`…@newsletter`).
fn channel_path(raw: &str) -> Result<crate::domain::Wid, ApiError> {
    crate::domain::Wid::parse_channel(raw).map_err(|e| ApiError::invalid("channel", e))
}

#[utoipa::path(get, path = "/api/sessions/{id}/channels", tag = "channels", summary = "The WhatsApp Channels this account runs or follows, newest first",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "{channels: [...]}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn channels(Caller(core): Caller<Core>, Path(id): Path<String>) -> Answer {
    let channels = core.channels(&cv::session_id(&id)?).await?;
    Ok(Json(json!({ "channels": channels })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelIn {
    /// 1 to 100 characters (required to make one).
    name: Option<String>,
    /// Up to 2048 characters; WhatsApp Web cannot empty one.
    description: Option<String>,
    /// A JPEG, PNG, GIF or WebP, base64 (up to 5 MB); null takes it away.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    picture: Option<Option<String>>,
}

impl ChannelIn {
    fn edit(self) -> Result<crate::core::ChannelEdit, ApiError> {
        Ok(crate::core::ChannelEdit {
            name: self.name,
            description: self.description,
            picture: picture_bytes(self.picture)?,
        })
    }
}

#[utoipa::path(post, path = "/api/sessions/{id}/channels", tag = "channels", summary = "Make a channel, which this account owns (post to it with a send to its id)",
    params(("id" = String, Path, description = "The session id")), request_body = ChannelIn,
    responses((status = 201, description = "The channel", body = crate::core::Channel), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn create_channel(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    body: Body<ChannelIn>,
) -> Result<Response, ApiError> {
    let e = body?.0.edit()?;
    let c = core.create_channel(&cv::session_id(&id)?, &e).await?;
    Ok((StatusCode::CREATED, Json(json!(c))).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelSearchQuery {
    /// Words of the channel's name.
    q: Option<String>,
    /// 1 to 100 (default 20).
    limit: Option<String>,
    /// The `next` of the page before.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/sessions/{id}/channels/search", tag = "channels", summary = "Find channels in WhatsApp's directory, a page at a time",
    params(("id" = String, Path, description = "The session id"), ChannelSearchQuery),
    responses((status = 200, description = "{channels, next}", body = crate::core::ChannelPage), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn search_channels(
    Caller(core): Caller<Core>,
    Path(id): Path<String>,
    q: Params<ChannelSearchQuery>,
) -> Answer {
    let Query(q) = q?;
    let id = cv::session_id(&id)?;
    let limit = cv::limit(
        q.limit.as_deref(),
        20,
        crate::core::MAX_CHANNEL_PAGE as usize,
    )? as u32;
    let page = core
        .search_channels(
            &id,
            q.q.as_deref().unwrap_or(""),
            Some(limit),
            q.cursor.as_deref(),
        )
        .await?;
    Ok(Json(json!(page)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/channels/{channel}", tag = "channels", summary = "A channel this account runs or follows",
    params(("id" = String, Path, description = "The session id"), ("channel" = String, Path, description = "The channel's id (…@newsletter)")),
    responses((status = 200, description = "The channel", body = crate::core::Channel), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn channel(
    Caller(core): Caller<Core>,
    Path((id, channel)): Path<(String, String)>,
) -> Answer {
    let c = core
        .channel(&cv::session_id(&id)?, &channel_path(&channel)?)
        .await?;
    Ok(Json(json!(c)))
}

#[utoipa::path(patch, path = "/api/sessions/{id}/channels/{channel}", tag = "channels", summary = "Rename a channel, describe it or change its picture (its admins)",
    params(("id" = String, Path, description = "The session id"), ("channel" = String, Path, description = "The channel's id (…@newsletter)")), request_body = ChannelIn,
    responses((status = 200, description = "The channel after", body = crate::core::Channel), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn edit_channel(
    Caller(core): Caller<Core>,
    Path((id, channel)): Path<(String, String)>,
    body: Body<ChannelIn>,
) -> Answer {
    let e = body?.0.edit()?;
    let c = core
        .edit_channel(&cv::session_id(&id)?, &channel_path(&channel)?, &e)
        .await?;
    Ok(Json(json!(c)))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/channels/{channel}", tag = "channels", summary = "Delete a channel this account owns, for every follower",
    params(("id" = String, Path, description = "The session id"), ("channel" = String, Path, description = "The channel's id (…@newsletter)")),
    responses((status = 200, description = "{id, deleted: true}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn delete_channel(
    Caller(core): Caller<Core>,
    Path((id, channel)): Path<(String, String)>,
) -> Answer {
    let ch = channel_path(&channel)?;
    core.delete_channel(&cv::session_id(&id)?, &ch).await?;
    Ok(Json(json!({"id": ch, "deleted": true})))
}

#[utoipa::path(post, path = "/api/sessions/{id}/channels/{channel}/follow", tag = "channels", summary = "Follow a channel: its posts come as messages in its chat",
    params(("id" = String, Path, description = "The session id"), ("channel" = String, Path, description = "The channel's id (…@newsletter)")),
    responses((status = 200, description = "The channel", body = crate::core::Channel), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn follow_channel(
    Caller(core): Caller<Core>,
    Path((id, channel)): Path<(String, String)>,
) -> Answer {
    let c = core
        .follow_channel(&cv::session_id(&id)?, &channel_path(&channel)?)
        .await?;
    Ok(Json(json!(c)))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/channels/{channel}/follow", tag = "channels", summary = "Unfollow a channel",
    params(("id" = String, Path, description = "The session id"), ("channel" = String, Path, description = "The channel's id (…@newsletter)")),
    responses((status = 200, description = "{id, following: false}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn unfollow_channel(
    Caller(core): Caller<Core>,
    Path((id, channel)): Path<(String, String)>,
) -> Answer {
    let ch = channel_path(&channel)?;
    core.unfollow_channel(&cv::session_id(&id)?, &ch).await?;
    Ok(Json(json!({"id": ch, "following": false})))
}

#[utoipa::path(post, path = "/api/sessions/{id}/channels/{channel}/mute", tag = "channels", summary = "Mute a followed channel's notifications (its posts still come)",
    params(("id" = String, Path, description = "The session id"), ("channel" = String, Path, description = "The channel's id (…@newsletter)")),
    responses((status = 200, description = "The channel", body = crate::core::Channel), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn mute_channel(
    Caller(core): Caller<Core>,
    Path((id, channel)): Path<(String, String)>,
) -> Answer {
    let c = core
        .mute_channel(&cv::session_id(&id)?, &channel_path(&channel)?, true)
        .await?;
    Ok(Json(json!(c)))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/channels/{channel}/mute", tag = "channels", summary = "Unmute a channel",
    params(("id" = String, Path, description = "The session id"), ("channel" = String, Path, description = "The channel's id (…@newsletter)")),
    responses((status = 200, description = "The channel", body = crate::core::Channel), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a channel the account neither runs nor follows (channel_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this; only the channel's admins may (not_channel_admin); the account runs it (channel_admin); the channel takes no followers now (channel_closed)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn unmute_channel(
    Caller(core): Caller<Core>,
    Path((id, channel)): Path<(String, String)>,
) -> Answer {
    let c = core
        .mute_channel(&cv::session_id(&id)?, &channel_path(&channel)?, false)
        .await?;
    Ok(Json(json!(c)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/chats/{chat}/note", tag = "contacts", summary = "A business account's customer note on a person's chat",
    params(("id" = String, Path, description = "The session id"), ("chat" = String, Path, description = "A person's chat id or phone")),
    responses((status = 200, description = "{chat, id, content, created, modified}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a chat the account does not have (chat_not_found), or no note on it (note_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or not a business account (not_business)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn note(Caller(core): Caller<Core>, Path((id, chat)): Path<(String, String)>) -> Answer {
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    match core.note(&cv::session_id(&id)?, &chat).await? {
        Some(n) => Ok(Json(cv::note(&chat, &n))),
        None => Err(ApiError::from(crate::core::CoreError::NotFound {
            code: "note_not_found",
            message: format!("there is no note on {chat}"),
        })),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteIn {
    /// 1 to 4096 characters.
    content: Option<String>,
}

#[utoipa::path(put, path = "/api/sessions/{id}/chats/{chat}/note", tag = "contacts", summary = "Write a business account's customer note on a person's chat, or rewrite it (on the phone too)",
    params(("id" = String, Path, description = "The session id"), ("chat" = String, Path, description = "A person's chat id or phone")), request_body = NoteIn,
    responses((status = 200, description = "{chat, id, content, created, modified}", body = Object), (status = 400, description = "Bad input", body = crate::api::native::convert::ErrorBody), (status = 401, description = "No key or a wrong key", body = crate::api::native::convert::ErrorBody), (status = 403, description = "The key may not do this (another session, a missing scope)", body = crate::api::native::convert::ErrorBody), (status = 404, description = "No such session, or a chat the account does not have (chat_not_found)", body = crate::api::native::convert::ErrorBody), (status = 409, description = "The session is not ready for this, or not a business account (not_business)", body = crate::api::native::convert::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::native::convert::ErrorBody), (status = 502, description = "WhatsApp refused or failed the call", body = crate::api::native::convert::ErrorBody), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = crate::api::native::convert::ErrorBody)))]
pub async fn set_note(
    Caller(core): Caller<Core>,
    Path((id, chat)): Path<(String, String)>,
    body: Body<NoteIn>,
) -> Answer {
    let content = body?
        .0
        .content
        .ok_or_else(|| ApiError::invalid("content", "is required"))?;
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    let n = core
        .set_note(&cv::session_id(&id)?, &chat, &content)
        .await?;
    Ok(Json(cv::note(&chat, &n)))
}
