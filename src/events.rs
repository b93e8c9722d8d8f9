//! Events: what sessions report, in the native envelope. Producers (session
//! drivers) publish to the bus; consumers (the SSE stream, the webhook
//! outbox) subscribe. Data flows one way: session -> bus -> consumers.

use crate::model::{SessionId, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// `evt_<ulid>`: stable across retries and restarts, for receivers to dedupe.
    pub id: String,
    pub event: String,
    pub session: SessionId,
    /// unix ms
    pub timestamp: i64,
    pub payload: Value,
}

impl Event {
    pub fn new(session: &SessionId, event: &str, payload: Value) -> Self {
        Event {
            id: format!("evt_{}", ulid::Ulid::new()),
            event: event.to_string(),
            session: session.clone(),
            timestamp: now_ms(),
            payload,
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        EventBus {
            tx: broadcast::channel(4096).0,
        }
    }

    pub fn publish(&self, ev: Event) {
        let _ = self.tx.send(ev);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
