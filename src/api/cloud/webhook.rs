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
        EventKind::MessageEdited | EventKind::MessageRevoked => convert::amended(ev, users),
        _ => convert::inbound(&ev.session, &ev.payload, users),
    };
    let body = meta_json(&value);
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

/// JSON as Meta writes its webhook bodies: ASCII only (other characters
/// as lowercase `\uXXXX`, by UTF-16 unit) and `/` as `\/`. Meta signs these
/// bytes, and receivers that rebuild them before checking the signature
/// rebuild them this way.
fn meta_json(v: &serde_json::Value) -> Vec<u8> {
    struct Meta;
    impl serde_json::ser::Formatter for Meta {
        fn write_string_fragment<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> std::io::Result<()> {
            let mut units = [0u16; 2];
            for c in fragment.chars() {
                match c {
                    '/' => w.write_all(b"\\/")?,
                    c if c.is_ascii() => w.write_all(&[c as u8])?,
                    c => {
                        for u in c.encode_utf16(&mut units) {
                            write!(w, "\\u{u:04x}")?;
                        }
                    }
                }
            }
            Ok(())
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Meta);
    serde::Serialize::serialize(v, &mut ser)
        .map(|_| out)
        .unwrap_or_default()
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

    #[test]
    fn bodies_are_escaped_as_meta_escapes_them() {
        let v = serde_json::json!({"text": {"body": "äöå 👍 \"q\" a/b"}, "n": 1});
        let body = super::meta_json(&v);
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            r#"{"n":1,"text":{"body":"\u00e4\u00f6\u00e5 \ud83d\udc4d \"q\" a\/b"}}"#
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            v
        );
    }
}
