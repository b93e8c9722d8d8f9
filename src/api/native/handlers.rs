//! The native routes: each a few lines over the core.

use super::convert::{self as cv, ApiError};
use crate::api::body::{BodyError, JsonBody};
use crate::core::Core;
use crate::domain::Webhook;
use axum::{
    Json,
    extract::{Path, Query, State},
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

// ---- sessions

pub async fn create(
    State(core): State<Core>,
    body: Body<cv::CreateSession>,
) -> Result<Response, ApiError> {
    let b = body?.0;
    let id = match b.id {
        Some(raw) => cv::session_id(&raw)?,
        None => crate::domain::SessionId::generate(),
    };
    let view = core.create_session(id, b.webhooks, b.start).await?;
    Ok((StatusCode::CREATED, Json(cv::session(&view))).into_response())
}

pub async fn list(State(core): State<Core>) -> Json<Vec<Value>> {
    Json(core.sessions().await.iter().map(cv::session).collect())
}

pub async fn get(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(
        &core.session(&cv::session_id(&id)?).await?,
    )))
}

pub async fn start(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(&core.start(&cv::session_id(&id)?).await?)))
}

pub async fn stop(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(&core.stop(&cv::session_id(&id)?).await?)))
}

pub async fn restart(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(
        &core.restart(&cv::session_id(&id)?).await?,
    )))
}

pub async fn logout(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(cv::session(
        &core.logout(&cv::session_id(&id)?).await?,
    )))
}

pub async fn delete(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    let id = cv::session_id(&id)?;
    core.delete(&id).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

pub async fn put_webhooks(
    State(core): State<Core>,
    Path(id): Path<String>,
    body: Body<Vec<Webhook>>,
) -> Answer {
    let id = cv::session_id(&id)?;
    let hooks = body?.0;
    Ok(Json(cv::session(&core.set_webhooks(&id, hooks).await?)))
}

pub async fn qr(
    State(core): State<Core>,
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

// ---- messages

pub async fn send(
    State(core): State<Core>,
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

#[derive(Deserialize)]
pub struct ListQuery {
    chat: Option<String>,
    limit: Option<String>,
    before: Option<String>,
}

pub async fn messages(
    State(core): State<Core>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Answer {
    let id = cv::session_id(&id)?;
    let chat = cv::optional_wid(q.chat.as_deref(), "chat")?;
    let limit = cv::limit(q.limit.as_deref(), 50, 500)?;
    let before = cv::cursor_in(q.before.as_deref())?;
    let page = core
        .messages(&id, chat.as_ref(), limit, before.as_deref())
        .await?;
    Ok(Json(
        json!({"messages": page.messages, "next": cv::cursor_out(page.next)}),
    ))
}

pub async fn media(
    State(core): State<Core>,
    Path((id, mid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (info, bytes) = core.media(&cv::session_id(&id)?, &mid).await?;
    let mime = info
        .mimetype
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut resp = ([(header::CONTENT_TYPE, mime)], bytes).into_response();
    if let Some(v) = info
        .filename
        .filter(|n| !n.contains('"'))
        .and_then(|n| format!("inline; filename=\"{n}\"").parse().ok())
    {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

pub async fn chats(State(core): State<Core>, Path(id): Path<String>) -> Answer {
    Ok(Json(json!(core.chats(&cv::session_id(&id)?).await?)))
}

pub async fn contact(
    State(core): State<Core>,
    Path((id, phone)): Path<(String, String)>,
) -> Answer {
    let id = cv::session_id(&id)?;
    let who = crate::domain::Wid::parse(&phone).map_err(|e| ApiError::invalid("phone", e))?;
    let found = core.contact(&id, &who).await?;
    Ok(Json(json!({"exists": found.is_some(), "id": found})))
}

pub async fn read(State(core): State<Core>, Path((id, chat)): Path<(String, String)>) -> Answer {
    let id = cv::session_id(&id)?;
    let chat = crate::domain::Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    core.mark_read(&id, &chat).await?;
    Ok(Json(json!({"chat": chat, "read": true})))
}

// ---- deliveries

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    status: Option<String>,
    limit: Option<String>,
}

pub async fn deliveries(
    State(core): State<Core>,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> Answer {
    let id = cv::session_id(&id)?;
    let want = cv::delivery_status(q.status.as_deref())?;
    let limit = cv::limit(q.limit.as_deref(), 100, 1000)?;
    let list = core.deliveries(&id, want, limit).await?;
    Ok(Json(
        json!({"deliveries": list.iter().map(|d| d.view()).collect::<Vec<_>>()}),
    ))
}

pub async fn retry(State(core): State<Core>, Path((id, did)): Path<(String, String)>) -> Answer {
    Ok(Json(
        core.retry_delivery(&cv::session_id(&id)?, &did)
            .await?
            .view(),
    ))
}

// ---- events

#[derive(Deserialize)]
pub struct EventsQuery {
    session: Option<String>,
    events: Option<String>,
    /// Resume after this place (as `Last-Event-ID` does).
    since: Option<String>,
}

/// Server-Sent Events from the event log: each carries its place as `id:`,
/// and a reader that comes back with `Last-Event-ID` (or `?since=`) gets
/// what it missed, then the live stream, with no gap and no repeat.
pub async fn events(
    State(core): State<Core>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let session = q
        .session
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(cv::session_id)
        .transpose()?;
    let kinds = cv::event_kinds(q.events.as_deref())?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .or(q.since);
    let since = cv::event_place(resume.as_deref())?;
    let stream = core.live(session, kinds, since)?.map(|item| {
        Ok(match item {
            crate::core::Live::Event(l) => SseEvent::default()
                .id(l.seq.to_string())
                .event(l.event.event.as_str())
                .data(serde_json::to_string(&l.event).unwrap_or_default()),
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

// ---- templates

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateIn {
    body: String,
    language: Option<String>,
}

pub async fn put_template(
    State(core): State<Core>,
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

pub async fn templates(State(core): State<Core>) -> Answer {
    Ok(Json(json!({"templates": core.templates()?})))
}

pub async fn template(State(core): State<Core>, Path(name): Path<String>) -> Answer {
    let t = core.template(&name)?.ok_or_else(|| {
        ApiError::not_found("template_not_found", format!("no template '{name}'"))
    })?;
    Ok(Json(json!(t)))
}

pub async fn delete_template(State(core): State<Core>, Path(name): Path<String>) -> Answer {
    core.delete_template(&name)?;
    Ok(Json(json!({"name": name, "deleted": true})))
}
