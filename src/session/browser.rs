//! Launching and ending one session's browser.
//!
//! We spawn Chromium ourselves (not through chromiumoxide's launcher) so that
//! it runs in its own process group, which we can end as a whole (the
//! headless shell's zygotes outlive a kill of the main pid), and so that the
//! group id is written next to the profile: a daemon restarted after
//! `kill -9` ends whatever its predecessor left behind.

use crate::config::BrowserKind;
use chromiumoxide::{Browser, Page, handler::HandlerConfig};
use futures::StreamExt;
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

/// A desktop Chrome user agent: WhatsApp Web refuses `HeadlessChrome`.
pub const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36";

const PID_FILE: &str = "browser.pid";

#[derive(Clone, Debug)]
pub struct BrowserSpec {
    pub kind: BrowserKind,
    /// Explicit executable; otherwise found from `kind`.
    pub executable: Option<PathBuf>,
    /// Run without Chromium's sandbox even when not root (containers).
    pub no_sandbox: bool,
    /// Let the headless shell draw frames. Off, pages run their scripts,
    /// sockets and storage as ever but are never rendered (no one looks at
    /// them): style, layout, paint and raster cost nothing. Animation
    /// frames then never fire, as in a background tab.
    pub frames: bool,
    /// Give the page a renderer process of its own, as Chromium does by
    /// default. Off (and only without Chromium's sandbox, which a single
    /// process cannot have), a session's browser is one process: a
    /// renderer crash then ends the browser, which is relaunched with no
    /// rescan as any crash, and each session saves ~20 MB and two
    /// processes' start and wake-ups (docs/performance.md).
    pub multi_process: bool,
    /// Once linked, show the page as a background tab: hidden, its
    /// timers woken at most once a second (docs/performance.md). Off,
    /// it stays a foreground tab.
    pub background: bool,
}

impl BrowserSpec {
    /// The executable and whether it is the headless shell.
    pub fn resolve(&self) -> anyhow::Result<(PathBuf, bool)> {
        if let Some(path) = &self.executable {
            let shell = path.to_string_lossy().contains("headless-shell")
                || self.kind == BrowserKind::HeadlessShell;
            return Ok((path.clone(), shell));
        }
        // Debian's /usr/bin/chromium-headless-shell is a script that forks
        // (no exec): run the binary itself so its pid is the browser's.
        let shell = Some(PathBuf::from("/usr/lib/chromium/chromium-headless-shell"))
            .filter(|p| p.exists())
            .or_else(|| find_on_path(&["chromium-headless-shell"]));
        let full = find_on_path(&["chromium", "chromium-browser", "google-chrome"]);
        match self.kind {
            BrowserKind::HeadlessShell => shell.map(|p| (p, true)).ok_or_else(|| {
                anyhow::anyhow!("chromium-headless-shell is not installed (Debian: apt-get install chromium-headless-shell)")
            }),
            BrowserKind::Chromium => full.map(|p| (p, false)).ok_or_else(|| {
                anyhow::anyhow!("chromium is not installed (Debian: apt-get install chromium)")
            }),
            BrowserKind::Auto => shell.map(|p| (p, true)).or(full.map(|p| (p, false))).ok_or_else(|| {
                anyhow::anyhow!("no Chromium found: install chromium-headless-shell or chromium, or pass --chromium PATH")
            }),
        }
    }
}

fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// A running browser. Dropping it ends the whole process group.
pub struct RunningBrowser {
    pub browser: Browser,
    pub page: Page,
    pub pgid: i32,
    /// Becomes true when the CDP connection is gone (the browser died).
    pub gone: watch::Receiver<bool>,
    session_dir: PathBuf,
    child: tokio::process::Child,
}

pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Spawns `cmd` from the one thread that starts browsers, which lives as
/// long as the daemon. The kernel sends `PR_SET_PDEATHSIG` when the
/// *thread* that spawned a process ends, not the process; the runtime's
/// threads come and go (an idle one retires after 10 s, taking its
/// allocator cache with it), and one that had launched browsers took them
/// along.
async fn spawn_from_launcher(
    mut cmd: tokio::process::Command,
) -> std::io::Result<tokio::process::Child> {
    type Job = Box<dyn FnOnce() + Send>;
    static LAUNCHER: std::sync::OnceLock<std::sync::mpsc::Sender<Job>> = std::sync::OnceLock::new();
    let launcher = LAUNCHER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("browser-launch".into())
            // A job that panics must not stop every later launch.
            .spawn(move || {
                for job in rx {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .expect("a thread");
        tx
    });
    // tokio reaps the child through the runtime it is spawned in.
    let rt = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _rt = rt.enter();
        // The launch was given up meanwhile: end what was started.
        if let Err(Ok(child)) = tx.send(cmd.spawn()) {
            kill_group(child.id().unwrap_or(0) as i32);
        }
    });
    let stopped = || std::io::Error::other("the launcher thread did not start it");
    launcher.send(job).map_err(|_| stopped())?;
    rx.await.map_err(|_| stopped())?
}

/// `proxy`: this browser's only (its server; credentials are answered
/// through the DevTools protocol by the driver).
pub async fn launch(
    spec: &BrowserSpec,
    session_dir: &Path,
    proxy: Option<&crate::domain::Proxy>,
    page_timeout: Duration,
) -> anyhow::Result<RunningBrowser> {
    let (exe, shell) = spec.resolve()?;
    ensure_private_dir(session_dir)?;
    let profile = session_dir.join("profile");
    ensure_private_dir(&profile)?;
    kill_leftover(session_dir);

    let mut cmd = tokio::process::Command::new(&exe);
    if !shell {
        cmd.arg("--headless=new");
    } else if !spec.frames {
        // Frames are made only when asked for through the DevTools
        // protocol, and wabridge never asks (docs/performance.md).
        cmd.arg("--enable-begin-frame-control");
    }
    cmd.args([
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        "--disable-gpu",
        "--in-process-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-breakpad",
        "--disable-quic",
        "--mute-audio",
        "--password-store=basic",
        "--use-mock-keychain",
        "--metrics-recording-only",
        "--disable-blink-features=AutomationControlled",
        // A page in the background keeps Chromium's plain timer throttling
        // (once a second) but never the harsher kinds: a chain of timers
        // (a reconnect's backoff) slowed to once a minute after five
        // hidden minutes, or timers starved of CPU.
        "--disable-features=Translate,MediaRouter,OptimizationHints,AcceptCHFrame,IntensiveWakeUpThrottling,ExpensiveBackgroundTimerThrottling",
        // PartitionAlloc hands freed pages back every 4 s, waking an idle
        // browser's main thread for ~0.35 ms each time: a quarter of its
        // idle CPU (docs/performance.md). Once a minute is enough here.
        "--enable-features=PartitionAllocMemoryReclaimer:interval/60s",
        "--window-size=1280,800",
    ]);
    // Chromium's own sandbox cannot run as root, nor in a container under
    // the default seccomp profile: the container is the sandbox there.
    if spec.no_sandbox || unsafe { libc::geteuid() } == 0 {
        // Without the sandbox the zygotes buy nothing: fewer processes, less memory.
        cmd.args(["--no-sandbox", "--no-zygote"]);
        if !spec.multi_process {
            cmd.arg("--single-process");
        }
    }
    if let Some(p) = proxy {
        // Everything through it, loopback too (Chromium bypasses loopback
        // by default; a sandbox or a local WhatsApp gateway is loopback).
        cmd.arg(format!("--proxy-server={}", p.server()))
            .arg("--proxy-bypass-list=<-loopback>");
    }
    cmd.arg(format!("--user-agent={USER_AGENT}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        // Every process of the browser inherits it: a leftover is known
        // by it even when only children that carry no profile are left.
        .env(OWNER_ENV, owner_mark(session_dir))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // If the daemon dies, the kernel ends the browser's main process; what
    // it started, the reaper (`session::reaper`).
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = spawn_from_launcher(cmd)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", exe.display()))?;
    let pgid = child.id().unwrap_or(0) as i32;
    super::reaper::watch(pgid);
    let _ = std::fs::write(session_dir.join(PID_FILE), pgid.to_string());

    let stderr = child.stderr.take().expect("piped stderr");
    let (ws_tx, ws_rx) = tokio::sync::oneshot::channel::<String>();
    // Read the DevTools URL, then keep draining so Chromium never blocks on a full pipe.
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut ws_tx = Some(ws_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                if let Some(tx) = ws_tx.take() {
                    let _ = tx.send(url.trim().to_string());
                }
            } else {
                tracing::trace!(target: "chromium", "{line}");
            }
        }
    });
    let guard = KillGroup(pgid);
    let ws_url = match tokio::time::timeout(Duration::from_secs(30), ws_rx).await {
        Ok(Ok(url)) => url,
        _ => {
            let status = child.try_wait().ok().flatten();
            anyhow::bail!(
                "{} did not start (exit status: {})",
                exe.display(),
                status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "still running, no DevTools URL".into())
            );
        }
    };
    let config = HandlerConfig {
        viewport: None,
        // chromiumoxide cancels any command older than this, whatever the
        // caller's own timeout: above the longest call into the page (a
        // media download's, 3 page timeouts), which bounds each call itself.
        request_timeout: (page_timeout * 3 + Duration::from_secs(10)).max(Duration::from_secs(30)),
        ..Default::default()
    };
    let (browser, mut handler) = tokio::time::timeout(
        Duration::from_secs(20),
        Browser::connect_with_config(ws_url, config),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out connecting to the browser's DevTools"))??;
    let (gone_tx, gone) = watch::channel(false);
    tokio::spawn(async move {
        // The handler never ends by itself when Chromium dies: stop on the
        // first websocket error and say the browser is gone.
        while let Some(ev) = handler.next().await {
            if let Err(chromiumoxide::error::CdpError::Ws(_)) = ev {
                break;
            }
        }
        let _ = gone_tx.send(true);
    });
    let page = tokio::time::timeout(Duration::from_secs(20), browser.new_page("about:blank"))
        .await
        .map_err(|_| anyhow::anyhow!("timed out opening a page"))??;
    // The tab Chromium opened at start costs a renderer: close it.
    close_other_tabs(&browser, &page).await;
    std::mem::forget(guard);
    Ok(RunningBrowser {
        browser,
        page,
        pgid,
        gone,
        session_dir: session_dir.to_path_buf(),
        child,
    })
}

/// Turns off the DevTools domains chromiumoxide enables on every page that
/// wabridge does not use. Each makes the browser serialize and send events
/// to the daemon: Network every request and every WebSocket frame (each
/// message WhatsApp delivers, twice over with the page's own traffic), Log
/// every console entry, Performance its metrics. Network stays on with a
/// proxy: its authentication is answered through the network domains.
pub async fn quiet_domains(page: &Page, keep_network: bool) {
    use chromiumoxide::cdp::browser_protocol::{log, network, performance};
    let t = Duration::from_secs(5);
    if !keep_network {
        let _ = tokio::time::timeout(t, page.execute(network::DisableParams::default())).await;
    }
    let _ = tokio::time::timeout(t, page.execute(log::DisableParams::default())).await;
    let _ = tokio::time::timeout(t, page.execute(performance::DisableParams::default())).await;
}

/// Hides the page as a background tab is hidden (the headless shell hides a
/// minimized window's pages): `document.hidden` turns true and the page's
/// timers are woken at most once a second, together. Its socket, storage
/// and the bridge's hand-off (a message channel, not a timer) run as ever.
pub async fn to_background(browser: &Browser, page: &Page) -> anyhow::Result<()> {
    use chromiumoxide::cdp::browser_protocol::browser::{
        Bounds, GetWindowForTargetParams, SetWindowBoundsParams, WindowState,
    };
    let t = Duration::from_secs(5);
    let window = tokio::time::timeout(
        t,
        browser.execute(
            GetWindowForTargetParams::builder()
                .target_id(page.target_id().clone())
                .build(),
        ),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out"))??
    .result
    .window_id;
    let bounds = Bounds::builder()
        .window_state(WindowState::Minimized)
        .build();
    tokio::time::timeout(
        t,
        browser.execute(SetWindowBoundsParams::new(window, bounds)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out"))??;
    Ok(())
}

async fn close_other_tabs(browser: &Browser, keep: &Page) {
    use chromiumoxide::cdp::browser_protocol::target::{CloseTargetParams, GetTargetsParams};
    let Ok(Ok(targets)) = tokio::time::timeout(
        Duration::from_secs(5),
        browser.execute(GetTargetsParams::default()),
    )
    .await
    else {
        return;
    };
    for t in &targets.result.target_infos {
        if t.r#type == "page" && &t.target_id != keep.target_id() {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                browser.execute(CloseTargetParams::new(t.target_id.clone())),
            )
            .await;
        }
    }
}

impl RunningBrowser {
    /// Close politely, then make sure the whole group is gone.
    pub async fn shutdown(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(3), self.browser.close()).await;
        let _ = tokio::time::timeout(Duration::from_secs(3), self.child.wait()).await;
        let pgid = self.pgid;
        drop(self); // ends the group and removes the pid file
        until_gone(pgid).await;
    }

    pub fn pid(&self) -> i32 {
        self.pgid
    }
}

impl Drop for RunningBrowser {
    fn drop(&mut self) {
        kill_group(self.pgid);
        let _ = std::fs::remove_file(self.session_dir.join(PID_FILE));
    }
}

struct KillGroup(i32);
impl Drop for KillGroup {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
        super::reaper::forget(pgid);
    }
}

/// Waits (at most 3 s) until every process of a killed group is gone, so
/// that a relaunch on its profile finds no lock held by a dying one.
pub async fn until_gone(pgid: i32) {
    for _ in 0..60 {
        if group_members(pgid).next().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Set in a session's browser's environment: which session's it is.
const OWNER_ENV: &str = "WABRIDGE_BROWSER_OF";

/// The session dir as `OWNER_ENV` has it: one spelling whatever path the
/// data dir was given by.
fn owner_mark(session_dir: &Path) -> PathBuf {
    std::fs::canonicalize(session_dir).unwrap_or_else(|_| session_dir.to_path_buf())
}

/// The process group of the browser running on this session's profile,
/// as its pid file has it.
pub fn recorded_group(session_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(session_dir.join(PID_FILE)).ok()?;
    text.trim().parse().ok().filter(|g| *g > 1)
}

/// Ends a browser a previous daemon left running on this session's profile.
/// Checks the process's command line so a reused pid is never killed.
pub fn kill_leftover(session_dir: &Path) -> bool {
    let recorded = recorded_group(session_dir);
    let _ = std::fs::remove_file(session_dir.join(PID_FILE));
    let Some(pgid) = recorded else {
        return false;
    };
    // The leader may be gone while its children live on: they keep the
    // group id. Only a group with a process of this session's browser
    // counts (the variable each inherits), never someone else's Chrome
    // that took the number.
    // (Compared as bytes: a path need not be UTF-8.) A browser started by
    // an older version carries no variable: its leader is known by the
    // profile on its command line.
    use std::os::unix::ffi::OsStrExt as _;
    let mut mark = format!("{OWNER_ENV}=").into_bytes();
    mark.extend_from_slice(owner_mark(session_dir).as_os_str().as_bytes());
    let mut profile = b"--user-data-dir=".to_vec();
    profile.extend_from_slice(session_dir.join("profile").as_os_str().as_bytes());
    let carries = |file: &str, what: &[u8]| {
        std::fs::read(file)
            .map(|c| c.split(|b| *b == 0).any(|v| v == what))
            .unwrap_or(false)
    };
    let group_alive = carries(&format!("/proc/{pgid}/cmdline"), &profile)
        || group_members(pgid).any(|pid| carries(&format!("/proc/{pid}/environ"), &mark));
    if group_alive {
        tracing::warn!(pgid, "ending a browser left running by a previous daemon");
        kill_group(pgid);
        return true;
    }
    false
}

/// Pids whose process group is `pgid` (from /proc/PID/stat field 5).
pub fn group_members(pgid: i32) -> impl Iterator<Item = i32> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries.filter_map(move |e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] = state, [1] = ppid, [2] = pgrp
        let pgrp: i32 = fields.get(2)?.parse().ok()?;
        (pgrp == pgid && fields[0] != "Z").then_some(pid)
    })
}

/// PSS in bytes summed over a process group (what the browser really costs).
pub fn group_pss_bytes(pgid: i32) -> u64 {
    group_members(pgid)
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Pss:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                })
                .unwrap_or(0)
                * 1024
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    /// A process in a group of its own, as a browser is, with `env`.
    fn grouped(env: Option<(&str, &Path)>) -> std::process::Child {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30").process_group(0);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        // spawn returns as the exec begins, before the kernel shows the new
        // environment (a leftover of a previous daemon is long past it).
        let environ = format!("/proc/{}/environ", child.id());
        for _ in 0..200 {
            if std::fs::read(&environ).is_ok_and(|e| !e.is_empty()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    fn alive(child: &mut std::process::Child) -> bool {
        child.try_wait().unwrap().is_none()
    }

    /// A pid file left by a killed daemon names a group: ended only if it
    /// is this session's browser, never whoever took the number since.
    #[test]
    fn a_leftover_is_ended_only_if_it_is_this_sessions_browser() {
        let dir = tempfile::tempdir().unwrap();
        let session = dir.path().join("s");
        std::fs::create_dir(&session).unwrap();
        let record = |c: &std::process::Child| {
            std::fs::write(session.join(PID_FILE), c.id().to_string()).unwrap()
        };

        let mut stranger = grouped(None);
        record(&stranger);
        assert!(!kill_leftover(&session));
        assert!(alive(&mut stranger), "someone else's process is left alone");
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let mut others = grouped(Some((OWNER_ENV, &owner_mark(&other))));
        record(&others);
        assert!(!kill_leftover(&session));
        assert!(
            alive(&mut others),
            "another session's browser is left alone"
        );

        let mut ours = grouped(Some((OWNER_ENV, &owner_mark(&session))));
        record(&ours);
        assert!(kill_leftover(&session));
        ours.wait().unwrap();
        assert!(!session.join(PID_FILE).exists());
        for mut c in [stranger, others] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}
