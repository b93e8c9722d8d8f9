//! Twilio webhooks: form posts with Twilio's fields, signed
//! `X-Twilio-Signature` with the webhook's `secret` as the auth token. An
//! inbound message's answer (TwiML) is a reply: see `replies`.

use super::convert;
use crate::domain::{Delivery, EventKind};
use crate::webhook::Rendered;

pub fn render(d: &Delivery, public_url: &str) -> Rendered {
    let ev = &d.event;
    let account = d
        .hook
        .meta
        .get("account")
        .or(d.hook.account_sid.as_ref())
        .cloned()
        .unwrap_or_else(|| ev.session.to_string());
    let form = match ev.event {
        EventKind::MessageAck => convert::status_form(&ev.session, &ev.payload, &account),
        _ => convert::inbound_form(&ev.session, &ev.payload, &account, public_url),
    };
    let mut headers = vec![];
    if let Some(token) = &d.hook.secret {
        headers.push((
            "x-twilio-signature",
            convert::signature(token, &d.hook.url, &form),
        ));
    }
    let mut r = Rendered::new(
        convert::encode_form(&form),
        "application/x-www-form-urlencoded",
        headers,
    );
    // Twilio answers an inbound message's webhook with TwiML to send back.
    r.wants_reply = ev.event == EventKind::Message;
    r
}
