//! Cloud API webhooks: Meta's envelope, one event per POST (clients read
//! only the first), `X-Hub-Signature-256` with the webhook's `secret` as the
//! app secret, and the `hub.challenge` handshake when it has a
//! `verify_token`.

use super::convert::{self, UserIds};
use crate::domain::{Delivery, EventKind};
use crate::webhook::{Handshake, Rendered};

pub fn render(d: &Delivery, users: &UserIds) -> Rendered {
    let ev = &d.event;
    let value = match ev.event {
        EventKind::MessageAck => convert::status(&ev.session, &ev.payload, ev.timestamp, users),
        EventKind::MessageReaction => {
            let me = crate::domain::user_of(ev.payload["me"].as_str().unwrap_or(""));
            convert::reaction(&ev.session, &ev.payload, me, users)
        }
        _ => convert::inbound(&ev.session, &ev.payload, users),
    };
    let body = serde_json::to_vec(&value).unwrap_or_default();
    let mut headers = vec![];
    if let Some(secret) = &d.hook.secret {
        headers.push((
            "x-hub-signature-256",
            format!("sha256={}", hmac_hex(secret, &body)),
        ));
    }
    let mut r = Rendered::new(body, "application/json", headers);
    r.handshake = d
        .hook
        .verify_token
        .as_deref()
        .map(|t| handshake(&d.hook.url, t));
    r
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `GET url?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`; the
/// challenge is stable per subscription, so a passed handshake is remembered.
fn handshake(url: &str, token: &str) -> Handshake {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{url}\0{token}").as_bytes());
    let challenge =
        (u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) % 1_000_000_000_000).to_string();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.verify_token", token)
        .append_pair("hub.challenge", &challenge)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    Handshake {
        url: format!("{url}{sep}{q}"),
        challenge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_metas() {
        // HMAC-SHA256 hex of the raw body with the app secret (RFC 4231-style vector).
        assert_eq!(
            hmac_hex("key", b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let h = handshake("http://127.0.0.1:1/hook", "tok en");
        assert!(h.url.starts_with(
            "http://127.0.0.1:1/hook?hub.mode=subscribe&hub.verify_token=tok+en&hub.challenge="
        ));
        assert!(h.url.ends_with(&h.challenge));
    }
}
