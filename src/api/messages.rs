//! Messages, chats and contacts of a session (design.md §2).

use super::AppState;
use super::error::{ApiError, ApiJson};
use super::sessions::session_id;
use crate::model::{SessionId, Wid, now_ms};
use crate::session::CallFailure;
use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Largest media we send, decoded.
pub const MAX_SEND_MEDIA: usize = 64 << 20;
const IDEMPOTENCY_TTL_S: i64 = 24 * 3600;

impl From<CallFailure> for ApiError {
    fn from(e: CallFailure) -> Self {
        match e {
            CallFailure::Session(e) => e.into(),
            CallFailure::Page(m) => ApiError::new(StatusCode::BAD_GATEWAY, "whatsapp_error", m),
            CallFailure::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "browser_unavailable", m)
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaIn {
    url: Option<String>,
    data: Option<String>,
    mimetype: Option<String>,
    filename: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendIn {
    to: String,
    text: Option<String>,
    media: Option<MediaIn>,
    caption: Option<String>,
    reply_to: Option<String>,
}

struct Media {
    b64: String,
    mimetype: String,
    filename: Option<String>,
}

fn media_type(mimetype: &str) -> &'static str {
    match mimetype.split('/').next().unwrap_or("") {
        "image" if mimetype != "image/webp" => "image",
        "video" => "video",
        "audio" => "audio",
        _ => "document",
    }
}

async fn load_media(m: MediaIn) -> Result<Media, ApiError> {
    let (bytes, sniffed) = match (m.data, m.url) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "media",
                "takes 'url' or 'data', not both",
            ));
        }
        (Some(data), None) => {
            // Accept a data URL too.
            let (mime, b64) = match data
                .strip_prefix("data:")
                .and_then(|r| r.split_once(";base64,"))
            {
                Some((mime, b64)) => (Some(mime.to_string()), b64.to_string()),
                None => (None, data),
            };
            if b64.len() / 4 * 3 > MAX_SEND_MEDIA + 3 {
                return Err(too_large());
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| ApiError::invalid("media.data", "is not valid base64"))?;
            (bytes, mime)
        }
        (None, Some(url)) => fetch(&url).await?,
        (None, None) => return Err(ApiError::invalid("media", "needs 'url' or 'data'")),
    };
    if bytes.is_empty() {
        return Err(ApiError::invalid("media", "is empty"));
    }
    if bytes.len() > MAX_SEND_MEDIA {
        return Err(too_large());
    }
    let mimetype = m
        .mimetype
        .or(sniffed)
        .filter(|s| s.contains('/'))
        .unwrap_or_else(|| "application/octet-stream".into());
    Ok(Media {
        b64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        mimetype,
        filename: m.filename,
    })
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "media_too_large",
        format!("media larger than {} MB", MAX_SEND_MEDIA >> 20),
    )
}

/// Downloads `media.url` with a size cap and a timeout.
async fn fetch(url: &str) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| ApiError::invalid("media.url", format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::invalid("media.url", "must be http or https"));
    }
    let fail = |why: String| ApiError::invalid("media.url", format!("could not be fetched: {why}"));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("the server answered {}", resp.status())));
    }
    if resp
        .content_length()
        .is_some_and(|n| n as usize > MAX_SEND_MEDIA)
    {
        return Err(too_large());
    }
    let mime = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_SEND_MEDIA {
            return Err(too_large());
        }
    }
    Ok((bytes, mime))
}

pub async fn send(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendIn>,
) -> Result<Response, ApiError> {
    let id = session_id(&id)?;
    // Validate everything before anything is sent or a key is taken.
    let to = Wid::parse(&body.to).map_err(|e| ApiError::invalid("to", e))?;
    let text = body.text.filter(|t| !t.is_empty());
    if text.is_none() && body.media.is_none() {
        return Err(ApiError::invalid(
            "text",
            "is required when there is no media",
        ));
    }
    if text.as_ref().is_some_and(|t| t.len() > 65_536) {
        return Err(ApiError::invalid("text", "is longer than 65536 bytes"));
    }
    if text.is_some() && body.media.is_some() && body.caption.is_some() {
        return Err(ApiError::invalid(
            "caption",
            "cannot be combined with both text and media",
        ));
    }
    let manager = &st.manager;
    manager.get(&id).await?;
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::bad_request("Idempotency-Key must be text"))?;
    if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255) {
        return Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 characters",
        ));
    }
    let media = match body.media {
        Some(m) => Some(load_media(m).await?),
        None => None,
    };
    let store = manager.env().records.store().clone();
    let now = now_ms() / 1000;
    if let Some(k) = &key {
        match store
            .idempotency_begin(&id, k, now, IDEMPOTENCY_TTL_S)
            .map_err(|e| ApiError::internal(e.to_string()))?
        {
            Some(Value::Null) => {
                return Err(ApiError::conflict(
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still in progress",
                ));
            }
            Some(first) => return Ok((StatusCode::CREATED, Json(first)).into_response()),
            None => {}
        }
    }
    let result = do_send(&st, &id, &to, text, media, body.caption, body.reply_to).await;
    if let Some(k) = &key {
        // After a timeout the message may have gone out: keep the key
        // reserved (a retry gets 409 until the reservation lapses).
        let unknown = matches!(&result, Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE);
        let stored = result.as_ref().ok();
        if unknown {
            tracing::warn!(session = %id, "send outcome unknown; Idempotency-Key stays reserved");
        } else if let Err(e) = store.idempotency_finish(&id, k, now, stored) {
            tracing::error!(session = %id, "could not store the idempotency key: {e}");
        }
    }
    Ok((StatusCode::CREATED, Json(result?)).into_response())
}

async fn do_send(
    st: &AppState,
    id: &SessionId,
    to: &Wid,
    text: Option<String>,
    media: Option<Media>,
    caption: Option<String>,
    reply_to: Option<String>,
) -> Result<Value, ApiError> {
    let m = &st.manager;
    // bridge.js checks the number (cached) before sending and says so.
    let not_on_whatsapp = |e: CallFailure| match e {
        CallFailure::Page(msg) if msg.starts_with("NOT_ON_WHATSAPP") => ApiError::invalid_code(
            "number_not_on_whatsapp",
            format!("{} is not on WhatsApp", to.user()),
        ),
        other => other.into(),
    };
    let mut sent: Value = match (text, media) {
        (Some(text), None) => m
            .call(id, "sendText", &[json!(to), json!(text), json!(reply_to)])
            .await
            .map_err(not_on_whatsapp)?,
        (text, Some(media)) => {
            let caption = caption.or(text);
            let opts = json!({"type": media_type(&media.mimetype), "mimetype": media.mimetype, "filename": media.filename,
                              "caption": caption, "replyTo": reply_to});
            m.call(id, "sendFile", &[json!(to), json!(media.b64), opts])
                .await
                .map_err(not_on_whatsapp)?
        }
        (None, None) => unreachable!("validated above"),
    };
    tracing::info!(session = %id, msg = sent["id"].as_str().unwrap_or(""), "message sent");
    let ack =
        crate::model::Ack::from_wa(sent["ack"].as_i64().unwrap_or(1)).max(crate::model::Ack::Sent);
    Ok(
        json!({"id": sent["id"].take(), "to": to, "timestamp": sent["timestamp"].take(), "ack": ack}),
    )
}

#[derive(Deserialize)]
pub struct ListQuery {
    chat: Option<String>,
    limit: Option<String>,
    before: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    st.manager.get(&id).await?;
    let chat = q
        .chat
        .filter(|c| !c.is_empty())
        .map(|c| Wid::parse(&c).map_err(|e| ApiError::invalid("chat", e)))
        .transpose()?;
    let limit = match q.limit {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "must be a number from 1 to 500"))?,
        None => 50,
    };
    let before = q
        .before
        .filter(|b| !b.is_empty())
        .map(|b| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b)
                .map_err(|_| ApiError::invalid("before", "is not a cursor from a previous page"))
        })
        .transpose()?;
    let (msgs, next) = st
        .manager
        .env()
        .records
        .store()
        .messages(
            &id,
            chat.as_ref().map(Wid::as_str),
            limit,
            before.as_deref(),
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let next = next.map(|c| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c));
    Ok(Json(json!({"messages": msgs, "next": next})))
}

pub async fn media(
    State(st): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = session_id(&id)?;
    st.manager.get(&id).await?;
    let store = st.manager.env().records.store().clone();
    let msg = store
        .message(&id, &mid)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::not_found("message_not_found", format!("no message {mid}")))?;
    let info = msg
        .media
        .ok_or_else(|| ApiError::not_found("no_media", format!("message {mid} has no media")))?;
    let path = st.manager.env().media_path(&id, &mid);
    let bytes = tokio::fs::read(&path).await.map_err(|_| {
        ApiError::not_found(
            "media_unavailable",
            format!("the media of {mid} was not kept"),
        )
    })?;
    let mime = info
        .mimetype
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut resp = ([(header::CONTENT_TYPE, mime)], bytes).into_response();
    if let Some(name) = info.filename.filter(|n| !n.contains('"')) {
        if let Ok(v) = format!("inline; filename=\"{name}\"").parse() {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

pub async fn chats(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    let chats: Value = st.manager.call(&id, "chats", &[]).await?;
    Ok(Json(chats))
}

pub async fn contact(
    State(st): State<AppState>,
    Path((id, phone)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    let wid = Wid::parse(&phone).map_err(|e| ApiError::invalid("phone", e))?;
    let found: Option<String> = st.manager.call(&id, "exists", &[json!(wid)]).await?;
    Ok(Json(json!({"exists": found.is_some(), "id": found})))
}

pub async fn read(
    State(st): State<AppState>,
    Path((id, chat)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    let chat = Wid::parse(&chat).map_err(|e| ApiError::invalid("chat", e))?;
    let _: Value = st.manager.call(&id, "markRead", &[json!(chat)]).await?;
    Ok(Json(json!({"chat": chat, "read": true})))
}
