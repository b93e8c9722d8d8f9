//! Events: what sessions report, in the native envelope
//! `{"id", "event", "session", "timestamp", "payload"}`. One kind per
//! name; every dialect renders these into its own webhook bodies.

use super::ids::{SessionId, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The kinds of event, by their wire names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// `{status, error?}`: the session's status changed.
    #[serde(rename = "session.status")]
    SessionStatus,
    /// `{qr, data_url}`: a new QR to scan.
    #[serde(rename = "session.qr")]
    SessionQr,
    /// `{code, phone}`: a code to link by phone number was issued.
    #[serde(rename = "session.pairing_code")]
    SessionPairingCode,
    /// A Message someone else sent to the account.
    #[serde(rename = "message")]
    Message,
    /// Any message: inbound, and outbound (including those sent from the phone).
    #[serde(rename = "message.any")]
    MessageAny,
    /// `{id, chat, ack}`: an outbound message's ack rose (or failed).
    #[serde(rename = "message.ack")]
    MessageAck,
    /// `{id, chat}`: a message was deleted for everyone.
    #[serde(rename = "message.revoked")]
    MessageRevoked,
    /// `{id, chat, text, edited_at}`: a message's author edited it.
    #[serde(rename = "message.edited")]
    MessageEdited,
    /// `{message, chat, voter, selected, timestamp}`: a vote in a poll
    /// (option names; empty: taken back).
    #[serde(rename = "message.poll_vote")]
    MessagePollVote,
    /// `{id, state, online, timestamp}`: a subscribed contact's presence
    /// (available, unavailable, composing, recording, paused).
    #[serde(rename = "presence.update")]
    PresenceUpdate,
    /// `{group, participants, author, action}`: people joined or were added
    /// to a group (this account included, when it joined).
    #[serde(rename = "group.join")]
    GroupJoin,
    /// `{group, participants, author, action}`: people left or were removed.
    #[serde(rename = "group.leave")]
    GroupLeave,
    /// `{group, subject, author}`: a group's subject changed.
    #[serde(rename = "group.update")]
    GroupUpdate,
    /// `{id, message, chat, sender, emoji, from_me, timestamp}`: a reaction
    /// to a message (an empty emoji: taken back).
    #[serde(rename = "message.reaction")]
    MessageReaction,
    /// `{chat, action, labels: [{id, name, color}]}`: a business account's
    /// labels put on a chat (`add`) or taken off it (`remove`).
    #[serde(rename = "chat.labels")]
    ChatLabels,
    /// `{chat, changed, name, archived, pinned, muted_until, unread,
    /// marked_unread}`: a chat was archived, pinned, muted, read or marked
    /// unread, or that was undone (see `domain::chat`).
    #[serde(rename = "chat.update")]
    ChatUpdate,
    /// `{chat, name, timestamp}`: a chat was deleted, with its messages.
    #[serde(rename = "chat.removed")]
    ChatRemoved,
    /// `{id, group, requester, timestamp}`: someone asks to join a group this
    /// account runs, whose admins approve who joins.
    #[serde(rename = "group.membership_request")]
    GroupMembershipRequest,
    /// `{id, from, is_video, is_group, timestamp, sender: {phone, lid}}`:
    /// a call rings on this account (see `domain::call`).
    #[serde(rename = "call.received")]
    CallReceived,
}

impl EventKind {
    pub const ALL: [EventKind; 19] = [
        EventKind::SessionStatus,
        EventKind::SessionQr,
        EventKind::SessionPairingCode,
        EventKind::Message,
        EventKind::MessageAny,
        EventKind::MessageAck,
        EventKind::MessageRevoked,
        EventKind::MessageEdited,
        EventKind::MessageReaction,
        EventKind::GroupJoin,
        EventKind::GroupLeave,
        EventKind::GroupUpdate,
        EventKind::GroupMembershipRequest,
        EventKind::ChatLabels,
        EventKind::ChatUpdate,
        EventKind::ChatRemoved,
        EventKind::PresenceUpdate,
        EventKind::MessagePollVote,
        EventKind::CallReceived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionStatus => "session.status",
            EventKind::SessionQr => "session.qr",
            EventKind::SessionPairingCode => "session.pairing_code",
            EventKind::Message => "message",
            EventKind::MessageAny => "message.any",
            EventKind::MessageAck => "message.ack",
            EventKind::MessageRevoked => "message.revoked",
            EventKind::MessageEdited => "message.edited",
            EventKind::MessageReaction => "message.reaction",
            EventKind::GroupJoin => "group.join",
            EventKind::GroupLeave => "group.leave",
            EventKind::GroupUpdate => "group.update",
            EventKind::GroupMembershipRequest => "group.membership_request",
            EventKind::ChatLabels => "chat.labels",
            EventKind::ChatUpdate => "chat.update",
            EventKind::ChatRemoved => "chat.removed",
            EventKind::PresenceUpdate => "presence.update",
            EventKind::MessagePollVote => "message.poll_vote",
            EventKind::CallReceived => "call.received",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The known names, for error messages.
    pub fn names() -> String {
        Self::ALL.map(EventKind::as_str).join(", ")
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kinds a subscriber wants: a list of names, `*` for all.
pub fn wants(names: &[String], kind: EventKind) -> bool {
    names.iter().any(|n| n == "*" || n == kind.as_str())
}

/// Checks a list of event names (`*` allowed); the bad one on error.
pub fn check_names(names: &[String]) -> Result<(), String> {
    match names
        .iter()
        .find(|n| *n != "*" && EventKind::parse(n).is_none())
    {
        Some(bad) => Err(bad.clone()),
        None => Ok(()),
    }
}

/// An event in the event log, under its place in it: `seq` grows with
/// every event committed, so a reader can ask for what came after one.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedEvent {
    pub seq: u64,
    pub event: Event,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// `evt_<ulid>`: stable across retries and restarts, for receivers to dedupe.
    pub id: String,
    pub event: EventKind,
    pub session: SessionId,
    /// unix ms
    pub timestamp: i64,
    pub payload: Value,
}

impl Event {
    pub fn new(session: &SessionId, event: EventKind, payload: Value) -> Self {
        Event {
            id: format!("evt_{}", ulid::Ulid::new()),
            event,
            session: session.clone(),
            timestamp: now_ms(),
            payload,
        }
    }

    /// An event whose id depends only on what it is about, so the same
    /// message seen twice (a replay after a crash, catch-up) yields the same
    /// `evt_` id and receivers can dedupe. ULID-shaped: time + 80-bit hash.
    pub fn stable(
        session: &SessionId,
        kind: EventKind,
        subject: &str,
        at_ms: i64,
        payload: Value,
    ) -> Event {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(session.as_str().as_bytes());
        h.update([0]);
        h.update(kind.as_str().as_bytes());
        h.update([0]);
        h.update(subject.as_bytes());
        let d = h.finalize();
        let mut rand = [0u8; 16];
        rand[6..].copy_from_slice(&d[..10]);
        let ulid = ulid::Ulid::from_parts(at_ms.max(0) as u64, u128::from_be_bytes(rand));
        Event {
            id: format!("evt_{ulid}"),
            event: kind,
            session: session.clone(),
            timestamp: now_ms(),
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!(check_names(&["*".into(), "message".into()]).is_ok());
        assert_eq!(check_names(&["nope".into()]), Err("nope".into()));
    }
}
