//! The event pipeline: store → fan-out → dispatcher and live stream.
//! `commit` writes a change together with one outbox delivery per webhook
//! that wants its events, in one transaction; makes it durable (a group
//! commit shared by every session); and only then hands the events to the
//! live stream (SSE) and the dispatcher. It owns the webhook subscriptions.
//! Data flows one way: session driver → pipeline → store / SSE / dispatcher.

use crate::domain::{
    Delivery, Event, EventKind, LoggedEvent, SessionId, SessionRecord, Webhook, now_ms,
};
use crate::store::{Change, Op, Store, StoreError};
use crate::webhook::dispatcher::Dispatcher;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub struct Pipeline {
    store: Store,
    live: broadcast::Sender<Event>,
    dispatcher: Dispatcher,
    subscriptions: Subscriptions,
    /// One writer of webhooks at a time, so the store and the cache agree.
    webhook_writes: Mutex<()>,
    /// Held across a write's fan-out and commit, and across registering a
    /// status callback with reading its message's ack: an ack is either
    /// stored before the callback is read, or fanned out to it.
    fanning_out: Mutex<()>,
    commits: mpsc::UnboundedSender<CommitRequest>,
    /// The place in the event log through which everything is on disk.
    /// The live stream reads no further: an event read past it could be
    /// lost in a crash and, stored again after the restart under a new
    /// place, reach a reader twice.
    durable: watch::Sender<u64>,
}

struct CommitRequest {
    ops: Vec<Op>,
    done: oneshot::Sender<Result<Vec<Event>, Unstored>>,
}

/// A commit that was not made durable: why, and the changes that were not
/// written, for the caller to offer again (none when they were written but
/// the flush failed: those are announced after the next flush that works).
#[derive(thiserror::Error)]
#[error("{error}")]
pub struct Unstored {
    pub error: StoreError,
    pub ops: Vec<Op>,
}

impl std::fmt::Debug for Unstored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unstored")
            .field("error", &self.error)
            .field("ops", &self.ops.len())
            .finish()
    }
}

impl Unstored {
    fn lost(error: StoreError) -> Self {
        Unstored { error, ops: vec![] }
    }
}

/// Written batches held back by a failed flush, at most: beyond it the
/// oldest wait for a restart, which reads their deliveries from the outbox.
const HELD_BATCHES: usize = 4096;

/// Who gets a session's events: the webhooks in its record (cached here;
/// this is the only code that changes them) and the global default.
struct Subscriptions {
    store: Store,
    cache: RwLock<HashMap<SessionId, Arc<Vec<Webhook>>>>,
    global: Option<Webhook>,
}

impl Subscriptions {
    /// A read that fails is an error, not "no webhooks": the change is
    /// not stored without its deliveries (the driver offers it again). A
    /// record that cannot be read as one (it will not be, however often
    /// asked) is none, as before, and not kept.
    fn of(&self, session: &SessionId) -> Result<Arc<Vec<Webhook>>, StoreError> {
        if let Some(h) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(session)
        {
            return Ok(h.clone());
        }
        let hooks = Arc::new(match self.store.get_session(session) {
            Ok(r) => r.map(|r| r.webhooks).unwrap_or_default(),
            Err(StoreError::Corrupt(e)) => {
                tracing::warn!(session = %session, "its webhooks could not be read: {e}");
                return Ok(Arc::new(Vec::new()));
            }
            Err(e) => return Err(e),
        });
        // Never overwrite: a concurrent `set` may have put newer ones.
        Ok(self
            .cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(session.clone())
            .or_insert(hooks)
            .clone())
    }

    fn set(&self, session: &SessionId, hooks: Vec<Webhook>) -> Arc<Vec<Webhook>> {
        let hooks = Arc::new(hooks);
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session.clone(), hooks.clone());
        hooks
    }

    fn forget(&self, session: &SessionId) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(session);
    }

    /// One delivery per subscriber that wants the event; an ack also goes
    /// to its message's status callback, if the send asked for one.
    fn fanout(&self, ev: &Event) -> Result<Vec<Delivery>, StoreError> {
        let own = self.of(&ev.session)?;
        let mut out: Vec<Delivery> = own
            .iter()
            .filter(|h| h.wants_event(ev))
            .map(|h| Delivery::for_subscription(h, ev))
            .chain(
                self.global
                    .iter()
                    .filter(|h| h.wants_event(ev))
                    .map(|h| Delivery::new(h, ev)),
            )
            .collect();
        if ev.event == EventKind::MessageAck
            && let Some(id) = ev.payload["id"].as_str()
            && let Some(hook) = match self.store.callback(&ev.session, id) {
                Ok(v) => v,
                Err(StoreError::Corrupt(_)) => None,
                Err(e) => return Err(e),
            }
            .and_then(|v| serde_json::from_value::<Webhook>(v).ok())
            && hook.wants_event(ev)
            && !already_told(&hook, ev)
        {
            out.push(Delivery::new(&hook, ev));
        }
        Ok(out)
    }
}

impl Pipeline {
    /// `retention`: how long the event log keeps events for readers that
    /// resume the stream.
    pub fn new(
        store: Store,
        dispatcher: Dispatcher,
        global: Option<Webhook>,
        retention: std::time::Duration,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        // Whatever the log holds at start is on disk.
        let durable = watch::Sender::new(store.last_event_seq().unwrap_or(0));
        let pipeline = Arc::new(Pipeline {
            subscriptions: Subscriptions {
                store: store.clone(),
                cache: RwLock::new(HashMap::new()),
                global,
            },
            store,
            webhook_writes: Mutex::new(()),
            fanning_out: Mutex::new(()),
            live: broadcast::channel(8192).0,
            dispatcher,
            commits: tx,
            durable,
        });
        tokio::spawn(pipeline.clone().group_commit(rx));
        tokio::spawn(prune_log(pipeline.store.clone(), retention));
        pipeline
    }

    /// Group commit: every session's waiting changes are written, then made
    /// durable with one flush for all of them, then announced.
    async fn group_commit(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<CommitRequest>) {
        // Written, but their flush failed: announced once one succeeds.
        let mut held: std::collections::VecDeque<(Vec<Event>, Vec<Delivery>)> = Default::default();
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            while group.len() < 64 {
                match rx.try_recv() {
                    Ok(r) => group.push(r),
                    Err(_) => break,
                }
            }
            let written: Vec<_> = group
                .iter_mut()
                .map(|r| self.write(std::mem::take(&mut r.ops)))
                .collect();
            // The flush makes every commit before it durable: read where
            // the log ends first, and the delivery id every delivery made
            // so far is below (each is made and committed under
            // `fanning_out`, and ids only grow).
            let horizon = self.store.last_event_seq();
            let below = {
                let _fanning_out = self.fanning_out.lock().unwrap_or_else(|e| e.into_inner());
                crate::domain::next_delivery_id()
            };
            let flushed = self.store.flush().await;
            if flushed.is_ok() {
                self.dispatcher.durable_below(below);
            }
            if let (Ok(h), Ok(())) = (horizon, &flushed) {
                self.durable.send_if_modified(|d| {
                    let moved = h > *d;
                    *d = (*d).max(h);
                    moved
                });
            }
            if flushed.is_ok() {
                for (events, deliveries) in held.drain(..) {
                    self.announce(&events, deliveries);
                }
            }
            for (req, res) in group.into_iter().zip(written) {
                let out = match (res, &flushed) {
                    (Ok((events, deliveries)), Ok(())) => {
                        self.announce(&events, deliveries);
                        Ok(events)
                    }
                    (Err(e), _) => Err(e),
                    (Ok(batch), Err(e)) => {
                        if held.len() == HELD_BATCHES {
                            held.pop_front();
                        }
                        held.push_back(batch);
                        Err(Unstored::lost(StoreError::Flush(e.to_string())))
                    }
                };
                let _ = req.done.send(out);
            }
        }
    }

    fn write(&self, ops: Vec<Op>) -> Result<(Vec<Event>, Vec<Delivery>), Unstored> {
        let _fanning_out = self.fanning_out.lock().unwrap_or_else(|e| e.into_inner());
        let mut changes: Vec<Change> = Vec::with_capacity(ops.len());
        let mut ops = ops.into_iter();
        while let Some(op) = ops.next() {
            let mut deliveries = Vec::new();
            for e in op.events() {
                match self.subscriptions.fanout(e) {
                    Ok(d) => deliveries.extend(d),
                    Err(error) => {
                        let ops = changes
                            .into_iter()
                            .map(|c| c.op)
                            .chain(std::iter::once(op))
                            .chain(ops)
                            .collect();
                        return Err(Unstored { error, ops });
                    }
                }
            }
            changes.push(Change { op, deliveries });
        }
        let applied = match self.store.commit(&changes) {
            Ok(applied) => applied,
            Err(error) => {
                let ops = changes.into_iter().map(|c| c.op).collect();
                return Err(Unstored { error, ops });
            }
        };
        // What took effect hands on its events and deliveries (taken, not copied).
        let mut changes: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
        let (mut events, mut deliveries) = (Vec::new(), Vec::new());
        for c in applied.into_iter().filter_map(|i| changes[i].take()) {
            events.extend(c.op.into_events());
            deliveries.extend(c.deliveries);
        }
        Ok((events, deliveries))
    }

    fn announce(&self, events: &[Event], deliveries: Vec<Delivery>) {
        // Counted once per session and direction per batch, not per message.
        let mut counts: Vec<(&SessionId, bool, u64)> = Vec::new();
        for e in events {
            if e.event == EventKind::MessageAny {
                let from_me = e.payload.get("from_me").and_then(|v| v.as_bool()) == Some(true);
                match counts
                    .iter_mut()
                    .find(|(s, d, _)| *s == &e.session && *d == from_me)
                {
                    Some(c) => c.2 += 1,
                    None => counts.push((&e.session, from_me, 1)),
                }
            }
            let _ = self.live.send(e.clone());
        }
        for (session, from_me, n) in counts {
            crate::telemetry::messages(session.as_str(), from_me, n);
        }
        self.dispatcher.enqueue(deliveries);
    }

    /// Durable: returns once the change and its deliveries are on disk.
    /// Returns the events that the change produced (duplicates produce none).
    pub async fn commit(&self, ops: Vec<Op>) -> Result<Vec<Event>, Unstored> {
        if ops.is_empty() {
            return Ok(vec![]);
        }
        let stopped = || StoreError::Flush("the committer has stopped".into());
        let (done, answer) = oneshot::channel();
        self.commits
            .send(CommitRequest { ops, done })
            .map_err(|e| Unstored {
                error: stopped(),
                ops: e.0.ops,
            })?;
        answer
            .await
            .unwrap_or_else(|_| Err(Unstored::lost(stopped())))
    }

    /// For events whose caller need not wait for the disk (status changes,
    /// QR): written and announced at once; a group commit's flush, which
    /// this asks for, then makes it durable and shows it to the live stream.
    pub fn emit(&self, ev: Event) {
        match self.write(vec![Op::Event(ev)]) {
            Ok((events, deliveries)) => {
                self.announce(&events, deliveries);
                let (done, _) = oneshot::channel();
                let _ = self.commits.send(CommitRequest { ops: vec![], done });
            }
            Err(e) => tracing::error!("could not store an event: {e}"),
        }
    }

    /// Every committed event, as it is committed (it is in the log by then).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }

    /// Logged events after `after`, in order, as far as they are durable.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<LoggedEvent>, StoreError> {
        let through = *self.durable.borrow();
        let mut page = self.store.events_after(after, limit)?;
        page.retain(|l| l.seq <= through);
        Ok(page)
    }

    /// Changes when more of the log is durable (see `events_after`).
    pub fn durable_horizon(&self) -> watch::Receiver<u64> {
        self.durable.subscribe()
    }

    /// The newest durable event's place, and the place through which the
    /// log was pruned.
    pub fn log_bounds(&self) -> Result<(u64, u64), StoreError> {
        Ok((*self.durable.borrow(), self.store.events_pruned_through()?))
    }

    /// Replaces a session's webhooks. None if the session does not exist.
    pub fn set_webhooks(
        &self,
        session: &SessionId,
        hooks: Vec<Webhook>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.update_webhooks(session, |w| *w = hooks.clone())
    }

    /// Changes a session's webhooks in place (compare-and-swap on the
    /// record); the store and the cache change together.
    pub fn update_webhooks(
        &self,
        session: &SessionId,
        f: impl Fn(&mut Vec<Webhook>),
    ) -> Result<Option<SessionRecord>, StoreError> {
        let _one_writer = self
            .webhook_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let rec = self.store.update_session(session, |r| {
            f(&mut r.webhooks);
            r.updated_at = now_ms() / 1000;
        })?;
        if let Some(r) = &rec {
            let now = self.subscriptions.set(session, r.webhooks.clone());
            self.dispatcher.webhooks_now(session, Some(now));
        }
        Ok(rec)
    }

    /// A session was just created with these webhooks (an old session of
    /// the same id may still be cached).
    pub fn created(&self, session: &SessionId, hooks: Vec<Webhook>) {
        let _one_writer = self
            .webhook_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = self.subscriptions.set(session, hooks);
        self.dispatcher.webhooks_now(session, Some(now));
    }

    /// A session is gone: drop what is cached about it.
    pub fn forget(&self, session: &SessionId) {
        let _one_writer = self
            .webhook_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.subscriptions.forget(session);
        self.dispatcher.webhooks_now(session, None);
    }

    /// Sends a message's later acks to `hook` too (a status callback), and
    /// delivers `now` (its current ack) to it at once: the ack that made it
    /// `sent` may have been committed before the callback was known.
    /// Durable when it returns: a send answered with its callback kept
    /// only in memory would lose every later ack to a crash.
    pub async fn add_status_callback(
        &self,
        session: &SessionId,
        msg_id: &str,
        hook: &Webhook,
        sent: crate::domain::Ack,
        event_for: impl FnOnce(crate::domain::Ack) -> Event,
    ) -> Result<(), StoreError> {
        let d = {
            let _fanning_out = self.fanning_out.lock().unwrap_or_else(|e| e.into_inner());
            // An ack may have risen between the send and now.
            let stored = self.store.message(session, msg_id)?.map(|m| m.ack);
            // A failure stored since is the news (it ranks below "sent").
            let first = match stored {
                Some(crate::domain::Ack::Failed) => crate::domain::Ack::Failed,
                s => s.map_or(sent, |a| a.max(sent)),
            };
            // The callback remembers it: the page's report of that same
            // ack, when the store catches up to it, is not told again.
            let mut hook = hook.clone();
            hook.meta.insert(TOLD_ACK.into(), first.as_str().into());
            // Kept for as long as a send's tracker, then pruned with them.
            hook.meta
                .insert(REGISTERED_AT.into(), (now_ms() / 1000).to_string());
            let d = Delivery::new(&hook, &event_for(first));
            self.store.put_callback(
                session,
                msg_id,
                &serde_json::to_value(&hook).unwrap_or_default(),
                Some(&d),
            )?;
            d
        };
        self.dispatcher.enqueue([d]);
        // A group commit's flush makes it durable, and lets a backlog read
        // back from the outbox reach it.
        let (done, flushed) = oneshot::channel();
        let _ = self.commits.send(CommitRequest { ops: vec![], done });
        match flushed.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(unstored)) => Err(unstored.error),
            Err(_) => Err(StoreError::Flush("the daemon is stopping".into())),
        }
    }

    /// Hands deliveries (already stored as pending) to the dispatcher; a
    /// group commit's flush, which this asks for, lets a backlog read back
    /// from the outbox reach them (an imported session's).
    pub fn requeue(&self, deliveries: impl IntoIterator<Item = Delivery>) {
        self.dispatcher.enqueue(deliveries);
        let (done, _) = oneshot::channel();
        let _ = self.commits.send(CommitRequest { ops: vec![], done });
    }
}

/// In a status callback's `meta`: the ack it was first told, at once.
const TOLD_ACK: &str = "told_ack";
/// In a status callback's `meta`: when it was kept (unix s).
pub const REGISTERED_AT: &str = "registered_at";

/// Whether a status callback was told this ack (or a later one) when it
/// was registered. A failure is always news.
fn already_told(hook: &Webhook, ev: &Event) -> bool {
    use crate::domain::Ack;
    let parse = |v: &serde_json::Value| serde_json::from_value::<Ack>(v.clone()).ok();
    let now = parse(&ev.payload["ack"]);
    let told = hook
        .meta
        .get(TOLD_ACK)
        .and_then(|a| parse(&serde_json::Value::from(a.as_str())));
    matches!((now, told), (Some(now), Some(told)) if now != Ack::Failed && now <= told)
}

/// Keeps the event log to its retention.
/// And keeps sends' trackers for `TRACKER_DAYS`.
async fn prune_log(store: Store, retention: std::time::Duration) {
    for round in 0u64.. {
        let cutoff = now_ms() - retention.as_millis() as i64;
        match store.prune_events(cutoff) {
            Ok(n) if n > 0 => tracing::info!(removed = n, "pruned the event log"),
            Ok(_) => {}
            Err(e) => tracing::warn!("could not prune the event log: {e}"),
        }
        // Hourly: the table is walked whole.
        if round % 6 == 0 {
            let before = now_ms() / 1000 - TRACKER_DAYS * 86_400;
            let s = store.clone();
            let pruned = tokio::task::spawn_blocking(move || {
                s.prune_trackers(before)?;
                s.prune_callbacks(before)
            });
            match pruned.await {
                Ok(Err(e)) => tracing::warn!("could not prune sends' trackers: {e}"),
                Err(e) => tracing::warn!("could not prune sends' trackers: {e}"),
                Ok(Ok(_)) => {}
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
}

/// How long a send's tracker is kept for its message's acks: WhatsApp's
/// server gives up on a message it could not deliver in 30 days.
const TRACKER_DAYS: i64 = 30;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventKind, SessionId};

    #[tokio::test]
    async fn the_live_stream_reads_only_what_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let render: crate::webhook::Render = Arc::new(|_, _| unreachable!("no webhooks here"));
        let dispatcher =
            Dispatcher::spawn(store.clone(), Default::default(), render, None, false).unwrap();
        let p = Pipeline::new(
            store,
            dispatcher,
            None,
            std::time::Duration::from_secs(3600),
        );
        let s = SessionId::parse("s").unwrap();
        p.emit(Event::new(
            &s,
            EventKind::SessionStatus,
            serde_json::json!({}),
        ));
        // Committed, but the group commit that flushes it has not run yet
        // (this runtime has one thread): a crash now would lose it.
        assert!(p.events_after(0, 10).unwrap().is_empty());
        assert_eq!(p.log_bounds().unwrap().0, 0);
        let mut horizon = p.durable_horizon();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            horizon.wait_for(|&d| d > 0),
        )
        .await
        .expect("the emitted event was made durable")
        .unwrap();
        let page = p.events_after(0, 10).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].event.event, EventKind::SessionStatus);
    }
}
