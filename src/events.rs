//! Events: what sessions report, in the native envelope, and the one door
//! they go out through. `Events::commit` writes the change and one outbox
//! delivery per subscribed webhook in one transaction, makes it durable,
//! and only then hands it to the live stream (SSE) and the dispatcher.
//! Data flows one way: session driver -> Events -> store / SSE / dispatcher.

use crate::model::{SessionId, now_ms};
use crate::store::{Op, Store, StoreError};
use crate::webhook::{Webhook, dispatcher::Dispatcher, outbox};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::RwLock;
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

pub struct Events {
    store: Store,
    live: broadcast::Sender<Event>,
    dispatcher: Dispatcher,
    hooks: RwLock<HashMap<SessionId, Vec<Webhook>>>,
    global: Option<Webhook>,
}

impl Events {
    pub fn new(store: Store, dispatcher: Dispatcher, global: Option<Webhook>) -> Self {
        Events {
            store,
            live: broadcast::channel(8192).0,
            dispatcher,
            hooks: RwLock::new(HashMap::new()),
            global,
        }
    }

    /// The webhooks a session's events go to from now on.
    pub fn set_hooks(&self, session: &SessionId, hooks: Vec<Webhook>) {
        let mut h = self.hooks.write().unwrap_or_else(|e| e.into_inner());
        if hooks.is_empty() {
            h.remove(session);
        } else {
            h.insert(session.clone(), hooks);
        }
    }

    fn write(&self, ops: &[Op]) -> Result<(Vec<Event>, Vec<outbox::Delivery>), StoreError> {
        let hooks = self.hooks.read().unwrap_or_else(|e| e.into_inner()).clone();
        let global = self.global.as_ref();
        self.store.commit(ops, &|ev: &Event| {
            let own = hooks.get(&ev.session).map(Vec::as_slice).unwrap_or(&[]);
            outbox::fanout(own, global, ev)
        })
    }

    fn announce(&self, events: &[Event], deliveries: Vec<outbox::Delivery>) {
        for e in events {
            let _ = self.live.send(e.clone());
        }
        self.dispatcher.enqueue(deliveries);
    }

    /// Durable: returns once the change and its deliveries are on disk.
    /// Returns the events that the change produced (duplicates produce none).
    pub async fn commit(&self, ops: Vec<Op>) -> Result<Vec<Event>, StoreError> {
        if ops.is_empty() {
            return Ok(vec![]);
        }
        let (events, deliveries) = self.write(&ops)?;
        self.store.flush().await?;
        self.announce(&events, deliveries);
        Ok(events)
    }

    /// For events that need not wait for the disk (status changes, QR):
    /// stored with sled's periodic flush (≤ 500 ms).
    pub fn emit(&self, ev: Event) {
        match self.write(&[Op::Event(ev)]) {
            Ok((events, deliveries)) => self.announce(&events, deliveries),
            Err(e) => tracing::error!("could not store an event: {e}"),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }
}
