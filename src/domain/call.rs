//! Calls: a contact's voice or video call that rings on this account,
//! and what a session does with the calls it is not there to take.
//! WhatsApp Web cannot answer a call; a linked device can decline one.

use super::event::{Event, EventKind};
use super::ids::SessionId;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A call ringing on this account, as WhatsApp offered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingCall {
    /// WhatsApp's call id: what declining it names.
    pub id: String,
    /// Who calls: their `…@c.us`, or a privacy id (`…@lid`) when WhatsApp
    /// shows them by one and their phone is not known; for a group call,
    /// the call's own id (`…@call`), as WhatsApp Web names it.
    pub from: String,
    /// The caller's phone, when known.
    pub phone: Option<String>,
    /// The caller's privacy id, when WhatsApp named them by one.
    pub lid: Option<String>,
    pub video: bool,
    /// A group call.
    pub group: bool,
    /// When WhatsApp offered it (unix s).
    pub offered_at: i64,
}

impl IncomingCall {
    /// `call.received`: `{id, from, is_video, is_group, timestamp,
    /// sender: {phone, lid}}`. Named by the call's id: an offer heard
    /// again (a page that reloads while it rings) has the same event id,
    /// for receivers to drop; a session announces each call once per
    /// daemon run.
    pub fn event(&self, session: &SessionId) -> Event {
        Event::stable(
            session,
            EventKind::CallReceived,
            &self.id,
            self.offered_at * 1000,
            json!({
                "id": self.id,
                "from": self.from,
                "is_video": self.video,
                "is_group": self.group,
                "timestamp": self.offered_at,
                "sender": {"phone": self.phone, "lid": self.lid},
            }),
        )
    }
}

/// What a session does with calls on its own, while no one is there to
/// take them (open-wa's `autoReject`): decline each as it rings and, if
/// `message` is set, send the caller that text, once per call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallPolicy {
    /// Decline every call as it rings.
    #[serde(default)]
    pub reject: bool,
    /// Sent to the caller after a call was declined (up to 4,096
    /// characters; needs `reject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The longest text a call policy sends.
pub const MAX_CALL_MESSAGE: usize = 4096;

impl CallPolicy {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match &self.message {
            Some(m) if m.trim().is_empty() => Err((
                "calls.message",
                "must not be empty (leave it out to send nothing)".into(),
            )),
            Some(m) if m.chars().count() > MAX_CALL_MESSAGE => Err((
                "calls.message",
                format!("is longer than {MAX_CALL_MESSAGE} characters"),
            )),
            Some(_) if !self.reject => Err((
                "calls.message",
                "is sent after a declined call: set reject too".into(),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_offer_is_one_event_whoever_reports_it() {
        let sid = SessionId::parse("shop1").unwrap();
        let call = IncomingCall {
            id: "A1B2".into(),
            from: "15551234567@c.us".into(),
            phone: Some("15551234567".into()),
            lid: None,
            video: true,
            group: false,
            offered_at: 1_700_000_000,
        };
        let (a, b) = (call.event(&sid), call.event(&sid));
        assert_eq!(a.id, b.id);
        assert_eq!(a.event, EventKind::CallReceived);
        assert_eq!(a.payload["is_video"], true);
        assert_eq!(a.payload["sender"]["phone"], "15551234567");
        let other = IncomingCall {
            id: "C3D4".into(),
            ..call
        };
        assert_ne!(other.event(&sid).id, a.id);
    }

    #[test]
    fn a_policy_says_something_that_can_be_done() {
        let ok: CallPolicy =
            serde_json::from_str(r#"{"reject": true, "message": "Text us, please"}"#).unwrap();
        assert!(ok.validate().is_ok());
        let alone: CallPolicy = serde_json::from_str(r#"{"message": "hi"}"#).unwrap();
        assert_eq!(alone.validate().unwrap_err().0, "calls.message");
        let empty = CallPolicy {
            reject: true,
            message: Some(" ".into()),
        };
        assert!(empty.validate().is_err());
        assert!(serde_json::from_str::<CallPolicy>(r#"{"decline": true}"#).is_err());
    }
}
