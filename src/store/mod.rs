//! The only code that knows sled. One database under `<data_dir>/db`, one
//! tree per kind of record; values are JSON; keys are built so that sled's
//! byte order is the order we scan in (big-endian numbers).

use crate::domain::{
    Ack, Amendment, ApiKey, Delivery, DeliveryStatus, Event, KeySet, Message, SessionId,
    SessionRecord,
};
use serde_json::Value;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::Path;

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    sessions: sled::Tree,
    /// `session \0 ts_be8 msgid` -> Message
    messages: sled::Tree,
    /// `session \0 msgid` -> key in `messages`
    msgids: sled::Tree,
    /// `session \0 chat \0 ts_be8 msgid` -> ()
    chats: sled::Tree,
    /// delivery id (ulid, time-ordered) -> Delivery, pending or dead
    outbox: sled::Tree,
    /// delivery id -> Delivery, delivered (the delivery log)
    delivered: sled::Tree,
    /// `session \0 key` -> {"at": unix s, "response": ...}
    idempotency: sled::Tree,
    /// short id (16 bytes, see `Message::short_id`) -> `session \0 msgid`
    shortids: sled::Tree,
    /// `session \0 msgid` -> a status callback (a webhook for that message's acks)
    callbacks: sled::Tree,
    /// template name -> template (JSON)
    templates: sled::Tree,
    /// upload id -> uploaded media's metadata (JSON); the bytes are files
    uploads: sled::Tree,
    /// `session \0 chat` -> the last menu sent to that chat
    menus: sled::Tree,
    /// seq (u64 BE, in commit order) -> Event: the event log that readers
    /// of the event stream resume from; pruned by age
    events: sled::Tree,
    /// small facts about the store itself (the event log's pruning mark)
    meta: sled::Tree,
    /// hex SHA-256 of a scoped API key -> ApiKey
    keys: sled::Tree,
    /// key id -> when it was revoked (ms): peers learn revocations from it
    keys_revoked: sled::Tree,
    space: std::sync::Arc<Space>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(sled::Error),
    /// The disk is (nearly) full: new data is refused until space returns.
    #[error("{0}")]
    Full(String),
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("could not make writes durable: {0}")]
    Flush(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match &e {
            sled::Error::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
                StoreError::Full(format!("the disk is full: {io}"))
            }
            _ => StoreError::Db(e),
        }
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        }
    }
}

/// Keeps the disk from filling under sled: new data is refused while the
/// data dir's filesystem has less than `reserve` bytes free. sled cannot
/// carry on after meeting ENOSPC mid-write, so it must not meet it; the
/// reserve leaves room for bookkeeping (acks, deliveries moving to the
/// log), and writes resume by themselves when space returns.
struct Space {
    dir: std::path::PathBuf,
    reserve: u64,
    /// When the free space was last read (ms) and what it was: read at most
    /// every `SPACE_EVERY_MS`, not on every write.
    checked_at: std::sync::atomic::AtomicI64,
    free: std::sync::atomic::AtomicU64,
}

const SPACE_EVERY_MS: i64 = 100;

impl Space {
    fn free_bytes(&self) -> Option<u64> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.dir.as_os_str().as_bytes()).ok()?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid C string and a zeroed struct for the result.
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some(st.f_bavail as u64 * st.f_frsize as u64)
    }

    fn room(&self) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.reserve == 0 {
            return Ok(());
        }
        let now = crate::domain::now_ms();
        if now - self.checked_at.load(Relaxed) >= SPACE_EVERY_MS {
            // Unreadable: do not refuse on a guess.
            self.free
                .store(self.free_bytes().unwrap_or(u64::MAX), Relaxed);
            self.checked_at.store(now, Relaxed);
        }
        let free = self.free.load(Relaxed);
        if free < self.reserve {
            return Err(StoreError::Full(format!(
                "the disk holding {} has {} MB free, below the {} MB kept in reserve: new data is refused until space returns",
                self.dir.display(),
                free >> 20,
                self.reserve >> 20
            )));
        }
        Ok(())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The page cache unless configured (`--store-cache-mb`).
pub const DEFAULT_CACHE_BYTES: u64 = 16 << 20;

/// What `idempotency_begin` found for a key.
#[derive(Debug, PartialEq)]
pub enum Reservation {
    /// Reserved now, for a send of this message id.
    New(String),
    /// An earlier request finished: its answer.
    Answered(Value),
    /// An earlier request is still sending (or its outcome is unknown);
    /// the message id it sends under, if it recorded one.
    Busy(Option<String>),
    /// An earlier reservation lapsed unfinished: reserved again, for the
    /// same message id.
    TakenOver(String),
}

/// A change and the outbox deliveries of the events it produces: written
/// together, or (a duplicate, an ack that does not rise) not at all.
pub struct Change {
    pub op: Op,
    pub deliveries: Vec<Delivery>,
}

/// A change that produces events.
pub enum Op {
    /// A message seen for the first time produces its events; a duplicate none.
    Message {
        msg: Message,
        events: Vec<Event>,
    },
    /// An ack produces its event only if it raises the stored ack.
    Ack {
        session: SessionId,
        id: String,
        ack: Ack,
        event: Event,
    },
    /// A later change to a message (edit, revoke, reaction). Applied if the
    /// message is stored; its event is produced unless the stored message
    /// already had the change (a repeat).
    Amend {
        session: SessionId,
        id: String,
        change: Amendment,
        event: Event,
    },
    Event(Event),
}

impl Op {
    /// The events the change produces if it takes effect.
    pub fn events(&self) -> &[Event] {
        match self {
            Op::Message { events, .. } => events,
            Op::Ack { event, .. } | Op::Amend { event, .. } | Op::Event(event) => {
                std::slice::from_ref(event)
            }
        }
    }
}

fn prefix(session: &SessionId) -> Vec<u8> {
    let mut k = session.as_str().as_bytes().to_vec();
    k.push(0);
    k
}

/// The order of a message within a session: its timestamp (seconds), then
/// the order the store first saw it (a sequence that survives restarts),
/// then its id. Message ids are random, so without the sequence two
/// messages of one second would list in a random order.
fn order_suffix(ts: i64, seq: u64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + id.len());
    k.extend_from_slice(&(ts.max(0) as u64).to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

fn msg_key(session: &SessionId, order: &[u8]) -> Vec<u8> {
    let mut k = prefix(session);
    k.extend_from_slice(order);
    k
}

fn chat_key(session: &SessionId, chat: &str, order: &[u8]) -> Vec<u8> {
    let mut k = prefix(session);
    k.extend_from_slice(chat.as_bytes());
    k.push(0);
    k.extend_from_slice(order);
    k
}

/// The event log's pruning mark, in `meta`.
const PRUNED_KEY: &[u8] = b"events-pruned-through";

/// A JSON record of a tree, if there is one.
fn get_json<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
) -> Result<Option<T>> {
    Ok(tree
        .get(key)?
        .map(|v| serde_json::from_slice(&v))
        .transpose()?)
}

fn abort(e: impl Into<StoreError>) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e.into())
}

/// Within a transaction: lets `change` update a stored message. False when
/// it changes nothing (a repeat, or an ack that would not rise): then the
/// change's event is not produced. A message not stored is left alone and
/// its event still goes out (it may predate this store).
fn change_stored(
    msgids: &sled::transaction::TransactionalTree,
    messages: &sled::transaction::TransactionalTree,
    session: &SessionId,
    id: &str,
    change: impl FnOnce(&mut Message) -> bool,
) -> std::result::Result<bool, ConflictableTransactionError<StoreError>> {
    let mut idk = prefix(session);
    idk.extend_from_slice(id.as_bytes());
    let Some(key) = msgids.get(&idk)? else {
        return Ok(true);
    };
    let Some(raw) = messages.get(&key)? else {
        return Ok(true);
    };
    let mut m: Message = serde_json::from_slice(&raw).map_err(abort)?;
    if !change(&mut m) {
        return Ok(false);
    }
    messages.insert(key, serde_json::to_vec(&m).map_err(abort)?)?;
    Ok(true)
}

/// The part of a stored delivery that says where it goes and whether it
/// still waits: read without parsing the payload.
#[derive(serde::Deserialize)]
struct Head {
    status: DeliveryStatus,
    hook: HeadHook,
}

#[derive(serde::Deserialize)]
struct HeadHook {
    url: String,
}

impl Store {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// `cache_bytes`: sled's page cache. Its default (1 GB) lets the
    /// daemon's memory follow the stored history; bounded, reads of old
    /// history cost a disk read instead.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> anyhow::Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| anyhow::anyhow!("cannot open the database at {}: {e}", dir.display()))?;
        Ok(Store {
            sessions: db.open_tree("sessions")?,
            messages: db.open_tree("messages")?,
            msgids: db.open_tree("msgids")?,
            chats: db.open_tree("chats")?,
            outbox: db.open_tree("outbox")?,
            delivered: db.open_tree("delivered")?,
            idempotency: db.open_tree("idempotency")?,
            shortids: db.open_tree("shortids")?,
            callbacks: db.open_tree("callbacks")?,
            templates: db.open_tree("templates")?,
            uploads: db.open_tree("uploads")?,
            menus: db.open_tree("menus")?,
            events: db.open_tree("events")?,
            meta: db.open_tree("meta")?,
            keys: db.open_tree("keys")?,
            keys_revoked: db.open_tree("keys_revoked")?,
            space: std::sync::Arc::new(Space {
                dir: dir.to_path_buf(),
                reserve: 0,
                checked_at: 0.into(),
                free: u64::MAX.into(),
            }),
            db,
        })
    }

    /// Refuse new data while fewer than `bytes` are free on the disk.
    pub fn with_reserve(mut self, bytes: u64) -> Self {
        self.space = std::sync::Arc::new(Space {
            reserve: bytes,
            ..Space {
                dir: self.space.dir.clone(),
                reserve: 0,
                checked_at: 0.into(),
                free: u64::MAX.into(),
            }
        });
        self
    }

    /// Whether new data may be written now (`StoreError::Full` if not).
    pub fn room(&self) -> Result<()> {
        self.space.room()
    }

    // ---- sessions

    pub fn put_session(&self, id: &SessionId, rec: &SessionRecord) -> Result<()> {
        self.sessions
            .insert(id.as_str(), serde_json::to_vec(rec)?)?;
        Ok(())
    }

    pub fn session_exists(&self, id: &SessionId) -> Result<bool> {
        Ok(self.sessions.contains_key(id.as_str())?)
    }

    /// Read-modify-write of a session record, safe against concurrent
    /// writers (compare-and-swap). None if the session does not exist.
    pub fn update_session(
        &self,
        id: &SessionId,
        f: impl Fn(&mut SessionRecord),
    ) -> Result<Option<SessionRecord>> {
        loop {
            let Some(cur) = self.sessions.get(id.as_str())? else {
                return Ok(None);
            };
            let mut rec: SessionRecord = serde_json::from_slice(&cur)?;
            f(&mut rec);
            let new = serde_json::to_vec(&rec)?;
            if self
                .sessions
                .compare_and_swap(id.as_str(), Some(cur), Some(new))?
                .is_ok()
            {
                return Ok(Some(rec));
            }
        }
    }

    /// Inserts only if absent; false if the id is taken.
    pub fn create_session(&self, id: &SessionId, rec: &SessionRecord) -> Result<bool> {
        self.room()?;
        let res = self.sessions.compare_and_swap(
            id.as_str(),
            None as Option<&[u8]>,
            Some(serde_json::to_vec(rec)?),
        )?;
        Ok(res.is_ok())
    }

    pub fn get_session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        match self.sessions.get(id.as_str())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    pub fn sessions(&self) -> Result<Vec<SessionRecord>> {
        self.sessions
            .iter()
            .values()
            .map(|v| Ok(serde_json::from_slice(&v?)?))
            .collect()
    }

    /// Removes the session and everything stored for it.
    pub fn delete_session(&self, id: &SessionId) -> Result<()> {
        let p = prefix(id);
        for (_, tree) in self.session_trees() {
            for k in tree.scan_prefix(&p).keys() {
                tree.remove(k?)?;
            }
        }
        for kv in self.shortids.iter() {
            let (k, v) = kv?;
            if v.starts_with(&p) {
                self.shortids.remove(k)?;
            }
        }
        for tree in [&self.outbox, &self.delivered] {
            for kv in tree.iter() {
                let (k, v) = kv?;
                if serde_json::from_slice::<Delivery>(&v)
                    .map(|d| &d.session == id)
                    .unwrap_or(false)
                {
                    tree.remove(k)?;
                }
            }
        }
        self.sessions.remove(id.as_str())?;
        Ok(())
    }

    /// One session's records as they are stored, to move the session to
    /// another daemon: (tree, key, value). The event log stays: readers
    /// resume from each daemon's own.
    pub fn export_session(&self, id: &SessionId) -> Result<Vec<(String, Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut put =
            |tree: &str, k: &[u8], v: &[u8]| out.push((tree.to_string(), k.to_vec(), v.to_vec()));
        if let Some(v) = self.sessions.get(id.as_str())? {
            put("sessions", id.as_str().as_bytes(), &v);
        }
        let p = prefix(id);
        for (name, tree) in self.session_trees() {
            for kv in tree.scan_prefix(&p) {
                let (k, v) = kv?;
                put(name, &k, &v);
            }
        }
        for kv in self.shortids.iter() {
            let (k, v) = kv?;
            if v.starts_with(&p) {
                put("shortids", &k, &v);
            }
        }
        for (name, tree) in [("outbox", &self.outbox), ("delivered", &self.delivered)] {
            for kv in tree.iter() {
                let (k, v) = kv?;
                if serde_json::from_slice::<Delivery>(&v).is_ok_and(|d| &d.session == id) {
                    put(name, &k, &v);
                }
            }
        }
        Ok(out)
    }

    /// Takes in records from `export_session` (of another daemon), replacing
    /// whatever this store had of that session. Returns the pending
    /// deliveries, for the dispatcher.
    pub fn import_session(
        &self,
        id: &SessionId,
        records: &[(String, Vec<u8>, Vec<u8>)],
    ) -> Result<Vec<Delivery>> {
        self.room()?;
        self.delete_session(id)?;
        let mut pending = Vec::new();
        for (tree, k, v) in records {
            let t = match tree.as_str() {
                "sessions" => &self.sessions,
                "shortids" => &self.shortids,
                "outbox" => {
                    let d: Delivery = serde_json::from_slice(v)?;
                    if d.session != *id {
                        continue;
                    }
                    if d.status == DeliveryStatus::Pending {
                        pending.push(d);
                    }
                    &self.outbox
                }
                "delivered" => &self.delivered,
                other => match self.session_trees().into_iter().find(|(n, _)| *n == other) {
                    Some((_, t)) => t,
                    None => continue,
                },
            };
            t.insert(k.as_slice(), v.as_slice())?;
        }
        Ok(pending)
    }

    /// The trees whose keys start with `session \0`.
    fn session_trees(&self) -> [(&'static str, &sled::Tree); 6] {
        [
            ("messages", &self.messages),
            ("msgids", &self.msgids),
            ("chats", &self.chats),
            ("idempotency", &self.idempotency),
            ("callbacks", &self.callbacks),
            ("menus", &self.menus),
        ]
    }

    // ---- messages, events and their deliveries

    /// Applies `changes` atomically: each one that takes effect writes its
    /// deliveries to the outbox. Returns the events produced and which
    /// changes took effect (their indices). Not yet durable: call `flush`
    /// before acknowledging anything.
    pub fn commit(&self, changes: &[Change]) -> Result<(Vec<Event>, Vec<usize>)> {
        self.room()?;
        // Taken outside the transaction, which may run more than once.
        let seqs = changes
            .iter()
            .map(|c| match c.op {
                Op::Message { .. } => self.db.generate_id(),
                _ => Ok(0),
            })
            .collect::<std::result::Result<Vec<u64>, _>>()?;
        // The event log's places, one per event a change may produce.
        let mut starts = Vec::with_capacity(changes.len());
        let mut log_seqs = Vec::new();
        for c in changes {
            starts.push(log_seqs.len());
            for _ in c.op.events() {
                log_seqs.push(self.db.generate_id()?);
            }
        }
        let trees = (
            &self.messages,
            &self.msgids,
            &self.chats,
            &self.outbox,
            &self.shortids,
            &self.events,
        );
        let res = trees.transaction(|(messages, msgids, chats, outbox, shortids, log)| {
            let mut events = Vec::new();
            let mut applied = Vec::new();
            for (i, change) in changes.iter().enumerate() {
                match &change.op {
                    Op::Message { msg, events: evs } => {
                        let mut idk = prefix(&msg.session);
                        idk.extend_from_slice(msg.id.as_bytes());
                        if msgids.get(&idk)?.is_some() {
                            continue;
                        }
                        let order = order_suffix(msg.timestamp, seqs[i], &msg.id);
                        let key = msg_key(&msg.session, &order);
                        messages.insert(key.clone(), serde_json::to_vec(msg).map_err(abort)?)?;
                        shortids.insert(&Message::short_id(&msg.session, &msg.id)[..], &idk[..])?;
                        msgids.insert(idk, key)?;
                        chats.insert(chat_key(&msg.session, &msg.chat, &order), &[][..])?;
                        events.extend(evs.iter().cloned());
                    }
                    Op::Ack {
                        session,
                        id,
                        ack,
                        event,
                    } => {
                        // Acks only rise, except to failed.
                        let rises = change_stored(msgids, messages, session, id, |m| {
                            if m.ack >= *ack && *ack != Ack::Failed {
                                return false;
                            }
                            m.ack = *ack;
                            true
                        })?;
                        if !rises {
                            continue;
                        }
                        events.push(event.clone());
                    }
                    Op::Amend {
                        session,
                        id,
                        change,
                        event,
                    } => {
                        if !change_stored(msgids, messages, session, id, |m| m.amend(change))? {
                            continue;
                        }
                        events.push(event.clone());
                    }
                    Op::Event(e) => events.push(e.clone()),
                }
                // It took effect: its events go into the event log.
                for (k, e) in change.op.events().iter().enumerate() {
                    let seq = log_seqs[starts[i] + k];
                    log.insert(&seq.to_be_bytes(), serde_json::to_vec(e).map_err(abort)?)?;
                }
                for d in &change.deliveries {
                    outbox.insert(d.id.as_bytes(), serde_json::to_vec(d).map_err(abort)?)?;
                }
                applied.push(i);
            }
            Ok((events, applied))
        })?;
        Ok(res)
    }

    /// Newest first. `before` is an opaque cursor from a previous page.
    pub fn messages(
        &self,
        session: &SessionId,
        chat: Option<&str>,
        limit: usize,
        before: Option<&[u8]>,
    ) -> Result<(Vec<Message>, Option<Vec<u8>>)> {
        let p = match chat {
            Some(c) => {
                let mut p = prefix(session);
                p.extend_from_slice(c.as_bytes());
                p.push(0);
                p
            }
            None => prefix(session),
        };
        let tree = if chat.is_some() {
            &self.chats
        } else {
            &self.messages
        };
        let mut end = p.clone();
        match before {
            Some(c) => end.extend_from_slice(c),
            None => end.push(0xff),
        }
        // One more than asked tells whether there is a next page.
        let mut page: Vec<(Vec<u8>, Message)> = Vec::new();
        for k in tree.range(p.clone()..end).keys().rev() {
            let k = k?;
            let suffix = k[p.len()..].to_vec();
            let msg_k = if chat.is_some() {
                let mut mk = prefix(session);
                mk.extend_from_slice(&suffix);
                mk
            } else {
                k.to_vec()
            };
            if let Some(v) = self.messages.get(&msg_k)? {
                page.push((suffix, serde_json::from_slice(&v)?));
            }
            if page.len() > limit {
                break;
            }
        }
        let more = page.len() > limit;
        page.truncate(limit);
        let cursor = if more {
            page.last().map(|(s, _)| s.clone())
        } else {
            None
        };
        Ok((page.into_iter().map(|(_, m)| m).collect(), cursor))
    }

    pub fn message(&self, session: &SessionId, id: &str) -> Result<Option<Message>> {
        let mut idk = prefix(session);
        idk.extend_from_slice(id.as_bytes());
        let Some(key) = self.msgids.get(idk)? else {
            return Ok(None);
        };
        get_json(&self.messages, key)
    }

    /// The paging cursor that continues after this message (see `messages`).
    pub fn message_cursor(&self, session: &SessionId, id: &str) -> Result<Option<Vec<u8>>> {
        let p = prefix(session);
        let mut idk = p.clone();
        idk.extend_from_slice(id.as_bytes());
        Ok(self.msgids.get(idk)?.map(|k| k[p.len()..].to_vec()))
    }

    /// A message by its short id (`Message::short_id`): session and message.
    pub fn message_by_short_id(&self, short: &[u8]) -> Result<Option<Message>> {
        let Some(idk) = self.shortids.get(short)? else {
            return Ok(None);
        };
        let Some(key) = self.msgids.get(idk)? else {
            return Ok(None);
        };
        get_json(&self.messages, key)
    }

    // ---- status callbacks, templates, uploads: small JSON records

    pub fn put_callback(&self, session: &SessionId, msg_id: &str, hook: &Value) -> Result<()> {
        self.room()?;
        let mut k = prefix(session);
        k.extend_from_slice(msg_id.as_bytes());
        self.callbacks.insert(k, serde_json::to_vec(hook)?)?;
        Ok(())
    }

    pub fn callback(&self, session: &SessionId, msg_id: &str) -> Result<Option<Value>> {
        let mut k = prefix(session);
        k.extend_from_slice(msg_id.as_bytes());
        get_json(&self.callbacks, k)
    }

    pub fn put_menu(
        &self,
        session: &SessionId,
        chat: &str,
        menu: &crate::domain::Menu,
    ) -> Result<()> {
        let mut k = prefix(session);
        k.extend_from_slice(chat.as_bytes());
        self.menus.insert(k, serde_json::to_vec(menu)?)?;
        Ok(())
    }

    pub fn menu(&self, session: &SessionId, chat: &str) -> Result<Option<crate::domain::Menu>> {
        let mut k = prefix(session);
        k.extend_from_slice(chat.as_bytes());
        get_json(&self.menus, k)
    }

    pub fn delete_upload(&self, id: &str) -> Result<bool> {
        Ok(self.uploads.remove(id)?.is_some())
    }

    pub fn put_template(&self, name: &str, t: &Value) -> Result<()> {
        self.room()?;
        self.templates.insert(name, serde_json::to_vec(t)?)?;
        Ok(())
    }

    pub fn template(&self, name: &str) -> Result<Option<Value>> {
        get_json(&self.templates, name)
    }

    pub fn templates(&self) -> Result<Vec<Value>> {
        self.templates
            .iter()
            .values()
            .map(|v| Ok(serde_json::from_slice(&v?)?))
            .collect()
    }

    pub fn delete_template(&self, name: &str) -> Result<bool> {
        Ok(self.templates.remove(name)?.is_some())
    }

    // ---- scoped API keys

    pub fn put_key(&self, k: &ApiKey) -> Result<()> {
        self.room()?;
        self.keys
            .insert(k.hash.as_bytes(), serde_json::to_vec(k)?)?;
        Ok(())
    }

    pub fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        get_json(&self.keys, hash)
    }

    pub fn keys(&self) -> Result<Vec<ApiKey>> {
        let mut all: Vec<ApiKey> = self
            .keys
            .iter()
            .values()
            .map(|v| Ok(serde_json::from_slice(&v?)?))
            .collect::<Result<_>>()?;
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    /// Removes the key with this id and remembers that it was revoked;
    /// returns it if there was one.
    pub fn delete_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let Some(k) = self.keys()?.into_iter().find(|k| k.id == id) else {
            return Ok(None);
        };
        self.keys.remove(k.hash.as_bytes())?;
        self.keys_revoked
            .insert(id.as_bytes(), &crate::domain::now_ms().to_be_bytes())?;
        Ok(Some(k))
    }

    /// Every key and every revocation, as peers exchange them.
    pub fn key_set(&self) -> Result<KeySet> {
        let mut revoked = std::collections::BTreeMap::new();
        for kv in self.keys_revoked.iter() {
            let (k, v) = kv?;
            let at = v
                .as_ref()
                .try_into()
                .map(i64::from_be_bytes)
                .unwrap_or_default();
            revoked.insert(String::from_utf8_lossy(&k).into_owned(), at);
        }
        Ok(KeySet {
            keys: self.keys()?,
            revoked,
        })
    }

    /// Takes in a peer's keys: a revocation wins over any record of its key,
    /// and of two records of one key the newer (rotated later) wins.
    /// Returns how many records changed.
    pub fn merge_keys(&self, theirs: &KeySet) -> Result<usize> {
        self.room()?;
        let mut changed = 0;
        for (id, at) in &theirs.revoked {
            if self.keys_revoked.get(id.as_bytes())?.is_none() {
                self.keys_revoked.insert(id.as_bytes(), &at.to_be_bytes())?;
                changed += 1;
            }
            if let Some(k) = self.keys()?.into_iter().find(|k| &k.id == id) {
                self.keys.remove(k.hash.as_bytes())?;
                changed += 1;
            }
        }
        let mine = self.keys()?;
        for k in &theirs.keys {
            if self.keys_revoked.get(k.id.as_bytes())?.is_some() {
                continue;
            }
            match mine.iter().find(|m| m.id == k.id) {
                Some(m) if m.version() >= k.version() => {}
                Some(m) => {
                    self.replace_key(&m.hash, k)?;
                    changed += 1;
                }
                None => {
                    self.put_key(k)?;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// Replaces a key's secret: the old hash stops working in the same
    /// write that makes the new one work.
    pub fn replace_key(&self, old_hash: &str, new: &ApiKey) -> Result<bool> {
        let res = self.keys.transaction(|t| {
            if t.remove(old_hash.as_bytes())?.is_none() {
                return Ok(false);
            }
            let v = serde_json::to_vec(new)
                .map_err(|e| ConflictableTransactionError::Abort(StoreError::Corrupt(e)))?;
            t.insert(new.hash.as_bytes(), v)?;
            Ok(true)
        });
        Ok(res?)
    }

    pub fn put_upload(&self, id: &str, meta: &Value) -> Result<()> {
        self.room()?;
        self.uploads.insert(id, serde_json::to_vec(meta)?)?;
        Ok(())
    }

    pub fn upload(&self, id: &str) -> Result<Option<Value>> {
        get_json(&self.uploads, id)
    }

    // ---- the event log

    /// Up to `limit` logged events after `after`, in order.
    pub fn events_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::domain::LoggedEvent>> {
        let start = after.saturating_add(1).to_be_bytes();
        self.events
            .range(start..)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                let seq = u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8]));
                Ok(crate::domain::LoggedEvent {
                    seq,
                    event: serde_json::from_slice(&v)?,
                })
            })
            .collect()
    }

    /// The place of the newest logged event (0 if none).
    pub fn last_event_seq(&self) -> Result<u64> {
        Ok(self
            .events
            .last()?
            .map(|(k, _)| u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8])))
            .unwrap_or(0))
    }

    /// Everything at or before this place was pruned (0: nothing).
    pub fn events_pruned_through(&self) -> Result<u64> {
        Ok(self
            .meta
            .get(PRUNED_KEY)?
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])))
            .unwrap_or(0))
    }

    /// Drops logged events older than `before_ms`; returns how many.
    pub fn prune_events(&self, before_ms: i64) -> Result<usize> {
        let mut n = 0;
        let mut last = None;
        for kv in self.events.iter() {
            let (k, v) = kv?;
            let ev: Event = serde_json::from_slice(&v)?;
            if ev.timestamp >= before_ms {
                break;
            }
            self.events.remove(&k)?;
            last = Some(k);
            n += 1;
        }
        if let Some(k) = last {
            self.meta.insert(PRUNED_KEY, k.as_ref())?;
        }
        Ok(n)
    }

    /// Timestamp of the newest stored message: where catch-up starts.
    pub fn last_message_ts(&self, session: &SessionId) -> Result<Option<i64>> {
        let p = prefix(session);
        Ok(self
            .messages
            .scan_prefix(&p)
            .keys()
            .next_back()
            .transpose()?
            .and_then(|k| {
                let b: [u8; 8] = k.get(p.len()..p.len() + 8)?.try_into().ok()?;
                Some(u64::from_be_bytes(b) as i64)
            }))
    }

    // ---- outbox

    /// Each receiver URL with pending deliveries, with its oldest one's id:
    /// where the dispatcher starts reading that receiver's backlog.
    pub fn pending_receivers(&self) -> Result<Vec<(String, String)>> {
        let mut first: std::collections::HashMap<String, String> = Default::default();
        for kv in self.outbox.iter() {
            let (k, v) = kv?;
            let h: Head = serde_json::from_slice(&v)?;
            if h.status == DeliveryStatus::Pending && !first.contains_key(&h.hook.url) {
                first.insert(h.hook.url, String::from_utf8_lossy(&k).into_owned());
            }
        }
        Ok(first.into_iter().collect())
    }

    /// Up to `limit` pending deliveries to `url`, oldest first from id `from`
    /// on, leaving out those `held` (already in memory); and the id to go on
    /// from, None when the outbox's end was reached.
    pub fn pending_for(
        &self,
        url: &str,
        from: &str,
        limit: usize,
        held: impl Fn(&str) -> bool,
    ) -> Result<(Vec<Delivery>, Option<String>)> {
        let mut out = Vec::new();
        for kv in self.outbox.range(from.as_bytes()..) {
            let (k, v) = kv?;
            let id = String::from_utf8_lossy(&k);
            if out.len() == limit {
                return Ok((out, Some(id.into_owned())));
            }
            // The receiver and status first: most entries are another's.
            let h: Head = serde_json::from_slice(&v)?;
            if h.status == DeliveryStatus::Pending && h.hook.url == url && !held(&id) {
                out.push(serde_json::from_slice(&v)?);
            }
        }
        Ok((out, None))
    }

    /// Whether a delivery still waits in the outbox (not delivered, not dead).
    pub fn is_pending(&self, id: &str) -> Result<bool> {
        Ok(match self.outbox.get(id.as_bytes())? {
            Some(v) => serde_json::from_slice::<Head>(&v)?.status == DeliveryStatus::Pending,
            None => false,
        })
    }

    /// How many deliveries wait in the outbox: (pending, dead).
    pub fn outbox_counts(&self) -> Result<(u64, u64)> {
        #[derive(serde::Deserialize)]
        struct Only {
            status: DeliveryStatus,
        }
        let (mut pending, mut dead) = (0, 0);
        for v in self.outbox.iter().values() {
            match serde_json::from_slice::<Only>(&v?)?.status {
                DeliveryStatus::Dead => dead += 1,
                _ => pending += 1,
            }
        }
        Ok((pending, dead))
    }

    /// A read that touches the disk's tree: fails when the store is broken
    /// or refuses new data for want of space.
    pub fn check(&self) -> Result<()> {
        self.meta.get(b"check")?;
        self.room()
    }

    pub fn put_delivery(&self, d: &Delivery) -> Result<()> {
        self.outbox
            .insert(d.id.as_bytes(), serde_json::to_vec(d)?)?;
        Ok(())
    }

    /// Moves a delivered delivery from the outbox to the log. Log first: a
    /// crash in between leaves it in both, and it is delivered once more
    /// (at least once), never lost.
    pub fn mark_delivered(&self, d: &Delivery) -> Result<()> {
        self.delivered
            .insert(d.id.as_bytes(), serde_json::to_vec(d)?)?;
        self.outbox.remove(d.id.as_bytes())?;
        Ok(())
    }

    pub fn delivery(&self, id: &str) -> Result<Option<Delivery>> {
        for tree in [&self.outbox, &self.delivered] {
            if let Some(v) = tree.get(id.as_bytes())? {
                return Ok(Some(serde_json::from_slice(&v)?));
            }
        }
        Ok(None)
    }

    /// Newest first: pending and dead from the outbox, delivered from the log.
    pub fn deliveries(
        &self,
        session: &SessionId,
        delivered: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let tree = if delivered {
            &self.delivered
        } else {
            &self.outbox
        };
        let mut out = Vec::new();
        for v in tree.iter().values().rev() {
            let d: Delivery = serde_json::from_slice(&v?)?;
            if &d.session == session {
                out.push(d);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Drops delivery-log entries older than `cutoff_ms` (ids are ULIDs: time-ordered).
    pub fn prune_delivered(&self, cutoff: &str) -> Result<usize> {
        let mut n = 0;
        for k in self.delivered.range(..cutoff.as_bytes()).keys() {
            self.delivered.remove(k?)?;
            n += 1;
        }
        Ok(n)
    }

    // ---- idempotency keys

    /// Reserves `key`; returns the stored answer if it was already used
    /// (`Value::Null` while the first request is still in flight).
    /// Reserves `key` for a send of the message `msg_id`, or tells what
    /// an earlier request with it did. A reservation remembers its message
    /// id: one whose send never finished (a crash, a browser that died
    /// mid-call) is taken over after two minutes with that same id.
    pub fn idempotency_begin(
        &self,
        session: &SessionId,
        key: &str,
        now: i64,
        ttl: i64,
        msg_id: &str,
    ) -> Result<Reservation> {
        self.room()?;
        let mut k = prefix(session);
        k.extend_from_slice(key.as_bytes());
        loop {
            let cur = self.idempotency.get(&k)?;
            let mut id = msg_id.to_string();
            let mut lapsed = false;
            if let Some(v) = &cur {
                let v: Value = serde_json::from_slice(v)?;
                let age = now - v["at"].as_i64().unwrap_or(0);
                let planned = v["id"].as_str().map(String::from);
                if !v["response"].is_null() {
                    if age < ttl {
                        return Ok(Reservation::Answered(v["response"].clone()));
                    }
                } else if age < 120 {
                    return Ok(Reservation::Busy(planned));
                } else {
                    lapsed = true;
                    id = planned.unwrap_or(id);
                }
            }
            let mark =
                serde_json::to_vec(&serde_json::json!({"at": now, "response": null, "id": id}))?;
            if self
                .idempotency
                .compare_and_swap(&k, cur, Some(mark))?
                .is_ok()
            {
                return Ok(if lapsed {
                    Reservation::TakenOver(id)
                } else {
                    Reservation::New(id)
                });
            }
        }
    }

    pub fn idempotency_finish(
        &self,
        session: &SessionId,
        key: &str,
        now: i64,
        response: Option<&Value>,
    ) -> Result<()> {
        let mut k = prefix(session);
        k.extend_from_slice(key.as_bytes());
        match response {
            Some(r) => {
                self.idempotency.insert(
                    k,
                    serde_json::to_vec(&serde_json::json!({"at": now, "response": r}))?,
                )?;
            }
            // The send failed: the key may be used again.
            None => {
                self.idempotency.remove(k)?;
            }
        }
        Ok(())
    }

    /// Removes idempotency keys past their time: answers older than `ttl`
    /// seconds, reservations abandoned for two minutes. Returns how many.
    pub fn sweep_idempotency(&self, now: i64, ttl: i64) -> Result<usize> {
        let mut n = 0;
        for kv in self.idempotency.iter() {
            let (k, raw) = kv?;
            let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            let age = now - v["at"].as_i64().unwrap_or(0);
            // Unfinished reservations are kept as long as answers: they
            // remember the message id a retry must send under.
            // Compare-and-swap: a key re-used meanwhile stays.
            if age >= ttl
                && self
                    .idempotency
                    .compare_and_swap(&k, Some(&raw), None::<&[u8]>)
                    .is_ok_and(|r| r.is_ok())
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Durably writes what is pending (sled syncs every 500 ms otherwise).
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Message, Sender};

    fn msg(session: &SessionId, id: &str, ts: i64) -> Op {
        let m = Message {
            id: id.into(),
            session: session.clone(),
            chat: "15551234567@c.us".into(),
            from: None,
            to: None,
            from_me: false,
            kind: "text".into(),
            text: Some(id.into()),
            caption: None,
            timestamp: ts,
            ack: Ack::Sent,
            sender: Sender {
                phone: None,
                name: None,
                lid: None,
            },
            reply_to: None,
            media: None,
            location: None,
            choice: None,
            vcards: None,
            edited_at: None,
            edits: vec![],
            revoked: false,
            reactions: vec![],
            poll: None,
            mentions: vec![],
        };
        let events = m.events();
        Op::Message { msg: m, events }
    }

    #[test]
    fn below_the_disk_reserve_new_data_is_refused_and_nothing_half_written() {
        let dir = tempfile::tempdir().unwrap();
        let s = SessionId::parse("s").unwrap();
        // A reserve no disk has: every new record is refused.
        let full = Store::open(dir.path()).unwrap().with_reserve(u64::MAX);
        let err = full.commit(&[Change {
            op: msg(&s, "m1", 1),
            deliveries: vec![],
        }]);
        assert!(matches!(err, Err(StoreError::Full(_))), "{:?}", err.err());
        assert!(matches!(full.check(), Err(StoreError::Full(_))));
        assert!(matches!(
            full.idempotency_begin(&s, "k", 0, 60, "ID"),
            Err(StoreError::Full(_))
        ));
        assert!(full.message(&s, "m1").unwrap().is_none());
        // Space back (a reserve the disk has): the same write goes through.
        let ok = full.with_reserve(1);
        ok.commit(&[Change {
            op: msg(&s, "m1", 1),
            deliveries: vec![],
        }])
        .unwrap();
        assert!(ok.message(&s, "m1").unwrap().is_some());
        ok.check().unwrap();
    }

    #[test]
    fn expired_idempotency_keys_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let answer = serde_json::json!({"id": "m"});
        // An answer from 25 h ago, one from now, a reservation abandoned
        // 3 min ago (kept: it remembers its message id).
        store.idempotency_begin(&s, "old", 0, 86_400, "A").unwrap();
        store
            .idempotency_finish(&s, "old", 0, Some(&answer))
            .unwrap();
        store
            .idempotency_begin(&s, "new", 90_000, 86_400, "B")
            .unwrap();
        store
            .idempotency_finish(&s, "new", 90_000, Some(&answer))
            .unwrap();
        store
            .idempotency_begin(&s, "stuck", 89_820, 86_400, "C")
            .unwrap();
        assert_eq!(store.sweep_idempotency(90_000, 86_400).unwrap(), 1);
        assert_eq!(store.idempotency.len(), 2);
        // The live answer is still answered.
        assert_eq!(
            store
                .idempotency_begin(&s, "new", 90_001, 86_400, "D")
                .unwrap(),
            Reservation::Answered(answer)
        );
        assert_eq!(store.sweep_idempotency(90_001, 86_400).unwrap(), 0);
    }

    #[test]
    fn a_reservation_keeps_its_message_id_until_it_is_answered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let begin = |at, id| store.idempotency_begin(&s, "k", at, 86_400, id).unwrap();
        assert_eq!(begin(1_000, "ID1"), Reservation::New("ID1".into()));
        // Still sending, or its outcome unknown: the retry learns the id.
        assert_eq!(begin(1_060, "ID2"), Reservation::Busy(Some("ID1".into())));
        // Lapsed: taken over, under the same id, never a new one.
        assert_eq!(begin(1_200, "ID3"), Reservation::TakenOver("ID1".into()));
        assert_eq!(begin(1_210, "ID4"), Reservation::Busy(Some("ID1".into())));
        let answer = serde_json::json!({"id": "ID1"});
        store
            .idempotency_finish(&s, "k", 1_220, Some(&answer))
            .unwrap();
        assert_eq!(begin(1_230, "ID5"), Reservation::Answered(answer));
    }

    #[test]
    fn an_amendment_changes_the_stored_message_once_and_its_repeat_produces_no_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let commit = |op: Op| {
            store
                .commit(&[Change {
                    op,
                    deliveries: vec![],
                }])
                .unwrap()
                .0
        };
        commit(msg(&s, "m1", 100));
        let edit = |text: &str, at: i64| Op::Amend {
            session: s.clone(),
            id: "m1".into(),
            change: Amendment::Edit {
                text: text.into(),
                at,
            },
            event: crate::domain::message::edit_event(&s, "m1", "c", text, at),
        };
        assert_eq!(commit(edit("m1 fixed", 200)).len(), 1);
        assert_eq!(
            commit(edit("m1 fixed", 200)).len(),
            0,
            "a repeat changes nothing"
        );
        let m = store.message(&s, "m1").unwrap().unwrap();
        assert_eq!(m.text.as_deref(), Some("m1 fixed"));
        assert_eq!(m.edits.len(), 1);
        assert_eq!(m.edits[0].text.as_deref(), Some("m1"));
        assert_eq!(m.edited_at, Some(200));
        // A reaction, replaced, then taken back; taking it back again is a repeat.
        let react = |emoji: &str| Op::Amend {
            session: s.clone(),
            id: "m1".into(),
            change: Amendment::React(crate::domain::Reaction {
                sender: "1@c.us".into(),
                emoji: emoji.into(),
                from_me: false,
                timestamp: 300,
            }),
            event: crate::domain::message::revoke_event(&s, &format!("r{emoji}"), "c"),
        };
        assert_eq!(commit(react("👍")).len(), 1);
        assert_eq!(commit(react("❤️")).len(), 1);
        assert_eq!(store.message(&s, "m1").unwrap().unwrap().reactions.len(), 1);
        assert_eq!(commit(react("")).len(), 1);
        assert_eq!(commit(react("")).len(), 0);
        assert!(
            store
                .message(&s, "m1")
                .unwrap()
                .unwrap()
                .reactions
                .is_empty()
        );
        // A change to a message the store never saw still reports its event.
        let unknown = Op::Amend {
            session: s.clone(),
            id: "older".into(),
            change: Amendment::Revoke { at: 1 },
            event: crate::domain::message::revoke_event(&s, "older", "c"),
        };
        assert_eq!(commit(unknown).len(), 1);
    }

    #[test]
    fn history_within_one_second_is_in_the_order_messages_came_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let s = SessionId::parse("s1").unwrap();
        // Ids in an order unrelated to arrival, all in one second.
        let ids = ["m_Z", "m_A", "m_Q", "m_B", "m_Y"];
        {
            let store = Store::open(dir.path()).unwrap();
            for id in &ids[..3] {
                let changes = [Change {
                    op: msg(&s, id, 1_700_000_000),
                    deliveries: vec![],
                }];
                store.commit(&changes).unwrap();
            }
            store.db.flush().unwrap();
        }
        // sled's flusher thread lets go of the files a moment after the drop.
        let store = (0..100)
            .find_map(|_| {
                Store::open(dir.path())
                    .map_err(|_| std::thread::sleep(std::time::Duration::from_millis(20)))
                    .ok()
            })
            .expect("the store reopens");
        for id in &ids[3..] {
            let changes = [Change {
                op: msg(&s, id, 1_700_000_000),
                deliveries: vec![],
            }];
            store.commit(&changes).unwrap();
        }
        let newest_first: Vec<&str> = ids.iter().rev().copied().collect();
        let (all, _) = store.messages(&s, None, 10, None).unwrap();
        assert_eq!(
            all.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            newest_first
        );
        let (chat, _) = store
            .messages(&s, Some("15551234567@c.us"), 10, None)
            .unwrap();
        assert_eq!(
            chat.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            newest_first
        );
        // Paging keeps the order.
        let (p1, next) = store.messages(&s, None, 2, None).unwrap();
        let (p2, _) = store.messages(&s, None, 10, next.as_deref()).unwrap();
        let paged: Vec<&str> = p1.iter().chain(&p2).map(|m| m.id.as_str()).collect();
        assert_eq!(paged, newest_first);
        // A duplicate is not stored again.
        let (events, applied) = store
            .commit(&[Change {
                op: msg(&s, "m_A", 1_700_000_000),
                deliveries: vec![],
            }])
            .unwrap();
        assert!(events.is_empty() && applied.is_empty());
    }

    #[test]
    fn the_event_log_reads_in_order_after_a_place_and_prunes_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s1").unwrap();
        for (i, id) in ["m_1", "m_2", "m_3"].iter().enumerate() {
            let changes = [Change {
                op: msg(&s, id, 1_700_000_000 + i as i64),
                deliveries: vec![],
            }];
            store.commit(&changes).unwrap();
        }
        // A duplicate logs nothing.
        store
            .commit(&[Change {
                op: msg(&s, "m_2", 1_700_000_001),
                deliveries: vec![],
            }])
            .unwrap();
        let all = store.events_after(0, 100).unwrap();
        // message + message.any for each, in commit order.
        assert_eq!(all.len(), 6);
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
        let ids: Vec<&str> = all
            .iter()
            .map(|l| l.event.payload["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m_1", "m_1", "m_2", "m_2", "m_3", "m_3"]);
        let after = store.events_after(all[1].seq, 100).unwrap();
        assert_eq!(after.first().unwrap().seq, all[2].seq);
        assert_eq!(store.last_event_seq().unwrap(), all[5].seq);
        assert_eq!(store.events_pruned_through().unwrap(), 0);
        // Everything is older than now.
        assert_eq!(
            store.prune_events(crate::domain::now_ms() + 1000).unwrap(),
            6
        );
        assert_eq!(store.events_pruned_through().unwrap(), all[5].seq);
        assert!(store.events_after(0, 100).unwrap().is_empty());
    }
}
