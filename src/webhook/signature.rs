//! Standard Webhooks signatures (https://www.standardwebhooks.com):
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{ts}.{body}")>`,
//! secret `whsec_<base64>`.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key bytes of a secret: base64 after `whsec_`; other secrets as given.
pub fn key_bytes(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|_| b64.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    }
}

pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&key_bytes(secret)).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The Standard Webhooks headers of a delivery: `webhook-id` always (the
/// event id, stable across retries), and the timestamp and signature when
/// the webhook has a secret.
pub fn standard_headers(
    d: &crate::domain::Delivery,
    body: &[u8],
    now_s: i64,
) -> Vec<(&'static str, String)> {
    let mut h = vec![("webhook-id", d.event.id.clone())];
    if let Some(secret) = &d.hook.secret {
        h.push(("webhook-timestamp", now_s.to_string()));
        h.push(("webhook-signature", sign(secret, &d.event.id, now_s, body)));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_spec_test_vector() {
        // The example from the Standard Webhooks reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(
            crate::domain::webhook::is_valid_secret(secret)
                && !crate::domain::webhook::is_valid_secret("whsec_!!")
                && !crate::domain::webhook::is_valid_secret("short")
        );
    }
}
