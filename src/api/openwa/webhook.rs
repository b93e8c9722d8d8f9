//! open-wa webhook bodies. `simple`: what backends written for an open-wa
//! wrapper consume, one flat object per inbound message. `openwa`: open-wa's
//! own `{ts, sessionId, id, event, data, webhook_id}` with its listener
//! names (onMessage, onAnyMessage, onAck, onStateChanged, onLogout,
//! onMessageDeleted, onGlobalParticipantsChanged, onAddedToGroup,
//! onPollVote, onGroupChange, onIncomingCall, onGroupApprovalRequest,
//! onRemovedFromGroup, onReaction, onChatState, onChatDeleted) and its shapes. Both Standard Webhooks signed.

use super::convert;
use crate::domain::{Delivery, Event, EventKind, Status};
use crate::webhook::{Rendered, signed_json};
use serde_json::{Value, json};

/// `base`: where clients reach this daemon (media URLs).
pub fn render_openwa(d: &Delivery, now_s: i64, base: &str) -> Rendered {
    let global = convert::hook_listeners(&d.hook).contains(&"onGlobalParticipantsChanged");
    signed_json(d, &openwa(&d.event, &webhook_id(d), base, global), now_s)
}

/// A stable id of the subscription (open-wa gives each registered webhook one).
fn webhook_id(d: &Delivery) -> String {
    convert::hook_id(&d.session, &d.hook.url)
}

/// The listener name and data open-wa would send for an event.
/// `global`: the webhook serves onGlobalParticipantsChanged.
fn openwa(ev: &Event, webhook_id: &str, base: &str, global: bool) -> Value {
    let p = &ev.payload;
    let (name, data) = match ev.event {
        EventKind::Message => ("onMessage", convert::message(p, base)),
        EventKind::MessageAny => ("onAnyMessage", convert::message(p, base)),
        EventKind::MessageAck => ("onAck", convert::acked_message(p, base)),
        // open-wa hands on the Message; a message this account never had
        // is named by its id and chat only.
        EventKind::MessageRevoked => (
            "onMessageDeleted",
            match p.get("message").filter(|m| m.is_object()) {
                Some(m) => convert::message(m, base),
                None => json!({"id": p["id"], "chatId": p["chat"]}),
            },
        ),
        EventKind::GroupJoin | EventKind::GroupLeave => convert::participants_changed(p, global),
        // Admins made or unmade; else a new subject (open-wa's Insiders
        // `onGroupChange`).
        EventKind::GroupUpdate if p["action"].is_string() => {
            convert::participants_changed(p, global)
        }
        EventKind::GroupUpdate => ("onGroupChange", convert::group_change(ev)),
        EventKind::MessagePollVote => ("onPollVote", convert::poll_data(p)),
        EventKind::CallReceived => ("onIncomingCall", convert::incoming_call(p)),
        EventKind::GroupMembershipRequest => {
            ("onGroupApprovalRequest", convert::approval_request(ev))
        }
        EventKind::MessageReaction => ("onReaction", convert::reaction(p, base)),
        EventKind::PresenceUpdate => ("onChatState", convert::chat_state(p)),
        EventKind::ChatRemoved => ("onChatDeleted", convert::deleted_chat(p)),
        // Not carried by this format (Format::carries).
        EventKind::MessageEdited | EventKind::ChatLabels | EventKind::ChatUpdate => {
            ("onMessage", Value::Null)
        }
        EventKind::SessionStatus | EventKind::SessionQr | EventKind::SessionPairingCode => {
            let status: Option<Status> = serde_json::from_value(p["status"].clone()).ok();
            match status {
                Some(Status::LoggedOut) => ("onLogout", json!(true)),
                Some(s) => ("onStateChanged", json!(convert::state(s))),
                None => ("onStateChanged", Value::Null),
            }
        }
    };
    convert::webhook_envelope(ev.timestamp, &ev.session, &ev.id, name, data, webhook_id)
}

pub fn render_simple(d: &Delivery, now_s: i64) -> Rendered {
    signed_json(d, &simple(&d.event), now_s)
}

fn simple(ev: &Event) -> Value {
    let p = &ev.payload;
    // Who wrote: a number to answer; for someone WhatsApp shows only by
    // a privacy id, that id (`…@lid`), which sends accept as well.
    let phone = p["sender"]["phone"]
        .as_str()
        .or_else(|| p["chat"].as_str().and_then(|c| c.strip_suffix("@c.us")))
        .map(|p| format!("+{p}"))
        .or_else(|| p["sender"]["lid"].as_str().map(String::from))
        .unwrap_or_default();
    let ts = p["timestamp"]
        .as_i64()
        .unwrap_or(ev.timestamp / 1000)
        .max(0) as u64;
    json!({
        "from_number": phone,
        "message": p["text"].as_str().or(p["caption"].as_str()).unwrap_or(""),
        "session_id": ev.session,
        "message_id": p["id"],
        "timestamp": humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(ts)).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SessionId;

    /// Each change to a group's info is one `onGroupChange`, typed by
    /// WhatsApp's notice subtype.
    #[test]
    fn group_changes_are_on_group_change() {
        use crate::domain::{GroupChange, GroupSetting, message::group_update_event};
        let sid = SessionId::parse("shop1").unwrap();
        let g = "120363000000000001@g.us";
        for (change, kind, body, meta) in [
            (
                GroupChange::Subject("Bakers".into()),
                "subject",
                "Bakers",
                ("subject", json!("Bakers")),
            ),
            (
                GroupChange::Description("At 7".into()),
                "description",
                "At 7",
                ("desc", json!("At 7")),
            ),
            (
                GroupChange::Setting(GroupSetting::Announce, true),
                "announce",
                "on",
                ("announce", json!(true)),
            ),
            (
                GroupChange::Setting(GroupSetting::Restrict, false),
                "restrict",
                "off",
                ("restrict", json!(false)),
            ),
        ] {
            let notice = "false_120363000000000001@g.us_3EB0AA_15551234567@c.us";
            let ev = group_update_event(
                &sid,
                g,
                Some(notice),
                &change,
                Some("15551234567@c.us"),
                1704110400,
                Some("15550000000@c.us"),
            );
            let v = openwa(&ev, "w1", "http://wabridge", true);
            assert_eq!(v["event"], "onGroupChange", "{v}");
            let d = &v["data"];
            assert_eq!(
                (d["type"].as_str(), d["body"].as_str()),
                (Some(kind), Some(body)),
                "{d}"
            );
            assert_eq!(
                (
                    d["groupMetadata"]["id"].as_str(),
                    &d["groupMetadata"][meta.0]
                ),
                (Some(g), &meta.1)
            );
            // open-wa's GenericGroupChangeEvent: the notice's MessageId,
            // its author a Contact.
            assert_eq!(d["id"], notice);
            assert_eq!(
                (d["author"]["id"].as_str(), d["author"]["isMe"].as_bool()),
                (Some("15551234567@c.us"), Some(false)),
                "{d}"
            );
        }
        // This account's own change: its author is me.
        let ev = group_update_event(
            &sid,
            g,
            None,
            &GroupChange::Subject("Ours".into()),
            Some("15550000000@c.us"),
            1704110400,
            Some("15550000000@c.us"),
        );
        let d = &openwa(&ev, "w1", "http://wabridge", true)["data"];
        assert_eq!(d["author"]["isMe"], true, "{d}");
    }

    #[test]
    fn openwa_shapes() {
        let sid = SessionId::parse("shop1").unwrap();
        let msg = json!({"id": "false_15551234567@c.us_X", "session": "shop1", "chat": "15551234567@c.us",
            "from": "15551234567@c.us", "to": "15550001111@c.us", "from_me": false, "type": "text", "text": "hi",
            "caption": null, "timestamp": 1704110400, "ack": "sent", "sender": {"phone": "15551234567", "name": "Alice"},
            "reply_to": null, "media": null});
        let v = openwa(
            &Event::new(&sid, EventKind::Message, msg),
            "w1",
            "http://wabridge",
            true,
        );
        assert_eq!(v["event"], "onMessage");
        assert_eq!(v["sessionId"], "shop1");
        assert_eq!(v["webhook_id"], "w1");
        assert!(v["id"].as_str().unwrap().starts_with("evt_") && v["ts"].is_i64());
        let d = &v["data"];
        assert_eq!(
            (d["body"].as_str(), d["type"].as_str(), d["t"].as_i64()),
            (Some("hi"), Some("chat"), Some(1704110400))
        );
        assert_eq!(
            (d["from"].as_str(), d["chatId"].as_str()),
            (Some("15551234567@c.us"), Some("15551234567@c.us"))
        );
        assert_eq!(
            (
                d["fromMe"].as_bool(),
                d["isGroupMsg"].as_bool(),
                d["ack"].as_i64()
            ),
            (Some(false), Some(false), Some(1))
        );
        assert_eq!(d["sender"]["pushname"], "Alice");
        assert_eq!(d["sender"]["id"], "15551234567@c.us");
        let ack = openwa(
            &Event::new(
                &sid,
                EventKind::MessageAck,
                json!({"id": "true_1@c.us_A", "chat": "1@c.us", "ack": "read"}),
            ),
            "w1",
            "http://wabridge",
            true,
        );
        assert_eq!(
            (
                ack["event"].as_str(),
                ack["data"]["ack"].as_i64(),
                ack["data"]["fromMe"].as_bool()
            ),
            (Some("onAck"), Some(3), Some(true))
        );
        // With the message stored, onAck hands it on whole, at its new ack.
        let sent = json!({"id": "true_1@c.us_A", "chat": "1@c.us", "from": "2@c.us", "to": "1@c.us",
            "from_me": true, "type": "text", "text": "order ready", "timestamp": 5, "ack": "read"});
        let whole = openwa(
            &Event::new(
                &sid,
                EventKind::MessageAck,
                json!({"id": "true_1@c.us_A", "chat": "1@c.us", "ack": "read", "me": "2@c.us", "message": sent}),
            ),
            "w1",
            "http://wabridge",
            true,
        );
        let d = &whole["data"];
        assert_eq!(
            (
                d["body"].as_str(),
                d["type"].as_str(),
                d["ack"].as_i64(),
                d["from"].as_str(),
                d["to"].as_str()
            ),
            (
                Some("order ready"),
                Some("chat"),
                Some(3),
                Some("2@c.us"),
                Some("1@c.us")
            )
        );
        let st = openwa(
            &Event::new(
                &sid,
                EventKind::SessionStatus,
                json!({"status": "CONNECTED"}),
            ),
            "w1",
            "http://wabridge",
            true,
        );
        assert_eq!(
            (st["event"].as_str(), st["data"].as_str()),
            (Some("onStateChanged"), Some("CONNECTED"))
        );
        let out = openwa(
            &Event::new(
                &sid,
                EventKind::SessionStatus,
                json!({"status": "LOGGED_OUT"}),
            ),
            "w1",
            "http://wabridge",
            true,
        );
        assert_eq!(
            (out["event"].as_str(), out["data"].as_bool()),
            (Some("onLogout"), Some(true))
        );
        // A deleted message goes out as the Message, revoked.
        let stored = json!({"id": "false_1@c.us_B", "chat": "1@c.us", "from": "1@c.us", "from_me": false,
            "type": "text", "text": null, "revoked": true, "timestamp": 5, "ack": "delivered",
            "sender": {"phone": "1", "name": "Bo"}});
        let del = openwa(
            &Event::new(
                &sid,
                EventKind::MessageRevoked,
                json!({"id": "false_1@c.us_B", "chat": "1@c.us", "message": stored}),
            ),
            "w1",
            "http://wabridge",
            true,
        );
        assert_eq!(
            (
                del["event"].as_str(),
                del["data"]["id"].as_str(),
                del["data"]["type"].as_str(),
                del["data"]["from"].as_str()
            ),
            (
                Some("onMessageDeleted"),
                Some("false_1@c.us_B"),
                Some("revoked"),
                Some("1@c.us")
            )
        );
    }

    /// A chat deleted is open-wa's `onChatDeleted` with the Chat; a
    /// chat's archive or reading has no listener, and no body.
    #[test]
    fn a_chat_deleted_is_on_chat_deleted() {
        use crate::domain::{ChatField, chat};
        let sid = SessionId::parse("shop1").unwrap();
        let ev = chat::chat_removed_event(&sid, "15551234567@c.us", Some("Ann"), 1704110400);
        let v = openwa(&ev, "w1", "http://wabridge", false);
        assert_eq!(v["event"], "onChatDeleted", "{v}");
        let d = &v["data"];
        assert_eq!(
            (d["id"].clone(), d["name"].clone(), d["isGroup"].clone()),
            (json!("15551234567@c.us"), json!("Ann"), json!(false)),
            "{d}"
        );
        let (events, served) = convert::listener_events(&["onChatDeleted".to_string()]);
        assert_eq!(
            (events, served),
            (vec!["chat.removed".to_string()], vec!["onChatDeleted"])
        );
        assert!(crate::domain::Format::Openwa.carries(EventKind::ChatRemoved));
        let update = chat::chat_update_event(
            &sid,
            ChatField::Archived,
            &json!({"id": "15551234567@c.us"}),
        );
        assert!(!crate::domain::Format::Openwa.carries(update.event));
    }

    #[test]
    fn simple_shape() {
        let ev = Event::new(
            &SessionId::parse("shop1").unwrap(),
            EventKind::Message,
            json!({"id": "false_15551234567@c.us_X", "chat": "15551234567@c.us", "text": "hi",
                   "timestamp": 1704110400, "sender": {"phone": "15551234567", "name": "A"}}),
        );
        assert_eq!(
            simple(&ev),
            json!({"from_number": "+15551234567", "message": "hi", "session_id": "shop1",
                   "message_id": "false_15551234567@c.us_X", "timestamp": "2024-01-01T12:00:00Z"})
        );
    }
}
