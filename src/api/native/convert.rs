//! The native dialect's conversions, all pure: request shapes into core
//! requests, core answers into response shapes, and errors into
//! `{"error": {"code", "message"}}` with a fitting status.

use crate::api::body::BodyError;
use crate::core::{CardOf, CoreError, MediaSource, OutgoingMedia, SendRequest, Special};
use crate::domain::{DeliveryStatus, EventKind, SessionId, Status, Webhook, Wid};
use crate::session::SessionView;
use axum::http::StatusCode;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

// ---- errors

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }
    pub fn invalid(field: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("field '{field}' {why}"),
        )
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn body(&self) -> Value {
        json!(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            }
        })
    }
}

/// Every native error: a stable code to branch on and a sentence.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case (`session_not_found`, `invalid_field`, ...).
    pub code: String,
    pub message: String,
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let status = match &e {
            CoreError::SessionNotFound(_) | CoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            CoreError::SessionExists(_)
            | CoreError::NotReady(_)
            | CoreError::IdempotencyInProgress
            | CoreError::Conflict { .. } => StatusCode::CONFLICT,
            CoreError::Invalid { .. } | CoreError::NotOnWhatsApp(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            CoreError::MediaTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            CoreError::WhatsApp(_) => StatusCode::BAD_GATEWAY,
            CoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            CoreError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            CoreError::Forbidden { .. } => StatusCode::FORBIDDEN,
            CoreError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            CoreError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut a = ApiError::new(status, e.code(), e.to_string());
        a.retry_after = e.retry_after_secs();
        a
    }
}

/// A query string that cannot be read (a parameter given twice, say).
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(format!(
            "the query string cannot be read: {}",
            e.body_text()
        ))
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Malformed(m) => ApiError::bad_request(m),
            BodyError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            ),
            BodyError::Invalid { field, why } if field == "." => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the body does not fit: {why}"),
            ),
            BodyError::Invalid { field, why } => {
                ApiError::invalid(&field, format!("is invalid: {why}"))
            }
        }
    }
}

// ---- sessions

pub fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(raw).map_err(|e| ApiError::invalid("id", e))
}

/// (Clamped: humantime cannot write a year past 9999, and a record
/// brought in by an import may say anything.)
fn rfc3339(unix: i64) -> String {
    let unix = crate::domain::message::sane_time(unix) as u64;
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
        .to_string()
}

/// A stored message as the native contract types it (`text`, `image`,
/// `video`, `audio`, `document`, `sticker`, `location`, `other`): a voice
/// note is `audio` with `"voice": true`; a contact card, a poll or a
/// scheduled event is `other`, its content in `vcards`, `poll` or `event`. (The store keeps WhatsApp's
/// finer kinds, which the other dialects name in their own words.)
pub fn message(m: impl serde::Serialize) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    retype(&mut v);
    v
}

/// A chat as the list shows it, with its newest stored message.
pub fn chat_with_last(
    c: &crate::session::ChatInfo,
    last: Option<&crate::domain::Message>,
) -> Value {
    let mut v = json!(c);
    v["last_message"] = last.map(message).unwrap_or(Value::Null);
    v
}

/// Who got, read and played a message: each recipient as WhatsApp Web
/// keeps it, and how many it has yet to reach, be read and played by.
pub fn receipts(id: &str, r: &crate::core::Receipts) -> Value {
    json!({
        "id": id,
        "ack": r.ack.map(|n| crate::domain::Ack::from_wa(n).as_str()),
        "recipients": r.recipients,
        "pending": {"delivery": r.delivery_remaining, "read": r.read_remaining, "played": r.played_remaining},
    })
}

// ---- pins

/// `duration` in seconds, as WhatsApp knows them; a week when left out.
pub fn pin_duration(secs: Option<i64>) -> Result<crate::domain::PinDuration, ApiError> {
    use crate::domain::PinDuration;
    match secs {
        None => Ok(PinDuration::DEFAULT),
        Some(n) => PinDuration::from_secs(n).ok_or_else(|| {
            ApiError::invalid(
                "duration",
                format!("must be {} seconds", PinDuration::choices()),
            )
        }),
    }
}

/// A message's pin after a pin or an unpin.
pub fn pin_state(id: &str, pin: Option<&crate::core::PinState>) -> Value {
    match pin {
        Some(p) => {
            json!({"id": id, "pinned": true, "pinned_by": p.by, "pinned_at": p.at, "expires_at": p.expires_at})
        }
        None => json!({"id": id, "pinned": false}),
    }
}

/// One of a chat's pinned messages.
pub fn pinned(p: &crate::core::Pinned) -> Value {
    json!({"message": message(&p.message), "pinned_by": p.by, "pinned_at": p.at, "expires_at": p.expires_at})
}

fn retype(v: &mut Value) {
    match v.get("type").and_then(Value::as_str) {
        Some("ptt") => {
            v["type"] = json!("audio");
            v["voice"] = json!(true);
        }
        Some("contact" | "poll" | "event") => v["type"] = json!("other"),
        _ => {}
    }
    if let Some(q) = v.get_mut("quoted").filter(|q| q.is_object()) {
        retype(q);
    }
}

/// An event as native subscribers and the stream get it: its messages
/// (`message`, `message.any`, an acked or deleted one's `message`, a
/// reaction's `target`) typed as `message` types them.
pub fn event(ev: &crate::domain::Event) -> Value {
    let mut v = serde_json::to_value(ev).unwrap_or(Value::Null);
    match ev.event {
        EventKind::Message | EventKind::MessageAny => retype(&mut v["payload"]),
        EventKind::MessageRevoked | EventKind::MessageAck if ev.payload["message"].is_object() => {
            retype(&mut v["payload"]["message"])
        }
        EventKind::MessageReaction if ev.payload["target"].is_object() => {
            retype(&mut v["payload"]["target"])
        }
        _ => {}
    }
    v
}

pub fn session(v: &SessionView) -> Value {
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
        "created_at": rfc3339(v.record.created_at),
        "updated_at": rfc3339(v.record.updated_at),
        "webhooks": v.record.webhooks.iter().map(Webhook::redacted).collect::<Vec<_>>(),
    });
    if let Some(e) = v.error() {
        out["error"] = json!(e);
    }
    if let Some(p) = v.record.proxy.as_deref() {
        out["proxy"] = json!(
            crate::domain::Proxy::parse(p)
                .map(|p| p.masked())
                .unwrap_or_else(|_| "(invalid)".into())
        );
    }
    if let Some(limits) = &v.record.limits {
        out["limits"] = json!(limits);
    }
    if let Some(calls) = &v.record.calls {
        out["calls"] = json!(calls);
    }
    // Always both, null until a page has said (a stopped session).
    out["versions"] = json!({"wa_web": null, "wa_js": null});
    // FAILED, or a linked session trying on through a proxy that is down:
    // as the running session says, else as its record kept it.
    let code = match live {
        Some(l) => l.error_code.map(String::from),
        None => v.record.error_code.clone(),
    };
    if let Some(code) = code.filter(|_| matches!(v.status(), Status::Failed | Status::Disconnected))
    {
        out["error_code"] = json!(code);
    }
    if let Some(l) = live {
        out["versions"] = l
            .versions
            .clone()
            .unwrap_or_else(|| json!({"wa_web": null, "wa_js": null}));
        if let Some(d) = &l.details {
            out["details"] = d.clone();
        }
        if let Some(p) = l.pss_bytes {
            out["memory"] = json!({"pss_mb": (p as f64 / 104857.6).round() / 10.0});
        }
    }
    out
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    pub id: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    pub webhooks: Vec<Webhook>,
    #[serde(default = "yes", deserialize_with = "null_is_yes")]
    pub start: bool,
    /// `http://user:pass@host:port`, `https://…` or `socks5://host:port`:
    /// this session's browser only. Shown with the password as `***`.
    pub proxy: Option<String>,
    /// This session's own browser ceilings (memory, age).
    pub limits: Option<crate::domain::Limits>,
    /// What the session does with calls: `{reject: true, message?}`
    /// declines each as it rings (and sends the caller `message`).
    pub calls: Option<crate::domain::CallPolicy>,
}

fn yes() -> bool {
    true
}

fn null_is_yes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

/// `PATCH /api/sessions/{id}`: only the fields present change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSession {
    /// A proxy URL, or null to use the daemon's default again.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub proxy: Option<Option<String>>,
    /// The session's own browser ceilings, or null for the daemon's.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<crate::domain::Limits>)]
    pub limits: Option<Option<crate::domain::Limits>>,
    /// What the session does with calls, or null for nothing.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<crate::domain::CallPolicy>)]
    pub calls: Option<Option<crate::domain::CallPolicy>>,
}

/// A field that is present, even as null, is `Some`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

// ---- API keys

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A label for people (at most 100 characters).
    pub name: Option<String>,
    /// The sessions the key reaches (they need not exist yet).
    pub sessions: Vec<String>,
    /// Some of `read`, `send`, `manage`; all three when left out.
    pub scopes: Option<Vec<crate::domain::Scope>>,
}

/// A key as listed: never its secret.
pub fn key(k: &crate::domain::ApiKey) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "sessions": k.sessions,
        "scopes": k.scopes,
        "hint": format!("…{}", k.hint),
        "created_at": k.created_at,
        "rotated_at": k.rotated_at,
    })
}

/// A key with its secret: only in the answer that made it.
pub fn key_with_secret(k: &crate::domain::ApiKey, secret: &str) -> Value {
    let mut v = key(k);
    v["key"] = json!(secret);
    v
}

pub fn session_ids(field: &str, raw: &[String]) -> Result<Vec<SessionId>, ApiError> {
    raw.iter()
        .enumerate()
        .map(|(i, s)| {
            SessionId::parse(s).map_err(|e| ApiError::invalid(&format!("{field}[{i}]"), e))
        })
        .collect()
}

// ---- messages

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaIn {
    url: Option<String>,
    data: Option<String>,
    mimetype: Option<String>,
    filename: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendIn {
    /// A phone number, a `…@c.us` id, a group `…@g.us`, or
    /// `status@broadcast` to post a status (story).
    to: String,
    text: Option<String>,
    media: Option<MediaIn>,
    caption: Option<String>,
    reply_to: Option<String>,
    /// A place instead of text: `{lat, lng, name?, address?}`.
    location: Option<crate::domain::Location>,
    /// Contact cards instead of text: `[{phone, name}]`.
    contacts: Option<Vec<ContactIn>>,
    /// Contact cards as vCard text (`BEGIN:VCARD` … `END:VCARD`, one or
    /// several): each card's name and number go, as WhatsApp Web sends
    /// cards.
    vcard: Option<String>,
    /// Send the audio `media` as a voice note.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    voice: bool,
    /// Send the image `media` (PNG, JPEG or WebP) as a sticker.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    sticker: bool,
    /// Send `media` as a document, whatever its type: a file to download
    /// (a photo or video kept as it is, not recompressed).
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    document: bool,
    /// Send the photo, video or voice note `media` to be opened once: the
    /// receiver's phone opens it, and not again.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    view_once: bool,
    /// Send the video `media` (MP4) to play as a GIF: looped, silent.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    gif: bool,
    /// Phones or ids the text mentions (write `@15551234567` in the text).
    mentions: Option<Vec<String>>,
    /// A poll instead of text.
    poll: Option<PollIn>,
    /// A scheduled event instead of text.
    event: Option<EventIn>,
    /// A private invite to a group, to the person WhatsApp made it for
    /// (an add's `failed` entry with an `invite_code`).
    group_invite: Option<GroupInviteIn>,
    /// The id of a message this account has: sends it on as it is, marked
    /// forwarded (WhatsApp gives the copy an id of its own).
    forward: Option<String>,
    /// A text status's background, `#rrggbb` (to `status@broadcast`).
    background: Option<String>,
    /// A text status's font, 0 to 5.
    font: Option<u8>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollIn {
    name: String,
    /// 2 to 12 distinct options.
    options: Vec<String>,
    /// Whether one may pick several options.
    #[serde(default, deserialize_with = "crate::domain::null_is_default")]
    multiple: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    name: String,
    description: Option<String>,
    /// unix s
    start: i64,
    /// unix s (WhatsApp Web makes it two hours after the start)
    end: Option<i64>,
    /// `{name, lat?, lng?}`
    location: Option<crate::domain::EventPlace>,
    /// `voice` or `video`: WhatsApp makes a call link for it.
    call: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInviteIn {
    /// The group (…@g.us).
    group: String,
    /// The `invite_code` of the add's `failed` entry.
    code: String,
    /// Its `invite_expires` (unix s); none sends the group's link with the
    /// code instead, as wa-js does.
    expires: Option<i64>,
    /// Shown with the invite.
    comment: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    phone: String,
    name: String,
}

impl TryFrom<SendIn> for SendRequest {
    type Error = ApiError;

    fn try_from(b: SendIn) -> Result<Self, ApiError> {
        let to = Wid::parse_recipient(&b.to).map_err(|e| ApiError::invalid("to", e))?;
        let media = b
            .media
            .map(|m| {
                let source = match (m.data, m.url) {
                    (Some(_), Some(_)) => {
                        return Err(ApiError::invalid(
                            "media",
                            "takes 'url' or 'data', not both",
                        ));
                    }
                    (Some(d), None) => MediaSource::Data(d),
                    (None, Some(u)) => MediaSource::url(u),
                    (None, None) => {
                        return Err(ApiError::invalid("media", "needs 'url' or 'data'"));
                    }
                };
                Ok(OutgoingMedia {
                    source,
                    mimetype: m.mimetype,
                    filename: m.filename,
                    sticker: b.sticker,
                    document: b.document,
                    view_once: b.view_once,
                    gif: b.gif,
                })
            })
            .transpose()?;
        if b.voice && media.is_none() {
            return Err(ApiError::invalid("voice", "needs audio 'media'"));
        }
        if b.sticker && media.is_none() {
            return Err(ApiError::invalid("sticker", "needs image 'media'"));
        }
        if b.document && media.is_none() {
            return Err(ApiError::invalid("document", "needs 'media'"));
        }
        if b.view_once && media.is_none() {
            return Err(ApiError::invalid("view_once", "needs 'media'"));
        }
        if b.gif && media.is_none() {
            return Err(ApiError::invalid("gif", "needs video 'media'"));
        }
        // One of these at most, instead of text.
        let given: Vec<&str> = [
            ("location", b.location.is_some()),
            ("contacts", b.contacts.is_some()),
            ("vcard", b.vcard.is_some()),
            ("poll", b.poll.is_some()),
            ("event", b.event.is_some()),
            ("group_invite", b.group_invite.is_some()),
            ("forward", b.forward.is_some()),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| *f)
        .collect();
        if let [first, second, ..] = given.as_slice() {
            return Err(ApiError::invalid(
                second,
                format!("cannot be combined with '{first}'"),
            ));
        }
        let event = b.event.map(|e| {
            Special::Event(crate::domain::ScheduledEvent {
                name: e.name,
                description: e.description,
                start: e.start,
                end: e.end,
                location: e.location,
                call: e.call,
                join_link: None,
                canceled: false,
            })
        });
        let poll = b.poll.map(|p| {
            Special::Poll(crate::domain::Poll {
                name: p.name,
                options: p.options,
                selectable: if p.multiple { 0 } else { 1 },
                votes: vec![],
            })
        });
        if b.vcard.is_some() && (b.text.is_some() || media.is_some() || b.caption.is_some()) {
            return Err(ApiError::invalid(
                "vcard",
                "cannot be combined with text, media or a caption",
            ));
        }
        let cards = b
            .vcard
            .map(|v| {
                crate::core::vcard_cards(&v, None, None)
                    .map(Special::Contacts)
                    .map_err(|why| ApiError::invalid("vcard", why.trim_start_matches("'vcard' ")))
            })
            .transpose()?;
        let invite = b
            .group_invite
            .map(|i| {
                Ok::<_, ApiError>(Special::GroupInvite(crate::core::InviteToGroup {
                    group: Wid::parse(&i.group)
                        .map_err(|e| ApiError::invalid("group_invite.group", e))?,
                    code: i.code,
                    expires: i.expires,
                    comment: i.comment,
                }))
            })
            .transpose()?;
        let poll = poll
            .or(event)
            .or(invite)
            .or(cards)
            .or(b.forward.map(Special::Forward));
        let special = match (b.location, b.contacts) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "location",
                    "cannot be combined with 'contacts'",
                ));
            }
            (Some(l), None) => Some(Special::Location(l)),
            (None, Some(cs)) => Some(Special::Contacts(
                cs.into_iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let id = Wid::parse(&c.phone)
                            .map_err(|e| ApiError::invalid(&format!("contacts[{i}].phone"), e))?;
                        if c.name.trim().is_empty() {
                            return Err(ApiError::invalid(
                                &format!("contacts[{i}].name"),
                                "is required",
                            ));
                        }
                        Ok(CardOf { id, name: c.name })
                    })
                    .collect::<Result<_, _>>()?,
            )),
            (None, None) => poll,
        };
        let mentions = b
            .mentions
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, m)| {
                Wid::parse(m).map_err(|e| ApiError::invalid(&format!("mentions[{i}]"), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // In a text, or a media's caption (`text` with media is one).
        if !mentions.is_empty() && b.text.is_none() && (media.is_none() || b.caption.is_none()) {
            return Err(ApiError::invalid(
                "mentions",
                "need a 'text' or a media's 'caption' to mention them in",
            ));
        }
        let style =
            (b.background.is_some() || b.font.is_some()).then_some(crate::core::StatusStyle {
                background: b.background,
                font: b.font,
            });
        Ok(SendRequest {
            mentions,
            special,
            voice: b.voice,
            to,
            text: b.text,
            media,
            caption: b.caption,
            reply_to: b.reply_to,
            menu: None,
            style,
        })
    }
}

/// `Idempotency-Key`: 1 to 255 characters of text.
pub fn idempotency_key(raw: Option<&axum::http::HeaderValue>) -> Result<Option<String>, ApiError> {
    let key = raw
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::bad_request("Idempotency-Key must be text"))?;
    if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255) {
        return Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 characters",
        ));
    }
    Ok(key)
}

/// `limit=`: absent → `default`, else a number from 1 to `max`.
pub fn limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    count(raw, "limit", default, max)
}

/// `page=`: absent → 1, else a number from 1 to 1000.
pub fn page_number(raw: Option<&str>) -> Result<usize, ApiError> {
    count(raw, "page", 1, 1000)
}

/// A query's number: absent → `default`, else one from 1 to `max`.
fn count(raw: Option<&str>, field: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    match raw {
        None | Some("") => Ok(default),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::invalid(field, format!("must be a number from 1 to {max}"))),
    }
}

pub fn optional_wid(raw: Option<&str>, field: &str) -> Result<Option<Wid>, ApiError> {
    raw.filter(|c| !c.is_empty())
        .map(|c| Wid::parse(c).map_err(|e| ApiError::invalid(field, e)))
        .transpose()
}

/// As `optional_wid`, where this account's status is a chat too (the
/// messages one posted and contacts' are listed there).
pub fn optional_chat(raw: Option<&str>, field: &str) -> Result<Option<Wid>, ApiError> {
    raw.filter(|c| !c.is_empty())
        .map(|c| Wid::parse_recipient(c).map_err(|e| ApiError::invalid(field, e)))
        .transpose()
}

pub fn cursor_in(raw: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    raw.filter(|b| !b.is_empty())
        .map(|b| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b)
                .map_err(|_| ApiError::invalid("before", "is not a cursor from a previous page"))
        })
        .transpose()
}

pub fn cursor_out(c: Option<Vec<u8>>) -> Option<String> {
    c.map(|c| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c))
}

// ---- deliveries and events

pub fn delivery_status(raw: Option<&str>) -> Result<Option<DeliveryStatus>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some("pending") => Ok(Some(DeliveryStatus::Pending)),
        Some("dead") => Ok(Some(DeliveryStatus::Dead)),
        Some("delivered") => Ok(Some(DeliveryStatus::Delivered)),
        Some(other) => Err(ApiError::invalid(
            "status",
            format!("'{other}' is not pending, dead or delivered"),
        )),
    }
}

/// A place in the event stream (`Last-Event-ID`, `?since=`).
pub fn event_place(raw: Option<&str>) -> Result<Option<u64>, ApiError> {
    raw.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                ApiError::invalid(
                    "since",
                    "is not an event id this stream gave (Last-Event-ID)",
                )
            })
        })
        .transpose()
}

/// `events=a,b` or `*`: None means every kind.
pub fn event_kinds(raw: Option<&str>) -> Result<Option<Vec<EventKind>>, ApiError> {
    let Some(raw) = raw.filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let mut kinds = Vec::new();
    for name in raw.split(',').map(str::trim) {
        if name == "*" {
            return Ok(None);
        }
        kinds.push(
            EventKind::parse(name).ok_or_else(|| {
                ApiError::invalid("events", format!("has unknown event '{name}'"))
            })?,
        );
    }
    Ok(Some(kinds))
}

/// A customer note as the native API shows it.
pub fn note(chat: &Wid, n: &crate::core::Note) -> Value {
    json!({"chat": chat, "id": n.id, "content": n.content, "created": n.created, "modified": n.modified})
}

/// A group after people were put in it: the Group, and `failed`, those
/// asked for whom WhatsApp did not add, `[{id, code, error,
/// invite_code?, invite_expires?}]` (`error` names WhatsApp's reason, its
/// `code`; a 403 `privacy_settings` carries the invite WhatsApp made for
/// them, to send instead).
pub fn group_after(a: &crate::core::GroupAfter) -> Value {
    let mut v = json!(a.group);
    v["failed"] = a
        .not_added()
        .map(|o| {
            let mut f = json!({"id": o.id, "code": o.code, "error": o.reason()});
            if let Some(c) = &o.invite_code {
                f["invite_code"] = json!(c);
                f["invite_expires"] = json!(o.invite_expires);
            }
            f
        })
        .collect();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_contracts_types() {
        let sid = SessionId::parse("s").unwrap();
        let voice = json!({"id": "a", "type": "ptt"});
        let ev = crate::domain::Event::new(&sid, EventKind::Message, voice.clone());
        assert_eq!(
            (
                &event(&ev)["payload"]["type"],
                &event(&ev)["payload"]["voice"]
            ),
            (&json!("audio"), &json!(true))
        );
        assert_eq!(message(json!({"type": "poll"}))["type"], "other");
        assert_eq!(message(json!({"type": "contact"}))["type"], "other");
        assert_eq!(message(json!({"type": "image"})), json!({"type": "image"}));
        let gone = json!({"id": "a", "message": voice});
        let ev = crate::domain::Event::new(&sid, EventKind::MessageRevoked, gone);
        assert_eq!(event(&ev)["payload"]["message"]["type"], "audio");
    }

    #[test]
    fn a_null_optional_field_is_as_if_left_out() {
        let c: CreateSession = serde_json::from_value(serde_json::json!({
            "id": "a", "webhooks": null, "start": null, "proxy": null, "limits": null}))
        .unwrap();
        assert!(c.webhooks.is_empty() && c.start);
        let c: CreateSession = serde_json::from_value(serde_json::json!({"webhooks": [{
            "url": "http://127.0.0.1/h", "events": null, "format": null, "secret": null,
            "retries": null, "headers": null, "verify_token": null}]}))
        .unwrap();
        let left_out = Webhook::subscriber("http://127.0.0.1/h".into(), Default::default(), &[]);
        assert_eq!(c.webhooks[0].events, ["message"]);
        assert_eq!(
            (&c.webhooks[0].format, &c.webhooks[0].retries),
            (&left_out.format, &left_out.retries)
        );
        let s: SendIn = serde_json::from_value(serde_json::json!({
            "to": "15551234567", "text": "hi", "voice": null, "poll": null}))
        .unwrap();
        assert!(!s.voice);
    }

    #[test]
    fn core_errors_keep_their_codes_and_get_a_status() {
        let e: ApiError = CoreError::NotOnWhatsApp("15550001111".into()).into();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "number_not_on_whatsapp")
        );
        assert_eq!(e.message, "15550001111 is not on WhatsApp");
        let e: ApiError = CoreError::Unavailable("x".into()).into();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::SERVICE_UNAVAILABLE, "browser_unavailable")
        );
        let e: ApiError = CoreError::MediaTooLarge(64 << 20).into();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.message, "media larger than 64 MB");
    }

    #[test]
    fn query_values() {
        assert_eq!(limit(None, 50, 500).unwrap(), 50);
        assert_eq!(limit(Some("7"), 50, 500).unwrap(), 7);
        assert!(limit(Some("0"), 50, 500).is_err() && limit(Some("x"), 50, 500).is_err());
        assert_eq!(
            event_kinds(Some("message,message.ack"))
                .unwrap()
                .unwrap()
                .len(),
            2
        );
        assert!(event_kinds(Some("*")).unwrap().is_none());
        assert!(event_kinds(Some("nope")).is_err());
        let c = cursor_out(Some(vec![1, 2, 255]));
        assert_eq!(cursor_in(c.as_deref()).unwrap(), Some(vec![1, 2, 255]));
    }

    #[test]
    fn media_takes_url_or_data() {
        let b: SendIn = serde_json::from_value(
            json!({"to": "15551234567", "media": {"url": "http://x", "data": "AA=="}}),
        )
        .unwrap();
        assert!(SendRequest::try_from(b).is_err());
        let b: SendIn =
            serde_json::from_value(json!({"to": "+1 555 123 4567", "text": "hi"})).unwrap();
        assert_eq!(
            SendRequest::try_from(b).unwrap().to.as_str(),
            "15551234567@c.us"
        );
    }
}
