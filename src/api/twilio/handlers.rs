//! The Twilio routes: each a few lines over the core.

use super::Twilio;
use super::convert::{self as cv, Form, TwilioError};
use crate::api::auth::Caller;
use crate::api::body::{BodyError, RawBody};
use crate::core::CoreError;
use crate::domain::{Format, Message, SessionId, Webhook};
use crate::session::SessionView;
use axum::{
    Json,
    extract::{Path, RawQuery},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let secs = self.retry_after;
        crate::api::body::with_retry_after((self.status, Json(self.body())).into_response(), secs)
    }
}

fn me_of(v: &SessionView) -> Option<String> {
    v.live
        .as_ref()
        .and_then(|l| l.me.clone())
        .or(v.record.me.clone())
        .map(|m| m.phone)
}

/// The session a request means: the one whose number is `From` (a
/// connected one first: a stopped session may keep the same number), else
/// the one named by the AccountSid. Found among those the key may see, as
/// a key that may only send sees them (reading one needs `read`).
async fn session_for(
    st: &Twilio,
    account: &str,
    from: Option<&str>,
) -> Result<SessionView, TwilioError> {
    let sessions = st.core.sessions().await;
    if let Some(phone) = from {
        let mut numbered: Vec<SessionView> = sessions
            .into_iter()
            .filter(|v| me_of(v).as_deref() == Some(phone))
            .collect();
        numbered.sort_by_key(|v| v.status() != crate::domain::Status::Connected);
        return numbered.into_iter().next().ok_or_else(|| {
                TwilioError::new(
                    StatusCode::BAD_REQUEST,
                    cv::NO_SUCH_SENDER,
                    format!("Twilio could not find a Channel with the specified From address: whatsapp:+{phone} is no linked session's number"),
                )
            });
    }
    let id = SessionId::parse(account)
        .map_err(|_| TwilioError::not_found(&format!("/{}/Accounts/{account}", cv::API_VERSION)))?;
    match sessions.into_iter().find(|v| v.record.id == id) {
        Some(v) => Ok(v),
        // Not among them: none, or one the key may not see (told as the
        // core tells it).
        None => st.core.session(&id).await.map_err(|e| match e {
            CoreError::SessionNotFound(_) => TwilioError::not_found(&format!(
                "/{}/Accounts/{account} (no session '{account}'; or send From)",
                cv::API_VERSION
            )),
            e => e.into(),
        }),
    }
}

#[utoipa::path(post, path = "/2010-04-01/Accounts/{account}/Messages.json", tag = "twilio", summary = "Send a message (To, From, Body, MediaUrl, StatusCallback)", params(("account" = String, Path, description = "Account SID (the session id or AC...)")), request_body(content = Object, content_type = "application/x-www-form-urlencoded", description = "To=whatsapp:+1555...&Body=...&MediaUrl=...&StatusCallback=..."), responses((status = 201, description = "The Message resource", body = Object), (status = 401, description = "Twilio error 20003", body = Object), (status = 400, description = "Twilio error {code, message, more_info, status}", body = Object), (status = 404, description = "Twilio error 20404", body = Object), (status = 403, description = "Twilio error 20403", body = Object), (status = 409, description = "Twilio error 20409: not connected, or another conflict", body = Object), (status = 413, description = "Twilio error: too large", body = Object), (status = 429, description = "Twilio error 20429 (Retry-After)", body = Object), (status = 502, description = "Twilio error 30008", body = Object), (status = 503, description = "Twilio error 20503 (Retry-After)", body = Object)))]
pub async fn create(
    Caller(st): Caller<Twilio>,
    Path(account): Path<String>,
    headers: axum::http::HeaderMap,
    body: Result<RawBody, BodyError>,
) -> Result<Response, TwilioError> {
    let body = body
        .map_err(|e| match e {
            BodyError::TooLarge => TwilioError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                21617,
                "The request body is too large",
            ),
            _ => TwilioError::new(
                StatusCode::BAD_REQUEST,
                20001,
                "The request body could not be read",
            ),
        })?
        .0;
    let form = Form::parse(&body);
    let c = cv::create(&form)?;
    let body = form.get("Body").map(String::from);
    let has_media = c.request.media.is_some();
    let view = session_for(&st, &account, c.from.as_deref()).await?;
    let id = view.record.id.clone();
    // Refused before the send: after it, the client would send it again.
    if let Some(url) = &c.status_callback {
        st.core.may_reach("StatusCallback", url)?;
    }
    let sent = st.core.send(&id, c.request, None).await?;
    if let Some(url) = c.status_callback {
        let mut hook = Webhook::subscriber(url, Format::Twilio, &["message.ack"]);
        // Signed with the auth token this client holds (its RequestValidator
        // checks with it): the key it sent, a scoped one too.
        hook.secret = crate::api::auth::presented(&headers);
        hook.meta.insert("account".into(), account.clone());
        // The message went out: a callback that cannot be kept is logged,
        // not answered as an error (the client would send it again).
        if let Err(e) = st.core.status_callback(&id, &sent, hook).await {
            tracing::warn!(session = %id, "the status callback could not be kept: {e}");
        }
    }
    // The page reports its own sends a moment later: until the store has
    // it, the resource is what was sent.
    let msg = match st.core.message(&id, &sent.id).await {
        Ok(m) => m,
        Err(_) => cv::just_sent(&id, &sent, body.as_deref(), has_media),
    };
    let mut res = cv::resource(&account, &msg, me_of(&view).as_deref());
    // Twilio answers every create "queued" with no send date; what
    // happened next reaches the StatusCallback, which starts from the
    // current ack ("sent" at least), and a fetch.
    if cv::status(sent.ack.as_str()) != "failed" {
        res["status"] = json!("queued");
        res["date_sent"] = Value::Null;
    }
    Ok((StatusCode::CREATED, Json(res)).into_response())
}

#[utoipa::path(get, path = "/2010-04-01/Accounts/{account}/Messages.json", tag = "twilio", summary = "List messages, newest first, paged", params(("account" = String, Path, description = "Account SID"), ("To" = Option<String>, Query, description = "Filter by recipient"), ("From" = Option<String>, Query, description = "Filter by sender"), ("DateSent" = Option<String>, Query, description = "YYYY-MM-DD; also DateSent< and DateSent>"), ("PageSize" = Option<u32>, Query, description = "Up to 1000"), ("PageToken" = Option<String>, Query, description = "From next_page_uri")), responses((status = 200, description = "{messages, next_page_uri, ...}", body = Object), (status = 401, description = "Twilio error 20003", body = Object), (status = 400, description = "Twilio error {code, message, more_info, status}", body = Object), (status = 404, description = "Twilio error 20404", body = Object), (status = 403, description = "Twilio error 20403", body = Object), (status = 409, description = "Twilio error 20409: not connected, or another conflict", body = Object), (status = 413, description = "Twilio error: too large", body = Object), (status = 429, description = "Twilio error 20429 (Retry-After)", body = Object), (status = 502, description = "Twilio error 30008", body = Object), (status = 503, description = "Twilio error 20503 (Retry-After)", body = Object)))]
pub async fn list(
    Caller(st): Caller<Twilio>,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, TwilioError> {
    let q: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let filter = cv::Filter::parse(&q)?;
    let page_size = match get("PageSize").filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                TwilioError::new(StatusCode::BAD_REQUEST, 20001, "PageSize must be 1 to 1000")
            })?,
        None => 50,
    };
    let page: usize = match get("Page").filter(|p| !p.is_empty()) {
        Some(p) => p.parse().ok().filter(|n| *n <= 1_000_000).ok_or_else(|| {
            TwilioError::new(
                StatusCode::BAD_REQUEST,
                20001,
                "Page must be a number from 0 to 1000000",
            )
        })?,
        None => 0,
    };
    // An AccountSid that is no session's (a client's real `AC…`): the
    // session is the one whose number the filter names, as `create` takes
    // it from From.
    // None found: Twilio's 20404 for the account, never a channel error.
    let view = match session_for(&st, &account, None).await {
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            let mut found = None;
            for number in filter.numbers() {
                if let Ok(v) = session_for(&st, &account, Some(number)).await {
                    found = Some(v);
                    break;
                }
            }
            found.ok_or(e)?
        }
        other => other?,
    };
    let me = me_of(&view);
    let id = view.record.id.clone();
    let mut cursor = cv::page_token_in(get("PageToken").as_deref())?;
    let mut out = Vec::new();
    let mut last_id: Option<String> = None;
    // Filtered pages: read the store in chunks until the page is full, or
    // for at most SCAN_CHUNKS chunks (a filter few messages match must not
    // read the whole history in one request): then the page is short and
    // the next one goes on from where this one stopped.
    const SCAN_CHUNKS: usize = 50;
    let mut scanned = 0;
    enum Next {
        AfterLast,
        At(Vec<u8>),
        End,
    }
    let next = loop {
        let chunk = st.core.messages(&id, None, 200, cursor.as_deref()).await?;
        scanned += 1;
        for m in &chunk.messages {
            if out.len() == page_size {
                break;
            }
            if filter.keeps(m, me.as_deref()) {
                out.push(cv::resource(&account, m, me.as_deref()));
                last_id = Some(m.id.clone());
            }
        }
        match chunk.next {
            _ if out.len() == page_size => break Next::AfterLast,
            Some(c) if scanned == SCAN_CHUNKS => break Next::At(c),
            Some(c) => cursor = Some(c),
            None => break Next::End,
        }
    };
    let base = format!("/{}/Accounts/{account}/Messages.json", cv::API_VERSION);
    let mut keep: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageToken" | "PageSize"))
        .cloned()
        .collect();
    keep.push(("PageSize".into(), page_size.to_string()));
    let uri = |extra: &[(String, String)]| {
        let mut all = keep.clone();
        all.extend_from_slice(extra);
        format!("{base}?{}", String::from_utf8_lossy(&cv::encode_form(&all)))
    };
    // The next page starts after the last message shown.
    let next_at = match (next, last_id.as_deref()) {
        (Next::AfterLast, Some(last_id)) => st.core.cursor_of(&id, last_id)?,
        (Next::At(c), _) => Some(c),
        _ => None,
    };
    let next_uri = next_at.map(|c| {
        uri(&[
            ("Page".into(), (page + 1).to_string()),
            ("PageToken".into(), cv::page_token_out(&c)),
        ])
    });
    let n = out.len();
    Ok(Json(json!({
        "messages": out,
        "first_page_uri": uri(&[("Page".into(), "0".into())]),
        "next_page_uri": next_uri,
        "previous_page_uri": null,
        "uri": uri(&[("Page".into(), page.to_string())]),
        "page": page,
        "page_size": page_size,
        "start": page * page_size,
        "end": (page * page_size + n).saturating_sub(1),
    })))
}

#[utoipa::path(get, path = "/2010-04-01/Accounts/{account}/Messages/{sid}", tag = "twilio", summary = "A Message resource (SM... sid; also .json)", params(("account" = String, Path, description = "Account SID"), ("sid" = String, Path, description = "Message SID")), responses((status = 200, description = "The Message resource", body = Object), (status = 401, description = "Twilio error 20003", body = Object), (status = 400, description = "Twilio error {code, message, more_info, status}", body = Object), (status = 404, description = "Twilio error 20404", body = Object), (status = 403, description = "Twilio error 20403", body = Object), (status = 409, description = "Twilio error 20409: not connected, or another conflict", body = Object), (status = 413, description = "Twilio error: too large", body = Object), (status = 429, description = "Twilio error 20429 (Retry-After)", body = Object), (status = 502, description = "Twilio error 30008", body = Object), (status = 503, description = "Twilio error 20503 (Retry-After)", body = Object)))]
pub async fn fetch(
    Caller(st): Caller<Twilio>,
    Path((account, sid)): Path<(String, String)>,
) -> Result<Json<Value>, TwilioError> {
    let sid = sid.strip_suffix(".json").unwrap_or(&sid);
    let path = format!(
        "/{}/Accounts/{account}/Messages/{sid}.json",
        cv::API_VERSION
    );
    let msg = message_at(&st, sid, path).await?;
    let view = st.core.session(&msg.session).await?;
    Ok(Json(cv::resource(&account, &msg, me_of(&view).as_deref())))
}

/// A message by its sid in a path, or Twilio's 20404 naming `path`.
async fn message_at(st: &Twilio, sid: &str, path: String) -> Result<Message, TwilioError> {
    let missing = || TwilioError::not_found(&path);
    let short = cv::short_of_sid(sid).ok_or_else(missing)?;
    st.core
        .message_by_short_id(&short)
        .await?
        .ok_or_else(missing)
}

/// The Media list the Message resource points to (`subresource_uris`).
#[utoipa::path(get, path = "/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json", tag = "twilio", summary = "A message's media, as Twilio's Media list (one page, at most one)", params(("account" = String, Path, description = "Account SID"), ("sid" = String, Path, description = "Message SID")), responses((status = 200, description = "{media_list, page, page_size, uri, ...}", body = Object), (status = 401, description = "Twilio error 20003", body = Object), (status = 400, description = "Twilio error {code, message, more_info, status}", body = Object), (status = 404, description = "Twilio error 20404", body = Object), (status = 403, description = "Twilio error 20403", body = Object), (status = 409, description = "Twilio error 20409: not connected, or another conflict", body = Object), (status = 413, description = "Twilio error: too large", body = Object), (status = 429, description = "Twilio error 20429 (Retry-After)", body = Object), (status = 502, description = "Twilio error 30008", body = Object), (status = 503, description = "Twilio error 20503 (Retry-After)", body = Object)))]
pub async fn media_list(
    Caller(st): Caller<Twilio>,
    Path((account, sid)): Path<(String, String)>,
) -> Result<Json<Value>, TwilioError> {
    let path = format!(
        "/{}/Accounts/{account}/Messages/{sid}/Media.json",
        cv::API_VERSION
    );
    let msg = message_at(&st, &sid, path).await?;
    Ok(Json(cv::media_list(&account, &msg)))
}

/// `MediaUrl0` of an inbound webhook: the media, with Basic auth; with
/// `.json`, its Media resource.
#[utoipa::path(get, path = "/2010-04-01/Accounts/{account}/Messages/{sid}/Media/{media}", tag = "twilio", summary = "A message's media bytes (ME... sid; with .json, the Media resource)", params(("account" = String, Path, description = "Account SID"), ("sid" = String, Path, description = "Message SID"), ("media" = String, Path, description = "Media SID")), responses((status = 200, description = "The media", body = crate::api::body::Binary, content_type = "application/octet-stream"), (status = 401, description = "Twilio error 20003", body = Object), (status = 400, description = "Twilio error {code, message, more_info, status}", body = Object), (status = 404, description = "Twilio error 20404", body = Object), (status = 403, description = "Twilio error 20403", body = Object), (status = 409, description = "Twilio error 20409: not connected, or another conflict", body = Object), (status = 413, description = "Twilio error: too large", body = Object), (status = 429, description = "Twilio error 20429 (Retry-After)", body = Object), (status = 502, description = "Twilio error 30008", body = Object), (status = 503, description = "Twilio error 20503 (Retry-After)", body = Object)))]
pub async fn media(
    Caller(st): Caller<Twilio>,
    Path((account, sid, media)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let path = format!(
        "/{}/Accounts/{account}/Messages/{sid}/Media/{media}",
        cv::API_VERSION
    );
    let missing = || TwilioError::not_found(&path);
    let (me, as_json) = match media.strip_suffix(".json") {
        Some(me) => (me, true),
        None => (media.as_str(), false),
    };
    if me != cv::media_sid(&sid) {
        return Err(missing());
    }
    let msg = message_at(&st, &sid, path.clone()).await?;
    if as_json {
        return cv::media_resource(&account, &msg)
            .map(|r| Json(r).into_response())
            .ok_or_else(missing);
    }
    let (info, bytes) = st
        .core
        .media(&msg.session, &msg.id)
        .await
        .map_err(|e| match e {
            CoreError::NotFound { .. } => missing(),
            other => other.into(),
        })?;
    let mime = info.mimetype.unwrap_or_default();
    Ok(crate::api::body::media_response(
        &mime,
        info.filename.as_deref(),
        bytes,
    ))
}
