//! The open-wa dialect's conversions, all pure: wrapper-route shapes,
//! open-wa's Message/Chat/Contact/GroupMetadata shapes, its connection
//! STATE, and the wrapper routes' errors. (The EASY API's calls: `easy`.)

use crate::api::body::BodyError;
use crate::core::{Community, Contact, CoreError, GroupInfo, Participant, SendRequest};
use crate::domain::{SessionId, Status, Wid, user_of};
use crate::session::{ChatInfo, SessionView};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

// ---- the wrapper routes: /session/create, /message/send, /session/{id}/status

/// An error of the wrapper routes: `{"success": false, "message_id": null,
/// "error": "sentence"}`, the shape of `/message/send`'s answer, which a
/// client reads whatever the outcome.
#[derive(Debug)]
pub struct WrapperError {
    pub status: StatusCode,
    pub error: String,
    pub retry_after: Option<u64>,
}

impl WrapperError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        WrapperError {
            status,
            error: error.into(),
            retry_after: None,
        }
    }

    pub fn body(&self) -> Value {
        json!({"success": false, "message_id": null, "error": self.error})
    }
}

/// The status a core error deserves on any open-wa route.
pub fn status_of(e: &CoreError) -> StatusCode {
    match e {
        CoreError::SessionNotFound(_) | CoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        CoreError::SessionExists(_)
        | CoreError::NotReady(_)
        | CoreError::IdempotencyInProgress
        | CoreError::Conflict { .. } => StatusCode::CONFLICT,
        CoreError::Invalid { .. } | CoreError::NotOnWhatsApp(_) => StatusCode::UNPROCESSABLE_ENTITY,
        CoreError::MediaTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        CoreError::WhatsApp(_) => StatusCode::BAD_GATEWAY,
        CoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        CoreError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        CoreError::Forbidden { .. } => StatusCode::FORBIDDEN,
        CoreError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
        CoreError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl From<CoreError> for WrapperError {
    fn from(e: CoreError) -> Self {
        let mut w = WrapperError::new(status_of(&e), e.to_string());
        w.retry_after = e.retry_after_secs();
        w
    }
}

impl From<BodyError> for WrapperError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Malformed(m) => WrapperError::new(StatusCode::BAD_REQUEST, m),
            BodyError::TooLarge => WrapperError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large",
            ),
            BodyError::Invalid { field, why } if field == "." => WrapperError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the body does not fit: {why}"),
            ),
            BodyError::Invalid { field, why } => WrapperError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("field '{field}' is invalid: {why}"),
            ),
        }
    }
}

pub fn session_id(raw: Option<&str>) -> Result<SessionId, WrapperError> {
    let raw = raw.filter(|s| !s.is_empty()).ok_or_else(|| {
        WrapperError::new(StatusCode::UNPROCESSABLE_ENTITY, "'session_id' is required")
    })?;
    SessionId::parse(raw).map_err(|e| {
        WrapperError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("'session_id': {e}"),
        )
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateIn {
    pub session_id: Option<String>,
    #[serde(rename = "sessionId")]
    pub session_id_camel: Option<String>,
    pub webhook_url: Option<String>,
}

impl CreateIn {
    pub fn id(&self) -> Result<SessionId, WrapperError> {
        session_id(
            self.session_id
                .as_deref()
                .or(self.session_id_camel.as_deref()),
        )
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = OpenWaSendIn)]
pub struct SendIn {
    pub session_id: Option<String>,
    #[serde(rename = "sessionId")]
    pub session_id_camel: Option<String>,
    pub to_number: Option<String>,
    pub to: Option<String>,
    pub message: Option<String>,
}

impl SendIn {
    pub fn into_request(self) -> Result<(SessionId, SendRequest), WrapperError> {
        let id = session_id(
            self.session_id
                .as_deref()
                .or(self.session_id_camel.as_deref()),
        )?;
        let to = self
            .to_number
            .or(self.to)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                WrapperError::new(StatusCode::UNPROCESSABLE_ENTITY, "'to_number' is required")
            })?;
        let to = Wid::parse(&to).map_err(|e| {
            WrapperError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("'to_number': {e}"),
            )
        })?;
        let text = self.message.filter(|m| !m.is_empty()).ok_or_else(|| {
            WrapperError::new(StatusCode::UNPROCESSABLE_ENTITY, "'message' is required")
        })?;
        Ok((id, SendRequest::text(to, text)))
    }
}

/// `status` as the wrapper shows it: lowercase.
pub fn wrapper_status(s: Status) -> String {
    s.as_str().to_ascii_lowercase()
}

/// `POST /session/create`'s answer.
pub fn created(v: &SessionView, qr_data_url: Option<String>) -> Value {
    let status = v.status();
    let message = match status {
        Status::Connected => "the session is connected".to_string(),
        Status::ScanQr => "scan the QR code with WhatsApp (Settings > Linked devices)".to_string(),
        Status::Failed => format!(
            "the session failed: {}",
            v.error().unwrap_or("unknown error")
        ),
        _ => "the session is starting; ask its status for the QR code".to_string(),
    };
    json!({
        "session_id": v.record.id,
        "qr_code": qr_data_url,
        "status": wrapper_status(status),
        "message": message,
    })
}

/// `GET /session/{id}/status`'s answer.
pub fn status(v: &SessionView, qr_data_url: Option<String>) -> Value {
    let me = v
        .live
        .as_ref()
        .and_then(|l| l.me.clone())
        .or(v.record.me.clone());
    let s = v.status();
    let mut out = json!({
        "session_id": v.record.id,
        "connected": s == Status::Connected,
        "status": wrapper_status(s),
        "phone_number": me.map(|m| format!("+{}", m.phone)),
        "qr_code": qr_data_url,
        "details": {"status": s, "battery": null, "plugged": null},
    });
    if let Some(e) = v.error() {
        out["details"]["error"] = json!(e);
    }
    out
}

// ---- open-wa shapes

/// open-wa's connection STATE for a session status.
pub fn state(s: Status) -> &'static str {
    match s {
        Status::Connected => "CONNECTED",
        Status::Starting => "OPENING",
        Status::ScanQr | Status::LoggedOut => "UNPAIRED",
        Status::Disconnected => "DISCONNECTED",
        Status::Stopped | Status::Failed | Status::Incompatible => "UNLAUNCHED",
    }
}

fn wid_obj(id: &str) -> Value {
    let (user, server) = id.split_once('@').unwrap_or((id, "c.us"));
    json!({"server": server, "user": user, "_serialized": id})
}

/// open-wa's message type for ours.
fn message_type(kind: &str) -> &'static str {
    match kind {
        "text" => "chat",
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        "ptt" => "ptt",
        "contact" => "vcard",
        "poll" => "poll_creation",
        "event" => "event_creation",
        "document" => "document",
        "sticker" => "sticker",
        "location" => "location",
        _ => "unknown",
    }
}

fn ack_number(ack: &Value) -> i64 {
    match ack.as_str().unwrap_or("") {
        "failed" => -1,
        "pending" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "played" => 4,
        _ => 0,
    }
}

/// A contact as open-wa shows one.
fn contact(id: &str, name: Option<&str>, is_me: bool) -> Value {
    let user = user_of(id);
    let formatted = name.map(String::from).unwrap_or_else(|| format!("+{user}"));
    json!({
        "id": id, "name": name, "pushname": name, "shortName": name, "formattedName": formatted,
        "isMe": is_me, "isMyContact": false, "isBusiness": false, "isEnterprise": false,
        "isPSA": false, "isUser": id.ends_with("@c.us") || id.ends_with("@lid"), "isWAContact": true,
        "labels": [], "msgs": null, "statusMute": false, "type": "in", "verifiedLevel": 0,
        // Always there in open-wa (`sender.profilePicThumbObj.eurl` is
        // read without a check); the picture is getProfilePicFromServer's.
        "profilePicThumbObj": {},
    })
}

/// Who wrote a message, as open-wa serializes its `senderObj` (the
/// sender's contact, as getContact has it): one in the address book by the
/// name saved there, anyone else by their number; `pushname` is the name
/// they go by.
fn sender(id: &str, pushname: Option<&str>, saved: &Value, is_me: bool) -> Value {
    let name = saved["name"].as_str();
    let mut v = contact(id, name, is_me);
    v["pushname"] = json!(pushname);
    v["shortName"] = json!(saved["short_name"].as_str().or(name));
    v["isMyContact"] = json!(name.is_some());
    v["type"] = json!(if name.is_some() { "in" } else { "out" });
    v
}

/// Bytes as open-wa's decryptMedia answers them: a data URL.
pub fn data_url(mimetype: Option<&str>, bytes: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:{};base64,{}",
        mimetype.unwrap_or("application/octet-stream"),
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A stored message (the native payload) as an open-wa Message. `base`:
/// where clients reach this daemon, for the media's `clientUrl`.
pub fn message(p: &Value, base: &str) -> Value {
    let s = |k: &str| p[k].as_str();
    let id = s("id").unwrap_or("");
    let chat = s("chat").unwrap_or("");
    let from_me = p["from_me"].as_bool().unwrap_or(false);
    let kind = s("type").unwrap_or("other");
    let is_media = !matches!(
        kind,
        "text" | "location" | "contact" | "poll" | "event" | "other"
    );
    let is_group = chat.ends_with("@g.us");
    // The author: by phone when WhatsApp shows it, else by the privacy id
    // they wrote under (in a group, `from` is the group itself).
    let sender_id = match (p["sender"]["phone"].as_str(), p["sender"]["lid"].as_str()) {
        (Some(phone), _) => format!("{phone}@c.us"),
        (None, Some(lid)) => lid.to_string(),
        (None, None) => s("from").unwrap_or(chat).to_string(),
    };
    let name = p["sender"]["name"].as_str();
    let saved = &p["sender"]["saved"];
    let cards: Vec<&str> = p["vcards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let body = match kind {
        // open-wa's body of a contact card is the vCard itself.
        "contact" => cards.first().copied(),
        // WhatsApp Web's body of an event is its name.
        "event" => p["event"]["name"].as_str(),
        _ if is_media => s("caption"),
        _ => s("text"),
    }
    .unwrap_or("");
    let t = p["timestamp"].as_i64().unwrap_or(0);
    let mut m = json!({
        "id": id,
        "body": body,
        "content": body,
        "text": body,
        "type": message_type(kind),
        "t": t,
        "timestamp": t,
        "notifyName": name.unwrap_or(""),
        "from": s("from").unwrap_or(if from_me { "" } else { chat }),
        "to": s("to").unwrap_or(if from_me { chat } else { "" }),
        "self": if from_me { "out" } else { "in" },
        "ack": ack_number(&p["ack"]),
        "fromMe": from_me,
        "chatId": chat,
        "isGroupMsg": is_group,
        "author": if is_group { Value::from(sender_id.clone()) } else { Value::Null },
        "sender": sender(&sender_id, name, saved, from_me),
        "isMedia": is_media,
        "isMMS": is_media,
        "isNewMsg": true,
        "isNotification": false,
        "isPSA": false,
        "isForwarded": p["forwarded"].as_bool().unwrap_or(false),
        "forwardingScore": p["forwarding_score"].as_u64().unwrap_or(0),
        "broadcast": false,
        "star": p["starred"].as_bool().unwrap_or(false),
        "isViewOnce": p["view_once"].as_bool().unwrap_or(false),
        "invis": false,
        "local": false,
        "labels": [],
        "mentionedJidList": p["mentions"].as_array().cloned().unwrap_or_default(),
        "caption": s("caption"),
        "mimetype": p["media"]["mimetype"],
        "filename": p["media"]["filename"],
        // open-wa hands on WhatsApp Web's seconds (a string there).
        "duration": p["media"]["duration"].as_u64().map(|d| d.to_string()),
        "quotedMsg": s("reply_to").map(|r| quoted_raw(r, &p["quoted"])),
        "quotedMsgObj": s("reply_to").map(|r| quoted_message(r, &p["quoted"], chat)),
        "isQuotedMsgAvailable": s("reply_to").is_some(),
        // The chat as open-wa serializes it with each message: a group by
        // its subject when the message came.
        "chat": self::chat(&ChatInfo {
            id: chat.to_string(),
            name: match (is_group, from_me) {
                (true, _) => s("chat_name").map(String::from),
                (false, true) => None,
                // A person's chat: by the name saved, else the one they go by.
                (false, false) => saved["name"].as_str().or(name).map(String::from),
            },
            timestamp: Some(t),
            ..Default::default()
        }),
    });
    // A person's chat: its contact is who wrote, as the sender is named.
    if !is_group && !from_me && sender_id == chat {
        m["chat"]["contact"] = m["sender"].clone();
    }
    // A group's chat carries its metadata, as open-wa serializes it: its
    // id and subject here (`chat.groupMetadata.id` is how bots name the
    // group); getGroupMembers has its members.
    if is_group {
        m["chat"]["groupMetadata"] = json!({"id": wid_obj(chat), "subject": s("chat_name")});
    }
    // (A view-once message received is its receiver's phone's only.)
    let here = from_me || p["view_once"].as_bool() != Some(true);
    if let Some(url) = p["media"]["url"].as_str().filter(|_| here) {
        // Where wabridge keeps the media (fetch it with the API key).
        m["clientUrl"] = json!(match url.starts_with('/') {
            true => format!("{}{url}", base.trim_end_matches('/')),
            false => url.to_string(),
        });
    }
    if let Some(inv) = p["group_invite"].as_object() {
        // As WhatsApp Web's message of a private group invite keeps it.
        m["type"] = json!("groups_v4_invite");
        m["inviteCode"] = json!(inv.get("code"));
        m["inviteCodeExp"] = json!(
            inv.get("expires")
                .and_then(Value::as_i64)
                .map(|e| e.to_string())
        );
        m["inviteGrp"] = json!(inv.get("group"));
        m["inviteGrpName"] = json!(inv.get("name"));
        m["comment"] = json!(p["text"].as_str());
    }
    if kind == "event" {
        // As WhatsApp Web's message of an event keeps it.
        let e = &p["event"];
        m["eventName"] = e["name"].clone();
        m["eventDescription"] = e["description"].clone();
        m["eventStartTime"] = e["start"].clone();
        m["eventEndTime"] = e["end"].clone();
        m["eventJoinLink"] = e["join_link"].clone();
        m["isEventCanceled"] = json!(e["canceled"].as_bool().unwrap_or(false));
        if let Some(place) = e["location"].as_object() {
            // A place by its name only has no coordinates (not 0, 0).
            let mut at = json!({"name": place.get("name")});
            if let (Some(lat), Some(lng)) = (
                place.get("lat").and_then(Value::as_f64),
                place.get("lng").and_then(Value::as_f64),
            ) {
                at["degreesLatitude"] = json!(lat);
                at["degreesLongitude"] = json!(lng);
            }
            m["eventLocation"] = at;
        }
    }
    if kind == "location" {
        m["lat"] = p["location"]["lat"].clone();
        m["lng"] = p["location"]["lng"].clone();
        // WhatsApp's `loc`: a named place's name and address, one per line.
        let loc: Vec<&str> = ["name", "address"]
            .iter()
            .filter_map(|k| p["location"][*k].as_str())
            .collect();
        if !loc.is_empty() {
            m["loc"] = json!(loc.join("\n"));
        }
    }
    if cards.len() > 1 {
        m["type"] = json!("multi_vcard");
        m["vcardList"] = json!(
            cards
                .iter()
                .map(|v| json!({"vcard": v}))
                .collect::<Vec<_>>()
        );
    }
    if p["revoked"] == true {
        m["type"] = json!("revoked");
    }
    m
}

/// A reply's `quotedMsg`: what WhatsApp carries of the quoted message
/// (its type and body). Only the id for a reply stored before wabridge kept
/// the rest.
fn quoted_raw(id: &str, q: &Value) -> Value {
    let mut raw = json!({"id": id});
    if let Some(kind) = q["type"].as_str() {
        raw["type"] = json!(message_type(kind));
        raw["body"] = json!(q["text"].as_str().unwrap_or(""));
    }
    raw
}

/// A reply's `quotedMsgObj`: the quoted message as a Message, from what the
/// reply carries of it (the quoted message itself may never have reached
/// this session).
fn quoted_message(id: &str, q: &Value, chat: &str) -> Value {
    let mut m = quoted_raw(id, q);
    let from_me = id.starts_with("true_");
    let is_group = chat.ends_with("@g.us");
    m["fromMe"] = json!(from_me);
    m["chatId"] = json!(chat);
    m["isGroupMsg"] = json!(is_group);
    if let Some(body) = m.get("body").cloned() {
        m["content"] = body;
    }
    if let Some(author) = q["from"].as_str() {
        m["sender"] = contact(author, None, from_me);
        m["author"] = if is_group { json!(author) } else { Value::Null };
        // WhatsApp's `from` of a group message is the group, unless ours.
        m["from"] = json!(if is_group && !from_me { chat } else { author });
    }
    m
}

/// The listeners an open-wa webhook may be registered for, each with the
/// events that bring it. (A listener shares its events with another: one
/// registered for `onLogout` hears `onStateChanged` too.)
pub const LISTENERS: &[(&str, &[&str])] = &[
    ("onMessage", &["message"]),
    ("onAnyMessage", &["message.any"]),
    ("onAck", &["message.ack"]),
    ("onMessageDeleted", &["message.revoked"]),
    ("onStateChanged", &["session.status"]),
    ("onLogout", &["session.status"]),
    ("onAddedToGroup", &["group.join"]),
    (
        "onGlobalParticipantsChanged",
        &["group.join", "group.leave", "group.update"],
    ),
    ("onGroupChange", &["group.update"]),
    ("onPollVote", &["message.poll_vote"]),
    ("onIncomingCall", &["call.received"]),
    ("onGroupApprovalRequest", &["group.membership_request"]),
    ("onRemovedFromGroup", &["group.leave"]),
    ("onReaction", &["message.reaction"]),
    ("onChatState", &["presence.update"]),
    ("onChatDeleted", &["chat.removed"]),
];

/// Listeners neither `all` nor a `*` webhook brings: they are heard only
/// where named (a post for every typing notice and going offline).
const NAMED_ONLY: &[&str] = &["onChatState"];

/// The events a webhook needs for these listeners (`all`: every one), and
/// the listeners it will serve; the others are not served here.
pub fn listener_events(asked: &[String]) -> (Vec<String>, Vec<&'static str>) {
    let all = asked.iter().any(|a| a == "all");
    let mut events: Vec<String> = Vec::new();
    let mut served = Vec::new();
    for (name, kinds) in LISTENERS {
        if (all && !NAMED_ONLY.contains(name)) || asked.iter().any(|a| a == name) {
            served.push(*name);
            for k in *kinds {
                if !events.iter().any(|e| e == k) {
                    events.push(k.to_string());
                }
            }
        }
    }
    (events, served)
}

/// The listeners a webhook's events bring.
pub fn listeners_of(events: &[String]) -> Vec<&'static str> {
    let every = events.iter().any(|e| e == "*");
    LISTENERS
        .iter()
        .filter(|(name, kinds)| {
            (every && !NAMED_ONLY.contains(name))
                || kinds.iter().all(|k| events.iter().any(|e| e == k))
        })
        .map(|(name, _)| *name)
        .collect()
}

/// Where a webhook registered through the EASY API keeps the listener
/// names it was registered for: several share their events (onAddedToGroup,
/// onGroupChange and onRemovedFromGroup hear what onGlobalParticipantsChanged
/// hears), and a delivery is one body, named by what was asked for.
const LISTENERS_META: &str = "openwa_listeners";

/// The `meta` a registration keeps: the listeners served.
pub fn listeners_meta(served: &[&str]) -> std::collections::BTreeMap<String, String> {
    [(LISTENERS_META.to_string(), served.join(","))].into()
}

/// The listeners a webhook serves: those it was registered for, or (one
/// set through the native API) those its events bring.
pub fn hook_listeners(h: &crate::domain::Webhook) -> Vec<&'static str> {
    match h.meta.get(LISTENERS_META) {
        Some(names) => LISTENERS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| names.split(',').any(|n| n == *name))
            .collect(),
        None => listeners_of(&h.events),
    }
}

/// The id open-wa gives a registered webhook: here stable, from the
/// session and the URL (the same in every body it posts, `webhook_id`).
pub fn hook_id(session: &crate::domain::SessionId, url: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{session}\0{url}").as_bytes());
    h[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A webhook as open-wa's `Webhook`: `{id, url, events, requestConfig, ts}`
/// (the headers it posts with, their values not shown; `ts` the time of
/// this registration or change, 0 in a list: the time is not kept).
pub fn registered_hook(
    session: &crate::domain::SessionId,
    h: &crate::domain::Webhook,
    ts: i64,
) -> Value {
    json!({
        "id": hook_id(session, &h.url),
        // As the API shows a webhook: a query or a password masked.
        "url": crate::domain::webhook::masked_url(&h.url),
        "events": hook_listeners(h),
        "requestConfig": {"headers": h.headers.keys().map(|k| (k.clone(), json!("***"))).collect::<serde_json::Map<_, _>>()},
        "ts": ts,
    })
}

/// The Message open-wa's onAck carries: the message acked, with its new
/// ack; for one this account has not stored, what the ack itself tells.
pub fn acked_message(p: &Value, base: &str) -> Value {
    if let Some(m) = p.get("message").filter(|m| m.is_object()) {
        return message(m, base);
    }
    let id = p["id"].as_str().unwrap_or("");
    let chat = p["chat"].as_str().unwrap_or("");
    json!({
        "id": id, "ack": ack_number(&p["ack"]), "chatId": chat, "to": chat,
        "from": p["me"].as_str().unwrap_or(""),
        "fromMe": id.starts_with("true_"), "self": "out", "isGroupMsg": chat.ends_with("@g.us"),
    })
}

/// A group's participants changed (`group.join`, `group.leave`, or admins
/// in `group.update`): `onAddedToGroup` with the group as a Chat when this
/// account was added, else `onGlobalParticipantsChanged`'s
/// `{by?, action, who, chat}`: `add` (by an admin, or `by: "invite"` when
/// someone joined by link), `remove` (no `by` when someone left),
/// `promote`, `demote`. `who` is the participant; an array when several
/// changed at once, as open-wa's declared type has it.
/// `global`: the webhook serves onGlobalParticipantsChanged, which then
/// tells of this account put out of a group too (one body per event).
pub fn participants_changed(p: &Value, global: bool) -> (&'static str, Value) {
    let group = p["group"].as_str().unwrap_or("");
    let who: Vec<&str> = p["participants"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let raw = p["action"].as_str().unwrap_or("");
    let me = p["me"].as_str();
    let mine = me.is_some_and(|me| who.contains(&me));
    if matches!(raw, "add" | "create") && mine {
        // The group as the page had it: its subject and every member.
        if let Ok(g) = serde_json::from_value::<GroupInfo>(p["group_info"].clone()) {
            return ("onAddedToGroup", group_as_chat(&g));
        }
        let chat = json!({
            "id": group, "isGroup": true, "kind": "group", "canSend": true,
            "msgs": null,
            "groupMetadata": {"id": group, "participants": who.iter().map(|w| json!({"id": w})).collect::<Vec<_>>()},
        });
        return ("onAddedToGroup", chat);
    }
    // Put out by an admin (not left): the group as a Chat.
    if raw == "remove" && mine && !global {
        let chat = json!({
            "id": group, "isGroup": true, "kind": "group", "canSend": false,
            "msgs": null, "isReadOnly": true,
        });
        return ("onRemovedFromGroup", chat);
    }
    let (action, by) = match raw {
        "add" | "create" => ("add", p["author"].as_str()),
        "join" | "invite" => ("add", Some("invite")),
        "remove" => ("remove", p["author"].as_str()),
        "leaver" | "leave" => ("remove", None),
        "promote" => ("promote", p["author"].as_str()),
        "demote" => ("demote", p["author"].as_str()),
        other => (other, p["author"].as_str()),
    };
    let mut data = json!({
        "action": action,
        "who": match who.as_slice() {
            [one] => json!(one),
            several => json!(several),
        },
        "chat": group,
    });
    if let Some(by) = by {
        data["by"] = json!(by);
    }
    ("onGlobalParticipantsChanged", data)
}

/// A reaction as open-wa's onReaction hands it on (`ReactionEvent`): the
/// message, its reactions grouped by emoji, ours among them, and whether
/// this one is someone's first (`add`) or replaces theirs (`change`, a
/// reaction taken back too). For a message this account does not have,
/// what the reaction tells.
pub fn reaction(p: &Value, base: &str) -> Value {
    let target = p.get("target").filter(|t| t.is_object());
    let parent = p["message"].as_str().unwrap_or("");
    let listed: Vec<Value> = match target {
        Some(t) => t["reactions"].as_array().cloned().unwrap_or_default(),
        None if p["emoji"].as_str().is_some_and(|e| !e.is_empty()) => vec![p.clone()],
        None => vec![],
    };
    let mut reactions: Vec<Value> = Vec::new();
    for r in &listed {
        let (Some(emoji), Some(sender)) = (r["emoji"].as_str(), r["sender"].as_str()) else {
            continue;
        };
        // WhatsApp Web names only the reaction it just told of.
        let id = (sender == p["sender"].as_str().unwrap_or_default()).then(|| p["id"].clone());
        let record = json!({
            "id": id, "msgKey": id, "parentMsgKey": parent, "orphan": 0, "read": true,
            "reactionText": emoji, "senderUserJid": sender,
            // WhatsApp Web keeps a reaction's time in ms.
            "timestamp": r["timestamp"].as_i64().unwrap_or(0).saturating_mul(1000),
        });
        let mine = r["from_me"].as_bool().unwrap_or(false);
        match reactions.iter_mut().find(|g| g["aggregateEmoji"] == emoji) {
            Some(g) => {
                if let Some(senders) = g["senders"].as_array_mut() {
                    senders.push(record);
                }
                g["hasReactionByMe"] = json!(g["hasReactionByMe"] == true || mine);
            }
            None => reactions.push(json!({
                "aggregateEmoji": emoji, "id": emoji, "hasReactionByMe": mine, "senders": [record],
            })),
        }
    }
    let by_me = reactions
        .iter()
        .find(|g| g["hasReactionByMe"] == true)
        .cloned()
        .unwrap_or(Value::Null);
    let replaced = p["previous_emoji"].is_string() || p["emoji"].as_str() == Some("");
    json!({
        "message": match target {
            Some(t) => message(t, base),
            None => json!({"id": parent, "chatId": p["chat"]}),
        },
        "reactionByMe": by_me,
        "reactions": reactions,
        "type": if replaced { "change" } else { "add" },
    })
}

/// A contact's presence as open-wa's onChatState hands it on: `{chat,
/// user, state}`, the state as WhatsApp tells it (`available`,
/// `unavailable`, `composing`, `recording`, `paused`).
pub fn chat_state(p: &Value) -> Value {
    // In a group, the member in that state.
    let user = match p["participants"].as_array() {
        Some(ps) => ps
            .iter()
            .find(|m| m["state"] == p["state"])
            .or(ps.first())
            .map_or(Value::Null, |m| m["id"].clone()),
        None => p["id"].clone(),
    };
    json!({"chat": p["id"], "user": user, "state": p["state"]})
}

/// A change to a group's info, as open-wa's `onGroupChange`
/// (GenericGroupChangeEvent): `type` is WhatsApp's notice subtype, `body`
/// the new subject or description, or "on"/"off" for a setting.
pub fn group_change(ev: &crate::domain::Event) -> Value {
    let p = &ev.payload;
    let mut meta = json!({"id": p["group"]});
    let (kind, body) = if let Some(s) = p["subject"].as_str() {
        meta["subject"] = json!(s);
        ("subject", json!(s))
    } else if let Some(d) = p["description"].as_str() {
        meta["desc"] = json!(d);
        ("description", json!(d))
    } else if let Some(set) = p["picture"].as_bool() {
        // WhatsApp's notice of a new picture carries no text.
        ("picture", json!(if set { "set" } else { "removed" }))
    } else {
        let kind = if p["announce"].is_boolean() {
            "announce"
        } else {
            "restrict"
        };
        let on = p[kind].as_bool().unwrap_or(false);
        meta[kind] = json!(on);
        (kind, json!(if on { "on" } else { "off" }))
    };
    // `id` is WhatsApp's notice (a MessageId), `author` a Contact, as
    // open-wa declares them.
    let id = p["id"].as_str().filter(|i| !i.is_empty()).unwrap_or(&ev.id);
    let author = p["author"].as_str().map_or(Value::Null, |a| {
        contact(a, None, p["me"].as_str() == Some(a))
    });
    json!({"id": id, "type": kind, "body": body, "author": author, "groupMetadata": meta})
}

/// A request to join, as open-wa's `onGroupApprovalRequest` hands it on:
/// WhatsApp's notice in the group, a Message whose `author` asks.
pub fn approval_request(ev: &crate::domain::Event) -> Value {
    let p = &ev.payload;
    let id = p["id"].as_str().filter(|i| !i.is_empty()).unwrap_or(&ev.id);
    json!({
        "id": id, "type": "gp2", "subtype": "membership_approval_request",
        "body": "", "t": p["timestamp"], "timestamp": p["timestamp"],
        "from": p["group"], "chatId": p["group"], "to": p["group"],
        "author": p["requester"], "sender": {"id": p["requester"]},
        "isGroupMsg": true, "fromMe": false, "recipients": [p["requester"]],
    })
}

/// A call that rings, as open-wa's `onIncomingCall` hands it on (its
/// `Call`): WhatsApp Web never takes one itself, so it is not handled
/// locally, and it rings (`INCOMING_RING`). `offerTime` in seconds.
pub fn incoming_call(p: &Value) -> Value {
    json!({
        "id": p["id"],
        "peerJid": p["from"],
        "offerTime": p["timestamp"],
        "isVideo": p["is_video"],
        "isGroup": p["is_group"],
        "canHandleLocally": false,
        "outgoing": false,
        "webClientShouldHandle": false,
        "participants": [],
        "State": "INCOMING_RING",
    })
}

/// A vote, as open-wa's `onPollVote` hands it on: the whole poll as it
/// stands (PollData: options with counts, every voter's choice).
pub fn poll_data(p: &Value) -> Value {
    let poll = &p["poll"];
    let options: Vec<&str> = poll["options"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let local_id = |name: &str| options.iter().position(|o| *o == name);
    let named: Vec<Value> = options
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"name": name, "localId": i}))
        .collect();
    let votes: Vec<Value> = poll["votes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| {
            let picked: Vec<&str> = v["selected"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            json!({
                "sender": v["voter"],
                "selectedOptionValues": picked,
                "selectedOptionLocalIds": picked.iter().filter_map(|n| local_id(n)).collect::<Vec<_>>(),
                "senderTimestampMs": v["timestamp"].as_i64().unwrap_or(0) * 1000,
                "parentMsgKey": p["message"],
                "pollOptions": named,
            })
        })
        .collect();
    let counts: Vec<Value> = options
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let n = votes
                .iter()
                .filter(|v| {
                    v["selectedOptionLocalIds"]
                        .as_array()
                        .is_some_and(|a| a.contains(&json!(i)))
                })
                .count();
            json!({"name": name, "localId": i, "count": n})
        })
        .collect();
    let total: u64 = counts.iter().filter_map(|c| c["count"].as_u64()).sum();
    json!({
        "totalVotes": total,
        "pollOptions": counts,
        "votes": votes,
        "pollMessage": {"id": p["message"], "chatId": p["chat"], "type": "poll_creation", "pollName": poll["name"]},
    })
}

/// A chat as open-wa's getAllChats shows one.
pub fn chat(c: &ChatInfo) -> Value {
    let is_group = c.id.ends_with("@g.us");
    let title = c
        .name
        .clone()
        .unwrap_or_else(|| format!("+{}", user_of(&c.id)));
    json!({
        "id": c.id, "name": c.name, "formattedTitle": title, "isGroup": is_group,
        "kind": if is_group { "group" } else { "chat" }, "unreadCount": c.unread, "t": c.timestamp,
        "archive": c.archived, "pin": u8::from(c.pinned), "isReadOnly": false,
        "muteExpiration": c.muted_until.unwrap_or(0), "isMuted": c.muted_until.is_some(), "notSpam": true,
        "contact": if is_group { Value::Null } else { contact(&c.id, c.name.as_deref(), false) },
        "msgs": null,
    })
}

/// A chat deleted, as open-wa's `onChatDeleted` hands it on: the Chat as
/// it was (nothing of how it was kept is known once it is gone).
pub fn deleted_chat(p: &Value) -> Value {
    chat(&ChatInfo {
        id: p["chat"].as_str().unwrap_or_default().to_string(),
        name: p["name"].as_str().map(String::from),
        unread: 0,
        timestamp: p["timestamp"].as_i64(),
        archived: false,
        pinned: false,
        muted_until: None,
        marked_unread: false,
        labels: vec![],
    })
}

/// A group chat as getAllGroups (and getAllChats) show it: the chat, with
/// its `groupMetadata` when the group's details are known.
pub fn group_chat(c: &ChatInfo, g: Option<&GroupInfo>) -> Value {
    let mut v = chat(c);
    if let Some(g) = g {
        v["groupMetadata"] = group_metadata(g);
        if c.name.is_none()
            && let Some(subject) = &g.subject
        {
            v["name"] = json!(subject);
            v["formattedTitle"] = json!(subject);
        }
    }
    v
}

/// A participant as messages name their authors: by phone when WhatsApp
/// shows it (`…@c.us`), else by privacy id, so that a bot's
/// `participants.find(p => p.id === message.author)` finds them.
pub fn participant_id(p: &Participant) -> String {
    match &p.phone {
        Some(phone) => format!("{phone}@c.us"),
        None => p.id.clone(),
    }
}

/// open-wa's GroupMetadata: ids as `{server, user, _serialized}`.
pub fn group_metadata(g: &GroupInfo) -> Value {
    json!({
        "id": wid_obj(&g.id), "creation": g.created, "owner": g.owner.as_deref().map(wid_obj),
        "subject": g.subject, "desc": g.description, "announce": g.announce, "restrict": g.restrict,
        "ephemeralDuration": g.ephemeral,
        // Where it stands in a community, as WhatsApp Web's metadata says.
        "isParentGroup": false, "isParentGroupClosed": false, "defaultSubgroup": g.community_announcements,
        "parentGroup": g.community.as_deref().map(wid_obj),
        "groupType": match (&g.community, g.community_announcements) {
            (Some(_), true) => "LINKED_ANNOUNCEMENT_GROUP",
            (Some(_), false) => "LINKED_SUBGROUP",
            (None, _) => "DEFAULT",
        },
        "participants": g.participants.iter().map(|p| json!({
            "id": wid_obj(&participant_id(p)), "isAdmin": p.admin, "isSuperAdmin": p.super_admin,
        })).collect::<Vec<_>>(),
        "pendingParticipants": [],
    })
}

/// A community as open-wa's getCommunityInfo shows it: its GroupMetadata
/// (a parent group, `groupType` COMMUNITY) with `subGroups`, its groups'
/// (the announcement group's first).
pub fn community_metadata(c: &Community, groups: &[GroupInfo]) -> Value {
    let own = GroupInfo {
        id: c.id.clone(),
        subject: c.name.clone(),
        owner: c.owner.clone(),
        created: c.created,
        description: c.description.clone(),
        restrict: true,
        ..Default::default()
    };
    let mut v = group_metadata(&own);
    v["participants"] = json!(
        c.participants
            .iter()
            .flatten()
            .map(|p| json!({"id": wid_obj(&participant_id(p)), "isAdmin": p.admin, "isSuperAdmin": p.super_admin}))
            .collect::<Vec<_>>()
    );
    v["isParentGroup"] = json!(true);
    v["groupType"] = json!("COMMUNITY");
    v["defaultSubgroup"] = json!(false);
    v["joinedSubgroups"] = json!(groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>());
    v["subGroups"] = json!(groups.iter().map(group_metadata).collect::<Vec<_>>());
    v
}

/// One entry of getCommunityParticipant(Id)s or getCommunityAdmin(Id)s:
/// `{id, participants | admins, subgroup}`, each an id or a Contact.
pub fn community_members(
    g: &GroupInfo,
    subgroup: bool,
    admins_only: bool,
    ids_only: bool,
) -> Value {
    let who = g
        .participants
        .iter()
        .filter(|p| !admins_only || p.admin || p.super_admin)
        .map(|p| match ids_only {
            true => json!(participant_id(p)),
            false => contact(&participant_id(p), None, false),
        })
        .collect::<Vec<_>>();
    let key = if admins_only {
        "admins"
    } else {
        "participants"
    };
    json!({"id": g.id, key: who, "subgroup": subgroup})
}

/// A group's members as getGroupMembers shows them: Contacts, with what
/// the address book `known` has of each (by id, phone or privacy id), and
/// this account (`me`) as `isMe`.
/// `me`: this account's ids (its phone's, and its privacy id's where the
/// group lists members by privacy id).
pub fn members(g: &GroupInfo, known: &[Contact], me: &[String]) -> Vec<Value> {
    let mut by_id: std::collections::HashMap<String, &Contact> = std::collections::HashMap::new();
    for c in known {
        by_id.insert(c.id.clone(), c);
        if let Some(p) = &c.phone {
            by_id.insert(format!("{p}@c.us"), c);
        }
        if let Some(l) = &c.lid {
            by_id.insert(l.clone(), c);
        }
    }
    g.participants
        .iter()
        .map(|p| {
            let id = participant_id(p);
            let mut v = match by_id.get(&id) {
                Some(c) => known_contact(c),
                None => contact(&id, None, false),
            };
            v["id"] = json!(id);
            v["isMe"] = json!(me.contains(&id));
            v
        })
        .collect()
}

/// createGroup's GroupChatCreationResponse: a code per person asked for,
/// as WhatsApp answered it (200 in the group, 403 not added for their
/// privacy settings: open-wa's bots invite them instead); one WhatsApp
/// did not answer for, by whether the group holds them.
pub fn group_created(a: &crate::core::GroupAfter, asked: &[Wid]) -> Value {
    let g = &a.group;
    let inside: Vec<String> = g.participants.iter().map(participant_id).collect();
    json!({
        "status": 200,
        "gid": wid_obj(&g.id),
        "participants": asked.iter().map(|w| {
            let told = a.adds.iter().find(|o| o.id == w.as_str()).and_then(|o| o.code);
            let code = told.unwrap_or(if inside.iter().any(|p| p == w.as_str()) { 200 } else { 403 });
            json!({ w.as_str(): {"code": code} })
        }).collect::<Vec<_>>(),
    })
}

/// A group WhatsApp told of that is not among the chats yet (just joined).
pub fn group_as_chat(g: &GroupInfo) -> Value {
    let c = ChatInfo {
        id: g.id.clone(),
        name: g.subject.clone(),
        ..Default::default()
    };
    group_chat(&c, Some(g))
}

/// A contact as open-wa shows one: `name` and `shortName` are the address
/// book's, `pushname` the name they go by, `formattedName` what WhatsApp
/// Web shows (the saved name, else the number).
pub fn known_contact(c: &Contact) -> Value {
    let mut v = contact(&c.id, c.name.as_deref(), false);
    v["formattedName"] = match c.name.as_deref() {
        Some(n) => json!(n),
        None => json!(format!("+{}", c.phone.as_deref().unwrap_or(user_of(&c.id)))),
    };
    v["shortName"] = json!(c.short_name);
    v["pushname"] = json!(c.pushname);
    v["isMyContact"] = json!(c.saved);
    v["isBusiness"] = json!(c.business);
    v["type"] = json!(if c.saved { "in" } else { "out" });
    v
}

/// getMessageInfo's MessageInfo: each recipient in the list of each stage
/// WhatsApp Web has a time for (`t` in seconds, as open-wa's).
pub fn message_info(id: &str, r: &crate::core::Receipts) -> Value {
    let stage = |at: fn(&crate::core::Receipt) -> Option<i64>| -> Vec<Value> {
        r.recipients
            .iter()
            .filter_map(|x| at(x).map(|t| json!({"id": x.id, "t": t})))
            .collect()
    };
    json!({
        "id": id,
        "deliveryRemaining": r.delivery_remaining,
        "readRemaining": r.read_remaining,
        "playedRemaining": r.played_remaining,
        "delivery": stage(|x| x.delivered_at),
        "read": stage(|x| x.read_at),
        "played": stage(|x| x.played_at),
    })
}

/// getMessageReaders: who read (or played) it, as Contacts, each with `t`,
/// when.
pub fn readers(r: &crate::core::Receipts) -> Vec<Value> {
    r.recipients
        .iter()
        .filter_map(|x| {
            let t = x.read_at.or(x.played_at)?;
            let mut c = contact(&x.id, None, false);
            c["t"] = json!(t);
            Some(c)
        })
        .collect()
}

/// getContact: the one WhatsApp Web knows, else null (as open-wa).
pub fn contact_of(known: Option<&Contact>) -> Value {
    known.map_or(Value::Null, known_contact)
}

/// getAllContacts: everyone WhatsApp Web knows.
pub fn contacts(known: &[Contact]) -> Vec<Value> {
    known.iter().map(known_contact).collect()
}

/// checkNumberStatus's NumberCheck: `numberExists` only when it exists.
/// The name a contact card shows (its `FN`, else its `N`'s given and
/// family names), as open-wa's getVCards gives it; empty where the card
/// has none. (A card received is shown whatever else it holds.)
pub fn card_name(vcard: &str) -> String {
    let value = |name: &str| {
        vcard.lines().find_map(|l| {
            let (head, v) = l.split_once(':')?;
            let prop = head.split(';').next()?.trim();
            // Grouped properties (`item1.FN`) too.
            let prop = prop.rsplit('.').next().unwrap_or(prop);
            prop.eq_ignore_ascii_case(name)
                .then(|| v.trim().replace("\\,", ",").replace("\\;", ";"))
        })
    };
    if let Some(full) = value("FN").filter(|v| !v.is_empty()) {
        return full;
    }
    let n = value("N").unwrap_or_default();
    let mut parts = n.split(';');
    let (family, given) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    [given.trim(), family.trim()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// open-wa's BusinessProfile from what WhatsApp tells of a business
/// (`business`: the native profile's); null for a person's. Only what
/// WhatsApp Web gives is there: its categories by name.
pub fn business_profile(who: &Wid, business: &Value) -> Value {
    if !business.is_object() {
        return Value::Null;
    }
    let categories: Vec<Value> = business["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|name| json!({"localized_display_name": name}))
        .collect();
    json!({
        "id": who.as_str(),
        "description": business["description"],
        "email": business["email"],
        "website": business["website"].as_array().cloned().unwrap_or_default(),
        "address": business["address"],
        "categories": categories,
    })
}

pub fn number_check(asked: &Wid, found: Option<&str>) -> Value {
    match found {
        Some(id) => json!({"id": wid_obj(id), "status": 200, "isBusiness": false,
                           "canReceiveMessage": true, "numberExists": true}),
        // The id as asked, a string (open-wa's own answer for one not found).
        None => json!({"id": asked.as_str(), "status": 404, "isBusiness": false,
                       "canReceiveMessage": false}),
    }
}

pub fn me(v: &SessionView) -> Value {
    let me = v
        .live
        .as_ref()
        .and_then(|l| l.me.clone())
        .or(v.record.me.clone());
    match me {
        Some(m) => {
            let mut c = contact(&m.id, m.name.as_deref(), true);
            c["me"] = wid_obj(&m.id);
            c["wid"] = wid_obj(&m.id);
            c["pushname"] = json!(m.name);
            c
        }
        None => Value::Null,
    }
}

pub fn health(s: Status) -> Value {
    let connected = s == Status::Connected;
    json!({
        "state": state(s), "online": connected, "isPhoneDisconnected": s == Status::Disconnected,
        "isHere": true, "wapiInjected": connected, "queuedMessages": 0,
        "tryingToReachPhone": s == Status::Disconnected,
    })
}

/// Keeps the webhook's own fields; used by the openwa webhook body.
pub fn webhook_envelope(
    ts_ms: i64,
    session: &SessionId,
    id: &str,
    event: &str,
    data: Value,
    webhook_id: &str,
) -> Value {
    let mut m = Map::new();
    m.insert("ts".into(), json!(ts_ms));
    m.insert("sessionId".into(), json!(session));
    m.insert("id".into(), json!(id));
    m.insert("event".into(), json!(event));
    m.insert("data".into(), data);
    m.insert("webhook_id".into(), json!(webhook_id));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_group_invite_is_open_was_groups_v4_invite() {
        let p = json!({"id": "false_1555@c.us_AB", "chat": "1555@c.us", "from": "1555@c.us", "to": "1444@c.us",
            "type": "other", "text": "come along", "timestamp": 1_700_000_000, "ack": "delivered",
            "sender": {"phone": "1555"},
            "group_invite": {"group": "1203@g.us", "code": "AbC123", "expires": 1_900_000_000, "name": "Book club"}});
        let m = message(&p, "http://x");
        assert_eq!(
            (
                &m["type"],
                &m["inviteCode"],
                &m["inviteCodeExp"],
                &m["inviteGrp"],
                &m["inviteGrpName"],
                &m["comment"]
            ),
            (
                &json!("groups_v4_invite"),
                &json!("AbC123"),
                &json!("1900000000"),
                &json!("1203@g.us"),
                &json!("Book club"),
                &json!("come along")
            )
        );
        // A group's message's chat carries the group's id and subject.
        assert_eq!(m["chat"]["groupMetadata"], Value::Null, "no group's chat");
        let mut g = p.clone();
        g["chat"] = json!("1203@g.us");
        g["chat_name"] = json!("Bakers");
        let in_group = message(&g, "http://x");
        assert_eq!(
            in_group["chat"]["groupMetadata"],
            json!({"id": {"server": "g.us", "user": "1203", "_serialized": "1203@g.us"}, "subject": "Bakers"})
        );
    }

    #[test]
    fn this_account_is_me_in_a_group_that_lists_it_by_privacy_id() {
        let p = |id: &str, phone: Option<&str>| Participant {
            id: id.into(),
            phone: phone.map(String::from),
            admin: false,
            super_admin: false,
        };
        let g = GroupInfo {
            id: "1@g.us".into(),
            participants: vec![p("111@lid", None), p("222@lid", Some("15550002222"))],
            ..Default::default()
        };
        let me = ["15550001111@c.us".to_string(), "111@lid".to_string()];
        let got: Vec<(String, bool)> = members(&g, &[], &me)
            .iter()
            .map(|m| (m["id"].as_str().unwrap().to_string(), m["isMe"] == true))
            .collect();
        assert_eq!(
            got,
            [
                ("111@lid".to_string(), true),
                ("15550002222@c.us".to_string(), false)
            ]
        );
    }

    #[test]
    fn listeners_map_to_events_and_back() {
        let asked =
            |l: &[&str]| listener_events(&l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let (events, served) = asked(&["onMessage", "onAck", "onBattery"]);
        assert_eq!(events, ["message", "message.ack"]);
        assert_eq!(served, ["onMessage", "onAck"]);
        assert_eq!(listeners_of(&events), ["onMessage", "onAck"]);
        // Every listener but those heard only where named.
        let (all, served) = asked(&["all"]);
        let every = LISTENERS.len() - NAMED_ONLY.len();
        assert_eq!(served.len(), every);
        assert!(!all.contains(&"presence.update".to_string()), "{all:?}");
        assert_eq!(listeners_of(&all).len(), every);
        assert_eq!(listeners_of(&["*".to_string()]).len(), every);
        let (named, served) = asked(&["all", "onChatState"]);
        assert_eq!(served.len(), LISTENERS.len());
        assert!(listeners_of(&named).contains(&"onChatState"));
        assert!(asked(&["onBattery"]).0.is_empty());
    }

    /// This account put out of a group: onRemovedFromGroup, but where the
    /// webhook serves onGlobalParticipantsChanged, which tells it too.
    #[test]
    fn a_removal_of_this_account_goes_to_one_listener() {
        let p = json!({"group": "120363000000000001@g.us", "action": "remove", "author": "15551234567@c.us",
                       "participants": ["15550001111@c.us"], "me": "15550001111@c.us"});
        let (name, chat) = participants_changed(&p, false);
        assert_eq!(
            (name, chat["id"].as_str(), chat["isGroup"].as_bool()),
            (
                "onRemovedFromGroup",
                Some("120363000000000001@g.us"),
                Some(true)
            )
        );
        let (name, data) = participants_changed(&p, true);
        assert_eq!(
            (name, data["action"].as_str()),
            ("onGlobalParticipantsChanged", Some("remove"))
        );
    }

    /// A card's name as open-wa's getVCards shows it: its FN, else its N,
    /// whatever else the card holds (no number at all, for one).
    #[test]
    fn a_cards_name_is_its_fn_or_its_n() {
        assert_eq!(
            card_name("BEGIN:VCARD\nVERSION:3.0\nFN:Alice B\nEND:VCARD"),
            "Alice B"
        );
        assert_eq!(
            card_name(
                "BEGIN:VCARD\r\nN:Baker;Bea;;;\r\nTEL;waid=15551234567:+1 555 123 4567\r\nEND:VCARD"
            ),
            "Bea Baker"
        );
        assert_eq!(
            card_name("BEGIN:VCARD\nitem1.FN;CHARSET=UTF-8:Caf\\, Ltd\nEND:VCARD"),
            "Caf, Ltd"
        );
        assert_eq!(card_name("BEGIN:VCARD\nTEL:+1 555\nEND:VCARD"), "");
    }

    /// A contact types: in a chat, they are the user; in a group, the
    /// member in that state.
    #[test]
    fn chat_states_name_who() {
        let one = chat_state(&json!({"id": "15551234567@c.us", "state": "composing"}));
        assert_eq!(
            one,
            json!({"chat": "15551234567@c.us", "user": "15551234567@c.us", "state": "composing"})
        );
        let group = chat_state(
            &json!({"id": "120363000000000001@g.us", "state": "recording",
            "participants": [{"id": "15550000001@c.us", "state": "composing"}, {"id": "15550000002@c.us", "state": "recording"}]}),
        );
        assert_eq!(group["user"], "15550000002@c.us");
    }

    fn payload(kind: &str, extra: Value) -> Value {
        let mut p = json!({"id": "false_15551234567@c.us_X", "chat": "15551234567@c.us", "from": "15551234567@c.us",
            "to": "15550001111@c.us", "from_me": false, "type": kind, "text": null, "caption": null, "timestamp": 1,
            "ack": "sent", "sender": {"phone": "15551234567", "name": "Alice"}, "reply_to": null, "media": null});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    }

    #[test]
    fn places_cards_and_voice_notes_as_open_wa_shows_them() {
        let m = message(
            &payload(
                "location",
                json!({"location": {"lat": 1.5, "lng": 2.5, "name": "Cafe", "address": "Main St 1"}}),
            ),
            "http://wabridge",
        );
        assert_eq!(
            (m["type"].as_str(), m["lat"].as_f64(), m["lng"].as_f64()),
            (Some("location"), Some(1.5), Some(2.5))
        );
        assert_eq!(m["loc"], "Cafe\nMain St 1");
        let card = "BEGIN:VCARD\nFN:Bob\nEND:VCARD";
        let m = message(
            &payload("contact", json!({"vcards": [card]})),
            "http://wabridge",
        );
        assert_eq!(
            (
                m["type"].as_str(),
                m["body"].as_str(),
                m["isMedia"].as_bool()
            ),
            (Some("vcard"), Some(card), Some(false))
        );
        let m = message(
            &payload("contact", json!({"vcards": [card, card]})),
            "http://wabridge",
        );
        assert_eq!(m["type"], "multi_vcard");
        assert_eq!(m["vcardList"].as_array().unwrap().len(), 2);
        let m = message(
            &payload(
                "ptt",
                json!({"media": {"mimetype": "audio/ogg", "url": "/x", "duration": 7}}),
            ),
            "http://wabridge/",
        );
        assert_eq!(
            (
                m["type"].as_str(),
                m["isMedia"].as_bool(),
                m["duration"].as_str()
            ),
            (Some("ptt"), Some(true), Some("7"))
        );
        // Media is fetched from the daemon: an absolute URL.
        assert_eq!(m["clientUrl"], "http://wabridge/x");
        // A sender known only by a privacy id is named by it, in a group too.
        let m = message(
            &payload(
                "text",
                json!({"chat": "123-456@g.us", "from": "123-456@g.us",
            "sender": {"phone": null, "name": "Ann", "lid": "987654321@lid"}}),
            ),
            "http://wabridge",
        );
        assert_eq!(
            (m["author"].as_str(), m["sender"]["id"].as_str()),
            (Some("987654321@lid"), Some("987654321@lid"))
        );
        let m = message(
            &payload("text", json!({"text": "gone", "revoked": true})),
            "http://wabridge",
        );
        assert_eq!(m["type"], "revoked");
    }

    #[test]
    fn a_sender_is_named_as_the_address_book_has_them() {
        let key = |m: &Value| -> Vec<Value> {
            [
                "name",
                "shortName",
                "pushname",
                "formattedName",
                "isMyContact",
                "type",
            ]
            .iter()
            .map(|k| m["sender"][k].clone())
            .collect()
        };
        // Not saved: by number, and the name they go by as pushname.
        let m = message(&payload("text", json!({"text": "hi"})), "http://w");
        assert_eq!(
            key(&m),
            [
                json!(null),
                json!(null),
                json!("Alice"),
                json!("+15551234567"),
                json!(false),
                json!("out")
            ]
        );
        assert_eq!(m["chat"]["name"], "Alice");
        let m = message(
            &payload(
                "text",
                json!({"text": "hi", "sender": {"phone": "15551234567", "name": "Alice",
                    "saved": {"name": "Alice Baker", "short_name": "Alice B"}}}),
            ),
            "http://w",
        );
        assert_eq!(
            key(&m),
            [
                json!("Alice Baker"),
                json!("Alice B"),
                json!("Alice"),
                json!("Alice Baker"),
                json!(true),
                json!("in")
            ]
        );
        assert_eq!(m["chat"]["name"], "Alice Baker");
        assert_eq!(m["chat"]["contact"], m["sender"]);
    }
}
