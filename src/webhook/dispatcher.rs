//! Delivers the outbox. One task per receiver URL, so a slow or dead
//! receiver only delays itself; within it, up to `PER_TARGET` requests in
//! flight. A delivery leaves the outbox only after a 2xx.

use super::{Handshake, Render, Reply};
use crate::domain::{Delivery, DeliveryStatus, SessionId, Webhook, now_ms};
use crate::store::Store;
use std::collections::HashSet;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};

const PER_TARGET: usize = 16;

/// A receiver with nothing to deliver for this long lets its task go (a
/// new one starts when it next has a delivery): a status callback URL per
/// message must not leave a task per message behind.
const TARGET_IDLE: Duration = Duration::from_secs(600);

#[derive(Clone, Debug)]
pub struct RetryTiming {
    pub base: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Default for RetryTiming {
    fn default() -> Self {
        RetryTiming {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Delay before attempt `attempt + 1` (attempt counts from 1), with ±20 %
/// jitter, never past the cap (`--webhook-retry-max-ms` is a promise).
pub fn backoff(policy: &str, attempt: u32, t: &RetryTiming) -> Duration {
    let base = t.base.as_millis() as f64;
    let raw = match policy {
        "linear" => base * attempt as f64,
        _ => base * 2f64.powi(attempt.saturating_sub(1).min(30) as i32),
    };
    let max = t.max.as_millis() as f64;
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    Duration::from_millis((raw.min(max) * jitter).min(max) as u64)
}

/// What a response means for the delivery.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Delivered,
    Retry,
    Fail,
}

pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Fail,
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    tx: mpsc::UnboundedSender<Delivery>,
    /// True once the daemon stops; each receiver's task holds a receiver.
    stop: Arc<watch::Sender<bool>>,
    current: Arc<Current>,
    /// See `durable_below`.
    durable_through: Arc<Mutex<String>>,
}

/// Each session's own webhooks as they are now, for a delivery to read at
/// each attempt: filled from the store, kept current by the pipeline.
#[derive(Default)]
struct Current(std::sync::RwLock<HashMap<SessionId, Arc<Vec<Webhook>>>>);

impl Current {
    fn of(&self, store: &Store, session: &SessionId) -> Option<Arc<Vec<Webhook>>> {
        if let Some(h) = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(session)
        {
            return Some(h.clone());
        }
        let hooks = Arc::new(store.get_session(session).ok()??.webhooks);
        // Never overwrite: the pipeline may have put newer ones meanwhile.
        Some(
            self.0
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(session.clone())
                .or_insert(hooks)
                .clone(),
        )
    }
}

impl Dispatcher {
    /// Starts delivering, beginning with what the outbox holds from before.
    /// `replies` gets the 2xx answers of deliveries whose format wants them.
    pub fn spawn(
        store: Store,
        timing: RetryTiming,
        render: Render,
        replies: Option<mpsc::UnboundedSender<Reply>>,
        private_for_keys: bool,
    ) -> anyhow::Result<Dispatcher> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
        let client_for = |reach| {
            crate::outbound::guarded(reqwest::Client::builder(), reach)
                .timeout(timing.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("wabridge/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        let client = client_for(crate::outbound::Reach::Private)?;
        let client_public = client_for(crate::outbound::Reach::Public)?;
        // Each receiver with a backlog from before starts by reading it
        // from the outbox, a window at a time.
        let backlog = store.pending_receivers()?;
        let current = Arc::new(Current::default());
        // What the outbox holds now is on disk; what comes later has a
        // greater id, whatever the clock did since it was written.
        if let Some(last) = store.last_pending_id()? {
            crate::domain::delivery_ids_above(&last);
        }
        let durable_through = Arc::new(Mutex::new(crate::domain::next_delivery_id()));
        let ctx = Arc::new(Ctx {
            current: current.clone(),
            store,
            client,
            client_public,
            private_for_keys,
            timing,
            render,
            replies,
            verified: Mutex::new(HashSet::new()),
            durable_through: durable_through.clone(),
        });
        tokio::spawn(prune_log(ctx.store.clone()));
        let stop = Arc::new(watch::Sender::new(false));
        let mut targets = Targets::new(TARGET_IDLE, stop.clone());
        for (url, first) in backlog {
            targets.start(&ctx, url, Some(first));
        }
        tokio::spawn(async move {
            while let Some(d) = rx.recv().await {
                targets.send(&ctx, d);
            }
        });
        Ok(Dispatcher {
            tx,
            stop,
            current,
            durable_through,
        })
    }

    /// Stops delivering, for the daemon's stop: no attempt starts from now
    /// on, and this returns once those in flight have ended and are
    /// recorded, or after `limit`. What is left waits in the outbox for the
    /// next start; a receiver's answer is never left unrecorded, to be
    /// posted again after the restart (beyond `limit`, it may be).
    pub async fn shutdown(&self, limit: Duration) {
        self.stop.send_replace(true);
        if tokio::time::timeout(limit, self.stop.closed())
            .await
            .is_err()
        {
            tracing::warn!(
                "webhook attempts still in flight {} s after the stop: left to the next start",
                limit.as_secs()
            );
        }
    }

    /// A session's webhooks are now `hooks` (None: the session is gone).
    pub fn webhooks_now(&self, session: &SessionId, hooks: Option<Arc<Vec<Webhook>>>) {
        let mut all = self.current.0.write().unwrap_or_else(|e| e.into_inner());
        match hooks {
            Some(h) => all.insert(session.clone(), h),
            None => all.remove(session),
        };
    }

    pub fn enqueue(&self, deliveries: impl IntoIterator<Item = Delivery>) {
        for d in deliveries {
            let _ = self.tx.send(d);
        }
    }

    /// Every delivery with an id below `bound` is on disk: a backlog read
    /// back from the outbox may go as far. Read back any further, a
    /// delivery could be posted and then undone by a crash, and its event,
    /// stored again by catch-up, posted twice.
    pub fn durable_below(&self, bound: String) {
        let mut below = self
            .durable_through
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if bound > *below {
            *below = bound;
        }
    }
}

/// Each receiver's task, by URL. A task that went idle has closed its
/// channel: the next delivery for it starts a new one.
struct Targets {
    tasks: HashMap<String, mpsc::UnboundedSender<Delivery>>,
    stop: Arc<watch::Sender<bool>>,
    /// Past this many entries, those of retired tasks are dropped.
    prune_at: usize,
    idle: Duration,
}

impl Targets {
    fn new(idle: Duration, stop: Arc<watch::Sender<bool>>) -> Self {
        Targets {
            tasks: HashMap::new(),
            stop,
            prune_at: 64,
            idle,
        }
    }

    fn start(
        &mut self,
        ctx: &Arc<Ctx>,
        url: String,
        spill: Option<String>,
    ) -> &mpsc::UnboundedSender<Delivery> {
        if self.tasks.len() >= self.prune_at {
            self.tasks.retain(|_, t| !t.is_closed());
            self.prune_at = (2 * self.tasks.len()).max(64);
        }
        let (ttx, trx) = mpsc::unbounded_channel();
        let stop = self.stop.subscribe();
        tokio::spawn(target(
            ctx.clone(),
            url.clone(),
            spill,
            trx,
            self.idle,
            stop,
        ));
        self.tasks.insert(url.clone(), ttx);
        &self.tasks[&url]
    }

    fn send(&mut self, ctx: &Arc<Ctx>, d: Delivery) {
        let d = match self.tasks.get(&d.hook.url) {
            Some(t) => match t.send(d) {
                Ok(()) => return,
                Err(back) => back.0,
            },
            None => d,
        };
        let _ = self.start(ctx, d.hook.url.clone(), None).send(d);
    }

    #[cfg(test)]
    fn running(&self) -> usize {
        self.tasks.values().filter(|t| !t.is_closed()).count()
    }
}

/// The delivery log keeps a week; dead deliveries, for a manual retry,
/// a month. Both counted from the event (a delivery's id is made then).
async fn prune_log(store: Store) {
    const DAY_MS: u64 = 24 * 3600 * 1000;
    let keep = [
        (
            DeliveryStatus::Delivered,
            7 * DAY_MS,
            "the webhook delivery log",
        ),
        (DeliveryStatus::Dead, 30 * DAY_MS, "dead webhook deliveries"),
    ];
    loop {
        for (status, keep_ms, what) in keep {
            let cutoff = (now_ms() as u64).saturating_sub(keep_ms);
            let first_kept = format!("dlv_{}", ulid::Ulid::from_parts(cutoff, 0));
            match store.prune_deliveries(status, &first_kept) {
                Ok(n) if n > 0 => tracing::info!(removed = n, "pruned {what}"),
                Ok(_) => {}
                Err(e) => tracing::warn!("could not prune {what}: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

struct Ctx {
    store: Store,
    current: Arc<Current>,
    /// The operator's webhooks, and those a scoped key set (`Webhook::scoped`:
    /// public addresses only).
    client: reqwest::Client,
    client_public: reqwest::Client,
    /// `--private-networks-for-keys`: scoped webhooks reach as the admin's.
    private_for_keys: bool,
    timing: RetryTiming,
    render: Render,
    replies: Option<mpsc::UnboundedSender<Reply>>,
    /// Subscription handshakes that passed (for this daemon's life).
    verified: Mutex<HashSet<Handshake>>,
    /// Every delivery with an id below this one is on disk.
    durable_through: Arc<Mutex<String>>,
}

impl Ctx {
    /// The client for `hook`, or why its URL may not be reached.
    fn client_for(
        &self,
        hook: &crate::domain::Webhook,
        url: &str,
    ) -> Result<&reqwest::Client, String> {
        let (client, reach) = if hook.scoped && !self.private_for_keys {
            (&self.client_public, crate::outbound::Reach::Public)
        } else {
            (&self.client, crate::outbound::Reach::Private)
        };
        match url::Url::parse(url) {
            Ok(u) if crate::outbound::refused(&u, reach) => {
                Err("the webhook's address may not be reached from here".into())
            }
            _ => Ok(client),
        }
    }

    fn durable_through(&self) -> String {
        self.durable_through
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Meta's handshake: GET the URL, the body must echo the challenge. With
/// the webhook's own headers, as its posts have them: a receiver behind a
/// gateway that wants them would refuse the GET otherwise.
async fn handshake(
    ctx: &Ctx,
    client: &reqwest::Client,
    h: &Handshake,
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<(), String> {
    if ctx
        .verified
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(h)
    {
        return Ok(());
    }
    let mut req = client.get(&h.url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req
        .send()
        .await
        // Not the URL: it carries the verify token.
        .map_err(|e| format!("the subscription handshake failed: {}", e.without_url()))?;
    let status = resp.status();
    let body = String::from_utf8_lossy(&read_capped(resp, MAX_REPLY).await.unwrap_or_default())
        .to_string();
    if !status.is_success() || body.trim() != h.challenge {
        return Err(format!(
            "the subscription handshake failed: the receiver answered {status} without echoing hub.challenge (is verify_token right?)"
        ));
    }
    ctx.verified
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(h.clone());
    Ok(())
}

/// One receiver: a time-ordered queue of due deliveries, at most `WINDOW`
/// of them in memory (queued or in flight). Past that, new ones are left
/// in the outbox, where they already are, and read back in order as the
/// window empties: a receiver that is down for a day costs disk, not memory.
async fn target(
    ctx: Arc<Ctx>,
    url: String,
    spill: Option<String>,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut w = Window::new(spill);
    let slots = Arc::new(Semaphore::new(PER_TARGET));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Ended>();
    // Attempts that ended, not yet recorded, and when to record them.
    let mut ended: Vec<Ended> = Vec::new();
    let mut record_by: Option<tokio::time::Instant> = None;
    let mut busy_at = tokio::time::Instant::now();
    let mut closed = false;
    // The daemon is stopping (or the dispatcher is gone): no attempt
    // starts; the task ends once those in flight are recorded.
    let mut stopping = false;
    loop {
        stopping = stopping || *stop.borrow();
        // While other attempts are in flight, their outcomes are moments
        // away: recorded together, in one write. None in flight (a lone
        // delivery), or a full batch, or the time is up: recorded now.
        let in_flight = PER_TARGET - slots.available_permits();
        while let Ok(e) = done_rx.try_recv() {
            ended.push(e);
        }
        if !ended.is_empty() {
            record_by.get_or_insert_with(|| tokio::time::Instant::now() + RECORD_LINGER);
        }
        if !ended.is_empty()
            && (in_flight == 0
                || ended.len() >= PER_TARGET
                || record_by.is_some_and(|t| t <= tokio::time::Instant::now()))
        {
            record_by = None;
            let now = now_ms();
            for d in record(&ctx, std::mem::take(&mut ended)) {
                if d.status == DeliveryStatus::Pending {
                    w.requeue(d, now);
                    continue;
                }
                w.held.remove(&d.id);
                // A retry asked for while this attempt was settling
                // found it still held: take it up now.
                if w.asked_again.remove(&d.id)
                    && let Ok(Some(again)) = ctx.store.delivery(&d.id)
                    && again.status == DeliveryStatus::Pending
                {
                    w.admit(&ctx.store, again);
                }
            }
        }
        if stopping {
            if in_flight == 0 && ended.is_empty() {
                return;
            }
        } else if w.spill.is_some() && w.held.len() <= WINDOW / 2 {
            w.refill(&ctx.store, &url, &ctx.durable_through());
        }
        if !w.held.is_empty() || w.spill.is_some() || !w.parked.is_empty() {
            busy_at = tokio::time::Instant::now();
        } else if closed {
            return;
        } else if busy_at.elapsed() >= idle {
            // Sends fail from here on, and the router starts a new task;
            // what is already in the channel is still this one's.
            rx.close();
            closed = true;
            while let Ok(d) = rx.try_recv() {
                w.admit(&ctx.store, d);
            }
            continue;
        }
        let now = now_ms();
        if !stopping {
            w.unpark(&ctx.store, now);
        }
        // Start what is due while there are free slots.
        while let Some(entry) = w.queue.first_entry() {
            if stopping || entry.key().0 > now {
                break;
            }
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            let d = entry.remove();
            let (ctx, done) = (ctx.clone(), done_tx.clone());
            tokio::spawn(async move {
                let ended = attempt(&ctx, d).await;
                // Sent before the slot is freed: a free slot's outcome is
                // always in the channel when the loop counts what is in flight.
                let _ = done.send(ended);
                drop(permit);
            });
        }
        // A backlog left in the outbox past what is durable yet: read on
        // once a flush has made more of it durable.
        let spilled = !stopping && w.spill.is_some() && w.held.len() <= WINDOW / 2;
        let wait = match w.queue.first_key_value() {
            // Nothing starts: wait for what is in flight.
            _ if stopping => Duration::from_secs(3600),
            Some(((at, _), _)) if slots.available_permits() > 0 => {
                let due = Duration::from_millis((*at - now).max(0) as u64);
                if spilled { due.min(SPILL_POLL) } else { due }
            }
            _ if spilled => SPILL_POLL,
            _ if w.held.is_empty() => idle,
            _ => Duration::from_secs(3600),
        };
        let wait = match record_by {
            Some(t) => wait.min(t.saturating_duration_since(tokio::time::Instant::now())),
            None => wait,
        };
        let wait = match w.parked.first() {
            Some((at, _)) if !stopping => {
                wait.min(Duration::from_millis((*at - now).max(0) as u64))
            }
            _ => wait,
        };
        tokio::select! {
            d = rx.recv(), if !closed => match d {
                Some(d) => w.admit(&ctx.store, d),
                None => {
                    closed = true;
                    stopping = true;
                }
            },
            changed = stop.changed(), if !stopping => {
                // No sender left: the dispatcher is gone.
                stopping = changed.is_err() || *stop.borrow();
            }
            Some(d) = done_rx.recv() => {
                ended.push(d);
                while let Ok(d) = done_rx.try_recv() {
                    ended.push(d);
                }
                record_by.get_or_insert_with(|| tokio::time::Instant::now() + RECORD_LINGER);
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// How long an ended attempt may wait to be recorded with others.
const RECORD_LINGER: Duration = Duration::from_millis(5);

/// Deliveries one receiver keeps in memory.
const WINDOW: usize = 1024;

/// How often a window with room looks at a backlog it could not read yet.
const SPILL_POLL: Duration = Duration::from_millis(100);

/// A delivery whose next attempt is further off than this (ms) waits with
/// only its key in memory, its body in the outbox, read back when due: a
/// receiver that fails some events for minutes (a handler that crashes on
/// one kind) does not fill the window its other deliveries need.
const PARK_AFTER_MS: i64 = 10_000;

/// Keys of deliveries waiting so, at most, per receiver (a few MB); past
/// it one waits in the window as before.
const PARKED_MAX: usize = 50_000;

struct Window {
    /// (due, id) -> delivery: what waits for its turn.
    queue: BTreeMap<(i64, String), Delivery>,
    /// Ids queued or in flight.
    held: HashSet<String>,
    /// Some: deliveries from this id on may wait in the outbox only.
    spill: Option<String>,
    /// The highest id read back from the outbox: an id at or below it may
    /// arrive a second time through the channel, after it was read back.
    loaded_max: Option<String>,
    /// Held ids that came in again (a manual retry of one whose last
    /// attempt had not settled yet): looked at again once it has.
    asked_again: HashSet<String>,
    /// (due, id): deliveries waiting out a long backoff, not held (they
    /// do not count against `WINDOW`); read back from the outbox when due.
    parked: BTreeSet<(i64, String)>,
    parked_ids: HashSet<String>,
}

impl Window {
    fn new(spill: Option<String>) -> Window {
        Window {
            queue: BTreeMap::new(),
            held: HashSet::new(),
            spill,
            loaded_max: None,
            asked_again: HashSet::new(),
            parked: BTreeSet::new(),
            parked_ids: HashSet::new(),
        }
    }

    /// A delivery to try again at its `next_at`: queued, or parked if that
    /// is far off (its body is in the outbox already).
    fn requeue(&mut self, d: Delivery, now: i64) {
        if d.next_at - now > PARK_AFTER_MS && self.parked.len() < PARKED_MAX {
            self.held.remove(&d.id);
            self.parked_ids.insert(d.id.clone());
            self.parked.insert((d.next_at, d.id));
        } else {
            self.held.insert(d.id.clone());
            self.queue.insert((d.next_at, d.id.clone()), d);
        }
    }

    /// Parked deliveries now due, read back from the outbox into the queue
    /// (one delivered, dead or dropped meanwhile is left), as long as the
    /// window has room: the rest wait their turn, still parked.
    fn unpark(&mut self, store: &Store, now: i64) {
        while let Some((at, _)) = self.parked.first() {
            if *at > now || self.held.len() >= WINDOW {
                return;
            }
            let Some((at, id)) = self.parked.pop_first() else {
                return;
            };
            match store.delivery(&id) {
                Ok(Some(d)) if d.status == DeliveryStatus::Pending => {
                    self.parked_ids.remove(&id);
                    self.held.insert(id.clone());
                    self.queue.insert((d.next_at.min(at), id), d);
                }
                Ok(_) => {
                    self.parked_ids.remove(&id);
                }
                Err(e) => {
                    // Looked at again in a second.
                    tracing::error!(delivery = %id, "could not read a delivery back from the outbox: {e}");
                    self.parked.insert((now + 1000, id));
                    return;
                }
            }
        }
    }

    fn admit(&mut self, store: &Store, d: Delivery) {
        if self.held.contains(&d.id) {
            self.asked_again.insert(d.id);
            return;
        }
        // A manual retry of one waiting out its backoff: now.
        if self.parked_ids.remove(&d.id) {
            self.parked.retain(|(_, id)| *id != d.id);
        }
        if self.spill.is_some() || self.held.len() >= WINDOW {
            // Left in the outbox; read back from here on. Ids are only
            // roughly in the order they arrive, hence the minimum.
            if self.spill.as_ref().is_none_or(|s| d.id < *s) {
                self.spill = Some(d.id);
            }
            return;
        }
        if self.loaded_max.as_ref().is_some_and(|m| d.id <= *m)
            && !store.is_pending(&d.id).unwrap_or(true)
        {
            return; // read back earlier and already delivered
        }
        self.held.insert(d.id.clone());
        self.queue.insert((d.next_at, d.id.clone()), d);
    }

    /// Reads the backlog back, as far as it is durable (below `until`);
    /// what is past it waits for its flush.
    fn refill(&mut self, store: &Store, url: &str, until: &str) {
        let Some(from) = self.spill.clone() else {
            return;
        };
        let room = WINDOW - self.held.len();
        let known = |id: &str| self.held.contains(id) || self.parked_ids.contains(id);
        match store.pending_for(url, &from, until, room, known) {
            Ok((ds, next)) => {
                let now = now_ms();
                for d in ds {
                    if self.loaded_max.as_ref().is_none_or(|m| d.id > *m) {
                        self.loaded_max = Some(d.id.clone());
                    }
                    self.requeue(d, now);
                }
                self.spill = next;
            }
            // Tried again on the next turn of the loop, after a delivery.
            Err(e) => tracing::error!(url = %loggable(url), "could not read the outbox: {e}"),
        }
    }
}

/// A receiver's answer, read only up to `cap` bytes: None if longer.
async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Option<Vec<u8>> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return None;
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        out.extend_from_slice(&chunk);
        if out.len() > cap {
            return None;
        }
    }
    Some(out)
}

/// A URL as logs show it: scheme, host and port, and its path only as a
/// short hash; never the query, a password or the path itself (Slack's,
/// Discord's and Teams' webhook URLs carry their token in the path). The
/// delivery id beside it finds the whole webhook in the deliveries API.
pub fn loggable(url: &str) -> String {
    use sha2::{Digest, Sha256};
    match url::Url::parse(url) {
        Ok(u) => {
            let path = match u.path() {
                "" | "/" => "/".to_string(),
                p => {
                    let h = Sha256::digest(p.as_bytes());
                    format!("/…{:02x}{:02x}{:02x}{:02x}", h[0], h[1], h[2], h[3])
                }
            };
            format!(
                "{}://{}{}{path}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            )
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// The largest receiver answer handed on as a reply.
const MAX_REPLY: usize = 1 << 20;

/// An attempt that ended, waiting to be recorded with others.
struct Ended {
    d: Delivery,
    took: Duration,
    /// Its session is gone: it left the outbox, and nothing is recorded.
    dropped: bool,
}

/// One attempt; the delivery with its new state, to be recorded.
async fn attempt(ctx: &Ctx, mut d: Delivery) -> Ended {
    let started = std::time::Instant::now();
    // A deleted session's deliveries are not sent: their outbox rows went
    // with it, so one still held here is not posted to a session made
    // again under its id either (signed with its secret). One written back
    // by an attempt that settled while the session was being deleted is
    // dropped here, or it would wait in the outbox for ever.
    if !ctx.store.session_exists(&d.session).unwrap_or(true)
        || !ctx.store.is_pending(&d.id).unwrap_or(true)
    {
        if let Err(e) = ctx.store.drop_pending(&d.id) {
            tracing::warn!(delivery = %d.id, "could not drop a deleted session's delivery: {e}");
        }
        d.status = DeliveryStatus::Dead;
        return Ended {
            d,
            took: started.elapsed(),
            dropped: true,
        };
    }
    let d = attempt_once(ctx, d).await;
    Ended {
        d,
        took: started.elapsed(),
        dropped: false,
    }
}

async fn attempt_once(ctx: &Ctx, mut d: Delivery) -> Delivery {
    if d.subscription {
        // The webhook as it is now: what still waits goes out with a
        // rotated secret or changed headers; a removed one gets nothing.
        let now = ctx.current.of(&ctx.store, &d.session).map(|hooks| {
            hooks
                .iter()
                .find(|h| h.url == d.hook.url && h.format == d.hook.format)
                .cloned()
        });
        match now {
            Some(Some(h)) => d.hook = h,
            Some(None) => {
                d.last_status = None;
                d.last_error = Some("the webhook was removed from the session".into());
                return settle(ctx, d, Verdict::Fail, None);
            }
            None => {}
        }
    }
    let client = match ctx.client_for(&d.hook, &d.hook.url) {
        Ok(c) => c.clone(),
        Err(e) => {
            d.attempts += 1;
            d.last_status = None;
            d.last_error = Some(e);
            return settle(ctx, d, Verdict::Fail, None);
        }
    };
    let r = (ctx.render)(&d, now_ms() / 1000);
    if let Some(h) = &r.handshake
        && let Err(e) = handshake(ctx, &client, h, &d.hook.headers).await
    {
        d.attempts += 1;
        d.last_status = None;
        d.last_error = Some(e);
        return settle(ctx, d, Verdict::Retry, None);
    }
    let wants_reply = r.wants_reply && ctx.replies.is_some();
    let mut req = client
        .post(&d.hook.url)
        .header("content-type", r.content_type);
    for (k, v) in &r.headers {
        req = req.header(*k, v);
    }
    for (k, v) in &d.hook.headers {
        req = req.header(k, v);
    }
    let body = r.body;
    d.attempts += 1;
    let started = std::time::Instant::now();
    let outcome = req.body(body).send().await;
    let (verdict, retry_after) = match outcome {
        Ok(resp) => {
            let status = resp.status().as_u16();
            d.last_status = Some(status);
            d.last_error =
                (!resp.status().is_success()).then(|| format!("receiver answered {status}"));
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            if wants_reply && resp.status().is_success() {
                let content_type = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                // Answers are small (TwiML); a huge one is not read.
                if let Some(body) = read_capped(resp, MAX_REPLY).await.filter(|b| !b.is_empty())
                    && let Some(tx) = &ctx.replies
                {
                    let _ = tx.send(Reply {
                        delivery: d.clone(),
                        content_type,
                        body,
                    });
                }
            }
            (verdict(status), retry_after)
        }
        Err(e) => {
            d.last_status = None;
            d.last_error = Some(if e.is_timeout() {
                "the receiver did not answer in time".into()
            } else if e.is_connect() {
                "could not connect to the receiver".into()
            } else {
                // Not the URL (kept, and logged when it dies): its query
                // may hold the receiver's token.
                format!("request failed: {}", e.without_url())
            });
            (Verdict::Retry, None)
        }
    };
    tracing::debug!(delivery = %d.id, url = %loggable(&d.hook.url), attempts = d.attempts, ms = started.elapsed().as_millis() as u64, ?verdict, "webhook attempt");
    settle(ctx, d, verdict, retry_after)
}

/// An attempt's outcome, in memory: delivered, retried later, or dead.
/// The target's task records it (`record`).
fn settle(ctx: &Ctx, mut d: Delivery, verdict: Verdict, retry_after: Option<Duration>) -> Delivery {
    match verdict {
        Verdict::Delivered => {
            d.status = DeliveryStatus::Delivered;
            d.delivered_at = Some(now_ms());
        }
        Verdict::Retry if d.attempts < d.hook.retries.attempts => {
            let wait = backoff(&d.hook.retries.policy, d.attempts, &ctx.timing)
                .max(retry_after.unwrap_or_default().min(ctx.timing.max));
            d.next_at = now_ms() + wait.as_millis() as i64;
        }
        _ => d.status = DeliveryStatus::Dead,
    }
    d
}

/// Stores the outcomes of attempts that ended, in one write: a receiver
/// that answers fast then costs a commit per batch, not per delivery (a
/// commit per delivery was a quarter of the daemon's CPU under load;
/// docs/performance.md). A delivery whose session was deleted while it
/// was in flight is not written back, and is dead here.
fn record(ctx: &Ctx, ended: Vec<Ended>) -> Vec<Delivery> {
    let writes: Vec<Delivery> = ended
        .iter()
        .filter(|e| !e.dropped)
        .map(|e| e.d.clone())
        .collect();
    let written = match writes.is_empty() {
        true => Ok(vec![]),
        false => ctx.store.record_attempts(&writes),
    };
    let mut kept = match written {
        Ok(kept) => kept.into_iter(),
        Err(e) => {
            // As they are in memory: a delivered one left in the outbox is
            // posted again after a restart, never lost.
            tracing::error!(
                deliveries = writes.len(),
                "could not record webhook deliveries: {e}"
            );
            vec![true; writes.len()].into_iter()
        }
    };
    ended
        .into_iter()
        .map(|Ended { mut d, took, dropped }| {
            if !dropped && !kept.next().unwrap_or(true) {
                d.status = DeliveryStatus::Dead;
            } else if !dropped && d.status == DeliveryStatus::Dead {
                tracing::warn!(delivery = %d.id, url = %loggable(&d.hook.url), attempts = d.attempts, error = d.last_error.as_deref().unwrap_or(""), "webhook delivery is dead");
            }
            let outcome = match d.status {
                DeliveryStatus::Delivered => "delivered",
                DeliveryStatus::Dead => "dead",
                DeliveryStatus::Pending => "retry",
            };
            crate::telemetry::webhook_attempt(outcome, took);
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon's stop: what is in flight is answered and recorded (not
    /// posted again after the restart), and nothing more goes out.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_records_the_attempts_in_flight_and_starts_no_more() {
        use crate::domain::{Event, EventKind, Format, SessionRecord, Status, Webhook};
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A receiver that answers 200 once the test opens the gate,
        // keeping connections open.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let (gate, opened) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut c, _)) = listener.accept().await {
                let hits = counted.clone();
                let mut opened = opened.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // Requests are small: one header block and its body.
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match c.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse().unwrap())
                            .unwrap_or(0);
                        while buf.len() < end + len {
                            match c.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..end + len);
                        hits.fetch_add(1, SeqCst);
                        if opened.wait_for(|open| *open).await.is_err() {
                            return;
                        }
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if c.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let hook = Webhook::subscriber(url, Format::Native, &[]);
        let rec = SessionRecord {
            id: s.clone(),
            created_at: 0,
            updated_at: 0,
            webhooks: vec![hook.clone()],
            should_run: false,
            status: Status::Stopped,
            error: None,
            me: None,
            platform: None,
            proxy: None,
            move_epoch: 0,
            limits: None,
            calls: None,
            owed_catch_up: None,
            linked_at: None,
            early_floor: None,
            error_code: None,
        };
        assert!(store.create_session(&s, &rec).unwrap());
        let render: crate::webhook::Render = Arc::new(|_, _| {
            super::super::Rendered::new(b"{}".to_vec(), "application/json", vec![])
        });
        let dispatcher =
            Dispatcher::spawn(store.clone(), RetryTiming::default(), render, None, false).unwrap();
        let ds: Vec<Delivery> = (0..40)
            .map(|i| {
                Delivery::new(
                    &hook,
                    &Event::new(&s, EventKind::Message, serde_json::json!({ "i": i })),
                )
            })
            .collect();
        for d in &ds {
            store.put_delivery(d).unwrap();
        }
        dispatcher.enqueue(ds.clone());
        // PER_TARGET go out at once; the rest wait for a free slot.
        let t0 = std::time::Instant::now();
        while hits.load(SeqCst) < PER_TARGET {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{} posted",
                hits.load(SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The stop is under way while every answer is still held back.
        let stopping = {
            let d = dispatcher.clone();
            tokio::spawn(async move { d.shutdown(Duration::from_secs(10)).await })
        };
        while !*dispatcher.stop.borrow() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        gate.send_replace(true);
        stopping.await.unwrap();
        let delivered = |store: &Store| {
            ds.iter()
                .filter(|d| {
                    store.delivery(&d.id).unwrap().unwrap().status == DeliveryStatus::Delivered
                })
                .count()
        };
        assert_eq!(
            delivered(&store),
            PER_TARGET,
            "answered and recorded before the stop returned"
        );
        assert_eq!(
            store.outbox_counts().unwrap(),
            ((40 - PER_TARGET) as u64, 0)
        );
        assert_eq!(
            hits.load(SeqCst),
            PER_TARGET,
            "no attempt started after the stop"
        );
    }

    #[test]
    fn logged_urls_keep_the_port_and_lose_secrets() {
        let logged = loggable("http://u:pw@127.0.0.1:18472/hook?token=s3cret");
        assert!(logged.starts_with("http://127.0.0.1:18472/…"), "{logged}");
        assert!(!logged.contains("hook") && !logged.contains("s3cret") && !logged.contains("pw"));
        // A token in the path (Slack's, Discord's) is not shown; two paths
        // still tell apart.
        let slack = loggable("https://hooks.slack.com/services/T0/B0/XyZsecret");
        assert!(slack.starts_with("https://hooks.slack.com/…") && !slack.contains("XyZsecret"));
        assert_ne!(
            slack,
            loggable("https://hooks.slack.com/services/T0/B0/other")
        );
        assert_eq!(loggable("https://example.com/"), "https://example.com/");
    }

    /// Drains a window as a receiver that answers 2xx would: returns the
    /// ids in the order they were delivered.
    fn drain(w: &mut Window, store: &Store, url: &str) -> Vec<String> {
        let mut out = vec![];
        loop {
            if w.spill.is_some() && w.held.len() <= WINDOW / 2 {
                w.refill(store, url, "dlv_~");
            }
            assert!(w.held.len() <= WINDOW, "{} held in memory", w.held.len());
            let Some(entry) = w.queue.first_entry() else {
                assert!(w.spill.is_none());
                return out;
            };
            let mut d = entry.remove();
            d.status = DeliveryStatus::Delivered;
            store.record_attempts(std::slice::from_ref(&d)).unwrap();
            w.held.remove(&d.id);
            out.push(d.id);
        }
    }

    #[test]
    fn a_backlog_past_the_window_waits_in_the_outbox_and_is_delivered_once_each() {
        use crate::domain::{Event, EventKind, Format, SessionId, Webhook};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let a = Webhook::subscriber("http://127.0.0.1:9/a".into(), Format::Native, &[]);
        let b = Webhook::subscriber("http://127.0.0.1:9/b".into(), Format::Native, &[]);
        let mut sent = vec![];
        for i in 0..WINDOW * 2 + 100 {
            let ev = Event::new(&s, EventKind::Message, serde_json::json!({ "i": i }));
            let d = Delivery::new(&a, &ev);
            store.put_delivery(&d).unwrap();
            sent.push(d);
            // Another receiver's backlog in between, which `a` skips.
            if i % 3 == 0 {
                store.put_delivery(&Delivery::new(&b, &ev)).unwrap();
            }
        }
        let mut w = Window::new(None);
        for d in &sent {
            w.admit(&store, d.clone());
        }
        assert_eq!(w.held.len(), WINDOW);
        assert!(w.spill.is_some());
        // One stored earlier than the spill point but arriving late (ids are
        // only roughly in arrival order) is not lost.
        let ev = Event::new(&s, EventKind::Message, serde_json::json!({ "late": true }));
        let mut late = Delivery::new(&a, &ev);
        late.id = "dlv_0".into();
        store.put_delivery(&late).unwrap();
        w.admit(&store, late.clone());

        let mut got = drain(&mut w, &store, &a.url);
        // A channel copy of one already read back and delivered is not sent
        // again.
        w.admit(&store, sent[WINDOW + 1].clone());
        got.extend(drain(&mut w, &store, &a.url));

        let mut want: Vec<String> = sent.iter().map(|d| d.id.clone()).collect();
        want.push(late.id);
        let unique: HashSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "a delivery went twice");
        let mut sorted = got.clone();
        sorted.sort();
        want.sort();
        assert_eq!(sorted, want);
        // `b`'s backlog is untouched, and a window over it starts from the outbox.
        let receivers = store.pending_receivers().unwrap();
        assert_eq!(receivers.len(), 1);
        assert_eq!(receivers[0].0, b.url);
        let mut wb = Window::new(Some(receivers[0].1.clone()));
        assert_eq!(
            drain(&mut wb, &store, &b.url).len(),
            (WINDOW * 2 + 100).div_ceil(3)
        );
    }

    /// A receiver that fails some events for minutes: those wait out their
    /// backoff with only their keys in memory, so the window still takes
    /// the receiver's other deliveries at once; each is read back when due.
    #[test]
    fn deliveries_waiting_out_a_long_backoff_leave_the_window_to_the_others() {
        use crate::domain::{Event, EventKind, Format, SessionId, Webhook};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let a = Webhook::subscriber("http://127.0.0.1:9/a".into(), Format::Native, &[]);
        let made = |i: usize| {
            let ev = Event::new(&s, EventKind::Message, serde_json::json!({ "i": i }));
            let d = Delivery::new(&a, &ev);
            store.put_delivery(&d).unwrap();
            d
        };
        let now = now_ms();
        let mut w = Window::new(None);
        // A window's worth failed, each to be tried again in a minute.
        let failing: Vec<Delivery> = (0..WINDOW).map(made).collect();
        for d in &failing {
            w.admit(&store, d.clone());
        }
        for d in &failing {
            let mut d = w.queue.remove(&(d.next_at, d.id.clone())).unwrap();
            d.attempts = 1;
            d.next_at = now + 60_000;
            store.put_delivery(&d).unwrap();
            w.requeue(d, now);
        }
        assert_eq!((w.held.len(), w.parked.len()), (0, WINDOW));
        // The next one is taken into the window, not left in the outbox.
        let fresh = made(WINDOW);
        w.admit(&store, fresh.clone());
        assert!(w.spill.is_none());
        assert!(w.queue.values().any(|d| d.id == fresh.id));
        // Nothing parked comes back before it is due; then each does, once.
        w.unpark(&store, now + 1_000);
        assert_eq!(w.queue.len(), 1);
        // A manual retry of a parked one takes it now, and only once.
        w.admit(&store, store.delivery(&failing[0].id).unwrap().unwrap());
        assert_eq!((w.queue.len(), w.parked.len()), (2, WINDOW - 1));
        // Due, they come back as far as the window has room; the rest as
        // it empties.
        w.unpark(&store, now + 60_000);
        assert_eq!((w.queue.len(), w.parked.len()), (WINDOW, 1));
        let first = w.queue.keys().next().cloned().unwrap();
        w.queue.remove(&first);
        w.held.remove(&first.1);
        w.unpark(&store, now + 60_000);
        assert_eq!((w.queue.len(), w.parked.len()), (WINDOW, 0));
        let mut ids: HashSet<String> = w.queue.values().map(|d| d.id.clone()).collect();
        ids.insert(first.1);
        assert_eq!(ids.len(), WINDOW + 1, "each once");
        // A refill does not read back one parked: it is known.
        let mut w2 = Window::new(Some(failing[0].id.clone()));
        while w2.spill.is_some() && w2.held.len() <= WINDOW / 2 {
            w2.refill(&store, &a.url, "dlv_~");
        }
        assert_eq!(w2.parked.len(), WINDOW, "those not due are parked");
        assert_eq!(w2.queue.len(), 1, "the fresh one is queued");
    }

    #[tokio::test]
    async fn an_idle_receivers_task_goes_and_comes_back_with_its_next_delivery() {
        use crate::domain::{Event, EventKind, Format, SessionId, Webhook};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ctx = Arc::new(Ctx {
            current: Arc::new(Current::default()),
            store: store.clone(),
            client: reqwest::Client::new(),
            client_public: reqwest::Client::new(),
            private_for_keys: false,
            timing: RetryTiming::default(),
            render: Arc::new(|_, _| super::super::Rendered::new(vec![], "text/plain", vec![])),
            replies: None,
            verified: Mutex::new(HashSet::new()),
            durable_through: Arc::new(Mutex::new(crate::domain::next_delivery_id())),
        });
        let mut targets = Targets::new(
            Duration::from_millis(100),
            Arc::new(watch::Sender::new(false)),
        );
        // A status callback URL per message: a task each, while busy.
        for i in 0..100 {
            targets.start(&ctx, format!("http://127.0.0.1:9/cb?msg={i}"), None);
        }
        assert_eq!(targets.running(), 100);
        // Each idles from its first poll: a busy machine may start some late.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while targets.running() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(targets.running(), 0, "idle tasks stayed");
        // The next delivery to one of them starts it again; the entries of
        // the others are dropped as the map grows.
        let s = SessionId::parse("s").unwrap();
        let deliver = |targets: &mut Targets, i: usize| {
            let url = format!("http://127.0.0.1:9/cb?msg={i}");
            let hook = Webhook::subscriber(url, Format::Native, &[]);
            let d = Delivery::new(
                &hook,
                &Event::new(&s, EventKind::Message, serde_json::json!({})),
            );
            store.put_delivery(&d).unwrap();
            targets.send(&ctx, d);
        };
        deliver(&mut targets, 7);
        assert_eq!(targets.running(), 1);
        for i in 100..140 {
            deliver(&mut targets, i);
        }
        assert_eq!(targets.running(), 41);
        assert!(
            targets.tasks.len() < 60,
            "{} entries kept",
            targets.tasks.len()
        );
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(200), Verdict::Delivered);
        assert_eq!(verdict(204), Verdict::Delivered);
        for s in [408, 429, 500, 502, 503] {
            assert_eq!(verdict(s), Verdict::Retry, "{s}");
        }
        for s in [301, 400, 401, 404, 410, 422] {
            assert_eq!(verdict(s), Verdict::Fail, "{s}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let t = RetryTiming {
            base: Duration::from_millis(1000),
            max: Duration::from_millis(10_000),
            timeout: Duration::from_secs(1),
        };
        let within = |d: Duration, ms: u64| {
            let (lo, hi) = ((ms as f64 * 0.8) as u128, (ms as f64 * 1.2) as u128 + 1);
            (lo..=hi).contains(&d.as_millis())
        };
        assert!(within(backoff("exponential", 1, &t), 1000));
        assert!(within(backoff("exponential", 3, &t), 4000));
        assert!(within(backoff("exponential", 30, &t), 10_000));
        assert!(within(backoff("linear", 3, &t), 3000));
        for _ in 0..200 {
            assert!(
                backoff("exponential", 30, &t) <= t.max,
                "never past the cap"
            );
        }
    }
}
