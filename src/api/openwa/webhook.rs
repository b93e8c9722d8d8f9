//! open-wa webhook bodies. `simple`: what backends written for an open-wa
//! wrapper consume, one flat object per inbound message.

use crate::domain::{Delivery, Event};
use crate::webhook::{Rendered, signature};
use serde_json::{Value, json};

pub fn render_simple(d: &Delivery, now_s: i64) -> Rendered {
    let body = serde_json::to_vec(&simple(&d.event)).unwrap_or_default();
    Rendered {
        headers: signature::standard_headers(d, &body, now_s),
        body,
        content_type: "application/json",
    }
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
    use crate::domain::{EventKind, SessionId};

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
