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
        // Over the URL as it goes out (host in lower case, spaces
        // escaped, `.` segments gone), which is the one the receiver's
        // validator rebuilds from the request, not as it was typed.
        let url = reqwest::Url::parse(&d.hook.url).map_or(d.hook.url.clone(), String::from);
        headers.push(("x-twilio-signature", convert::signature(token, &url, &form)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Event, Format, SessionId, Webhook};

    #[test]
    fn the_signature_is_over_the_url_as_it_goes_out() {
        let s = SessionId::parse("AC1").unwrap();
        let mut hook =
            Webhook::subscriber("HTTP://Example.COM/a/./b?q=x y".into(), Format::Twilio, &[]);
        hook.secret = Some("token".into());
        let ev = Event::new(
            &s,
            EventKind::Message,
            serde_json::json!({"id": "m1", "chat": "15551234567@c.us", "text": "hi"}),
        );
        let r = render(&Delivery::new(&hook, &ev), "http://127.0.0.1:8080");
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&r.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let sent = convert::signature("token", "http://example.com/a/b?q=x%20y", &form);
        assert_eq!(r.headers, [("x-twilio-signature", sent)]);
    }
}
