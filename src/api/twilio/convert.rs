//! The Twilio dialect's conversions, all pure: the Messages API's form
//! fields, its Message resource, its errors, its webhook forms and
//! signature, and TwiML replies.

use crate::core::{CoreError, MediaSource, OutgoingMedia, SendRequest, SentMessage};
use crate::domain::{Message, SessionId, Wid, parse_phone, phone_or_lid, sender_of, user_of};
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

pub const API_VERSION: &str = "2010-04-01";
/// Twilio's error for a `From` that is no channel of the account.
pub const NO_SUCH_SENDER: u32 = 63007;

// ---- errors: {"code", "message", "more_info", "status"}

#[derive(Debug)]
pub struct TwilioError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl TwilioError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        TwilioError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn body(&self) -> Value {
        json!({"code": self.code, "message": self.message,
               "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
               "status": self.status.as_u16()})
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource {what} was not found"),
        )
    }
}

impl From<CoreError> for TwilioError {
    fn from(e: CoreError) -> Self {
        let msg = e.to_string();
        match e {
            CoreError::SessionNotFound(_) | CoreError::NotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, 20404, msg)
            }
            CoreError::NotOnWhatsApp(who) => Self::new(
                StatusCode::BAD_REQUEST,
                63003,
                format!("Channel could not find To address: whatsapp:+{who} is not on WhatsApp"),
            ),
            CoreError::Invalid { field, why } if field.starts_with("media") => {
                Self::new(StatusCode::BAD_REQUEST, 11200, format!("MediaUrl {why}"))
            }
            CoreError::Invalid { field, why } if field == "to" => Self::new(
                StatusCode::BAD_REQUEST,
                21211,
                format!("Invalid 'To' Phone Number: {why}"),
            ),
            // `create` has already refused a missing Body: what the core
            // refuses in the text (or the caption, a Body with media) is
            // its length (Twilio's 21617).
            CoreError::Invalid { field, why } if field == "text" || field == "caption" => {
                Self::new(
                    StatusCode::BAD_REQUEST,
                    21617,
                    format!("The message body exceeds the length limit: Body {why}"),
                )
            }
            // Twilio's "Invalid 'StatusCallback'".
            CoreError::Invalid { field, .. } if field == "StatusCallback" => {
                Self::new(StatusCode::BAD_REQUEST, 21609, msg)
            }
            CoreError::Invalid { .. } => Self::new(StatusCode::BAD_REQUEST, 21602, msg),
            CoreError::MediaTooLarge(_) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, 63019, msg),
            // Not connected (stopped, logged out, or on its way back): the
            // resource's state, which may last. (Twilio's 63016 would tell
            // a client to send a template instead.)
            CoreError::NotReady(_)
            | CoreError::Conflict { .. }
            | CoreError::SessionExists(_)
            | CoreError::IdempotencyInProgress => Self::new(StatusCode::CONFLICT, 20409, msg),
            CoreError::WhatsApp(_) => Self::new(StatusCode::BAD_GATEWAY, 30008, msg),
            CoreError::Unavailable(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, 20503, msg),
            CoreError::Internal(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, 20500, msg),
            CoreError::Forbidden { .. } => Self::new(StatusCode::FORBIDDEN, 20403, msg),
            CoreError::StorageFull(_) | CoreError::Overloaded { .. } => {
                let mut t = Self::new(StatusCode::SERVICE_UNAVAILABLE, 20503, msg);
                t.retry_after = e.retry_after_secs();
                t
            }
            // Twilio's "Too Many Requests".
            CoreError::RateLimited { .. } => {
                let mut t = Self::new(StatusCode::TOO_MANY_REQUESTS, 20429, msg);
                t.retry_after = e.retry_after_secs();
                t
            }
        }
    }
}

// ---- forms

/// A form body's pairs, repeated keys kept (`MediaUrl` may repeat).
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// `whatsapp:+15551234567` (or `+1555…`) → the phone's digits; a privacy
/// id as the webhooks show it (`whatsapp:1070…@lid`) stays whole.
pub fn address_phone(addr: &str) -> Result<String, String> {
    let a = addr.trim();
    let a = a.strip_prefix("whatsapp:").unwrap_or(a);
    if a.ends_with("@lid") {
        return Wid::parse(a).map(|w| w.as_str().to_string());
    }
    parse_phone(a)
}

pub fn address(person: &str) -> String {
    if person.contains('@') {
        format!("whatsapp:{person}")
    } else {
        format!("whatsapp:+{person}")
    }
}

/// A message to create, from `POST .../Messages.json`.
pub struct Create {
    pub from: Option<String>,
    pub request: SendRequest,
    pub status_callback: Option<String>,
}

pub fn create(form: &Form) -> Result<Create, TwilioError> {
    let to = form.get("To").filter(|t| !t.is_empty()).ok_or_else(|| {
        TwilioError::new(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        )
    })?;
    let phone = address_phone(to).map_err(|_| {
        TwilioError::new(
            StatusCode::BAD_REQUEST,
            21211,
            format!("The 'To' number {to} is not a valid phone number."),
        )
    })?;
    let from = match form.get("From").filter(|f| !f.is_empty()) {
        Some(f) => Some(address_phone(f).map_err(|_| {
            TwilioError::new(
                StatusCode::BAD_REQUEST,
                21212,
                format!("The 'From' number {f} is not a valid phone number."),
            )
        })?),
        None => None,
    };
    let body = form.get("Body").filter(|b| !b.is_empty()).map(String::from);
    let media = form.all("MediaUrl");
    if body.is_none() && media.is_empty() {
        return Err(TwilioError::new(
            StatusCode::BAD_REQUEST,
            21602,
            "Message body is required.",
        ));
    }
    // A message to go later would go at once: refused instead.
    if ["ScheduleType", "SendAt"]
        .iter()
        .any(|k| form.get(k).is_some_and(|v| !v.is_empty()))
    {
        return Err(TwilioError::new(
            StatusCode::BAD_REQUEST,
            35118,
            "Scheduled messages are not supported here (there are no Messaging Services): send the message when it is due.",
        ));
    }
    if media.len() > 1 {
        return Err(TwilioError::new(
            StatusCode::BAD_REQUEST,
            21623,
            "WhatsApp takes one media per message: send one MediaUrl.",
        ));
    }
    let callback = match form.get("StatusCallback").filter(|c| !c.is_empty()) {
        Some(c) => match url::Url::parse(c) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(c.to_string()),
            _ => {
                return Err(TwilioError::new(
                    StatusCode::BAD_REQUEST,
                    21609,
                    format!("The StatusCallback URL {c} is not a valid URL."),
                ));
            }
        },
        None => None,
    };
    let to = Wid::parse(&phone).map_err(|e| TwilioError::new(StatusCode::BAD_REQUEST, 21211, e))?;
    let media = media.first().map(|u| OutgoingMedia {
        source: MediaSource::url(u.to_string()),
        mimetype: None,
        filename: None,
        sticker: false,
        document: false,
        view_once: false,
        gif: false,
    });
    let (text, caption) = if media.is_some() {
        (None, body)
    } else {
        (body, None)
    };
    Ok(Create {
        from,
        request: SendRequest {
            mentions: vec![],
            style: None,
            special: None,
            voice: false,
            to,
            text,
            media,
            caption,
            reply_to: None,
            menu: None,
        },
        status_callback: callback,
    })
}

// ---- the Message resource

/// `SM` + 32 hex: a message's sid.
pub fn sid(session: &SessionId, msg_id: &str) -> String {
    let short = Message::short_id(session, msg_id);
    format!(
        "SM{}",
        short.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The short id behind a sid, if it is one.
pub fn short_of_sid(sid: &str) -> Option<[u8; 16]> {
    let hex = sid.strip_prefix("SM").or_else(|| sid.strip_prefix("MM"))?;
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// RFC 2822 in GMT, as Twilio writes dates.
pub fn rfc2822(unix_s: i64) -> String {
    // httpdate panics past 9999.
    let secs = crate::domain::message::sane_time(unix_s) as u64;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    httpdate::fmt_http_date(t).replace(" GMT", " +0000")
}

/// Twilio's `MessageType` for a message kind: WhatsApp's own types (a voice
/// note is audio, a contact card contacts); what Twilio has no type for is
/// "unknown".
fn message_type(kind: &str) -> &str {
    crate::domain::message::business_type(kind).unwrap_or("unknown")
}

/// Twilio's status for an ack.
pub fn status(ack: &str) -> &'static str {
    match ack {
        "pending" => "queued",
        "sent" => "sent",
        "delivered" => "delivered",
        "read" | "played" => "read",
        "failed" => "failed",
        _ => "sent",
    }
}

/// The other party of a stored message, as its webhook named them: an
/// incoming one's sender (by phone where WhatsApp made it known, though
/// the chat goes by their privacy id), else the chat's.
fn peer_of(m: &Message) -> String {
    let chat = phone_or_lid(&m.chat);
    match m.from_me {
        true => chat.to_string(),
        false => (m.sender.phone.clone())
            .or_else(|| m.sender.lid.clone())
            .unwrap_or_else(|| chat.to_string()),
    }
}

/// A stored message as a Twilio Message resource.
pub fn resource(account: &str, m: &Message, me: Option<&str>) -> Value {
    let sid = sid(&m.session, &m.id);
    let peer = peer_of(m);
    let me = me.unwrap_or("");
    let (from, to) = if m.from_me {
        (me, peer.as_str())
    } else {
        (peer.as_str(), me)
    };
    let ack = serde_json::to_value(m.ack).unwrap_or_default();
    let status = if m.from_me {
        status(ack.as_str().unwrap_or(""))
    } else {
        "received"
    };
    let uri = format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}");
    json!({
        "account_sid": account,
        "api_version": API_VERSION,
        "body": m.text.as_deref().or(m.caption.as_deref()).unwrap_or(""),
        "date_created": rfc2822(m.timestamp),
        "date_sent": rfc2822(m.timestamp),
        "date_updated": rfc2822(m.timestamp),
        "direction": if m.from_me { "outbound-api" } else { "inbound" },
        "error_code": if status == "failed" { json!(30008) } else { Value::Null },
        "error_message": null,
        "from": address(from),
        "messaging_service_sid": null,
        "num_media": if media_here(m).is_some() { "1" } else { "0" },
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": format!("{uri}/Media.json")},
        "to": address(to),
        "uri": format!("{uri}.json"),
    })
}

/// The sid of a message's media (WhatsApp carries at most one): `ME` and
/// the message sid's hex.
pub fn media_sid(message_sid: &str) -> String {
    format!("ME{}", message_sid.get(2..).unwrap_or(""))
}

/// A message's media this account can download: not a view-once one it
/// received, which is the receiver's phone's only.
fn media_here(m: &Message) -> Option<&crate::domain::MediaInfo> {
    m.media.as_ref().filter(|_| m.from_me || !m.view_once)
}

/// A stored message's media as a Twilio Media resource, if it has one.
pub fn media_resource(account: &str, m: &Message) -> Option<Value> {
    let info = media_here(m)?;
    let sid = sid(&m.session, &m.id);
    let me = media_sid(&sid);
    Some(json!({
        "account_sid": account,
        "content_type": info.mimetype.as_deref().unwrap_or("application/octet-stream"),
        "date_created": rfc2822(m.timestamp),
        "date_updated": rfc2822(m.timestamp),
        "parent_sid": sid,
        "sid": me,
        "uri": format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}/Media/{me}.json"),
    }))
}

/// `GET …/Messages/{sid}/Media.json`: the message's media, as one page.
pub fn media_list(account: &str, m: &Message) -> Value {
    let list: Vec<Value> = media_resource(account, m).into_iter().collect();
    let uri = format!(
        "/{API_VERSION}/Accounts/{account}/Messages/{}/Media.json?PageSize=50&Page=0",
        sid(&m.session, &m.id)
    );
    json!({
        "media_list": list,
        "first_page_uri": uri,
        "next_page_uri": null,
        "previous_page_uri": null,
        "page": 0,
        "page_size": 50,
        "start": 0,
        "end": list.len().saturating_sub(1),
        "uri": uri,
    })
}

/// A message as it was sent, for the moment before the store has it.
pub fn just_sent(
    session: &SessionId,
    sent: &SentMessage,
    body: Option<&str>,
    media: bool,
) -> Message {
    Message {
        id: sent.id.clone(),
        session: session.clone(),
        chat: sent.to.to_string(),
        chat_name: None,
        from: None,
        to: Some(sent.to.to_string()),
        from_me: true,
        kind: if media {
            "document".into()
        } else {
            "text".into()
        },
        text: (!media).then(|| body.unwrap_or("").to_string()),
        caption: if media { body.map(String::from) } else { None },
        timestamp: sent
            .timestamp
            .unwrap_or_else(|| crate::domain::now_ms() / 1000),
        ack: sent.ack,
        sender: crate::domain::Sender {
            phone: None,
            name: None,
            lid: None,
            saved: None,
        },
        reply_to: None,
        quoted: None,
        starred: false,
        media: media.then(|| crate::domain::MediaInfo {
            mimetype: None,
            filename: None,
            size: None,
            url: String::new(),
            sha256: None,
            duration: None,
        }),
        location: None,
        choice: None,
        vcards: None,
        edited_at: None,
        edits: vec![],
        revoked: false,
        reactions: vec![],
        poll: None,
        event: None,
        group_invite: None,
        mentions: vec![],
        forwarded: false,
        forwarding_score: 0,
        view_once: false,
        gif: false,
    }
}

/// List filters: To, From, DateSent (a day or an instant), DateSent<, DateSent>.
pub struct Filter {
    to: Option<String>,
    from: Option<String>,
    /// [after, before) in unix s
    sent: (Option<i64>, Option<i64>),
}

/// What a DateSent filter names, as [start, end) in unix s: a GMT day
/// (`YYYY-MM-DD`), or one second (`YYYY-MM-DDThh:mm:ssZ`), as Twilio's.
/// Midnight names its day: the SDKs send a date as that instant
/// (twilio-python and twilio-node: `2024-01-01T00:00:00Z`).
fn parse_when(s: &str) -> Option<(i64, i64)> {
    let t = if s.len() == 10 {
        humantime::parse_rfc3339(&format!("{s}T00:00:00Z")).ok()?
    } else {
        humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()?
    };
    let at = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    match at.rem_euclid(86_400) {
        0 => Some((at, at + 86_400)),
        _ => Some((at, at + 1)),
    }
}

impl Filter {
    pub fn parse(q: &[(String, String)]) -> Result<Filter, TwilioError> {
        let get = |k: &str| {
            q.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let phone = |k: &str| -> Result<Option<String>, TwilioError> {
            get(k)
                .map(|v| {
                    address_phone(v).map_err(|_| {
                        TwilioError::new(
                            StatusCode::BAD_REQUEST,
                            21211,
                            format!("'{k}' {v} is not a valid phone number."),
                        )
                    })
                })
                .transpose()
        };
        let when = |k: &str| -> Result<Option<(i64, i64)>, TwilioError> {
            get(k)
                .map(|v| {
                    parse_when(v).ok_or_else(|| {
                        TwilioError::new(
                            StatusCode::BAD_REQUEST,
                            20001,
                            format!(
                                "'{k}' {v} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)."
                            ),
                        )
                    })
                })
                .transpose()
        };
        let mut sent = (None, None);
        if let Some((a, b)) = when("DateSent")? {
            sent = (Some(a), Some(b));
        }
        if let Some((_, b)) = when("DateSent<")? {
            sent.1 = Some(sent.1.map_or(b, |x: i64| x.min(b)));
        }
        if let Some((a, _)) = when("DateSent>")? {
            sent.0 = Some(sent.0.map_or(a, |x: i64| x.max(a)));
        }
        Ok(Filter {
            to: phone("To")?,
            from: phone("From")?,
            sent,
        })
    }

    /// The numbers the filter names (From, then To): with an AccountSid
    /// that is no session's, one of them is the session's own number.
    pub fn numbers(&self) -> impl Iterator<Item = &str> {
        self.from.iter().chain(self.to.iter()).map(String::as_str)
    }

    pub fn keeps(&self, m: &Message, me: Option<&str>) -> bool {
        if !crate::domain::webhook::Format::Twilio.carries_chat(&m.chat) {
            return false;
        }
        let peer = peer_of(m);
        let me = me.unwrap_or("");
        let (from, to) = if m.from_me {
            (me, peer.as_str())
        } else {
            (peer.as_str(), me)
        };
        self.to.as_deref().is_none_or(|t| t == to)
            && self.from.as_deref().is_none_or(|f| f == from)
            && self.sent.0.is_none_or(|a| m.timestamp >= a)
            && self.sent.1.is_none_or(|b| m.timestamp < b)
    }
}

pub fn page_token_in(raw: Option<&str>) -> Result<Option<Vec<u8>>, TwilioError> {
    raw.filter(|t| !t.is_empty())
        .map(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t.strip_prefix("PA").unwrap_or(t))
                .map_err(|_| {
                    TwilioError::new(
                        StatusCode::BAD_REQUEST,
                        20001,
                        "PageToken is not one this server gave.",
                    )
                })
        })
        .transpose()
}

pub fn page_token_out(cursor: &[u8]) -> String {
    format!(
        "PA{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cursor)
    )
}

// ---- webhooks: forms signed with X-Twilio-Signature

/// Twilio's signature: base64 HMAC-SHA1 of the URL followed by each
/// parameter's name and value, sorted by name (then value).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut s = url.to_string();
    for (k, v) in sorted {
        s.push_str(k);
        s.push_str(v);
    }
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(s.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The webhook form for an inbound message (Twilio's WhatsApp fields).
/// `account`: the AccountSid it carries. The media URL names the session,
/// which any AccountSid's key may read.
pub fn inbound_form(
    session: &SessionId,
    p: &Value,
    account: &str,
    public_url: &str,
) -> Vec<(String, String)> {
    let s = |k: &str| p[k].as_str().unwrap_or("");
    let id = s("id");
    let sid = sid(session, id);
    let peer = sender_of(p);
    let me = user_of(s("to"));
    let kind = s("type");
    // A view-once photo, video or voice note is the receiver's phone's only.
    let has_media = !p["media"].is_null() && p["view_once"].as_bool() != Some(true);
    let mut f: Vec<(String, String)> = vec![
        ("MessageSid".into(), sid.clone()),
        ("SmsMessageSid".into(), sid.clone()),
        ("SmsSid".into(), sid.clone()),
        ("AccountSid".into(), account.to_string()),
        ("From".into(), address(&peer)),
        ("To".into(), address(me)),
        (
            "Body".into(),
            p["text"]
                .as_str()
                .or(p["caption"].as_str())
                .unwrap_or("")
                .to_string(),
        ),
        ("NumMedia".into(), if has_media { "1" } else { "0" }.into()),
        ("NumSegments".into(), "1".into()),
        (
            "ProfileName".into(),
            p["sender"]["name"].as_str().unwrap_or("").to_string(),
        ),
        ("WaId".into(), peer.clone()),
        ("SmsStatus".into(), "received".into()),
        ("MessageType".into(), message_type(kind).into()),
        ("ApiVersion".into(), API_VERSION.into()),
        ("ReferralNumMedia".into(), "0".into()),
    ];
    if has_media {
        f.push((
            "MediaUrl0".into(),
            format!(
                "{}/{API_VERSION}/Accounts/{session}/Messages/{sid}/Media/{}",
                public_url.trim_end_matches('/'),
                media_sid(&sid)
            ),
        ));
        f.push((
            "MediaContentType0".into(),
            p["media"]["mimetype"]
                .as_str()
                .unwrap_or("application/octet-stream")
                .to_string(),
        ));
    }
    if kind == "location" {
        // A place named without coordinates has none to give.
        if let (Some(lat), Some(lng)) =
            (p["location"]["lat"].as_f64(), p["location"]["lng"].as_f64())
        {
            f.push(("Latitude".into(), lat.to_string()));
            f.push(("Longitude".into(), lng.to_string()));
        }
        // Twilio names a shared place's address and name so.
        if let Some(a) = p["location"]["address"].as_str() {
            f.push(("Address".into(), a.to_string()));
        }
        if let Some(n) = p["location"]["name"].as_str() {
            f.push(("Label".into(), n.to_string()));
        }
    }
    if let Some(r) = p["reply_to"].as_str() {
        f.push(("OriginalRepliedMessageSid".into(), sid_for(session, r)));
        if let Some(by) = crate::domain::quoted_author(p) {
            f.push(("OriginalRepliedMessageSender".into(), address(&by)));
        }
    }
    // As Twilio marks a forward, and one forwarded many times.
    if p["forwarded"].as_bool() == Some(true) {
        f.push(("Forwarded".into(), "true".into()));
        if p["forwarding_score"].as_u64().unwrap_or(0)
            >= u64::from(crate::domain::message::FREQUENTLY_FORWARDED)
        {
            f.push(("FrequentlyForwarded".into(), "true".into()));
        }
    }
    f
}

fn sid_for(session: &SessionId, msg_id: &str) -> String {
    sid(session, msg_id)
}

/// The status callback form for an ack (sent, delivered, read, failed).
pub fn status_form(session: &SessionId, p: &Value, account: &str) -> Vec<(String, String)> {
    let id = p["id"].as_str().unwrap_or("");
    let sid = sid(session, id);
    let st = status(p["ack"].as_str().unwrap_or(""));
    let me = user_of(p["me"].as_str().unwrap_or(""));
    let peer = phone_or_lid(p["chat"].as_str().unwrap_or(""));
    let mut f: Vec<(String, String)> = vec![
        ("MessageSid".into(), sid.clone()),
        ("SmsSid".into(), sid),
        ("MessageStatus".into(), st.into()),
        ("SmsStatus".into(), st.into()),
        ("AccountSid".into(), account.to_string()),
        ("From".into(), address(me)),
        ("To".into(), address(peer)),
        (
            "ChannelToAddress".into(),
            address(peer).trim_start_matches("whatsapp:").to_string(),
        ),
        ("ChannelPrefix".into(), "whatsapp".into()),
        ("ApiVersion".into(), API_VERSION.into()),
    ];
    match st {
        "delivered" => f.push(("EventType".into(), "DELIVERED".into())),
        "read" => f.push(("EventType".into(), "READ".into())),
        "failed" => {
            f.push(("ErrorCode".into(), "30008".into()));
            f.push(("ErrorMessage".into(), "Unknown error".into()));
        }
        _ => {}
    }
    f
}

pub fn encode_form(pairs: &[(String, String)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

// ---- TwiML

/// One `<Message>` of a TwiML answer.
#[derive(Debug, PartialEq)]
pub struct TwimlMessage {
    pub body: String,
    pub media: Vec<String>,
    /// The `to` attribute, when the answer names another recipient.
    pub to: Option<String>,
}

/// The messages of a TwiML `<Response>`; `<Response/>` has none.
pub fn twiml(xml: &[u8]) -> Result<Vec<TwimlMessage>, String> {
    use quick_xml::events::Event as X;
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut out: Vec<TwimlMessage> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    // Text of the element being read: a <Message>'s body or a <Media> URL.
    let mut media: Option<String> = None;
    let mut buf = Vec::new();
    loop {
        let ev = r
            .read_event_into(&mut buf)
            .map_err(|e| format!("not TwiML: {e}"))?;
        let text: Option<String> = match ev {
            X::Start(e) | X::Empty(e) if stack.is_empty() && e.name().as_ref() != b"Response" => {
                return Err(format!(
                    "not TwiML: the root is <{}>",
                    String::from_utf8_lossy(e.name().as_ref())
                ));
            }
            X::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).to_string();
                if name == "Message" && stack.len() == 1 {
                    let to = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == b"to")
                        .and_then(|a| a.unescape_value().ok().map(|v| v.to_string()));
                    out.push(TwimlMessage {
                        body: String::new(),
                        media: vec![],
                        to,
                    });
                }
                if name == "Media" && stack.len() == 2 {
                    media = Some(String::new());
                }
                stack.push(name);
                None
            }
            X::Empty(e) => {
                if e.name().as_ref() == b"Message" && stack.len() == 1 {
                    out.push(TwimlMessage {
                        body: String::new(),
                        media: vec![],
                        to: None,
                    });
                }
                None
            }
            X::End(_) => {
                if stack.pop().as_deref() == Some("Media")
                    && let (Some(url), Some(m)) = (media.take(), out.last_mut())
                    && !url.trim().is_empty()
                {
                    m.media.push(url.trim().to_string());
                }
                None
            }
            X::Text(t) => Some(t.decode().map_err(|e| e.to_string())?.to_string()),
            X::CData(t) => Some(String::from_utf8_lossy(&t).to_string()),
            X::GeneralRef(e) => {
                let name = e.decode().map_err(|e| e.to_string())?.to_string();
                Some(match name.as_str() {
                    "amp" => "&".to_string(),
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    _ => e
                        .resolve_char_ref()
                        .map_err(|e| e.to_string())?
                        .map(String::from)
                        .ok_or_else(|| format!("not TwiML: unknown entity &{name};"))?,
                })
            }
            X::Eof => break,
            _ => None,
        };
        if let Some(t) = text {
            let path: Vec<&str> = stack.iter().map(String::as_str).collect();
            match (path.as_slice(), out.last_mut(), media.as_mut()) {
                (["Response", "Message", "Media"], _, Some(url)) => url.push_str(&t),
                (["Response", "Message"] | ["Response", "Message", "Body"], Some(m), _) => {
                    m.body.push_str(&t)
                }
                _ => {}
            }
        }
        buf.clear();
    }
    for m in &mut out {
        m.body = m.body.trim().to_string();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetched_or_listed_message_names_its_sender_as_its_webhook_did() {
        // The chat goes by the contact's privacy id; WhatsApp made their
        // phone known.
        let m: Message = serde_json::from_value(json!({
            "id": "false_123@lid_ABC", "session": "shop", "chat": "123@lid", "from_me": false,
            "type": "text", "text": "hi", "timestamp": 1_700_000_000, "ack": "delivered",
            "sender": {"phone": "15551234567", "name": "Ann", "lid": "123@lid"},
            "from": null, "to": null, "caption": null, "reply_to": null, "media": null,
        }))
        .unwrap();
        let sid = SessionId::parse("shop").unwrap();
        let form: std::collections::HashMap<_, _> =
            inbound_form(&sid, &json!(m), "shop", "http://x")
                .into_iter()
                .collect();
        let res = resource("shop", &m, Some("15550001111"));
        assert_eq!(res["from"], form["From"].as_str());
        assert_eq!(res["from"], "whatsapp:+15551234567");
        let by_from = Filter::parse(&[("From".into(), "whatsapp:+15551234567".into())]).unwrap();
        assert!(by_from.keeps(&m, Some("15550001111")));
    }

    /// A day is a day, midnight too (the SDKs' dates); another time is
    /// that second, and `<` / `>` take it as a bound.
    #[test]
    fn date_sent_takes_a_day_or_an_instant() {
        let day = 1_704_067_200; // 2024-01-01T00:00:00Z
        assert_eq!(parse_when("2024-01-01"), Some((day, day + 86_400)));
        assert_eq!(
            parse_when("2024-01-01T00:00:00Z"),
            Some((day, day + 86_400))
        );
        let ten = day + 36_000;
        assert_eq!(parse_when("2024-01-01T10:00:00Z"), Some((ten, ten + 1)));
        let q = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let f = Filter::parse(&q("DateSent<", "2024-01-01T10:00:00Z"))
            .ok()
            .unwrap();
        assert_eq!(
            f.sent,
            (None, Some(ten + 1)),
            "up to 10:00 that day, not its end"
        );
        let f = Filter::parse(&q("DateSent>", "2024-01-01T10:00:00Z"))
            .ok()
            .unwrap();
        assert_eq!(f.sent, (Some(ten), None), "from 10:00, not from midnight");
    }

    #[test]
    fn a_body_too_long_is_21617_not_21602() {
        let long = TwilioError::from(CoreError::invalid("text", "is longer than 65536 bytes"));
        assert_eq!((long.status.as_u16(), long.code), (400, 21617));
        let other = TwilioError::from(CoreError::invalid("poll.options", "needs two"));
        assert_eq!(other.code, 21602);
    }

    #[test]
    fn a_sender_known_only_by_a_privacy_id_is_answered_at_that_id() {
        let sid = SessionId::parse("shop1").unwrap();
        let p = json!({"id": "false_107005456359612@lid_X", "chat": "107005456359612@lid", "from": "107005456359612@lid",
            "to": "15550001111@c.us", "from_me": false, "type": "text", "text": "hi", "caption": null,
            "timestamp": 1, "ack": "sent", "sender": {"phone": null, "lid": "107005456359612@lid", "name": "Hidden"},
            "reply_to": null, "media": null});
        let f: std::collections::HashMap<_, _> = inbound_form(&sid, &p, sid.as_str(), "http://x")
            .into_iter()
            .collect();
        assert_eq!(f["From"], "whatsapp:107005456359612@lid");
        // What a bot does with it: messages.create(to=From).
        let form = Form::parse(format!("To={}&Body=hello", urlencode(&f["From"])).as_bytes());
        let c = create(&form).ok().unwrap();
        assert_eq!(c.request.to.as_str(), "107005456359612@lid");
        // With the phone known, the phone as ever.
        let mut p = p.clone();
        p["sender"]["phone"] = json!("15551234567");
        let f: std::collections::HashMap<_, _> = inbound_form(&sid, &p, sid.as_str(), "http://x")
            .into_iter()
            .collect();
        assert_eq!(f["From"], "whatsapp:+15551234567");
    }

    fn urlencode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    #[test]
    fn a_shared_place_carries_its_address_and_label() {
        let sid = SessionId::parse("shop1").unwrap();
        let p = json!({"id": "false_15551234567@c.us_X", "chat": "15551234567@c.us", "from": "15551234567@c.us",
            "to": "15550001111@c.us", "from_me": false, "type": "location", "text": null, "caption": null,
            "timestamp": 1, "ack": "sent", "sender": {"phone": "15551234567", "name": "Alice"}, "reply_to": null,
            "media": null, "location": {"lat": 1.5, "lng": 2.5, "name": "Cafe", "address": "Main St 1"}});
        let f: std::collections::HashMap<_, _> = inbound_form(&sid, &p, sid.as_str(), "http://x")
            .into_iter()
            .collect();
        assert_eq!(f["Latitude"], "1.5");
        assert_eq!(f["Longitude"], "2.5");
        assert_eq!(f["Address"], "Main St 1");
        assert_eq!(f["Label"], "Cafe");
        assert_eq!(f["MessageType"], "location");
        // A voice note is WhatsApp's audio; a poll has no Twilio type.
        for (kind, twilio) in [
            ("ptt", "audio"),
            ("contact", "contacts"),
            ("poll", "unknown"),
        ] {
            let mut p = p.clone();
            p["type"] = json!(kind);
            let f: std::collections::HashMap<_, _> =
                inbound_form(&sid, &p, sid.as_str(), "http://x")
                    .into_iter()
                    .collect();
            assert_eq!(f["MessageType"], twilio, "{kind}");
        }
    }

    #[test]
    fn signature_matches_twilios_own_test_vector() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn twiml_replies() {
        let m = twiml(br#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hello &amp; &lt;world&gt;</Message></Response>"#).unwrap();
        assert_eq!(
            m,
            vec![TwimlMessage {
                body: "Hello & <world>".into(),
                media: vec![],
                to: None
            }]
        );
        let m = twiml(br#"<?xml version="1.0" encoding="UTF-8"?><Response><Message><Body>Look</Body><Media>https://ex.com/a.jpg</Media></Message></Response>"#).unwrap();
        assert_eq!(m[0].body, "Look");
        assert_eq!(m[0].media, vec!["https://ex.com/a.jpg".to_string()]);
        assert!(
            twiml(br#"<?xml version="1.0" encoding="UTF-8"?><Response />"#)
                .unwrap()
                .is_empty()
        );
        assert!(twiml(b"<html>no</html>").is_err());
    }

    #[test]
    fn dates_sids_and_forms() {
        assert_eq!(rfc2822(1_692_853_305), "Thu, 24 Aug 2023 05:01:45 +0000");
        let s = SessionId::parse("shop1").unwrap();
        let sid = sid(&s, "true_1@c.us_X");
        assert!(sid.starts_with("SM") && sid.len() == 34);
        assert_eq!(
            short_of_sid(&sid).unwrap(),
            Message::short_id(&s, "true_1@c.us_X")
        );
        let form =
            Form::parse(b"To=whatsapp%3A%2B15551234567&Body=hi&MediaUrl=http%3A%2F%2Fa%2F1.jpg");
        let c = create(&form).unwrap();
        assert_eq!(c.request.to.as_str(), "15551234567@c.us");
        assert_eq!(c.request.caption.as_deref(), Some("hi"));
        assert_eq!(
            create(&Form::parse(b"To=abc&Body=x")).err().unwrap().code,
            21211
        );
        assert_eq!(
            create(&Form::parse(b"To=%2B15551234567"))
                .err()
                .unwrap()
                .code,
            21602
        );
    }
}
