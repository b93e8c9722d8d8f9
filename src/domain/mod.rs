//! The domain: types with meaning and no I/O, shared by every layer above.
//! Ids, sessions, messages, events, webhook subscriptions and deliveries.

pub mod access;
pub mod call;
pub mod chat;
pub mod delivery;
pub mod event;
pub mod ids;
pub mod message;
pub mod pacing;
pub mod proxy;
pub mod session;
pub mod webhook;

pub use access::{Access, ApiKey, KEY_PREFIX, KeySet, Refusal, Scope};
pub use call::{CallPolicy, IncomingCall};
pub use chat::{ChatField, ReadReceipts};
pub use delivery::{Delivery, DeliveryStatus, delivery_ids_above, next_delivery_id};
pub use event::{Event, EventKind, LoggedEvent};
pub use ids::{
    SessionId, Wid, now_ms, parse_phone, phone_or_lid, quoted_author, sender_of, user_of,
};
pub use message::{
    Ack, Amendment, Choice, Edit, EventPlace, GroupChange, GroupInvite, GroupSetting, Location,
    MediaInfo, Menu, MenuKind, Message, PinDuration, Poll, Quoted, Reaction, SavedAs,
    ScheduledEvent, Sender, StatusStyle, Vote, is_one_emoji,
};
pub use proxy::Proxy;
pub use session::{Limits, Me, SessionRecord, Status};
pub use webhook::{Format, Retries, Webhook};

/// An optional field sent as `null` (what clients that write out every
/// field do) means what leaving it out means. For `deserialize_with`
/// beside `default`.
pub fn null_is_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Base64 from a client, read as Node's `Buffer.from(s, 'base64')` reads
/// it (what open-wa and whatsapp-web.js users send): line breaks and
/// spaces anywhere (MIME encoders wrap every 76 characters), padding or
/// none, and the URL-safe alphabet too.
pub fn base64_bytes(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let alphabet = if compact.contains(['-', '_']) {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    GeneralPurpose::new(alphabet, LENIENT).decode(compact)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_is_read_as_node_reads_it() {
        let want = b"wabridge media \xff\xfe".to_vec();
        for s in [
            "d2FicmlkZ2UgbWVkaWEg//4=",
            "d2FicmlkZ2Ug\r\nbWVkaWEg\n//4=\n",
            " d2FicmlkZ2UgbWVkaWEg//4 ",
            "d2FicmlkZ2UgbWVkaWEg__4=",
        ] {
            assert_eq!(super::base64_bytes(s).as_deref(), Ok(&want[..]), "{s:?}");
        }
        assert!(super::base64_bytes("not base64!").is_err());
        assert!(
            super::base64_bytes("d2Fi+mlk_2Ug").is_err(),
            "two alphabets at once"
        );
    }
}
