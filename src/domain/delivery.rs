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
    static IDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let next = IDS.lock().unwrap_or_else(|e| e.into_inner()).generate();
    // Only 2^80 ids within one millisecond overflow it.
    format!("dlv_{}", next.unwrap_or_else(|_| ulid::Ulid::new()))
}

impl Delivery {
    pub fn new(hook: &Webhook, event: &Event) -> Delivery {
        let now = now_ms();
        Delivery {
            id: next_delivery_id(),
            session: event.session.clone(),
            hook: hook.clone(),
            event: event.clone(),
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
