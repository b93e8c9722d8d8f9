//! Sessions: the manager (the registry the core talks to), one driver task
//! per running session, the browser it owns, the typed bridge into its page,
//! and the translation of what the page reports into stored messages.

pub mod bridge;
pub mod browser;
mod driver;
mod inbound;
mod manager;
mod proxy_auth;
pub mod reaper;
pub mod transfer;
pub mod wajs;

/// Inbound media larger than this is not kept.
pub const MAX_MEDIA: usize = 64 << 20;

/// Whether WhatsApp says a media is larger than is kept: then it is not
/// fetched at all (the page would download all of it first).
pub fn too_large_to_keep(media: &crate::domain::MediaInfo) -> bool {
    media.size.is_some_and(|s| s > MAX_MEDIA as u64)
}

pub use bridge::{
    AddOutcome, Bridge, CallError, CardOf, Channel, ChannelChange, ChannelPage, ChatChange,
    ChatInfo, Community, Contact, CreatedCommunity, GroupInfo, HistoryBatch, JoinRequest, Label,
    Labels, LinkFailure, LinkedGroup, Linking, Note, OutgoingFile, Participant, Pin, Presence,
    Receipt, Receipts, Sent, Trimmed,
};
pub use manager::{CallFailure, Manager, ManagerError, SessionView};

use crate::domain::{Me, SessionId, SessionRecord, Status, now_ms};
use crate::pipeline::Pipeline;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Why a message's media could not be had.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(transparent)]
    Page(#[from] CallError),
    #[error("larger than {} MB", MAX_MEDIA >> 20)]
    TooLarge,
    #[error("bad base64 from the page: {0}")]
    Garbled(String),
    #[error("other media are being fetched from this page now")]
    Busy,
}

/// Media fetched from pages at once, at most: in all, and per session.
const MEDIA_FETCHES: usize = 4;
const MEDIA_PER_SESSION: usize = 2;

/// One fetch of a media at a time (the next finds it kept): a lock per
/// media file, so that a fetch waits only for the same media, never for
/// another session's (a hung page's download holds its lock a minute).
#[derive(Default)]
struct MediaLocks(
    std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Weak<tokio::sync::Mutex<()>>>>,
);

impl MediaLocks {
    /// The turn to fetch the media at `path`. `wait`: a client asking
    /// waits for it; inbound media gives up at once (None): a driver
    /// waiting behind a client's fetch would stop following its page.
    async fn turn(
        &self,
        path: &std::path::Path,
        wait: bool,
    ) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match locks.get(path).and_then(std::sync::Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    // Locks no fetch holds any more go as new ones come.
                    if locks.len() >= 64 {
                        locks.retain(|_, l| l.strong_count() > 0);
                    }
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(path.to_path_buf(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        match wait {
            true => Some(lock.lock_owned().await),
            false => lock.try_lock_owned().ok(),
        }
    }
}

/// A session's state as its driver sees it now.
#[derive(Clone, Debug)]
pub struct LiveState {
    pub status: Status,
    pub error: Option<String>,
    /// The QR string while SCAN_QR. A secret: never logged.
    pub qr: Option<String>,
    pub me: Option<Me>,
    pub platform: Option<String>,
    /// The WhatsApp Web build and the wa-js version of this browser life
    /// (`{"wa_web", "wa_js"}`), once the page told them.
    pub versions: Option<serde_json::Value>,
    /// INCOMPATIBLE: `{"wa_web", "wa_js", "missing": [...]}`.
    pub details: Option<serde_json::Value>,
    /// The browser's memory (PSS of its process tree), last measured.
    pub pss_bytes: Option<u64>,
    /// A stable code for `error` (`PROXY_FAILED`), when there is one.
    pub error_code: Option<&'static str>,
    /// Calls into the page from the API in flight (sends, actions): a
    /// recycle waits for a moment with none.
    pub calls: Arc<std::sync::atomic::AtomicUsize>,
    /// Set while a recycle waits for the calls in flight: no new call
    /// starts (it would be cut when the browser closes under it).
    pub recycling: Arc<std::sync::atomic::AtomicBool>,
    /// Set when the manager asks the driver to end: what can wait (media
    /// downloads, fetched when a client asks) is left, so that the round
    /// under way is stored and the ask answered before its wait runs out.
    pub leaving: Arc<std::sync::atomic::AtomicBool>,
    /// Messages written before this (unix s) are stored and no catch-up
    /// will look for them in the page: its copies of them may go. None
    /// while a catch-up waits.
    pub stored_before: Option<i64>,
}

/// Session records, with read-modify-write that stamps `updated_at`.
#[derive(Clone)]
pub struct Records {
    store: Store,
}

impl Records {
    pub fn new(store: Store) -> Self {
        Records { store }
    }

    pub fn get(&self, id: &SessionId) -> Option<SessionRecord> {
        self.store.get_session(id).ok().flatten()
    }

    pub fn all(&self) -> Vec<SessionRecord> {
        self.store.sessions().unwrap_or_default()
    }

    pub fn update(&self, id: &SessionId, f: impl Fn(&mut SessionRecord)) -> Option<SessionRecord> {
        let res = self.store.update_session(id, |r| {
            f(r);
            r.updated_at = now_ms() / 1000;
        });
        match res {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(session = %id, "could not save the session record: {e}");
                None
            }
        }
    }
}

/// How sessions run: where they live, which browser and page, timeouts.
pub struct SessionConfig {
    pub data_dir: PathBuf,
    pub browser: browser::BrowserSpec,
    /// WhatsApp Web, or the sandbox standing in for it.
    pub wa_url: String,
    pub wajs_path: PathBuf,
    /// Every call into a page is bounded by this.
    pub page_timeout: Duration,
    /// How long a page may take to become WhatsApp Web.
    pub load_timeout: Duration,
    /// How a page that stopped answering is told from a quiet one.
    pub hang: HangCheck,
    pub print_qr: bool,
    /// Recycling: a browser over this PSS, or older than this, is restarted
    /// at a quiet moment (no rescan; catch-up covers the gap).
    pub max_pss: Option<u64>,
    pub max_age: Option<Duration>,
    /// How often WhatsApp Web's copies of stored messages are dropped from
    /// the page's memory (None: never).
    pub trim_every: Option<Duration>,
    /// A chat deleted elsewhere keeps its stored messages.
    pub keep_deleted_chats: bool,
    /// The proxy of sessions that name none (`WABRIDGE_PROXY`).
    pub default_proxy: Option<crate::domain::Proxy>,
}

/// How the driver looks after a running page (a catch-up to retry, the
/// memory ceilings, whether the page still answers): every `tick`, and a
/// page silent for `silence` is pinged (`ping` each); two missed pings in a
/// row and it hangs. A page that sends events has shown it is alive:
/// pinging every page on every tick woke each idle browser to learn nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HangCheck {
    pub tick: Duration,
    pub silence: Duration,
    pub ping: Duration,
}

impl HangCheck {
    /// A hang seen within about `after`: silent for half of it, then two
    /// pings a tick apart. At 60 s: a 10 s tick, pinged after 30 s of
    /// silence, 5 s for each ping.
    pub fn after(after: Duration) -> Self {
        let tick = (after / 6).clamp(Duration::from_millis(500), Duration::from_secs(10));
        HangCheck {
            tick,
            silence: after / 2,
            ping: tick.min(Duration::from_secs(5)),
        }
    }

    /// Within how long a hung page is seen: a call into the page that waits
    /// longer waits on a hung page.
    pub fn bound(&self) -> Duration {
        self.silence * 2
    }

    /// Whether something done once per `every` is due on this tick (the
    /// first tick is 1).
    pub fn due(&self, tick: u32, every: Duration) -> bool {
        let per = (every.as_millis() / self.tick.as_millis().max(1)).max(1);
        u128::from(tick.saturating_sub(1)) % per == 0
    }

    /// How many ticks make `d` (at least one).
    pub fn ticks_in(&self, d: Duration) -> u32 {
        (d.as_millis() / self.tick.as_millis().max(1)).clamp(1, u32::MAX.into()) as u32
    }
}

impl Default for HangCheck {
    fn default() -> Self {
        HangCheck::after(Duration::from_secs(60))
    }
}

/// What every driver shares: configuration and the sinks it writes to.
pub struct SessionEnv {
    pub config: SessionConfig,
    pub pipeline: Arc<Pipeline>,
    pub records: Records,
    pub store: Store,
    wajs: OnceLock<Arc<String>>,
    media_fetches: tokio::sync::Semaphore,
    media_sessions:
        std::sync::Mutex<std::collections::HashMap<SessionId, Arc<tokio::sync::Semaphore>>>,
    media_locks: MediaLocks,
}

impl SessionEnv {
    pub fn new(config: SessionConfig, pipeline: Arc<Pipeline>, store: Store) -> Self {
        SessionEnv {
            config,
            pipeline,
            records: Records::new(store.clone()),
            store,
            wajs: OnceLock::new(),
            media_fetches: tokio::sync::Semaphore::new(MEDIA_FETCHES),
            media_sessions: Default::default(),
            media_locks: Default::default(),
        }
    }

    pub fn session_dir(&self, id: &SessionId) -> PathBuf {
        self.config.data_dir.join("sessions").join(id.as_str())
    }

    /// Where an inbound message's media is kept (named by a hash of its id).
    pub fn media_path(&self, id: &SessionId, msg_id: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(msg_id.as_bytes());
        let name: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.session_dir(id).join("media").join(name)
    }

    /// A message's media as kept on disk; fetched from the page first when
    /// it is not (as whatsapp-web.js's `downloadMedia` does: WhatsApp Web
    /// loads the message back and downloads its media again), and kept when
    /// the disk has room for it. `wait`: whether to wait for a turn to fetch
    /// (a client asking) or give up at once when there is none (inbound
    /// media, which a client may fetch later).
    pub async fn keep_media(
        &self,
        bridge: &Bridge,
        id: &SessionId,
        msg_id: &str,
        wait: bool,
    ) -> Result<Vec<u8>, MediaError> {
        use base64::Engine as _;
        let path = self.media_path(id, msg_id);
        if let Ok(bytes) = tokio::fs::read(&path).await {
            return Ok(bytes);
        }
        // One fetch of a media at a time (the next finds it kept); two per
        // session, so one hung page cannot hold every turn; and a few in
        // all: a media in memory is several times its size on its way here.
        let Some(_same) = self.media_locks.turn(&path, wait).await else {
            return Err(MediaError::Busy);
        };
        if let Ok(bytes) = tokio::fs::read(&path).await {
            return Ok(bytes);
        }
        let session = self.media_turns(id);
        let turns = match wait {
            true => (
                session.acquire().await.ok(),
                self.media_fetches.acquire().await.ok(),
            ),
            false => (
                session.try_acquire().ok(),
                self.media_fetches.try_acquire().ok(),
            ),
        };
        let (Some(_mine), Some(_all)) = turns else {
            return Err(MediaError::Busy);
        };
        let b64 = match bridge.download_media(msg_id, MAX_MEDIA).await {
            Err(CallError::Page(m)) if m.starts_with("TOO_LARGE: ") => {
                return Err(MediaError::TooLarge);
            }
            r => r?,
        };
        if b64.len() / 4 * 3 > MAX_MEDIA {
            return Err(MediaError::TooLarge);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| MediaError::Garbled(e.to_string()))?;
        if let Err(e) = self.store.room() {
            tracing::debug!(session = %id, "media not kept on disk: {e}");
            return Ok(bytes);
        }
        let tmp = path.with_extension("part");
        let written = async {
            browser::ensure_private_dir(path.parent().expect("media dir"))?;
            tokio::fs::write(&tmp, &bytes).await?;
            tokio::fs::rename(&tmp, &path).await
        };
        if let Err(e) = written.await {
            // Served all the same; fetched again next time.
            tracing::warn!(session = %id, "media not kept on disk: {e}");
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        Ok(bytes)
    }

    /// A session's turns to fetch media from its page.
    fn media_turns(&self, id: &SessionId) -> Arc<tokio::sync::Semaphore> {
        let mut all = self
            .media_sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Those no fetch holds go, so deleted sessions leave nothing.
        all.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < MEDIA_PER_SESSION);
        all.entry(id.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(MEDIA_PER_SESSION)))
            .clone()
    }

    /// wa-js's source, read once.
    pub fn wajs(&self) -> Result<Arc<String>, String> {
        if let Some(s) = self.wajs.get() {
            return Ok(s.clone());
        }
        let src = std::fs::read_to_string(&self.config.wajs_path).map_err(|e| {
            format!(
                "wa-js not found at {} ({e}); run `npm ci` in inject/ or set WABRIDGE_WAJS",
                self.config.wajs_path.display()
            )
        })?;
        Ok(self.wajs.get_or_init(|| Arc::new(src)).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[tokio::test]
    async fn a_media_fetch_waits_only_for_the_same_media() {
        let locks = MediaLocks::default();
        let held = locks.turn(Path::new("/m/a"), true).await.unwrap();
        assert!(locks.turn(Path::new("/m/a"), false).await.is_none());
        // No other media shares its lock, whatever its path hashes to.
        let mut others = Vec::new();
        for i in 0..200 {
            others.push(
                locks
                    .turn(Path::new(&format!("/m/b{i}")), false)
                    .await
                    .unwrap(),
            );
        }
        drop(others);
        drop(held);
        assert!(locks.turn(Path::new("/m/a"), false).await.is_some());
        let _ = locks.turn(Path::new("/m/c"), false).await;
        assert!(
            locks.0.lock().unwrap().len() <= 65,
            "locks no fetch holds go"
        );
    }

    #[test]
    fn a_hang_is_seen_within_about_the_time_asked() {
        let s = Duration::from_secs;
        // The default is what the driver always did.
        let d = HangCheck::default();
        assert_eq!((d.tick, d.silence, d.ping), (s(10), s(30), s(5)));
        let quick = HangCheck::after(s(12));
        assert_eq!((quick.tick, quick.silence, quick.ping), (s(2), s(6), s(2)));
        // Memory read every 5 minutes whatever the tick, first tick included.
        let every = |h: HangCheck| (1..=300).filter(|t| h.due(*t, s(300))).collect::<Vec<_>>();
        assert_eq!(every(d), vec![1, 31, 61, 91, 121, 151, 181, 211, 241, 271]);
        assert_eq!(
            every(quick),
            vec![1, 151, 301]
                .into_iter()
                .filter(|t| *t <= 300)
                .collect::<Vec<_>>()
        );
        assert_eq!((d.ticks_in(s(60)), quick.ticks_in(s(60))), (6, 30));
        // Shorter than a tick: every tick.
        assert!(d.due(7, s(1)) && d.ticks_in(s(1)) == 1);
    }

    #[tokio::test]
    async fn inbound_media_gives_up_its_turn_at_once_while_a_client_waits_for_it() {
        let locks = MediaLocks::default();
        let path = Path::new("/data/sessions/a/media/0f");
        let held = locks.turn(path, true).await.expect("a free turn");
        // Another fetch of the same stripe: the driver's does not wait.
        let quick = tokio::time::timeout(Duration::from_secs(1), locks.turn(path, false)).await;
        assert!(
            matches!(quick, Ok(None)),
            "inbound media must not wait for a turn"
        );
        // A client's waits, and has it once the holder is done.
        let waiting = locks.turn(path, true);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut waiting)
                .await
                .is_err()
        );
        drop(held);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), waiting)
                .await
                .unwrap()
                .is_some()
        );
    }
}
