//! Webhook bodies: `native` (the event envelope) and `simple` (what
//! backends written for open-wa wrappers consume).

use super::Format;
use crate::events::Event;
use serde_json::{Value, json};

/// Whether a webhook of this format carries this event at all.
pub fn carries(format: Format, event: &str) -> bool {
    match format {
        Format::Simple => event == "message" || event == "message.any",
        _ => true,
    }
}

/// The body and its content type.
pub fn body(format: Format, ev: &Event) -> (Vec<u8>, &'static str) {
    let v = match format {
        Format::Simple => simple(ev),
        _ => serde_json::to_value(ev).unwrap_or(Value::Null),
    };
    (
        serde_json::to_vec(&v).unwrap_or_default(),
        "application/json",
    )
}

fn simple(ev: &Event) -> Value {
    let p = &ev.payload;
    let phone = p["sender"]["phone"]
        .as_str()
        .or_else(|| p["chat"].as_str().and_then(|c| c.strip_suffix("@c.us")))
        .unwrap_or("");
    let ts = p["timestamp"]
        .as_i64()
        .unwrap_or(ev.timestamp / 1000)
        .max(0) as u64;
    json!({
        "from_number": format!("+{phone}"),
        "message": p["text"].as_str().or(p["caption"].as_str()).unwrap_or(""),
        "session_id": ev.session,
        "message_id": p["id"],
        "timestamp": humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(ts)).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionId;

    #[test]
    fn simple_shape() {
        let ev = Event::new(
            &SessionId::parse("shop1").unwrap(),
            "message",
            json!({"id": "false_15551234567@c.us_X", "chat": "15551234567@c.us", "text": "hi",
                   "timestamp": 1704110400, "sender": {"phone": "15551234567", "name": "A"}}),
        );
        let (b, ct) = body(Format::Simple, &ev);
        assert_eq!(ct, "application/json");
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v,
            json!({"from_number": "+15551234567", "message": "hi", "session_id": "shop1",
                   "message_id": "false_15551234567@c.us_X", "timestamp": "2024-01-01T12:00:00Z"})
        );
        assert!(carries(Format::Simple, "message") && !carries(Format::Simple, "session.status"));
        let (b, _) = body(Format::Native, &ev);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["event"], "message");
        assert_eq!(v["session"], "shop1");
        assert!(v["id"].as_str().unwrap().starts_with("evt_"));
    }
}
