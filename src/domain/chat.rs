//! A chat's own changes, made here, on the phone or on another device:
//! archived, pinned, muted, read or marked unread (`chat.update`), and
//! deleted (`chat.removed`). WhatsApp syncs how an account keeps its chats
//! to every device; these events tell a backend what its agents did on
//! the phone.

use super::event::{Event, EventKind};
use super::ids::SessionId;
use super::message::{Ack, Message};
use serde_json::{Value, json};

/// What changed on a chat: each is a field of the chat as `GET .../chats`
/// lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatField {
    Archived,
    Pinned,
    MutedUntil,
    /// Read (`unread` 0) or marked unread (`marked_unread`); a message
    /// that comes is an event of its own, not this.
    Unread,
}

impl ChatField {
    pub fn parse(s: &str) -> Option<ChatField> {
        Some(match s {
            "archived" => ChatField::Archived,
            "pinned" => ChatField::Pinned,
            "muted_until" => ChatField::MutedUntil,
            "unread" => ChatField::Unread,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChatField::Archived => "archived",
            ChatField::Pinned => "pinned",
            ChatField::MutedUntil => "muted_until",
            ChatField::Unread => "unread",
        }
    }
}

/// `{chat, changed, name, archived, pinned, muted_until, unread,
/// marked_unread}`: `chat` as the chat list shows it (its `id` is the
/// payload's `chat`); `changed` names the field that changed. WhatsApp
/// Web tells nothing that names one change apart from another: the
/// event's id is its own.
pub fn chat_update_event(session: &SessionId, changed: ChatField, chat: &Value) -> Event {
    Event::new(
        session,
        EventKind::ChatUpdate,
        json!({
            "chat": chat["id"], "changed": changed.as_str(), "name": chat["name"],
            "archived": chat["archived"], "pinned": chat["pinned"], "muted_until": chat["muted_until"],
            "unread": chat["unread"], "marked_unread": chat["marked_unread"],
        }),
    )
}

/// `{chat, name, timestamp}`: the chat was deleted, with its messages;
/// `name` as WhatsApp Web showed it.
pub fn chat_removed_event(session: &SessionId, chat: &str, name: Option<&str>, at: i64) -> Event {
    Event::new(
        session,
        EventKind::ChatRemoved,
        json!({"chat": chat, "name": name, "timestamp": at}),
    )
}

/// Whether a contact's read receipts show, as this account's messages
/// with them tell (WhatsApp shows them only where both keep them on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadReceipts {
    /// Our newest telling message was read.
    On,
    /// They wrote after one of ours reached them, and it shows as not
    /// read: they, or this account, keep read receipts off.
    Off,
    /// What the messages cannot tell yet.
    Unknown(&'static str),
}

/// Reads [`ReadReceipts`] from a contact's chat, newest first: the
/// newest evidence tells (they may have turned them on or off since). A
/// played voice note tells nothing: WhatsApp sends play receipts whatever
/// the read receipts, and the history keeps only the furthest ack.
pub fn read_receipts(newest_first: &[Message]) -> ReadReceipts {
    let mut they_wrote_since = false;
    for m in newest_first {
        if !m.from_me {
            they_wrote_since = true;
            continue;
        }
        match m.ack {
            Ack::Read => return ReadReceipts::On,
            // It reached them, they wrote after, and it is not read.
            Ack::Delivered if they_wrote_since => return ReadReceipts::Off,
            _ => {}
        }
    }
    ReadReceipts::Unknown(if they_wrote_since {
        "none of our messages reached them before they last wrote"
    } else {
        "they have written nothing since the messages kept"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_the_payload_names_the_chat() {
        for f in [
            ChatField::Archived,
            ChatField::Pinned,
            ChatField::MutedUntil,
            ChatField::Unread,
        ] {
            assert_eq!(ChatField::parse(f.as_str()), Some(f));
        }
        assert_eq!(ChatField::parse("labels"), None);
        let sid = SessionId::parse("shop1").unwrap();
        let chat = json!({"id": "15551234567@c.us", "name": "Ann", "unread": 0, "archived": true,
            "pinned": false, "muted_until": null, "marked_unread": false, "labels": []});
        let ev = chat_update_event(&sid, ChatField::Archived, &chat);
        assert_eq!(ev.event, EventKind::ChatUpdate);
        assert_eq!(ev.payload["chat"], "15551234567@c.us");
        assert_eq!(ev.payload["changed"], "archived");
        assert_eq!(ev.payload["archived"], true);
        assert!(ev.payload.get("labels").is_none());
    }

    #[test]
    fn read_receipts_from_the_acks_of_our_messages() {
        let m = |from_me: bool, ack: Ack, ts: i64| {
            let sid = SessionId::parse("shop1").unwrap();
            let mut m = Message::from_bridge(&sid, &json!({
                "id": format!("m{ts}"), "chat": "15551234567@c.us", "from": "15551234567@c.us",
                "to": "15550001111@c.us", "from_me": from_me, "type": "text", "text": "hi",
                "timestamp": ts, "ack": 0, "sender": {"phone": "15551234567"}, "reply_to": null, "media": null,
            }))
            .unwrap();
            m.ack = ack;
            m
        };
        use ReadReceipts::*;
        // Newest first.
        assert_eq!(
            read_receipts(&[m(true, Ack::Read, 10), m(false, Ack::Pending, 5)]),
            On
        );
        // A played voice note tells nothing; the newest evidence wins.
        assert!(matches!(
            read_receipts(&[m(true, Ack::Played, 10)]),
            Unknown(_)
        ));
        assert_eq!(
            read_receipts(&[
                m(false, Ack::Pending, 30),
                m(true, Ack::Delivered, 20),
                m(true, Ack::Read, 10)
            ]),
            Off
        );
        assert_eq!(
            read_receipts(&[
                m(true, Ack::Read, 30),
                m(false, Ack::Pending, 25),
                m(true, Ack::Delivered, 20)
            ]),
            On
        );
        assert_eq!(
            read_receipts(&[m(false, Ack::Pending, 20), m(true, Ack::Delivered, 10)]),
            Off
        );
        // Within one second: the history's order tells.
        assert_eq!(
            read_receipts(&[m(false, Ack::Pending, 10), m(true, Ack::Delivered, 10)]),
            Off
        );
        // Ours came after their last: not seen yet.
        assert!(matches!(
            read_receipts(&[m(true, Ack::Delivered, 20), m(false, Ack::Pending, 10)]),
            Unknown(_)
        ));
        // Only sent (not delivered) before theirs: not on their phone yet.
        assert!(matches!(
            read_receipts(&[m(false, Ack::Pending, 20), m(true, Ack::Sent, 10)]),
            Unknown(_)
        ));
        assert!(matches!(read_receipts(&[]), Unknown(_)));
    }
}
