//! Ids with meaning: session ids and WhatsApp ids (and the phone numbers
//! people type). Parsing lives here so every dialect validates the same way.

use serde::{Deserialize, Serialize};
use std::fmt;

/// `^[A-Za-z0-9_-]{1,64}$`: safe as a directory name and a URL segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err("session id must be 1 to 64 characters".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err("session id may contain only letters, digits, '_' and '-'".into());
        }
        Ok(Self(s.to_string()))
    }

    /// An id a new session may not take: a fixed path under
    /// `/api/sessions/` would hide it (`import`), or the Cloud API's
    /// routes would (`v21`: `/{version}/...` reads as a Graph version).
    pub fn is_reserved(&self) -> bool {
        let version = self
            .0
            .strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        // `/api/…` is the native API's, never `/{session}/{method}`.
        self.0 == "import" || self.0 == "api" || version
    }

    pub fn generate() -> Self {
        Self(format!("s{}", ulid::Ulid::new().to_string().to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SessionId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A WhatsApp id: `15551234567@c.us`, `1203...@g.us`, `...@lid`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Wid(String);

impl Wid {
    /// Accepts what people type: `+1 (555) 123-4567`, `15551234567`,
    /// `15551234567@c.us`, `...@s.whatsapp.net`, groups `...@g.us`, `...@lid`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if let Some((user, server)) = s.split_once('@') {
            let server = match server {
                "c.us" | "s.whatsapp.net" => "c.us",
                "g.us" => "g.us",
                "lid" => "lid",
                _ => return Err(format!("unknown WhatsApp id server '@{server}'")),
            };
            let ok = match server {
                "g.us" => {
                    !user.is_empty()
                        && user.len() <= 64
                        && user.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                }
                _ => (5..=20).contains(&user.len()) && user.bytes().all(|b| b.is_ascii_digit()),
            };
            if !ok {
                return Err(format!("'{s}' is not a valid WhatsApp id"));
            }
            return Ok(Self(format!("{user}@{server}")));
        }
        Ok(Self(format!("{}@c.us", parse_phone(s)?)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn user(&self) -> &str {
        self.0.split('@').next().unwrap_or("")
    }

    pub fn is_group(&self) -> bool {
        self.0.ends_with("@g.us")
    }

    /// This account's status (stories): a send to it posts one.
    pub const STATUS: &'static str = "status@broadcast";

    /// Where a message may go: what `parse` takes, this account's status,
    /// and a channel (its admins post to it). Only a send's recipient: no
    /// other route takes the status.
    pub fn parse_recipient(input: &str) -> Result<Self, String> {
        match input.trim() {
            Self::STATUS => Ok(Self(Self::STATUS.to_string())),
            s if s.ends_with("@newsletter") => Self::parse_channel(s),
            s => Self::parse(s),
        }
    }

    /// A WhatsApp Channel's id: `120363…@newsletter`.
    pub fn parse_channel(input: &str) -> Result<Self, String> {
        let s = input.trim();
        match s.strip_suffix("@newsletter") {
            Some(user)
                if (5..=40).contains(&user.len()) && user.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(Self(s.to_string()))
            }
            _ => Err(format!("'{s}' is not a WhatsApp channel id (…@newsletter)")),
        }
    }

    /// A WhatsApp Channel (`…@newsletter`).
    pub fn is_channel(&self) -> bool {
        self.0.ends_with("@newsletter")
    }

    pub fn is_status(&self) -> bool {
        self.0 == Self::STATUS
    }

    /// The phone number of a user id; groups and privacy ids have none.
    pub fn phone(&self) -> Option<&str> {
        self.0.strip_suffix("@c.us")
    }
}

impl fmt::Display for Wid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The user part of a WhatsApp id: `15551234567@c.us` → `15551234567`
/// (the whole string when it has no `@`).
pub fn user_of(id: &str) -> &str {
    id.split('@').next().unwrap_or(id)
}

/// A person as the dialects that name people by phone show them: the phone
/// digits of `…@c.us`, but a privacy id (`…@lid`, a sender whose phone is
/// unknown) whole, so that a reply to it reaches that person and not a
/// number made of its digits.
pub fn phone_or_lid(id: &str) -> &str {
    if id.ends_with("@lid") {
        id
    } else {
        user_of(id)
    }
}

/// Who sent a message, by `phone_or_lid`: its sender's phone when WhatsApp
/// made it known, else its privacy id, else its chat's.
pub fn sender_of(payload: &serde_json::Value) -> String {
    let sender = &payload["sender"];
    sender["phone"]
        .as_str()
        .or(sender["lid"].as_str())
        .unwrap_or_else(|| phone_or_lid(payload["chat"].as_str().unwrap_or("")))
        .to_string()
}

/// Who wrote the message a reply quotes, by `phone_or_lid`, as far as the
/// reply tells: this account for its own message; else who WhatsApp says
/// wrote it (by phone when that is the reply's own sender, known by
/// phone); else, in a chat with one person, that person.
pub fn quoted_author(payload: &serde_json::Value) -> Option<String> {
    let quoted = payload["reply_to"].as_str()?;
    let chat = payload["chat"].as_str().unwrap_or("");
    let sender = &payload["sender"];
    if quoted.starts_with("true_") {
        return Some(user_of(payload["to"].as_str()?).to_string()).filter(|u| !u.is_empty());
    }
    match payload["quoted"]["from"].as_str() {
        Some(w) if sender["lid"].as_str() == Some(w) && sender["phone"].is_string() => {
            sender["phone"].as_str().map(String::from)
        }
        Some(w) => Some(phone_or_lid(w).to_string()),
        None if chat.ends_with("@c.us") => sender["phone"].as_str().map(String::from),
        None => None,
    }
}

/// A phone number in international form, digits only (E.164 without '+').
pub fn parse_phone(input: &str) -> Result<String, String> {
    let s = input.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    let s = s.strip_prefix("00").unwrap_or(s);
    let mut digits = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return Err(format!("'{input}' is not a phone number")),
        }
    }
    if !(7..=15).contains(&digits.len()) {
        return Err(format!(
            "'{input}' is not a phone number in international format (7 to 15 digits with country code)"
        ));
    }
    Ok(digits)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_wrote_a_quoted_message() {
        use serde_json::json;
        let reply = |quoted: serde_json::Value, reply_to: &str, chat: &str| {
            json!({"reply_to": reply_to, "quoted": quoted, "chat": chat, "to": "1999@c.us",
                   "sender": {"phone": "1555"}})
        };
        let by = |p| quoted_author(&p);
        // Our own message is ours, whatever id WhatsApp gave its author.
        for quoted in [json!({"from": "88@lid"}), json!(null)] {
            assert_eq!(
                by(reply(quoted, "true_1555@c.us_A", "1555@c.us")),
                Some("1999".into())
            );
        }
        // Else what WhatsApp carried: a privacy id stays one, unless it is
        // the reply's own sender, known by phone.
        assert_eq!(
            by(reply(json!({"from": "1777@c.us"}), "false_x", "1555@c.us")),
            Some("1777".into())
        );
        assert_eq!(
            by(reply(json!({"from": "123@lid"}), "false_x", "1555@c.us")),
            Some("123@lid".into())
        );
        let mut own = reply(json!({"from": "123@lid"}), "false_x", "1555@c.us");
        own["sender"]["lid"] = json!("123@lid");
        assert_eq!(by(own), Some("1555".into()));
        // Else the one person of a chat.
        assert_eq!(
            by(reply(json!(null), "false_1555@c.us_A", "1555@c.us")),
            Some("1555".into())
        );
        assert_eq!(by(reply(json!(null), "false_g@g.us_A", "g@g.us")), None);
        assert_eq!(by(json!({"chat": "1555@c.us"})), None);
    }

    #[test]
    fn session_ids() {
        assert!(SessionId::parse("shop-1_A").is_ok());
        assert!(SessionId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "../x", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(SessionId::parse(bad).is_err(), "{bad:?} accepted");
        }
        let g = SessionId::generate();
        assert!(SessionId::parse(g.as_str()).is_ok());
        assert!(!g.is_reserved());
        // Paths that would hide a session of that name.
        for reserved in ["import", "v1", "v21"] {
            assert!(
                SessionId::parse(reserved).unwrap().is_reserved(),
                "{reserved}"
            );
        }
        for free in ["v", "v1a", "vip", "V21", "shop"] {
            assert!(!SessionId::parse(free).unwrap().is_reserved(), "{free}");
        }
    }

    #[test]
    fn phones_as_people_type_them() {
        for ok in [
            "+1 (555) 123-4567",
            "15551234567",
            "0015551234567",
            " 1.555.123.4567 ",
        ] {
            assert_eq!(parse_phone(ok).unwrap(), "15551234567", "{ok}");
        }
        for bad in ["", "abc", "123", "+1 555 123 4567 8901 23", "1555x1234567"] {
            assert!(parse_phone(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn wids() {
        assert_eq!(
            Wid::parse("+1 (555) 123-4567").unwrap().as_str(),
            "15551234567@c.us"
        );
        assert_eq!(
            Wid::parse("15551234567@c.us").unwrap().phone(),
            Some("15551234567")
        );
        assert_eq!(
            Wid::parse("15551234567@s.whatsapp.net").unwrap().as_str(),
            "15551234567@c.us"
        );
        let g = Wid::parse("120363025246125486@g.us").unwrap();
        assert!(g.is_group() && g.phone().is_none());
        assert!(Wid::parse("123456789012345@lid").is_ok());
        assert!(Wid::parse("1555@x.us").is_err());
        let st = Wid::parse_recipient("status@broadcast").unwrap();
        assert!(st.is_status() && st.phone().is_none() && !st.is_group());
        assert!(Wid::parse("status@broadcast").is_err(), "a send's only");
        assert!(Wid::parse_recipient("other@broadcast").is_err());
        let ch = Wid::parse_recipient(" 120363012345678901@newsletter ").unwrap();
        assert!(ch.is_channel() && ch.as_str() == "120363012345678901@newsletter");
        assert!(
            Wid::parse("120363012345678901@newsletter").is_err(),
            "a send's and channels' only"
        );
        for bad in ["@newsletter", "12a4567@newsletter", "1234@newsletter"] {
            assert!(Wid::parse_channel(bad).is_err(), "{bad}");
        }
        assert!(Wid::parse("abc@c.us").is_err());
        assert_eq!(user_of("15551234567@c.us"), "15551234567");
        assert_eq!(user_of("15551234567"), "15551234567");
    }
}
