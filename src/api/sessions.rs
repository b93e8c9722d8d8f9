//! `/api/sessions...`: the native session routes of design.md §2.

use super::{
    AppState,
    error::{ApiError, ApiJson},
};
use crate::model::{SessionId, Status};
use crate::session::SessionView;
use crate::webhook::Webhook;
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

fn ts(unix: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64),
    )
    .to_string()
}

pub fn view_json(v: &SessionView) -> Value {
    let live = v.live.as_ref();
    let me = live.and_then(|l| l.me.clone()).or(v.record.me.clone());
    let platform = live
        .and_then(|l| l.platform.clone())
        .or(v.record.platform.clone());
    let mut out = json!({
        "id": v.record.id,
        "status": v.status(),
        "me": me,
        "platform": platform,
        "created_at": ts(v.record.created_at),
        "updated_at": ts(v.record.updated_at),
        "webhooks": v.record.webhooks.iter().map(Webhook::redacted).collect::<Vec<_>>(),
    });
    if let Some(e) = v.error() {
        out["error"] = json!(e);
    }
    out
}

pub fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(raw).map_err(|e| ApiError::invalid("id", e))
}

pub fn validate_hooks(hooks: &[Webhook], at: &str) -> Result<(), ApiError> {
    for (i, h) in hooks.iter().enumerate() {
        h.validate(&format!("{at}[{i}]"))
            .map_err(|(f, why)| ApiError::invalid(&f, why))?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    id: Option<String>,
    #[serde(default)]
    webhooks: Vec<Webhook>,
    #[serde(default = "yes")]
    start: bool,
}

fn yes() -> bool {
    true
}

pub async fn create(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<CreateSession>,
) -> Result<Response, ApiError> {
    let id = match body.id {
        Some(raw) => session_id(&raw)?,
        None => SessionId::generate(),
    };
    validate_hooks(&body.webhooks, "webhooks")?;
    let view = st.manager.create(id, body.webhooks, body.start).await?;
    Ok((StatusCode::CREATED, Json(view_json(&view))).into_response())
}

pub async fn list(State(st): State<AppState>) -> Json<Vec<Value>> {
    Json(st.manager.list().await.iter().map(view_json).collect())
}

pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    Ok(Json(view_json(&st.manager.get(&id).await?)))
}

pub async fn start(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    st.manager.start(&id).await?;
    Ok(Json(view_json(&st.manager.get(&id).await?)))
}

pub async fn stop(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    st.manager.stop(&id).await?;
    Ok(Json(view_json(&st.manager.get(&id).await?)))
}

pub async fn restart(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    st.manager.restart(&id).await?;
    Ok(Json(view_json(&st.manager.get(&id).await?)))
}

pub async fn logout(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    st.manager.logout(&id).await?;
    Ok(Json(view_json(&st.manager.get(&id).await?)))
}

pub async fn delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    st.manager.delete(&id).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

pub async fn put_webhooks(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(hooks): ApiJson<Vec<Webhook>>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    validate_hooks(&hooks, "")?;
    Ok(Json(view_json(&st.manager.set_webhooks(&id, hooks).await?)))
}

pub async fn qr(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = session_id(&id)?;
    let view = st.manager.get(&id).await?;
    let qr = view
        .live
        .as_ref()
        .filter(|l| l.status == Status::ScanQr)
        .and_then(|l| l.qr.clone())
        .ok_or_else(|| {
            ApiError::conflict(
                "not_waiting_for_scan",
                format!(
                    "session '{id}' is not waiting for a QR scan (status {})",
                    view.status().as_str()
                ),
            )
        })?;
    let wants_png = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("image/png"));
    if wants_png {
        let png = crate::qr::png(&qr).map_err(|e| ApiError::internal(e.to_string()))?;
        return Ok((
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            png,
        )
            .into_response());
    }
    let data_url = crate::qr::png_data_url(&qr).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"qr": qr, "data_url": data_url})),
    )
        .into_response())
}
