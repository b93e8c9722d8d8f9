//! One task per session: owns its browser, follows the page through the
//! bridge, and supervises it. If Chromium dies or the page crashes or hangs,
//! the driver relaunches it on the same profile with backoff; the link
//! survives because it lives in the profile.

use super::bridge::{self, BINDING, BRIDGE_JS, BridgeEvent, CallError, PRELUDE_JS};
use super::browser::{self, RunningBrowser};
use super::{LiveState, SessionEnv};
use crate::events::Event;
use crate::messages::{self, Message};
use crate::model::{Ack, Me, SessionId, Status};
use crate::store::Op;
use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::{inspector, page as cdp_page};
use chromiumoxide::cdp::js_protocol::runtime::{AddBindingParams, EventBindingCalled};
use futures::{FutureExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

pub enum Cmd {
    Stop(oneshot::Sender<()>),
    Logout(oneshot::Sender<()>),
}

enum Outcome {
    Stop(Option<oneshot::Sender<()>>),
    Logout(oneshot::Sender<()>),
    LoggedOut,
    /// The page loaded but is not (or not yet) WhatsApp Web, or could not load.
    Failed(String),
    /// Browser or page died or hung: relaunch.
    Crashed(String),
}

pub struct Driver {
    pub id: SessionId,
    pub env: Arc<SessionEnv>,
    pub state: watch::Sender<LiveState>,
    pub page: watch::Sender<Option<Page>>,
    pub cmds: mpsc::Receiver<Cmd>,
    /// Set on (re)connect: fetch what the page saw that we may have missed.
    pub catch_up_due: bool,
    /// The last catch-up failed: try again on the next health tick.
    pub catch_up_retry: bool,
    /// Where catch-ups of this browser life start (unix s). Fixed when the
    /// life begins, before it stores anything: messages of this life that
    /// are stored before a catch-up runs must not move it past the gap a
    /// crash left behind.
    pub catch_up_since: i64,
}

/// How far before the newest stored message a catch-up looks: covers
/// messages whose timestamp (the sender's clock) is older than one already
/// stored, e.g. delivered late. Duplicates are dropped by id.
const CATCH_UP_OVERLAP_S: i64 = 600;

/// The catch-up watermark for a browser life that begins now.
pub fn catch_up_since(newest_stored: Option<i64>, now: i64) -> i64 {
    match newest_stored {
        Some(ts) => ts - CATCH_UP_OVERLAP_S,
        // Never stored anything: don't replay the account's whole history.
        None => now - 60,
    }
}

struct Backoff(Duration);
impl Backoff {
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(30));
        // Jitter so many sessions do not relaunch in lockstep.
        d + Duration::from_millis(rand::random::<u64>() % 250)
    }
}

impl Driver {
    fn session_dir(&self) -> std::path::PathBuf {
        self.env.session_dir(&self.id)
    }

    /// Changes the live state; a status change is published and stored.
    fn update(&self, f: impl FnOnce(&mut LiveState)) {
        let mut changed = None;
        self.state.send_modify(|s| {
            let before = (s.status, s.error.clone());
            f(s);
            if before != (s.status, s.error.clone()) {
                changed = Some(s.clone());
            }
        });
        if let Some(s) = changed {
            tracing::info!(session = %self.id, status = s.status.as_str(), error = s.error.as_deref().unwrap_or(""), "session status");
            let mut payload = json!({"status": s.status});
            if let Some(e) = &s.error {
                payload["error"] = json!(e);
            }
            self.env
                .events
                .emit(Event::new(&self.id, "session.status", payload));
            self.env.records.update(&self.id, |r| {
                r.status = s.status;
                r.error = s.error.clone();
                if s.me.is_some() {
                    r.me = s.me.clone();
                    r.platform = s.platform.clone();
                }
            });
        }
    }

    fn set_status(&self, status: Status, error: Option<String>) {
        self.update(|s| {
            s.status = status;
            s.error = error;
            if status != Status::ScanQr {
                s.qr = None;
            }
        });
    }

    pub async fn run(mut self) {
        let mut backoff = Backoff(Duration::from_secs(1));
        let mut failures = 0u32;
        loop {
            if self.state.borrow().status != Status::Disconnected {
                self.set_status(Status::Starting, None);
            }
            let (env, dir) = (self.env.clone(), self.session_dir());
            let launched = tokio::select! {
                r = browser::launch(&env.browser, &dir) => r,
                cmd = self.cmds.recv() => {
                    self.finish_without_browser(cmd).await;
                    return;
                }
            };
            let b = match launched {
                Ok(b) => b,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(session = %self.id, "browser launch failed: {e:#}");
                    if failures >= 3 {
                        self.end(
                            Status::Failed,
                            Some(format!("the browser could not be started: {e:#}")),
                        );
                        return;
                    }
                    if !self.pause(backoff.next()).await {
                        return;
                    }
                    continue;
                }
            };
            self.update(|s| s.browser_pid = Some(b.pid()));
            let started = Instant::now();
            let outcome = self.run_page(&b).await;
            let _ = self.page.send(None);
            self.update(|s| s.browser_pid = None);
            match outcome {
                Outcome::Stop(reply) => {
                    b.shutdown().await;
                    self.set_status(Status::Stopped, None);
                    if let Some(r) = reply {
                        let _ = r.send(());
                    }
                    return;
                }
                Outcome::Logout(reply) => {
                    let r: Result<bool, CallError> =
                        bridge::call(&b.page, self.env.page_timeout, "logout", &[]).await;
                    if let Err(e) = r {
                        tracing::warn!(session = %self.id, "logout in the page failed ({e}); wiping the profile anyway");
                    }
                    b.shutdown().await;
                    self.logged_out().await;
                    let _ = reply.send(());
                    return;
                }
                Outcome::LoggedOut => {
                    b.shutdown().await;
                    self.logged_out().await;
                    return;
                }
                Outcome::Failed(msg) => {
                    b.shutdown().await;
                    failures += 1;
                    let linked = self.env.records.get(&self.id).and_then(|r| r.me).is_some();
                    // A linked session retries (WhatsApp may be briefly
                    // unreachable); an unlinked one is misconfigured: say so.
                    if !linked || failures >= 5 {
                        self.end(Status::Failed, Some(msg));
                        return;
                    }
                    tracing::warn!(session = %self.id, "{msg}; retrying");
                    self.set_status(Status::Disconnected, Some(msg));
                }
                Outcome::Crashed(msg) => {
                    drop(b);
                    tracing::warn!(session = %self.id, "{msg}; relaunching the browser");
                    self.env
                        .browser_restarts
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if started.elapsed() > Duration::from_secs(60) {
                        backoff = Backoff(Duration::from_secs(1));
                        failures = 0;
                    }
                    self.set_status(Status::Disconnected, Some(msg));
                }
            }
            if !self.pause(backoff.next()).await {
                return;
            }
        }
    }

    /// Sleeps, but obeys stop/logout meanwhile. False if the driver must end.
    async fn pause(&mut self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            cmd = self.cmds.recv() => {
                self.finish_without_browser(cmd).await;
                false
            }
        }
    }

    async fn finish_without_browser(&mut self, cmd: Option<Cmd>) {
        match cmd {
            Some(Cmd::Logout(r)) => {
                self.logged_out().await;
                let _ = r.send(());
            }
            Some(Cmd::Stop(r)) => {
                self.set_status(Status::Stopped, None);
                let _ = r.send(());
            }
            None => self.set_status(Status::Stopped, None),
        }
    }

    fn end(&self, status: Status, error: Option<String>) {
        self.set_status(status, error);
        self.env.records.update(&self.id, |r| r.should_run = false);
    }

    async fn logged_out(&self) {
        let profile = self.session_dir().join("profile");
        if let Err(e) = tokio::fs::remove_dir_all(&profile).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::error!(session = %self.id, "could not wipe the profile: {e}");
            }
        }
        self.update(|s| {
            s.me = None;
            s.platform = None;
        });
        self.env.records.update(&self.id, |r| {
            r.me = None;
            r.platform = None;
        });
        self.end(Status::LoggedOut, None);
    }

    async fn run_page(&mut self, b: &RunningBrowser) -> Outcome {
        let page = &b.page;
        let newest = self
            .env
            .records
            .store()
            .last_message_ts(&self.id)
            .ok()
            .flatten();
        self.catch_up_since = catch_up_since(newest, crate::model::now_ms() / 1000);
        let t = self.env.page_timeout;
        macro_rules! cdp {
            ($e:expr, $what:literal) => {
                match tokio::time::timeout(t, $e).await {
                    Ok(Ok(v)) => v,
                    Ok(Err(e)) => return Outcome::Crashed(format!("{}: {e}", $what)),
                    Err(_) => return Outcome::Crashed(format!("{}: timed out", $what)),
                }
            };
        }
        let mut bindings = cdp!(
            page.event_listener::<EventBindingCalled>(),
            "listening to the page"
        );
        let mut crashes = cdp!(
            page.event_listener::<inspector::EventTargetCrashed>(),
            "listening to the page"
        );
        let mut loads = cdp!(
            page.event_listener::<cdp_page::EventLoadEventFired>(),
            "listening to the page"
        );
        cdp!(
            page.execute(AddBindingParams::new(BINDING)),
            "adding the bridge binding"
        );
        cdp!(
            page.execute(inspector::EnableParams::default()),
            "enabling the inspector"
        );
        for src in [PRELUDE_JS, BRIDGE_JS] {
            cdp!(
                page.execute(cdp_page::AddScriptToEvaluateOnNewDocumentParams::new(src)),
                "installing the bridge"
            );
        }
        let url = self.env.wa_url.clone();
        let nav = cdp!(
            page.execute(cdp_page::NavigateParams::new(url.clone())),
            "navigating"
        );
        if let Some(err) = nav.result.error_text.as_ref().filter(|e| !e.is_empty()) {
            return Outcome::Failed(format!(
                "the WhatsApp page at {url} could not be loaded: {err}"
            ));
        }
        let _ = self.page.send(Some(page.clone()));

        let mut gone = b.gone.clone();
        let mut ready = false;
        let ready_deadline = tokio::time::sleep(self.env.load_timeout);
        tokio::pin!(ready_deadline);
        let mut health = tokio::time::interval(Duration::from_secs(10));
        health.tick().await;
        let mut misses = 0;
        loop {
            tokio::select! {
                ev = bindings.next() => match ev {
                    Some(ev) if ev.name == BINDING => {
                        let mut ops = Vec::new();
                        let mut outcome = None;
                        // Take every batch already waiting, so that a busy
                        // page costs one transaction and one flush per round,
                        // not one per batch.
                        let mut batch = bridge::parse_batch(&ev.payload);
                        while batch.len() < 5000 {
                            match bindings.next().now_or_never() {
                                Some(Some(more)) if more.name == BINDING => batch.extend(bridge::parse_batch(&more.payload)),
                                Some(Some(_)) => {}
                                _ => break,
                            }
                        }
                        for e in batch {
                            match &e {
                                BridgeEvent::Ready => ready = true,
                                BridgeEvent::Message { msg } => {
                                    self.message_op(page, msg, &mut ops).await;
                                    continue;
                                }
                                BridgeEvent::Ack { ack, chat, ids } => {
                                    let ack = Ack::from_wa(*ack);
                                    let chat = chat.clone().unwrap_or_default();
                                    for id in ids {
                                        let event = messages::ack_event(&self.id, id, &chat, ack);
                                        ops.push(Op::Ack { session: self.id.clone(), id: id.clone(), ack, event });
                                    }
                                    continue;
                                }
                                BridgeEvent::Revoke { id: Some(id), chat } => {
                                    ops.push(Op::Event(messages::revoke_event(&self.id, id, chat.as_deref().unwrap_or(""))));
                                    continue;
                                }
                                _ => {}
                            }
                            if let Some(o) = self.on_bridge(e).await {
                                outcome = Some(o);
                                break;
                            }
                        }
                        // Durable before anything else sees it; one flush per batch.
                        self.commit(ops).await;
                        if let Some(o) = outcome {
                            return o;
                        }
                        if self.catch_up_due {
                            self.catch_up_due = false;
                            self.catch_up_retry = !self.catch_up(page).await;
                        }
                    }
                    Some(_) => {}
                    None => return Outcome::Crashed("the browser connection closed".into()),
                },
                Some(_) = loads.next() => {
                    if let Err(msg) = self.inject_wajs_if_needed(page).await {
                        return Outcome::Failed(msg);
                    }
                }
                Some(_) = crashes.next() => return Outcome::Crashed("the WhatsApp page crashed".into()),
                _ = gone.changed() => return Outcome::Crashed("the browser exited".into()),
                cmd = self.cmds.recv() => return match cmd {
                    Some(Cmd::Stop(r)) => Outcome::Stop(Some(r)),
                    Some(Cmd::Logout(r)) => Outcome::Logout(r),
                    None => Outcome::Stop(None),
                },
                _ = &mut ready_deadline, if !ready => {
                    let title: String = bridge::evaluate(page, t, "document.title").await.unwrap_or_default();
                    let wpp: bool = bridge::evaluate(page, t, "typeof window.WPP === 'object'").await.unwrap_or(false);
                    return Outcome::Failed(format!(
                        "WhatsApp Web did not start within {}s at {url} (page title {title:?}; {})",
                        self.env.load_timeout.as_secs(),
                        if wpp { "wa-js was injected but found no WhatsApp Web in the page" } else { "wa-js could not be injected" }
                    ));
                }
                _ = health.tick() => {
                    if self.catch_up_retry {
                        self.catch_up_retry = !self.catch_up(page).await;
                    }
                    match bridge::evaluate::<i64>(page, Duration::from_secs(5), "1").await {
                        Ok(_) => misses = 0,
                        Err(CallError::Timeout(_)) => {
                            misses += 1;
                            if misses >= 2 {
                                return Outcome::Crashed("the WhatsApp page stopped responding".into());
                            }
                        }
                        Err(e) => return Outcome::Crashed(format!("the page is gone: {e}")),
                    }
                }
            }
        }
    }

    /// Real WhatsApp Web has no `WPP`: inject wa-js on every load.
    async fn inject_wajs_if_needed(&self, page: &Page) -> Result<(), String> {
        let src = match self.env.wajs() {
            Ok(s) => s,
            // Only needed if the page lacks WPP; the sandbox brings its own.
            Err(e) => {
                let has: bool = bridge::evaluate(
                    page,
                    self.env.page_timeout,
                    "typeof window.WPP === 'object'",
                )
                .await
                .unwrap_or(false);
                return if has { Ok(()) } else { Err(e) };
            }
        };
        match bridge::inject_wajs_if_missing(page, self.env.page_timeout, &src).await {
            Ok(injected) => {
                if injected {
                    tracing::debug!(session = %self.id, "wa-js injected");
                }
                Ok(())
            }
            Err(e) => Err(format!("wa-js could not be injected: {e}")),
        }
    }

    /// A message from the page becomes a stored message and its events;
    /// inbound media is fetched from the page and kept on disk first.
    async fn message_op(&self, page: &Page, raw: &serde_json::Value, ops: &mut Vec<Op>) {
        let Some(mut msg) = Message::from_bridge(&self.id, raw) else {
            tracing::debug!(session = %self.id, "ignoring a message without id or chat");
            return;
        };
        if msg.media.is_some() && !msg.from_me {
            match self.download_media(page, &msg.id).await {
                Ok(size) => {
                    if let Some(m) = msg.media.as_mut() {
                        m.size = Some(size);
                    }
                }
                Err(e) => tracing::warn!(session = %self.id, msg = %msg.id, "media not kept: {e}"),
            }
        }
        let events = msg.events();
        ops.push(Op::Message { msg, events });
    }

    async fn download_media(&self, page: &Page, id: &str) -> Result<u64, String> {
        use base64::Engine as _;
        let path = self.env.media_path(&self.id, id);
        if let Ok(meta) = tokio::fs::metadata(&path).await {
            return Ok(meta.len());
        }
        let b64: String = bridge::call(page, self.env.page_timeout, "downloadMedia", &[json!(id)])
            .await
            .map_err(|e| e.to_string())?;
        if b64.len() / 4 * 3 > super::MAX_MEDIA {
            return Err(format!("larger than {} MB", super::MAX_MEDIA >> 20));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("bad base64 from the page: {e}"))?;
        let dir = path.parent().expect("media dir");
        browser::ensure_private_dir(dir).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, &bytes)
            .await
            .map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| e.to_string())?;
        Ok(bytes.len() as u64)
    }

    async fn commit(&self, ops: Vec<Op>) {
        if let Err(e) = self.env.events.commit(ops).await {
            // Not acknowledged anywhere: the next catch-up finds these again.
            tracing::error!(session = %self.id, "could not store events: {e}");
        }
    }

    /// After every (re)connect: what the page holds since this life's
    /// watermark. Closes the gap of a crash between the page seeing a message
    /// (and confirming it to WhatsApp) and the store keeping it; duplicates
    /// are dropped by id.
    /// Returns false if it must be tried again (it is, on the next health tick).
    async fn catch_up(&self, page: &Page) -> bool {
        let since = self.catch_up_since;
        // It walks every chat: give it more than one call's time.
        let recent: Result<Vec<serde_json::Value>, CallError> = bridge::call(
            page,
            self.env.page_timeout * 3,
            "recent",
            &[json!(since), json!(200)],
        )
        .await;
        match recent {
            Ok(list) => {
                let mut ops = Vec::new();
                for raw in &list {
                    self.message_op(page, raw, &mut ops).await;
                }
                let n = ops.len();
                match self.env.events.commit(ops).await {
                    Ok(events) => {
                        if !events.is_empty() {
                            tracing::info!(session = %self.id, checked = n, new_events = events.len(), "caught up after connect");
                        }
                        true
                    }
                    Err(e) => {
                        tracing::warn!(session = %self.id, "catch-up could not be stored: {e}");
                        false
                    }
                }
            }
            Err(e) => {
                tracing::warn!(session = %self.id, "catch-up failed, will retry: {e}");
                false
            }
        }
    }

    async fn on_bridge(&mut self, ev: BridgeEvent) -> Option<Outcome> {
        match ev {
            BridgeEvent::AuthCode { code: Some(code) } => {
                if self.state.borrow().qr.as_deref() == Some(code.as_str()) {
                    return None;
                }
                self.update(|s| {
                    s.status = Status::ScanQr;
                    s.error = None;
                    s.qr = Some(code.clone());
                });
                let data_url = crate::qr::png_data_url(&code).unwrap_or_default();
                if self.env.print_qr {
                    if let Ok(t) = crate::qr::terminal(&code) {
                        eprintln!(
                            "Session {}: scan this QR with WhatsApp (Linked devices):\n{t}",
                            self.id
                        );
                    }
                }
                self.env.events.emit(Event::new(
                    &self.id,
                    "session.qr",
                    json!({"qr": code, "data_url": data_url}),
                ));
            }
            BridgeEvent::AuthCode { code: None } => self.update(|s| s.qr = None),
            BridgeEvent::Connected { me, platform } => {
                let phone = me
                    .phone
                    .clone()
                    .unwrap_or_else(|| me.id.split('@').next().unwrap_or("").to_string());
                let me = Me {
                    id: me.id,
                    phone,
                    name: me.name,
                };
                self.update(|s| {
                    s.status = Status::Connected;
                    s.error = None;
                    s.qr = None;
                    s.me = Some(me.clone());
                    s.platform = platform.clone();
                });
                self.env.records.update(&self.id, |r| {
                    r.me = Some(me);
                    r.platform = platform;
                });
                self.catch_up_due = true;
            }
            BridgeEvent::Online { online: false } => {
                if self.state.borrow().status == Status::Connected {
                    self.set_status(
                        Status::Disconnected,
                        Some("the connection to WhatsApp was lost; reconnecting".into()),
                    );
                }
            }
            BridgeEvent::Online { online: true } => {
                // Back online: what arrived meanwhile may have been synced
                // into the page's history without a new-message event.
                self.catch_up_due = true;
                let s = self.state.borrow().clone();
                if s.status == Status::Disconnected && s.me.is_some() {
                    self.set_status(Status::Connected, None);
                }
            }
            BridgeEvent::Logout => return Some(Outcome::LoggedOut),
            BridgeEvent::Message { .. } | BridgeEvent::Ack { .. } | BridgeEvent::Revoke { .. } => {}
            BridgeEvent::Injected
            | BridgeEvent::Ready
            | BridgeEvent::Authenticated
            | BridgeEvent::RequireAuth
            | BridgeEvent::Unknown => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catch_up_watermark_looks_back_from_the_newest_stored_message() {
        assert_eq!(
            catch_up_since(Some(10_000), 99_999),
            10_000 - CATCH_UP_OVERLAP_S
        );
        assert_eq!(catch_up_since(None, 99_999), 99_999 - 60);
    }
}
