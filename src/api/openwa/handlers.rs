//! The open-wa routes: each a few lines over the core.

use super::OpenWa;
use super::convert::{self as cv, WrapperError};
use super::easy::{self, Call, EasyError, EasyIn, NotOnWhatsApp};
use crate::api::auth::Caller;
use crate::api::body::{BodyError, JsonBody};
use crate::core::{Core, CoreError, INVITE_PREFIX};
use crate::domain::{Format, Me, ReadReceipts, SessionId, Status, Webhook, Wid};
use axum::{
    Json,
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

type Body<T> = Result<JsonBody<T>, BodyError>;

impl IntoResponse for WrapperError {
    fn into_response(self) -> Response {
        let secs = self.retry_after;
        crate::api::body::with_retry_after((self.status, Json(self.body())).into_response(), secs)
    }
}

impl IntoResponse for EasyError {
    fn into_response(self) -> Response {
        let secs = self.retry_after;
        crate::api::body::with_retry_after((self.status, Json(self.body())).into_response(), secs)
    }
}

/// The QR as a PNG data URL while the session waits for a scan.
async fn qr_data_url(st: &OpenWa, id: &SessionId) -> Option<String> {
    let qr = st.core.qr(id).await.ok()?;
    crate::qr::png_data_url(&qr).ok()
}

// ---- the wrapper routes

/// Creates (or, if it exists, starts) a session and waits, bounded, for its
/// first QR. A `webhook_url` gets inbound messages in the `simple` format.
#[utoipa::path(post, path = "/session/create", tag = "open-wa", summary = "Create (or start) a session and wait, bounded, for its first QR", request_body = cv::CreateIn, responses((status = 200, description = "{session_id, qr_code: PNG data URL or null, status, message}", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "The key may not do this (another session, a missing scope)", body = Object), (status = 413, description = "The body is over the limit", body = Object), (status = 422, description = "A field is missing or invalid", body = Object), (status = 502, description = "WhatsApp refused or failed the call", body = Object), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = Object), (status = 507, description = "The disk is full (Retry-After)", body = Object)))]
pub async fn create(
    Caller(st): Caller<OpenWa>,
    body: Body<cv::CreateIn>,
) -> Result<Json<Value>, WrapperError> {
    let b = body?.0;
    let id = b.id()?;
    let hook = b
        .webhook_url
        .map(|url| Webhook::subscriber(url, Format::Simple, &["message"]));
    match st
        .core
        .create_session(
            id.clone(),
            hook.clone().into_iter().collect(),
            true,
            None,
            None,
            None,
        )
        .await
    {
        Ok(_) => {}
        Err(CoreError::SessionExists(_)) => {
            if let Some(h) = hook {
                st.core.subscribe(&id, h).await?;
            }
            st.core.start(&id).await?;
        }
        Err(e) => return Err(e.into()),
    }
    let view = st.core.settle(&id, st.qr_wait).await?;
    Ok(Json(cv::created(&view, qr_data_url(&st, &id).await)))
}

#[utoipa::path(get, path = "/session/{id}/status", tag = "open-wa", summary = "A session's status", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "{session_id, connected, status, phone_number, qr_code (while waiting), details}", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "The key may not do this (another session, a missing scope)", body = Object), (status = 404, description = "No such session", body = Object), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = Object)))]
pub async fn status(
    Caller(st): Caller<OpenWa>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WrapperError> {
    let id = cv::session_id(Some(&id))?;
    let view = st.core.session(&id).await?;
    Ok(Json(cv::status(&view, qr_data_url(&st, &id).await)))
}

#[utoipa::path(get, path = "/sessions", tag = "open-wa", summary = "Every session", responses((status = 200, description = "{success, sessions}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = Object)))]
pub async fn sessions(Caller(st): Caller<OpenWa>) -> Json<Value> {
    let list: Vec<Value> = st
        .core
        .readable_sessions()
        .await
        .iter()
        .map(|v| cv::status(v, None))
        .collect();
    Json(json!({"success": true, "sessions": list}))
}

#[utoipa::path(post, path = "/message/send", tag = "open-wa", summary = "Send a text message", request_body = cv::SendIn, responses((status = 200, description = "{success, message_id, error}", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "The key may not do this (another session, a missing scope)", body = Object), (status = 404, description = "No such session", body = Object), (status = 409, description = "The session is not connected", body = Object), (status = 413, description = "The body is over the limit", body = Object), (status = 422, description = "A field is missing or invalid", body = Object), (status = 429, description = "Send pacing: the queue is full (Retry-After)", body = Object), (status = 502, description = "WhatsApp refused or failed the call", body = Object), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = Object), (status = 507, description = "The disk is full (Retry-After)", body = Object)))]
pub async fn send(
    Caller(st): Caller<OpenWa>,
    body: Body<cv::SendIn>,
) -> Result<Json<Value>, WrapperError> {
    let (id, req) = body?.0.into_request()?;
    let sent = st.core.send(&id, req, None).await?;
    Ok(Json(
        json!({"success": true, "message_id": sent.id, "error": null}),
    ))
}

#[utoipa::path(post, path = "/session/{id}/logout", tag = "open-wa", summary = "Log a session's device out", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "{success}", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "The key may not do this (another session, a missing scope)", body = Object), (status = 404, description = "No such session", body = Object), (status = 502, description = "WhatsApp refused or failed the call", body = Object), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = Object), (status = 507, description = "The disk is full (Retry-After)", body = Object)))]
pub async fn logout(
    Caller(st): Caller<OpenWa>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WrapperError> {
    let id = cv::session_id(Some(&id))?;
    let view = st.core.logout(&id).await?;
    Ok(Json(
        json!({"success": true, "session_id": id, "status": cv::wrapper_status(view.status())}),
    ))
}

#[utoipa::path(delete, path = "/session/{id}", tag = "open-wa", summary = "Delete a session", params(("id" = String, Path, description = "The session id")), responses((status = 200, description = "{success}", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "The key may not do this (another session, a missing scope)", body = Object), (status = 404, description = "No such session", body = Object), (status = 503, description = "The browser is unavailable or the daemon is busy (Retry-After)", body = Object), (status = 507, description = "The disk is full (Retry-After)", body = Object)))]
pub async fn delete(
    Caller(st): Caller<OpenWa>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WrapperError> {
    let id = cv::session_id(Some(&id))?;
    st.core.delete(&id).await?;
    Ok(Json(json!({"success": true, "session_id": id})))
}

// ---- the EASY API

#[utoipa::path(post, path = "/{method}", tag = "open-wa", summary = "The EASY API on the default session: `POST /sendText {\"args\": {...}}`; with the method in the body, the path names the session: `POST /{session} {\"method\": ...}`", params(("method" = String, Path, description = "An open-wa client method: sendText, sendImage, sendFile, getAllChats, checkNumberStatus, ...")), request_body = EasyIn, responses((status = 200, description = "{success: true, response}; {success: false, error} when the method failed, bad arguments too, as in open-wa", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 404, description = "No such session, or a method not served: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "FORBIDDEN: the key may not do this with this session: {success: false, error}", body = Object), (status = 413, description = "Media larger than this daemon takes: {success: false, error}", body = Object), (status = 429, description = "RATE_LIMITED: the session's send queue is full (Retry-After): {success: false, error}", body = Object), (status = 503, description = "SERVER_BUSY: at a configured limit (Retry-After): {success: false, error}", body = Object), (status = 507, description = "STORAGE_FULL: the disk is full (Retry-After): {success: false, error}", body = Object)))]
pub async fn easy_default(
    Caller(st): Caller<OpenWa>,
    Path(segment): Path<String>,
    body: Body<EasyIn>,
) -> Result<Json<Value>, EasyError> {
    easy_at(&st, Some(segment), body?.0).await
}

/// `POST /` with the method in the body: `{"method": "sendText", "args": [...]}`.
#[utoipa::path(post, path = "/", tag = "open-wa", summary = "The EASY API, the method in the body: `POST / {\"method\": \"sendText\", \"args\": [...]}` on the default session", request_body = EasyIn, responses((status = 200, description = "{success: true, response}; {success: false, error} when the method failed, bad arguments too, as in open-wa", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 404, description = "No such session, or a method not served: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "FORBIDDEN: the key may not do this with this session: {success: false, error}", body = Object), (status = 413, description = "Media larger than this daemon takes: {success: false, error}", body = Object), (status = 429, description = "RATE_LIMITED: the session's send queue is full (Retry-After): {success: false, error}", body = Object), (status = 503, description = "SERVER_BUSY: at a configured limit (Retry-After): {success: false, error}", body = Object), (status = 507, description = "STORAGE_FULL: the disk is full (Retry-After): {success: false, error}", body = Object)))]
pub async fn easy_root(
    Caller(st): Caller<OpenWa>,
    body: Body<EasyIn>,
) -> Result<Json<Value>, EasyError> {
    easy_at(&st, None, body?.0).await
}

/// Where open-wa's middleware finds the method and the session: the one
/// path segment is the method, unless the body names the method, in which
/// case the segment is the session (`POST /{session} {"method": ...}`).
async fn easy_at(
    st: &OpenWa,
    segment: Option<String>,
    body: EasyIn,
) -> Result<Json<Value>, EasyError> {
    let named = body.method.clone().filter(|m| !m.is_empty());
    // A segment that names a method is the session still when a session
    // has that name (`POST /react {"method": "sendText"}`).
    let is_session = |seg: &str| {
        let core = st.core.clone();
        let seg = seg.to_string();
        async move {
            match SessionId::parse(&seg) {
                Ok(sid) => core.session(&sid).await.is_ok(),
                Err(_) => false,
            }
        }
    };
    let (method, session) = match (named, segment) {
        (Some(m), Some(seg)) if seg != m && (!easy::is_method(&seg) || is_session(&seg).await) => {
            (m, Some(seg))
        }
        (Some(m), _) => (m, None),
        (None, Some(seg)) => (seg, None),
        (None, None) => {
            return Err(EasyError::bad_args(
                "name the method: POST /{method}, or {\"method\": ...} in the body",
            ));
        }
    };
    let call = easy::parse_call(&method, &body)?;
    let id = match session {
        Some(s) => SessionId::parse(&s)
            .map_err(|e| EasyError::new(StatusCode::NOT_FOUND, "SESSION_NOT_FOUND", e))?,
        None => st.core.default_session().await?,
    };
    run(st, &id, call).await
}

#[utoipa::path(post, path = "/{first}/{second}", tag = "open-wa", summary = "The EASY API on a named session: `POST /{session}/{method}`", params(("first" = String, Path, description = "The session id"), ("second" = String, Path, description = "An open-wa client method")), request_body = EasyIn, responses((status = 200, description = "{success: true, response}; {success: false, error} when the method failed, bad arguments too, as in open-wa", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 404, description = "No such session, or a method not served: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "FORBIDDEN: the key may not do this with this session: {success: false, error}", body = Object), (status = 413, description = "Media larger than this daemon takes: {success: false, error}", body = Object), (status = 429, description = "RATE_LIMITED: the session's send queue is full (Retry-After): {success: false, error}", body = Object), (status = 503, description = "SERVER_BUSY: at a configured limit (Retry-After): {success: false, error}", body = Object), (status = 507, description = "STORAGE_FULL: the disk is full (Retry-After): {success: false, error}", body = Object)))]
pub async fn easy(
    Caller(st): Caller<OpenWa>,
    Path((id, method)): Path<(String, String)>,
    body: Body<EasyIn>,
) -> Result<Json<Value>, EasyError> {
    let body = body?.0;
    let call = easy::parse_call(&method, &body)?;
    let id = SessionId::parse(&id)
        .map_err(|e| EasyError::new(StatusCode::NOT_FOUND, "SESSION_NOT_FOUND", e))?;
    run(&st, &id, call).await
}

/// `POST /session/{method}`: the EASY API on the session named "session",
/// whose path the wrapper's `/session/{id}` takes.
#[utoipa::path(post, path = "/session/{id}", tag = "open-wa", summary = "The EASY API on the session named `session` (open-wa's default sessionId): `POST /session/sendText`", params(("id" = String, Path, description = "An open-wa client method")), request_body = EasyIn, responses((status = 200, description = "{success: true, response}; {success: false, error} when the method failed, bad arguments too, as in open-wa", body = Object), (status = 400, description = "Not JSON: {success: false, error}", body = Object), (status = 404, description = "No session named session, or a method not served: {success: false, error}", body = Object), (status = 401, description = "No key or a wrong key: {success: false, error}", body = Object), (status = 403, description = "FORBIDDEN: the key may not do this with this session: {success: false, error}", body = Object), (status = 413, description = "Media larger than this daemon takes: {success: false, error}", body = Object), (status = 429, description = "RATE_LIMITED: the session's send queue is full (Retry-After): {success: false, error}", body = Object), (status = 503, description = "SERVER_BUSY: at a configured limit (Retry-After): {success: false, error}", body = Object), (status = 507, description = "STORAGE_FULL: the disk is full (Retry-After): {success: false, error}", body = Object)))]
pub async fn easy_on_session(
    caller: Caller<OpenWa>,
    Path(method): Path<String>,
    body: Body<EasyIn>,
) -> Result<Json<Value>, EasyError> {
    easy(caller, Path(("session".to_string(), method)), body).await
}

async fn run(st: &OpenWa, id: &SessionId, call: Call) -> Result<Json<Value>, EasyError> {
    let core = &st.core;
    let base = &*st.public_url;
    let message =
        |m: crate::domain::Message| cv::message(&serde_json::to_value(m).unwrap_or_default(), base);
    let messages =
        |ms: Vec<crate::domain::Message>| json!(ms.into_iter().map(message).collect::<Vec<_>>());
    let response = match call {
        Call::Send {
            mut req,
            seen_first,
            unknown,
            quote_optional,
            answer_true,
        } => {
            if let Some(crate::core::Special::Contacts(cards)) = &mut req.special {
                own_cards_named(core, id, cards).await;
            }
            // Marking read is a courtesy: it does not hold the message back.
            if seen_first && let Err(e) = core.mark_read(id, &req.to).await {
                tracing::debug!(session = %id, "could not mark the chat read before sending: {e}");
            }
            let options = crate::core::SendOptions {
                quote_optional,
                ..Default::default()
            };
            match (core.send_with(id, req, None, options).await, unknown) {
                (Ok(_), _) if answer_true => json!(true),
                (Ok(sent), _) => json!(sent.id),
                // open-wa answers this with an error string (sendText) or
                // false (the others), not an exception.
                (Err(CoreError::NotOnWhatsApp(_)), NotOnWhatsApp::ErrorString) => {
                    return Ok(Json(
                        json!({"success": false, "response": easy::NOT_ON_WHATSAPP}),
                    ));
                }
                (Err(CoreError::NotOnWhatsApp(_)), NotOnWhatsApp::False) => json!(false),
                (Err(e), _) => return Err(e.into()),
            }
        }
        // As open-wa's: false for a chat this account does not have.
        Call::SendSeen(chat) => match core.mark_read(id, &chat).await {
            Ok(_) => json!(true),
            Err(CoreError::NotFound {
                code: "chat_not_found",
                ..
            }) => json!(false),
            Err(e) => return Err(e.into()),
        },
        Call::Presence { chat, state } => core
            .presence(id, chat.as_ref(), state)
            .await
            .map(|_| json!(true))?,
        Call::React { message, emoji } => core
            .react(id, &message, &emoji)
            .await
            .map(|_| json!(true))?,
        Call::Edit { message, text } => {
            core.edit(id, &message, &text).await.map(|_| json!(true))?
        }
        // The copies' ids, in order (open-wa types it boolean|string; its
        // users read the ids).
        Call::Forward { to, messages } => {
            // None goes when one cannot.
            for m in &messages {
                core.forwardable(id, m)?;
            }
            let mut copies = Vec::with_capacity(messages.len());
            for m in messages {
                let req = crate::core::SendRequest {
                    text: None,
                    special: Some(crate::core::Special::Forward(m)),
                    ..crate::core::SendRequest::text(to.clone(), String::new())
                };
                copies.push(core.send(id, req, None).await?.id);
            }
            json!(copies)
        }
        Call::GetBlockedIds => json!(core.blocklist(id).await?),
        // open-wa's Label: {id, name, items: [{type: "Chat", id}]}.
        Call::GetAllLabels => {
            let (labels, chats) = (core.labels(id).await?, core.chats(id).await?);
            json!(
                labels
                    .labels
                    .iter()
                    .map(|l| json!({
                        "id": l.id, "name": l.name,
                        "items": chats.iter().filter(|c| c.labels.contains(&l.id))
                            .map(|c| json!({"type": "Chat", "id": c.id})).collect::<Vec<_>>(),
                    }))
                    .collect::<Vec<_>>()
            )
        }
        // As open-wa: the new label's id, or false where WhatsApp refused.
        Call::CreateLabel(name) => match core.create_label(id, &name, None).await {
            Ok(l) => json!(l.id),
            Err(CoreError::Conflict { .. } | CoreError::WhatsApp(_)) => json!(false),
            Err(e) => return Err(e.into()),
        },
        // `label` is its id or its exact name (a name needs `read` to be
        // looked up); false where there is no such label or chat.
        Call::LabelChat { label, chat, add } => {
            let (on, off) = match add {
                true => (vec![chat], vec![]),
                false => (vec![], vec![chat]),
            };
            let by_id = match label.bytes().all(|b| b.is_ascii_digit()) {
                true => Some(core.label_chats(id, &label, &on, &off).await),
                false => None,
            };
            let done = match by_id {
                Some(Err(CoreError::NotFound {
                    code: "label_not_found",
                    ..
                }))
                | None => {
                    let all = core.labels(id).await?.labels;
                    match all.iter().find(|l| l.name == label) {
                        Some(l) => core.label_chats(id, &l.id, &on, &off).await,
                        None => Err(CoreError::NotFound {
                            code: "label_not_found",
                            message: format!("no label {label}"),
                        }),
                    }
                }
                Some(r) => r,
            };
            match done {
                Ok(_) => json!(true),
                Err(CoreError::NotFound { .. }) => json!(false),
                Err(e) => return Err(e.into()),
            }
        }
        Call::ChatsByLabel(name) => {
            let all = core.labels(id).await?.labels;
            match all.iter().find(|l| l.name.eq_ignore_ascii_case(&name)) {
                None => json!([]),
                Some(l) => {
                    let mut on = core.chats(id).await?;
                    on.retain(|c| c.labels.contains(&l.id));
                    json!(as_chats(core, id, on).await)
                }
            }
        }
        Call::AutoReject { message } => {
            let policy = crate::domain::CallPolicy {
                reject: true,
                message,
            };
            core.set_call_policy(id, Some(policy)).await?;
            json!(true)
        }
        // As open-wa: false where WhatsApp refuses (a business account's
        // name, a picture it does not take).
        Call::Profile(edit) => match core.edit_my_profile(id, &edit).await {
            Ok(_) => json!(true),
            Err(CoreError::WhatsApp(_))
            | Err(CoreError::Conflict {
                code: "name_not_settable",
                ..
            }) => json!(false),
            Err(e) => return Err(e.into()),
        },
        // As open-wa: false for a chat this account does not have, and for
        // a fourth pin.
        Call::ChatState { chat, change } => match core.edit_chat(id, &chat, &change).await {
            Ok(_) => json!(true),
            Err(CoreError::NotFound {
                code: "chat_not_found",
                ..
            }) => json!(false),
            Err(CoreError::Conflict {
                code: "pin_limit_reached",
                ..
            }) => json!(false),
            Err(e) => return Err(e.into()),
        },
        // As open-wa: true once every one is taken down.
        Call::DeleteStatus(ids) => {
            let mut all = true;
            for m in &ids {
                all &= core.revoke_status(id, m).await.is_ok();
            }
            json!(all)
        }
        Call::Delete {
            messages,
            only_local,
        } => {
            // As open-wa's smartDeleteMessages: for everyone where WhatsApp
            // allows it, else for this account only; one it does not know
            // is passed over; true when done.
            for m in &messages {
                let done = match only_local {
                    true => core.delete_for_me(id, m).await,
                    false => match core.revoke(id, m).await {
                        Err(CoreError::Conflict {
                            code: "not_own_message" | "revoke_window_passed",
                            ..
                        }) => core.delete_for_me(id, m).await,
                        r => r,
                    },
                };
                match done {
                    Err(CoreError::NotFound {
                        code: "message_not_found",
                        ..
                    }) => {}
                    r => r?,
                }
            }
            json!(true)
        }
        Call::Star { message, on } => {
            core.star(id, &message, on).await?;
            json!(true)
        }
        // All of them, newest first, as far as a bot may want (the pages
        // follow one another up to STARRED_MAX).
        Call::GetStarredMessages(chat) => {
            let mut all: Vec<crate::domain::Message> = vec![];
            let mut before: Option<String> = None;
            // Well inside the request's own bound: what was read is answered.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let page = match core
                    .starred_messages(id, chat.as_ref(), before.as_deref(), 200)
                    .await
                {
                    Ok(page) => page,
                    // A page's start unstarred meanwhile: what was read.
                    Err(_) if before.is_some() => break,
                    Err(e) => return Err(e.into()),
                };
                // Each once, should a page start over.
                for m in page.messages {
                    if !all.iter().any(|a| a.id == m.id) {
                        all.push(m);
                    }
                }
                if !page.more
                    || page.last.is_none()
                    || page.last == before
                    || all.len() >= STARRED_MAX
                    || std::time::Instant::now() > until
                {
                    break;
                }
                before = page.last;
            }
            json!(all.into_iter().map(message).collect::<Vec<_>>())
        }
        Call::Receipts { message, readers } => match core.receipts(id, &message).await {
            Ok(r) if readers => json!(cv::readers(&r)),
            Ok(r) => cv::message_info(&message, &r),
            // As open-wa: no readers of a message there is none of.
            Err(CoreError::NotFound {
                code: "message_not_found",
                ..
            }) if readers => json!([]),
            Err(e) => return Err(e.into()),
        },
        Call::Pin {
            message,
            on,
            duration,
        } => {
            core.pin(id, &message, on, duration).await?;
            json!(true)
        }
        // As open-wa: false for a chat the account does not have; a
        // cleared chat keeps its starred messages.
        Call::ClearChat { chat, delete } => match core.clear_chat(id, &chat, delete, true).await {
            Ok(_) => json!(true),
            Err(CoreError::NotFound {
                code: "chat_not_found",
                ..
            }) => json!(false),
            Err(e) => return Err(e.into()),
        },
        // The store's newest of ours (in any chat: not a status), looked
        // for back to MY_LAST_LOOKED messages; none: `undefined` (null), as
        // open-wa.
        Call::MyLastMessage(chat) => {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let (mut looked, mut before, mut mine) = (0, None, None);
            while mine.is_none() && looked < MY_LAST_LOOKED && std::time::Instant::now() < until {
                let page = core
                    .stored_messages(id, chat.as_ref(), 500, before.as_deref())
                    .await?;
                looked += page.messages.len();
                mine = page
                    .messages
                    .into_iter()
                    .find(|m| m.from_me && (chat.is_some() || m.chat != "status@broadcast"));
                match page.next {
                    Some(next) => before = Some(next),
                    None => break,
                }
            }
            mine.map(message).unwrap_or(Value::Null)
        }
        Call::GetPollData(m) => {
            let msg = core.message(id, &m).await?;
            let Some(poll) = &msg.poll else {
                return Err(EasyError::bad_args(format!("message {m} is not a poll")));
            };
            cv::poll_data(&json!({"poll": poll, "message": msg.id, "chat": msg.chat}))
        }
        // A message this account does not have: false, as open-wa.
        Call::GetMessageById(m) => match core.message(id, &m).await {
            Ok(m) => message(m),
            Err(CoreError::NotFound { .. }) => json!(false),
            Err(e) => return Err(e.into()),
        },
        // As open-wa: `data:<mimetype>;base64,...`; NOT_MEDIA for a message
        // with none.
        Call::DecryptMedia(m) => match core.media(id, &m).await {
            Ok((info, bytes)) => json!(cv::data_url(info.mimetype.as_deref(), &bytes)),
            Err(CoreError::NotFound {
                code: "no_media", ..
            }) => {
                return Err(EasyError::new(
                    StatusCode::OK,
                    "NOT_MEDIA",
                    format!("message {m} has no media"),
                ));
            }
            Err(e) => return Err(e.into()),
        },
        Call::GetAllMessagesInChat { chat, include_me } => {
            messages(in_chat(st, id, &chat, include_me).await?)
        }
        Call::LoadEarlier { chat, all } => {
            // Batches, each older than the last (each oldest first).
            let mut batches = vec![];
            let mut count = 0;
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let batch =
                    load_earlier(st, id, &chat, if all { 500 } else { EARLIER_BATCH }).await?;
                let done = batch.is_empty();
                count += batch.len();
                batches.push(batch);
                if !all || done || count >= SHOWN_MAX || std::time::Instant::now() > until {
                    break;
                }
            }
            messages(batches.into_iter().rev().flatten().collect())
        }
        // As open-wa's: true once the chat's history reaches back to
        // `till`, its start, or what 60 s of loading bring.
        Call::LoadTill { chat, till } => {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut count = 0;
            // What getAllMessagesInChat shows may reach back already.
            let oldest = match loaded(st, id, &chat) {
                Some((_, at)) => Some(at),
                None => in_chat(st, id, &chat, true).await?.first().map(|m| m.timestamp),
            };
            let mut reached = oldest.is_some_and(|at| at <= till);
            while !reached && count < SHOWN_MAX && std::time::Instant::now() < until {
                let batch = load_earlier(st, id, &chat, 500).await?;
                count += batch.len();
                reached = batch.first().is_none_or(|m| m.timestamp <= till);
            }
            json!(true)
        }
        Call::LoadAndGetAll { chat, include_me } => {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut count = 0;
            loop {
                let n = load_earlier(st, id, &chat, 500).await?.len();
                count += n;
                if n == 0 || count >= SHOWN_MAX || std::time::Instant::now() > until {
                    break;
                }
            }
            messages(in_chat(st, id, &chat, include_me).await?)
        }
        Call::GetAllChats { unread_only } => json!(chats(core, id, unread_only, false).await?),
        Call::GetAllGroups { unread_only } => json!(chats(core, id, unread_only, true).await?),
        Call::GetChatById(who) => chat_by_id(core, id, &who).await?,
        Call::GetAllChatIds => json!(
            core.chats(id)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        ),
        // As open-wa: each unread chat's last `unread` messages.
        Call::GetAllUnreadMessages => json!(
            unread(core, id)
                .await?
                .into_iter()
                .flat_map(|(_, ms)| ms.into_iter().map(&message))
                .collect::<Vec<_>>()
        ),
        // Near open-wa's, which gives what WhatsApp Web marked new in the
        // chats with unread messages: what came in, unread.
        Call::GetAllNewMessages => json!(
            unread(core, id)
                .await?
                .into_iter()
                .flat_map(|(_, ms)| ms.into_iter().filter(|m| !m.from_me).map(&message))
                .collect::<Vec<_>>()
        ),
        // As open-wa's: the person of each chat (not a group's) whom the
        // address book does not hold.
        Call::ChatsWithNonContacts => json!(cv::contacts(&core.strangers_with_chats(id).await?)),
        // As open-wa: the chats, each with its unread `messages`; the ones
        // left with none are left out.
        Call::GetUnreadMessages { include_me } => {
            let (chats, lists): (Vec<_>, Vec<_>) = unread(core, id)
                .await?
                .into_iter()
                .map(|(c, ms)| {
                    (
                        c,
                        ms.into_iter()
                            .filter(|m| include_me || !m.from_me)
                            .collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, ms)| !ms.is_empty())
                .unzip();
            let shown = as_chats(core, id, chats).await;
            json!(
                shown
                    .into_iter()
                    .zip(lists)
                    .map(|(mut c, ms)| {
                        c["messages"] = messages(ms);
                        c
                    })
                    .collect::<Vec<_>>()
            )
        }
        // True once every unread chat is marked read.
        Call::MarkAllRead => {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut all = true;
            for c in core.chats(id).await?.into_iter().filter(|c| c.unread > 0) {
                if std::time::Instant::now() > until {
                    all = false;
                    break;
                }
                if let Ok(chat) = Wid::parse(&c.id) {
                    all &= core.mark_read(id, &chat).await.is_ok();
                }
            }
            json!(all)
        }
        // As open-wa's: the group's title and description.
        Call::GroupInfo(group) => {
            let g = core.group(id, &group).await?;
            json!({"title": g.subject, "description": g.description})
        }
        // WhatsApp Web tells, group by group: it knows this account by its
        // privacy id too, which a group may list it by. Well inside the
        // request's own bound, whatever the number of groups.
        Call::IAmAdmin => {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut mine = vec![];
            for g in core.groups(id).await? {
                if std::time::Instant::now() > until {
                    break;
                }
                if let Ok(gid) = Wid::parse(&g.id)
                    && core.i_am_admin(id, &gid).await.unwrap_or(false)
                {
                    mine.push(g.id);
                }
            }
            json!(mine)
        }
        // As open-wa's: `[{id, title}]`. The person as a group may list
        // them: by number or by privacy id.
        Call::CommonGroups(who) => {
            let mut ids = vec![who.as_str().to_string()];
            if let Ok(pair) = core.lid_and_phone(id, &who).await {
                ids.extend(pair["lid"].as_str().map(String::from));
                ids.extend(pair["phone"].as_str().map(|p| format!("{p}@c.us")));
            }
            let groups = core.groups(id).await?;
            json!(
                groups
                    .iter()
                    .filter(|g| g
                        .participants
                        .iter()
                        .any(|p| { ids.contains(&p.id) || ids.contains(&cv::participant_id(p)) }))
                    .map(|g| json!({"id": g.id, "title": g.subject}))
                    .collect::<Vec<_>>()
            )
        }
        Call::GroupAdmins(group) => {
            let g = core.group(id, &group).await?;
            json!(
                g.participants
                    .iter()
                    .filter(|p| p.admin || p.super_admin)
                    .map(cv::participant_id)
                    .collect::<Vec<_>>()
            )
        }
        Call::GetAllContacts => json!(cv::contacts(&core.contacts(id, false).await?)),
        Call::GetContact(who) => cv::contact_of(core.known_contact(id, &who).await?.as_ref()),
        Call::CheckNumberStatus(who) => {
            cv::number_check(&who, core.contact(id, &who).await?.as_deref())
        }
        Call::ProfilePicture(who) => core.profile(id, &who).await?["picture_url"].clone(),
        // As open-wa's: `{id, indicatedNewMessages}`, not ours.
        Call::GetIndicatedNewMessages => json!(
            unread(core, id)
                .await?
                .into_iter()
                .map(|(c, ms)| json!({
                    "id": c.id,
                    "indicatedNewMessages": messages(ms.into_iter().filter(|m| !m.from_me).collect()),
                }))
                .collect::<Vec<_>>()
        ),
        Call::LastMessageTimes => json!(
            core.chats(id)
                .await?
                .into_iter()
                .filter_map(|c| Some(json!({"id": c.id, "t": c.timestamp?.saturating_mul(1000)})))
                .collect::<Vec<_>>()
        ),
        Call::IsChatMuted(chat) => {
            let now = crate::domain::now_ms() / 1000;
            let muted = one_chat(core, id, &chat).await?.is_some_and(
                |c| c.muted_until.is_some_and(|t| t == -1 || t > now),
            );
            json!(muted)
        }
        // As open-wa's: each card with the name it shows; false for a
        // message that is not one.
        Call::GetVCards(m) => match core.message(id, &m).await {
            Ok(m) => match m.vcards {
                Some(cards) if !cards.is_empty() => json!(
                    cards
                        .iter()
                        .map(|v| json!({"displayName": cv::card_name(v), "vcard": v}))
                        .collect::<Vec<_>>()
                ),
                _ => json!(false),
            },
            Err(CoreError::NotFound { .. }) => json!(false),
            Err(e) => return Err(e.into()),
        },
        // True once every chat is cleared (starred messages stay, as
        // clearChat keeps them). Well inside the request's own bound.
        Call::ClearAllChats { till } => {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut all = true;
            for c in core.chats(id).await? {
                if till.is_some_and(|t| c.timestamp.is_some_and(|at| at > t)) {
                    continue;
                }
                let Ok(chat) = Wid::parse(&c.id) else {
                    continue;
                };
                if std::time::Instant::now() > until {
                    all = false;
                    break;
                }
                // A chat gone meanwhile is no failure of the rest; one
                // WhatsApp refused makes the answer false; a key that may
                // not, or a session not ready, is the answer.
                match core.clear_chat(id, &chat, false, true).await {
                    Ok(_) | Err(CoreError::NotFound { .. }) => {}
                    Err(CoreError::WhatsApp(e)) => {
                        tracing::debug!(session = %id, "a chat not cleared: {e}");
                        all = false;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            json!(all)
        }
        Call::MyStatuses => messages(my_statuses(core, id).await?),
        Call::DeleteAllStatuses => {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut all = true;
            for m in my_statuses(core, id).await? {
                if std::time::Instant::now() > until {
                    all = false;
                    break;
                }
                match core.revoke_status(id, &m.id).await {
                    Ok(()) | Err(CoreError::NotFound { .. }) => {}
                    Err(CoreError::WhatsApp(e)) => {
                        tracing::debug!(session = %id, "a status not taken down: {e}");
                        all = false;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            json!(all)
        }
        Call::BusinessProfile(who) => {
            cv::business_profile(&who, &core.profile(id, &who).await?["business"])
        }
        // A group has no presence of its own: false, as open-wa answers.
        Call::LastSeen(who) | Call::IsChatOnline(who) if who.is_group() => json!(false),
        Call::LastSeen(who) => match core.presence_of(id, &who).await?.last_seen {
            Some(t) => json!(t),
            None => json!(false),
        },
        Call::IsChatOnline(who) => json!(core.presence_of(id, &who).await?.online),
        Call::TagEveryone {
            group,
            content,
            hide_tags,
            formatting,
            before,
        } => {
            let g = core.group(id, &group).await?;
            let me = me(core, id).await?;
            let is_me = |p: &crate::session::Participant| {
                me.as_ref()
                    .is_some_and(|m| p.id == m.id || p.phone.as_deref() == Some(m.phone.as_str()))
            };
            let members: Vec<Wid> = g
                .participants
                .iter()
                .filter(|p| !is_me(p))
                .filter_map(|p| Wid::parse(&cv::participant_id(p)).ok())
                .collect();
            let text = easy::tag_everyone_text(
                &members,
                &content,
                hide_tags,
                formatting.as_deref(),
                before,
            );
            let req = crate::core::SendRequest {
                mentions: members,
                ..crate::core::SendRequest::text(group, text)
            };
            json!(core.send_with(id, req, None, Default::default()).await?.id)
        }
        Call::GetStatus(who) => {
            let about = core.profile(id, &who).await?["about"].clone();
            json!({"id": who.as_str(), "status": about.as_str().unwrap_or("")})
        }
        Call::Block { who, yes } => core.block(id, &who, yes).await.map(|_| json!(true))?,
        Call::GetAllCommunities => json!(
            core.communities(id)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        ),
        // The new groups made first (with their picture and disappearing
        // messages), then the community with every group linked, then its
        // picture. open-wa answers the community's id.
        Call::CreateCommunity {
            name,
            description,
            icon,
            existing,
            new_groups,
        } => {
            let new = crate::core::NewCommunity {
                name,
                description,
                picture: icon,
                groups: existing,
                new_groups: new_groups
                    .into_iter()
                    .map(|g| crate::core::NewGroup {
                        subject: g.subject,
                        picture: g.icon,
                        ephemeral: g.ephemeral,
                    })
                    .collect(),
            };
            // open-wa answers the id alone: what WhatsApp did not take is
            // only logged (counted: the warnings name the groups).
            let made = core.create_community(id, &new).await?;
            if !made.failed.is_empty() || !made.warnings.is_empty() {
                tracing::warn!(session = %id, community = %made.community.id, not_linked = made.failed.len(),
                               not_taken = made.warnings.len(), "community made, not all as asked");
                tracing::debug!(session = %id, warnings = ?made.warnings, "community made, not all as asked");
            }
            json!(made.community.id)
        }
        Call::CommunityInfo(community) => {
            let (c, groups) = community_groups(core, id, &community).await?;
            cv::community_metadata(&c, &groups)
        }
        Call::CommunityMembers {
            community,
            admins_only,
            ids_only,
        } => {
            let (c, groups) = community_groups(core, id, &community).await?;
            let own = crate::core::GroupInfo {
                id: c.id.clone(),
                participants: c.participants.unwrap_or_default(),
                ..Default::default()
            };
            // The community first, then its linked groups (its announcement
            // group holds the community's members again, so is left out).
            let all = std::iter::once((&own, false)).chain(
                groups
                    .iter()
                    .filter(|g| !g.community_announcements)
                    .map(|g| (g, true)),
            );
            json!(all.map(|(g, subgroup)| cv::community_members(g, subgroup, admins_only, ids_only)).collect::<Vec<_>>())
        }
        Call::GroupMembers { group, ids_only } => {
            let g = core.group(id, &group).await?;
            match ids_only {
                true => json!(
                    g.participants
                        .iter()
                        .map(cv::participant_id)
                        .collect::<Vec<_>>()
                ),
                false => {
                    // Each a Contact, as open-wa's getContact gives it: the
                    // address book's names, and this account as `isMe`. (The
                    // book unreadable now: the members by their ids.)
                    let known = core.contacts(id, false).await.unwrap_or_default();
                    let mut mine: Vec<String> = me(core, id).await?.map(|m| m.id).into_iter().collect();
                    // A group that lists its members by privacy id lists
                    // this account by its own, which WhatsApp Web knows.
                    let by_lid = g.participants.iter().any(|p| cv::participant_id(p).ends_with("@lid"));
                    if let (true, Some(phone)) = (by_lid, mine.first().and_then(|m| Wid::parse(m).ok())) {
                        let pair = core.lid_and_phone(id, &phone).await.unwrap_or_default();
                        mine.extend(pair["lid"].as_str().map(String::from));
                    }
                    json!(cv::members(&g, &known, &mine))
                }
            }
        }
        Call::CreateGroup { name, contacts } => {
            cv::group_created(&core.create_group(id, &name, &contacts).await?, &contacts)
        }
        // As open-wa: true, or its AddParticipantError naming those not
        // added (one already in among them) with WhatsApp's codes.
        Call::Participants { group, change } => {
            let after = core.group_participants(id, &group, &change).await?;
            let already = after.adds.iter().filter(|o| o.code == Some(409));
            let codes: serde_json::Map<String, Value> = already
                .chain(after.not_added())
                .map(|o| (o.id.clone(), json!(o.code)))
                .collect();
            if !codes.is_empty() {
                return Err(EasyError::not_added(codes));
            }
            json!(true)
        }
        // Of a chat that is no group: false, as open-wa.
        Call::InviteLink(chat) if !chat.as_str().ends_with("@g.us") => json!(false),
        Call::InviteLink(group) => json!(format!(
            "{INVITE_PREFIX}{}",
            core.group_invite(id, &group).await?
        )),
        Call::JoinRequests(group) => {
            let list = core.join_requests(id, &group).await?;
            json!(list.into_iter().map(|r| r.id).collect::<Vec<_>>())
        }
        // As open-wa: true once done, false where WhatsApp refused it.
        Call::AnswerJoinRequest {
            group,
            who,
            approve,
        } => {
            let (yes, no) = match approve {
                true => (vec![who], vec![]),
                false => (vec![], vec![who]),
            };
            let done = core.answer_join_requests(id, &group, &yes, &no).await?;
            json!(!done.approved.is_empty() || !done.rejected.is_empty())
        }
        Call::RevokeInvite(chat) if !chat.as_str().ends_with("@g.us") => json!(false),
        Call::RevokeInvite(group) => core
            .revoke_group_invite(id, &group)
            .await
            .map(|_| json!(true))?,
        // The group as the invite shows it (open-wa hands on WhatsApp's).
        // An invite that is not valid answers WhatsApp's status, as
        // open-wa's do: 404.
        Call::InviteInfo(code) => match core.invite_info(id, &code).await {
            Ok(g) => {
                let mut v = cv::group_metadata(&g);
                v["size"] = json!(g.size.unwrap_or(g.participants.len()));
                v
            }
            Err(CoreError::NotFound {
                code: "invite_not_found",
                ..
            }) => json!(404),
            Err(e) => return Err(e.into()),
        },
        Call::JoinGroup { link, chat } => {
            let (gid, pending) = match core.join_group(id, &link).await {
                Ok(joined) => joined,
                Err(CoreError::NotFound {
                    code: "invite_not_found",
                    ..
                }) => return Ok(Json(easy::success(json!(404)))),
                Err(e) => return Err(e.into()),
            };
            // Joined: a chat that cannot be read (a key that may only
            // send) is answered by the group's id, not an error. Only
            // asked to join: the group's id, there is no chat of it yet.
            match chat && !pending {
                true => chat_by_id(core, id, &gid)
                    .await
                    .unwrap_or_else(|_| json!(gid.as_str())),
                false => json!(gid.as_str()),
            }
        }
        Call::EditGroup { group, edit } => core
            .edit_group(id, &group, &edit)
            .await
            .map(|_| json!(true))?,
        Call::LeaveGroup(group) => core.leave_group(id, &group).await.map(|_| json!(true))?,
        Call::SetGroupIconByUrl {
            group,
            url,
            headers,
        } => {
            let picture = core.fetch_image(id, &url, &headers).await?;
            let edit = crate::core::GroupEdit {
                picture: Some(Some(picture)),
                ..Default::default()
            };
            core.edit_group(id, &group, &edit)
                .await
                .map(|_| json!(true))?
        }
        Call::GetHostNumber => {
            json!(me(core, id).await?.map(|m| m.phone).unwrap_or_default())
        }
        Call::GetConnectionState => json!(cv::state(core.session(id).await?.status())),
        Call::IsConnected => json!(core.session(id).await?.status() == Status::Connected),
        Call::GetMe => cv::me(&core.session(id).await?),
        Call::Logout => core.logout(id).await.map(|_| json!(true))?,
        Call::Kill => core.stop(id).await.map(|_| json!(true))?,
        Call::Refresh => core.restart(id).await.map(|_| json!(true))?,
        Call::ForceRefocus => match core.session(id).await?.status() {
            Status::Connected => json!(true),
            Status::Disconnected => core.restart(id).await.map(|_| json!(true))?,
            // Not linked, or not running: nothing to take back.
            _ => json!(false),
        },
        Call::HealthCheck => cv::health(core.session(id).await?.status()),
        // As open-wa's Webhook: the listeners served (one no event brings
        // here is left out; none at all is refused).
        Call::RegisterWebhook {
            url,
            listeners,
            headers,
        } => {
            let (events, served) = cv::listener_events(&listeners);
            if events.is_empty() {
                return Err(no_listener(&listeners));
            }
            let mut hook = Webhook::subscriber(url, Format::Openwa, &[]);
            hook.events = events;
            hook.headers = headers;
            let kept = core
                .register_webhook(id, hook, cv::listeners_meta(&served))
                .await?;
            cv::registered_hook(id, &kept, crate::domain::now_ms())
        }
        Call::ListWebhooks => json!(
            openwa_hooks(core, id)
                .await?
                .iter()
                .map(|h| cv::registered_hook(id, h, 0))
                .collect::<Vec<_>>()
        ),
        Call::RemoveWebhook(hook) => {
            let gone = core
                .remove_webhooks(id, |h| is_registered(id, h, &hook))
                .await?;
            json!(gone > 0)
        }
        // Its listeners become these; `false` for no such webhook.
        Call::UpdateWebhook {
            id: hook,
            listeners,
        } => {
            let (events, served) = cv::listener_events(&listeners);
            if events.is_empty() {
                return Err(no_listener(&listeners));
            }
            match core
                .set_webhook_events(
                    id,
                    |h| is_registered(id, h, &hook),
                    events,
                    cv::listeners_meta(&served),
                )
                .await?
            {
                Some(h) => cv::registered_hook(id, &h, crate::domain::now_ms()),
                None => json!(false),
            }
        }
        Call::GetAmountOfLoadedMessages => json!(core.page_messages(id).await?),
        // open-wa answers true; what went is in the daemon's debug log.
        Call::CutMsgCache => core.trim_page_messages(id).await.map(|_| json!(true))?,
        // As open-wa's: what WhatsApp Web held before and after (its chats
        // are not let go of: the daemon keeps none of them in memory).
        Call::CutChatCache => {
            let t = core.trim_page_messages(id).await?;
            let chats = core.chats(id).await?.len();
            json!({
                "before": {"msgs": t.left + t.removed, "chats": chats},
                "after": {"msgs": t.left, "chats": chats},
            })
        }
        Call::GetUnsentMessages => json!(
            core.unsent(id)
                .await?
                .into_iter()
                .map(&message)
                .collect::<Vec<_>>()
        ),
        // true, false, or open-wa's string saying why it cannot tell.
        Call::CheckReadReceipts(contact) => match core.read_receipts(id, &contact).await? {
            ReadReceipts::On => json!(true),
            ReadReceipts::Off => json!(false),
            ReadReceipts::Unknown(why) => json!(why),
        },
        // open-wa waits for its queue; a call here waits a minute at most.
        Call::WaitDeliveries => json!(
            core.deliveries_idle(id, std::time::Duration::from_secs(60))
                .await?
        ),
        Call::Answer(b) => {
            core.session(id).await?;
            json!(b)
        }
        Call::PhoneDisconnected => cv::health(core.session(id).await?.status())["isPhoneDisconnected"].clone(),
        // As open-wa's: the build WhatsApp Web says it is (`Debug.VERSION`).
        Call::GetWaVersion => {
            let v = core.session(id).await?;
            match v.live.and_then(|l| l.versions).map(|v| v["wa_web"].clone()) {
                Some(Value::String(build)) => json!(build),
                _ => {
                    return Err(EasyError::new(
                        StatusCode::OK,
                        "STATE_ERROR",
                        "the session's WhatsApp Web has not said its build yet",
                    ));
                }
            }
        }
        Call::Deprecated => json!("DEPRECATED"),
    };
    Ok(Json(easy::success(response)))
}

/// getMyLastMessage looks this far back in the stored history.
const MY_LAST_LOOKED: usize = 20_000;

/// getStarredMessages gives at most this many.
const STARRED_MAX: usize = 1000;

/// getAllMessagesInChat: the newest this many (open-wa gives what WhatsApp
/// Web has loaded of the chat).
const CHAT_MESSAGES: usize = 100;

/// This account, once linked.
/// The session's webhooks in open-wa's format.
async fn openwa_hooks(core: &Core, id: &SessionId) -> Result<Vec<Webhook>, CoreError> {
    let mut hooks = core.session(id).await?.record.webhooks;
    hooks.retain(|h| h.format == Format::Openwa);
    Ok(hooks)
}

/// Whether `h` is the open-wa webhook of this id.
fn is_registered(session: &SessionId, h: &Webhook, id: &str) -> bool {
    h.format == Format::Openwa && cv::hook_id(session, &h.url) == id
}

fn no_listener(asked: &[String]) -> EasyError {
    let served: Vec<&str> = cv::LISTENERS.iter().map(|(n, _)| *n).collect();
    EasyError::bad_args(format!(
        "none of {asked:?} is served as a webhook here; these are: {}, or 'all'",
        served.join(", ")
    ))
}

async fn me(core: &Core, id: &SessionId) -> Result<Option<Me>, CoreError> {
    let v = core.session(id).await?;
    Ok(v.live
        .as_ref()
        .and_then(|l| l.me.clone())
        .or(v.record.me.clone()))
}

/// This account's statuses of the last 24 hours (WhatsApp keeps them no
/// longer), newest first, among the contacts' in the status chat: paged
/// back to a day ago, or [`SHOWN_MAX`] looked at.
async fn my_statuses(
    core: &Core,
    id: &SessionId,
) -> Result<Vec<crate::domain::Message>, CoreError> {
    let status = Wid::parse_recipient(Wid::STATUS).expect("a valid id");
    let since = crate::domain::now_ms() / 1000 - 86_400;
    let (mut mine, mut looked, mut before) = (vec![], 0, None::<Vec<u8>>);
    loop {
        let page = core
            .stored_messages(id, Some(&status), 500, before.as_deref())
            .await?;
        looked += page.messages.len();
        let older = page.messages.iter().any(|m| m.timestamp <= since);
        mine.extend(
            page.messages
                .into_iter()
                .filter(|m| m.from_me && !m.revoked && m.timestamp > since),
        );
        match page.next {
            Some(next) if !older && looked < SHOWN_MAX => before = Some(next),
            _ => return Ok(mine),
        }
    }
}

/// Each chat with unread messages, with its newest `unread` of them (oldest
/// first). Well inside the request's own bound, whatever the number of
/// chats; a chat that cannot be read is left out, not the rest.
async fn unread(
    core: &Core,
    id: &SessionId,
) -> Result<Vec<(crate::session::ChatInfo, Vec<crate::domain::Message>)>, CoreError> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut unread = vec![];
    for c in core.chats(id).await?.into_iter().filter(|c| c.unread > 0) {
        let Ok(chat) = Wid::parse(&c.id) else {
            continue;
        };
        let n = usize::try_from(c.unread)
            .unwrap_or(usize::MAX)
            .min(CHAT_MESSAGES);
        match core.messages(id, Some(&chat), n, None).await {
            Ok(page) => unread.push((c, page.messages.into_iter().rev().collect())),
            Err(e) => tracing::debug!(session = %id, "unread of a chat not read: {e}"),
        }
        if std::time::Instant::now() > until {
            break;
        }
    }
    Ok(unread)
}

/// A community with its groups' details: its announcement group first,
/// then the linked groups this account is in.
async fn community_groups(
    core: &Core,
    id: &SessionId,
    community: &Wid,
) -> Result<(crate::core::Community, Vec<crate::core::GroupInfo>), CoreError> {
    let c = core.community(id, community).await?;
    let mut groups = vec![];
    let ids = c
        .announcement_group
        .iter()
        .chain(c.groups.iter().map(|g| &g.id));
    for gid in ids {
        if let Ok(w) = Wid::parse(gid) {
            groups.push(core.group(id, &w).await?);
        }
    }
    Ok((c, groups))
}

/// The chats (`groups`: only groups), a group with its metadata. A group's
/// details that cannot be read leave its metadata out, not the list.
async fn chats(
    core: &Core,
    id: &SessionId,
    unread_only: bool,
    groups: bool,
) -> Result<Vec<Value>, CoreError> {
    let chats: Vec<_> = core
        .chats(id)
        .await?
        .into_iter()
        .filter(|c| !unread_only || c.unread > 0)
        .filter(|c| !groups || c.id.ends_with("@g.us"))
        .collect();
    Ok(as_chats(core, id, chats).await)
}

/// Chats as open-wa's, a group's with its metadata.
async fn as_chats(core: &Core, id: &SessionId, chats: Vec<crate::session::ChatInfo>) -> Vec<Value> {
    let details = match chats.iter().any(|c| c.id.ends_with("@g.us")) {
        true => core.groups(id).await.unwrap_or_default(),
        false => vec![],
    };
    chats
        .iter()
        .map(|c| match c.id.ends_with("@g.us") {
            true => cv::group_chat(c, details.iter().find(|g| g.id == c.id)),
            false => cv::chat(c),
        })
        .collect()
}

/// getChatById: the chat, or false when this account has none with `who`.
async fn chat_by_id(core: &Core, id: &SessionId, who: &Wid) -> Result<Value, CoreError> {
    let Some(c) = one_chat(core, id, who).await? else {
        // A group just joined may not be among the chats yet.
        if who.as_str().ends_with("@g.us")
            && let Ok(g) = core.group(id, who).await
        {
            return Ok(cv::group_as_chat(&g));
        }
        return Ok(json!(false));
    };
    Ok(match who.as_str().ends_with("@g.us") {
        true => cv::group_chat(&c, core.group(id, who).await.ok().as_ref()),
        false => cv::chat(&c),
    })
}

/// One chat, read alone (a bot asks for the chat of each message); None
/// where this account has none with `who`.
async fn one_chat(
    core: &Core,
    id: &SessionId,
    who: &Wid,
) -> Result<Option<crate::session::ChatInfo>, CoreError> {
    match core.chat(id, who, false).await {
        Ok((c, _)) => Ok(Some(c)),
        Err(CoreError::NotFound {
            code: "chat_not_found",
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How many older messages one loadEarlierMessages brings, as open-wa's.
const EARLIER_BATCH: usize = 50;

/// The messages getAllMessagesInChat shows: the newest 100 stored, or
/// back to the oldest loadEarlierMessages brought; oldest first, as
/// WhatsApp Web's chat holds them. The store's alone: reading is no
/// reason to load more from WhatsApp Web.
async fn in_chat(
    st: &OpenWa,
    id: &SessionId,
    chat: &Wid,
    include_me: bool,
) -> Result<Vec<crate::domain::Message>, CoreError> {
    let mut shown = vec![];
    match loaded(st, id, chat) {
        None => {
            shown = st
                .core
                .stored_messages(id, Some(chat), CHAT_MESSAGES, None)
                .await?
                .messages
        }
        // Page back to it (new messages may have come since); by time too,
        // should it have been deleted meanwhile.
        Some((oldest, at)) => {
            let mut before: Option<Vec<u8>> = None;
            'pages: loop {
                let page = st
                    .core
                    .stored_messages(id, Some(chat), 500, before.as_deref())
                    .await?;
                for m in page.messages {
                    if m.timestamp < at {
                        break 'pages;
                    }
                    let last = m.id == oldest;
                    shown.push(m);
                    if last || shown.len() >= SHOWN_MAX {
                        break 'pages;
                    }
                }
                match page.next {
                    Some(n) => before = Some(n),
                    None => break,
                }
            }
        }
    }
    Ok(shown
        .into_iter()
        .rev()
        .filter(|m| include_me || !m.from_me)
        .collect())
}

/// sendContact's cards (those left unnamed: a vCard's keep the caller's
/// name) named as WhatsApp Web names a contact's own card: by the address
/// book's name where the contact is saved, by their number else (or where
/// the page cannot be asked).
async fn own_cards_named(core: &Core, id: &SessionId, cards: &mut [crate::core::CardOf]) {
    for card in cards.iter_mut().filter(|c| c.name.is_empty()) {
        card.name = match core.known_contact(id, &card.id).await {
            Ok(Some(c)) => c.name.filter(|n| !n.trim().is_empty()),
            _ => None,
        }
        .unwrap_or_else(|| format!("+{}", card.id.phone().unwrap_or_default()));
    }
}

/// How far back getAllMessagesInChat and loadAllEarlierMessages go.
const SHOWN_MAX: usize = 20_000;

fn loaded(st: &OpenWa, id: &SessionId, chat: &Wid) -> Option<(String, i64)> {
    let key = (id.clone(), chat.as_str().to_string());
    st.loaded.lock().ok()?.get(&key).cloned()
}

/// Up to `n` messages older than getAllMessagesInChat shows, oldest first
/// (from WhatsApp Web, once the store has none older); from then on it
/// shows them too. None older: empty, the chat's start as WhatsApp Web
/// holds it. A page that cannot be asked now is no answer (STATE_ERROR), not
/// the start: a bot's `while ((await loadEarlierMessages(id)).length)` would
/// stop short.
async fn load_earlier(
    st: &OpenWa,
    id: &SessionId,
    chat: &Wid,
    n: usize,
) -> Result<Vec<crate::domain::Message>, CoreError> {
    let oldest = match loaded(st, id, chat) {
        Some(o) => Some(o),
        // Where getAllMessagesInChat's page ends; none stored (a chat
        // with no message since the link): from WhatsApp Web's newest.
        None => st
            .core
            .stored_messages(id, Some(chat), CHAT_MESSAGES, None)
            .await?
            .messages
            .pop()
            .map(|m| (m.id, m.timestamp)),
    };
    let cursor = match oldest {
        Some((oldest, at)) => match st.core.cursor_of(id, &oldest)? {
            Some(c) => Some(c),
            // That message left the history (deleted for this account):
            // on from its second (one or two of it may come again; none
            // older is passed over).
            None => Some(st.core.cursor_through(at)),
        },
        None => None,
    };
    let page = st
        .core
        .messages(id, Some(chat), n, cursor.as_deref())
        .await?;
    if page.messages.is_empty() {
        // WhatsApp Web was not asked: not up, or its catch-up still
        // running (history is loaded only below what it stored).
        let v = st.core.session(id).await?;
        let asked = v.status() == crate::domain::Status::Connected
            && v.live.is_some_and(|l| l.stored_before.is_some());
        if !asked {
            return Err(CoreError::NotReady(format!(
                "session '{id}' is not connected with its history caught up: WhatsApp Web cannot be asked for older messages now"
            )));
        }
    }
    if let Some(m) = page.messages.last()
        && let Ok(mut all) = st.loaded.lock()
    {
        // Bounded: a bot paging through every chat of every session.
        if all.len() >= 10_000 {
            all.clear();
        }
        let key = (id.clone(), chat.as_str().to_string());
        // Two loads at once: the one that went further back stays.
        if all.get(&key).is_none_or(|(_, at)| m.timestamp <= *at) {
            all.insert(key, (m.id.clone(), m.timestamp));
        }
    }
    Ok(page.messages.into_iter().rev().collect())
}
