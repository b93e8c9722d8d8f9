//! The only code that knows the database: redb, one file under
//! `<data_dir>/db`, one table per kind of record; values are JSON; keys are
//! built so that byte order is the order we scan in (big-endian numbers).
//!
//! Why redb (sled before it, moved over once by `migrate`): sled kept
//! ~200 bytes of memory for every node it had ever written, so the
//! daemon's memory followed the stored history (~20 MB an hour at 30 msg/s);
//! redb's memory is its bounded page cache whatever the history.
//!
//! Writes are committed at once but made durable in groups, as sled did:
//! `flush` (awaited before anything is acknowledged) and a background
//! flush every 500 ms for the rest.

mod migrate;

use crate::domain::{
    Ack, Amendment, ApiKey, Delivery, DeliveryStatus, Event, KeySet, Message, SessionId,
    SessionRecord,
};
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    TableHandle, WriteTransaction,
};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

const SESSIONS: Def = TableDefinition::new("sessions");
/// `session \0 ts_be8 seq_be8 msgid` -> Message
const MESSAGES: Def = TableDefinition::new("messages");
/// `session \0 msgid` -> key in `messages`
const MSGIDS: Def = TableDefinition::new("msgids");
/// `session \0 chat \0 ts_be8 seq_be8 msgid` -> ()
const CHATS: Def = TableDefinition::new("chats");
/// delivery id (ulid, time-ordered) -> Delivery, pending
const OUTBOX: Def = TableDefinition::new("outbox");
/// delivery id -> Delivery, dead: kept apart so that what still waits is
/// read and counted without walking what gave up (a receiver gone for a
/// month leaves a month of them); pruned by age
const DEAD: Def = TableDefinition::new("dead");
/// delivery id -> Delivery, delivered (the delivery log)
const DELIVERED: Def = TableDefinition::new("delivered");
/// `session \0 key` -> {"at": unix s, "response": ..., "id": msgid}
const IDEMPOTENCY: Def = TableDefinition::new("idempotency");
/// short id (16 bytes, see `Message::short_id`) -> `session \0 msgid`
const SHORTIDS: Def = TableDefinition::new("shortids");
/// `session \0 msgid` -> a status callback (a webhook for that message's acks)
const CALLBACKS: Def = TableDefinition::new("callbacks");
/// `session \0 planned message key` -> when (unix s, big-endian) and the
/// tracker a send carried, told back with the message's acks
const TRACKERS: Def = TableDefinition::new("trackers");
/// template name -> template (JSON)
const TEMPLATES: Def = TableDefinition::new("templates");
/// upload id -> uploaded media's metadata (JSON); the bytes are files
const UPLOADS: Def = TableDefinition::new("uploads");
/// `session \0 chat` -> the last menu sent to that chat
const MENUS: Def = TableDefinition::new("menus");
/// seq (u64 BE, in commit order) -> Event: the event log that readers of
/// the event stream resume from; pruned by age
const EVENTS: Def = TableDefinition::new("events");
/// small facts about the store itself (the sequence, the pruning mark)
const META: Def = TableDefinition::new("meta");
/// session \0 -> the newest time (unix s, big-endian) of a message taken
/// out of the history: catch-up's watermark must not fall back with it
const FORGOTTEN: Def = TableDefinition::new("forgotten");
/// hex SHA-256 of a scoped API key -> ApiKey
const KEYS: Def = TableDefinition::new("keys");
/// key id -> when it was revoked (ms): peers learn revocations from it
const KEYS_REVOKED: Def = TableDefinition::new("keys_revoked");
/// `session \0 state delivery-id` -> (): each delivery by its session and
/// state, so that one session's deliveries are listed, moved and deleted
/// without reading every other session's (a week of a busy machine's log).
/// Written only through `Rows`, with the three delivery tables.
const BY_SESSION: Def = TableDefinition::new("deliveries_by_session");

const TABLES: [Def; 20] = [
    SESSIONS,
    MESSAGES,
    MSGIDS,
    CHATS,
    OUTBOX,
    DEAD,
    DELIVERED,
    IDEMPOTENCY,
    SHORTIDS,
    CALLBACKS,
    TEMPLATES,
    UPLOADS,
    MENUS,
    EVENTS,
    META,
    KEYS,
    KEYS_REVOKED,
    FORGOTTEN,
    TRACKERS,
    BY_SESSION,
];

/// The tables whose keys start with `session \0`.
const SESSION_TABLES: [Def; 8] = [
    MESSAGES,
    MSGIDS,
    CHATS,
    IDEMPOTENCY,
    CALLBACKS,
    MENUS,
    FORGOTTEN,
    TRACKERS,
];

/// An idempotency record that decides a request by itself: the same
/// message's answer within `ttl`, or another message's key (answered
/// within `ttl`, or still reserved).
fn settled_key(v: &Value, now: i64, ttl: i64, fingerprint: &str) -> Option<Reservation> {
    let age = now - v["at"].as_i64().unwrap_or(0);
    // (Records from before fingerprints were kept have none.)
    let other = v["fp"].as_str().is_some_and(|f| f != fingerprint);
    if other && (age < ttl || v["response"].is_null()) {
        Some(Reservation::OtherRequest)
    } else if !v["response"].is_null() && age < ttl {
        Some(Reservation::Answered(v["response"].clone()))
    } else {
        None
    }
}

/// Set in `meta` once dead deliveries have their own table.
const DEAD_APART_KEY: &[u8] = b"dead_apart";

fn dead_out_of_the_outbox(tx: &WriteTransaction) -> Result<usize> {
    let mut rows = Rows::open(tx)?;
    let mut gone = Vec::new();
    for kv in rows.table(DeliveryStatus::Pending).iter()? {
        let (k, v) = kv?;
        if serde_json::from_slice::<Head>(v.value()).is_ok_and(|h| h.status == DeliveryStatus::Dead)
        {
            gone.push(k.value().to_vec());
        }
    }
    for id in &gone {
        if let Some((session, row)) = rows.take(DeliveryStatus::Pending, id)? {
            rows.put(&session, DeliveryStatus::Dead, id, &row)?;
        }
    }
    Ok(gone.len())
}

/// Set in `meta` once every delivery is in `BY_SESSION`.
const INDEXED_KEY: &[u8] = b"deliveries_by_session";

/// Makes `BY_SESSION` again, at open, where it does not hold one entry
/// per delivery row: a store written before it (once), or written since by
/// an older wabridge (a rollback and back), whose deliveries it would not
/// list. A bounded number per write (a week's log can be millions).
fn index_deliveries(db: &Database) -> Result<()> {
    use redb::ReadableTableMetadata;
    const CHUNK: usize = 20_000;
    let agrees = {
        let tx = db.begin_read()?;
        let mut rows = 0;
        for t in DELIVERY_TABLES {
            rows += tx.open_table(t)?.len()?;
        }
        get(&tx.open_table(META)?, INDEXED_KEY)?.is_some()
            && tx.open_table(BY_SESSION)?.len()? == rows
    };
    if agrees {
        return Ok(());
    }
    // Whole: an older wabridge's moves and deletes left stale entries.
    let tx = db.begin_write()?;
    tx.delete_table(BY_SESSION)?;
    tx.open_table(BY_SESSION)?;
    tx.open_table(META)?.remove(INDEXED_KEY)?;
    tx.commit()?;
    let mut indexed = 0usize;
    for status in [
        DeliveryStatus::Pending,
        DeliveryStatus::Dead,
        DeliveryStatus::Delivered,
    ] {
        let mut cursor = Vec::new();
        loop {
            let (keys, next) = {
                let tx = db.begin_read()?;
                let table = tx.open_table(table_of(status))?;
                let (mut keys, mut next) = (Vec::new(), None);
                for kv in table.range(cursor.as_slice()..)? {
                    let (k, v) = kv?;
                    if keys.len() == CHUNK {
                        next = Some(k.value().to_vec());
                        break;
                    }
                    // One this version cannot read is under no session's
                    // name (as `Rows::take` finds it), listed by none.
                    let s = session_of(v.value()).unwrap_or_default();
                    keys.push(by_session_key(&s, status, k.value()));
                }
                (keys, next)
            };
            let tx = db.begin_write()?;
            {
                let mut index = tx.open_table(BY_SESSION)?;
                for k in &keys {
                    index.insert(k.as_slice(), &[][..])?;
                }
            }
            tx.commit()?;
            indexed += keys.len();
            match next {
                Some(n) => cursor = n,
                None => break,
            }
        }
    }
    let tx = db.begin_write()?;
    tx.open_table(META)?.insert(INDEXED_KEY, &b"1"[..])?;
    tx.commit()?;
    if indexed > 0 {
        tracing::info!(indexed, "webhook deliveries indexed by session");
    }
    Ok(())
}

/// A delivery row's session, read alone (most of a row is its event).
fn session_of(row: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Of<'a> {
        #[serde(borrow)]
        session: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<Of>(row)
        .ok()
        .map(|o| o.session.into_owned())
}

fn state_byte(status: DeliveryStatus) -> u8 {
    match status {
        DeliveryStatus::Pending => b'p',
        DeliveryStatus::Dead => b'x',
        DeliveryStatus::Delivered => b'd',
    }
}

fn state_of_byte(b: u8) -> Option<DeliveryStatus> {
    [
        DeliveryStatus::Pending,
        DeliveryStatus::Dead,
        DeliveryStatus::Delivered,
    ]
    .into_iter()
    .find(|s| state_byte(*s) == b)
}

/// A delivery's key in `BY_SESSION`.
fn by_session_key(session: &str, status: DeliveryStatus, id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(session.len() + 2 + id.len());
    k.extend_from_slice(session.as_bytes());
    k.push(0);
    k.push(state_byte(status));
    k.extend_from_slice(id);
    k
}

/// The state and id a `BY_SESSION` key names, past its session's prefix.
fn by_session_entry(key: &[u8], prefix_len: usize) -> Option<(DeliveryStatus, &[u8])> {
    let (&b, id) = key.get(prefix_len..)?.split_first()?;
    Some((state_of_byte(b)?, id))
}

type Table<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// The delivery tables and their index by session, open in one write:
/// every change to a delivery's row goes through here, so that the index
/// never disagrees with them.
struct Rows<'t> {
    /// In the order of `DELIVERY_TABLES`.
    tables: [Table<'t>; 3],
    index: Table<'t>,
}

impl<'t> Rows<'t> {
    fn open(tx: &'t WriteTransaction) -> Result<Self> {
        Ok(Rows {
            tables: [
                tx.open_table(OUTBOX)?,
                tx.open_table(DEAD)?,
                tx.open_table(DELIVERED)?,
            ],
            index: tx.open_table(BY_SESSION)?,
        })
    }

    fn table(&mut self, status: DeliveryStatus) -> &mut Table<'t> {
        &mut self.tables[slot(status)]
    }

    /// Writes a delivery's row into its state's table (again, if there).
    fn put(&mut self, session: &str, status: DeliveryStatus, id: &[u8], row: &[u8]) -> Result<()> {
        self.table(status).insert(id, row)?;
        self.index
            .insert(by_session_key(session, status, id).as_slice(), &[][..])?;
        Ok(())
    }

    /// Takes a delivery of `session` out of its state's table, if there.
    fn remove(&mut self, session: &str, status: DeliveryStatus, id: &[u8]) -> Result<()> {
        self.table(status).remove(id)?;
        self.index
            .remove(by_session_key(session, status, id).as_slice())?;
        Ok(())
    }

    /// Takes a delivery out of its state's table: its session and row, if
    /// it was there. (A row this version cannot read goes all the same.)
    fn take(&mut self, status: DeliveryStatus, id: &[u8]) -> Result<Option<(String, Vec<u8>)>> {
        let Some(row) = self.table(status).remove(id)?.map(|v| v.value().to_vec()) else {
            return Ok(None);
        };
        let session = session_of(&row).unwrap_or_default();
        self.index
            .remove(by_session_key(&session, status, id).as_slice())?;
        Ok(Some((session, row)))
    }

    /// Every delivery of the session whose keys start with `p` (its
    /// `prefix`): their keys in `BY_SESSION`, at most `limit`.
    fn of_session(&self, p: &[u8], limit: usize) -> Result<Vec<Vec<u8>>> {
        let end = prefix_end(p);
        self.index
            .range(p..end.as_slice())?
            .take(limit)
            .map(|kv| Ok(kv?.0.value().to_vec()))
            .collect()
    }

    /// Takes out the deliveries `keys` (from `of_session`) name.
    fn remove_listed(&mut self, p: &[u8], keys: &[Vec<u8>]) -> Result<()> {
        for k in keys {
            if let Some((status, id)) = by_session_entry(k, p.len()) {
                self.table(status).remove(id)?;
            }
            self.index.remove(k.as_slice())?;
        }
        Ok(())
    }
}

/// Where deliveries are kept, by state.
const DELIVERY_TABLES: [Def; 3] = [OUTBOX, DEAD, DELIVERED];

fn table_of(status: DeliveryStatus) -> Def {
    DELIVERY_TABLES[slot(status)]
}

/// Where a state's table is in `DELIVERY_TABLES`.
fn slot(status: DeliveryStatus) -> usize {
    match status {
        DeliveryStatus::Pending => 0,
        DeliveryStatus::Dead => 1,
        DeliveryStatus::Delivered => 2,
    }
}

/// A message's key in `SHORTIDS` (`Message::short_id`).
type ShortId = [u8; 16];

/// The short ids (`SHORTIDS`) of session `id`'s messages from message id
/// key `from` on, at most `limit`, and the key to go on from: found by
/// its own message ids, not by a scan of every session's short ids.
fn short_ids_from(
    msgids: &impl ReadableTable<&'static [u8], &'static [u8]>,
    id: &SessionId,
    from: &[u8],
    limit: usize,
) -> Result<(Vec<ShortId>, Option<Vec<u8>>)> {
    let p = prefix(id);
    let end = prefix_end(&p);
    let mut out = Vec::new();
    for kv in msgids.range(from..end.as_slice())? {
        let (k, _) = kv?;
        if out.len() == limit {
            return Ok((out, Some(k.value().to_vec())));
        }
        let msg = String::from_utf8_lossy(&k.value()[p.len()..]);
        out.push(Message::short_id(id, &msg));
    }
    Ok((out, None))
}

/// Every record of session `id`, in one write transaction.
fn remove_session(tx: &WriteTransaction, id: &SessionId) -> Result<()> {
    let p = prefix(id);
    let end = prefix_end(&p);
    {
        let (shorts, _) = short_ids_from(&tx.open_table(MSGIDS)?, id, &p, usize::MAX)?;
        let mut table = tx.open_table(SHORTIDS)?;
        for s in &shorts {
            table.remove(&s[..])?;
        }
    }
    for t in SESSION_TABLES {
        tx.open_table(t)?
            .retain_in(p.as_slice()..end.as_slice(), |_, _| false)?;
    }
    let mut rows = Rows::open(tx)?;
    let doomed = rows.of_session(&p, usize::MAX)?;
    rows.remove_listed(&p, &doomed)?;
    drop(rows);
    tx.open_table(SESSIONS)?.remove(id.as_str().as_bytes())?;
    Ok(())
}

/// An export's records as they will be written: (table, key, value, the
/// delivery it is, if one). Tables this daemon does not know are left
/// out; a record that is unreadable or another session's fails it all.
#[allow(clippy::type_complexity)]
fn plan_import<'a>(
    id: &SessionId,
    records: &'a [(String, Vec<u8>, Vec<u8>)],
) -> Result<Vec<(Def, &'a [u8], &'a [u8], Option<Delivery>)>> {
    let p = prefix(id);
    let importable: Vec<Def> = [SESSIONS, SHORTIDS]
        .into_iter()
        .chain(DELIVERY_TABLES)
        .chain(SESSION_TABLES)
        .collect();
    let foreign = |name: &str| {
        StoreError::Db(format!(
            "the export holds a {name} record that is not session '{id}''s"
        ))
    };
    let mut out = Vec::new();
    for (name, k, v) in records {
        let Some(t) = importable.iter().find(|t| t.name() == name) else {
            continue;
        };
        let mut t = *t;
        let mut delivery = None;
        if DELIVERY_TABLES.iter().any(|d| d.name() == t.name()) {
            let d: Delivery = serde_json::from_slice(v)?;
            if d.session != *id {
                return Err(foreign(name));
            }
            // By its state: an export of an older store has its dead
            // ones in the outbox.
            t = table_of(d.status);
            delivery = Some(d);
        } else if t.name() == SESSIONS.name() {
            if k.as_slice() != id.as_str().as_bytes() {
                return Err(foreign(name));
            }
            // One record, readable and the session's: the import's checks
            // read the first, and what is written last would win.
            let r: SessionRecord = serde_json::from_slice(v)?;
            if r.id != *id
                || out
                    .iter()
                    .any(|(t, ..): &(Def, &[u8], &[u8], Option<Delivery>)| {
                        t.name() == SESSIONS.name()
                    })
            {
                return Err(foreign(name));
            }
        } else if t.name() == SHORTIDS.name() {
            if !v.starts_with(&p) {
                return Err(foreign(name));
            }
        } else if !k.starts_with(&p) {
            return Err(foreign(name));
        }
        out.push((t, k.as_slice(), v.as_slice(), delivery));
    }
    Ok(out)
}

fn table_named(name: &str) -> Option<Def> {
    TABLES.iter().find(|d| d.name() == name).copied()
}

/// The database file inside the store's directory.
const FILE: &str = "store.redb";

/// The next number of the store's sequence (message order, event log), in `meta`.
const SEQ_KEY: &[u8] = b"seq";

/// How many messages were stored as history, in `meta`. A history
/// message's order within its second is below every message stored live
/// (sequence 0), and below the history stored before it (this count, from
/// the top): a chat read back page by page, whose history loads as the
/// reader goes, never skips one of a second a page boundary split, nor
/// lists it after newer ones. A batch is committed newest first.
const BACKFILL_KEY: &[u8] = b"backfill";

/// How far the sequence jumps at each open: more than can be handed out
/// between two durable commits.
const SEQ_JUMP_ON_OPEN: u64 = 1 << 20;

/// The event log's pruning mark, in `meta`.
const PRUNED_KEY: &[u8] = b"events-pruned-through";

/// How often writes not flushed by a caller are made durable.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// Commits not durable yet.
    pending: Arc<Pending>,
    space: Arc<Space>,
    /// Whether any send ever carried a tracker: until one does, an ack
    /// costs no lookup.
    trackers: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    /// The disk is (nearly) full: new data is refused until space returns.
    #[error("{0}")]
    Full(String),
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("could not make writes durable: {0}")]
    Flush(String),
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        match &e {
            redb::Error::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
                StoreError::Full(format!("the disk is full: {io}"))
            }
            _ => StoreError::Db(e.to_string()),
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                redb::Error::from(e).into()
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Keeps the disk from filling under the database: new data is refused
/// while the data dir's filesystem has less than `reserve` bytes free. A
/// database that meets ENOSPC mid-commit must be reopened, so it must not
/// meet it; the
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
    /// The key was first used for a request with another fingerprint.
    OtherRequest,
}

/// A change and the outbox deliveries of the events it produces: written
/// together, or (a duplicate, an ack that does not rise) not at all.
pub struct Change {
    pub op: Op,
    pub deliveries: Vec<Delivery>,
}

/// A change that produces events.
// Messages are most ops: boxing them would cost an allocation per message
// on the inbound path, to shrink the rarer ones.
#[allow(clippy::large_enum_variant)]
pub enum Op {
    /// A message seen for the first time produces its events; a duplicate none.
    Message {
        msg: Message,
        events: Vec<Event>,
        /// Loaded from WhatsApp Web's history, older than every message
        /// stored of its chat: within a second it lists before them (see
        /// `BACKFILL_KEY`).
        history: bool,
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

    /// The same events, taken.
    pub fn into_events(self) -> Vec<Event> {
        match self {
            Op::Message { events, .. } => events,
            Op::Ack { event, .. } | Op::Amend { event, .. } | Op::Event(event) => vec![event],
        }
    }
}

/// A stored record as an export carries it: (table, key, value).
pub type Record = (String, Vec<u8>, Vec<u8>);

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

/// The history number of a message's order (`BACKFILL_KEY`), if it was
/// stored as history.
fn backfill_number(order: &[u8]) -> Option<u64> {
    let (seq, rest) = (order.get(8..16)?, order.get(16..32)?);
    if be_u64(seq) != 0 {
        return None;
    }
    let hex = std::str::from_utf8(rest).ok()?;
    u64::from_str_radix(hex, 16)
        .ok()
        .map(|below| u64::MAX - below)
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

/// A record of a table, copied out.
fn get(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<Vec<u8>>> {
    Ok(t.get(key)?.map(|v| v.value().to_vec()))
}

/// A JSON record of a table, if there is one.
fn get_json<T: serde::de::DeserializeOwned>(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<T>> {
    Ok(t.get(key)?
        .map(|v| serde_json::from_slice(v.value()))
        .transpose()?)
}

/// Every value of a table, as JSON, in key order. A record this version
/// cannot read (written by a newer one, or damaged) is left out and said,
/// not allowed to hide every other one (every session, every key).
fn all_json<T: serde::de::DeserializeOwned>(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    what: &str,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut unreadable = 0usize;
    for kv in t.iter()? {
        let (_, v) = kv?;
        match serde_json::from_slice(v.value()) {
            Ok(r) => out.push(r),
            Err(_) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        tracing::warn!(
            table = what,
            unreadable,
            "records this version cannot read are left out"
        );
    }
    Ok(out)
}

/// The first key after every key that starts with `p`.
fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut end = p.to_vec();
    end.push(0xff);
    end
}

fn be_u64(v: &[u8]) -> u64 {
    u64::from_be_bytes(v.try_into().unwrap_or([0; 8]))
}

/// Within a write: lets `change` update a stored message. False when it
/// changes nothing (a repeat, or an ack that would not rise): then the
/// change's event is not produced. A message not stored is left alone and
/// its event still goes out (it may predate this store).
fn change_stored(
    msgids: &redb::Table<&'static [u8], &'static [u8]>,
    messages: &mut redb::Table<&'static [u8], &'static [u8]>,
    session: &SessionId,
    id: &str,
    change: impl FnOnce(&mut Message) -> bool,
) -> Result<bool> {
    let mut idk = prefix(session);
    idk.extend_from_slice(id.as_bytes());
    let Some(key) = get(msgids, &idk)? else {
        return Ok(true);
    };
    let Some(mut m) = get_json::<Message>(messages, &key)? else {
        return Ok(true);
    };
    if !change(&mut m) {
        return Ok(false);
    }
    messages.insert(key.as_slice(), serde_json::to_vec(&m)?.as_slice())?;
    Ok(true)
}

/// Raises the session's mark of the newest message taken out of the
/// history to `ts`.
fn keep_forgotten(tx: &WriteTransaction, session: &SessionId, ts: i64) -> Result<()> {
    let mut t = tx.open_table(FORGOTTEN)?;
    let p = prefix(session);
    let had = get(&t, &p)?.map_or(0, |v| be_u64(&v) as i64);
    if ts > had {
        t.insert(p.as_slice(), &(ts.max(0) as u64).to_be_bytes()[..])?;
    }
    Ok(())
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

    /// `cache_bytes`: the page cache, all the memory the database keeps;
    /// reads of older history cost a disk read instead.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> anyhow::Result<Self> {
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| anyhow::anyhow!("cannot use {}: {e}", dir.display()))?;
        }
        let file = dir.join(FILE);
        migrate::from_sled(dir, &file, cache_bytes)?;
        let db = Database::builder()
            .set_cache_size(cache_bytes as usize)
            .create(&file)
            .map_err(|e| anyhow::anyhow!("cannot open the database at {}: {e}", file.display()))?;
        // Every table exists from the start: readers need not ask.
        let tx = db.begin_write()?;
        for t in TABLES {
            tx.open_table(t)?;
        }
        // Readers may have seen numbers of the sequence in commits a crash
        // then took back (the event stream shows a commit before it is
        // durable): the sequence goes on far above them, durably, so no
        // number is handed out twice (sled's id generator did the same).
        {
            let mut meta = tx.open_table(META)?;
            let mut seq = get(&meta, SEQ_KEY)?.map_or(1, |v| be_u64(&v));
            if let Some((k, _)) = tx.open_table(EVENTS)?.last()? {
                seq = seq.max(be_u64(k.value()) + 1);
            }
            meta.insert(SEQ_KEY, &(seq + SEQ_JUMP_ON_OPEN).to_be_bytes()[..])?;
            // Stores written before the dead had their own table: once.
            if get(&meta, DEAD_APART_KEY)?.is_none() {
                let moved = dead_out_of_the_outbox(&tx)?;
                if moved > 0 {
                    tracing::info!(moved, "dead webhook deliveries moved out of the outbox");
                }
                meta.insert(DEAD_APART_KEY, &b"1"[..])?;
            }
        }
        let trackers = tx.open_table(TRACKERS)?.first()?.is_some();
        tx.commit()?;
        index_deliveries(&db)?;
        let store = Store {
            trackers: Arc::new(trackers.into()),
            db: Arc::new(db),
            pending: Arc::default(),
            space: Arc::new(Space {
                dir: dir.to_path_buf(),
                reserve: 0,
                checked_at: 0.into(),
                free: u64::MAX.into(),
            }),
        };
        store.spawn_flusher();
        Ok(store)
    }

    /// Makes writes durable every `FLUSH_EVERY`; ends with the last clone.
    fn spawn_flusher(&self) {
        let db = Arc::downgrade(&self.db);
        let pending = self.pending.clone();
        std::thread::Builder::new()
            .name("store-flush".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    let Some(db) = db.upgrade() else { return };
                    if let Err(e) = durable(&db, &pending) {
                        tracing::error!("could not make writes durable: {e}");
                    }
                }
            })
            .expect("a thread");
    }

    /// Refuse new data while fewer than `bytes` are free on the disk.
    pub fn with_reserve(mut self, bytes: u64) -> Self {
        self.space = Arc::new(Space {
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

    /// One write transaction: committed when `f` succeeds (durable with the
    /// next flush), dropped when it fails.
    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T>) -> Result<T> {
        self.pending.usable()?;
        // A durable commit holds redb's writer lock through its fsync, which
        // a loaded disk can stretch to seconds: wait for it off the async
        // workers, or two such waits stop every task of the daemon.
        let tx = if self.pending.flushing.try_lock().is_err() {
            off_the_workers(|| self.db.begin_write())
        } else {
            self.db.begin_write()
        };
        let mut tx = began(&self.pending, tx)?;
        tx.set_durability(Durability::None)?;
        // Dirty before the commit, too: a flush that finds it clean must
        // not return while a commit that a reader may already see waits
        // for its flag (this write holds redb's writer lock, so a flush
        // that takes the flag now commits after it).
        self.pending.dirty.store(true, Relaxed);
        match f(&tx) {
            Ok(out) => {
                if let Err(e) = tx.commit() {
                    return Err(self.pending.failed(e.into()));
                }
                self.pending.dirty.store(true, Relaxed);
                Ok(out)
            }
            Err(e) => {
                let _ = tx.abort();
                Err(e)
            }
        }
    }

    fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T>) -> Result<T> {
        f(&self.db.begin_read()?)
    }

    /// A record of one table.
    fn get_in(&self, t: Def, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.read(|tx| get(&tx.open_table(t)?, key))
    }

    fn get_json_in<T: serde::de::DeserializeOwned>(&self, t: Def, key: &[u8]) -> Result<Option<T>> {
        self.read(|tx| get_json(&tx.open_table(t)?, key))
    }

    fn insert_in(&self, t: Def, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(|tx| {
            tx.open_table(t)?.insert(key, value)?;
            Ok(())
        })
    }

    /// Removes a record; whether there was one.
    fn remove_in(&self, t: Def, key: &[u8]) -> Result<bool> {
        self.write(|tx| Ok(tx.open_table(t)?.remove(key)?.is_some()))
    }

    // ---- sessions

    pub fn put_session(&self, id: &SessionId, rec: &SessionRecord) -> Result<()> {
        self.insert_in(SESSIONS, id.as_str().as_bytes(), &serde_json::to_vec(rec)?)
    }

    pub fn session_exists(&self, id: &SessionId) -> Result<bool> {
        Ok(self.get_in(SESSIONS, id.as_str().as_bytes())?.is_some())
    }

    /// Read-modify-write of a session record, in one write. None if the
    /// session does not exist.
    pub fn update_session(
        &self,
        id: &SessionId,
        f: impl Fn(&mut SessionRecord),
    ) -> Result<Option<SessionRecord>> {
        self.write(|tx| {
            let mut t = tx.open_table(SESSIONS)?;
            let Some(mut rec) = get_json::<SessionRecord>(&t, id.as_str().as_bytes())? else {
                return Ok(None);
            };
            f(&mut rec);
            t.insert(id.as_str().as_bytes(), serde_json::to_vec(&rec)?.as_slice())?;
            Ok(Some(rec))
        })
    }

    /// Inserts only if absent; false if the id is taken.
    pub fn create_session(&self, id: &SessionId, rec: &SessionRecord) -> Result<bool> {
        self.room()?;
        self.write(|tx| {
            let mut t = tx.open_table(SESSIONS)?;
            if t.get(id.as_str().as_bytes())?.is_some() {
                return Ok(false);
            }
            t.insert(id.as_str().as_bytes(), serde_json::to_vec(rec)?.as_slice())?;
            Ok(true)
        })
    }

    pub fn get_session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        self.get_json_in(SESSIONS, id.as_str().as_bytes())
    }

    pub fn sessions(&self) -> Result<Vec<SessionRecord>> {
        self.read(|tx| all_json(&tx.open_table(SESSIONS)?, "sessions"))
    }

    /// Removes the session and everything stored for it.
    /// Every record of session `id`, a chunk at a time: one write over
    /// every message and delivery of the store would hold redb's writer
    /// (every commit, every webhook outcome) for as long as the scan took.
    /// The session's own record goes last, so a delete cut short by a crash
    /// leaves a session that a repeated delete finishes. Blocking: call it
    /// off the async workers.
    pub fn delete_session(&self, id: &SessionId) -> Result<()> {
        let p = prefix(id);
        let end = prefix_end(&p);
        // Born after every delivery from now on: the outcome of an attempt
        // still under way is dropped (`record_attempts`), not written back
        // behind the scan.
        // (A record this version cannot read is deleted all the same.)
        if let Err(e) = self.update_session(id, |r| r.created_at = i64::MAX) {
            tracing::warn!(session = %id, "deleting a session whose record could not be marked: {e}");
        }
        // Its short ids first: they are found by its message ids.
        let mut cursor = p.clone();
        loop {
            let (shorts, next) =
                self.read(|tx| short_ids_from(&tx.open_table(MSGIDS)?, id, &cursor, 10_000))?;
            self.write(|tx| {
                let mut table = tx.open_table(SHORTIDS)?;
                for s in &shorts {
                    table.remove(&s[..])?;
                }
                Ok(())
            })?;
            match next {
                Some(n) => cursor = n,
                None => break,
            }
        }
        for t in SESSION_TABLES {
            self.remove_where(t, &p, Some(&end), |_, _| true)?;
        }
        // Its deliveries, by the index: a bounded number per write.
        loop {
            let gone = self.write(|tx| {
                let mut rows = Rows::open(tx)?;
                let keys = rows.of_session(&p, 10_000)?;
                rows.remove_listed(&p, &keys)?;
                Ok(keys.len())
            })?;
            if gone == 0 {
                break;
            }
        }
        // Its events too: the stream would still hand them to a key for
        // that id, a later session of the same name's too.
        #[derive(serde::Deserialize)]
        struct Of<'a> {
            #[serde(borrow)]
            session: &'a str,
        }
        self.remove_where(EVENTS, &[], None, |_, v| {
            serde_json::from_slice::<Of>(v).is_ok_and(|e| e.session == id.as_str())
        })?;
        self.remove_in(SESSIONS, id.as_str().as_bytes())?;
        Ok(())
    }

    /// Removes the records of `t` from `from` (up to `to`) that `doomed`
    /// picks: each read scans a bounded number, each write removes what
    /// that read found.
    fn remove_where(
        &self,
        t: Def,
        from: &[u8],
        to: Option<&[u8]>,
        doomed: impl Fn(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        use std::ops::Bound;
        const SCAN: usize = 10_000;
        let mut cursor = from.to_vec();
        loop {
            let (keys, next) = self.read(|tx| {
                let table = tx.open_table(t)?;
                let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
                let (mut keys, mut next) = (Vec::new(), None);
                for (scanned, kv) in table
                    .range::<&[u8]>((Bound::Included(cursor.as_slice()), upper))?
                    .enumerate()
                {
                    let (k, v) = kv?;
                    if scanned == SCAN {
                        next = Some(k.value().to_vec());
                        break;
                    }
                    if doomed(k.value(), v.value()) {
                        keys.push(k.value().to_vec());
                    }
                }
                Ok((keys, next))
            })?;
            if !keys.is_empty() {
                self.write(|tx| {
                    let mut table = tx.open_table(t)?;
                    for k in &keys {
                        table.remove(k.as_slice())?;
                    }
                    Ok(())
                })?;
            }
            match next {
                Some(n) => cursor = n,
                None => return Ok(()),
            }
        }
    }

    /// One session's records as they are stored, to move the session to
    /// another daemon: (table, key, value). The event log stays: readers
    /// resume from each daemon's own.
    pub fn export_session(&self, id: &SessionId) -> Result<Vec<Record>> {
        let p = prefix(id);
        let end = prefix_end(&p);
        self.read(|tx| {
            let mut out = Vec::new();
            let mut put = |t: Def, k: &[u8], v: &[u8]| {
                out.push((t.name().to_string(), k.to_vec(), v.to_vec()))
            };
            if let Some(v) = get(&tx.open_table(SESSIONS)?, id.as_str().as_bytes())? {
                put(SESSIONS, id.as_str().as_bytes(), &v);
            }
            for t in SESSION_TABLES {
                for kv in tx.open_table(t)?.range(p.as_slice()..end.as_slice())? {
                    let (k, v) = kv?;
                    put(t, k.value(), v.value());
                }
            }
            let (shorts, _) = short_ids_from(&tx.open_table(MSGIDS)?, id, &p, usize::MAX)?;
            let table = tx.open_table(SHORTIDS)?;
            for s in &shorts {
                if let Some(v) = get(&table, &s[..])? {
                    put(SHORTIDS, &s[..], &v);
                }
            }
            let index = tx.open_table(BY_SESSION)?;
            let tables = [
                tx.open_table(OUTBOX)?,
                tx.open_table(DEAD)?,
                tx.open_table(DELIVERED)?,
            ];
            for kv in index.range(p.as_slice()..end.as_slice())? {
                let (k, _) = kv?;
                let Some((status, id)) = by_session_entry(k.value(), p.len()) else {
                    continue;
                };
                if let Some(v) = get(&tables[slot(status)], id)? {
                    put(table_of(status), id, &v);
                }
            }
            Ok(out)
        })
    }

    /// Takes in records from `export_session` (of another daemon), replacing
    /// whatever this store had of that session, in one write: a bad export
    /// changes nothing (check it first with `check_import`, before anything
    /// else of the session is replaced). Returns the pending deliveries,
    /// for the dispatcher.
    pub fn import_session(&self, id: &SessionId, records: &[Record]) -> Result<Vec<Delivery>> {
        self.room()?;
        let planned = plan_import(id, records)?;
        if planned.iter().any(|(t, ..)| t.name() == TRACKERS.name()) {
            self.trackers
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let skip = prefix(id).len();
        self.write(|tx| {
            remove_session(tx, id)?;
            let mut pending = Vec::new();
            // History loaded here from now on lists below what the session
            // brings (`BACKFILL_KEY`).
            let mut backfill = 0;
            let mut rows = Rows::open(tx)?;
            for (t, k, v, d) in planned {
                if let Some(d) = d {
                    rows.put(d.session.as_str(), d.status, k, v)?;
                    if d.status == DeliveryStatus::Pending {
                        pending.push(d);
                    }
                    continue;
                }
                if t.name() == MESSAGES.name() {
                    backfill = backfill.max(k.get(skip..).and_then(backfill_number).unwrap_or(0));
                }
                tx.open_table(t)?.insert(k, v)?;
            }
            let mut meta = tx.open_table(META)?;
            let here = get(&meta, BACKFILL_KEY)?.map_or(0, |v| be_u64(&v));
            meta.insert(BACKFILL_KEY, &here.max(backfill).to_be_bytes()[..])?;
            Ok(pending)
        })
    }

    /// Whether an export's records can be imported as session `id`: each
    /// one readable, and each one that session's (a record under another
    /// session's key would overwrite that session).
    pub fn check_import(id: &SessionId, records: &[Record]) -> std::result::Result<(), String> {
        plan_import(id, records)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    // ---- messages, events and their deliveries

    /// Applies `changes` atomically: each one that takes effect writes its
    /// events to the log and its deliveries to the outbox. Returns which
    /// changes took effect (their indices): their events are the ones
    /// produced. Not yet durable: call `flush` before acknowledging anything.
    pub fn commit(&self, changes: &[Change]) -> Result<Vec<usize>> {
        self.room()?;
        self.write(|tx| {
            let mut messages = tx.open_table(MESSAGES)?;
            let mut msgids = tx.open_table(MSGIDS)?;
            let mut chats = tx.open_table(CHATS)?;
            let mut rows = Rows::open(tx)?;
            let mut shortids = tx.open_table(SHORTIDS)?;
            let mut log = tx.open_table(EVENTS)?;
            let mut meta = tx.open_table(META)?;
            // One sequence orders messages of one second and the event log.
            let mut seq = get(&meta, SEQ_KEY)?.map_or(1, |v| be_u64(&v));
            let mut backfill = get(&meta, BACKFILL_KEY)?.map_or(0, |v| be_u64(&v));
            let mut applied = Vec::new();
            for (i, change) in changes.iter().enumerate() {
                match &change.op {
                    Op::Message { msg, history, .. } => {
                        let mut idk = prefix(&msg.session);
                        idk.extend_from_slice(msg.id.as_bytes());
                        // Stored already, with its events, or as history
                        // (loaded from the page, no events): the message
                        // itself arriving late makes its events now, once,
                        // and lists where live ones do, with what happened
                        // to it since kept.
                        let mut kept = None;
                        if let Some(was) = get(&msgids, &idk)? {
                            let p = prefix(&msg.session).len();
                            let old_order = was.get(p..).unwrap_or_default().to_vec();
                            if *history || backfill_number(&old_order).is_none() {
                                continue;
                            }
                            // Its row gone: deleted for me, or its chat
                            // cleared (the id stays to keep it so).
                            let Some(row) = messages.remove(was.as_slice())? else {
                                continue;
                            };
                            kept = Some(row.value().to_vec());
                            chats
                                .remove(chat_key(&msg.session, &msg.chat, &old_order).as_slice())?;
                        }
                        let order = if *history {
                            backfill += 1;
                            let below = format!("{:016x}{}", u64::MAX - backfill, msg.id);
                            order_suffix(msg.timestamp, 0, &below)
                        } else {
                            seq += 1;
                            order_suffix(msg.timestamp, seq - 1, &msg.id)
                        };
                        let key = msg_key(&msg.session, &order);
                        let row =
                            match kept.and_then(|r| serde_json::from_slice::<Message>(&r).ok()) {
                                Some(stored) => {
                                    serde_json::to_vec(&msg.clone().with_changes_of(stored))?
                                }
                                None => serde_json::to_vec(msg)?,
                            };
                        messages.insert(key.as_slice(), row.as_slice())?;
                        shortids.insert(
                            &Message::short_id(&msg.session, &msg.id)[..],
                            idk.as_slice(),
                        )?;
                        msgids.insert(idk.as_slice(), key.as_slice())?;
                        chats.insert(
                            chat_key(&msg.session, &msg.chat, &order).as_slice(),
                            &[][..],
                        )?;
                    }
                    Op::Ack {
                        session, id, ack, ..
                    } => {
                        // Acks only rise, except to failed (once).
                        let rises = change_stored(&msgids, &mut messages, session, id, |m| {
                            if m.ack == *ack || (m.ack > *ack && *ack != Ack::Failed) {
                                return false;
                            }
                            m.ack = *ack;
                            true
                        })?;
                        if !rises {
                            continue;
                        }
                    }
                    Op::Amend {
                        session,
                        id,
                        change,
                        ..
                    } => {
                        if !change_stored(&msgids, &mut messages, session, id, |m| m.amend(change))?
                        {
                            continue;
                        }
                    }
                    Op::Event(_) => {}
                }
                // It took effect: its events go into the event log.
                for e in change.op.events() {
                    log.insert(&seq.to_be_bytes()[..], serde_json::to_vec(e)?.as_slice())?;
                    seq += 1;
                }
                for d in &change.deliveries {
                    let row = serde_json::to_vec(d)?;
                    rows.put(d.session.as_str(), d.status, d.id.as_bytes(), &row)?;
                }
                applied.push(i);
            }
            meta.insert(SEQ_KEY, &seq.to_be_bytes()[..])?;
            meta.insert(BACKFILL_KEY, &backfill.to_be_bytes()[..])?;
            Ok(applied)
        })
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
        let mut end = p.clone();
        match before {
            Some(c) => end.extend_from_slice(c),
            None => end.push(0xff),
        }
        self.read(|tx| {
            let messages = tx.open_table(MESSAGES)?;
            let index = tx.open_table(if chat.is_some() { CHATS } else { MESSAGES })?;
            // One more than asked tells whether there is a next page.
            let mut page: Vec<(Vec<u8>, Message)> = Vec::new();
            for kv in index.range(p.as_slice()..end.as_slice())?.rev() {
                let (k, _) = kv?;
                let suffix = k.value()[p.len()..].to_vec();
                let mut msg_k = prefix(session);
                msg_k.extend_from_slice(&suffix);
                if let Some(m) = get_json(&messages, &msg_k)? {
                    page.push((suffix, m));
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
        })
    }

    pub fn message(&self, session: &SessionId, id: &str) -> Result<Option<Message>> {
        let mut idk = prefix(session);
        idk.extend_from_slice(id.as_bytes());
        self.read(|tx| {
            let Some(key) = get(&tx.open_table(MSGIDS)?, &idk)? else {
                return Ok(None);
            };
            get_json(&tx.open_table(MESSAGES)?, &key)
        })
    }

    /// Takes messages out of the history (deleted for this account):
    /// lists and lookups no longer show them. Their ids stay known, so a
    /// late report of one is not stored again. Answers how many went.
    pub fn forget_messages(&self, session: &SessionId, ids: &[&str]) -> Result<usize> {
        self.write(|tx| {
            let msgids = tx.open_table(MSGIDS)?;
            let mut messages = tx.open_table(MESSAGES)?;
            let mut chats = tx.open_table(CHATS)?;
            let p = prefix(session);
            let mut gone = 0;
            for id in ids {
                let mut idk = p.clone();
                idk.extend_from_slice(id.as_bytes());
                let Some(key) = get(&msgids, &idk)? else {
                    continue;
                };
                let Some(m) = get_json::<Message>(&messages, &key)? else {
                    continue;
                };
                messages.remove(key.as_slice())?;
                chats.remove(chat_key(session, &m.chat, &key[p.len()..]).as_slice())?;
                keep_forgotten(tx, session, m.timestamp)?;
                gone += 1;
            }
            Ok(gone)
        })
    }

    /// Marks a stored message starred or not; false when it is not stored.
    pub fn set_starred(&self, session: &SessionId, id: &str, on: bool) -> Result<bool> {
        self.write(|tx| {
            let msgids = tx.open_table(MSGIDS)?;
            let mut messages = tx.open_table(MESSAGES)?;
            let mut found = false;
            change_stored(&msgids, &mut messages, session, id, |m| {
                found = true;
                std::mem::replace(&mut m.starred, on) != on
            })?;
            Ok(found)
        })
    }

    /// Takes a chat's messages out of the history (the chat was cleared or
    /// deleted), as `forget_messages` does: those up to `until` (unix s)
    /// but the ones `kept` (WhatsApp kept them). Answers the ids that went.
    pub fn forget_chat(
        &self,
        session: &SessionId,
        chat: &str,
        kept: &std::collections::HashSet<String>,
        until: i64,
    ) -> Result<Vec<String>> {
        let mut p = prefix(session);
        p.extend_from_slice(chat.as_bytes());
        p.push(0);
        let end = prefix_end(&p);
        self.write(|tx| {
            let mut messages = tx.open_table(MESSAGES)?;
            let mut chats = tx.open_table(CHATS)?;
            let orders: Vec<Vec<u8>> = chats
                .range(p.as_slice()..end.as_slice())?
                .map(|kv| kv.map(|(k, _)| k.value()[p.len()..].to_vec()))
                .collect::<std::result::Result<_, _>>()?;
            let mut gone = vec![];
            for order in &orders {
                let key = msg_key(session, order);
                let Some(m) = get_json::<Message>(&messages, &key)? else {
                    continue;
                };
                // Newer than the clear: it came after, and stays.
                if kept.contains(&m.id) || m.timestamp > until {
                    continue;
                }
                messages.remove(key.as_slice())?;
                chats.remove(chat_key(session, chat, order).as_slice())?;
                keep_forgotten(tx, session, m.timestamp)?;
                gone.push(m.id);
            }
            Ok(gone)
        })
    }

    /// The oldest message stored of a chat.
    pub fn oldest_in_chat(&self, session: &SessionId, chat: &str) -> Result<Option<Message>> {
        let mut p = prefix(session);
        p.extend_from_slice(chat.as_bytes());
        p.push(0);
        let mut end = p.clone();
        end.push(0xff);
        self.read(|tx| {
            let index = tx.open_table(CHATS)?;
            let Some(kv) = index.range(p.as_slice()..end.as_slice())?.next() else {
                return Ok(None);
            };
            let (k, _) = kv?;
            let mut msg_k = prefix(session);
            msg_k.extend_from_slice(&k.value()[p.len()..]);
            get_json(&tx.open_table(MESSAGES)?, &msg_k)
        })
    }

    /// The newest message stored of each chat, in one read.
    pub fn newest_in_chats(
        &self,
        session: &SessionId,
        chats: &[&str],
    ) -> Result<Vec<Option<Message>>> {
        self.read(|tx| {
            let (index, messages) = (tx.open_table(CHATS)?, tx.open_table(MESSAGES)?);
            chats
                .iter()
                .map(|chat| {
                    let mut p = prefix(session);
                    p.extend_from_slice(chat.as_bytes());
                    p.push(0);
                    let mut end = p.clone();
                    end.push(0xff);
                    let Some(kv) = index.range(p.as_slice()..end.as_slice())?.next_back() else {
                        return Ok(None);
                    };
                    let (k, _) = kv?;
                    let mut msg_k = prefix(session);
                    msg_k.extend_from_slice(&k.value()[p.len()..]);
                    get_json(&messages, &msg_k)
                })
                .collect()
        })
    }

    /// Whether this message is stored.
    pub fn has_message(&self, session: &SessionId, id: &str) -> Result<bool> {
        let mut idk = prefix(session);
        idk.extend_from_slice(id.as_bytes());
        Ok(self.get_in(MSGIDS, &idk)?.is_some())
    }

    /// The paging cursor that continues after this message (see `messages`).
    /// A `before` cursor below which lies every message written at or
    /// before `ts` (unix s), whichever second's order they have.
    pub fn cursor_through(ts: i64) -> Vec<u8> {
        order_suffix(ts.saturating_add(1), 0, "")
    }

    pub fn message_cursor(&self, session: &SessionId, id: &str) -> Result<Option<Vec<u8>>> {
        let p = prefix(session);
        let mut idk = p.clone();
        idk.extend_from_slice(id.as_bytes());
        Ok(self.get_in(MSGIDS, &idk)?.map(|k| k[p.len()..].to_vec()))
    }

    /// A message by its short id (`Message::short_id`): session and message.
    pub fn message_by_short_id(&self, short: &[u8]) -> Result<Option<Message>> {
        self.read(|tx| {
            let Some(idk) = get(&tx.open_table(SHORTIDS)?, short)? else {
                return Ok(None);
            };
            let Some(key) = get(&tx.open_table(MSGIDS)?, &idk)? else {
                return Ok(None);
            };
            get_json(&tx.open_table(MESSAGES)?, &key)
        })
    }

    // ---- status callbacks, templates, uploads: small JSON records

    /// A message's status callback, and the delivery of the status it is
    /// first told (`first`), in one write: a flush between two writes could
    /// keep the callback, which then holds that status told, without it.
    pub fn put_callback(
        &self,
        session: &SessionId,
        msg_id: &str,
        hook: &Value,
        first: Option<&Delivery>,
    ) -> Result<()> {
        self.room()?;
        let mut k = prefix(session);
        k.extend_from_slice(msg_id.as_bytes());
        let (hook, first) = (
            serde_json::to_vec(hook)?,
            first
                .map(|d| Ok::<_, serde_json::Error>((d, serde_json::to_vec(d)?)))
                .transpose()?,
        );
        self.write(|tx| {
            tx.open_table(CALLBACKS)?
                .insert(k.as_slice(), hook.as_slice())?;
            if let Some((d, row)) = &first {
                Rows::open(tx)?.put(d.session.as_str(), d.status, d.id.as_bytes(), row)?;
            }
            Ok(())
        })
    }

    /// Forgets status callbacks kept before `before` (unix s, their
    /// `meta.registered_at`): WhatsApp gives up on a message long before.
    /// Those from before the time was kept stay.
    pub fn prune_callbacks(&self, before: i64) -> Result<()> {
        self.remove_where(CALLBACKS, &[], None, |_, v| {
            serde_json::from_slice::<Value>(v).ok().is_some_and(|h| {
                h["meta"]["registered_at"]
                    .as_str()
                    .and_then(|t| t.parse::<i64>().ok())
                    .is_some_and(|t| t < before)
            })
        })
    }

    pub fn callback(&self, session: &SessionId, msg_id: &str) -> Result<Option<Value>> {
        let mut k = prefix(session);
        k.extend_from_slice(msg_id.as_bytes());
        self.get_json_in(CALLBACKS, &k)
    }

    /// Keeps what a send asked to be told back with its message's acks,
    /// under the key it planned (the page names the message after it).
    pub fn put_tracker(
        &self,
        session: &SessionId,
        planned: &str,
        tracker: &str,
        at: i64,
    ) -> Result<()> {
        self.room()?;
        let mut k = prefix(session);
        k.extend_from_slice(planned.as_bytes());
        let mut v = (at.max(0) as u64).to_be_bytes().to_vec();
        v.extend_from_slice(tracker.as_bytes());
        self.insert_in(TRACKERS, &k, &v)?;
        self.trackers
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The tracker of the message `msg_id` (`true_<chat>_<key>[_<by>]`)
    /// was sent with, if any.
    pub fn tracker(&self, session: &SessionId, msg_id: &str) -> Result<Option<String>> {
        if !self.trackers.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        // Only our own messages were planned here.
        let Some(planned) = msg_id
            .strip_prefix("true_")
            .and_then(|rest| rest.split('_').nth(1))
        else {
            return Ok(None);
        };
        let mut k = prefix(session);
        k.extend_from_slice(planned.as_bytes());
        Ok(self.get_in(TRACKERS, &k)?.and_then(|v| {
            v.get(8..)
                .and_then(|t| std::str::from_utf8(t).ok())
                .map(String::from)
        }))
    }

    /// Forgets trackers kept before `before` (unix s); how many went.
    /// Found in a read (writers go on meanwhile), removed in chunks: the
    /// table is keyed by message, not time, and a month of it may be big.
    pub fn prune_trackers(&self, before: i64) -> Result<usize> {
        const CHUNK: usize = 10_000;
        let doomed = self.read(|tx| {
            let mut doomed = Vec::new();
            for kv in tx.open_table(TRACKERS)?.iter()? {
                let (k, v) = kv?;
                let at = v.value().get(..8).map_or(0, be_u64) as i64;
                if at < before {
                    doomed.push(k.value().to_vec());
                }
            }
            Ok(doomed)
        })?;
        for chunk in doomed.chunks(CHUNK) {
            self.write(|tx| {
                let mut t = tx.open_table(TRACKERS)?;
                for k in chunk {
                    t.remove(k.as_slice())?;
                }
                Ok(())
            })?;
        }
        Ok(doomed.len())
    }

    pub fn put_menu(
        &self,
        session: &SessionId,
        chat: &str,
        menu: &crate::domain::Menu,
    ) -> Result<()> {
        let mut k = prefix(session);
        k.extend_from_slice(chat.as_bytes());
        self.insert_in(MENUS, &k, &serde_json::to_vec(menu)?)
    }

    pub fn menu(&self, session: &SessionId, chat: &str) -> Result<Option<crate::domain::Menu>> {
        let mut k = prefix(session);
        k.extend_from_slice(chat.as_bytes());
        self.get_json_in(MENUS, &k)
    }

    pub fn delete_menu(&self, session: &SessionId, chat: &str) -> Result<bool> {
        let mut k = prefix(session);
        k.extend_from_slice(chat.as_bytes());
        self.remove_in(MENUS, &k)
    }

    pub fn delete_upload(&self, id: &str) -> Result<bool> {
        self.remove_in(UPLOADS, id.as_bytes())
    }

    pub fn put_template(&self, name: &str, t: &Value) -> Result<()> {
        self.room()?;
        self.insert_in(TEMPLATES, name.as_bytes(), &serde_json::to_vec(t)?)
    }

    pub fn template(&self, name: &str) -> Result<Option<Value>> {
        self.get_json_in(TEMPLATES, name.as_bytes())
    }

    pub fn templates(&self) -> Result<Vec<Value>> {
        self.read(|tx| all_json(&tx.open_table(TEMPLATES)?, "templates"))
    }

    pub fn delete_template(&self, name: &str) -> Result<bool> {
        self.remove_in(TEMPLATES, name.as_bytes())
    }

    // ---- scoped API keys

    pub fn put_key(&self, k: &ApiKey) -> Result<()> {
        self.room()?;
        self.insert_in(KEYS, k.hash.as_bytes(), &serde_json::to_vec(k)?)
    }

    pub fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        self.get_json_in(KEYS, hash.as_bytes())
    }

    pub fn keys(&self) -> Result<Vec<ApiKey>> {
        let mut all: Vec<ApiKey> = self.read(|tx| all_json(&tx.open_table(KEYS)?, "keys"))?;
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    /// Removes the key with this id and remembers that it was revoked;
    /// returns it if there was one.
    pub fn delete_key(&self, id: &str) -> Result<Option<ApiKey>> {
        self.write(|tx| {
            let Some(k) = remove_key_by_id(tx, id)? else {
                return Ok(None);
            };
            tx.open_table(KEYS_REVOKED)?
                .insert(id.as_bytes(), &crate::domain::now_ms().to_be_bytes()[..])?;
            Ok(Some(k))
        })
    }

    /// Every key and every revocation, as peers exchange them.
    pub fn key_set(&self) -> Result<KeySet> {
        let revoked = self.read(|tx| {
            let mut revoked = std::collections::BTreeMap::new();
            for kv in tx.open_table(KEYS_REVOKED)?.iter()? {
                let (k, v) = kv?;
                revoked.insert(
                    String::from_utf8_lossy(k.value()).into_owned(),
                    be_u64(v.value()) as i64,
                );
            }
            Ok(revoked)
        })?;
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
            changed += self.write(|tx| {
                let mut revoked = tx.open_table(KEYS_REVOKED)?;
                let newly = revoked.get(id.as_bytes())?.is_none();
                if newly {
                    revoked.insert(id.as_bytes(), &at.to_be_bytes()[..])?;
                }
                drop(revoked);
                let removed = remove_key_by_id(tx, id)?.is_some();
                Ok(usize::from(newly) + usize::from(removed))
            })?;
        }
        let mine = self.keys()?;
        for k in &theirs.keys {
            if self.get_in(KEYS_REVOKED, k.id.as_bytes())?.is_some() {
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
        self.write(|tx| {
            let mut t = tx.open_table(KEYS)?;
            if t.remove(old_hash.as_bytes())?.is_none() {
                return Ok(false);
            }
            t.insert(new.hash.as_bytes(), serde_json::to_vec(new)?.as_slice())?;
            Ok(true)
        })
    }

    pub fn put_upload(&self, id: &str, meta: &Value) -> Result<()> {
        self.room()?;
        self.insert_in(UPLOADS, id.as_bytes(), &serde_json::to_vec(meta)?)
    }

    pub fn upload(&self, id: &str) -> Result<Option<Value>> {
        self.get_json_in(UPLOADS, id.as_bytes())
    }

    /// The uploads whose ids start with `p`, with their records.
    pub fn uploads_starting(&self, p: &str) -> Result<Vec<(String, Value)>> {
        let end = prefix_end(p.as_bytes());
        self.read(|tx| {
            let mut out = Vec::new();
            for kv in tx
                .open_table(UPLOADS)?
                .range(p.as_bytes()..end.as_slice())?
            {
                let (k, v) = kv?;
                if let Ok(meta) = serde_json::from_slice(v.value()) {
                    out.push((String::from_utf8_lossy(k.value()).into_owned(), meta));
                }
            }
            Ok(out)
        })
    }

    // ---- the event log

    /// Up to `limit` logged events after `after`, in order.
    pub fn events_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::domain::LoggedEvent>> {
        let start = after.saturating_add(1).to_be_bytes();
        self.read(|tx| {
            let mut out = Vec::new();
            for kv in tx.open_table(EVENTS)?.range(&start[..]..)? {
                if out.len() == limit {
                    break;
                }
                let (k, v) = kv?;
                // One this version cannot read (written by a newer one):
                // passed over, not a wall every reader stops at.
                match serde_json::from_slice(v.value()) {
                    Ok(event) => out.push(crate::domain::LoggedEvent {
                        seq: be_u64(k.value()),
                        event,
                    }),
                    Err(e) => tracing::debug!("an unreadable event passed over: {e}"),
                }
            }
            Ok(out)
        })
    }

    /// The place of the newest logged event (0 if none).
    pub fn last_event_seq(&self) -> Result<u64> {
        self.read(|tx| {
            Ok(tx
                .open_table(EVENTS)?
                .last()?
                .map_or(0, |(k, _)| be_u64(k.value())))
        })
    }

    /// Everything at or before this place was pruned (0: nothing).
    pub fn events_pruned_through(&self) -> Result<u64> {
        Ok(self.get_in(META, PRUNED_KEY)?.map_or(0, |v| be_u64(&v)))
    }

    /// Drops logged events older than `before_ms`; returns how many. In
    /// writes of a bounded size: a day of events may be millions.
    pub fn prune_events(&self, before_ms: i64) -> Result<usize> {
        const CHUNK: usize = 10_000;
        let mut n = 0;
        loop {
            let removed = self.write(|tx| {
                let mut log = tx.open_table(EVENTS)?;
                let mut doomed = Vec::new();
                // Only its time is read: an event of a kind this version
                // does not know is pruned as any other (one without a
                // time goes too: no reader can use it).
                #[derive(serde::Deserialize)]
                struct At {
                    timestamp: i64,
                }
                for kv in log.iter()?.take(CHUNK) {
                    let (k, v) = kv?;
                    if serde_json::from_slice::<At>(v.value())
                        .is_ok_and(|ev| ev.timestamp >= before_ms)
                    {
                        break;
                    }
                    doomed.push(k.value().to_vec());
                }
                for k in &doomed {
                    log.remove(k.as_slice())?;
                }
                if let Some(k) = doomed.last() {
                    tx.open_table(META)?.insert(PRUNED_KEY, k.as_slice())?;
                }
                Ok(doomed.len())
            })?;
            n += removed;
            if removed < CHUNK {
                return Ok(n);
            }
        }
    }

    /// Timestamp of the newest stored message: where catch-up starts.
    /// Messages taken out of the history count: they were had.
    pub fn last_message_ts(&self, session: &SessionId) -> Result<Option<i64>> {
        let p = prefix(session);
        let end = prefix_end(&p);
        self.read(|tx| {
            let t = tx.open_table(MESSAGES)?;
            let stored = match t.range(p.as_slice()..end.as_slice())?.next_back() {
                Some(kv) => {
                    let (k, _) = kv?;
                    k.value()
                        .get(p.len()..p.len() + 8)
                        .map(|b| be_u64(b) as i64)
                }
                None => None,
            };
            let forgotten = get(&tx.open_table(FORGOTTEN)?, &p)?.map(|v| be_u64(&v) as i64);
            Ok(stored.max(forgotten))
        })
    }

    // ---- outbox

    /// The greatest id of a pending delivery, if any.
    pub fn last_pending_id(&self) -> Result<Option<String>> {
        self.read(|tx| {
            Ok(tx
                .open_table(OUTBOX)?
                .last()?
                .map(|(k, _)| String::from_utf8_lossy(k.value()).into_owned()))
        })
    }

    /// Each receiver URL with pending deliveries, with its oldest one's id:
    /// where the dispatcher starts reading that receiver's backlog.
    pub fn pending_receivers(&self) -> Result<Vec<(String, String)>> {
        self.read(|tx| {
            let mut first: std::collections::HashMap<String, String> = Default::default();
            for kv in tx.open_table(OUTBOX)?.iter()? {
                let (k, v) = kv?;
                // One this version cannot read is left for one that can,
                // not a reason to refuse to start.
                let Ok(h) = serde_json::from_slice::<Head>(v.value()) else {
                    continue;
                };
                if h.status == DeliveryStatus::Pending && !first.contains_key(&h.hook.url) {
                    first.insert(h.hook.url, String::from_utf8_lossy(k.value()).into_owned());
                }
            }
            Ok(first.into_iter().collect())
        })
    }

    /// Up to `limit` pending deliveries to `url`, oldest first from id `from`
    /// on and below id `until`, leaving out those `held` (already in
    /// memory); and the id to go on from, None when the outbox's end was
    /// reached.
    pub fn pending_for(
        &self,
        url: &str,
        from: &str,
        until: &str,
        limit: usize,
        held: impl Fn(&str) -> bool,
    ) -> Result<(Vec<Delivery>, Option<String>)> {
        self.read(|tx| {
            let mut out = Vec::new();
            for kv in tx.open_table(OUTBOX)?.range(from.as_bytes()..)? {
                let (k, v) = kv?;
                let id = String::from_utf8_lossy(k.value());
                if out.len() == limit || *id >= *until {
                    return Ok((out, Some(id.into_owned())));
                }
                // The receiver and status first: most entries are another's.
                // One this version cannot read is passed over: it would
                // stop the receiver's whole backlog here.
                let Ok(h) = serde_json::from_slice::<Head>(v.value()) else {
                    continue;
                };
                if h.status == DeliveryStatus::Pending && h.hook.url == url && !held(&id) {
                    match serde_json::from_slice(v.value()) {
                        Ok(d) => out.push(d),
                        Err(e) => tracing::warn!(delivery = %id, "an unreadable delivery passed over: {e}"),
                    }
                }
            }
            Ok((out, None))
        })
    }

    /// Whether a delivery still waits in the outbox (not delivered, not dead).
    pub fn is_pending(&self, id: &str) -> Result<bool> {
        Ok(self.get_in(OUTBOX, id.as_bytes())?.is_some())
    }

    /// How many deliveries wait in the outbox: (pending, dead).
    pub fn outbox_counts(&self) -> Result<(u64, u64)> {
        use redb::ReadableTableMetadata;
        self.read(|tx| Ok((tx.open_table(OUTBOX)?.len()?, tx.open_table(DEAD)?.len()?)))
    }

    /// Why the store stopped taking writes, if it did (a commit failed):
    /// only a restart reopens it.
    pub fn broken(&self) -> Option<String> {
        self.pending.broken.get().cloned()
    }

    /// A read that touches the database: fails when the store is broken
    /// or refuses new data for want of space.
    pub fn check(&self) -> Result<()> {
        self.pending.usable()?;
        self.get_in(META, b"check")?;
        self.room()
    }

    /// Writes a delivery into its state's table.
    pub fn put_delivery(&self, d: &Delivery) -> Result<()> {
        let row = serde_json::to_vec(d)?;
        self.write(|tx| Rows::open(tx)?.put(d.session.as_str(), d.status, d.id.as_bytes(), &row))
    }

    /// A dead delivery made pending again for a fresh round of attempts,
    /// read and written in one transaction: two retries at once requeue it
    /// once. None when it is not a dead one in the outbox.
    pub fn requeue_dead(&self, id: &str, now_ms: i64) -> Result<Option<Delivery>> {
        self.write(|tx| {
            let mut rows = Rows::open(tx)?;
            let Some((_, row)) = rows.take(DeliveryStatus::Dead, id.as_bytes())? else {
                return Ok(None);
            };
            let mut d = serde_json::from_slice::<Delivery>(&row)?;
            d.status = DeliveryStatus::Pending;
            d.attempts = 0;
            d.next_at = now_ms;
            d.last_error = None;
            rows.put(
                d.session.as_str(),
                d.status,
                id.as_bytes(),
                &serde_json::to_vec(&d)?,
            )?;
            Ok(Some(d))
        })
    }

    /// Takes a pending delivery out of the outbox with nothing kept of it
    /// (its session is gone).
    pub fn drop_pending(&self, id: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(Rows::open(tx)?
                .take(DeliveryStatus::Pending, id.as_bytes())?
                .is_some())
        })
    }

    /// Records attempts' outcomes in one write, each as its status says: a
    /// pending one back in the outbox (its next attempt), a delivered or
    /// dead one moved out of it. One write for many is what lets a busy
    /// receiver's settled attempts cost a commit per batch, not each. A
    /// delivery whose session was deleted meanwhile only leaves the outbox;
    /// the answer is false for it.
    pub fn record_attempts(&self, ds: &[Delivery]) -> Result<Vec<bool>> {
        let vs = ds
            .iter()
            .map(serde_json::to_vec)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.write(|tx| {
            let sessions = tx.open_table(SESSIONS)?;
            let mut rows = Rows::open(tx)?;
            let mut kept = Vec::with_capacity(ds.len());
            // Each session's creation time, read once per batch (a batch is
            // mostly one session's), and only that field of its record.
            #[derive(serde::Deserialize)]
            struct Born {
                #[serde(default)]
                created_at: i64,
            }
            let mut born: std::collections::HashMap<&str, Option<i64>> = Default::default();
            for (d, v) in ds.iter().zip(&vs) {
                let (id, v) = (d.id.as_bytes(), v.as_slice());
                // The session it was made for: not one deleted while the
                // attempt was under way and made again under its id (its
                // deliveries went with it).
                let created = match born.get(d.session.as_str()) {
                    Some(c) => *c,
                    None => {
                        let c = get(&sessions, d.session.as_str().as_bytes())?
                            .and_then(|r| serde_json::from_slice::<Born>(&r).ok())
                            .map(|b| b.created_at);
                        born.insert(d.session.as_str(), c);
                        c
                    }
                };
                let alive = created.is_some_and(|c| c <= d.created_at / 1000);
                kept.push(alive);
                let session = d.session.as_str();
                if alive && d.status == DeliveryStatus::Pending {
                    rows.put(session, d.status, id, v)?;
                    continue;
                }
                rows.remove(session, DeliveryStatus::Pending, id)?;
                if alive {
                    rows.put(session, d.status, id, v)?;
                }
            }
            Ok(kept)
        })
    }

    pub fn delivery(&self, id: &str) -> Result<Option<Delivery>> {
        for t in DELIVERY_TABLES {
            if let Some(d) = self.get_json_in(t, id.as_bytes())? {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }

    /// Newest first, the session's deliveries in state `status` that
    /// `keep` takes, at most `limit`.
    pub fn deliveries(
        &self,
        session: &SessionId,
        status: DeliveryStatus,
        limit: usize,
        keep: impl Fn(&Delivery) -> bool,
    ) -> Result<Vec<Delivery>> {
        // By the index: a quiet session's page does not read back a busy
        // machine's log.
        let from = by_session_key(session.as_str(), status, b"");
        let to = prefix_end(&from);
        self.read(|tx| {
            let mut out = Vec::new();
            if limit == 0 {
                return Ok(out);
            }
            let table = tx.open_table(table_of(status))?;
            for kv in tx
                .open_table(BY_SESSION)?
                .range(from.as_slice()..to.as_slice())?
                .rev()
            {
                let (k, _) = kv?;
                let Some(v) = get(&table, &k.value()[from.len()..])? else {
                    continue;
                };
                let d: Delivery = serde_json::from_slice(&v)?;
                if &d.session == session && keep(&d) {
                    out.push(d);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Drops deliveries in state `status` (delivered or dead) whose ids
    /// sort before `cutoff` (ids are ULIDs: older). In writes of a bounded
    /// size, as `prune_events`.
    pub fn prune_deliveries(&self, status: DeliveryStatus, cutoff: &str) -> Result<usize> {
        const CHUNK: usize = 10_000;
        let mut n = 0;
        loop {
            let removed = self.write(|tx| {
                let mut rows = Rows::open(tx)?;
                let doomed = rows
                    .table(status)
                    .range(..cutoff.as_bytes())?
                    .take(CHUNK)
                    .map(|kv| Ok(kv?.0.value().to_vec()))
                    .collect::<Result<Vec<_>>>()?;
                for id in &doomed {
                    rows.take(status, id)?;
                }
                Ok(doomed.len())
            })?;
            n += removed;
            if removed < CHUNK {
                return Ok(n);
            }
        }
    }

    // ---- idempotency keys

    /// Reserves `key` for a send of the message `msg_id`, or tells what
    /// an earlier request with it did. A reservation remembers its message
    /// id: one whose send never finished (a crash, a browser that died
    /// mid-call) is taken over after `busy_s` seconds (longer than a send
    /// may take) under the same id.
    // Each is one of the reservation's own facts; a struct of them would
    // be built at its one caller only.
    #[allow(clippy::too_many_arguments)]
    pub fn idempotency_begin(
        &self,
        session: &SessionId,
        key: &str,
        now: i64,
        ttl: i64,
        msg_id: &str,
        fingerprint: &str,
        busy_s: i64,
    ) -> Result<Reservation> {
        self.room()?;
        let mut k = prefix(session);
        k.extend_from_slice(key.as_bytes());
        self.write(|tx| {
            let mut t = tx.open_table(IDEMPOTENCY)?;
            let mut id = msg_id.to_string();
            let mut lapsed = false;
            if let Some(v) = get_json::<Value>(&t, &k)? {
                let age = now - v["at"].as_i64().unwrap_or(0);
                let planned = v["id"].as_str().map(String::from);
                if let Some(settled) = settled_key(&v, now, ttl, fingerprint) {
                    return Ok(settled);
                }
                if !v["response"].is_null() {
                    // Answered, but long ago: a new send.
                } else if age < busy_s {
                    return Ok(Reservation::Busy(planned));
                } else {
                    lapsed = true;
                    id = planned.unwrap_or(id);
                }
            }
            let mark =
                serde_json::json!({"at": now, "response": null, "id": id, "fp": fingerprint});
            t.insert(k.as_slice(), serde_json::to_vec(&mark)?.as_slice())?;
            Ok(if lapsed {
                Reservation::TakenOver(id)
            } else {
                Reservation::New(id)
            })
        })
    }

    /// What an earlier request with `key` settled, without reserving:
    /// its answer, or that it was another message; else, for the same
    /// message still unanswered, the WhatsApp id it was to go out under
    /// (`Busy`). A repeat is answered before it costs anything (a media
    /// download, a place in the queue).
    pub fn idempotency_settled(
        &self,
        session: &SessionId,
        key: &str,
        now: i64,
        ttl: i64,
        fingerprint: &str,
    ) -> Result<Option<Reservation>> {
        let mut k = prefix(session);
        k.extend_from_slice(key.as_bytes());
        Ok(self.get_json_in::<Value>(IDEMPOTENCY, &k)?.and_then(|v| {
            settled_key(&v, now, ttl, fingerprint).or_else(|| {
                let planned = v["id"].as_str().filter(|_| v["response"].is_null());
                planned.map(|p| Reservation::Busy(Some(p.to_string())))
            })
        }))
    }

    /// When a key's send was reserved (unix s), while it is unsettled.
    pub fn idempotency_reserved_at(&self, session: &SessionId, key: &str) -> Result<Option<i64>> {
        let mut k = prefix(session);
        k.extend_from_slice(key.as_bytes());
        Ok(self
            .get_json_in::<Value>(IDEMPOTENCY, &k)?
            .filter(|v| v["response"].is_null())
            .and_then(|v| v["at"].as_i64()))
    }

    /// The message ids keys of `session` were answered with: a send found
    /// by what it is must not take a message another key already named.
    pub fn idempotency_answered_ids(
        &self,
        session: &SessionId,
    ) -> Result<std::collections::HashSet<String>> {
        let p = prefix(session);
        let end = prefix_end(&p);
        self.read(|tx| {
            let mut ids = std::collections::HashSet::new();
            for kv in tx
                .open_table(IDEMPOTENCY)?
                .range(p.as_slice()..end.as_slice())?
            {
                let v: Value = serde_json::from_slice(kv?.1.value()).unwrap_or(Value::Null);
                if let Some(id) = v["response"]["id"].as_str() {
                    ids.insert(id.to_string());
                }
            }
            Ok(ids)
        })
    }

    pub fn idempotency_finish(
        &self,
        session: &SessionId,
        key: &str,
        fingerprint: &str,
        now: i64,
        response: Option<&Value>,
    ) -> Result<()> {
        let mut k = prefix(session);
        k.extend_from_slice(key.as_bytes());
        match response {
            Some(r) => self.insert_in(
                IDEMPOTENCY,
                &k,
                &serde_json::to_vec(
                    &serde_json::json!({"at": now, "response": r, "fp": fingerprint}),
                )?,
            ),
            // The send failed: the key may be used again.
            None => self.remove_in(IDEMPOTENCY, &k).map(drop),
        }
    }

    /// Removes idempotency keys past their time: answers older than `ttl`
    /// seconds, reservations abandoned for as long (they remember the
    /// message id a retry must send under). Returns how many.
    pub fn sweep_idempotency(&self, now: i64, ttl: i64) -> Result<usize> {
        let mut n = 0;
        self.write(|tx| {
            tx.open_table(IDEMPOTENCY)?.retain(|_, raw| {
                let v: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
                let keep = now - v["at"].as_i64().unwrap_or(0) < ttl;
                n += usize::from(!keep);
                keep
            })?;
            Ok(())
        })?;
        Ok(n)
    }

    /// Makes every write so far durable (otherwise within `FLUSH_EVERY`).
    pub async fn flush(&self) -> Result<()> {
        let (db, pending) = (self.db.clone(), self.pending.clone());
        tokio::task::spawn_blocking(move || durable(&db, &pending))
            .await
            .map_err(|e| StoreError::Flush(e.to_string()))?
    }
}

/// Whether commits wait to be made durable, and the lock that makes one
/// durable commit at a time: a flush that finds nothing to do has to know
/// that the commit that took its writes has finished.
#[derive(Default)]
struct Pending {
    dirty: AtomicBool,
    flushing: std::sync::Mutex<()>,
    /// A commit failed: redb takes no more writes until the database is
    /// reopened (a restart, which also repairs it). Reported by `check`.
    broken: std::sync::OnceLock<String>,
}

impl Pending {
    fn failed(&self, e: StoreError) -> StoreError {
        let why = format!("a write to the database failed ({e}); restart the daemon to reopen it");
        tracing::error!("{why}");
        self.broken.get_or_init(|| why);
        e
    }

    fn usable(&self) -> Result<()> {
        match self.broken.get() {
            Some(why) => Err(StoreError::Db(why.clone())),
            None => Ok(()),
        }
    }
}

/// Runs `f`, which may block, without holding up the other tasks of a
/// multi-threaded tokio runtime (elsewhere, as is). This hands the worker's
/// thread to the blocking pool and starts another in its place; browsers
/// are launched from a thread of their own (`session::browser`), so the
/// pool's threads may retire.
fn off_the_workers<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// A durable commit, if anything was committed since the last one: it makes
/// the commits before it durable too.
fn durable(db: &Database, p: &Pending) -> Result<()> {
    let _one = p.flushing.lock().unwrap_or_else(|e| e.into_inner());
    if !p.dirty.swap(false, Relaxed) {
        return Ok(());
    }
    let res = began(p, db.begin_write()).and_then(|tx| tx.commit().map_err(|e| p.failed(e.into())));
    if res.is_err() {
        p.dirty.store(true, Relaxed);
    }
    res
}

/// A write transaction begun; redb refuses every one after a failed write
/// to the file (even one inside a transaction that was then dropped),
/// which only reopening mends: the store is broken then.
fn began(
    p: &Pending,
    tx: std::result::Result<WriteTransaction, redb::TransactionError>,
) -> Result<WriteTransaction> {
    tx.map_err(|e| match e {
        redb::TransactionError::Storage(redb::StorageError::PreviousIo) => p.failed(e.into()),
        e => e.into(),
    })
}

/// Removes the key of this id, found in the same write (a rotation just
/// before has put it under another hash, which must go too).
fn remove_key_by_id(tx: &redb::WriteTransaction, id: &str) -> Result<Option<ApiKey>> {
    let mut keys = tx.open_table(KEYS)?;
    let mut found = None;
    for kv in keys.iter()? {
        let (_, v) = kv?;
        if let Ok(k) = serde_json::from_slice::<ApiKey>(v.value())
            && k.id == id
        {
            found = Some(k);
            break;
        }
    }
    if let Some(k) = &found {
        keys.remove(k.hash.as_bytes())?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Message, Sender};

    /// A stopped session's record, made at `created_at` (unix s).
    fn stopped(id: &str, created_at: i64) -> SessionRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "created_at": created_at, "updated_at": created_at,
            "should_run": false, "status": "STOPPED",
        }))
        .unwrap()
    }

    fn msg(session: &SessionId, id: &str, ts: i64) -> Op {
        let m = Message {
            id: id.into(),
            session: session.clone(),
            chat: "15551234567@c.us".into(),
            chat_name: None,
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
                saved: None,
            },
            reply_to: None,
            quoted: None,
            media: None,
            location: None,
            choice: None,
            vcards: None,
            edited_at: None,
            edits: vec![],
            revoked: false,
            starred: false,
            reactions: vec![],
            poll: None,
            event: None,
            group_invite: None,
            mentions: vec![],
            forwarded: false,
            forwarding_score: 0,
            view_once: false,
            gif: false,
        };
        let events = m.events();
        Op::Message {
            msg: m,
            events,
            history: false,
        }
    }

    #[test]
    fn history_loaded_later_lists_before_what_was_stored_of_its_second() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let chat = Some("15551234567@c.us");
        let change = |op| Change {
            op,
            deliveries: vec![],
        };
        // An album of five within one second: three stored first, then
        // the history before them, loaded as a reader pages back (newest
        // first, as a batch is committed).
        let live: Vec<_> = ["P3", "P4", "P5"]
            .iter()
            .map(|id| change(msg(&s, id, 100)))
            .collect();
        store.commit(&live).unwrap();
        let history = |id: &str| {
            let Op::Message { msg: m, events, .. } = msg(&s, id, 100) else {
                unreachable!()
            };
            change(Op::Message {
                msg: m,
                events,
                history: true,
            })
        };
        let (first, next) = store.messages(&s, chat, 2, None).unwrap();
        let ids = |v: &[Message]| v.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&first), ["P5", "P4"]);
        store.commit(&[history("P2"), history("P1")]).unwrap();
        let (rest, _) = store.messages(&s, chat, 10, next.as_deref()).unwrap();
        assert_eq!(
            ids(&rest),
            ["P3", "P2", "P1"],
            "none skipped, none out of order"
        );
        store.commit(&[history("P0")]).unwrap();
        let (all, _) = store.messages(&s, chat, 10, None).unwrap();
        assert_eq!(ids(&all), ["P5", "P4", "P3", "P2", "P1", "P0"]);
        // Moved to another store, whose own history came later: what loads
        // there still lists below what the session brought.
        let elsewhere = tempfile::tempdir().unwrap();
        let there = Store::open(elsewhere.path()).unwrap();
        there
            .import_session(&s, &store.export_session(&s).unwrap())
            .unwrap();
        there.commit(&[history("Pz")]).unwrap();
        let (all, _) = there.messages(&s, chat, 10, None).unwrap();
        assert_eq!(ids(&all), ["P5", "P4", "P3", "P2", "P1", "P0", "Pz"]);
        assert_eq!(
            store
                .oldest_in_chat(&s, "15551234567@c.us")
                .unwrap()
                .unwrap()
                .id,
            "P0"
        );
    }

    /// A message loaded as history before the page's own report of it was
    /// stored (a driver slow to take it): the report makes its events then,
    /// once, and what happened to the row since is kept.
    #[test]
    fn a_message_stored_as_history_first_makes_its_events_when_it_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let change = |op| Change {
            op,
            deliveries: vec![],
        };
        // The message as a history load stores it: no events.
        let as_history = |id: &str, ts: i64| {
            let Op::Message { msg: m, .. } = msg(&s, id, ts) else {
                unreachable!()
            };
            change(Op::Message {
                msg: m,
                events: vec![],
                history: true,
            })
        };
        assert_eq!(store.commit(&[as_history("late", 100)]).unwrap(), vec![0]);
        store
            .commit(&[change(Op::Ack {
                session: s.clone(),
                id: "late".into(),
                ack: Ack::Read,
                event: Event::new(
                    &s,
                    crate::domain::EventKind::MessageAck,
                    serde_json::json!({}),
                ),
            })])
            .unwrap();
        // The page's report: taken, with its events; a repeat is not.
        let live = || change(msg(&s, "late", 100));
        assert!(!live().op.events().is_empty());
        assert_eq!(store.commit(&[live()]).unwrap(), vec![0]);
        assert!(store.commit(&[live()]).unwrap().is_empty());
        // Listed once, read as it was marked since.
        let (all, _) = store
            .messages(&s, Some("15551234567@c.us"), 10, None)
            .unwrap();
        assert_eq!(
            all.iter()
                .map(|m| (m.id.as_str(), m.ack))
                .collect::<Vec<_>>(),
            [("late", Ack::Read)]
        );
        // A history load of it again changes nothing.
        assert!(store.commit(&[as_history("late", 100)]).unwrap().is_empty());

        // Stored as history, then deleted for me: its report after does not
        // bring it back (nor make its events).
        assert_eq!(store.commit(&[as_history("gone", 101)]).unwrap(), vec![0]);
        assert_eq!(store.forget_messages(&s, &["gone"]).unwrap(), 1);
        assert!(
            store
                .commit(&[change(msg(&s, "gone", 101))])
                .unwrap()
                .is_empty()
        );
        assert!(store.message(&s, "gone").unwrap().is_none());
    }

    /// Opens the store at `dir` once the last one there let go of it (its
    /// flusher thread holds the database a moment after the drop).
    fn open_when_free(dir: &Path) -> Store {
        (0..100)
            .find_map(|_| {
                Store::open(dir)
                    .map_err(|_| std::thread::sleep(std::time::Duration::from_millis(20)))
                    .ok()
            })
            .expect("the store opens")
    }

    #[test]
    fn a_row_this_version_cannot_read_is_passed_over_not_a_wall() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        // A message's events, then one of a kind a newer version wrote.
        store
            .commit(&[Change {
                op: msg(&s, "m1", 100),
                deliveries: vec![],
            }])
            .unwrap();
        let last = store.last_event_seq().unwrap();
        store
            .insert_in(
                EVENTS,
                &(last + 1).to_be_bytes(),
                br#"{"id":"x","event":"from.the.future","session":"s","timestamp":1,"payload":{}}"#,
            )
            .unwrap();
        store
            .commit(&[Change {
                op: msg(&s, "m2", 101),
                deliveries: vec![],
            }])
            .unwrap();
        let read = store.events_after(0, 100).unwrap();
        assert!(
            read.iter().any(|e| e.seq > last + 1),
            "the events after it are read"
        );
        assert!(read.iter().all(|e| e.seq != last + 1));
        // Pruned as any other, by its time.
        store.prune_events(i64::MAX).unwrap();
        assert_eq!(store.events_after(0, 100).unwrap().len(), 0);
        assert!(
            store
                .get_in(EVENTS, &(last + 1).to_be_bytes())
                .unwrap()
                .is_none()
        );
        // An unreadable delivery does not stop the backlog's read or the start.
        store
            .insert_in(OUTBOX, b"00000000000000000000000000", b"{not json")
            .unwrap();
        let hook = crate::domain::Webhook::subscriber(
            "http://127.0.0.1:9/x".into(),
            Default::default(),
            &["*"],
        );
        let d = Delivery::new(
            &hook,
            &Event::new(&s, crate::domain::EventKind::Message, serde_json::json!({})),
        );
        store.put_delivery(&d).unwrap();
        assert_eq!(store.pending_receivers().unwrap().len(), 1);
        let (got, _) = store
            .pending_for(&hook.url, "", "\u{10ffff}", 10, |_| false)
            .unwrap();
        assert_eq!(
            got.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            [d.id.as_str()]
        );
    }

    #[test]
    fn an_attempt_under_way_when_its_session_was_deleted_and_made_again_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let record = |created_at: i64| stopped("s", created_at);
        let now = crate::domain::now_ms() / 1000;
        assert!(store.create_session(&s, &record(now - 10)).unwrap());
        let hook = crate::domain::Webhook::subscriber(
            "http://127.0.0.1:9/hook".into(),
            crate::domain::Format::Native,
            &[],
        );
        let ev = Event::new(
            &s,
            crate::domain::EventKind::SessionStatus,
            serde_json::json!({}),
        );
        let d = Delivery::new(&hook, &ev);
        store.put_delivery(&d).unwrap();
        // Its own session: the attempt's outcome is kept.
        assert_eq!(
            store.record_attempts(std::slice::from_ref(&d)).unwrap(),
            vec![true]
        );
        // Deleted and made again while the next attempt was under way.
        store.delete_session(&s).unwrap();
        assert!(store.create_session(&s, &record(now + 5)).unwrap());
        assert_eq!(
            store.record_attempts(std::slice::from_ref(&d)).unwrap(),
            vec![false]
        );
        assert_eq!(
            store.outbox_counts().unwrap().0,
            0,
            "nothing back in the outbox"
        );
    }

    #[tokio::test]
    async fn a_tracker_is_found_by_its_messages_id_kept_across_opens_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let (s, other) = (
            SessionId::parse("s").unwrap(),
            SessionId::parse("t").unwrap(),
        );
        let key = "3EB0AAAA";
        {
            let store = Store::open(dir.path()).unwrap();
            // Before any: no lookup at all.
            assert_eq!(
                store.tracker(&s, &format!("true_1@c.us_{key}")).unwrap(),
                None
            );
            store.put_tracker(&s, key, "order-42 ✓", 1_000).unwrap();
            store.put_tracker(&s, "3EB0OLD", "old", 10).unwrap();
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        // By the planned key, whatever the chat or a group's sender.
        for id in [
            format!("true_1@c.us_{key}"),
            format!("true_2@g.us_{key}_1@c.us"),
        ] {
            assert_eq!(
                store.tracker(&s, &id).unwrap().as_deref(),
                Some("order-42 ✓")
            );
        }
        assert_eq!(
            store
                .tracker(&other, &format!("true_1@c.us_{key}"))
                .unwrap(),
            None
        );
        assert_eq!(store.tracker(&s, "true_1@c.us_3EB0BBBB").unwrap(), None);
        assert_eq!(store.tracker(&s, key).unwrap(), None, "not a message id");
        let theirs = format!("false_1@c.us_{key}");
        assert_eq!(store.tracker(&s, &theirs).unwrap(), None, "not our message");
        assert_eq!(store.prune_trackers(500).unwrap(), 1);
        assert_eq!(store.tracker(&s, "true_1@c.us_3EB0OLD").unwrap(), None);
        // Status callbacks go by when they were kept; one from before
        // that was written down stays.
        for (id, at) in [
            ("OLD", Some("10")),
            ("NEW", Some("1000")),
            ("UNDATED", None),
        ] {
            let meta = at.map_or(
                serde_json::json!({}),
                |t| serde_json::json!({"registered_at": t}),
            );
            store
                .put_callback(
                    &s,
                    id,
                    &serde_json::json!({"url": "http://x", "meta": meta}),
                    None,
                )
                .unwrap();
        }
        store.prune_callbacks(500).unwrap();
        let kept = |id| store.callback(&s, id).unwrap().is_some();
        assert_eq!(
            (kept("OLD"), kept("NEW"), kept("UNDATED")),
            (false, true, true)
        );
        assert!(
            store
                .tracker(&s, &format!("true_1@c.us_{key}"))
                .unwrap()
                .is_some()
        );
        // A session moved to a store that never kept one: found there too.
        let elsewhere = tempfile::tempdir().unwrap();
        let there = Store::open(elsewhere.path()).unwrap();
        there
            .import_session(&s, &store.export_session(&s).unwrap())
            .unwrap();
        assert_eq!(
            there
                .tracker(&s, &format!("true_1@c.us_{key}"))
                .unwrap()
                .as_deref(),
            Some("order-42 ✓")
        );
    }

    #[test]
    fn an_ack_is_an_event_once_failed_included() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let change = |op| Change {
            op,
            deliveries: vec![],
        };
        store.commit(&[change(msg(&s, "m1", 1))]).unwrap();
        let ack = |a: Ack| {
            change(Op::Ack {
                session: s.clone(),
                id: "m1".into(),
                ack: a,
                event: Event::new(
                    &s,
                    crate::domain::EventKind::MessageAck,
                    serde_json::json!({}),
                ),
            })
        };
        assert_eq!(store.commit(&[ack(Ack::Delivered)]).unwrap(), vec![0]);
        assert!(store.commit(&[ack(Ack::Delivered)]).unwrap().is_empty());
        assert!(store.commit(&[ack(Ack::Sent)]).unwrap().is_empty());
        // A failure after the fact is told, once.
        assert_eq!(store.commit(&[ack(Ack::Failed)]).unwrap(), vec![0]);
        assert!(store.commit(&[ack(Ack::Failed)]).unwrap().is_empty());
        assert_eq!(store.message(&s, "m1").unwrap().unwrap().ack, Ack::Failed);
    }

    #[test]
    fn an_import_is_taken_whole_or_not_at_all_and_only_as_its_own_session() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (a, b) = (
            SessionId::parse("a").unwrap(),
            SessionId::parse("b").unwrap(),
        );
        let change = |s: &SessionId, id: &str| Change {
            op: msg(s, id, 1),
            deliveries: vec![],
        };
        store.commit(&[change(&a, "a1"), change(&b, "b1")]).unwrap();
        let export = store.export_session(&a).unwrap();
        store.import_session(&a, &export).unwrap();
        assert!(store.message(&a, "a1").unwrap().is_some());
        // Records under another session's keys would overwrite it: refused
        // whole, before and at the import, and nothing is lost.
        let mut foreign = export.clone();
        foreign.extend(store.export_session(&b).unwrap());
        assert!(Store::check_import(&a, &foreign).is_err());
        assert!(store.import_session(&a, &foreign).is_err());
        // A delivery that cannot be read: the same.
        let mut garbled = export.clone();
        garbled.push(("outbox".into(), b"dlv_x".to_vec(), b"not json".to_vec()));
        assert!(Store::check_import(&a, &garbled).is_err());
        assert!(store.import_session(&a, &garbled).is_err());
        assert!(
            store.message(&a, "a1").unwrap().is_some(),
            "a's history is kept"
        );
        assert!(
            store.message(&b, "b1").unwrap().is_some(),
            "b's is untouched"
        );
        // A second session record after a good one (what is written last
        // would win, unchecked): refused whole, readable or not.
        let rec = serde_json::json!({"id": "a", "created_at": 1, "updated_at": 1,
            "should_run": false, "status": "STOPPED"});
        let mut twice = export.clone();
        twice.push((
            "sessions".into(),
            b"a".to_vec(),
            rec.to_string().into_bytes(),
        ));
        assert!(Store::check_import(&a, &twice).is_ok());
        let mut garbled = twice.clone();
        twice.push((
            "sessions".into(),
            b"a".to_vec(),
            rec.to_string().into_bytes(),
        ));
        assert!(Store::check_import(&a, &twice).is_err());
        garbled.push(("sessions".into(), b"a".to_vec(), b"{}".to_vec()));
        assert!(Store::check_import(&a, &garbled).is_err());
    }

    #[test]
    fn a_record_this_version_cannot_read_hides_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = |id: &str| stopped(id, 1);
        for id in ["a", "c"] {
            let s = SessionId::parse(id).unwrap();
            assert!(store.create_session(&s, &rec(id)).unwrap());
        }
        // As a newer version might write it: a status this one does not know.
        store
            .write(|tx| {
                tx.open_table(SESSIONS)?
                    .insert(&b"b"[..], &br#"{"id":"b","status":"FROM_THE_FUTURE"}"#[..])?;
                Ok(())
            })
            .unwrap();
        let ids: Vec<String> = store
            .sessions()
            .unwrap()
            .into_iter()
            .map(|r| r.id.to_string())
            .collect();
        assert_eq!(ids, ["a", "c"]);
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
            full.idempotency_begin(&s, "k", 0, 60, "ID", "fp", 120),
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
    fn messages_deleted_for_the_account_leave_the_history_and_stay_known() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let changes: Vec<Change> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, id)| Change {
                op: msg(&s, id, 100 + i as i64),
                deliveries: vec![],
            })
            .collect();
        store.commit(&changes).unwrap();
        let chat = "15551234567@c.us";
        let in_chat = |store: &Store| -> Vec<String> {
            let (page, _) = store.messages(&s, Some(chat), 10, None).unwrap();
            page.into_iter().map(|m| m.id).collect()
        };
        assert_eq!(store.forget_messages(&s, &["b", "nosuch"]).unwrap(), 1);
        assert_eq!(in_chat(&store), ["d", "c", "a"]);
        assert!(store.message(&s, "b").unwrap().is_none());
        let (all, _) = store.messages(&s, None, 10, None).unwrap();
        assert_eq!(all.len(), 3);
        // A late report of it is not stored again.
        let applied = store
            .commit(&[Change {
                op: msg(&s, "b", 101),
                deliveries: vec![],
            }])
            .unwrap();
        assert!(applied.is_empty());
        // Starred ones stay when asked.
        assert!(store.set_starred(&s, "c", true).unwrap());
        assert!(!store.set_starred(&s, "b", true).unwrap(), "not stored");
        assert!(store.message(&s, "c").unwrap().unwrap().starred);
        // What WhatsApp kept stays, and what came after the clear.
        let kept = std::collections::HashSet::from(["c".to_string()]);
        assert_eq!(store.forget_chat(&s, chat, &kept, 102).unwrap(), ["a"]);
        assert_eq!(in_chat(&store), ["d", "c"]);
        let none = std::collections::HashSet::new();
        assert_eq!(store.forget_chat(&s, chat, &none, 200).unwrap(), ["c", "d"]);
        assert!(in_chat(&store).is_empty());
        // Catch-up's watermark stays where the history was.
        assert_eq!(store.last_message_ts(&s).unwrap(), Some(103));
        assert!(store.messages(&s, None, 10, None).unwrap().0.is_empty());
    }

    #[test]
    fn a_backlog_is_read_back_only_below_what_is_durable() {
        use crate::domain::{Event, EventKind, Format, Webhook};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let hook = Webhook::subscriber("http://127.0.0.1:9/a".into(), Format::Native, &[]);
        let ds: Vec<Delivery> = (0..3)
            .map(|i| {
                let ev = Event::new(&s, EventKind::Message, serde_json::json!({ "i": i }));
                let d = Delivery::new(&hook, &ev);
                store.put_delivery(&d).unwrap();
                d
            })
            .collect();
        // Ids only grow, in the order deliveries are made.
        assert!(ds.windows(2).all(|w| w[0].id < w[1].id));
        // The third is not known to be durable yet: it waits.
        let (got, next) = store
            .pending_for(&hook.url, "", &ds[2].id, 10, |_| false)
            .unwrap();
        let got: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(got, [ds[0].id.as_str(), ds[1].id.as_str()]);
        assert_eq!(next.as_deref(), Some(ds[2].id.as_str()));
        let (got, next) = store
            .pending_for(&hook.url, &ds[2].id, "dlv_~", 10, |_| false)
            .unwrap();
        assert_eq!((got.len(), next), (1, None));
    }

    #[test]
    fn a_dead_delivery_is_requeued_once_by_two_retries() {
        use crate::domain::{Event, EventKind, Format, Webhook};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let hook = Webhook::subscriber("http://127.0.0.1:9/h".into(), Format::Native, &[]);
        let mut d = Delivery::new(
            &hook,
            &Event::new(&s, EventKind::Message, serde_json::json!({})),
        );
        store.insert_in(SESSIONS, b"s", b"{}").unwrap();
        store.put_delivery(&d).unwrap();
        assert!(store.requeue_dead(&d.id, 5).unwrap().is_none(), "pending");
        d.status = DeliveryStatus::Dead;
        d.attempts = 9;
        // Outcomes of several attempts, in one write: a retry back in the
        // outbox, a dead one out of it.
        let mut retry = Delivery::new(
            &hook,
            &Event::new(&s, EventKind::Message, serde_json::json!({})),
        );
        store.put_delivery(&retry).unwrap();
        retry.attempts = 1;
        retry.next_at = 42;
        assert_eq!(
            store.record_attempts(&[d.clone(), retry.clone()]).unwrap(),
            [true, true]
        );
        assert_eq!(store.delivery(&retry.id).unwrap().unwrap().next_at, 42);
        assert!(store.drop_pending(&retry.id).unwrap());
        assert_eq!(store.outbox_counts().unwrap(), (0, 1));
        assert!(!store.is_pending(&d.id).unwrap());
        let again = store.requeue_dead(&d.id, 5).unwrap().unwrap();
        assert_eq!(store.outbox_counts().unwrap(), (1, 0));
        assert_eq!(
            (again.status, again.attempts, again.next_at),
            (DeliveryStatus::Pending, 0, 5)
        );
        assert!(
            store.requeue_dead(&d.id, 6).unwrap().is_none(),
            "taken up once"
        );
        let mut done = again.clone();
        done.status = DeliveryStatus::Delivered;
        assert_eq!(store.record_attempts(&[done]).unwrap(), [true]);
        assert!(store.requeue_dead(&d.id, 7).unwrap().is_none(), "delivered");
        // A session deleted while an attempt was in flight: its delivery
        // leaves the outbox and lands nowhere.
        let late = Delivery::new(
            &hook,
            &Event::new(&s, EventKind::Message, serde_json::json!({})),
        );
        store.put_delivery(&late).unwrap();
        store.delete_session(&s).unwrap();
        let mut retried = late.clone();
        retried.attempts = 1;
        let mut delivered = late.clone();
        delivered.status = DeliveryStatus::Delivered;
        for d in [retried, delivered] {
            assert_eq!(store.record_attempts(&[d]).unwrap(), [false]);
            assert!(store.delivery(&late.id).unwrap().is_none());
        }
    }

    #[test]
    fn a_delete_goes_a_chunk_at_a_time_and_takes_only_its_own() {
        use crate::domain::{Event, EventKind, Format, Webhook};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Past one scan's worth, with a cursor that must go on from where
        // the last read stopped.
        for i in 0..25_000u32 {
            store
                .insert_in(UPLOADS, format!("k{i:05}").as_bytes(), &i.to_le_bytes())
                .unwrap();
        }
        store
            .remove_where(UPLOADS, &[], None, |_, v| v[0] % 2 == 0)
            .unwrap();
        let left = store.uploads_starting("k").unwrap();
        assert!(left.is_empty(), "records that are no JSON are not listed");
        let n = store
            .read(|tx| Ok(tx.open_table(UPLOADS)?.iter()?.count()))
            .unwrap();
        assert_eq!(n, 12_500);
        // A session's records go, another's stay.
        let (a, b) = (
            SessionId::parse("a").unwrap(),
            SessionId::parse("ab").unwrap(),
        );
        let hook = Webhook::subscriber("http://127.0.0.1:9/h".into(), Format::Native, &[]);
        for s in [&a, &b] {
            assert!(store.create_session(s, &stopped(s.as_str(), 1)).unwrap());
            let ev = Event::new(s, EventKind::Message, serde_json::json!({}));
            store.put_delivery(&Delivery::new(&hook, &ev)).unwrap();
            store
                .put_callback(s, "m1", &serde_json::json!({}), None)
                .unwrap();
            store
                .commit(&[Change {
                    op: msg(s, "m1", 100),
                    deliveries: vec![],
                }])
                .unwrap();
            let seq = store.last_event_seq().unwrap() + 1;
            store
                .insert_in(
                    EVENTS,
                    &seq.to_be_bytes(),
                    &serde_json::to_vec(&ev).unwrap(),
                )
                .unwrap();
        }
        let short = |s: &SessionId| Message::short_id(s, "m1");
        assert!(store.message_by_short_id(&short(&a)).unwrap().is_some());
        store.delete_session(&a).unwrap();
        assert!(store.message_by_short_id(&short(&a)).unwrap().is_none());
        assert!(store.message_by_short_id(&short(&b)).unwrap().is_some());
        let shorts = store
            .read(|tx| Ok(tx.open_table(SHORTIDS)?.iter()?.count()))
            .unwrap();
        assert_eq!(shorts, 1, "its short ids go too");
        let logged: Vec<String> = (store.events_after(0, 10).unwrap())
            .into_iter()
            .map(|e| e.event.session.to_string())
            .collect();
        assert_eq!(logged, ["ab"; 3], "its events leave the log");
        assert!(store.export_session(&a).unwrap().is_empty());
        assert!(!store.session_exists(&a).unwrap());
        // The session, its delivery, callback, message, message id, chat
        // row and short id.
        assert_eq!(store.export_session(&b).unwrap().len(), 7);
    }

    /// The index by session holds each delivery under its state, no more.
    fn index_agrees(store: &Store) {
        let (mut rows, mut index) = (Vec::new(), Vec::new());
        store
            .read(|tx| {
                for status in [
                    DeliveryStatus::Pending,
                    DeliveryStatus::Dead,
                    DeliveryStatus::Delivered,
                ] {
                    for kv in tx.open_table(table_of(status))?.iter()? {
                        let (k, v) = kv?;
                        let s = session_of(v.value()).unwrap_or_default();
                        rows.push(by_session_key(&s, status, k.value()));
                    }
                }
                for kv in tx.open_table(BY_SESSION)?.iter()? {
                    index.push(kv?.0.value().to_vec());
                }
                Ok(())
            })
            .unwrap();
        rows.sort();
        assert_eq!(rows, index);
    }

    #[test]
    fn each_delivery_is_found_by_its_session_whatever_befalls_it() {
        use crate::domain::{Event, EventKind, Format, Webhook};
        use DeliveryStatus::{Dead, Delivered, Pending};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // "a" is a prefix of "ab": neither sees the other's.
        let (a, b) = (
            SessionId::parse("a").unwrap(),
            SessionId::parse("ab").unwrap(),
        );
        let hook = Webhook::subscriber("http://127.0.0.1:9/h".into(), Format::Native, &[]);
        for s in [&a, &b] {
            assert!(store.create_session(s, &stopped(s.as_str(), 1)).unwrap());
        }
        let new = |s: &SessionId| {
            Delivery::new(
                &hook,
                &Event::new(s, EventKind::Message, serde_json::json!({})),
            )
        };
        let mut da: Vec<Delivery> = (0..5).map(|_| new(&a)).collect();
        for d in &da {
            store.put_delivery(d).unwrap();
        }
        for _ in 0..3 {
            store.put_delivery(&new(&b)).unwrap();
        }
        da[0].status = Delivered;
        da[1].status = Dead;
        da[2].attempts = 1;
        store.record_attempts(&da[..3]).unwrap();
        assert!(store.drop_pending(&da[3].id).unwrap());
        let ids = |store: &Store, s: &SessionId, status| {
            store
                .deliveries(s, status, 100, |_| true)
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        };
        let each = |store: &Store| {
            assert_eq!(ids(store, &a, Delivered), [da[0].id.clone()]);
            assert_eq!(ids(store, &a, Dead), [da[1].id.clone()]);
            assert_eq!(
                ids(store, &a, Pending),
                [da[4].id.clone(), da[2].id.clone()]
            );
            assert_eq!(ids(store, &b, Pending).len(), 3);
            assert!(ids(store, &b, Dead).is_empty());
            index_agrees(store);
        };
        each(&store);

        // A store written before the index has it built at its next open.
        store
            .write(|tx| {
                tx.open_table(BY_SESSION)?.retain(|_, _| false)?;
                tx.open_table(META)?.remove(INDEXED_KEY)?;
                Ok(())
            })
            .unwrap();
        assert!(ids(&store, &a, Pending).is_empty());
        durable(&store.db, &store.pending).unwrap();
        drop(store);
        let store = open_when_free(dir.path());
        each(&store);

        // An older wabridge since (a rollback and back): a delivery it
        // wrote without the index is found at the next open.
        let mut late = new(&a);
        late.status = Delivered;
        store
            .insert_in(
                DELIVERED,
                late.id.as_bytes(),
                &serde_json::to_vec(&late).unwrap(),
            )
            .unwrap();
        durable(&store.db, &store.pending).unwrap();
        drop(store);
        let store = open_when_free(dir.path());
        assert_eq!(
            ids(&store, &a, Delivered),
            [late.id.clone(), da[0].id.clone()]
        );
        index_agrees(&store);

        // Moved to another store, it is found there by its session too.
        let there = tempfile::tempdir().unwrap();
        let other = Store::open(there.path()).unwrap();
        other
            .import_session(&a, &store.export_session(&a).unwrap())
            .unwrap();
        assert_eq!(ids(&other, &a, Pending).len(), 2);
        assert_eq!(ids(&other, &a, Dead), [da[1].id.clone()]);
        index_agrees(&other);

        // Requeued, pruned, deleted: the index follows.
        assert!(store.requeue_dead(&da[1].id, 0).unwrap().is_some());
        assert!(ids(&store, &a, Dead).is_empty());
        assert_eq!(ids(&store, &a, Pending).len(), 3);
        assert_eq!(store.prune_deliveries(Delivered, "dlv_z").unwrap(), 2);
        assert!(ids(&store, &a, Delivered).is_empty());
        index_agrees(&store);
        store.delete_session(&a).unwrap();
        assert!(ids(&store, &a, Pending).is_empty());
        assert_eq!(ids(&store, &b, Pending).len(), 3);
        index_agrees(&store);
    }

    #[test]
    fn dead_deliveries_leave_the_outbox_once_and_age_out() {
        use crate::domain::{Event, EventKind, Format, Webhook};
        let dir = tempfile::tempdir().unwrap();
        let s = SessionId::parse("s").unwrap();
        let hook = Webhook::subscriber("http://127.0.0.1:9/h".into(), Format::Native, &[]);
        let new = || {
            Delivery::new(
                &hook,
                &Event::new(&s, EventKind::Message, serde_json::json!({})),
            )
        };
        let (pending, mut dead) = (new(), new());
        dead.status = DeliveryStatus::Dead;
        {
            // As an older wabridge kept them: the dead in the outbox.
            let store = Store::open(dir.path()).unwrap();
            store.put_delivery(&pending).unwrap();
            store
                .insert_in(
                    OUTBOX,
                    dead.id.as_bytes(),
                    &serde_json::to_vec(&dead).unwrap(),
                )
                .unwrap();
            store
                .write(|tx| Ok(tx.open_table(META)?.remove(DEAD_APART_KEY).map(|_| ())?))
                .unwrap();
            durable(&store.db, &store.pending).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.outbox_counts().unwrap(), (1, 1));
        let listed = |st| store.deliveries(&s, st, 10, |_| true).unwrap();
        assert_eq!(listed(DeliveryStatus::Dead)[0].id, dead.id);
        assert_eq!(listed(DeliveryStatus::Pending)[0].id, pending.id);
        assert_eq!(
            store.delivery(&dead.id).unwrap().unwrap().status,
            DeliveryStatus::Dead
        );
        // Older than the cutoff goes; newer stays.
        let after = crate::domain::next_delivery_id();
        assert_eq!(
            store
                .prune_deliveries(DeliveryStatus::Dead, "dlv_0")
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .prune_deliveries(DeliveryStatus::Dead, &after)
                .unwrap(),
            1
        );
        assert_eq!(store.outbox_counts().unwrap(), (1, 0));
    }

    #[test]
    fn expired_idempotency_keys_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = SessionId::parse("s").unwrap();
        let answer = serde_json::json!({"id": "m"});
        // An answer from 25 h ago, one from now, a reservation abandoned
        // 3 min ago (kept: it remembers its message id).
        store
            .idempotency_begin(&s, "old", 0, 86_400, "A", "fp", 120)
            .unwrap();
        store
            .idempotency_finish(&s, "old", "fp", 0, Some(&answer))
            .unwrap();
        store
            .idempotency_begin(&s, "new", 90_000, 86_400, "B", "fp", 120)
            .unwrap();
        store
            .idempotency_finish(&s, "new", "fp", 90_000, Some(&answer))
            .unwrap();
        store
            .idempotency_begin(&s, "stuck", 89_820, 86_400, "C", "fp", 120)
            .unwrap();
        assert_eq!(store.sweep_idempotency(90_000, 86_400).unwrap(), 1);
        use redb::ReadableTableMetadata;
        let left = store
            .read(|tx| Ok(tx.open_table(IDEMPOTENCY)?.len()?))
            .unwrap();
        assert_eq!(left, 2);
        // The live answer is still answered.
        assert_eq!(
            store
                .idempotency_begin(&s, "new", 90_001, 86_400, "D", "fp", 120)
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
        let begin = |at, id| {
            store
                .idempotency_begin(&s, "k", at, 86_400, id, "fp", 120)
                .unwrap()
        };
        assert_eq!(begin(1_000, "ID1"), Reservation::New("ID1".into()));
        // Still sending, or its outcome unknown: the retry learns the id.
        assert_eq!(begin(1_060, "ID2"), Reservation::Busy(Some("ID1".into())));
        // Lapsed: taken over, under the same id, never a new one.
        assert_eq!(begin(1_200, "ID3"), Reservation::TakenOver("ID1".into()));
        assert_eq!(begin(1_210, "ID4"), Reservation::Busy(Some("ID1".into())));
        let answer = serde_json::json!({"id": "ID1"});
        store
            .idempotency_finish(&s, "k", "fp", 1_220, Some(&answer))
            .unwrap();
        assert_eq!(begin(1_230, "ID5"), Reservation::Answered(answer));
        // The same key for another request: refused, answered or not.
        let other = |at| {
            store
                .idempotency_begin(&s, "k", at, 86_400, "ID6", "other", 120)
                .unwrap()
        };
        assert_eq!(other(1_240), Reservation::OtherRequest);
        store
            .idempotency_begin(&s, "k2", 1_000, 86_400, "ID7", "fp", 120)
            .unwrap();
        assert_eq!(
            store
                .idempotency_begin(&s, "k2", 1_010, 86_400, "ID8", "other", 120)
                .unwrap(),
            Reservation::OtherRequest
        );
        // A record from before fingerprints were kept still answers.
        store
            .insert_in(
                IDEMPOTENCY,
                &[prefix(&s), b"old".to_vec()].concat(),
                br#"{"at": 1000, "response": {"id": "X"}}"#,
            )
            .unwrap();
        assert_eq!(
            store
                .idempotency_begin(&s, "old", 1_010, 86_400, "ID9", "any", 120)
                .unwrap(),
            Reservation::Answered(serde_json::json!({"id": "X"}))
        );
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
        };
        commit(msg(&s, "m1", 100));
        let edit = |text: &str, at: i64| Op::Amend {
            session: s.clone(),
            id: "m1".into(),
            change: Amendment::Edit {
                text: text.into(),
                at,
            },
            event: crate::domain::message::edit_event(&s, "m1", "c", text, at, None),
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
            event: crate::domain::message::revoke_event(&s, &format!("r{emoji}"), "c", None, None),
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
            event: crate::domain::message::revoke_event(&s, "older", "c", None, None),
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
            durable(&store.db, &store.pending).unwrap();
        }
        let store = open_when_free(dir.path());
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
        let applied = store
            .commit(&[Change {
                op: msg(&s, "m_A", 1_700_000_000),
                deliveries: vec![],
            }])
            .unwrap();
        assert!(applied.is_empty());
    }

    #[test]
    fn a_data_dir_of_the_sled_days_is_moved_over_once_with_its_history_and_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let s = SessionId::parse("s1").unwrap();
        let Op::Message { msg: m, events, .. } = msg(&s, "m_old", 1_700_000_000) else {
            unreachable!()
        };
        // As the sled store wrote them: a message, its id index, its log entries.
        let last_seq = {
            let old = sled::open(dir.path()).unwrap();
            let mut seqs = vec![];
            for _ in 0..5 {
                seqs.push(old.generate_id().unwrap());
            }
            let key = msg_key(&s, &order_suffix(m.timestamp, seqs[0], &m.id));
            let mut idk = prefix(&s);
            idk.extend_from_slice(m.id.as_bytes());
            old.open_tree("messages")
                .unwrap()
                .insert(&key, serde_json::to_vec(&m).unwrap())
                .unwrap();
            old.open_tree("msgids")
                .unwrap()
                .insert(&idk, key.as_slice())
                .unwrap();
            let log = old.open_tree("events").unwrap();
            for (e, seq) in events.iter().zip(&seqs[1..]) {
                log.insert(seq.to_be_bytes(), serde_json::to_vec(e).unwrap())
                    .unwrap();
            }
            old.flush().unwrap();
            seqs[events.len()]
        };
        let store = open_when_free(dir.path());
        assert!(dir.path().join(FILE).exists());
        assert!(dir.path().join("sled-before-redb").join("conf").exists());
        assert!(
            !dir.path().join("conf").exists(),
            "sled's files are kept aside"
        );
        assert_eq!(
            store.message(&s, "m_old").unwrap().unwrap().text.as_deref(),
            Some("m_old")
        );
        assert_eq!(store.last_event_seq().unwrap(), last_seq);
        // A new message and its events come after the old ones.
        store
            .commit(&[Change {
                op: msg(&s, "m_new", 1_700_000_000),
                deliveries: vec![],
            }])
            .unwrap();
        let (page, _) = store.messages(&s, None, 10, None).unwrap();
        let ids: Vec<&str> = page.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m_new", "m_old"]);
        let log = store.events_after(0, 100).unwrap();
        assert_eq!(log.len(), 4);
        assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
        assert!(log[2].seq > last_seq);
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

    /// A write that has to wait for a durable commit (its fsync holds redb's
    /// writer) waits off the async workers: with one worker busy waiting,
    /// another task still runs.
    /// A crash takes back commits not yet durable, but readers may have
    /// seen their places in the event log (a client's `Last-Event-ID`):
    /// after the crash the log goes on above every place seen, never
    /// handing one out again for a different event. The crash is real: a
    /// child process writes and dies without a flush.
    #[test]
    fn after_a_crash_no_place_in_the_event_log_is_handed_out_twice() {
        const CHILD: &str = "WABRIDGE_STORE_CRASH_CHILD";
        let s = SessionId::parse("s").unwrap();
        let change = |id: &str| Change {
            op: msg(&s, id, 1),
            deliveries: vec![],
        };
        if let Ok(dir) = std::env::var(CHILD) {
            let store = Store::open(Path::new(&dir)).unwrap();
            store.commit(&[change("durable")]).unwrap();
            durable(&store.db, &store.pending).unwrap();
            // No flush from here on: the flusher waits on this lock.
            let _no_flush = store.pending.flushing.lock().unwrap();
            store.commit(&[change("lost")]).unwrap();
            println!("seen {}", store.last_event_seq().unwrap());
            use std::io::Write as _;
            std::io::stdout().flush().unwrap();
            unsafe { libc::_exit(0) };
        }
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "store::tests::after_a_crash_no_place_in_the_event_log_is_handed_out_twice",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let seen: u64 = stdout
            .lines()
            .find_map(|l| l.split_once("seen ")?.1.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "the child said nothing: {stdout} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });

        let store = open_when_free(dir.path());
        assert!(store.message(&s, "durable").unwrap().is_some());
        // The premise: the crash took the last commit back.
        assert!(
            store.message(&s, "lost").unwrap().is_none(),
            "the commit survived the crash"
        );
        assert!(store.last_event_seq().unwrap() < seen);
        store.commit(&[change("after")]).unwrap();
        let next = store.last_event_seq().unwrap();
        assert!(
            next > seen,
            "place {next} handed out again (seen {seen} before the crash)"
        );
    }

    #[test]
    fn a_write_waiting_for_a_flush_leaves_the_runtime_running() {
        use std::sync::mpsc::channel;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // A durable commit in progress, held open as a slow disk would.
        let (held_tx, held) = channel();
        let (release, release_rx) = channel::<()>();
        let s = store.clone();
        let flush = std::thread::spawn(move || {
            let _one = s.pending.flushing.lock().unwrap();
            let tx = s.db.begin_write().unwrap();
            held_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            tx.commit().unwrap();
        });
        held.recv().unwrap();

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let writer = rt.spawn(async move { store.insert_in(META, b"k", b"v") });
        let (ran_tx, ran) = channel();
        rt.spawn(async move { ran_tx.send(()).unwrap() });
        let other_ran = ran.recv_timeout(std::time::Duration::from_secs(10)).is_ok();
        release.send(()).unwrap();
        rt.block_on(writer).unwrap().unwrap();
        flush.join().unwrap();
        assert!(
            other_ran,
            "the only worker was held by a write waiting for the flush"
        );
    }
}
