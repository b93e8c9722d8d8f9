//! Harness for end-to-end tests: the real `wabridge` binary (built once by
//! cargo for all test binaries), real headless Chromium, the sandbox as a
//! separate process, and plain HTTP.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_wabridge");
pub const KEY: &str = "test-key-123";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free port below the kernel's ephemeral range, for a server that stops
/// and must come back on the same port: a port from `free_port` could be
/// handed to a parallel test while this one's server is down.
pub fn stable_port() -> u16 {
    loop {
        let port = 20_000 + (rand::random::<u16>() % 10_000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Waits until `f` returns Some, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until GET `url` answers 2xx.
pub async fn wait_ok(url: &str, what: &str, limit: Duration) {
    let c = http();
    eventually(limit, what, || {
        let (c, u) = (c.clone(), url.to_string());
        async move {
            c.get(u)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        }
    })
    .await;
}

/// A child process that is killed when the test ends, however it ends.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(args: &[&str], envs: &[(&str, &str)], log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("WABRIDGE_LOG", "info,wabridge=debug")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Proc {
            child: cmd.spawn().expect("spawn wabridge"),
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGSTOP, returning once every thread of the process is stopped (the
    /// signal is only queued when `kill` returns; a busy machine can let a
    /// thread answer one more request meanwhile).
    pub fn freeze(&self) {
        unsafe { libc::kill(self.pid(), libc::SIGSTOP) };
        let stopped = || {
            std::fs::read_dir(format!("/proc/{}/task", self.pid()))
                .map(|tasks| {
                    tasks.flatten().all(|t| {
                        std::fs::read_to_string(t.path().join("stat"))
                            .ok()
                            .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('T')))
                            .unwrap_or(true)
                    })
                })
                .unwrap_or(true)
        };
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !stopped() && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn thaw(&self) {
        unsafe { libc::kill(self.pid(), libc::SIGCONT) };
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a graceful exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.pid(), libc::SIGTERM);
        }
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "wabridge did not exit within 30 s of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `wabridge sandbox` in its own process, so daemons can restart around it.
pub struct Sandbox {
    pub proc: Proc,
    pub port: u16,
    pub url: String,
    pub dir: PathBuf,
}

impl Sandbox {
    pub async fn start(dir: &Path, extra: &[&str]) -> Sandbox {
        Self::start_on(dir, stable_port(), extra).await
    }

    /// On a given port: the page's origin, and so its stored link, depends on it.
    pub async fn start_on(dir: &Path, port: u16, extra: &[&str]) -> Sandbox {
        let listen = format!("127.0.0.1:{port}");
        let state = dir.join("sandbox-state.json");
        let mut args = vec!["sandbox", "--listen", &listen, "--ack-delay-ms", "200"];
        let state_s = state.to_string_lossy().to_string();
        args.extend(["--state", &state_s]);
        args.extend(extra);
        let proc = Proc::spawn(&args, &[], dir.join(format!("sandbox-{port}.log")));
        let url = format!("http://{listen}");
        wait_ok(
            &format!("{url}/"),
            "the sandbox to listen",
            Duration::from_secs(20),
        )
        .await;
        let mut proc = proc;
        // Not some other process's server on that port: ours is alive.
        assert!(
            proc.child.try_wait().unwrap().is_none(),
            "the sandbox exited:\n{}",
            proc.log_text()
        );
        Sandbox {
            proc,
            port,
            url,
            dir: dir.to_path_buf(),
        }
    }

    /// A control API call: (status, JSON body or null).
    pub async fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = http().request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.request("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.request("PUT", path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, None).await
    }

    /// How many devices the account's phone lists as linked.
    pub async fn linked_devices(&self, phone: &str) -> u64 {
        self.get(&format!("/_sandbox/accounts/{phone}/devices"))
            .await
            .1["linked_devices"]
            .as_u64()
            .unwrap()
    }

    pub async fn link(&self, qr: &str, phone: &str, name: &str) -> u16 {
        self.post(
            "/_sandbox/link",
            json!({"qr": qr, "phone": phone, "name": name}),
        )
        .await
        .0
    }
}

/// The daemon, `wabridge serve`, on a free port with its own data dir.
pub struct Daemon {
    pub proc: Proc,
    pub url: String,
    pub port: u16,
    pub data_dir: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Daemon {
    pub async fn start(data_dir: &Path, wa_url: &str, extra: &[&str]) -> Daemon {
        let mut args: Vec<String> = vec!["serve".into(), "--wa-url".into(), wa_url.into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::start_with(data_dir, args, vec![]).await
    }

    pub async fn start_with(
        data_dir: &Path,
        args: Vec<String>,
        envs: Vec<(String, String)>,
    ) -> Daemon {
        Self::start_at(free_port(), data_dir, args, envs).await
    }

    /// On a port chosen by the caller (a peer's URL is known before it starts).
    pub async fn start_at(
        port: u16,
        data_dir: &Path,
        args: Vec<String>,
        envs: Vec<(String, String)>,
    ) -> Daemon {
        let listen = format!("127.0.0.1:{port}");
        let mut full = args.clone();
        full.extend([
            "--listen".into(),
            listen.clone(),
            "--data-dir".into(),
            data_dir.to_string_lossy().into(),
        ]);
        // No send pacing unless a test asks for it: tests send in bursts.
        let mut env: Vec<(&str, &str)> =
            vec![("WABRIDGE_API_KEY", KEY), ("WABRIDGE_SEND_PER_MINUTE", "0")];
        env.extend(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let argv: Vec<&str> = full.iter().map(String::as_str).collect();
        let proc = Proc::spawn(&argv, &env, data_dir.with_extension(format!("{port}.log")));
        let url = format!("http://{listen}");
        wait_ok(
            &format!("{url}/health"),
            "the daemon to listen",
            Duration::from_secs(30),
        )
        .await;
        Daemon {
            proc,
            url,
            port,
            data_dir: data_dir.to_path_buf(),
            args,
            envs,
        }
    }

    /// A new daemon process on the same data dir, arguments and port.
    pub async fn restart_at_same_port(&self) -> Daemon {
        Self::start_at(
            self.port,
            &self.data_dir,
            self.args.clone(),
            self.envs.clone(),
        )
        .await
    }

    /// A new daemon process on the same data dir and arguments.
    pub async fn restart_same(&self) -> Daemon {
        Self::start_with(&self.data_dir, self.args.clone(), self.envs.clone()).await
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(KEY, method, path, body).await
    }

    /// A call with another API key (a scoped one).
    pub async fn call_as(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let c = http();
        let mut rb = c
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {key}"));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A GET with the admin key, its body as text (`/metrics`, listings).
    pub async fn text(&self, path: &str) -> String {
        http()
            .get(format!("{}{path}", self.url))
            .header("X-Api-Key", KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn session(&self, id: &str) -> Value {
        self.call("GET", &format!("/api/sessions/{id}"), None)
            .await
            .1
    }

    pub async fn wait_status(&self, id: &str, status: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let s = self.session(id).await;
            if s["status"] == status {
                return s;
            }
            let last = s;
            if start.elapsed() > limit {
                panic!(
                    "session {id} did not reach {status} within {limit:?}; last: {last}\n--- daemon log ---\n{}",
                    tail(&self.proc.log_text(), 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn qr(&self, id: &str) -> String {
        let (code, body) = self
            .call("GET", &format!("/api/sessions/{id}/qr"), None)
            .await;
        assert_eq!(code, 200, "qr of {id}: {body}");
        body["qr"].as_str().unwrap().to_string()
    }

    /// create → SCAN_QR → link with the QR the API shows → CONNECTED.
    /// Waits until the session has stored this message.
    pub async fn wait_message(&self, session: &str, id: &str) -> Value {
        let path = format!("/api/sessions/{session}/messages/{id}");
        eventually(
            Duration::from_secs(30),
            &format!("message {id} stored"),
            || async {
                let (code, m) = self.call("GET", &path, None).await;
                (code == 200).then_some(m)
            },
        )
        .await
    }

    pub async fn create_linked(&self, sb: &Sandbox, id: &str, phone: &str) -> Value {
        let (code, body) = self
            .call("POST", "/api/sessions", Some(json!({"id": id})))
            .await;
        assert_eq!(code, 201, "create {id}: {body}");
        self.link(sb, id, phone).await
    }

    pub async fn link(&self, sb: &Sandbox, id: &str, phone: &str) -> Value {
        self.wait_status(id, "SCAN_QR", Duration::from_secs(60))
            .await;
        self.scan(sb, id, phone, &format!("Shop {id}")).await;
        self.wait_status(id, "CONNECTED", Duration::from_secs(30))
            .await
    }

    /// Scans the QR the API shows, as a phone would: one that rotated
    /// away meanwhile is refused (410), so scan the next one once the API
    /// shows it. Answers the QR that linked.
    pub async fn scan(&self, sb: &Sandbox, id: &str, phone: &str, name: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut qr = self.qr(id).await;
        loop {
            match sb.link(&qr, phone, name).await {
                200 => return qr,
                410 if tokio::time::Instant::now() < deadline => {
                    let stale = qr.clone();
                    qr = eventually(
                        Duration::from_secs(30),
                        &format!("a QR of {id} after the one refused"),
                        || async { Some(self.qr(id).await).filter(|q| *q != stale) },
                    )
                    .await;
                }
                other => panic!("linking {id} answered {other}"),
            }
        }
    }

    pub fn browser_pid(&self, id: &str) -> Option<i32> {
        std::fs::read_to_string(self.data_dir.join("sessions").join(id).join("browser.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Live processes (not zombies) whose command line mentions `needle`.
pub fn processes_with(needle: &str) -> Vec<i32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat
            .rsplit(')')
            .next()
            .map(|r| r.trim_start().starts_with('Z'))
            .unwrap_or(true)
        {
            continue;
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// Processes in the group of `pgid` (a session browser and its children).
pub fn group_alive(pgid: i32) -> bool {
    wabridge::session::browser::group_members(pgid)
        .next()
        .is_some()
}

/// A webhook receiver on 127.0.0.1: records every request, answers with a
/// status the test sets, and can go away (connection refused) and come back
/// on the same port.
pub struct Receiver {
    pub port: u16,
    pub url: String,
    pub state: std::sync::Arc<std::sync::Mutex<ReceiverState>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Default)]
pub struct ReceiverState {
    pub status: u16,
    /// How long each answer is held back (a slow receiver).
    pub delay: Duration,
    /// (headers, body, status answered)
    pub got: Vec<(std::collections::HashMap<String, String>, String, u16)>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let port = stable_port();
        let mut r = Receiver {
            port,
            url: format!("http://127.0.0.1:{port}/hook"),
            state: std::sync::Arc::new(std::sync::Mutex::new(ReceiverState {
                status: 200,
                delay: Duration::ZERO,
                got: vec![],
            })),
            task: None,
        };
        r.up().await;
        r
    }

    /// Listens (again) on the same port.
    pub async fn up(&mut self) {
        use axum::{
            Router,
            body::Bytes,
            extract::State,
            http::HeaderMap,
            routing::{get, post},
        };
        let state = self.state.clone();
        let app = Router::new()
            .route(
                "/hook",
                post(
                    |State(s): State<std::sync::Arc<std::sync::Mutex<ReceiverState>>>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        let (status, delay) = {
                            let mut s = s.lock().unwrap();
                            let status = s.status;
                            let h = headers
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                                .collect();
                            s.got
                                .push((h, String::from_utf8_lossy(&body).to_string(), status));
                            (status, s.delay)
                        };
                        tokio::time::sleep(delay).await;
                        axum::http::StatusCode::from_u16(status).unwrap()
                    },
                ),
            )
            // Media for sends by URL.
            .route(
                "/file.png",
                get(|| async {
                    (
                        [("content-type", "image/png")],
                        vec![0x89, b'P', b'N', b'G', 1, 2, 3, 4],
                    )
                }),
            )
            // Served once, then gone (a presigned URL that expired).
            .route(
                "/once.png",
                get({
                    let served = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                    move || async move {
                        if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            return axum::response::IntoResponse::into_response(
                                axum::http::StatusCode::NOT_FOUND,
                            );
                        }
                        axum::response::IntoResponse::into_response((
                            [("content-type", "image/png")],
                            vec![0x89, b'P', b'N', b'G', 9],
                        ))
                    }
                }),
            )
            .route(
                "/huge",
                get(|| async {
                    let body = axum::body::Body::from_stream(futures::stream::iter(
                        (0..1200).map(|_| Ok::<_, std::io::Error>(bytes_chunk())),
                    ));
                    ([("content-type", "application/octet-stream")], body)
                }),
            )
            .with_state(state);
        // The same port again (the daemon's webhooks name it); it may take
        // a moment to be free, and a failure must not hang the test.
        let deadline = Instant::now() + Duration::from_secs(20);
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if Instant::now() > deadline => {
                    panic!("the receiver could not listen on {} again: {e}", self.port)
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// Stops listening: deliveries now get "connection refused".
    pub async fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    pub fn answer(&self, status: u16) {
        self.state.lock().unwrap().status = status;
    }

    /// Bodies of requests answered 2xx, parsed as JSON.
    pub fn accepted(&self) -> Vec<(std::collections::HashMap<String, String>, Value)> {
        self.state
            .lock()
            .unwrap()
            .got
            .iter()
            .filter(|(_, _, st)| (200..300).contains(st))
            .filter_map(|(h, b, _)| serde_json::from_str(b).ok().map(|v| (h.clone(), v)))
            .collect()
    }

    /// Accepted native events named `name`, deduplicated by event id.
    pub fn events(&self, name: &str) -> Vec<Value> {
        let mut seen = std::collections::HashSet::new();
        self.accepted()
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| {
                v["event"] == name && seen.insert(v["id"].as_str().unwrap_or("").to_string())
            })
            .collect()
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().got.len()
    }
}

fn bytes_chunk() -> axum::body::Bytes {
    axum::body::Bytes::from(vec![7u8; 64 * 1024])
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Posts `n` contact messages to the sandbox, `conc` at a time; returns ids in order.
pub async fn contact_messages(
    sb: &Sandbox,
    to: &str,
    n: usize,
    contacts: usize,
    tag: &str,
) -> Vec<(String, String, String)> {
    use futures::StreamExt;
    let c = http();
    let reqs = (0..n).map(|i| {
        let c = c.clone();
        let from = format!("1555777{:04}", i % contacts);
        let text = format!("{tag} {i}");
        let url = format!("{}/_sandbox/messages", sb.url);
        let to = to.to_string();
        async move {
            let r = c
                .post(url)
                .json(&json!({"from": from, "to": to, "text": text, "name": format!("Contact {}", i % contacts)}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            let v: Value = r.json().await.unwrap();
            (v["id"].as_str().unwrap().to_string(), from, text)
        }
    });
    futures::stream::iter(reqs).buffered(16).collect().await
}

/// Reads SSE events from a response until `done` says enough (or 60 s).
pub async fn read_sse(
    resp: &mut reqwest::Response,
    done: impl Fn(&[(String, String, Value)]) -> bool,
) -> Vec<(String, String, Value)> {
    let mut buf = String::new();
    let mut out: Vec<(String, String, Value)> = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let (mut id, mut name, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !name.is_empty() {
                    out.push((id, name, serde_json::from_str(&data).unwrap_or(Value::Null)));
                }
            }
            if done(&out) {
                return;
            }
        }
    })
    .await;
    out
}
