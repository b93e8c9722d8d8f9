//! The control API (`/_sandbox/...`): the phones and the network, driven by
//! tests and demos. Bad input gets a 4xx JSON error naming the field.

use super::{
    Sandbox,
    world::{Actor, ChangeError, LinkError, Media, SbLocation, SbMessage},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/link", post(link))
        .route("/messages", post(inbound).get(list_sent))
        .route("/messages/{id}/read", post(read))
        .route("/messages/{id}/react", post(react))
        .route("/messages/{id}/edit", post(edit))
        .route("/messages/{id}/revoke", post(revoke))
        .route("/messages/{id}/vote", post(vote))
        .route("/messages/{id}/pin", post(pin))
        .route("/accounts/{phone}/pins/{chat}", axum::routing::get(pins))
        .route("/accounts/{phone}/unlink", post(unlink))
        .route("/drop", post(drop_all))
        .route("/lose-replies", post(lose_replies))
        .route("/refuse-sockets", post(refuse_sockets))
        .route("/lose-sends", post(lose_sends))
        .route("/slow-lookups", post(slow_lookups))
        .route("/slow-sync", post(slow_sync))
        .route("/build", post(set_build))
        .route("/clock", post(set_clock))
        .route("/contacts/{phone}", axum::routing::put(set_profile))
        .route("/pictures/{phone}", axum::routing::get(picture))
        .route("/presence", post(presence))
        .route("/accounts/{phone}/presence", axum::routing::get(shown))
        .route("/accounts/{phone}/blocked", axum::routing::get(blocked))
        .route("/accounts/{phone}/devices", axum::routing::get(devices))
        .route("/accounts/{phone}/chats", axum::routing::get(chat_states))
        .route(
            "/accounts/{phone}/profile",
            axum::routing::get(my_profile).post(set_my_profile),
        )
        .route("/accounts/{phone}/chats/{chat}", post(set_chat_state))
        .route("/accounts/{phone}/chats/{chat}/clear", post(clear_chat))
        .route("/accounts/{phone}/chats/{chat}/read", post(read_chat))
        .route(
            "/accounts/{phone}/starred",
            axum::routing::get(starred).post(set_starred),
        )
        .route("/channels", post(channel_create))
        .route("/channels/{id}", axum::routing::get(channel_get))
        .route("/channels/{id}/posts", post(channel_post))
        .route("/channels/{id}/suspend", post(channel_suspend))
        .route(
            "/channels/{id}/picture",
            axum::routing::get(channel_picture),
        )
        .route("/groups", post(group_create))
        .route("/groups/join", post(group_join))
        .route("/groups/{gid}", axum::routing::get(group_get))
        .route("/groups/{gid}/participants", post(group_participants))
        .route("/groups/{gid}/admins", post(group_admins))
        .route("/groups/{gid}/subject", post(group_subject))
        .route("/groups/{gid}/description", post(group_description))
        .route("/groups/{gid}/picture", axum::routing::get(group_picture))
        .route("/groups/{gid}/settings", post(group_settings))
        .route("/groups/{gid}/leave", post(group_leave))
        .route("/groups/{gid}/accept", post(group_accept))
        .route("/communities", post(community_create))
        .route("/communities/{cid}/groups", post(community_groups))
        .route("/communities/{cid}/deactivate", post(community_deactivate))
        .route(
            "/accounts/{phone}/contacts",
            axum::routing::get(address_book),
        )
        .route(
            "/accounts/{phone}/contacts/{contact}",
            axum::routing::put(save_contact).delete(remove_contact),
        )
        .route("/accounts/{phone}/business", post(set_business))
        .route("/accounts/{phone}/labels", post(add_label).get(labels))
        .route("/accounts/{phone}/labels/{id}/chats", post(label_chats))
        .route("/accounts/{phone}/notes", axum::routing::get(notes))
        .route(
            "/accounts/{phone}/notes/{chat}",
            axum::routing::put(write_note),
        )
        .route("/calls", post(place_call))
        .route("/calls/{id}", axum::routing::get(get_call))
        .route("/calls/{id}/{how}", post(end_call))
        .route("/unregistered", post(unregistered))
}

struct Fail(StatusCode, &'static str, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({"error": {"code": self.1, "message": self.2}})),
        )
            .into_response()
    }
}

type Res = Result<Response, Fail>;

fn body(bytes: &Bytes) -> Result<Value, Fail> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        Fail(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("body is not valid JSON: {e}"),
        )
    })?;
    if !v.is_object() {
        return Err(Fail(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "body must be a JSON object".into(),
        ));
    }
    Ok(v)
}

fn invalid(field: &str, why: &str) -> Fail {
    Fail(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        format!("field '{field}' {why}"),
    )
}

fn opt_str(v: &Value, field: &str) -> Result<Option<String>, Fail> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn req_str(v: &Value, field: &str) -> Result<String, Fail> {
    opt_str(v, field)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(field, "is required"))
}

fn phone(v: &Value, field: &str) -> Result<String, Fail> {
    let raw = req_str(v, field)?;
    crate::domain::parse_phone(&raw)
        .map_err(|e| invalid(field, &format!("is not a phone number: {e}")))
}

/// The phone links a device: by scanning its QR (`qr`), or by entering
/// the pairing code the device shows (`code`).
async fn link(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let phone = phone(&v, "phone")?;
    let name = opt_str(&v, "name")?;
    let qr = opt_str(&v, "qr")?;
    let code = opt_str(&v, "code")?;
    let mut w = sb.world.lock().await;
    let linked = match (qr, code) {
        (Some(qr), None) => w.link(&qr, &phone, name.as_deref()),
        (None, Some(code)) => w.link_code(&code, &phone, name.as_deref()),
        _ => return Err(invalid("qr", "or 'code' is required (one of them)")),
    };
    match linked {
        Ok(()) => Ok(Json(json!({"phone": phone})).into_response()),
        Err(LinkError::NotShown) => Err(Fail(
            StatusCode::NOT_FOUND,
            "qr_not_found",
            "no device shows that QR or pairing code".into(),
        )),
        Err(LinkError::Expired) => Err(Fail(
            StatusCode::GONE,
            "qr_expired",
            "that QR or code has expired; use the one the device shows now".into(),
        )),
        Err(LinkError::WrongPhone) => Err(Fail(
            StatusCode::FORBIDDEN,
            "wrong_phone",
            "that pairing code was asked for another phone number".into(),
        )),
    }
}

async fn inbound(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let from = phone(&v, "from")?;
    let group = opt_str(&v, "group")?;
    let to = match &group {
        Some(_) => String::new(),
        None => phone(&v, "to")?,
    };
    let text = opt_str(&v, "text")?;
    let name = opt_str(&v, "name")?;
    let caption = opt_str(&v, "caption")?;
    let media = match v.get("media") {
        None | Some(Value::Null) => None,
        Some(m @ Value::Object(_)) => {
            let data =
                req_str(m, "data").map_err(|_| invalid("media.data", "is required (base64)"))?;
            base64::engine::general_purpose::STANDARD
                .decode(&data)
                .map_err(|_| invalid("media.data", "is not valid base64"))?;
            let mimetype =
                req_str(m, "mimetype").map_err(|_| invalid("media.mimetype", "is required"))?;
            let filename = opt_str(m, "filename")
                .map_err(|_| invalid("media.filename", "must be a string"))?;
            let duration = match m.get("duration") {
                None | Some(Value::Null) => None,
                Some(d) => Some(
                    d.as_u64()
                        .and_then(|d| u32::try_from(d).ok())
                        .ok_or_else(|| invalid("media.duration", "must be whole seconds"))?,
                ),
            };
            Some(Media {
                mimetype,
                filename,
                data,
                duration,
            })
        }
        Some(_) => return Err(invalid("media", "must be an object")),
    };
    let location = match v.get("location") {
        None | Some(Value::Null) => None,
        Some(l) => Some(
            serde_json::from_value::<SbLocation>(l.clone()).map_err(|e| {
                invalid(
                    "location",
                    &format!("must be {{lat, lng, name?, address?}}: {e}"),
                )
            })?,
        ),
    };
    let vcards = match v.get("vcard") {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) if s.starts_with("BEGIN:VCARD") => vec![s.clone()],
        Some(_) => return Err(invalid("vcard", "must be vCard text (BEGIN:VCARD...)")),
    };
    let ptt = match v.get("ptt") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("ptt", "must be a boolean")),
    };
    if ptt
        && !media
            .as_ref()
            .is_some_and(|m| m.mimetype.starts_with("audio/"))
    {
        return Err(invalid("ptt", "needs audio media"));
    }
    // A file sent as a document, whatever its type (a photo as a file).
    let document = match v.get("document") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) if !*b || media.is_some() => *b,
        Some(Value::Bool(_)) => return Err(invalid("document", "needs media")),
        Some(_) => return Err(invalid("document", "must be a boolean")),
    };
    let flag = |name: &str| match v.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(name, "must be a boolean")),
    };
    // (A WebP is a sticker.)
    let top = media.as_ref().map(|m| match m.mimetype.as_str() {
        "image/webp" => "sticker".to_string(),
        t => t.split('/').next().unwrap_or("").to_string(),
    });
    // A photo, a video or a voice note, opened once on the phone.
    let view_once = flag("view_once")?;
    if view_once && (document || !matches!(top.as_deref(), Some("image" | "video")) && !ptt) {
        return Err(invalid(
            "view_once",
            "needs a photo, a video or a voice note",
        ));
    }
    // A video that plays as a GIF.
    let gif = flag("gif")?;
    if gif && (document || top.as_deref() != Some("video")) {
        return Err(invalid("gif", "needs video media"));
    }
    let poll = match v.get("poll") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let p: super::world::SbPoll = serde_json::from_value(p.clone()).map_err(|e| {
                invalid(
                    "poll",
                    &format!("must be {{name, options, selectable?}}: {e}"),
                )
            })?;
            if p.options.len() < 2 {
                return Err(invalid("poll.options", "needs at least 2 options"));
            }
            Some(p)
        }
    };
    let event = match v.get("event") {
        None | Some(Value::Null) => None,
        Some(e) => {
            let e: super::world::SbEvent = serde_json::from_value(e.clone()).map_err(|e| {
                invalid(
                    "event",
                    &format!("must be {{name, description?, start, end, location?, join_link?, canceled?}}: {e}"),
                )
            })?;
            Some(e)
        }
    };
    let invite = match v.get("invite") {
        None | Some(Value::Null) => None,
        Some(i) => Some(
            serde_json::from_value::<super::world::SbInvite>(i.clone()).map_err(|e| {
                invalid(
                    "invite",
                    &format!("must be {{group, code, expires, name?}}: {e}"),
                )
            })?,
        ),
    };
    if text.is_none()
        && media.is_none()
        && location.is_none()
        && vcards.is_empty()
        && poll.is_none()
        && event.is_none()
        && invite.is_none()
    {
        return Err(invalid(
            "text",
            "is required when there is no media, location or vcard",
        ));
    }
    // Written earlier on a phone that was offline, delivered now: WhatsApp
    // stamps a message with the time it was written.
    let written_at = match v.get("sent_at") {
        None | Some(Value::Null) => 0,
        Some(t) => match t.as_i64() {
            Some(t) if t > 0 && t <= crate::domain::now_ms() / 1000 => t,
            _ => {
                return Err(invalid(
                    "sent_at",
                    "must be a unix time in seconds, not in the future",
                ));
            }
        },
    };
    // A reply to one of the account's messages, and people mentioned.
    let reply_to = opt_str(&v, "reply_to")?;
    // What the reply carries of the message it quotes, when the account
    // never had that message (else it is taken from the account's copy).
    let quoted = match v.get("quoted") {
        None | Some(Value::Null) => None,
        Some(q) => {
            if reply_to.is_none() {
                return Err(invalid("quoted", "needs 'reply_to'"));
            }
            let author = q["from"]
                .as_str()
                .and_then(|p| crate::domain::parse_phone(p).ok())
                .ok_or_else(|| invalid("quoted.from", "must be a phone number"))?;
            Some(super::world::SbQuote {
                kind: q["type"].as_str().unwrap_or("chat").to_string(),
                body: q["body"].as_str().map(String::from),
                caption: q["caption"].as_str().map(String::from),
                participant: format!("{author}@c.us"),
            })
        }
    };
    let mentions = phones(&v, "mentions")?;
    // Forwarded by the contact: true, or how many times it has been.
    let forwarded = match v.get("forwarded") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => 0,
        Some(Value::Bool(true)) => 1,
        Some(n) => match n.as_u64() {
            Some(n) if n <= 127 => n as u32,
            _ => return Err(invalid("forwarded", "must be true or a count up to 127")),
        },
    };
    let msg = SbMessage {
        forwarded,
        timestamp: written_at,
        reply_to,
        quoted,
        mentions,
        peer_name: name,
        text,
        caption,
        media,
        location,
        vcards,
        ptt,
        document,
        view_once,
        gif,
        poll,
        event,
        invite,
        ..Default::default()
    };
    let mut w = sb.world.lock().await;
    if let Some(gid) = group {
        // A contact writes in a group: every member account gets it.
        let copies = w.group_fanout(&gid, &from, &msg).map_err(group_fail)?;
        let ids: serde_json::Map<String, Value> = copies
            .into_iter()
            .map(|(a, id)| (a, Value::from(id)))
            .collect();
        return Ok((StatusCode::CREATED, Json(json!({"ids": ids}))).into_response());
    }
    let lid = match v.get("lid") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        // Whether WhatsApp lets the account learn the phone behind the id.
        Some(Value::Bool(true)) => Some(
            v.get("share_phone")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        ),
        Some(_) => return Err(invalid("lid", "must be a boolean")),
    };
    // A contact's status (story), which the account sees.
    if v.get("status").and_then(Value::as_bool) == Some(true) {
        if lid.is_some() || msg.reply_to.is_some() || msg.poll.is_some() {
            return Err(invalid("status", "takes text, or media with a caption"));
        }
        return match w.status_inbound(&from, &to, msg) {
            Some(id) => Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response()),
            None => Err(Fail(
                StatusCode::NOT_FOUND,
                "account_not_found",
                format!("no account {to}"),
            )),
        };
    }
    match w.inbound(&from, &to, msg, lid) {
        Some(id) => Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response()),
        None => Err(Fail(
            StatusCode::NOT_FOUND,
            "account_not_found",
            format!("no account {to}: link a device to it first"),
        )),
    }
}

async fn list_sent(State(sb): State<Sandbox>, Query(q): Query<HashMap<String, String>>) -> Res {
    let account = q
        .get("account")
        .ok_or_else(|| invalid("account", "is required (query parameter)"))?;
    let account = crate::domain::parse_phone(account).map_err(|e| invalid("account", &e))?;
    let w = sb.world.lock().await;
    let acct = w.p.accounts.get(&account).ok_or_else(|| {
        Fail(
            StatusCode::NOT_FOUND,
            "account_not_found",
            format!("no account {account}"),
        )
    })?;
    let all = q.get("direction").is_some_and(|d| d == "all");
    let sent: Vec<Value> = acct
        .messages
        .iter()
        .filter(|m| all || m.from_me)
        .map(|m| m.control_view())
        .collect();
    Ok(Json(sent).into_response())
}

/// The account's message is read (`{"by"?, "played"?}`): by everyone it
/// went to, or by one of them (`by`, a group's member); `played`: played
/// too (a voice note). The ack follows once every recipient has.
async fn read(State(sb): State<Sandbox>, Path(id): Path<String>, raw: Bytes) -> Res {
    let v = if raw.is_empty() {
        json!({})
    } else {
        body(&raw)?
    };
    let by = match v.get("by") {
        None | Some(Value::Null) => None,
        Some(_) => Some(phone(&v, "by")?),
    };
    let played = match v.get("played") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("played", "must be true or false")),
    };
    let mut w = sb.world.lock().await;
    match w.read_by(&id, by.as_deref(), played) {
        Ok(ack) => Ok(Json(json!({"id": id, "ack": super::world::ack_name(ack)})).into_response()),
        Err(ChangeError::NotInChat) => Err(invalid("by", "is not a recipient of the message")),
        Err(ChangeError::NotEditable) => {
            Err(invalid("played", "is for voice notes and audio only"))
        }
        Err(_) => Err(Fail(
            StatusCode::NOT_FOUND,
            "message_not_found",
            format!("no outbound message {id}"),
        )),
    }
}

/// 404 `account_not_found` for a phone WhatsApp has no account of.
fn known_account(w: &super::world::World, phone: &str) -> Result<(), Fail> {
    match w.p.accounts.contains_key(phone) {
        true => Ok(()),
        false => Err(Fail(
            StatusCode::NOT_FOUND,
            "account_not_found",
            format!("no account {phone}"),
        )),
    }
}

async fn unlink(State(sb): State<Sandbox>, Path(phone): Path<String>) -> Res {
    let phone = crate::domain::parse_phone(&phone).map_err(|e| invalid("phone", &e))?;
    let mut w = sb.world.lock().await;
    known_account(&w, &phone)?;
    w.unlink(&phone);
    Ok(Json(json!({"phone": phone, "unlinked": true})).into_response())
}

/// `{"on": bool}`: while on, sends are taken (and reach the contact) but
/// the device never hears back, as when its connection dies just after.
async fn lose_replies(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    switch(&sb, &raw, "lose_replies", |w, on| w.lose_replies = on).await
}

/// `{"on"}`: sends from devices are lost on the way, unheard and unanswered.
async fn lose_sends(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    switch(&sb, &raw, "lose_sends", |w, on| w.lose_sends = on).await
}

/// `{"on"}`: a privacy id's phone (`getPnLidEntry`) answers after 1 s.
/// `{"ms": N}`: devices that link or come back are online N ms after they
/// are authenticated, as WhatsApp syncs them first (0: at once).
async fn slow_sync(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let ms = v
        .get("ms")
        .and_then(Value::as_u64)
        .filter(|ms| *ms <= 60_000)
        .ok_or_else(|| invalid("ms", "must be 0 to 60000"))?;
    sb.world.lock().await.sync_delay = std::time::Duration::from_millis(ms);
    Ok(Json(json!({"ms": ms})).into_response())
}

/// `{"on"}`: devices cannot open their connection; while on, those open
/// are dropped too (they try again every second, as WhatsApp Web does).
async fn refuse_sockets(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    switch(&sb, &raw, "refuse_sockets", |w, on| {
        w.refuse_sockets = on;
        if on {
            w.conns.clear();
        }
    })
    .await
}

async fn slow_lookups(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    switch(&sb, &raw, "slow_lookups", |w, on| w.slow_lookups = on).await
}

/// `{"on"}` (on if left out) for one of the world's failure switches.
async fn switch(
    sb: &Sandbox,
    raw: &Bytes,
    name: &'static str,
    set: impl FnOnce(&mut super::world::World, bool),
) -> Res {
    // A typo must not flip the switch the wrong way: `{"on": "false"}` is refused.
    let v = if raw.is_empty() {
        json!({})
    } else {
        body(raw)?
    };
    let on = match v.get("on") {
        None => true,
        Some(Value::Bool(on)) => *on,
        Some(_) => return Err(invalid("on", "must be true or false")),
    };
    set(&mut *sb.world.lock().await, on);
    Ok(Json(json!({ name: on })).into_response())
}

/// `{"version"?, "missing"?: ["chat.sendTextMessage", ...], "reload"?:
/// bool}`: pages loaded from now on play this WhatsApp Web build; `{}`
/// restores the normal one. With `"reload": true` every open page is told
/// to take it now and reloads, as WhatsApp Web does when the server says
/// its build is out of date.
async fn set_build(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v: Value = serde_json::from_slice(&raw).unwrap_or_else(|_| json!({}));
    let build = json!({
        "version": v["version"].as_str(),
        "missing": v["missing"].as_array().cloned().unwrap_or_default(),
    });
    let mut w = sb.world.lock().await;
    w.build = build.clone();
    let reloaded = if v["reload"].as_bool() == Some(true) {
        w.send_all(&json!({"t": "update"}))
    } else {
        0
    };
    Ok(Json(
        json!({"version": build["version"], "missing": build["missing"], "reloaded": reloaded}),
    )
    .into_response())
}

/// `{"offset"}`: seconds the sandbox's clock runs ahead of the real one
/// (negative: behind; 0 puts it right). Messages sent meanwhile carry that
/// time, so a test can have one older than WhatsApp lets be edited (15
/// minutes) or deleted for everyone (60 hours).
async fn set_clock(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    const TEN_YEARS_S: i64 = 10 * 365 * 86_400;
    let v = body(&raw)?;
    let offset = v["offset"]
        .as_i64()
        .filter(|o| o.abs() <= TEN_YEARS_S)
        .ok_or_else(|| {
            invalid(
                "offset",
                "must be whole seconds, at most ten years either way",
            )
        })?;
    let mut w = sb.world.lock().await;
    w.clock_offset_s = offset;
    // Devices keep their clock in step with the server's, as WhatsApp Web does.
    let (now, now_ms) = (w.now_s(), w.now_ms());
    w.send_all(&json!({"t": "clock", "now": now, "now_ms": now_ms}));
    Ok(Json(json!({ "offset": offset })).into_response())
}

async fn drop_all(State(sb): State<Sandbox>) -> Res {
    let mut w = sb.world.lock().await;
    let n = w.conns.len();
    // Dropping the senders ends each socket task, which closes the socket.
    w.conns.clear();
    Ok(Json(json!({"dropped": n})).into_response())
}

async fn unregistered(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let phone = phone(&v, "phone")?;
    let mut w = sb.world.lock().await;
    w.p.unregistered.insert(phone.clone());
    w.dirty = true;
    Ok(Json(json!({"phone": phone, "registered": false})).into_response())
}

/// The contact changes a message of the chat: reacts to any message, edits
/// or deletes one it wrote.
async fn change(
    sb: &Sandbox,
    id: &str,
    f: impl FnOnce(&mut super::world::World) -> Result<Value, ChangeError>,
) -> Res {
    let mut w = sb.world.lock().await;
    match f(&mut w) {
        Ok(v) => Ok(Json(v).into_response()),
        Err(e) => {
            let (code, name) = match e {
                ChangeError::NotFound => (StatusCode::NOT_FOUND, "message_not_found"),
                ChangeError::NotAuthor => (StatusCode::FORBIDDEN, "not_the_author"),
                ChangeError::Revoked => (StatusCode::CONFLICT, "message_revoked"),
                ChangeError::TooLate => (StatusCode::CONFLICT, "window_passed"),
                ChangeError::NotEditable => (StatusCode::CONFLICT, "message_not_editable"),
                ChangeError::NotInChat => (StatusCode::UNPROCESSABLE_ENTITY, "not_in_chat"),
                ChangeError::NotPinnable => (StatusCode::CONFLICT, "not_pinnable"),
                ChangeError::AdminsOnly => (StatusCode::FORBIDDEN, "admins_only"),
            };
            Err(Fail(code, name, super::world::change_error(&e, id)))
        }
    }
}

async fn react(State(sb): State<Sandbox>, Path(id): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let emoji = opt_str(&v, "emoji")?.unwrap_or_default();
    let (who, from) = actor(&v)?;
    change(&sb, &id, |w| w.react(&id, who, from.as_deref(), &emoji)).await
}

/// Who acts on a message: a contact in its chat (`from`, in a group), or
/// with `mine: true` the account, from its phone.
fn actor(v: &Value) -> Result<(Actor, Option<String>), Fail> {
    let from = match v.get("from") {
        None | Some(Value::Null) => None,
        Some(_) => Some(phone(v, "from")?),
    };
    let who = match v.get("mine") {
        Some(Value::Bool(true)) => Actor::Account,
        None | Some(Value::Null) | Some(Value::Bool(false)) => Actor::Contact,
        Some(_) => return Err(invalid("mine", "must be true or false")),
    };
    Ok((who, from))
}

/// A contact in the chat (`from`, in a group) pins or unpins a message
/// (`{pinned, secs?, from?}`), or the account's phone does (`mine: true`).
async fn pin(State(sb): State<Sandbox>, Path(id): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let on = match v.get("pinned") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(invalid("pinned", "must be true or false")),
    };
    let secs = match v.get("secs") {
        None | Some(Value::Null) => 604_800,
        Some(n) => n
            .as_i64()
            .filter(|s| *s > 0)
            .ok_or_else(|| invalid("secs", "must be a positive number of seconds"))?,
    };
    let (who, from) = actor(&v)?;
    change(&sb, &id, |w| w.pin(&id, who, from.as_deref(), on, secs)).await
}

/// The messages pinned in one of the account's chats, oldest first, as
/// its phone shows them.
async fn pins(State(sb): State<Sandbox>, Path((raw_phone, chat)): Path<(String, String)>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    Ok(Json(json!({"pins": sb.world.lock().await.pins(&who, &chat)})).into_response())
}

async fn edit(State(sb): State<Sandbox>, Path(id): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let text = req_str(&v, "text")?;
    change(&sb, &id, |w| w.edit(&id, Actor::Contact, &text)).await
}

/// The contact deletes a message it wrote for everyone; or, in a group,
/// an admin (`by`) deletes anyone's.
async fn revoke(State(sb): State<Sandbox>, Path(id): Path<String>, raw: Bytes) -> Res {
    let v = if raw.is_empty() {
        json!({})
    } else {
        body(&raw)?
    };
    let by = match v.get("by") {
        None | Some(Value::Null) => None,
        Some(_) => Some(phone(&v, "by")?),
    };
    change(&sb, &id, |w| w.revoke(&id, Actor::Contact, by.as_deref())).await
}

fn phones(v: &Value, field: &str) -> Result<Vec<String>, Fail> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|p| {
                p.as_str()
                    .and_then(|s| crate::domain::parse_phone(s).ok())
                    .ok_or_else(|| invalid(field, "must be phone numbers"))
            })
            .collect(),
        Some(_) => Err(invalid(field, "must be a list of phone numbers")),
    }
}

fn group_fail(e: String) -> Fail {
    let code = if e.contains("no such group") || e.contains("no such community") {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::FORBIDDEN
    };
    Fail(code, "group_refused", e)
}

/// A contact creates a group (it may include the account).
async fn group_create(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let owner = phone(&v, "owner")?;
    let subject = req_str(&v, "subject")?;
    let others = phones(&v, "participants")?;
    let g = sb
        .world
        .lock()
        .await
        .create_group(&owner, &subject, &others)
        .map_err(group_fail)?;
    Ok((StatusCode::CREATED, Json(with_added(g))).into_response())
}

async fn group_get(State(sb): State<Sandbox>, Path(gid): Path<String>) -> Res {
    let w = sb.world.lock().await;
    let g = w
        .group(&gid)
        .ok_or_else(|| group_fail("no such group".into()))?;
    Ok(Json(g.view()).into_response())
}

async fn group_participants(State(sb): State<Sandbox>, Path(gid): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let by = phone(&v, "by")?;
    let (add, remove) = (phones(&v, "add")?, phones(&v, "remove")?);
    let g = sb
        .world
        .lock()
        .await
        .change_participants(&gid, &by, &add, &remove)
        .map_err(group_fail)?;
    Ok(Json(with_added(g)).into_response())
}

/// The group, with what WhatsApp said of each person added as `added`.
fn with_added((mut g, added): (Value, Vec<super::groups::Added>)) -> Value {
    g["added"] = json!(
        added
            .iter()
            .map(super::groups::Added::wire)
            .collect::<Vec<_>>()
    );
    g
}

/// Someone accepts a private invite they were sent: `{phone, code}`.
async fn group_accept(State(sb): State<Sandbox>, Path(gid): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let who = phone(&v, "phone")?;
    let code = req_str(&v, "code")?;
    let g = sb
        .world
        .lock()
        .await
        .accept_invite(&gid, &who, &code)
        .map_err(group_fail)?;
    Ok(Json(g).into_response())
}

/// A member's phone makes others admins or members again: `{by, promote?, demote?}`.
async fn group_admins(State(sb): State<Sandbox>, Path(gid): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let by = phone(&v, "by")?;
    let (promote, demote) = (phones(&v, "promote")?, phones(&v, "demote")?);
    let g = sb
        .world
        .lock()
        .await
        .change_admins(&gid, &by, &promote, &demote)
        .map_err(group_fail)?;
    Ok(Json(g).into_response())
}

async fn group_subject(State(sb): State<Sandbox>, Path(gid): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let by = phone(&v, "by")?;
    let subject = req_str(&v, "subject")?;
    sb.world
        .lock()
        .await
        .set_subject(&gid, &by, &subject)
        .map_err(group_fail)?;
    Ok(Json(json!({"id": gid, "subject": subject})).into_response())
}

/// What an account shows of itself: name, about, whether it has a picture.
/// The phone changes the account's name or about (`{"name"?,
/// "about"?}`); its devices hear, as WhatsApp syncs them.
async fn set_my_profile(
    State(sb): State<Sandbox>,
    Path(raw_phone): Path<String>,
    raw: Bytes,
) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let v = body(&raw)?;
    let mut w = sb.world.lock().await;
    known_account(&w, &who)?;
    let change = json!({"name": v.get("name"), "about": v.get("about")});
    w.device_people_call(&who, "my_profile_set", &change)
        .map(|p| Json(p).into_response())
        .map_err(|e| invalid("name", &e))
}

async fn my_profile(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    Ok(Json(sb.world.lock().await.my_profile(&who)).into_response())
}

/// The account's archived, pinned and muted chats, as its phone has them.
async fn chat_states(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    Ok(Json(json!(sb.world.lock().await.chat_states(&who))).into_response())
}

/// The phone archives, pins or mutes a chat (`{"archive"?, "pin"?,
/// "mute_until"?}`); its devices hear.
async fn set_chat_state(
    State(sb): State<Sandbox>,
    Path((raw_phone, chat)): Path<(String, String)>,
    raw: Bytes,
) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let v = body(&raw)?;
    let change = super::chats::ChatChange::from_json(&v).map_err(|e| invalid("chat", &e))?;
    let s = sb
        .world
        .lock()
        .await
        .set_chat_state(&who, &chat, &change)
        .map_err(|e| Fail(StatusCode::CONFLICT, "chat_refused", e))?;
    Ok(Json(json!(s)).into_response())
}

/// The phone reads a chat: its messages are read, and every device
/// shows it read.
async fn read_chat(
    State(sb): State<Sandbox>,
    Path((raw_phone, chat)): Path<(String, String)>,
) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let mut w = sb.world.lock().await;
    known_account(&w, &who)?;
    w.read_chat(&who, &chat);
    Ok(Json(json!({"chat": chat, "read": true})).into_response())
}

/// The account's address book as its phone has it (`{phone: {first,
/// last, phone_book}}`).
async fn address_book(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    Ok(Json(json!(sb.world.lock().await.address_book(&who))).into_response())
}

/// The phone saves a contact or renames one (`{"first_name",
/// "last_name"?}`); its devices hear.
async fn save_contact(
    State(sb): State<Sandbox>,
    Path((raw_phone, raw_contact)): Path<(String, String)>,
    raw: Bytes,
) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let contact = crate::domain::parse_phone(&raw_contact).map_err(|e| invalid("contact", &e))?;
    let v = body(&raw)?;
    let first = req_str(&v, "first_name")?;
    let last = opt_str(&v, "last_name")?.unwrap_or_default();
    let saved = sb
        .world
        .lock()
        .await
        .save_contact(&who, &contact, &first, &last, true)
        .map_err(|e| invalid("contact", &e))?;
    Ok(Json(json!(saved)).into_response())
}

/// The phone takes a contact out of its address book.
async fn remove_contact(
    State(sb): State<Sandbox>,
    Path((raw_phone, raw_contact)): Path<(String, String)>,
) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let contact = crate::domain::parse_phone(&raw_contact).map_err(|e| invalid("contact", &e))?;
    sb.world
        .lock()
        .await
        .remove_contact(&who, &contact)
        .map_err(|e| Fail(StatusCode::NOT_FOUND, "contact_not_found", e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The account's starred messages (ids), as its phone has them.
async fn starred(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let w = sb.world.lock().await;
    let ids: Vec<&String> = w.p.starred.get(&who).into_iter().flatten().collect();
    Ok(Json(json!(ids)).into_response())
}

/// The phone stars messages (`{"ids", "star"?}`); its devices hear.
async fn set_starred(State(sb): State<Sandbox>, Path(raw_phone): Path<String>, raw: Bytes) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let v = body(&raw)?;
    let ids: Vec<String> = v["ids"]
        .as_array()
        .ok_or_else(|| invalid("ids", "must be a list of message ids"))?
        .iter()
        .filter_map(|i| i.as_str().map(String::from))
        .collect();
    let n = sb
        .world
        .lock()
        .await
        .star(&who, &ids, v["star"].as_bool().unwrap_or(true))
        .map_err(|e| Fail(StatusCode::NOT_FOUND, "account_not_found", e))?;
    Ok(Json(json!({"changed": n})).into_response())
}

/// The phone clears a chat (`{"delete": true}` deletes it,
/// `{"keep_starred": false}` clears its starred messages too); its devices
/// hear.
async fn clear_chat(
    State(sb): State<Sandbox>,
    Path((raw_phone, chat)): Path<(String, String)>,
    raw: Bytes,
) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let v = if raw.is_empty() {
        json!({})
    } else {
        body(&raw)?
    };
    let delete = v["delete"].as_bool().unwrap_or(false);
    let n = sb
        .world
        .lock()
        .await
        .clear_chat(
            &who,
            &chat,
            delete,
            v["keep_starred"].as_bool().unwrap_or(true),
        )
        .map_err(|e| Fail(StatusCode::NOT_FOUND, "account_not_found", e))?;
    Ok(Json(json!({"chat": chat, "cleared": n, "deleted": delete})).into_response())
}

/// The account becomes a business account (`{business: true}`), with
/// WhatsApp's five labels, or a personal one again.
async fn set_business(State(sb): State<Sandbox>, Path(raw_phone): Path<String>, raw: Bytes) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let v = body(&raw)?;
    let on = v["business"]
        .as_bool()
        .ok_or_else(|| invalid("business", "must be true or false"))?;
    sb.world
        .lock()
        .await
        .set_business(&who, on)
        .map_err(|e| Fail(StatusCode::NOT_FOUND, "account_not_found", e))?;
    Ok(Json(json!({"phone": who, "business": on})).into_response())
}

/// The account's labels, as its phone shows them (with their chats).
async fn labels(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let w = sb.world.lock().await;
    let all: Vec<Value> = w.labels(&who).iter().map(|l| l.wire()).collect();
    Ok(Json(json!(all)).into_response())
}

/// The phone makes a label: `{name, color?}` (an index into the palette).
async fn add_label(State(sb): State<Sandbox>, Path(raw_phone): Path<String>, raw: Bytes) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let v = body(&raw)?;
    let name = req_str(&v, "name")?;
    let color = match v.get("color") {
        None | Some(Value::Null) => None,
        Some(c) => Some(
            c.as_u64()
                .ok_or_else(|| invalid("color", "must be a palette index"))? as usize,
        ),
    };
    let l = sb
        .world
        .lock()
        .await
        .add_label(&who, &name, color)
        .map_err(|e| Fail(StatusCode::CONFLICT, "label_refused", e))?;
    Ok((StatusCode::CREATED, Json(l.wire())).into_response())
}

/// The phone puts a label on chats or takes it off: `{add?, remove?}`.
async fn label_chats(
    State(sb): State<Sandbox>,
    Path((raw_phone, id)): Path<(String, String)>,
    raw: Bytes,
) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let v = body(&raw)?;
    let list = |k: &str| super::world::strings(&v, k);
    let mut w = sb.world.lock().await;
    for (chats, add) in [(list("add"), true), (list("remove"), false)] {
        if !chats.is_empty() {
            w.label_chats(&who, &id, &chats, add)
                .map_err(|e| Fail(StatusCode::CONFLICT, "label_refused", e))?;
        }
    }
    let l = w.labels(&who).into_iter().find(|l| l.id == id);
    Ok(Json(l.map(|l| l.wire()).unwrap_or(Value::Null)).into_response())
}

/// A contact calls an account: `{from, to, video?, group?, lid?,
/// share_phone?, ring_for_s?}`. It rings on the account's devices until
/// answered, declined or hung up, or for `ring_for_s` (WhatsApp's 45 s),
/// then it is missed.
async fn place_call(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let from = phone(&v, "from")?;
    let to = phone(&v, "to")?;
    let flag = |k: &str| match v.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(k, "must be a boolean")),
    };
    let (video, group, lid) = (flag("video")?, flag("group")?, flag("lid")?);
    let lid = lid.then(|| {
        v.get("share_phone")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    });
    let ring_for = match v.get("ring_for_s") {
        None | Some(Value::Null) => super::calls::RING_FOR_S,
        Some(n) => n
            .as_u64()
            .filter(|n| (1..=600).contains(n))
            .ok_or_else(|| invalid("ring_for_s", "must be 1 to 600 seconds"))?,
    };
    let call = sb
        .world
        .lock()
        .await
        .place_call(&from, &to, video, group, lid)
        .map_err(|e| Fail(StatusCode::CONFLICT, "call_refused", e))?;
    let (world, id) = (sb.world.clone(), call.id.clone());
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(ring_for)).await;
        let _ = world
            .lock()
            .await
            .end_call(&id, super::calls::CallState::Missed, "timeout");
    });
    Ok((StatusCode::CREATED, Json(json!(call))).into_response())
}

/// A call as it stands: ringing, or how it ended and by whom.
async fn get_call(State(sb): State<Sandbox>, Path(id): Path<String>) -> Res {
    let w = sb.world.lock().await;
    let call = w.call(&id).ok_or_else(|| {
        Fail(
            StatusCode::NOT_FOUND,
            "call_not_found",
            format!("no call {id}"),
        )
    })?;
    Ok(Json(json!(call)).into_response())
}

/// The ringing ends elsewhere: the phone answers (`answer`) or declines
/// (`decline`) it, or the caller hangs up (`hangup`).
async fn end_call(State(sb): State<Sandbox>, Path((id, how)): Path<(String, String)>) -> Res {
    use super::calls::{CallRefusal, CallState};
    let (state, by) = match how.as_str() {
        "answer" => (CallState::Accepted, "phone"),
        "decline" => (CallState::Rejected, "phone"),
        "hangup" => (CallState::Canceled, "caller"),
        _ => {
            return Err(Fail(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no action '{how}': answer, decline or hangup"),
            ));
        }
    };
    let call = sb
        .world
        .lock()
        .await
        .end_call(&id, state, by)
        .map_err(|e| match e {
            CallRefusal::NotFound => Fail(
                StatusCode::NOT_FOUND,
                "call_not_found",
                format!("no call {id}"),
            ),
            CallRefusal::NotRinging(_) => {
                Fail(StatusCode::CONFLICT, "call_not_ringing", e.to_string())
            }
        })?;
    Ok(Json(json!(call)).into_response())
}

/// A group's picture, as WhatsApp serves it.
async fn group_picture(State(sb): State<Sandbox>, Path(gid): Path<String>) -> Res {
    let w = sb.world.lock().await;
    served_picture(
        w.group(&gid).and_then(|g| g.picture.as_deref()),
        &gid,
        "image/png",
    )
}

/// A member's phone changes the description (empty: none).
async fn group_description(State(sb): State<Sandbox>, Path(gid): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let by = phone(&v, "by")?;
    let desc = opt_str(&v, "description")?
        .ok_or_else(|| invalid("description", "is required (empty removes it)"))?;
    if desc.chars().count() > 2048 {
        return Err(invalid("description", "is at most 2048 characters"));
    }
    sb.world
        .lock()
        .await
        .set_description(&gid, &by, &desc)
        .map_err(group_fail)?;
    Ok(Json(json!({"id": gid, "description": desc})).into_response())
}

/// An admin's phone changes `announce` (only admins send) and `restrict`
/// (only admins change the info); answers the group.
async fn group_settings(State(sb): State<Sandbox>, Path(gid): Path<String>, raw: Bytes) -> Res {
    use super::groups::Setting;
    let v = body(&raw)?;
    let by = phone(&v, "by")?;
    let mut todo = vec![];
    for (field, s) in [
        ("announce", Setting::Announce),
        ("restrict", Setting::Restrict),
    ] {
        match v.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(on)) => todo.push((s, *on)),
            Some(_) => return Err(invalid(field, "must be true or false")),
        }
    }
    // Admins approve who joins: set on the phone (wa-js has no call for it).
    let approval = match v.get("approval") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(on)) => Some(*on),
        Some(_) => return Err(invalid("approval", "must be true or false")),
    };
    if todo.is_empty() && approval.is_none() {
        return Err(invalid(
            "announce",
            "or 'restrict' or 'approval' is required",
        ));
    }
    let mut w = sb.world.lock().await;
    for (s, on) in todo {
        w.set_setting(&gid, &by, s, on).map_err(group_fail)?;
    }
    if let Some(on) = approval {
        w.set_approval(&gid, &by, on).map_err(group_fail)?;
    }
    Ok(Json(w.group(&gid).map(|g| g.view()).unwrap_or_default()).into_response())
}

/// A phone creates a community, linking the groups it names (its own).
async fn community_create(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let owner = phone(&v, "owner")?;
    let name = req_str(&v, "name")?;
    let desc = v["description"].as_str().unwrap_or("").to_string();
    let groups: Vec<String> = v["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(String::from))
        .collect();
    let mut w = sb.world.lock().await;
    let c = w
        .create_community(&owner, &name, &desc)
        .map_err(group_fail)?;
    let cid = c["id"].as_str().unwrap_or_default().to_string();
    let (linked, failed) = w
        .link_subgroups(&cid, &owner, &groups)
        .map_err(group_fail)?;
    let c = w.group(&cid).map(|g| g.view()).unwrap_or_default();
    Ok((StatusCode::CREATED, Json(json!({"community": c, "linked": linked,
        "failed": failed.into_iter().map(|(id, e)| json!({"id": id, "error": e})).collect::<Vec<_>>()})))
        .into_response())
}

/// `by` links (`link`) or unlinks (`unlink`) groups.
async fn community_groups(State(sb): State<Sandbox>, Path(cid): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let by = phone(&v, "by")?;
    let list = |k: &str| -> Vec<String> {
        v[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g.as_str().map(String::from))
            .collect()
    };
    let mut w = sb.world.lock().await;
    let (linked, mut failed) = w
        .link_subgroups(&cid, &by, &list("link"))
        .map_err(group_fail)?;
    let (unlinked, more) = w
        .unlink_subgroups(&cid, &by, &list("unlink"))
        .map_err(group_fail)?;
    failed.extend(more);
    let failed: Vec<Value> = failed
        .into_iter()
        .map(|(id, e)| json!({"id": id, "error": e}))
        .collect();
    Ok(Json(json!({"linked": linked, "unlinked": unlinked, "failed": failed})).into_response())
}

async fn community_deactivate(
    State(sb): State<Sandbox>,
    Path(cid): Path<String>,
    raw: Bytes,
) -> Res {
    let v = body(&raw)?;
    let by = phone(&v, "by")?;
    sb.world
        .lock()
        .await
        .deactivate_community(&cid, &by)
        .map_err(group_fail)?;
    Ok(Json(json!({"id": cid, "deactivated": true})).into_response())
}

async fn group_leave(State(sb): State<Sandbox>, Path(gid): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let who = phone(&v, "phone")?;
    sb.world
        .lock()
        .await
        .leave_group(&gid, &who)
        .map_err(group_fail)?;
    Ok(Json(json!({"id": gid, "left": who})).into_response())
}

async fn group_join(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let who = phone(&v, "phone")?;
    let invite = req_str(&v, "invite")?;
    let joined = sb
        .world
        .lock()
        .await
        .join_group(&invite, &who)
        .map_err(group_fail)?;
    Ok(Json(match joined {
        super::groups::Joined::Member(gid) => json!({"id": gid}),
        super::groups::Joined::Requested(gid) => json!({"id": gid, "requested": true}),
    })
    .into_response())
}

/// A contact's profile as WhatsApp shows it: about, picture (base64 PNG),
/// business details.
async fn set_profile(State(sb): State<Sandbox>, Path(raw_phone): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let picture = opt_str(&v, "picture")?;
    if let Some(p) = &picture {
        base64::engine::general_purpose::STANDARD
            .decode(p)
            .map_err(|_| invalid("picture", "is not valid base64"))?;
    }
    let business = v.get("business").filter(|b| !b.is_null()).cloned();
    if business.as_ref().is_some_and(|b| !b.is_object()) {
        return Err(invalid("business", "must be an object"));
    }
    let hides_last_seen = match v.get("hides_last_seen") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("hides_last_seen", "must be a boolean")),
    };
    let group_add = match v.get("group_add") {
        None | Some(Value::Null) => super::people::GroupAdd::Everyone,
        Some(g) => serde_json::from_value(g.clone())
            .map_err(|_| invalid("group_add", "must be everyone, contacts or nobody"))?,
    };
    let p = super::people::Profile {
        about: opt_str(&v, "about")?,
        picture,
        business,
        hides_last_seen,
        group_add,
    };
    sb.world.lock().await.set_profile(&who, p);
    Ok(Json(json!({"phone": who})).into_response())
}

async fn picture(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let w = sb.world.lock().await;
    served_picture(w.picture(&who), &who, "image/png")
}

/// A contact shows a presence (available, unavailable, composing,
/// recording, paused) to an account.
async fn presence(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let from = phone(&v, "from")?;
    let to = phone(&v, "to")?;
    let state = req_str(&v, "state")?;
    if !matches!(
        state.as_str(),
        "available" | "unavailable" | "composing" | "recording" | "paused"
    ) {
        return Err(invalid(
            "state",
            "must be available, unavailable, composing, recording or paused",
        ));
    }
    let delivered = sb.world.lock().await.contact_presence(&from, &to, &state);
    Ok(Json(json!({"delivered": delivered})).into_response())
}

async fn shown(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    Ok(Json(json!(sb.world.lock().await.shown(&who))).into_response())
}

async fn blocked(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    Ok(Json(json!(sb.world.lock().await.blocklist(&who))).into_response())
}

/// A contact (or, in a group, `from`) votes: the options' names.
async fn vote(State(sb): State<Sandbox>, Path(id): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let voter = match v.get("from") {
        None | Some(Value::Null) => None,
        Some(_) => Some(phone(&v, "from")?),
    };
    let options: Vec<String> = v["options"]
        .as_array()
        .ok_or_else(|| invalid("options", "must be a list of option names"))?
        .iter()
        .filter_map(|o| o.as_str().map(String::from))
        .collect();
    let r = sb.world.lock().await.vote(&id, voter.as_deref(), &options);
    r.map(|v| Json(v).into_response())
        .map_err(|e| Fail(StatusCode::UNPROCESSABLE_ENTITY, "vote_refused", e))
}

/// How many devices are linked to an account (what the phone lists).
async fn devices(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let w = sb.world.lock().await;
    let n = w.p.links.values().filter(|p| **p == who).count();
    Ok(Json(json!({"phone": who, "linked_devices": n})).into_response())
}

/// A phone makes a channel: `{owner, name, description?}`.
async fn channel_create(State(sb): State<Sandbox>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let owner = phone(&v, "owner")?;
    let name = req_str(&v, "name")?;
    let description = opt_str(&v, "description")?.unwrap_or_default();
    let mut w = sb.world.lock().await;
    let made = w
        .create_channel(&owner, &name, &description, None)
        .map_err(|e| invalid("name", &e))?;
    let id = made["id"].as_str().unwrap_or_default();
    let c = w.channel(id).map(|c| c.control_view());
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// A channel as WhatsApp's server holds it: its followers, who muted it.
async fn channel_get(State(sb): State<Sandbox>, Path(id): Path<String>) -> Res {
    let w = sb.world.lock().await;
    let c = w.channel(&id).ok_or_else(|| {
        Fail(
            StatusCode::NOT_FOUND,
            "channel_not_found",
            format!("no channel {id}"),
        )
    })?;
    Ok(Json(c.control_view()).into_response())
}

/// The owner's phone posts to its channel: `{text}`. Answers the post's id
/// as the owner's devices hold it.
async fn channel_post(State(sb): State<Sandbox>, Path(id): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let text = req_str(&v, "text")?;
    let posted = sb
        .world
        .lock()
        .await
        .post_to_channel(&id, &text)
        .map_err(|e| match e.contains("suspended") {
            true => Fail(StatusCode::CONFLICT, "channel_suspended", e),
            false => Fail(StatusCode::NOT_FOUND, "channel_not_found", e),
        })?;
    Ok((StatusCode::CREATED, Json(json!({"id": posted}))).into_response())
}

/// A channel's picture, where WhatsApp's CDN would serve it.
async fn channel_picture(State(sb): State<Sandbox>, Path(id): Path<String>) -> Res {
    let w = sb.world.lock().await;
    served_picture(
        w.channel(&id).and_then(|c| c.picture.as_deref()),
        &id,
        "image/jpeg",
    )
}

/// WhatsApp suspends a channel (`{"on"}`): it takes no posts until lifted.
async fn channel_suspend(State(sb): State<Sandbox>, Path(id): Path<String>, raw: Bytes) -> Res {
    let v = body(&raw)?;
    let on = v["on"].as_bool().unwrap_or(true);
    let mut w = sb.world.lock().await;
    let c = w.p.channels.get_mut(&id).ok_or_else(|| {
        Fail(
            StatusCode::NOT_FOUND,
            "channel_not_found",
            format!("no channel {id}"),
        )
    })?;
    c.suspended = on;
    let view = c.control_view();
    w.dirty = true;
    Ok(Json(view).into_response())
}

/// A business account's customer notes, as WhatsApp keeps them.
async fn notes(State(sb): State<Sandbox>, Path(raw_phone): Path<String>) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let w = sb.world.lock().await;
    Ok(Json(w.notes_of(&who)).into_response())
}

/// The phone writes a customer note on a chat: `{content}`.
async fn write_note(
    State(sb): State<Sandbox>,
    Path((raw_phone, chat)): Path<(String, String)>,
    raw: Bytes,
) -> Res {
    let who = crate::domain::parse_phone(&raw_phone).map_err(|e| invalid("phone", &e))?;
    let v = body(&raw)?;
    let content = req_str(&v, "content")?;
    let note = sb
        .world
        .lock()
        .await
        .set_note(&who, &super::world::chat_id(&chat), &content)
        .map_err(|e| Fail(StatusCode::CONFLICT, "note_refused", e))?;
    Ok(Json(note).into_response())
}

/// A picture kept as base64, served as WhatsApp's CDN would (404 where
/// there is none).
fn served_picture(b64: Option<&str>, whose: &str, mime: &'static str) -> Res {
    let bytes = b64
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .ok_or_else(|| {
            Fail(
                StatusCode::NOT_FOUND,
                "no_picture",
                format!("{whose} has no picture"),
            )
        })?;
    Ok(([(axum::http::header::CONTENT_TYPE, mime)], bytes).into_response())
}
