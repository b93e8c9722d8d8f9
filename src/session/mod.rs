//! Sessions: the manager (the registry the API talks to), one driver task per
//! running session, the browser it owns, and the bridge protocol to the page.

pub mod bridge;
pub mod browser;
mod driver;
mod manager;

/// Inbound media larger than this is not kept.
pub const MAX_MEDIA: usize = 64 << 20;

pub use manager::{CallFailure, Manager, ManagerError, SessionView};

use crate::events::Events;
use crate::model::{Me, SessionId, Status};
use crate::store::Store;
use crate::webhook::Webhook;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// What is stored about a session (sled, `sessions` tree).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// Whether the session should be running; a daemon start resumes these.
    pub should_run: bool,
    pub status: Status,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub me: Option<Me>,
    #[serde(default)]
    pub platform: Option<String>,
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
    pub browser_pid: Option<i32>,
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

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn get(&self, id: &SessionId) -> Option<SessionRecord> {
        self.store.get_session(id).ok().flatten()
    }

    pub fn update(
        &self,
        id: &SessionId,
        f: impl FnOnce(&mut SessionRecord),
    ) -> Option<SessionRecord> {
        let mut rec = self.get(id)?;
        f(&mut rec);
        rec.updated_at = crate::model::now_ms() / 1000;
        if let Err(e) = self.store.put_session(id, &rec) {
            tracing::error!(session = %id, "could not save the session record: {e}");
        }
        Some(rec)
    }
}

/// What every driver shares: configuration and the sinks it writes to.
pub struct SessionEnv {
    pub data_dir: PathBuf,
    pub browser: browser::BrowserSpec,
    pub wa_url: String,
    pub wajs_path: PathBuf,
    pub page_timeout: Duration,
    pub load_timeout: Duration,
    pub print_qr: bool,
    pub events: Arc<Events>,
    pub records: Records,
    pub browser_restarts: AtomicU64,
    wajs: OnceLock<Arc<String>>,
}

impl SessionEnv {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        data_dir: PathBuf,
        browser: browser::BrowserSpec,
        wa_url: String,
        wajs_path: PathBuf,
        page_timeout: Duration,
        load_timeout: Duration,
        print_qr: bool,
        events: Arc<Events>,
        records: Records,
    ) -> Self {
        SessionEnv {
            data_dir,
            browser,
            wa_url,
            wajs_path,
            page_timeout,
            load_timeout,
            print_qr,
            events,
            records,
            browser_restarts: AtomicU64::new(0),
            wajs: OnceLock::new(),
        }
    }

    pub fn session_dir(&self, id: &SessionId) -> PathBuf {
        self.data_dir.join("sessions").join(id.as_str())
    }

    /// Where an inbound message's media is kept (named by a hash of its id).
    pub fn media_path(&self, id: &SessionId, msg_id: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(msg_id.as_bytes());
        let name: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.session_dir(id).join("media").join(name)
    }

    /// wa-js's source, read once.
    pub fn wajs(&self) -> Result<Arc<String>, String> {
        if let Some(s) = self.wajs.get() {
            return Ok(s.clone());
        }
        let src = std::fs::read_to_string(&self.wajs_path).map_err(|e| {
            format!(
                "wa-js not found at {} ({e}); run `npm ci` in inject/ or set WABRIDGE_WAJS_PATH",
                self.wajs_path.display()
            )
        })?;
        Ok(self.wajs.get_or_init(|| Arc::new(src)).clone())
    }
}
