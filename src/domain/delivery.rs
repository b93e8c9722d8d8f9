//! Deliveries: one per (event, subscribed webhook), written to the outbox in
//! the same transaction as the change that produced the event.

use super::event::Event;
use super::ids::{SessionId, now_ms};
use super::webhook::Webhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delivery {
    /// `dlv_<ulid>`: time-ordered.
    pub id: String,
    pub session: SessionId,
    /// The webhook as it was when the event happened, or at the last
    /// attempt for a session's own webhook (secret included).
    pub hook: Webhook,
    pub event: Event,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// unix ms of the next attempt
    pub next_at: i64,
    pub created_at: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    /// From one of the session's own webhooks (not the global one, not a
    /// message's status callback): each attempt uses the webhook as it is
    /// then (a rotated secret, new headers), and a removed one gets no more.
    #[serde(default)]
    pub subscription: bool,
}

/// A new delivery id: `dlv_<ulid>`, each greater than every one before it
/// in this process. Deliveries are made and committed in the same order
/// (the pipeline holds one lock across both), so an id says which commits
/// came before it.
pub fn next_delivery_id() -> String {
    let mut last = LAST_ID.lock().unwrap_or_else(|e| e.into_inner());
    let now = ulid::Ulid::new();
    // Within one millisecond, or after the clock went back: one more.
    let next = match last.increment() {
        Some(after) if now <= *last => after,
        _ => now,
    };
    *last = next;
    format!("dlv_{next}")
}

/// Ids made from now on are greater than `id`: one stored before a
/// restart, while the clock may since have gone back.
pub fn delivery_ids_above(id: &str) {
    if let Ok(stored) = ulid::Ulid::from_string(id.trim_start_matches("dlv_")) {
        let mut last = LAST_ID.lock().unwrap_or_else(|e| e.into_inner());
        if stored > *last {
            *last = stored;
        }
    }
}

/// The greatest delivery id made so far.
static LAST_ID: std::sync::Mutex<ulid::Ulid> = std::sync::Mutex::new(ulid::Ulid::nil());

impl Delivery {
    pub fn new(hook: &Webhook, event: &Event) -> Delivery {
        let now = now_ms();
        let mut event = event.clone();
        // The message an ack or a reaction carries is the native and
        // open-wa bodies' only: the others' outbox rows need not keep a copy.
        let carried = match event.event {
            super::EventKind::MessageAck => Some("message"),
            super::EventKind::MessageReaction => Some("target"),
            _ => None,
        };
        if let Some(key) = carried
            && !matches!(hook.format, super::Format::Native | super::Format::Openwa)
            && let Some(p) = event.payload.as_object_mut()
        {
            p.remove(key);
        }
        Delivery {
            id: next_delivery_id(),
            session: event.session.clone(),
            hook: hook.clone(),
            event,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_at: now,
            created_at: now,
            last_status: None,
            last_error: None,
            delivered_at: None,
            subscription: false,
        }
    }

    /// A delivery to one of the session's own webhooks.
    pub fn for_subscription(hook: &Webhook, event: &Event) -> Delivery {
        Delivery {
            subscription: true,
            ..Delivery::new(hook, event)
        }
    }

    /// As the API shows it: no secret, no custom header values, no token
    /// in the URL.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "session": self.session, "url": super::webhook::masked_url(&self.hook.url), "format": self.hook.format,
            "event_id": self.event.id, "event": self.event.event, "status": self.status,
            "attempts": self.attempts, "max_attempts": self.hook.retries.attempts,
            "next_attempt_at": (self.status == DeliveryStatus::Pending).then_some(self.next_at),
            "created_at": self.created_at, "delivered_at": self.delivered_at,
            "last_status": self.last_status, "last_error": self.last_error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_only_grow_even_after_the_clock_went_back() {
        let ids: Vec<String> = (0..1000).map(|_| next_delivery_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        // One stored ahead of this clock (a clock stepped back since; a
        // small step: the ids of other tests in this process follow it).
        let ahead = ulid::Ulid::from_parts(now_ms() as u64 + 2_000, 0);
        delivery_ids_above(&format!("dlv_{ahead}"));
        let next = next_delivery_id();
        assert!(next > format!("dlv_{ahead}"), "{next}");
        assert!(next_delivery_id() > next);
    }
}
