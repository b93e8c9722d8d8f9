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
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot};

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
    commits: mpsc::UnboundedSender<CommitRequest>,
}

struct CommitRequest {
    ops: Vec<Op>,
    done: oneshot::Sender<Result<Vec<Event>, StoreError>>,
}

impl Events {
    pub fn new(store: Store, dispatcher: Dispatcher, global: Option<Webhook>) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let events = Arc::new(Events {
            store,
            live: broadcast::channel(8192).0,
            dispatcher,
            hooks: RwLock::new(HashMap::new()),
            global,
            commits: tx,
        });
        tokio::spawn(events.clone().group_commit(rx));
        events
    }

    /// Group commit: every session's waiting changes are written, then made
    /// durable with one flush for all of them, then announced.
    async fn group_commit(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<CommitRequest>) {
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            while group.len() < 64 {
                match rx.try_recv() {
                    Ok(r) => group.push(r),
                    Err(_) => break,
                }
            }
            let written: Vec<_> = group.iter().map(|r| self.write(&r.ops)).collect();
            let flushed = self.store.flush().await;
            for (req, res) in group.into_iter().zip(written) {
                let out = match (res, &flushed) {
                    (Ok((events, deliveries)), Ok(())) => {
                        self.announce(&events, deliveries);
                        Ok(events)
                    }
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(StoreError::Flush(e.to_string())),
                };
                let _ = req.done.send(out);
            }
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
        let (done, answer) = oneshot::channel();
        self.commits
            .send(CommitRequest { ops, done })
            .map_err(|_| StoreError::Flush("the committer has stopped".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Flush("the committer has stopped".into())))
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
