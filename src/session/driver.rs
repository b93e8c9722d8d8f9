//! One task per session: owns its browser, follows the page through the
//! bridge, and supervises it. If Chromium dies or the page crashes or hangs,
//! the driver relaunches it on the same profile with backoff; the link
//! survives because it lives in the profile.

use super::bridge::{self, BINDING, BRIDGE_JS, Bridge, BridgeEvent, CallError, Compat, PRELUDE_JS};
use super::browser::{self, RunningBrowser};
use super::inbound::Inbound;
use super::proxy_auth;
use super::{LiveState, SessionEnv};
use crate::domain::{Event, EventKind, Me, Proxy, SessionId, Status};
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
    /// The phone dropped this device. With a stop's reply when the page said
    /// so while it was being stopped: answered once the profile is wiped.
    LoggedOut(Option<oneshot::Sender<()>>),
    /// The page loaded but is not (or not yet) WhatsApp Web, or could not load.
    Failed(String),
    /// Browser or page died or hung: relaunch.
    Crashed(String),
    /// wa-js cannot come up on this WhatsApp Web build: say so, retry later.
    Incompatible(Compat, String),
    /// The session's proxy refused its credentials: a clear error, no
    /// retry loop (trying again changes nothing).
    ProxyFailed(String),
    /// The session's proxy could not be reached or could not reach
    /// WhatsApp: final for a session not linked yet, retried for a linked
    /// one (the proxy or the host's network may be back in a minute).
    ProxyDown(String),
    /// Past a memory or age ceiling: restart the browser now, at a quiet
    /// moment. `reason`: `recycled_memory` or `recycled_age`.
    Recycle {
        reason: &'static str,
        detail: String,
    },
}

/// Why a linked session is DISCONNECTED while its page runs.
const UNREACHABLE: &str = "the connection to WhatsApp was lost; reconnecting";

/// A browser is recycled for memory at most this often: a ceiling below
/// what a session needs at rest must not restart it over and over.
const MEMORY_RECYCLE_GAP: Duration = Duration::from_secs(600);

/// A recycle waits for calls in flight (sends) to end; after this long it
/// goes anyway (an unknown send outcome is handled by its Idempotency-Key).
const RECYCLE_MAX_DEFERRAL: Duration = Duration::from_secs(60);

/// With no memory ceiling, a browser's memory is read this often (for the
/// session's record and metrics): reading /proc for a process tree is not
/// free at hundreds of sessions.
const PSS_READ_EVERY: Duration = Duration::from_secs(300);

/// How long a page closed on purpose may keep handing events over, and
/// the quiet that ends it sooner (see `Driver::last_rounds`): what is on
/// its way already, not what the page may yet send (a stop stays quick).
const LAST_ROUNDS: Duration = Duration::from_secs(2);
const LAST_ROUNDS_QUIET: Duration = Duration::from_millis(20);

/// The page's binding calls, as chromiumoxide streams them.
type Bindings = chromiumoxide::listeners::EventStream<EventBindingCalled>;

/// A linked session that fails to come up this many times in a row goes
/// on retrying slowly (`Backoff::outage`).
const QUICK_TRIES: u32 = 5;

pub struct Driver {
    id: SessionId,
    env: Arc<SessionEnv>,
    state: watch::Sender<LiveState>,
    page: watch::Sender<Option<Page>>,
    cmds: mpsc::Receiver<Cmd>,
    inbound: Inbound,
    /// When the browser was last recycled for its memory.
    memory_recycled: Option<Instant>,
    /// This browser's life said `connected` (online or not): the failures
    /// before it were passing ones.
    came_up: bool,
    /// This page (since bridge.js was last injected: WhatsApp Web reloads
    /// itself within one browser's life) said `connected`, online or not.
    page_up: bool,
}

struct Backoff(Duration, Duration);
impl Backoff {
    /// Relaunches after a crash: 1 s, doubling to 30 s.
    fn fast() -> Self {
        Backoff(Duration::from_secs(1), Duration::from_secs(30))
    }

    /// Retries of an INCOMPATIBLE build: 10 s, doubling to 10 minutes.
    fn slow() -> Self {
        Backoff(Duration::from_secs(10), Duration::from_secs(600))
    }

    /// A linked session that keeps failing to come up (WhatsApp or the
    /// network down, a machine too busy to start a browser): 10 s, doubling
    /// to 5 minutes, so it is back soon after the cause goes without a
    /// browser launch a second per session meanwhile.
    fn outage() -> Self {
        Backoff(Duration::from_secs(10), Duration::from_secs(300))
    }

    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(self.1);
        // Jitter so many sessions do not relaunch in lockstep.
        d + Duration::from_millis(rand::random::<u64>() % 250)
    }
}

impl Driver {
    pub fn new(
        id: SessionId,
        env: Arc<SessionEnv>,
        state: watch::Sender<LiveState>,
        page: watch::Sender<Option<Page>>,
        cmds: mpsc::Receiver<Cmd>,
    ) -> Self {
        let mut inbound = Inbound::new(id.clone(), env.clone());
        inbound.leaving = state.borrow().leaving.clone();
        Driver {
            inbound,
            memory_recycled: None,
            came_up: false,
            page_up: false,
            id,
            env,
            state,
            page,
            cmds,
        }
    }

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
            self.publish(&s);
        }
    }

    /// A status as the session's event and record.
    fn publish(&self, s: &LiveState) {
        tracing::info!(session = %self.id, status = s.status.as_str(), error = s.error.as_deref().unwrap_or(""), "session status");
        let mut payload = json!({"status": s.status});
        if let Some(e) = &s.error {
            payload["error"] = json!(e);
        }
        if let Some(code) = s.error_code {
            payload["error_code"] = json!(code);
        }
        self.env
            .pipeline
            .emit(Event::new(&self.id, EventKind::SessionStatus, payload));
        self.env.records.update(&self.id, |r| {
            r.status = s.status;
            r.error = s.error.clone();
            r.error_code = s.error_code.map(String::from);
            if s.me.is_some() {
                r.me = s.me.clone();
                r.platform = s.platform.clone();
            }
        });
    }

    /// The page shows it is linked no more (a QR, or the phone's logout
    /// before the page came up): the account is forgotten, LOGGED_OUT said
    /// once, and the page goes on to a QR (the session still runs).
    fn link_gone(&mut self) {
        if self.state.borrow().me.is_none() {
            return;
        }
        self.forget_account();
        self.inbound.unlinked_now();
        self.set_status(Status::LoggedOut, None);
    }

    /// The account this session was linked to, and what is owed to it.
    fn forget_account(&self) {
        self.update(|s| {
            s.me = None;
            s.platform = None;
        });
        self.env.records.update(&self.id, |r| {
            r.me = None;
            r.platform = None;
            r.owed_catch_up = None;
            r.linked_at = None;
        });
    }

    fn set_status(&self, status: Status, error: Option<String>) {
        self.update(|s| {
            if status != Status::Failed {
                s.error_code = None;
            }
            s.status = status;
            s.error = error;
            if status != Status::ScanQr {
                s.qr = None;
            }
        });
    }

    pub async fn run(mut self) {
        // The manager hands over a state that is already STARTING: say so.
        let first = self.state.borrow().clone();
        self.publish(&first);
        let mut backoff = Backoff::fast();
        // A build WhatsApp rolled out is not fixed in seconds: retry slowly.
        let mut incompatible = Backoff::slow();
        // Lives in a row that failed to come up; any life that connects
        // ends the run.
        let mut failures = 0u32;
        loop {
            if self.state.borrow().status != Status::Disconnected {
                self.set_status(Status::Starting, None);
            }
            let (env, dir) = (self.env.clone(), self.session_dir());
            let proxy = match self.proxy() {
                Ok(p) => p,
                Err(e) => {
                    self.fail_proxy(e);
                    return;
                }
            };
            let launched = tokio::select! {
                r = browser::launch(&env.config.browser, &dir, proxy.as_ref(), env.config.page_timeout) => r,
                cmd = self.cmds.recv() => {
                    self.finish_without_browser(cmd).await;
                    return;
                }
            };
            let b = match launched {
                Ok(b) => {
                    crate::telemetry::browser_launched(self.id.as_str());
                    b
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(session = %self.id, "browser launch failed: {e:#}");
                    let msg = format!("the browser could not be started: {e:#}");
                    if !self.keeps_trying(msg, failures, 3, &mut backoff) {
                        return;
                    }
                    if !self.pause(backoff.next()).await {
                        return;
                    }
                    continue;
                }
            };
            let started = Instant::now();
            self.came_up = false;
            self.page_up = false;
            let outcome = self.run_page(&b, started, proxy.as_ref()).await;
            let _ = self.page.send(None);
            if self.came_up {
                failures = 0;
                // Connected, and for a while: no longer in an outage (a
                // crash right after connecting keeps its backoff, or a
                // page that dies at once would relaunch every second).
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = Backoff::fast();
                }
            }
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
                    let r = Bridge::new(b.page.clone(), self.env.config.page_timeout)
                        .logout()
                        .await;
                    b.shutdown().await;
                    match r {
                        Ok(_) => {
                            self.logged_out().await;
                            let _ = reply.send(());
                        }
                        // Unanswered: the manager brings a new page up to
                        // tell WhatsApp, or forgets the link here only if
                        // none comes up (wiped now, the phone would list
                        // the device for good).
                        Err(e) => {
                            tracing::warn!(session = %self.id, "logout in the page failed ({e}): a new page is to tell WhatsApp");
                            self.set_status(Status::Stopped, None);
                        }
                    }
                    return;
                }
                Outcome::LoggedOut(reply) => {
                    b.shutdown().await;
                    self.logged_out().await;
                    if let Some(r) = reply {
                        let _ = r.send(());
                    }
                    return;
                }
                Outcome::Failed(msg) => {
                    b.shutdown().await;
                    failures += 1;
                    if !self.keeps_trying(msg, failures, 1, &mut backoff) {
                        return;
                    }
                }
                Outcome::ProxyFailed(msg) => {
                    b.shutdown().await;
                    self.fail_proxy(msg);
                    return;
                }
                Outcome::ProxyDown(msg) => {
                    b.shutdown().await;
                    failures += 1;
                    let linked = self.env.records.get(&self.id).and_then(|r| r.me).is_some();
                    if !linked {
                        self.fail_proxy(msg);
                        return;
                    }
                    // Trying on, as any linked session does: DISCONNECTED
                    // (running, for every lifecycle call), with the code a
                    // failing proxy shows.
                    tracing::warn!(session = %self.id, failures, "{msg}; retrying");
                    if failures == QUICK_TRIES {
                        backoff = Backoff::outage();
                    }
                    self.update(|s| {
                        s.status = Status::Disconnected;
                        s.error = Some(msg);
                        s.error_code = Some("PROXY_FAILED");
                    });
                }
                Outcome::Recycle { reason, detail } => {
                    b.shutdown().await;
                    crate::telemetry::browser_recycled(self.id.as_str(), reason);
                    tracing::info!(session = %self.id, reason, "{detail}; restarting the browser");
                    if reason == "recycled_memory" {
                        self.memory_recycled = Some(Instant::now());
                    }
                    // Said with its reason; the relaunch follows at once.
                    self.state.send_modify(|s| {
                        s.status = Status::Starting;
                        s.error = None;
                        s.pss_bytes = None;
                    });
                    self.env
                        .records
                        .update(&self.id, |r| r.status = Status::Starting);
                    self.env.pipeline.emit(Event::new(
                        &self.id,
                        EventKind::SessionStatus,
                        json!({"status": Status::Starting, "reason": reason, "detail": detail}),
                    ));
                    backoff = Backoff::fast();
                    continue;
                }
                Outcome::Incompatible(compat, why) => {
                    b.shutdown().await;
                    crate::telemetry::session_incompatible(self.id.as_str());
                    tracing::warn!(session = %self.id, wa_web = compat.wa_web.as_deref().unwrap_or("?"), wa_js = compat.wa_js.as_deref().unwrap_or("?"), missing = ?compat.missing, "{why}");
                    self.update(|s| {
                        s.status = Status::Incompatible;
                        s.versions = Some(compat.versions());
                        s.error = Some(why);
                        s.details = Some(json!(compat));
                        s.qr = None;
                    });
                    if !self.pause(incompatible.next()).await {
                        return;
                    }
                    continue;
                }
                Outcome::Crashed(msg) => {
                    drop(b);
                    crate::telemetry::browser_crashed(self.id.as_str());
                    tracing::warn!(session = %self.id, "{msg}; relaunching the browser");
                    if started.elapsed() > Duration::from_secs(60) {
                        backoff = Backoff::fast();
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
            // Linked, with no page to tell WhatsApp to drop this device:
            // unanswered, so the manager brings a page up for it, as it
            // does for a stopped session (wiped here, the phone would list
            // the device for good).
            Some(Cmd::Logout(_)) if self.state.borrow().me.is_some() => {
                self.set_status(Status::Stopped, None);
            }
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

    /// After a life that did not come up (`failures` in a row): whether to
    /// try again. An unlinked session gives up after `tries`, FAILED with
    /// why: someone is there to scan, and the cause (a wrong URL, no
    /// browser) is theirs to fix. A linked session never gives up: its link
    /// is good, and WhatsApp, the network or the machine may be down for an
    /// hour; given up, it would stay down, and not even the next start of
    /// the daemon would resume it. It says why it is DISCONNECTED, and
    /// after a few quick tries it retries slowly.
    fn keeps_trying(
        &mut self,
        msg: String,
        failures: u32,
        tries: u32,
        backoff: &mut Backoff,
    ) -> bool {
        let linked = self.env.records.get(&self.id).and_then(|r| r.me).is_some();
        if !linked {
            if failures >= tries {
                self.end(Status::Failed, Some(msg));
                return false;
            }
            return true;
        }
        tracing::warn!(session = %self.id, failures, "{msg}; retrying");
        if failures == QUICK_TRIES {
            *backoff = Backoff::outage();
        }
        self.set_status(Status::Disconnected, Some(msg));
        true
    }

    fn end(&self, status: Status, error: Option<String>) {
        self.set_status(status, error);
        self.env.records.update(&self.id, |r| r.should_run = false);
    }

    async fn logged_out(&self) {
        let profile = self.session_dir().join("profile");
        if let Err(e) = tokio::fs::remove_dir_all(&profile).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(session = %self.id, "could not wipe the profile: {e}");
        }
        self.forget_account();
        self.end(Status::LoggedOut, None);
    }

    async fn run_page(
        &mut self,
        b: &RunningBrowser,
        launched: Instant,
        proxy: Option<&Proxy>,
    ) -> Outcome {
        let page = &b.page;
        let t = self.env.config.page_timeout;
        // Proxy credentials, answered through the DevTools protocol before
        // the first request; `refused` turns true if the proxy rejects them.
        // A proxy given without them is watched too: one that asks for
        // some would otherwise serve its 407 as the page.
        let mut refused = match proxy {
            // Bounded as every call into the browser: a hung one would
            // hold the driver.
            Some(p) => match tokio::time::timeout(t, proxy_auth::answer(page, p)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    return Outcome::Crashed(format!("enabling proxy authentication: {e}"));
                }
                Err(_) => {
                    return Outcome::Crashed(format!(
                        "enabling proxy authentication: no answer within {t:?}"
                    ));
                }
            },
            None => watch::channel(false).1,
        };
        let mut watching_proxy = proxy.is_some();
        let bridge = Bridge::new(page.clone(), t).capped(self.env.config.hang.bound());
        // The loop's own evaluations too (not the set-up before it, which no
        // hang check runs beside).
        let in_loop = t.min(self.env.config.hang.bound());
        self.inbound.begin_life();
        self.state
            .send_if_modified(|s| s.stored_before.take().is_some());
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
        browser::quiet_domains(page, proxy.is_some()).await;
        for src in [PRELUDE_JS, BRIDGE_JS] {
            cdp!(
                page.execute(cdp_page::AddScriptToEvaluateOnNewDocumentParams::new(src)),
                "installing the bridge"
            );
        }
        let url = self.env.config.wa_url.clone();
        let nav = cdp!(
            page.execute(cdp_page::NavigateParams::new(url.clone())),
            "navigating"
        );
        if let Some(err) = nav.result.error_text.as_ref().filter(|e| !e.is_empty()) {
            if let Some(p) = proxy.filter(|_| proxy_auth::is_proxy_error(err)) {
                return Outcome::ProxyDown(format!("the proxy {} failed: {err}", p.masked()));
            }
            return Outcome::Failed(format!(
                "the WhatsApp page at {url} could not be loaded: {err}"
            ));
        }
        let _ = self.page.send(Some(page.clone()));

        let mut gone = b.gone.clone();
        let mut ready = false;
        let ready_deadline = tokio::time::sleep(self.env.config.load_timeout);
        tokio::pin!(ready_deadline);
        let hang = self.env.config.hang;
        let mut health = tokio::time::interval(hang.tick);
        // A tick missed while the loop was busy (a long catch-up) is not
        // made up in a burst: ticks stand for time passed.
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        health.tick().await;
        let mut misses = 0;
        // The last sign of life from the page: an event or a ping answered.
        let mut heard = Instant::now();
        let mut ticks = 0u32;
        let mut deferred: Option<Instant> = None;
        // A new life takes calls (a recycle refused them in the last).
        self.state
            .borrow()
            .recycling
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let mut trimmed = Instant::now();
        // Hidden once linked, not before: the pages' start-up polls on
        // timers, which the background would slow to once a second.
        let mut to_background = self.env.config.browser.background;
        loop {
            tokio::select! {
                ev = bindings.next() => match ev {
                    Some(ev) if ev.name == BINDING => {
                        // A page that speaks is not hung: a ping missed
                        // hours ago counts no more toward a restart.
                        heard = Instant::now();
                        misses = 0;
                        if let Some(o) = self.take_round(&bridge, &ev.payload, &mut bindings, &mut ready).await {
                            return o;
                        }
                        // Not into a page that has not said `connected`: a
                        // reload's new page is half loaded (its catch-up is
                        // due from the load, and runs once it is up).
                        if self.page_up {
                            self.inbound.catch_up_if_due(&bridge).await;
                        }
                        // Caught up: said at once, not at the next tick
                        // (history is loaded from the page only below it).
                        if self.state.borrow().stored_before.is_none()
                            && let Some(before) = self.inbound.stored_before()
                        {
                            self.state.send_modify(|s| s.stored_before = Some(before));
                        }
                        if to_background && self.state.borrow().status == Status::Connected {
                            to_background = false;
                            if let Err(e) = browser::to_background(&b.browser, page).await {
                                // Only costlier: a foreground page works the same.
                                tracing::warn!(session = %self.id, "cannot put the page in the background: {e}");
                            }
                        }
                    }
                    Some(_) => {}
                    None => return Outcome::Crashed("the browser connection closed".into()),
                },
                Some(_) = loads.next() => {
                    if let Err(msg) = self.inject_wajs_if_needed(page).await {
                        return Outcome::Failed(msg);
                    }
                    // A new page life (WhatsApp Web reloads itself into a
                    // new build): it must come up again, within the same
                    // bound, or the build is one wa-js cannot run on. But a
                    // busy machine may deliver a page's load after that
                    // page's own `ready`: a page whose bridge.js said ready
                    // already is not one to wait for (taken for one, it was
                    // declared INCOMPATIBLE a minute later, linked and
                    // working).
                    let up: bool = bridge::evaluate(page, in_loop, "window.__wabridgeReady === true")
                        .await
                        .unwrap_or(false);
                    if !up {
                        ready = false;
                        // The new page may hold messages that came before
                        // bridge.js listened: nothing is trimmed from it
                        // until its catch-up has read them.
                        self.catch_up_due();
                        ready_deadline
                            .as_mut()
                            .reset(tokio::time::Instant::now() + self.env.config.load_timeout);
                    }
                }
                Some(_) = crashes.next() => {
                    return self.taken_before_crash(Outcome::Crashed("the WhatsApp page crashed".into()), &bridge, &mut bindings, &mut ready).await;
                }
                _ = gone.changed() => {
                    return self.taken_before_crash(Outcome::Crashed("the browser exited".into()), &bridge, &mut bindings, &mut ready).await;
                }
                res = refused.changed(), if watching_proxy => {
                    let said_no = res.is_ok() && *refused.borrow();
                    if res.is_err() {
                        watching_proxy = false;
                    }
                    if said_no {
                        let why = match proxy {
                            Some(p) if p.user.is_none() => format!("the proxy {} asks for a user and password, and the session's proxy URL has none", p.masked()),
                            p => format!("the proxy {} refused the session's user and password", p.map(Proxy::masked).unwrap_or_default()),
                        };
                        return Outcome::ProxyFailed(why);
                    }
                }
                cmd = self.cmds.recv() => return match cmd {
                    Some(Cmd::Stop(r)) => self.last_rounds(Outcome::Stop(Some(r)), &bridge, &mut bindings, &mut ready).await,
                    Some(Cmd::Logout(r)) => Outcome::Logout(r),
                    None => self.last_rounds(Outcome::Stop(None), &bridge, &mut bindings, &mut ready).await,
                },
                _ = &mut ready_deadline, if !ready => {
                    let title: String = bridge::evaluate(page, in_loop, "document.title").await.unwrap_or_default();
                    let wpp: bool = bridge::evaluate(page, in_loop, "typeof window.WPP === 'object'").await.unwrap_or(false);
                    // wa-js loaded into WhatsApp Web (it has a build number)
                    // but never came up: a build wa-js does not know.
                    if wpp {
                        let compat = bridge.compat().await.unwrap_or_default();
                        if compat.wa_web.is_some() {
                            let why = format!("wa-js did not come up on this WhatsApp Web build within {}s", self.env.config.load_timeout.as_secs());
                            return Outcome::Incompatible(compat, why);
                        }
                    }
                    return Outcome::Failed(format!(
                        "WhatsApp Web did not start within {}s at {url} (page title {title:?}; {})",
                        self.env.config.load_timeout.as_secs(),
                        if wpp { "wa-js was injected but found no WhatsApp Web in the page" } else { "wa-js could not be injected" }
                    ));
                }
                _ = health.tick() => {
                    // A catch-up to retry goes only to a page that just
                    // answered: into a hung one it would hold this loop for
                    // its whole timeout (60 s) on every tick.
                    if heard.elapsed() >= hang.silence || self.inbound.catch_up_pending() || self.inbound.reactions_recheck_due() {
                        match bridge.ping(hang.ping).await {
                            Ok(_) => {
                                misses = 0;
                                heard = Instant::now();
                            }
                            Err(CallError::Timeout(_)) => {
                                misses += 1;
                                if misses >= 2 {
                                    return Outcome::Crashed("the WhatsApp page stopped responding".into());
                                }
                                continue;
                            }
                            Err(e) => return Outcome::Crashed(format!("the page is gone: {e}")),
                        }
                    }
                    self.inbound.retry_catch_up(&bridge).await;
                    let stored_before = self.inbound.stored_before();
                    self.state.send_if_modified(|s| {
                        std::mem::replace(&mut s.stored_before, stored_before) != stored_before
                    });
                    if let (Some(every), Some(before)) = (self.env.config.trim_every, stored_before)
                        && trimmed.elapsed() >= every && self.state.borrow().status == Status::Connected {
                            trimmed = Instant::now();
                            // A message its author may still edit stays: wa-js
                            // tells an edit only of a message WhatsApp Web
                            // holds (its MsgStore's change), not of one it let go.
                            let editable = crate::domain::now_ms() / 1000 - crate::domain::message::EDIT_WINDOW_S - 60;
                            self.trim_page(&bridge, before.min(editable)).await;
                        }
                    ticks += 1;
                    if let Some(o) = self.check_ceilings(b, launched, ticks, &mut deferred) {
                        // The call that took its bridge just before new
                        // ones were refused ends first; then what it made
                        // the page say is taken with the rest.
                        self.last_calls_end().await;
                        return self.last_rounds(o, &bridge, &mut bindings, &mut ready).await;
                    }
                }
            }
        }
    }

    /// Takes in a round of the page's events: `first` and every batch
    /// already waiting (a busy page costs one transaction and one flush
    /// per round, not one per batch), durable before anything else sees
    /// them. Some: the round ends this page's life.
    async fn take_round(
        &mut self,
        bridge: &Bridge,
        first: &str,
        bindings: &mut Bindings,
        ready: &mut bool,
    ) -> Option<Outcome> {
        let mut batch = bridge::parse_batch(first);
        while batch.len() < 5000 {
            match bindings.next().now_or_never() {
                Some(Some(more)) if more.name == BINDING => {
                    batch.extend(bridge::parse_batch(&more.payload))
                }
                Some(Some(_)) => {}
                _ => break,
            }
        }
        let mut ops = Vec::new();
        let mut outcome = None;
        for e in batch {
            if matches!(e, BridgeEvent::Ready) {
                *ready = true;
                // Once per page life (WhatsApp Web reloads itself into a
                // new build), and before the events after `ready`: a
                // restored page says CONNECTED at once, and the record
                // must not show it linked with the last build's details.
                if let Some(o) = self
                    .check_compat(bridge, "wa-js came up without members bridge.js needs")
                    .await
                {
                    outcome = Some(o);
                    break;
                }
            }
            if self.inbound.take(bridge, &e, &mut ops).await {
                continue;
            }
            if let Some(o) = self.on_bridge(e).await {
                outcome = Some(o);
                break;
            }
        }
        self.inbound.commit(ops).await;
        outcome
    }

    /// Before a page is closed on purpose (a stop, a recycle): the events
    /// it has sent are taken in first (a stop that came with batches
    /// waiting, or in a burst, dropped them). A message would come back
    /// through the next catch-up, but a call, a group's change or a label
    /// has none. Bounded: a busy page does not hold a stop up.
    async fn last_rounds(
        &mut self,
        leaving: Outcome,
        bridge: &Bridge,
        bindings: &mut Bindings,
        ready: &mut bool,
    ) -> Outcome {
        let until = tokio::time::Instant::now() + LAST_ROUNDS;
        loop {
            // Checked here: a timeout polls what it waits for first, so a
            // page that never falls quiet would never see it expire.
            if tokio::time::Instant::now() >= until {
                return leaving;
            }
            let quiet = tokio::time::Instant::now() + LAST_ROUNDS_QUIET;
            match tokio::time::timeout_at(quiet.min(until), bindings.next()).await {
                Ok(Some(ev)) if ev.name == BINDING => {
                    // The page logged out meanwhile: that is what it is.
                    if let Some(Outcome::LoggedOut(_)) =
                        self.take_round(bridge, &ev.payload, bindings, ready).await
                    {
                        // Answered once the profile is wiped, not dropped
                        // (the manager took a dropped reply for a hung driver).
                        let reply = match leaving {
                            Outcome::Stop(r) => r,
                            _ => None,
                        };
                        return Outcome::LoggedOut(reply);
                    }
                }
                Ok(Some(_)) => {}
                _ => return leaving,
            }
        }
    }

    /// A page that died may have handed over events the loop had not read
    /// yet: they are taken before its life ends. Catch-up would find its
    /// messages again, but not group changes, calls, labels or chat changes.
    async fn taken_before_crash(
        &mut self,
        crashed: Outcome,
        bridge: &Bridge,
        bindings: &mut Bindings,
        ready: &mut bool,
    ) -> Outcome {
        while let Some(Some(ev)) = bindings.next().now_or_never() {
            if ev.name == BINDING
                && let Some(o @ Outcome::LoggedOut(_)) =
                    self.take_round(bridge, &ev.payload, bindings, ready).await
            {
                return o;
            }
        }
        crashed
    }

    /// Before a recycle closes the browser: a call that took its bridge
    /// just before new ones were refused runs to its end, for as long as a
    /// page call may take (a media download's three), unless the session
    /// is being stopped meanwhile.
    async fn last_calls_end(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let (calls, leaving) = {
            let s = self.state.borrow();
            (s.calls.clone(), s.leaving.clone())
        };
        let until = Instant::now() + self.env.config.page_timeout * 3 + Duration::from_secs(5);
        while calls.load(SeqCst) > 0 && !leaving.load(SeqCst) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The page may hold messages not stored yet: a catch-up reads them,
    /// and until it has, nothing may drop them from the page (the trim
    /// window a manual trim reads is withdrawn at once, not at the next
    /// health tick).
    fn catch_up_due(&mut self) {
        self.inbound.catch_up_due = true;
        self.state
            .send_if_modified(|s| s.stored_before.take().is_some());
    }

    /// Drops the page's copies of stored messages (`Bridge::trim_messages`):
    /// WhatsApp Web would otherwise hold every message of the page's life.
    async fn trim_page(&self, bridge: &Bridge, before: i64) {
        match bridge.trim_messages(before).await {
            Ok(t) => {
                tracing::debug!(session = %self.id, removed = t.removed, left = t.left, "dropped stored messages from the page's memory")
            }
            Err(e) => {
                tracing::warn!(session = %self.id, "could not drop stored messages from the page's memory: {e}")
            }
        }
    }

    /// On a health tick: measures the browser's memory (every tick when a
    /// ceiling is set, else every `PSS_READ_EVERY`) and says when a ceiling
    /// is passed and the page is quiet.
    fn check_ceilings(
        &mut self,
        b: &RunningBrowser,
        launched: Instant,
        ticks: u32,
        deferred: &mut Option<Instant>,
    ) -> Option<Outcome> {
        // The session's own ceilings, else the daemon's.
        let own = self.env.records.get(&self.id).and_then(|r| r.limits);
        let max_pss = own
            .as_ref()
            .and_then(|l| l.max_pss())
            .unwrap_or(self.env.config.max_pss);
        let max_age = own
            .as_ref()
            .and_then(|l| l.max_age().and_then(Result::ok))
            .unwrap_or(self.env.config.max_age);
        let hang = self.env.config.hang;
        if max_pss.is_none() && !hang.due(ticks, PSS_READ_EVERY) {
            return None;
        }
        let pss = browser::group_pss_bytes(b.pgid);
        self.state.send_modify(|s| s.pss_bytes = Some(pss));
        crate::telemetry::browser_pss(self.id.as_str(), pss);
        if self.state.borrow().status != Status::Connected {
            return None;
        }
        let over_memory = max_pss.filter(|m| pss > *m).map(|m| {
            format!(
                "the browser uses {} MB, over its {} MB ceiling",
                pss >> 20,
                m >> 20
            )
        });
        let due = match over_memory {
            Some(detail)
                if self
                    .memory_recycled
                    .is_none_or(|t| t.elapsed() >= MEMORY_RECYCLE_GAP) =>
            {
                Some(("recycled_memory", detail))
            }
            Some(detail) => {
                if hang.due(ticks, MEMORY_RECYCLE_GAP) {
                    tracing::warn!(session = %self.id, "{detail} right after a recycle: the ceiling is below what this session needs");
                }
                None
            }
            None => None,
        }
        .or_else(|| {
            max_age.filter(|a| launched.elapsed() >= *a).map(|a| {
                ("recycled_age", format!("the browser is older than {}", humantime::format_duration(a)))
            })
        });
        let Some(due) = due else {
            // Under the ceiling again: a later crossing waits anew.
            *deferred = None;
            return None;
        };
        // New calls are refused first, then those in flight counted: a call
        // cannot start between the count and the browser's end.
        use std::sync::atomic::Ordering::SeqCst;
        let s = self.state.borrow();
        s.recycling.store(true, SeqCst);
        let busy = s.calls.load(SeqCst);
        if busy > 0 && deferred.get_or_insert_with(Instant::now).elapsed() < RECYCLE_MAX_DEFERRAL {
            // Calls go on meanwhile; the next tick looks again.
            s.recycling.store(false, SeqCst);
            tracing::debug!(session = %self.id, busy, "recycle due; waiting for calls in flight");
            return None;
        }
        Some(Outcome::Recycle {
            reason: due.0,
            detail: due.1,
        })
    }

    /// The session's proxy, or the daemon's default; an error if the stored
    /// one no longer parses.
    fn proxy(&self) -> Result<Option<Proxy>, String> {
        match self.env.records.get(&self.id).and_then(|r| r.proxy) {
            Some(raw) => Proxy::parse(&raw)
                .map(Some)
                .map_err(|e| format!("the session's proxy {e}")),
            None => Ok(self.env.config.default_proxy.clone()),
        }
    }

    fn fail_proxy(&self, msg: String) {
        tracing::warn!(session = %self.id, "{msg}");
        self.update(|s| s.error_code = Some("PROXY_FAILED"));
        self.end(Status::Failed, Some(msg));
    }

    /// Once the page is ready: records the versions in play, and answers
    /// INCOMPATIBLE if this build lacks what bridge.js needs.
    async fn check_compat(&self, bridge: &Bridge, why: &str) -> Option<Outcome> {
        let compat = match bridge.compat().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(session = %self.id, "no version report from the page: {e}");
                return None;
            }
        };
        self.update(|s| {
            s.versions = Some(compat.versions());
            s.details = None;
        });
        if compat.missing.is_empty() {
            return None;
        }
        Some(Outcome::Incompatible(compat, why.to_string()))
    }

    /// Real WhatsApp Web has no `WPP`: inject wa-js on every load.
    async fn inject_wajs_if_needed(&self, page: &Page) -> Result<(), String> {
        let src = match self.env.wajs() {
            Ok(s) => s,
            // Only needed if the page lacks WPP; the sandbox brings its own.
            Err(e) => {
                let has: bool = bridge::evaluate(
                    page,
                    self.env.config.page_timeout,
                    "typeof window.WPP === 'object'",
                )
                .await
                .unwrap_or(false);
                return if has { Ok(()) } else { Err(e) };
            }
        };
        match bridge::inject_wajs_if_missing(page, self.env.config.page_timeout, &src).await {
            Ok(injected) => {
                if injected {
                    tracing::debug!(session = %self.id, "wa-js injected");
                }
                Ok(())
            }
            Err(e) => Err(format!("wa-js could not be injected: {e}")),
        }
    }

    async fn on_bridge(&mut self, ev: BridgeEvent) -> Option<Outcome> {
        match ev {
            BridgeEvent::AuthCode { code: Some(code) } => {
                if self.state.borrow().qr.as_deref() == Some(code.as_str()) {
                    return None;
                }
                // A QR means the page is not linked (the phone removed the
                // device meanwhile): the account it was is no longer this one.
                self.link_gone();
                self.update(|s| {
                    s.status = Status::ScanQr;
                    s.error = None;
                    s.qr = Some(code.clone());
                });
                let data_url = crate::qr::png_data_url(&code).unwrap_or_default();
                if self.env.config.print_qr
                    && let Ok(t) = crate::qr::terminal(&code)
                {
                    eprintln!(
                        "Session {}: scan this QR with WhatsApp (Linked devices):\n{t}",
                        self.id
                    );
                }
                self.env.pipeline.emit(Event::new(
                    &self.id,
                    EventKind::SessionQr,
                    json!({"qr": code, "data_url": data_url}),
                ));
            }
            BridgeEvent::AuthCode { code: None } => self.update(|s| s.qr = None),
            // Scanned: no QR to show while WhatsApp syncs the new device,
            // until the page can send (CONNECTED).
            BridgeEvent::Authenticated => {
                if self.state.borrow().status == Status::ScanQr {
                    self.set_status(Status::Starting, None);
                }
            }
            BridgeEvent::Connected {
                me,
                platform,
                online,
            } => {
                let phone = me
                    .phone
                    .clone()
                    .unwrap_or_else(|| me.id.split('@').next().unwrap_or("").to_string());
                let me = Me {
                    id: me.id,
                    phone,
                    name: me.name,
                };
                self.came_up = true;
                self.page_up = true;
                self.update(|s| {
                    // Linked, but WhatsApp out of reach since the page
                    // started: said so, not CONNECTED (a send would wait).
                    (s.status, s.error) = match online {
                        true => (Status::Connected, None),
                        false => (Status::Disconnected, Some(UNREACHABLE.into())),
                    };
                    s.error_code = None;
                    s.qr = None;
                    s.me = Some(me.clone());
                    s.platform = platform.clone();
                });
                self.env.records.update(&self.id, |r| {
                    r.me = Some(me.clone());
                    r.platform = platform.clone();
                });
                // Linked now, if it was not when this life began.
                self.inbound.linked_now();
                self.catch_up_due();
            }
            BridgeEvent::Online { online: false } => {
                if self.state.borrow().status == Status::Connected {
                    self.set_status(Status::Disconnected, Some(UNREACHABLE.into()));
                }
            }
            BridgeEvent::Online { online: true } => {
                // Back online: what arrived meanwhile may have been synced
                // into the page's history without a new-message event.
                self.catch_up_due();
                let s = self.state.borrow().clone();
                // Not for a page that has not said `connected` (a new life
                // after a crash starts DISCONNECTED with `me` kept): its
                // `connected` says it, once it can send.
                if s.status == Status::Disconnected && s.me.is_some() && self.page_up {
                    self.set_status(Status::Connected, None);
                }
            }
            // A new name, kept with the rest of what we know of ourselves.
            BridgeEvent::MeChanged { me } => {
                let name = me.name;
                self.update(|s| {
                    if let Some(m) = s.me.as_mut() {
                        m.name = name.clone();
                    }
                });
                self.env.records.update(&self.id, |r| {
                    if let Some(m) = r.me.as_mut() {
                        m.name = name.clone();
                    }
                });
            }
            // The phone dropped this device while the session was away
            // (stopped, the daemon down, the page reloading itself into a
            // new build): the page finds out as it starts,
            // forgets the link itself and shows a QR. The session was asked
            // to run, so it says LOGGED_OUT and goes on to that QR, as it
            // does when the QR comes first (which of the two WhatsApp's word
            // reaches first depends on when bridge.js began to listen).
            // Dropped while connected, it ends.
            BridgeEvent::Logout if !self.page_up => {
                self.link_gone();
            }
            BridgeEvent::Logout => return Some(Outcome::LoggedOut(None)),
            BridgeEvent::Message { .. }
            | BridgeEvent::Ack { .. }
            | BridgeEvent::Revoke { .. }
            | BridgeEvent::Reaction { .. }
            | BridgeEvent::Edit { .. }
            | BridgeEvent::Presence { .. }
            | BridgeEvent::PollVote { .. }
            | BridgeEvent::GroupParticipants { .. }
            | BridgeEvent::GroupUpdate { .. }
            | BridgeEvent::Call { .. }
            | BridgeEvent::MembershipRequest { .. }
            | BridgeEvent::Chat { .. }
            | BridgeEvent::ChatRemoved { .. }
            | BridgeEvent::Labels { .. } => {}
            // bridge.js says this before it listens for anything: a logout
            // after it is this page's.
            BridgeEvent::Injected => self.page_up = false,
            BridgeEvent::Ready | BridgeEvent::RequireAuth | BridgeEvent::Unknown => {}
        }
        None
    }
}
