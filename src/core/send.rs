//! Sending a message: validation, media, the page call, and the
//! Idempotency-Key protocol (the same key within 24 h answers the first
//! result and sends nothing).

use super::media::OutgoingMedia;
use super::{Core, CoreError};
use crate::domain::Location;
use crate::domain::Scope;
use crate::domain::{Ack, SessionId, StatusStyle, Wid, now_ms};
use crate::session::{CardOf, OutgoingFile};
use crate::store::Reservation;
use serde::{Deserialize, Serialize};

const IDEMPOTENCY_TTL_S: i64 = 24 * 3600;
/// How long a send waits for the page to report its message to the store
/// (it normally takes a few ms; a page that never reports it only slows
/// the answer, it never fails it).
const STORED_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);
pub const MAX_TEXT: usize = 65_536;

/// A message to send, as any dialect describes it.
pub struct SendRequest {
    pub to: Wid,
    pub text: Option<String>,
    pub media: Option<OutgoingMedia>,
    pub caption: Option<String>,
    /// The id of the message this one replies to.
    pub reply_to: Option<String>,
    /// The text is a numbered menu of these options: remember them, so a
    /// reply that picks one arrives with its `choice`.
    pub menu: Option<crate::domain::Menu>,
    /// A location or contact cards instead of text or a file.
    pub special: Option<Special>,
    /// Audio media goes as a voice note (plays as one, like a recording).
    pub voice: bool,
    /// People the text mentions (in a group, they are notified).
    pub mentions: Vec<Wid>,
    /// How a text status looks (a send to `status@broadcast` only).
    pub style: Option<StatusStyle>,
}

/// A message that is neither text nor a file.
pub enum Special {
    Location(Location),
    /// Contact cards: who, and the name shown.
    Contacts(Vec<CardOf>),
    Poll(crate::domain::Poll),
    /// A scheduled event.
    Event(crate::domain::ScheduledEvent),
    /// A private invite to a group, to the one person it was made for.
    GroupInvite(InviteToGroup),
    /// A message this account has, sent on as it is (marked forwarded
    /// unless it is our own). WhatsApp Web names the copy itself, so a
    /// forward whose outcome was lost is found again by what it is
    /// (`Core::sent_unplanned`), not by a planned id.
    Forward(String),
}

/// A private invite to a group: the code WhatsApp made for someone it
/// would not add (an add's `failed` entry, code 403), as WhatsApp's own
/// "Invite to group" sends it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InviteToGroup {
    pub group: Wid,
    pub code: String,
    /// unix s; none: WhatsApp Web sends the group's link with the code
    /// instead, as wa-js does.
    pub expires: Option<i64>,
    /// Shown with the invite.
    pub comment: Option<String>,
}

impl InviteToGroup {
    fn validate(&self, to: &Wid) -> Result<(), CoreError> {
        if !self.group.as_str().ends_with("@g.us") {
            return Err(CoreError::invalid(
                "group_invite.group",
                "must be a group (…@g.us)",
            ));
        }
        let code_ok = |c: &str| {
            (1..=64).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        };
        if !code_ok(&self.code) {
            return Err(CoreError::invalid(
                "group_invite.code",
                "must be the invite code WhatsApp made (letters and digits)",
            ));
        }
        if self.expires.is_some_and(|e| e <= 0) {
            return Err(CoreError::invalid(
                "group_invite.expires",
                "must be a unix time in seconds",
            ));
        }
        if self.comment.as_ref().is_some_and(|c| c.len() > MAX_TEXT) {
            return Err(CoreError::invalid(
                "group_invite.comment",
                format!("is longer than {MAX_TEXT} bytes"),
            ));
        }
        // It is good for one person: sent to them.
        if to.phone().is_none() && !to.as_str().ends_with("@lid") {
            return Err(CoreError::invalid("to", "a group invite goes to a person"));
        }
        Ok(())
    }
}

impl SendRequest {
    /// What decides what goes out, hashed: a key used again for another
    /// message is refused instead of answered with the first one's result.
    fn fingerprint(&self) -> String {
        use super::media::{MediaSource, hex_sha256};
        use serde_json::json;
        let media = self.media.as_ref().map(|m| {
            let source = match &m.source {
                MediaSource::Data(d) => json!({"data": hex_sha256(d.as_bytes())}),
                // Not the headers: a token that rotates is the same send.
                MediaSource::Url { url, .. } => json!({"url": url}),
                MediaSource::Upload(id) => json!({"upload": id}),
            };
            let mut v = json!({"source": source, "mimetype": m.mimetype, "filename": m.filename, "sticker": m.sticker});
            // Only when set: keys recorded before it existed still match.
            for (flag, on) in [("document", m.document), ("view_once", m.view_once), ("gif", m.gif)] {
                if on {
                    v[flag] = json!(true);
                }
            }
            v
        });
        let special = match &self.special {
            Some(Special::Location(l)) => json!({"location": l}),
            Some(Special::Contacts(c)) => {
                json!({"contacts": c.iter().map(|c| [c.id.as_str(), c.name.as_str()]).collect::<Vec<_>>()})
            }
            Some(Special::Poll(p)) => json!({"poll": p}),
            Some(Special::Event(e)) => json!({"event": e}),
            Some(Special::GroupInvite(i)) => json!({"group_invite": i}),
            Some(Special::Forward(id)) => json!({"forward": id}),
            None => serde_json::Value::Null,
        };
        let mentions: Vec<&str> = self.mentions.iter().map(Wid::as_str).collect();
        let all = json!([
            self.to.as_str(),
            self.text,
            media,
            self.caption,
            self.reply_to,
            special,
            self.voice,
            mentions,
            self.style
        ]);
        hex_sha256(all.to_string().as_bytes())
    }
}

/// What a send answers (and what an idempotent retry answers again).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentMessage {
    pub id: String,
    #[schema(value_type = String, example = "15551234567@c.us")]
    pub to: Wid,
    /// unix s
    pub timestamp: Option<i64>,
    /// pending, sent, delivered, read, played or failed
    #[schema(value_type = String, example = "sent")]
    pub ack: Ack,
}

impl SentMessage {
    /// What a send answers of a message of ours the store has.
    fn of(m: crate::domain::Message, to: &Wid) -> Self {
        SentMessage {
            id: m.id,
            to: to.clone(),
            timestamp: Some(m.timestamp),
            ack: m.ack.max(Ack::Sent),
        }
    }
}

impl SendRequest {
    /// A plain text to `to`; a dialect sets what else its request says.
    pub fn text(to: Wid, text: String) -> Self {
        SendRequest {
            to,
            text: Some(text),
            media: None,
            caption: None,
            reply_to: None,
            menu: None,
            special: None,
            voice: false,
            mentions: vec![],
            style: None,
        }
    }

    /// Everything checked before anything is sent or a key is taken.
    fn validate(&mut self) -> Result<(), CoreError> {
        self.text = self.text.take().filter(|t| !t.is_empty());
        self.caption = self.caption.take().filter(|c| !c.is_empty());
        self.reply_to = self.reply_to.take().filter(|r| !r.is_empty());
        self.validate_status()?;
        self.validate_channel()?;
        if self
            .media
            .as_ref()
            .is_some_and(|m| m.document && (m.sticker || self.voice))
        {
            return Err(CoreError::invalid(
                "document",
                "cannot be a sticker or a voice note as well",
            ));
        }
        if let Some(m) = &self.media {
            if m.view_once && (m.sticker || m.document) {
                return Err(CoreError::invalid(
                    "view_once",
                    "is a photo's, a video's or a voice note's, not a sticker's or a document's",
                ));
            }
            if m.gif && (m.sticker || m.document || self.voice) {
                return Err(CoreError::invalid(
                    "gif",
                    "is a video's (MP4), not a sticker's, a document's or a voice note's",
                ));
            }
        }
        if let Some(r) = &self.reply_to
            && !is_message_id(r)
        {
            return Err(CoreError::invalid(
                "reply_to",
                "must be a message id (true_… or false_…, as messages carry it)",
            ));
        }
        if let Some(special) = &self.special {
            let what = match special {
                Special::Location(_) => "location",
                Special::Contacts(_) => "contacts",
                Special::Poll(_) => "poll",
                Special::Event(_) => "event",
                Special::GroupInvite(_) => "group_invite",
                Special::Forward(_) => "forward",
            };
            if self.text.is_some() || self.media.is_some() || self.caption.is_some() {
                return Err(CoreError::invalid(
                    what,
                    "cannot be combined with text, media or a caption",
                ));
            }
            match special {
                Special::Location(l) => l
                    .validate()
                    .map_err(|e| CoreError::invalid("location", e))?,
                Special::Contacts(c) if c.is_empty() => {
                    return Err(CoreError::invalid(
                        "contacts",
                        "must name at least one contact",
                    ));
                }
                Special::Contacts(c) if c.len() > MAX_CARDS => {
                    return Err(CoreError::invalid(
                        "contacts",
                        format!("can carry at most {MAX_CARDS} cards"),
                    ));
                }
                Special::Contacts(_) => {}
                Special::Poll(p) => p
                    .validate()
                    .map_err(|(f, why)| CoreError::invalid(f, why))?,
                Special::Event(e) => e
                    .validate()
                    .map_err(|(f, why)| CoreError::invalid(f, why))?,
                Special::GroupInvite(i) => i.validate(&self.to)?,
                Special::Forward(id) => {
                    if !is_message_id(id) {
                        return Err(CoreError::invalid(
                            "forward",
                            "must be a message id (true_… or false_…, as messages carry it)",
                        ));
                    }
                    // A forward is the message as it was: it quotes and
                    // mentions nothing of its own.
                    if self.reply_to.is_some() || !self.mentions.is_empty() || self.voice {
                        return Err(CoreError::invalid(
                            "forward",
                            "cannot be combined with reply_to, mentions or voice",
                        ));
                    }
                }
            }
            return Ok(());
        }
        if self.text.is_none() && self.media.is_none() {
            return Err(CoreError::invalid(
                "text",
                "is required when there is no media",
            ));
        }
        if self.text.as_ref().is_some_and(|t| t.len() > MAX_TEXT) {
            return Err(CoreError::invalid(
                "text",
                format!("is longer than {MAX_TEXT} bytes"),
            ));
        }
        if self.text.is_some() && self.media.is_some() && self.caption.is_some() {
            return Err(CoreError::invalid(
                "caption",
                "cannot be combined with both text and media",
            ));
        }
        Ok(())
    }
}

/// The most contact cards one message carries.
pub const MAX_CARDS: usize = 20;

impl SendRequest {
    /// A status (story) is a text, an image or a video, with nothing of a
    /// chat's: no reply, mention, voice note, sticker, place, card, poll
    /// or forward. A style is a text status's only.
    fn validate_status(&self) -> Result<(), CoreError> {
        if !self.to.is_status() {
            return match self.style {
                Some(_) => Err(CoreError::invalid(
                    "background",
                    "and 'font' are a status's (to status@broadcast)",
                )),
                None => Ok(()),
            };
        }
        let chatty = [
            ("reply_to", self.reply_to.is_some()),
            ("mentions", !self.mentions.is_empty()),
            ("voice", self.voice),
            ("special", self.special.is_some()),
            ("sticker", self.media.as_ref().is_some_and(|m| m.sticker)),
            ("document", self.media.as_ref().is_some_and(|m| m.document)),
            (
                "view_once",
                self.media.as_ref().is_some_and(|m| m.view_once),
            ),
            ("gif", self.media.as_ref().is_some_and(|m| m.gif)),
        ];
        if let Some((field, _)) = chatty.iter().find(|(_, on)| *on) {
            let field = match *field {
                "special" => "to",
                f => f,
            };
            return Err(CoreError::invalid(
                field,
                "a status is a text, an image or a video, with no reply, mention, voice note, sticker, document, view once, GIF, place, card, poll, event or forward",
            ));
        }
        if let Some(m) = &self.media {
            let kind = m.mimetype.as_deref().unwrap_or("");
            if !kind.is_empty() && !kind.starts_with("image/") && !kind.starts_with("video/") {
                return Err(CoreError::invalid(
                    "media",
                    "of a status is an image or a video",
                ));
            }
            if self.style.is_some() {
                return Err(CoreError::invalid(
                    "background",
                    "and 'font' are a text status's",
                ));
            }
        }
        if let Some(style) = &self.style {
            style
                .check()
                .map_err(|(field, why)| CoreError::invalid(field, why))?;
        }
        Ok(())
    }
}

impl SendRequest {
    /// A channel's post is a text, a photo, a video or a poll (what wa-js
    /// sends to one), with nothing of a chat's: no reply, mention, voice
    /// note, sticker, document, view once, place, card or forward.
    fn validate_channel(&self) -> Result<(), CoreError> {
        if !self.to.is_channel() {
            return Ok(());
        }
        let chatty = [
            ("reply_to", self.reply_to.is_some()),
            ("mentions", !self.mentions.is_empty()),
            ("voice", self.voice),
            ("sticker", self.media.as_ref().is_some_and(|m| m.sticker)),
            ("document", self.media.as_ref().is_some_and(|m| m.document)),
            (
                "view_once",
                self.media.as_ref().is_some_and(|m| m.view_once),
            ),
            (
                match self.special {
                    Some(Special::Location(_)) => "location",
                    Some(Special::Contacts(_)) => "contacts",
                    Some(Special::Event(_)) => "event",
                    Some(Special::GroupInvite(_)) => "group_invite",
                    _ => "forward",
                },
                matches!(self.special, Some(ref s) if !matches!(s, Special::Poll(_))),
            ),
        ];
        if let Some((field, _)) = chatty.iter().find(|(_, on)| *on) {
            return Err(CoreError::invalid(
                field,
                "a channel's post is a text, a photo, a video or a poll, with no reply, mention, voice note, sticker, document, view once, place, card, event or forward",
            ));
        }
        if let Some(kind) = self.media.as_ref().and_then(|m| m.mimetype.as_deref())
            && !kind.starts_with("image/")
            && !kind.starts_with("video/")
        {
            return Err(CoreError::invalid(
                "media",
                "of a channel's post is a photo or a video",
            ));
        }
        Ok(())
    }
}

/// What a send WhatsApp Web names itself is, to find it by.
struct Probe {
    kind: Vec<String>,
    forwarded: bool,
    text: Option<String>,
    caption: Option<String>,
}

/// A message id as messages carry it (`true_…` or `false_…`).
fn is_message_id(id: &str) -> bool {
    (id.starts_with("true_") || id.starts_with("false_")) && id.len() <= 256
}

/// Drops idempotency keys past their 24 h, every ten minutes.
pub(super) async fn sweep_idempotency(store: crate::store::Store) {
    loop {
        match store.sweep_idempotency(now_ms() / 1000, IDEMPOTENCY_TTL_S) {
            Ok(n) if n > 0 => tracing::info!(removed = n, "swept expired idempotency keys"),
            Ok(_) => {}
            Err(e) => tracing::warn!("could not sweep idempotency keys: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
}

/// The answer an idempotency key already holds: the first result, or a
/// 422 for a key used for another message.
fn answered(r: Reservation) -> Option<Result<SentMessage, CoreError>> {
    match r {
        Reservation::OtherRequest => Some(Err(CoreError::invalid(
            "Idempotency-Key",
            "was used for another message in the last 24 hours: a new message needs a new key",
        ))),
        Reservation::Answered(first) => Some(
            serde_json::from_value(first)
                .map_err(|e| CoreError::Internal(format!("stored answer: {e}"))),
        ),
        _ => None,
    }
}

/// What a send may ask beyond its message.
#[derive(Default, Clone, Copy)]
pub struct SendOptions<'a> {
    /// Told back with the message's acks (the Cloud API's
    /// `biz_opaque_callback_data`).
    pub tracker: Option<&'a str>,
    /// A text whose quoted message WhatsApp Web lacks (or deleted for
    /// everyone) goes without the quote instead of failing (open-wa's
    /// `reply`, whatsapp-web.js's `ignoreQuoteErrors`).
    pub quote_optional: bool,
}

/// A send refused only for what it quotes.
fn quote_gone(e: &CoreError) -> bool {
    matches!(e, CoreError::Invalid { field, .. } if field == "reply_to")
        || matches!(
            e,
            CoreError::Conflict {
                code: "message_revoked",
                ..
            }
        )
}

impl Core {
    /// Whether a stored message may be forwarded: WhatsApp Web offers no
    /// forward of one deleted for everyone, and lets no one pass on one to
    /// be viewed once. (One not stored is the page's to judge.) A dialect
    /// forwarding several checks them all before the first goes.
    pub fn forwardable(&self, session: &SessionId, m: &str) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        let why = self.store.message(session, m)?.and_then(|msg| {
            if msg.revoked {
                Some("was deleted for everyone")
            } else if msg.view_once {
                Some("is to be viewed once")
            } else if msg.kind == "event" {
                // wa-js forwards what WhatsApp Web's forward makes of a
                // message, which carries no event.
                Some("is a scheduled event")
            } else {
                None
            }
        });
        match why {
            Some(why) => Err(CoreError::Conflict {
                code: "not_forwardable",
                message: format!("message '{m}' {why}: it cannot be forwarded"),
            }),
            None => Ok(()),
        }
    }

    /// Sends a message. With an idempotency key, a repeat within 24 h
    /// answers the first result and sends nothing.
    pub async fn send(
        &self,
        session: &SessionId,
        req: SendRequest,
        idempotency_key: Option<&str>,
    ) -> Result<SentMessage, CoreError> {
        self.may(session, Scope::Send)?;
        self.send_with(session, req, idempotency_key, SendOptions::default())
            .await
    }

    /// Sends a message, as `send`, with what some dialects ask beyond it.
    pub async fn send_with(
        &self,
        session: &SessionId,
        mut req: SendRequest,
        idempotency_key: Option<&str>,
        options: SendOptions<'_>,
    ) -> Result<SentMessage, CoreError> {
        self.may(session, Scope::Send)?;
        let tracker = options.tracker;
        // A quote that may go, and names no message at all: gone already.
        if options.quote_optional && req.reply_to.as_deref().is_some_and(|r| !is_message_id(r)) {
            req.reply_to = None;
        }
        req.validate()?;
        self.manager.get(session).await?;
        let fingerprint = idempotency_key.map(|_| req.fingerprint());
        // When an unsettled key was reserved: a send WhatsApp Web names
        // itself is found by what it is, in the minutes after.
        let reserved_at = idempotency_key.and_then(|k| {
            self.store
                .idempotency_reserved_at(session, k)
                .ok()
                .flatten()
        });
        let probe = idempotency_key.and_then(|_| self.unplanned_probe(session, &req));
        if let (Some(k), Some(fp)) = (idempotency_key, fingerprint.as_deref()) {
            let now = now_ms() / 1000;
            match self
                .store
                .idempotency_settled(session, k, now, IDEMPOTENCY_TTL_S, fp)?
            {
                // An outcome lost (a 503) that the page has reported since.
                Some(Reservation::Busy(Some(planned))) => {
                    let went = self.sent_under(session, &req.to, &planned).or_else(|| {
                        self.sent_unplanned(session, reserved_at, &req.to, probe.as_ref())
                    });
                    if let Some(sent) = went {
                        self.answer_key(session, k, fp, now, &Ok(sent.clone()));
                        return Ok(sent);
                    }
                }
                Some(earlier) => {
                    if let Some(settled) = answered(earlier) {
                        return settled;
                    }
                }
                None => {}
            }
        }
        // (After the key's replay: an answered forward stays answered.)
        if let Some(Special::Forward(m)) = &req.special {
            self.forwardable(session, m)?;
        }
        if req.to.is_channel() {
            self.may_post_to(session, &req.to).await?;
        }
        // Nothing goes out that could not be recorded.
        self.store.room()?;
        // A place in the session's send queue before anything is reserved.
        let ticket = self.lanes.admit(session)?;
        let media = match req.media.take() {
            Some(m) => Some(self.load_media(m).await?),
            None => None,
        };
        if let Some(m) = media.as_ref().filter(|m| m.sticker) {
            if !m.mimetype.starts_with("image/") {
                return Err(CoreError::invalid(
                    "sticker",
                    "is made from an image (PNG, JPEG or WebP)",
                ));
            }
            if req.caption.is_some() || req.text.is_some() {
                return Err(CoreError::invalid("sticker", "takes no caption or text"));
            }
        }
        if let Some(m) = &media {
            // As it goes (a WebP is a sticker); audio goes once only as a
            // voice note.
            let top = m.kind();
            if m.view_once && !(top == "image" || top == "video" || (top == "audio" && req.voice)) {
                return Err(CoreError::invalid(
                    "view_once",
                    format!(
                        "is a photo's, a video's or a voice note's, not {}'s",
                        m.mimetype
                    ),
                ));
            }
            // (A WebP is a sticker, which a channel does not take.)
            if req.to.is_channel() && top != "image" && top != "video" {
                return Err(CoreError::invalid(
                    "media",
                    format!(
                        "of a channel's post is a photo or a video, not {}",
                        m.mimetype
                    ),
                ));
            }
            if m.gif && top != "video" {
                return Err(CoreError::invalid(
                    "gif",
                    format!("is a video's (MP4), not {}'s", m.mimetype),
                ));
            }
        }
        if req.voice
            && !media
                .as_ref()
                .is_some_and(|m| m.mimetype.starts_with("audio/"))
        {
            return Err(CoreError::invalid(
                "voice",
                "needs audio media (audio/ogg for a voice note)",
            ));
        }
        let now = now_ms() / 1000;
        // The id WhatsApp will know the message by, chosen here: a send
        // whose outcome is lost can be found by it, or sent again under it.
        let mut id = crate::domain::message::new_message_id();
        // Taken over from a send whose outcome was lost: that one may still
        // go out (WhatsApp Web sends what it holds once it is back), so this
        // key never frees its id, whatever this attempt comes to.
        let mut retaken = false;
        if let Some(k) = idempotency_key {
            let fp = fingerprint.as_deref().unwrap_or_default();
            match self.store.idempotency_begin(
                session,
                k,
                now,
                IDEMPOTENCY_TTL_S,
                &id,
                fp,
                self.busy_for(),
            )? {
                r @ (Reservation::OtherRequest | Reservation::Answered(_)) => {
                    return answered(r)
                        .unwrap_or_else(|| Err(CoreError::Internal("an unsettled key".into())));
                }
                Reservation::New(planned) => id = planned,
                // Still sending, or its outcome was lost (a browser that
                // died mid-call): the page may have reported it since.
                Reservation::Busy(planned) => {
                    let went = planned
                        .and_then(|p| self.sent_under(session, &req.to, &p))
                        .or_else(|| {
                            self.sent_unplanned(session, reserved_at, &req.to, probe.as_ref())
                        });
                    let Some(sent) = went else {
                        return Err(CoreError::IdempotencyInProgress);
                    };
                    self.answer_key(session, k, fp, now, &Ok(sent.clone()));
                    return Ok(sent);
                }
                // Unfinished for two minutes: if it went out, that is the
                // answer; if not, it is sent now under the same id, which
                // WhatsApp takes once even if the first did reach it.
                Reservation::TakenOver(planned) => {
                    let went = self.sent_under(session, &req.to, &planned).or_else(|| {
                        self.sent_unplanned(session, reserved_at, &req.to, probe.as_ref())
                    });
                    if let Some(sent) = went {
                        self.answer_key(session, k, fp, now, &Ok(sent.clone()));
                        return Ok(sent);
                    }
                    id = planned;
                    retaken = true;
                }
            }
        }
        // The reservation is on disk before the page may send: a crash
        // right after the send must not leave the key unknown to a retry.
        // Not durable (a store that fails): nothing goes, the key is free.
        if let Some(k) = idempotency_key
            && let Err(e) = self.store.flush().await
        {
            tracing::warn!(session = %session, "the Idempotency-Key's reservation could not be made durable: {e}");
            let failed = Err(CoreError::from(e));
            if !retaken {
                let fp = fingerprint.as_deref().unwrap_or_default();
                self.answer_key(session, k, fp, now, &failed);
            }
            return failed;
        }
        let menu = req.menu.take().map(|m| (req.to.clone(), m));
        // Under the planned key, before the send: the page may report the
        // message, and WhatsApp its first ack, before the call returns.
        if let Some(t) = tracker
            && let Err(e) = self.store.put_tracker(session, &id, t, now)
        {
            // Nothing went: the key is free again.
            let failed = Err(CoreError::from(e));
            if let Some(k) = idempotency_key.filter(|_| !retaken) {
                let fp = fingerprint.as_deref().unwrap_or_default();
                self.answer_key(session, k, fp, now, &failed);
            }
            return failed;
        }
        // Before the send, so the page's report of it cannot be missed.
        let stored = self.pipeline.subscribe();
        // A text whose quote may go: the same text, unquoted, in the same turn.
        let unquoted = (options.quote_optional
            && req.reply_to.is_some()
            && req.media.is_none()
            && media.is_none()
            && req.special.is_none()
            && req.text.is_some())
        .then(|| SendRequest {
            mentions: req.mentions.clone(),
            ..SendRequest::text(req.to.clone(), req.text.clone().unwrap_or_default())
        });
        let turn = self.lanes.turn(&ticket).await;
        let mut result = self.deliver(session, &id, req, media, true).await;
        if let (Err(e), Some(plain)) = (&result, unquoted)
            && quote_gone(e)
        {
            // Refused by the page before anything went: the same id is free.
            // ("Typing…" was shown already.)
            result = self.deliver(session, &id, plain, None, false).await;
        }
        drop(turn);
        if let Ok(sent) = &result {
            self.stored_soon(session, &sent.id, stored).await;
        }
        if let (Ok(sent), Some((to, mut menu))) = (&result, menu) {
            menu.message_id = Some(sent.id.clone());
            menu.sent_at = sent.timestamp.unwrap_or(crate::domain::now_ms() / 1000);
            // The message went out: a menu that cannot be kept is logged,
            // not an error (the client would send it again).
            if let Err(e) = self.store.put_menu(session, to.as_str(), &menu) {
                tracing::warn!(session = %session, "the menu could not be kept: {e}");
            }
        }
        if let Some(k) = idempotency_key {
            // After a timeout the message may have gone out: keep the key
            // reserved with its message id (a retry finds the message once
            // the page reports it, or sends it again under the same id).
            if matches!(result, Err(CoreError::Unavailable(_))) {
                tracing::warn!(session = %session, "send outcome unknown; Idempotency-Key stays reserved");
            } else if retaken && result.is_err() {
                // Reserved anew at the takeover: a retry finds the first
                // attempt once the page reports it, or sends under its id.
                tracing::warn!(session = %session, "a retried send failed; Idempotency-Key stays reserved for its first attempt");
            } else {
                let fp = fingerprint.as_deref().unwrap_or_default();
                self.answer_key(session, k, fp, now, &result);
            }
        }
        result
    }

    /// Waits (bounded) until the sent message is in the store: a client
    /// that lists or fetches it right after the send finds it there.
    async fn stored_soon(
        &self,
        session: &SessionId,
        id: &str,
        mut live: tokio::sync::broadcast::Receiver<crate::domain::Event>,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        let deadline = tokio::time::Instant::now() + STORED_WITHIN;
        let in_store = || matches!(self.store.message(session, id), Ok(Some(_)));
        if in_store() {
            return;
        }
        loop {
            match tokio::time::timeout_at(deadline, live.recv()).await {
                Ok(Ok(ev)) => {
                    if ev.event == crate::domain::EventKind::MessageAny
                        && &ev.session == session
                        && ev.payload["id"].as_str() == Some(id)
                    {
                        return;
                    }
                }
                // Missed some: the store says whether it was among them.
                Ok(Err(RecvError::Lagged(_))) => {
                    if in_store() {
                        return;
                    }
                }
                Ok(Err(RecvError::Closed)) => return,
                Err(_) => {
                    tracing::debug!(session = %session, "a sent message was not reported within {STORED_WITHIN:?}");
                    return;
                }
            }
        }
    }

    /// How long (s) a reserved send may be under way before a retry takes
    /// it over: longer than one may wait its turn and then be in the page
    /// (60 s, a status's call, with typing shown first), and two minutes
    /// at least. Sooner, a retry of a send still waiting would go too.
    fn busy_for(&self) -> i64 {
        let wait = self.lanes.pacing.max_wait.as_secs().min(86_400) as i64;
        (wait + 65).max(120)
    }

    /// Records what a send under an Idempotency-Key came to: its answer,
    /// or (it failed) nothing, so the key may be used again.
    fn answer_key(
        &self,
        session: &SessionId,
        key: &str,
        fingerprint: &str,
        now: i64,
        result: &Result<SentMessage, CoreError>,
    ) {
        let stored = result
            .as_ref()
            .ok()
            .map(|s| serde_json::to_value(s).unwrap_or_default());
        if let Err(e) =
            self.store
                .idempotency_finish(session, key, fingerprint, now, stored.as_ref())
        {
            tracing::error!(session = %session, "could not store the idempotency key: {e}");
        }
    }

    /// Ours among the 200 newest messages of the chat with `to` that
    /// WhatsApp's server took: a message the page still holds with its
    /// clock (a browser killed before it went) is no answer yet.
    fn taken_in(&self, session: &SessionId, to: &Wid) -> Vec<crate::domain::Message> {
        let recent = self.store.messages(session, Some(to.as_str()), 200, None);
        let (recent, _) = recent.unwrap_or_default();
        recent
            .into_iter()
            .filter(|m| m.from_me && m.ack >= Ack::Sent)
            .collect()
    }

    /// The message this account sent to `to` under the planned id, if the
    /// page has reported it and WhatsApp's server took it.
    fn sent_under(&self, session: &SessionId, to: &Wid, planned: &str) -> Option<SentMessage> {
        self.taken_in(session, to)
            .into_iter()
            .find(|m| m.id.contains(planned))
            .map(|m| SentMessage::of(m, to))
    }

    /// What a send WhatsApp Web names itself (a forward, a status's image
    /// or video) will look like once made, to find it by: None for any
    /// other send. Taken before the media is loaded.
    fn unplanned_probe(&self, session: &SessionId, req: &SendRequest) -> Option<Probe> {
        match (&req.special, &req.media) {
            (Some(Special::Forward(src)), _) => {
                let source = self.store.message(session, src).ok().flatten()?;
                Some(Probe {
                    kind: vec![source.kind.clone()],
                    // WhatsApp marks a forward of another's message.
                    forwarded: !source.from_me,
                    text: source.text.clone(),
                    caption: source.caption.clone(),
                })
            }
            (None, Some(_)) if req.to.is_status() => Some(Probe {
                kind: vec!["image".into(), "video".into()],
                forwarded: false,
                text: None,
                caption: req.caption.clone().or_else(|| req.text.clone()),
            }),
            _ => None,
        }
    }

    /// The message of ours a send WhatsApp Web named itself made: in that
    /// chat, what the probe says it is, the first posted from shortly
    /// before its Idempotency-Key was reserved to 15 minutes after (the
    /// send may wait its turn in the queue; WhatsApp's clock may differ
    /// from ours by some seconds).
    fn sent_unplanned(
        &self,
        session: &SessionId,
        reserved_at: Option<i64>,
        to: &Wid,
        probe: Option<&Probe>,
    ) -> Option<SentMessage> {
        let (at, p) = (reserved_at?, probe?);
        // Two keys forwarding one message to one chat: each takes its own.
        let claimed = self
            .store
            .idempotency_answered_ids(session)
            .unwrap_or_default();
        self.taken_in(session, to)
            .into_iter()
            .filter(|m| !claimed.contains(&m.id))
            .filter(|m| (at - 30..=at + 900).contains(&m.timestamp))
            .filter(|m| {
                p.kind.contains(&m.kind)
                    && (!p.forwarded || m.forwarded)
                    && m.caption == p.caption
                    && (p.text.is_none() || m.text == p.text)
            })
            .min_by_key(|m| m.timestamp)
            .map(|m| SentMessage::of(m, to))
    }

    async fn deliver(
        &self,
        session: &SessionId,
        id: &str,
        req: SendRequest,
        media: Option<super::media::LoadedMedia>,
        typing: bool,
    ) -> Result<SentMessage, CoreError> {
        let bridge = self.manager.bridge(session).await?;
        let _busy = bridge.busy();
        let reply_to = req.reply_to.as_deref();
        if typing
            && self.lanes.pacing.typing
            && !req.to.is_status()
            && !req.to.is_channel()
            && let Some(text) = &req.text
        {
            // As a person would: "typing…" for a moment, longer for more text.
            if bridge.presence(Some(&req.to), "typing").await.is_ok() {
                let ms = (600 + 25 * text.chars().count() as u64).min(4000);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
        }
        let sent = match (req.special, req.text, media) {
            (Some(Special::Location(l)), ..) => {
                bridge.send_location(&req.to, id, &l, reply_to).await
            }
            (Some(Special::Contacts(c)), ..) => {
                bridge.send_contacts(&req.to, id, &c, reply_to).await
            }
            (Some(Special::Poll(p)), ..) => bridge.send_poll(&req.to, id, &p, reply_to).await,
            (Some(Special::Event(e)), ..) => bridge.send_event(&req.to, id, &e, reply_to).await,
            (Some(Special::GroupInvite(i)), ..) => {
                let comment = i.comment.as_deref();
                (bridge.send_group_invite(
                    &req.to, id, &i.group, &i.code, i.expires, comment, reply_to,
                ))
                .await
            }
            (Some(Special::Forward(m)), ..) => {
                let kind = self
                    .store
                    .message(session, &m)
                    .ok()
                    .flatten()
                    .map(|x| x.kind);
                bridge.forward(&req.to, &m, kind.as_deref()).await
            }
            (None, text, media) => match (text, media) {
                (Some(text), None) if req.to.is_status() => {
                    let style = req.style.unwrap_or_default();
                    bridge.post_status(id, &text, &style).await
                }
                (Some(text), None) => {
                    bridge
                        .send_text(&req.to, id, &text, reply_to, &req.mentions)
                        .await
                }
                (text, Some(m)) => {
                    let caption = req.caption.or(text);
                    let file = OutgoingFile {
                        b64: &m.b64,
                        mimetype: &m.mimetype,
                        filename: m.filename.as_deref(),
                        kind: m.kind(),
                        caption: caption.as_deref(),
                        voice: req.voice,
                        view_once: m.view_once,
                        gif: m.gif,
                        mentions: &req.mentions,
                    };
                    bridge.send_file(&req.to, id, &file, reply_to).await
                }
                (None, None) => unreachable!("validated"),
            },
        }
        .map_err(|e| send_failure(e, reply_to))?;
        // The id holds the recipient's number: debug, not info.
        tracing::debug!(session = %session, msg = %sent.id, "message sent");
        Ok(SentMessage {
            ack: Ack::from_wa(sent.ack).max(Ack::Sent),
            id: sent.id,
            to: req.to,
            timestamp: sent.timestamp,
        })
    }
}

/// A failed send in the caller's terms: bridge.js names a quote WhatsApp
/// Web cannot reply to (one this account does not have, or one deleted for
/// everyone) and a group only its admins may send to; the rest is the
/// page's or the browser's failure.
fn send_failure(e: crate::session::CallError, reply_to: Option<&str>) -> CoreError {
    use crate::session::CallError;
    match e {
        // WhatsApp's own limit for the media's type, below this daemon's.
        CallError::Page(m) if m.starts_with("MEDIA_TOO_LARGE: ") => CoreError::MediaTooLarge(
            m["MEDIA_TOO_LARGE: ".len()..]
                .split(':')
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0),
        ),
        CallError::Page(m) if m.starts_with("QUOTED_NOT_FOUND: ") => CoreError::invalid(
            "reply_to",
            format!(
                "names no message this account has: {}",
                reply_to.unwrap_or_default()
            ),
        ),
        CallError::Page(m) if m.starts_with("QUOTED_NOT_REPLIABLE: ") => CoreError::Conflict {
            code: "message_revoked",
            message: format!(
                "message '{}' was deleted for everyone: it cannot be replied to",
                reply_to.unwrap_or_default()
            ),
        },
        CallError::Page(m) if m.starts_with("STATUS_MEDIA: ") => {
            CoreError::invalid("media", m.trim_start_matches("STATUS_MEDIA: ").to_string())
        }
        CallError::Page(m) if m.starts_with("FORWARD_NOT_FOUND: ") => CoreError::NotFound {
            code: "message_not_found",
            message: format!(
                "this account has no message '{}' to forward",
                m.trim_start_matches("FORWARD_NOT_FOUND: ")
            ),
        },
        // WhatsApp Web refused it (deleted for everyone, as the store did
        // not know yet).
        CallError::Page(m) if m.starts_with("NOT_FORWARDABLE: ") => CoreError::Conflict {
            code: "not_forwardable",
            message: format!(
                "message '{}' cannot be forwarded (it was deleted for everyone)",
                m.trim_start_matches("NOT_FORWARDABLE: ")
            ),
        },
        // Forwarded or not, it cannot tell: as a timeout (the key stays
        // reserved).
        CallError::Page(m) if m.starts_with("FORWARD_UNSEEN: ") => {
            CoreError::Unavailable(m.trim_start_matches("FORWARD_UNSEEN: ").to_string())
        }
        CallError::Page(m) if m.starts_with("COMMUNITY_CHAT: ") => {
            CoreError::invalid("to", m.trim_start_matches("COMMUNITY_CHAT: "))
        }
        // A group where only admins send, and we are none.
        CallError::Page(m) if m.starts_with("ONLY_ADMINS: ") => CoreError::Conflict {
            code: "not_group_admin",
            message: m.trim_start_matches("ONLY_ADMINS: ").to_string(),
        },
        // Checked before sending, while the page could not reach
        // WhatsApp: nothing went, so the Idempotency-Key is free again.
        CallError::Offline(m) => CoreError::Overloaded {
            code: "whatsapp_unreachable",
            message: format!("nothing was sent: {m}; try again shortly"),
        },
        e => CoreError::from(crate::session::CallFailure::from(e)),
    }
}

impl Core {
    /// Sends a sent message's acks to `hook` too, starting with the current one.
    pub async fn status_callback(
        &self,
        session: &SessionId,
        sent: &SentMessage,
        mut hook: crate::domain::Webhook,
    ) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        self.reach_hooks(std::slice::from_mut(&mut hook), "StatusCallback")?;
        let me = self.manager.get(session).await?.record.me.map(|m| m.id);
        let now = |ack| {
            crate::domain::message::ack_event(
                session,
                &sent.id,
                sent.to.as_str(),
                me.as_deref(),
                ack,
                None,
            )
        };
        Ok(self
            .pipeline
            .add_status_callback(session, &sent.id, &hook, sent.ack, now)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WhatsApp's own limit for a media's type is the caller's 413, with
    /// that limit; the page's other failures stay the page's.
    #[test]
    fn a_file_over_whatsapps_limit_is_too_large_with_that_limit() {
        use crate::session::CallError;
        let e = send_failure(
            CallError::Page("MEDIA_TOO_LARGE: 16777216: File size 20 MB exceeds the upload limit of 16 MB for video files".into()),
            None,
        );
        assert!(matches!(e, CoreError::MediaTooLarge(16777216)), "{e:?}");
        assert_eq!(e.code(), "media_too_large");
        let other = send_failure(CallError::Page("something else".into()), None);
        assert!(!matches!(other, CoreError::MediaTooLarge(_)), "{other:?}");
    }
}
