//! The domain: types with meaning and no I/O, shared by every layer above.
//! Ids, sessions, messages, events, webhook subscriptions and deliveries.

pub mod access;
pub mod call;
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
pub use delivery::{Delivery, DeliveryStatus, delivery_ids_above, next_delivery_id};
pub use event::{Event, EventKind, LoggedEvent};
pub use ids::{
    SessionId, Wid, now_ms, parse_phone, phone_or_lid, quoted_author, sender_of, user_of,
};
pub use message::{
    Ack, Amendment, Choice, Edit, GroupChange, GroupSetting, Location, MediaInfo, Menu, MenuKind,
    Message, PinDuration, Poll, Quoted, Reaction, Sender, StatusStyle, Vote, is_one_emoji,
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
