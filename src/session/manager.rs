//! The registry of sessions. It holds handles only; each browser belongs to
//! its driver task. Starting, stopping and logging out go through the driver.

use super::bridge::{Bridge, CallError};
use super::driver::{Cmd, Driver};
use super::{LiveState, Records, SessionEnv};
use crate::domain::{CallPolicy, Limits, SessionId, SessionRecord, Status, Webhook, now_ms};
use chromiumoxide::Page;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot, watch};

struct Handle {
    /// Where the session's browser writes its process group.
    dir: std::path::PathBuf,
    cmds: mpsc::Sender<Cmd>,
    state: watch::Receiver<LiveState>,
    page: watch::Receiver<Option<Page>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("session '{0}' does not exist")]
    NotFound(SessionId),
    #[error("session '{0}' already exists")]
    Exists(SessionId),
    #[error("{0}")]
    WrongState(String),
    /// The browser is about to be restarted (a memory or age ceiling): the
    /// call was not made; it may be made again in a moment.
    #[error("{0}")]
    Recycling(String),
    /// A session export that is not one, or not of the session named.
    #[error("{0}")]
    BadExport(String),
    #[error("{0}")]
    Internal(String),
    /// The store refused or failed the write.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

pub struct Manager {
    env: Arc<SessionEnv>,
    handles: Mutex<HashMap<SessionId, Handle>>,
    /// One lifecycle change per session at a time (start, stop, restart,
    /// logout, delete, moves). Without it a start racing a delete brought
    /// a browser back for a session that no longer existed, and a second
    /// delete launched a browser into the first one's logout.
    lifecycle: std::sync::Mutex<HashMap<SessionId, Arc<Mutex<()>>>>,
    /// Set when the daemon shuts down: nothing starts after its browsers
    /// were asked to close.
    closing: std::sync::atomic::AtomicBool,
}

/// A session's turn to change its lifecycle. Its lock leaves the registry
/// with the last holder, so the registry does not grow with every id seen.
struct Turn<'a> {
    manager: &'a Manager,
    id: SessionId,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut locks = self
            .manager
            .lifecycle
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Waiters clone the lock under the registry's lock, so a count of
        // two (the registry's and this guard's) means nobody waits.
        if locks
            .get(&self.id)
            .is_some_and(|l| Arc::strong_count(l) == 2)
        {
            locks.remove(&self.id);
        }
        drop(self.guard.take());
    }
}

/// A session as the API shows it: the record plus the live state.
pub struct SessionView {
    pub record: SessionRecord,
    pub live: Option<LiveState>,
}

impl SessionView {
    pub fn status(&self) -> Status {
        self.live
            .as_ref()
            .map(|l| l.status)
            .unwrap_or(self.record.status)
    }
    pub fn error(&self) -> Option<&str> {
        match &self.live {
            Some(l) => l.error.as_deref(),
            None => self.record.error.as_deref(),
        }
    }
}

impl Manager {
    pub fn new(env: Arc<SessionEnv>) -> Arc<Self> {
        Arc::new(Manager {
            env,
            handles: Mutex::new(HashMap::new()),
            lifecycle: std::sync::Mutex::new(HashMap::new()),
            closing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Waits for the session's turn to change its lifecycle.
    async fn exclusive(&self, id: &SessionId) -> Turn<'_> {
        let lock = self
            .lifecycle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.clone())
            .or_default()
            .clone();
        Turn {
            manager: self,
            id: id.clone(),
            guard: Some(lock.lock_owned().await),
        }
    }

    /// Runs a lifecycle change to its end in a task of its own. A caller
    /// that goes away (a client hanging up, a request timing out) would
    /// otherwise drop it halfway: a driver detached with its browser
    /// running for a session stopped or deleted, a delete that removed
    /// the browser but not the data.
    async fn to_the_end<T, F>(
        self: &Arc<Self>,
        id: &SessionId,
        change: impl FnOnce(Arc<Self>, SessionId) -> F,
    ) -> Result<T, ManagerError>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, ManagerError>> + Send + 'static,
    {
        tokio::spawn(change(self.clone(), id.clone()))
            .await
            .map_err(|e| {
                ManagerError::Internal(format!("the change of session '{id}' failed: {e}"))
            })?
    }

    pub fn env(&self) -> &Arc<SessionEnv> {
        &self.env
    }

    fn records(&self) -> &Records {
        &self.env.records
    }

    pub async fn create(
        self: &Arc<Self>,
        id: SessionId,
        webhooks: Vec<Webhook>,
        start: bool,
        proxy: Option<String>,
        limits: Option<Limits>,
        calls: Option<CallPolicy>,
    ) -> Result<SessionView, ManagerError> {
        let now = now_ms() / 1000;
        let rec = SessionRecord {
            id: id.clone(),
            created_at: now,
            updated_at: now,
            webhooks,
            should_run: false,
            status: Status::Stopped,
            error: None,
            me: None,
            platform: None,
            proxy,
            move_epoch: 0,
            limits,
            calls,
            owed_catch_up: None,
            linked_at: None,
            early_floor: None,
            error_code: None,
        };
        let created = self.env.store.create_session(&id, &rec)?;
        if !created {
            return Err(ManagerError::Exists(id));
        }
        self.env.pipeline.created(&id, rec.webhooks.clone());
        if start {
            self.start(&id).await?;
        }
        self.get(&id).await
    }

    pub async fn list(&self) -> Vec<SessionView> {
        let mut recs: Vec<SessionRecord> = self.records().all();
        recs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let handles = self.handles.lock().await;
        recs.into_iter()
            .map(|record| {
                let live = handles.get(&record.id).map(|h| h.state.borrow().clone());
                SessionView { record, live }
            })
            .collect()
    }

    pub async fn get(&self, id: &SessionId) -> Result<SessionView, ManagerError> {
        let record = self
            .records()
            .get(id)
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        let live = self
            .handles
            .lock()
            .await
            .get(id)
            .map(|h| h.state.borrow().clone());
        Ok(SessionView { record, live })
    }

    /// The live state of a running session, to wait on its changes.
    pub async fn watch(&self, id: &SessionId) -> Option<watch::Receiver<LiveState>> {
        self.handles.lock().await.get(id).map(|h| h.state.clone())
    }

    pub fn exists(&self, id: &SessionId) -> bool {
        self.records().get(id).is_some()
    }

    /// Starts the driver if it is not running. Idempotent.
    pub async fn start(self: &Arc<Self>, id: &SessionId) -> Result<(), ManagerError> {
        self.to_the_end(id, |m, id| async move {
            let _turn = m.exclusive(&id).await;
            m.start_now(&id, true).await
        })
        .await
    }

    /// `start`, in the session's turn.
    /// `resumed`: the session is to run from now on, across a restart
    /// (false for a start only to log out: a daemon killed meanwhile must
    /// not bring back, running, a session that was being logged out).
    async fn start_now(&self, id: &SessionId, resumed: bool) -> Result<(), ManagerError> {
        let rec = self
            .records()
            .get(id)
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        let mut handles = self.handles.lock().await;
        if let Some(h) = handles.get(id)
            && !h.task.is_finished()
        {
            return Ok(());
        }
        if self.closing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ManagerError::WrongState(
                "the daemon is shutting down".into(),
            ));
        }
        if resumed {
            self.records().update(id, |r| r.should_run = true);
        }
        let (cmd_tx, cmd_rx) = mpsc::channel(8);
        let (state_tx, state_rx) = watch::channel(LiveState {
            status: Status::Starting,
            error: None,
            qr: None,
            me: rec.me.clone(),
            platform: rec.platform.clone(),
            versions: None,
            details: None,
            pss_bytes: None,
            error_code: None,
            calls: Default::default(),
            recycling: Default::default(),
            leaving: Default::default(),
            stored_before: None,
        });
        let (page_tx, page_rx) = watch::channel(None);
        let driver = Driver::new(id.clone(), self.env.clone(), state_tx, page_tx, cmd_rx);
        let task = tokio::spawn(driver.run());
        handles.insert(
            id.clone(),
            Handle {
                dir: self.env.session_dir(id),
                cmds: cmd_tx,
                state: state_rx,
                page: page_rx,
                task,
            },
        );
        Ok(())
    }

    /// Stops the driver (closes its browser, keeps the profile).
    pub async fn stop(self: &Arc<Self>, id: &SessionId) -> Result<(), ManagerError> {
        self.to_the_end(id, |m, id| async move {
            let _turn = m.exclusive(&id).await;
            m.stop_now(&id, false).await
        })
        .await
    }

    /// `stop`, in the session's turn. `for_restart`: the session is to run
    /// again, so a daemon that dies meanwhile resumes it.
    async fn stop_now(&self, id: &SessionId, for_restart: bool) -> Result<(), ManagerError> {
        if !self.exists(id) {
            return Err(ManagerError::NotFound(id.clone()));
        }
        if !for_restart {
            self.records().update(id, |r| r.should_run = false);
        }
        let handle = self.handles.lock().await.remove(id);
        if let Some(h) = handle {
            self.ask(h, Cmd::Stop).await;
        }
        self.records().update(id, |r| {
            if r.status.is_running() {
                r.status = Status::Stopped;
            }
        });
        Ok(())
    }

    /// Asks the driver to end (stop or log out) and waits until it has:
    /// its browser is gone before anything else starts on the profile.
    /// False if the driver did not answer (it was busy or stuck, and was
    /// ended here): it did not do what it was asked.
    async fn ask(&self, mut h: Handle, make: fn(oneshot::Sender<()>) -> Cmd) -> bool {
        let (tx, rx) = oneshot::channel();
        let mut done = false;
        h.state
            .borrow()
            .leaving
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if h.cmds.send(make(tx)).await.is_ok() {
            // The driver answers after closing its browser; never wait forever.
            done = matches!(
                tokio::time::timeout(self.env.config.page_timeout + Duration::from_secs(10), rx)
                    .await,
                Ok(Ok(()))
            );
        }
        if !h.task.is_finished() {
            let group = super::browser::recorded_group(&h.dir);
            h.task.abort();
            // Dropping the aborted task ends its browser (and its pid file).
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut h.task).await;
            // Killed is not yet gone: wait, as a driver's own shutdown does.
            if let Some(g) = group {
                super::browser::until_gone(g).await;
            }
        }
        done
    }

    /// The store's records of a deleted session, off the async workers: a
    /// session's whole history is a long scan.
    async fn forget_records(&self, id: &SessionId) -> Result<(), ManagerError> {
        let (store, id) = (self.env.store.clone(), id.clone());
        tokio::task::spawn_blocking(move || store.delete_session(&id))
            .await
            .map_err(|e| ManagerError::Internal(format!("the delete did not finish: {e}")))??;
        Ok(())
    }

    pub async fn restart(self: &Arc<Self>, id: &SessionId) -> Result<(), ManagerError> {
        self.to_the_end(id, |m, id| async move {
            let _turn = m.exclusive(&id).await;
            m.stop_now(&id, true).await?;
            m.start_now(&id, true).await
        })
        .await
    }

    /// Logs the device out (the phone forgets it) and wipes the profile.
    pub async fn logout(self: &Arc<Self>, id: &SessionId) -> Result<(), ManagerError> {
        self.to_the_end(id, |m, id| async move {
            let _turn = m.exclusive(&id).await;
            m.logout_now(&id).await
        })
        .await
    }

    /// `logout`, in the session's turn.
    async fn logout_now(&self, id: &SessionId) -> Result<(), ManagerError> {
        if !self.exists(id) {
            return Err(ManagerError::NotFound(id.clone()));
        }
        // Not to run again whatever happens next: a daemon killed while the
        // page logs out (or while one is brought up to) would otherwise
        // bring the session back linked after the user logged it out.
        self.records().update(id, |r| r.should_run = false);
        let mut handle = self.handles.lock().await.remove(id);
        let linked = self.records().get(id).is_some_and(|r| r.me.is_some());
        let mut started = false;
        if linked && handle.as_ref().is_none_or(|h| h.task.is_finished()) {
            // Stopped but linked: only the page can tell WhatsApp to drop
            // this device. Bring it up (bounded), then log out from it.
            handle = self.start_for_logout(id).await;
            started = true;
        }
        let mut told = match handle {
            Some(h) if !h.task.is_finished() => self.ask(h, Cmd::Logout).await,
            _ => false,
        };
        if !told && linked && !started {
            // Its driver had no page (between browsers after a crash, or
            // launching one) and did not log out, or did not answer: a
            // page brought up for it tells WhatsApp.
            told = match self.start_for_logout(id).await {
                Some(h) if !h.task.is_finished() => self.ask(h, Cmd::Logout).await,
                _ => false,
            };
        }
        if !told && linked {
            tracing::warn!(session = %id, "WhatsApp could not be told of the logout: the link is forgotten here only");
        }
        if !told {
            // Not running, or its driver did not answer (and was ended
            // before its page logged out): nothing to tell WhatsApp from
            // here; forget the link, or the next start would resume it.
            let _ = tokio::fs::remove_dir_all(self.env.session_dir(id).join("profile")).await;
            let was = self.records().get(id).map(|r| r.status);
            self.records().update(id, |r| {
                r.me = None;
                r.platform = None;
                r.owed_catch_up = None;
                r.linked_at = None;
                r.status = Status::LoggedOut;
                r.should_run = false;
            });
            // Told as a driver tells it (open-wa's onLogout listens).
            if was.is_some_and(|s| s != Status::LoggedOut) {
                self.env.pipeline.emit(crate::domain::Event::new(
                    id,
                    crate::domain::EventKind::SessionStatus,
                    serde_json::json!({"status": Status::LoggedOut}),
                ));
            }
        }
        Ok(())
    }

    /// Starts a stopped, linked session and waits (bounded) until it is
    /// connected. None if it does not connect: then the link is forgotten
    /// here only, and the phone still lists the device until it removes it.
    async fn start_for_logout(&self, id: &SessionId) -> Option<Handle> {
        if let Err(e) = self.start_now(id, false).await {
            tracing::warn!(session = %id, "could not start to log out: {e}");
            return None;
        }
        let mut state = self.handles.lock().await.get(id)?.state.clone();
        let limit = self.env.config.load_timeout;
        let connected = tokio::time::timeout(limit, async {
            loop {
                match state.borrow_and_update().status {
                    Status::Connected => return true,
                    // On its way: WhatsApp may still take it.
                    Status::Starting | Status::Disconnected => {}
                    // A QR: the phone already dropped this device.
                    _ => return false,
                }
                if state.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await
        .unwrap_or(false);
        let h = self.handles.lock().await.remove(id)?;
        if connected {
            return Some(h);
        }
        tracing::warn!(session = %id, "did not connect within {limit:?}: the link is forgotten here only");
        self.ask(h, Cmd::Stop).await;
        None
    }

    /// Logs out if linked, stops, and removes the profile and all data.
    pub async fn delete(self: &Arc<Self>, id: &SessionId) -> Result<(), ManagerError> {
        self.to_the_end(id, |m, id| async move { m.delete_in_turn(&id).await })
            .await
    }

    async fn delete_in_turn(&self, id: &SessionId) -> Result<(), ManagerError> {
        let _turn = self.exclusive(id).await;
        let rec = self
            .records()
            .get(id)
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        if rec.me.is_some() {
            // Running or not, a linked device is logged out at WhatsApp.
            self.logout_now(id).await?;
        } else {
            self.stop_now(id, false).await?;
        }
        self.handles.lock().await.remove(id);
        // Marked deleted, durably, before its profile goes: a crash from
        // here on finishes the delete at the next start (`resume_only`)
        // instead of bringing back a session with no profile.
        let store = self.env.store.clone();
        let marked = {
            let id = id.clone();
            tokio::task::spawn_blocking(move || {
                store.update_session(&id, |r| r.created_at = i64::MAX)
            })
            .await
            .map_err(|e| ManagerError::Internal(format!("the delete did not start: {e}")))?
        };
        if let Err(e) = marked {
            return Err(ManagerError::Internal(format!(
                "could not mark the session deleted: {e}"
            )));
        }
        self.env.store.flush().await.map_err(|e| {
            ManagerError::Internal(format!("could not mark the session deleted: {e}"))
        })?;
        let dir = self.env.session_dir(id);
        super::browser::kill_leftover(&dir);
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            // Not deleted after all: the mark goes (its deliveries would
            // be taken for a deleted session's, and the next start would
            // finish the delete unasked).
            self.records().update(id, |r| r.created_at = rec.created_at);
            return Err(ManagerError::Internal(format!(
                "could not remove {}: {e}",
                dir.display()
            )));
        }
        self.forget_records(id).await?;
        self.env.pipeline.forget(id);
        Ok(())
    }

    /// Stops the session's browser (keeping `should_run`) and packs it to
    /// move elsewhere, one move epoch on. The copy here stays, stopped,
    /// until `remove_here`: if the move fails it can start again.
    pub async fn export(self: &Arc<Self>, id: &SessionId) -> Result<Vec<u8>, ManagerError> {
        self.to_the_end(id, |m, id| async move { m.export_in_turn(&id).await })
            .await
    }

    async fn export_in_turn(&self, id: &SessionId) -> Result<Vec<u8>, ManagerError> {
        let _turn = self.exclusive(id).await;
        let rec = self
            .records()
            .get(id)
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        let handle = self.handles.lock().await.remove(id);
        if let Some(h) = handle {
            self.ask(h, Cmd::Stop).await;
        }
        let dir = self.env.session_dir(id);
        super::browser::kill_leftover(&dir);
        let epoch = rec.move_epoch + 1;
        self.records().update(id, |r| {
            r.should_run = rec.should_run;
            r.move_epoch = epoch;
            if r.status.is_running() {
                r.status = Status::Stopped;
            }
        });
        self.env.store.flush().await?;
        // Off the runtime's workers: a long history is a long read.
        let records = {
            let (store, id) = (self.env.store.clone(), id.clone());
            tokio::task::spawn_blocking(move || store.export_session(&id))
                .await
                .map_err(|e| ManagerError::Internal(e.to_string()))??
        };
        let manifest = super::transfer::Manifest {
            format: super::transfer::FORMAT,
            session: id.as_str().to_string(),
            move_epoch: epoch,
            exported_at: now_ms(),
        };
        tokio::task::spawn_blocking(move || super::transfer::pack(&manifest, &records, &dir))
            .await
            .map_err(|e| ManagerError::Internal(e.to_string()))?
            .map_err(|e| ManagerError::Internal(format!("could not pack the session: {e}")))
    }

    /// Takes in a session packed by `export` (here or on another daemon)
    /// and starts it if it was running. Refused if this daemon has a copy
    /// of the same or a newer move epoch: a replayed or stale export never
    /// replaces a newer session.
    pub async fn import(
        self: &Arc<Self>,
        id: &SessionId,
        bytes: Vec<u8>,
    ) -> Result<SessionView, ManagerError> {
        self.to_the_end(
            id,
            |m, id| async move { m.import_in_turn(&id, bytes).await },
        )
        .await
    }

    async fn import_in_turn(
        &self,
        id: &SessionId,
        bytes: Vec<u8>,
    ) -> Result<SessionView, ManagerError> {
        let b = tokio::task::spawn_blocking(move || super::transfer::unpack(&bytes))
            .await
            .map_err(|e| ManagerError::Internal(e.to_string()))?
            .map_err(ManagerError::BadExport)?;
        if b.manifest.session != id.as_str() {
            return Err(ManagerError::BadExport(format!(
                "the export is of session '{}', not '{id}'",
                b.manifest.session
            )));
        }
        let id = id.clone();
        let _turn = self.exclusive(&id).await;
        let rec: SessionRecord = b
            .records
            .iter()
            .find(|(t, _, _)| t == "sessions")
            .and_then(|(_, _, v)| serde_json::from_slice(v).ok())
            .ok_or_else(|| ManagerError::BadExport("the export holds no session record".into()))?;
        if rec.id != id || rec.move_epoch != b.manifest.move_epoch {
            return Err(ManagerError::BadExport(
                "the export's session record does not match its manifest".into(),
            ));
        }
        // Before anything here is replaced: an export that cannot be taken
        // in whole, or a disk without room for it, must leave the session
        // as it was.
        crate::store::Store::check_import(&id, &b.records).map_err(ManagerError::BadExport)?;
        self.env.store.room()?;
        if let Some(mine) = self.records().get(&id) {
            if mine.move_epoch >= rec.move_epoch {
                return Err(ManagerError::WrongState(format!(
                    "this daemon has session '{id}' at move epoch {}; the export is at {}",
                    mine.move_epoch, rec.move_epoch
                )));
            }
            // An older copy left behind by an earlier move: replaced. (The
            // registry's lock is not held while the driver stops.)
            let old = self.handles.lock().await.remove(&id);
            if let Some(h) = old {
                self.ask(h, Cmd::Stop).await;
            }
        }
        let dir = self.env.session_dir(&id);
        super::browser::kill_leftover(&dir);
        let files = b.files;
        let at = dir.clone();
        tokio::task::spawn_blocking(move || super::transfer::place(&files, &at))
            .await
            .map_err(|e| ManagerError::Internal(e.to_string()))?
            .map_err(|e| {
                ManagerError::Internal(format!("could not write {}: {e}", dir.display()))
            })?;
        // Off the runtime's workers: a long history is a long write.
        let pending = {
            let (store, id, records) = (self.env.store.clone(), id.clone(), b.records);
            tokio::task::spawn_blocking(move || store.import_session(&id, &records))
                .await
                .map_err(|e| ManagerError::Internal(e.to_string()))??
        };
        self.records().update(&id, |r| {
            if r.status.is_running() {
                r.status = Status::Stopped;
            }
        });
        self.env.store.flush().await?;
        self.env.pipeline.forget(&id);
        self.env.pipeline.created(&id, rec.webhooks.clone());
        tracing::info!(session = %id, epoch = rec.move_epoch, pending = pending.len(), "session imported");
        self.env.pipeline.requeue(pending);
        if rec.should_run {
            self.start_now(&id, true).await?;
        }
        self.get(&id).await
    }

    /// Removes this daemon's copy of a session that now lives elsewhere:
    /// its browser, directory and records, without logging the device out.
    pub async fn remove_here(self: &Arc<Self>, id: &SessionId) -> Result<(), ManagerError> {
        self.to_the_end(id, |m, id| async move { m.remove_here_in_turn(&id).await })
            .await
    }

    async fn remove_here_in_turn(&self, id: &SessionId) -> Result<(), ManagerError> {
        let _turn = self.exclusive(id).await;
        let handle = self.handles.lock().await.remove(id);
        if let Some(h) = handle {
            self.ask(h, Cmd::Stop).await;
        }
        let dir = self.env.session_dir(id);
        super::browser::kill_leftover(&dir);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ManagerError::Internal(format!(
                    "could not remove {}: {e}",
                    dir.display()
                )));
            }
        }
        self.forget_records(id).await?;
        self.env.store.flush().await?;
        self.env.pipeline.forget(id);
        Ok(())
    }

    /// Adds a webhook unless one with the same URL and format is there.
    pub async fn add_webhook(
        &self,
        id: &SessionId,
        hook: Webhook,
    ) -> Result<SessionView, ManagerError> {
        self.env
            .pipeline
            .update_webhooks(id, |hooks| {
                if !hooks
                    .iter()
                    .any(|h| h.url == hook.url && h.format == hook.format)
                {
                    hooks.push(hook.clone());
                }
            })?
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        self.get(id).await
    }

    /// Changes the webhooks in place (one writer at a time: two changes at
    /// once both take effect). `f` answers what the caller wants back.
    pub async fn edit_webhooks<T>(
        &self,
        id: &SessionId,
        f: impl Fn(&mut Vec<Webhook>) -> T,
    ) -> Result<T, ManagerError> {
        let out = std::sync::Mutex::new(None);
        self.env
            .pipeline
            .update_webhooks(id, |hooks| {
                *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(f(hooks));
            })?
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        out.into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .ok_or_else(|| ManagerError::NotFound(id.clone()))
    }

    pub async fn set_proxy(
        &self,
        id: &SessionId,
        proxy: Option<String>,
    ) -> Result<SessionView, ManagerError> {
        self.records()
            .update(id, |r| r.proxy = proxy.clone())
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        self.get(id).await
    }

    /// A running browser keeps its life; the new ceilings apply from its
    /// next health tick.
    pub async fn set_limits(
        &self,
        id: &SessionId,
        limits: Option<Limits>,
    ) -> Result<SessionView, ManagerError> {
        self.records()
            .update(id, |r| r.limits = limits.clone())
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        self.get(id).await
    }

    /// What the session does with calls from now on (None: nothing).
    pub async fn set_call_policy(
        &self,
        id: &SessionId,
        calls: Option<CallPolicy>,
    ) -> Result<SessionView, ManagerError> {
        self.records()
            .update(id, |r| r.calls = calls.clone())
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        self.get(id).await
    }

    pub async fn set_webhooks(
        &self,
        id: &SessionId,
        hooks: Vec<Webhook>,
    ) -> Result<SessionView, ManagerError> {
        self.env
            .pipeline
            .set_webhooks(id, hooks)?
            .ok_or_else(|| ManagerError::NotFound(id.clone()))?;
        self.get(id).await
    }

    /// The page of a running session, for calls into it.
    pub async fn page(&self, id: &SessionId) -> Result<(Page, LiveState), ManagerError> {
        let handles = self.handles.lock().await;
        let h = handles.get(id).ok_or_else(|| {
            if self.exists(id) {
                ManagerError::WrongState(format!("session '{id}' is not running"))
            } else {
                ManagerError::NotFound(id.clone())
            }
        })?;
        let live = h.state.borrow().clone();
        let page = h.page.borrow().clone();
        match page {
            Some(p) => Ok((p, live)),
            None => Err(ManagerError::WrongState(format!(
                "session '{id}' has no browser right now (status {})",
                live.status.as_str()
            ))),
        }
    }

    /// On daemon start: end browsers a crashed daemon left, resume sessions.
    /// Starts the sessions that were running when the daemon stopped, of
    /// those `here` says belong on this daemon.
    pub async fn resume_only(self: &Arc<Self>, here: impl Fn(&SessionId) -> bool) {
        let mut recs: Vec<SessionRecord> = self.records().all();
        // A delete cut short (a crash mid-way) marked its record born
        // last; it is finished now, not resumed.
        for rec in recs.iter().filter(|r| r.created_at == i64::MAX) {
            // In its turn: the API answers meanwhile.
            let _turn = self.exclusive(&rec.id).await;
            if self.handles.lock().await.contains_key(&rec.id) {
                continue;
            }
            tracing::warn!(session = %rec.id, "finishing a delete a stop cut short");
            let _ = tokio::fs::remove_dir_all(self.env.session_dir(&rec.id)).await;
            if let Err(e) = self.forget_records(&rec.id).await {
                tracing::error!(session = %rec.id, "could not finish its delete: {e}");
            }
        }
        recs.retain(|r| r.created_at != i64::MAX);
        // The API answers while sessions are being restored: a status
        // stored by the last life (CONNECTED, after a kill -9) must not be
        // read as this life's.
        for rec in recs.iter().filter(|r| r.status.is_running() && here(&r.id)) {
            let now = if rec.should_run {
                Status::Starting
            } else {
                Status::Stopped
            };
            self.records().update(&rec.id, |r| r.status = now);
        }
        for rec in &recs {
            // In the session's turn, and only if this life has not started
            // it: the API answers meanwhile, and a browser a client just
            // started is no leftover.
            let _turn = self.exclusive(&rec.id).await;
            if self.handles.lock().await.contains_key(&rec.id) {
                continue;
            }
            super::browser::kill_leftover(&self.env.session_dir(&rec.id));
        }
        for rec in recs {
            if !here(&rec.id) {
                tracing::warn!(session = %rec.id, "not resumed: its home is another peer");
                continue;
            }
            if rec.should_run {
                tracing::info!(session = %rec.id, "resuming session");
                if let Err(e) = self.start(&rec.id).await {
                    tracing::error!(session = %rec.id, "could not resume: {e}");
                }
            }
        }
    }

    /// Graceful shutdown: close every browser, keep profiles and `should_run`.
    pub async fn shutdown(&self) {
        self.closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let handles: Vec<(SessionId, Handle)> = self.handles.lock().await.drain().collect();
        // A driver's stop leaves `should_run` as it is: what runs now
        // resumes at the next start, and what ended by itself (logged out
        // by the phone, FAILED, even while this stop was on its way) stays
        // ended.
        let futs = handles
            .into_iter()
            .map(|(_, h)| async move { self.ask(h, Cmd::Stop).await });
        futures::future::join_all(futs).await;
    }
}

/// Why a call into a session's page failed.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    #[error(transparent)]
    Session(#[from] ManagerError),
    /// The number is not on WhatsApp (checked before sending).
    #[error("{0} is not on WhatsApp")]
    NotOnWhatsApp(String),
    /// WhatsApp Web refused or failed the call.
    #[error("{0}")]
    Page(String),
    /// The page did not answer (timeout) or the browser is gone.
    #[error("{0}")]
    Unavailable(String),
}

impl From<CallError> for CallFailure {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NotOnWhatsApp(who) => CallFailure::NotOnWhatsApp(who),
            CallError::Page(m) => CallFailure::Page(m),
            other => CallFailure::Unavailable(other.to_string()),
        }
    }
}

impl Manager {
    /// The bridge into a connected session's page.
    pub async fn bridge(&self, id: &SessionId) -> Result<Bridge, CallFailure> {
        let (page, live) = self.page(id).await?;
        if live.status != Status::Connected {
            return Err(ManagerError::WrongState(format!(
                "session '{id}' is not connected (status {})",
                live.status.as_str()
            ))
            .into());
        }
        if live.recycling.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ManagerError::Recycling(format!(
                "session '{id}' is restarting its browser (a memory or age ceiling); retry in a few seconds"
            ))
            .into());
        }
        Ok(Bridge::new(page, self.env.config.page_timeout).counting(live.calls))
    }

    /// The bridge into a session's page while it waits to be linked.
    pub async fn unlinked_bridge(&self, id: &SessionId) -> Result<Bridge, CallFailure> {
        let (page, live) = self.page(id).await?;
        if live.status != Status::ScanQr {
            return Err(ManagerError::WrongState(format!(
                "session '{id}' is not waiting to be linked (status {})",
                live.status.as_str()
            ))
            .into());
        }
        Ok(Bridge::new(page, self.env.config.page_timeout))
    }
}
