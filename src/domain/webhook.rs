//! A webhook subscription: where a session's events go, in which format,
//! signed with which secret, retried how often.

use super::event::{self, EventKind};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Native,
    Simple,
    Openwa,
    Cloud,
    Twilio,
}

impl Format {
    /// Whether an ack is a status this format has: Cloud's statuses are
    /// sent, delivered, read, played (a voice note's) and failed (the
    /// page's "pending" would be a second "sent"); Twilio's "played" would
    /// be a second "read".
    pub fn reports_ack(self, ack: &str) -> bool {
        match self {
            Format::Cloud => ack != "pending",
            Format::Twilio => ack != "played",
            _ => true,
        }
    }

    /// Whether a body of this format can tell of something in this chat:
    /// simple, Cloud and Twilio have no statuses, ours or contacts', nor
    /// channels' posts, which a bot would take for a chat's and answer
    /// with a message to their author or the channel; Twilio's WhatsApp
    /// has no groups either (a bot would answer `From` in private, and a
    /// TwiML answer would go to the group).
    pub fn carries_chat(self, chat: &str) -> bool {
        let not_a_chat = chat == super::Wid::STATUS || chat.ends_with("@newsletter");
        match self {
            Format::Simple | Format::Cloud => !not_a_chat,
            Format::Twilio => !not_a_chat && !chat.ends_with("@g.us"),
            Format::Native | Format::Openwa => true,
        }
    }

    /// Whether a body of this format can carry this kind of event at all.
    pub fn carries(self, kind: EventKind) -> bool {
        match self {
            // Incoming messages only, as Twilio's: never our own sends (a
            // bot answering `from_number` would write to itself), nor an
            // incoming one twice.
            Format::Simple => kind == EventKind::Message,
            // open-wa sends its QR through another channel (--ev), not webhooks.
            // Edits, labels on chats and a chat's archive, pin, mute or
            // reading have no listener of open-wa's that hands on what
            // they tell.
            Format::Openwa => !matches!(
                kind,
                EventKind::SessionQr
                    | EventKind::SessionPairingCode
                    | EventKind::MessageEdited
                    | EventKind::ChatLabels
                    | EventKind::ChatUpdate
            ),
            // Cloud webhooks carry inbound messages (reactions, edits and
            // deletes are messages there) and statuses.
            Format::Cloud => matches!(
                kind,
                EventKind::Message
                    | EventKind::MessageAck
                    | EventKind::MessageReaction
                    | EventKind::MessageEdited
                    | EventKind::MessageRevoked
            ),
            // Twilio's incoming-message webhook is for incoming messages
            // only: our own sends are told through their StatusCallback
            // (a bot answering `From` would write to itself).
            Format::Twilio => matches!(kind, EventKind::Message | EventKind::MessageAck),
            _ => true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Retries {
    #[serde(default = "default_attempts")]
    #[schema(minimum = 1, maximum = 100, default = 10)]
    pub attempts: u32,
    #[serde(default = "default_policy")]
    #[schema(pattern = "^(exponential|linear)$", default = "exponential")]
    pub policy: String,
}

fn default_attempts() -> u32 {
    10
}
fn default_policy() -> String {
    "exponential".into()
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            attempts: default_attempts(),
            policy: default_policy(),
        }
    }
}

/// (Its `Debug` is redacted, as the API shows it: a `{:?}` in a log line
/// must not carry the secret, a token or the URL's query.)
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    #[serde(default = "default_events", deserialize_with = "events_or_default")]
    pub events: Vec<String>,
    #[serde(default, deserialize_with = "super::null_is_default")]
    pub format: Format,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, deserialize_with = "super::null_is_default")]
    pub retries: Retries,
    #[serde(default, deserialize_with = "super::null_is_default")]
    pub headers: BTreeMap<String, String>,
    /// `cloud`: the token of Meta's subscription handshake (`hub.verify_token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
    /// `twilio`: the `AccountSid` its posts carry (your `AC…`, which a
    /// receiver may check); the session id when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    /// What a dialect attaches to a subscription it makes itself (e.g. the
    /// From/To of a Twilio status callback). Not set by users.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(read_only)]
    pub meta: BTreeMap<String, String>,
    /// Set by a scoped key: delivered to public addresses only (not the
    /// daemon's host or its networks; see the `outbound` module). Set by the core,
    /// whatever a request says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schema(read_only)]
    pub scoped: bool,
    /// Set by a key that may not send through the session: a `twilio`
    /// receiver's TwiML answer sends nothing (it would send for a key
    /// that may not). Set by the core, whatever a request says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schema(read_only)]
    pub no_replies: bool,
}

fn default_events() -> Vec<String> {
    vec!["message".into()]
}

fn events_or_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_else(default_events))
}

impl Webhook {
    /// Checks what serde cannot: a usable URL, known events, sane retries.
    pub fn validate(&self, at: &str) -> Result<(), (String, String)> {
        let url = url::Url::parse(&self.url)
            .map_err(|e| (format!("{at}.url"), format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err((format!("{at}.url"), "must be http or https".into()));
        }
        if url.query() == Some("***") || url.password() == Some("***") {
            return Err((
                format!("{at}.url"),
                "carries the masked value a GET shows: send the real URL".into(),
            ));
        }
        if self.events.is_empty() {
            return Err((
                format!("{at}.events"),
                "must name at least one event".into(),
            ));
        }
        if let Err(e) = event::check_names(&self.events) {
            return Err((
                format!("{at}.events"),
                format!(
                    "has unknown event '{e}' (known: {}, or '*')",
                    EventKind::names()
                ),
            ));
        }
        if self.verify_token.is_some() && self.format != Format::Cloud {
            return Err((
                format!("{at}.verify_token"),
                "is only for the 'cloud' format (Meta's subscription handshake)".into(),
            ));
        }
        if self.verify_token.as_deref().is_some_and(str::is_empty) {
            return Err((format!("{at}.verify_token"), "must not be empty".into()));
        }
        if let Some(sid) = &self.account_sid {
            if self.format != Format::Twilio {
                return Err((
                    format!("{at}.account_sid"),
                    "is only for the 'twilio' format".into(),
                ));
            }
            if sid.is_empty() || sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err((
                    format!("{at}.account_sid"),
                    "must be 1 to 64 letters and digits (a Twilio AccountSid: AC and 32 hex digits)".into(),
                ));
            }
        }
        if !self.meta.is_empty() {
            return Err((
                format!("{at}.meta"),
                "is set by wabridge, not in requests".into(),
            ));
        }
        if let Some(secret) = &self.secret
            && !is_valid_secret(secret)
        {
            return Err((
                format!("{at}.secret"),
                "must be 'whsec_<base64>' (Standard Webhooks) or at least 8 characters".into(),
            ));
        }
        if !(1..=100).contains(&self.retries.attempts) {
            return Err((format!("{at}.retries.attempts"), "must be 1 to 100".into()));
        }
        if self.retries.policy != "exponential" && self.retries.policy != "linear" {
            return Err((
                format!("{at}.retries.policy"),
                "must be 'exponential' or 'linear'".into(),
            ));
        }
        for (name, value) in &self.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err((
                    format!("{at}.headers"),
                    format!("'{name}' is not a header name"),
                ));
            }
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err((
                    format!("{at}.headers.{name}"),
                    "is not a header value (no line breaks or control characters)".into(),
                ));
            }
            if value == "***" {
                return Err((
                    format!("{at}.headers.{name}"),
                    "is the masked value a GET shows: send the real one".into(),
                ));
            }
            if is_reserved_header(name) {
                return Err((
                    format!("{at}.headers.{name}"),
                    "is set by wabridge on every delivery (the body's framing, or its signature)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// A subscription with the default retries and no secret.
    pub fn subscriber(url: String, format: Format, events: &[&str]) -> Webhook {
        Webhook {
            url,
            events: events.iter().map(|e| e.to_string()).collect(),
            format,
            secret: None,
            retries: Retries::default(),
            headers: BTreeMap::new(),
            verify_token: None,
            account_sid: None,
            meta: BTreeMap::new(),
            scoped: false,
            no_replies: false,
        }
    }

    /// Whether this subscriber gets events of this kind. An open-wa
    /// webhook hears presence (onChatState: a post for each contact's
    /// every typing and going offline) only where it names it, not by `*`.
    pub fn wants(&self, kind: EventKind) -> bool {
        let named_only = self.format == Format::Openwa && kind == EventKind::PresenceUpdate;
        // Twilio's and simple's one webhook for incoming messages, however
        // it was named (`message.any` once brought them too).
        let incoming = matches!(self.format, Format::Twilio | Format::Simple)
            && kind == EventKind::Message
            && event::wants(&self.events, EventKind::MessageAny);
        // Meta's `messages` field: a contact's reaction, edit or delete is
        // one of their messages (`type: reaction`, `edit`, `revoke`).
        let amended = self.format == Format::Cloud
            && matches!(
                kind,
                EventKind::MessageReaction | EventKind::MessageEdited | EventKind::MessageRevoked
            )
            && event::wants(&self.events, EventKind::Message);
        (event::wants(&self.events, kind) || incoming || amended)
            && self.format.carries(kind)
            && (!named_only || self.events.iter().any(|e| e == kind.as_str()))
    }

    /// Whether this subscriber gets this event: its kind, and what the
    /// format can say about it (Cloud webhooks only report what contacts
    /// do, so not this account's own reactions; `Format::carries_chat`).
    pub fn wants_event(&self, ev: &super::Event) -> bool {
        let chat = ev.payload["chat"].as_str().unwrap_or("");
        self.wants(ev.event)
            && self.format.carries_chat(chat)
            && !(self.format == Format::Cloud && is_own(ev))
            && (ev.event != EventKind::MessageAck
                || self
                    .format
                    .reports_ack(ev.payload["ack"].as_str().unwrap_or("")))
    }

    /// As shown by the API: the secret never leaves the daemon.
    pub fn redacted(&self) -> Webhook {
        let mut w = self.clone();
        if w.secret.is_some() {
            w.secret = Some("***".into());
        }
        if w.verify_token.is_some() {
            w.verify_token = Some("***".into());
        }
        // A receiver's token often rides in a header or the query.
        w.url = masked_url(&w.url);
        for v in w.headers.values_mut() {
            *v = "***".into();
        }
        w
    }
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.redacted();
        f.debug_struct("Webhook")
            .field("url", &r.url)
            .field("events", &r.events)
            .field("format", &r.format)
            .field("secret", &r.secret)
            .field("retries", &r.retries)
            .field("headers", &r.headers)
            .field("verify_token", &r.verify_token)
            .field("account_sid", &r.account_sid)
            .field("meta", &r.meta)
            .field("scoped", &r.scoped)
            .field("no_replies", &r.no_replies)
            .finish()
    }
}

/// A receiver URL as the API shows it: a query or a password, which often
/// carry a token, as `***`.
pub fn masked_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return "(not a URL)".into();
    };
    if u.query().is_some() {
        u.set_query(Some("***"));
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

/// `whsec_<base64>` (Standard Webhooks) or any other secret of 8+ characters.
pub fn is_valid_secret(secret: &str) -> bool {
    match secret.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .is_ok_and(|k| !k.is_empty()),
        None => secret.len() >= 8,
    }
}
/// Headers a delivery's own framing and signature need: a subscription's
/// extra headers may not replace them (a wrong `Content-Length` cut bodies
/// short; a `webhook-signature` would make every delivery fail to verify).
/// A header a delivery sets itself (its body's, the connection's, the
/// signatures'): a webhook may not give it.
pub fn is_reserved_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "content-length"
            | "content-type"
            | "content-encoding"
            | "transfer-encoding"
            | "host"
            | "connection"
            | "x-hub-signature"
            | "x-hub-signature-256"
            | "x-twilio-signature"
    ) || n.starts_with("webhook-")
}

/// This account's own reaction, edit or delete (Cloud webhooks tell only
/// what contacts do). An edit names its message only: ours are `true_…`.
fn is_own(ev: &super::Event) -> bool {
    let p = &ev.payload;
    match ev.event {
        EventKind::MessageReaction => p["from_me"] == true,
        EventKind::MessageEdited => p["id"].as_str().is_some_and(|id| id.starts_with("true_")),
        EventKind::MessageRevoked if p["by_me"] == true => true,
        EventKind::MessageRevoked => match p["message"]["from_me"].as_bool() {
            Some(own) => own,
            None => p["id"].as_str().is_some_and(|id| id.starts_with("true_")),
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_in_a_log_line_carries_no_secret() {
        let mut w = Webhook::subscriber(
            "https://u:pw@example.com/in?token=t0ken".into(),
            Format::Native,
            &["message"],
        );
        w.secret = Some("whsec_c2VjcmV0c2VjcmV0".into());
        w.verify_token = Some("v3rify".into());
        w.headers
            .insert("Authorization".into(), "Bearer b3arer".into());
        let rec: crate::domain::SessionRecord = serde_json::from_value(serde_json::json!({
            "id": "s", "created_at": 1, "updated_at": 1, "should_run": false,
            "status": "STOPPED", "webhooks": [w], "proxy": "http://pu:pr0xypw@127.0.0.1:3128",
        }))
        .unwrap();
        let shown = format!("{rec:?}");
        for secret in [
            "c2VjcmV0c2VjcmV0",
            "t0ken",
            "pw@",
            "v3rify",
            "b3arer",
            "pr0xypw",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("example.com") && shown.contains("127.0.0.1:3128"),
            "{shown}"
        );
    }

    #[test]
    fn each_format_gets_only_the_statuses_it_has() {
        let ack = |a: &str| {
            crate::domain::message::ack_event(
                &crate::domain::SessionId::parse("s").unwrap(),
                "true_1@c.us_A",
                "1@c.us",
                None,
                serde_json::from_value(serde_json::json!(a)).unwrap(),
                None,
            )
        };
        let gets = |f: Format| {
            let w = Webhook::subscriber("http://127.0.0.1:9/h".into(), f, &["message.ack"]);
            ["pending", "sent", "delivered", "read", "played", "failed"]
                .into_iter()
                .filter(|a| w.wants_event(&ack(a)))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            gets(Format::Cloud),
            ["sent", "delivered", "read", "played", "failed"]
        );
        assert_eq!(
            gets(Format::Twilio),
            ["pending", "sent", "delivered", "read", "failed"]
        );
        assert_eq!(gets(Format::Native).len(), 6);
    }

    #[test]
    fn a_cloud_subscription_to_messages_hears_what_meta_tells_as_messages() {
        let hook = |events: &[&str]| {
            Webhook::subscriber("http://127.0.0.1:9/h".into(), Format::Cloud, events)
        };
        let messages = hook(&["message"]);
        for kind in [
            EventKind::Message,
            EventKind::MessageReaction,
            EventKind::MessageEdited,
            EventKind::MessageRevoked,
        ] {
            assert!(messages.wants(kind), "{kind:?}");
        }
        assert!(!messages.wants(EventKind::MessageAck));
        assert!(!hook(&["message.ack"]).wants(EventKind::MessageReaction));
    }

    #[test]
    fn simple_hears_of_incoming_messages_only_and_once() {
        let w = Webhook::subscriber("http://127.0.0.1:9/h".into(), Format::Simple, &["*"]);
        assert!(w.wants(EventKind::Message));
        assert!(!w.wants(EventKind::MessageAny), "ours, and theirs twice");
        let any = Webhook::subscriber(
            "http://127.0.0.1:9/h".into(),
            Format::Simple,
            &["message.any"],
        );
        assert!(any.wants(EventKind::Message), "as it was named before");
    }

    #[test]
    fn twilio_hears_of_incoming_messages_only_and_of_ours_by_their_callbacks() {
        let w = Webhook::subscriber("http://127.0.0.1:9/h".into(), Format::Twilio, &["*"]);
        assert!(w.wants(EventKind::Message));
        assert!(w.wants(EventKind::MessageAck));
        assert!(
            !w.wants(EventKind::MessageAny),
            "ours would post as incoming"
        );
        let any = Webhook::subscriber(
            "http://127.0.0.1:9/h".into(),
            Format::Twilio,
            &["message.any"],
        );
        assert!(any.wants(EventKind::Message), "as it was named before");
        assert!(!any.wants(EventKind::MessageAny));
    }

    #[test]
    fn statuses_and_channel_posts_go_only_to_formats_that_tell_them_from_a_chat() {
        let session = crate::domain::SessionId::parse("s").unwrap();
        let story = super::super::Event::new(
            &session,
            EventKind::Message,
            serde_json::json!({"id": "false_status@broadcast_A", "chat": "status@broadcast",
                "from_me": false, "text": "on holiday", "sender": {"phone": "15550001111"}}),
        );
        let mut chat = story.clone();
        chat.payload["chat"] = serde_json::json!("15550001111@c.us");
        let mut post = story.clone();
        post.payload["chat"] = serde_json::json!("120363012345678901@newsletter");
        for (format, gets_status) in [
            (Format::Native, true),
            (Format::Openwa, true),
            (Format::Simple, false),
            (Format::Cloud, false),
            (Format::Twilio, false),
        ] {
            let w = Webhook::subscriber("http://127.0.0.1:9/h".into(), format, &["message"]);
            assert_eq!(w.wants_event(&story), gets_status, "{format:?}");
            assert_eq!(
                w.wants_event(&post),
                gets_status,
                "{format:?}: a channel's post"
            );
            assert!(w.wants_event(&chat), "{format:?}");
        }
    }

    #[test]
    fn extra_headers_must_be_headers_and_leave_the_delivery_its_own() {
        let with = |name: &str, value: &str| {
            let mut w =
                Webhook::subscriber("http://127.0.0.1:9/h".into(), Format::Native, &["message"]);
            w.headers.insert(name.into(), value.into());
            w.validate("webhooks[0]").err().map(|(field, _)| field)
        };
        assert_eq!(with("X-Token", "abc"), None);
        // What a GET shows, put back as is, is refused rather than stored.
        assert_eq!(
            with("X-Token", "***").as_deref(),
            Some("webhooks[0].headers.X-Token")
        );
        let mut w = Webhook::subscriber(
            "https://h.example/in?***".into(),
            Format::Native,
            &["message"],
        );
        assert_eq!(
            w.validate("webhooks[0]").err().map(|e| e.0).as_deref(),
            Some("webhooks[0].url")
        );
        w.url = "https://h.example/in?token=abc".into();
        assert!(w.validate("webhooks[0]").is_ok());
        assert_eq!(
            with("X-A", "a\nb").as_deref(),
            Some("webhooks[0].headers.X-A")
        );
        assert_eq!(
            with("bad name", "x").as_deref(),
            Some("webhooks[0].headers")
        );
        for reserved in [
            "Content-Length",
            "content-type",
            "Host",
            "webhook-signature",
            "Webhook-Id",
            "X-Hub-Signature-256",
        ] {
            assert!(with(reserved, "5").is_some(), "{reserved}");
        }
    }
}
