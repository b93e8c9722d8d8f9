//! Command line and environment. Every flag has a `WABRIDGE_*` twin.

use clap::{Args, Parser, Subcommand, ValueEnum, builder::BoolishValueParser};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

#[derive(Parser, Debug)]
#[command(
    name = "wabridge",
    version,
    about = "Self-hosted WhatsApp Web bridge: one headless Chromium per session, an HTTP API, durable webhooks",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once, at start: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: the HTTP API on --listen, one browser per running session.
    Serve(ServeArgs),
    /// Run the WhatsApp sandbox alone: a WhatsApp Web stand-in page and a control API, for trying and CI-testing integrations with no phone.
    Sandbox(SandboxArgs),
    /// Exit 0 if the daemon at --url answers /health (for Docker's HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
    /// Check a wa-js file (the bundled one, or --wajs / WABRIDGE_WAJS)
    /// against what bridge.js needs, in a headless browser; exit 1 and say
    /// what is missing if it falls short.
    Doctor(DoctorArgs),
    /// Write a session of the running daemon at --url to stdout, as one
    /// file (auth state, history, webhooks, pending deliveries): a backup,
    /// or a move to another host with `wabridge import`. Admin key.
    Export(ExportArgs),
    /// Restore a session from a file made by `wabridge export` into the
    /// running daemon at --url; it comes back linked, with no QR scan.
    Import(ImportArgs),
    /// (Started by `serve` itself: ends its browsers if it dies.)
    #[command(hide = true)]
    Reaper,
}

/// Where the running daemon is, and the admin key.
#[derive(Args, Debug, Clone)]
pub struct RemoteArgs {
    /// Base URL of the daemon.
    #[arg(
        long,
        env = "WABRIDGE_URL",
        default_value = "http://127.0.0.1:8002",
        hide_env_values = true
    )]
    pub url: String,
    /// The admin API key.
    #[arg(long, env = "WABRIDGE_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// The session id.
    pub session: String,
    /// Stop the session if it runs (it then stays stopped here): a
    /// running session is not exported, for a copy imported elsewhere
    /// would answer the same number beside it.
    #[arg(long)]
    pub stop: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// A file made by `wabridge export` (`-` for stdin).
    pub file: PathBuf,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug, Clone)]
pub struct DoctorArgs {
    /// The wa-js file to check.
    #[arg(long, env = "WABRIDGE_WAJS")]
    pub wajs: Option<PathBuf>,
    /// Which browser to check it in.
    #[arg(long, env = "WABRIDGE_BROWSER", value_enum, default_value = "auto")]
    pub browser: BrowserKind,
    #[arg(long, env = "WABRIDGE_CHROMIUM")]
    pub chromium: Option<PathBuf>,
    /// Run Chromium without its own sandbox, as `serve` does with it (the
    /// container sets it: Docker's default seccomp profile denies it).
    #[arg(long, env = "WABRIDGE_CHROMIUM_NO_SANDBOX", value_parser = BoolishValueParser::new())]
    pub chromium_no_sandbox: bool,
}

/// The wa-js that ships (installed by `npm ci` in inject/).
pub const BUNDLED_WAJS: &str = "inject/node_modules/@wppconnect/wa-js/dist/wppconnect-wa.js";

/// The wa-js file to use, and whether an operator chose it: `--wajs` /
/// `WABRIDGE_WAJS`, else `WABRIDGE_WAJS_PATH` (its older name), else the
/// bundled one: under the working directory, else beside the executable
/// (`target/release/wabridge` in a checkout, or `inject/` next to a copied
/// binary), so a daemon started from elsewhere still finds it.
pub fn wajs_choice(flag: Option<&PathBuf>) -> (PathBuf, bool) {
    if let Some(p) = flag {
        return (p.clone(), true);
    }
    match std::env::var_os("WABRIDGE_WAJS_PATH") {
        Some(p) if !p.is_empty() => (PathBuf::from(p), true),
        _ => (bundled_wajs(), false),
    }
}

fn bundled_wajs() -> PathBuf {
    let here = PathBuf::from(BUNDLED_WAJS);
    if here.exists() {
        return here;
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .take(3)
                .map(|dir| dir.join(BUNDLED_WAJS))
                .find(|p| p.exists())
        });
    beside.unwrap_or(here)
}

#[derive(Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Address of the sandbox page and its /_sandbox control API.
    #[arg(
        long,
        env = "WABRIDGE_SANDBOX_LISTEN",
        default_value = "127.0.0.1:8003"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub world: SandboxWorldArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SandboxWorldArgs {
    /// Seconds between QR rotations of an unlinked device.
    #[arg(long, env = "WABRIDGE_QR_INTERVAL", default_value_t = 20.0, value_parser = parse_amount)]
    pub qr_interval: f64,
    /// QR codes shown before WhatsApp stops offering them ("Click to reload
    /// the QR code") until the page asks again; WhatsApp Web shows about six.
    #[arg(long, env = "WABRIDGE_QR_CODES", default_value_t = 6, value_parser = clap::builder::RangedU64ValueParser::<u32>::new().range(1..=1000))]
    pub qr_codes: u32,
    /// Milliseconds from an outbound message's "sent" ack to "delivered".
    #[arg(long, env = "WABRIDGE_ACK_DELAY_MS", default_value_t = 300, value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=3_600_000))]
    pub ack_delay_ms: u64,
    /// Keep the sandbox's accounts, links and messages in this JSON file across restarts.
    #[arg(long = "state", env = "WABRIDGE_SANDBOX_STATE")]
    pub state_file: Option<PathBuf>,
}

impl SandboxWorldArgs {
    pub fn config(&self, listen: SocketAddr) -> crate::sandbox::SandboxConfig {
        crate::sandbox::SandboxConfig {
            listen,
            qr_interval: Duration::from_secs_f64(self.qr_interval.max(0.2)),
            qr_codes: self.qr_codes,
            ack_delay: Duration::from_millis(self.ack_delay_ms),
            state_file: self.state_file.clone(),
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserKind {
    /// chromium-headless-shell when installed, else chromium --headless=new.
    Auto,
    /// Debian's chromium-headless-shell (old headless; about a third of the memory).
    HeadlessShell,
    /// chromium --headless=new.
    Chromium,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address of the HTTP API.
    #[arg(long, env = "WABRIDGE_LISTEN", default_value = "0.0.0.0:8002")]
    pub listen: SocketAddr,
    /// Where session profiles and the database live (default: the platform's data dir).
    #[arg(long, env = "WABRIDGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// API key; when unset one is generated on first start and kept in the data dir.
    #[arg(long, env = "WABRIDGE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Which browser to run per session.
    #[arg(long, env = "WABRIDGE_BROWSER", value_enum, default_value = "auto")]
    pub browser: BrowserKind,
    /// Path of the browser executable (default: found on PATH by --browser).
    #[arg(long, env = "WABRIDGE_CHROMIUM")]
    pub chromium: Option<PathBuf>,
    /// Run Chromium without its own sandbox (always so as root; set in containers).
    #[arg(long, env = "WABRIDGE_CHROMIUM_NO_SANDBOX", value_parser = BoolishValueParser::new())]
    pub chromium_no_sandbox: bool,
    /// Let the headless shell draw the pages. Off by default: pages run as
    /// ever but are never rendered, which takes most of a browser's CPU per
    /// message. On to debug a page with screenshots, or should a WhatsApp
    /// Web build wait on animation frames.
    #[arg(long, env = "WABRIDGE_BROWSER_FRAMES", value_parser = BoolishValueParser::new())]
    pub browser_frames: bool,
    /// Give each page a renderer process of its own (Chromium's default).
    /// Without Chromium's sandbox (as root, in containers) a session's
    /// browser is otherwise one process (`--single-process`): a third less
    /// memory and faster starts. Use this should a WhatsApp Web build
    /// misbehave in it.
    #[arg(long, env = "WABRIDGE_BROWSER_MULTI_PROCESS", value_parser = BoolishValueParser::new())]
    pub browser_multi_process: bool,
    /// Keep a linked page a foreground tab. By default it is hidden once
    /// linked, as a background tab: its timers wake at most once a second,
    /// which at a hundred sessions saves about a quarter of the browsers'
    /// CPU per message. Use this should a WhatsApp Web build slow down in
    /// the background. `--browser-frames` implies it.
    #[arg(long, env = "WABRIDGE_BROWSER_FOREGROUND", value_parser = BoolishValueParser::new())]
    pub browser_foreground: bool,
    /// The WhatsApp Web URL sessions open.
    #[arg(
        long,
        env = "WABRIDGE_WA_URL",
        default_value = "https://web.whatsapp.com"
    )]
    pub wa_url: String,
    /// A wa-js file (`wppconnect-wa.js`) to inject in real mode instead of
    /// the bundled one; checked at start (`wabridge doctor` tells why not).
    #[arg(long = "wajs", alias = "wajs-path", env = "WABRIDGE_WAJS")]
    pub wajs: Option<PathBuf>,
    /// Also run the sandbox and point sessions at it.
    #[arg(long, env = "WABRIDGE_SANDBOX", value_parser = BoolishValueParser::new())]
    pub sandbox: bool,
    /// Address of the embedded sandbox.
    #[arg(
        long,
        env = "WABRIDGE_SANDBOX_LISTEN",
        default_value = "127.0.0.1:8003"
    )]
    pub sandbox_listen: SocketAddr,
    #[command(flatten)]
    pub sandbox_world: SandboxWorldArgs,
    /// Print each new QR in the terminal.
    #[arg(long, env = "WABRIDGE_PRINT_QR", value_parser = BoolishValueParser::new())]
    pub print_qr: bool,
    /// The session of open-wa EASY API calls that name none (`POST /{method}`);
    /// by default the only session there is.
    #[arg(long, env = "WABRIDGE_DEFAULT_SESSION", value_parser = parse_session_id)]
    pub default_session: Option<crate::domain::SessionId>,
    /// Where webhook receivers reach this daemon (media links in webhooks);
    /// by default http:// and --listen (0.0.0.0 read as 127.0.0.1).
    #[arg(long, env = "WABRIDGE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Free disk space (MB) kept in reserve on the data dir's filesystem:
    /// below it, new messages, sends and sessions are refused (507) until
    /// space returns, instead of the database failing mid-write. 0: off.
    #[arg(long, env = "WABRIDGE_MIN_FREE_DISK_MB", default_value_t = 64.0, value_parser = parse_amount)]
    pub min_free_disk_mb: f64,
    /// The proxy of sessions that name none (`http://user:pass@host:port`,
    /// `https://…`, `socks5://host:port`).
    #[arg(long, env = "WABRIDGE_PROXY", hide_env_values = true)]
    pub proxy: Option<String>,
    /// Recycle a session's browser when its process tree's PSS passes this
    /// (MB; 0: never): restarted at a quiet moment, no rescan, nothing lost.
    #[arg(long, env = "WABRIDGE_SESSION_MAX_PSS_MB", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
    pub session_max_pss_mb: u64,
    /// Recycle a session's browser after this long (`12h`, `3d`; `0`: never).
    #[arg(long, env = "WABRIDGE_BROWSER_MAX_AGE", default_value = "0", value_parser = parse_age)]
    pub browser_max_age: Duration,
    /// How often WhatsApp Web's in-memory copies of messages already stored
    /// are dropped (`5m`; `0`: never). WhatsApp Web keeps every message it
    /// loads in memory for the life of the page, so a busy page grows; it
    /// keeps them in IndexedDB too (open-wa's `cutMsgCache`, on a timer).
    #[arg(long, env = "WABRIDGE_TRIM_PAGE_MESSAGES_EVERY", default_value = "5m", value_parser = parse_age)]
    pub trim_page_messages_every: Duration,
    /// Keep a chat's stored messages when it is deleted on the phone or
    /// another device (an archive that outlives what agents delete); its
    /// `chat.removed` event still comes. Off: the history follows WhatsApp.
    #[arg(long, env = "WABRIDGE_KEEP_DELETED_CHATS", value_parser = BoolishValueParser::new())]
    pub keep_deleted_chats: bool,
    /// The database's page cache (MB): the daemon's memory stays near this
    /// whatever the size of the stored history.
    #[arg(long, env = "WABRIDGE_STORE_CACHE_MB", default_value_t = 16.0, value_parser = parse_amount)]
    pub store_cache_mb: f64,
    /// Hours the event log keeps events for readers that resume the stream.
    #[arg(long, env = "WABRIDGE_EVENT_RETENTION_HOURS", default_value_t = 24.0, value_parser = parse_amount)]
    pub event_retention_hours: f64,
    /// Seconds `POST /session/create` waits for the first QR.
    #[arg(long, env = "WABRIDGE_QR_WAIT", default_value_t = 30.0, value_parser = parse_amount)]
    pub qr_wait: f64,
    /// Seconds any single call into a page may take.
    #[arg(long, env = "WABRIDGE_PAGE_TIMEOUT", default_value_t = 20.0, value_parser = parse_amount)]
    pub page_timeout: f64,
    /// Seconds a page may take to load and show WhatsApp before the session fails.
    #[arg(long, env = "WABRIDGE_LOAD_TIMEOUT", default_value_t = 60.0, value_parser = parse_amount)]
    pub load_timeout: f64,
    /// Seconds a page may stay silent and then miss two pings before it
    /// counts as hung and its browser is replaced (no rescan).
    #[arg(long, env = "WABRIDGE_HANG_AFTER", default_value_t = 60.0, value_parser = parse_amount)]
    pub hang_after: f64,
    /// Log format.
    #[arg(long, env = "WABRIDGE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub webhook: WebhookArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Several daemons serving one API: each session lives on one peer, its
/// home, and any peer forwards to it. Without peers, nothing changes.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// The peers' base URLs, comma-separated, this one among them.
    #[arg(
        long,
        env = "WABRIDGE_PEERS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub peers: Vec<String>,
    /// A file with one peer URL per line (a mounted ConfigMap); re-read
    /// when it changes. Takes the place of --peers.
    #[arg(long, env = "WABRIDGE_PEERS_FILE")]
    pub peers_file: Option<PathBuf>,
    /// This peer's URL, as it appears in the peer list.
    #[arg(long = "self-url", env = "WABRIDGE_SELF")]
    pub self_url: Option<String>,
    /// What peers present to each other; never a user's key.
    #[arg(long, env = "WABRIDGE_CLUSTER_KEY", hide_env_values = true)]
    pub cluster_key: Option<String>,
}

impl ClusterArgs {
    pub fn enabled(&self) -> bool {
        !self.peers.is_empty() || self.peers_file.is_some()
    }
}

/// What one client may take of the daemon. Each refusal is a clear error
/// in the dialect of the route (413, or 503 with Retry-After).
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// The largest media a send or an upload may carry (MB); request bodies
    /// that carry media may be this much in base64, and no more.
    #[arg(long, env = "WABRIDGE_MAX_MEDIA_MB", default_value_t = 64, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=16_384))]
    pub max_media_mb: usize,
    /// URLs given with a scoped key (media to fetch, webhooks and status
    /// callbacks) may lead to the daemon's host and private networks too,
    /// as the admin key's always may: for tenants whose servers are on the
    /// daemon's network. Off, a scoped key's reach public addresses only.
    #[arg(
        long,
        env = "WABRIDGE_PRIVATE_NETWORKS_FOR_KEYS",
        value_parser = BoolishValueParser::new()
    )]
    pub private_networks_for_keys: bool,
    /// The largest body of a request without media (KB).
    #[arg(long, env = "WABRIDGE_MAX_JSON_KB", default_value_t = 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_048_576))]
    pub max_json_kb: usize,
    /// Requests served at once; past this a request is refused (503).
    #[arg(long, env = "WABRIDGE_MAX_REQUESTS", default_value_t = 256, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_048_576))]
    pub max_requests: usize,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "WABRIDGE_REQUEST_TIMEOUT_S", default_value_t = 120, value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=86_400))]
    pub request_timeout_s: u64,
    /// Event streams (`/api/events`) open at once.
    #[arg(long, env = "WABRIDGE_MAX_STREAMS", default_value_t = 64, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_048_576))]
    pub max_streams: usize,
    /// Connections open at once; more wait to be accepted.
    #[arg(long, env = "WABRIDGE_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_048_576))]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (slow clients are
    /// dropped), and that an idle keep-alive connection is kept.
    #[arg(long, env = "WABRIDGE_HEADER_TIMEOUT_S", default_value_t = 30, value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=86_400))]
    pub header_timeout_s: u64,
}

impl LimitArgs {
    pub fn max_media(&self) -> usize {
        self.max_media_mb.max(1) << 20
    }
}

/// Send pacing per session: WhatsApp bans numbers that send in bursts.
#[derive(Args, Debug, Clone)]
pub struct PacingArgs {
    /// Messages a minute each session sends, sustained (0: no pacing).
    #[arg(long, env = "WABRIDGE_SEND_PER_MINUTE", default_value_t = 30.0, value_parser = parse_rate)]
    pub send_per_minute: f64,
    /// Messages a session may send at once after a quiet spell.
    #[arg(long, env = "WABRIDGE_SEND_BURST", default_value_t = 10.0, value_parser = parse_amount)]
    pub send_burst: f64,
    /// Sends a session queues; past this a send is refused (429, Retry-After).
    #[arg(long, env = "WABRIDGE_SEND_QUEUE", default_value_t = 200, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_048_576))]
    pub send_queue: usize,
    /// Up to this many milliseconds of random pause before each send.
    #[arg(long, env = "WABRIDGE_SEND_JITTER_MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub send_jitter_ms: u64,
    /// Show "typing…" in the chat before sending a text.
    #[arg(long, env = "WABRIDGE_SEND_TYPING", value_parser = BoolishValueParser::new())]
    pub send_typing: bool,
}

impl PacingArgs {
    /// `request_timeout`: what a request may take; a send waits for its
    /// turn at most three quarters of it, or it minus 30 s if more (the
    /// rest is the send's own: the page's call and its report).
    pub fn pacing(&self, request_timeout: std::time::Duration) -> crate::domain::pacing::Pacing {
        let spare = std::time::Duration::from_secs(30);
        crate::domain::pacing::Pacing {
            per_minute: self.send_per_minute.max(0.0),
            burst: self.send_burst.max(1.0),
            queue: self.send_queue.max(1),
            max_wait: request_timeout
                .saturating_sub(spare)
                .max(request_timeout * 3 / 4),
            jitter: std::time::Duration::from_millis(self.send_jitter_ms),
            typing: self.send_typing,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct WebhookArgs {
    /// A webhook every session's events go to, besides each session's own.
    #[arg(
        long = "webhook-url",
        env = "WABRIDGE_WEBHOOK_URL",
        hide_env_values = true
    )]
    pub url: Option<String>,
    /// Events for --webhook-url, comma-separated ('*' for all).
    #[arg(
        long = "webhook-events",
        env = "WABRIDGE_WEBHOOK_EVENTS",
        default_value = "message"
    )]
    pub events: String,
    /// Secret for --webhook-url (Standard Webhooks `whsec_...`).
    #[arg(
        long = "webhook-secret",
        env = "WABRIDGE_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<String>,
    /// Body format for --webhook-url: native, simple, openwa, twilio or cloud.
    #[arg(
        long = "webhook-format",
        env = "WABRIDGE_WEBHOOK_FORMAT",
        default_value = "native"
    )]
    pub format: String,
    /// `twilio` format: the AccountSid its posts carry (the session id when unset).
    #[arg(long = "webhook-account-sid", env = "WABRIDGE_WEBHOOK_ACCOUNT_SID")]
    pub account_sid: Option<String>,
    /// Attempts per delivery for --webhook-url before it is dead.
    #[arg(
        long = "webhook-attempts",
        env = "WABRIDGE_WEBHOOK_ATTEMPTS",
        default_value_t = 10,
        value_parser = clap::builder::RangedU64ValueParser::<u32>::new().range(0..=10_000)
    )]
    pub attempts: u32,
    /// Delay before the first retry, in ms (doubles each time).
    #[arg(
        long = "webhook-retry-base-ms",
        env = "WABRIDGE_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 1000,
        value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=86_400_000)
    )]
    pub retry_base_ms: u64,
    /// Longest delay between retries, in ms.
    #[arg(
        long = "webhook-retry-max-ms",
        env = "WABRIDGE_WEBHOOK_RETRY_MAX_MS",
        default_value_t = 300_000,
        value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=86_400_000)
    )]
    pub retry_max_ms: u64,
    /// How long a receiver may take to answer, in ms.
    #[arg(
        long = "webhook-timeout-ms",
        env = "WABRIDGE_WEBHOOK_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=3_600_000)
    )]
    pub timeout_ms: u64,
}

impl WebhookArgs {
    pub fn global(&self) -> anyhow::Result<Option<crate::domain::Webhook>> {
        let Some(url) = self.url.clone().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let hook: crate::domain::Webhook = serde_json::from_value(serde_json::json!({
            "url": url,
            "events": self.events.split(',').map(str::trim).filter(|e| !e.is_empty()).collect::<Vec<_>>(),
            "format": self.format,
            "secret": self.secret,
            "account_sid": self.account_sid.as_deref().filter(|s| !s.is_empty()),
            "retries": {"attempts": self.attempts},
        }))
        .map_err(|e| anyhow::anyhow!("WABRIDGE_WEBHOOK_*: {e}"))?;
        hook.validate("WABRIDGE_WEBHOOK")
            .map_err(|(f, why)| anyhow::anyhow!("{f} {why}"))?;
        Ok(Some(hook))
    }

    pub fn timing(&self) -> crate::webhook::dispatcher::RetryTiming {
        crate::webhook::dispatcher::RetryTiming {
            base: Duration::from_millis(self.retry_base_ms.max(10)),
            max: Duration::from_millis(self.retry_max_ms.max(self.retry_base_ms).max(10)),
            timeout: Duration::from_millis(self.timeout_ms.max(100)),
        }
    }
}

impl ServeArgs {
    pub fn page_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.page_timeout.max(0.5))
    }
    pub fn hang_after(&self) -> Duration {
        // Below 10 s a page busy for a second (a first sync, a catch-up)
        // would miss two pings and be taken for hung.
        Duration::from_secs_f64(self.hang_after.max(10.0))
    }
    pub fn load_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.load_timeout.max(1.0))
    }
}

#[derive(Args, Debug, Clone)]
pub struct HealthcheckArgs {
    /// Base URL of the daemon.
    #[arg(
        long,
        env = "WABRIDGE_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8002"
    )]
    pub url: String,
    /// Ask `/ready` (store open, sessions restored) instead of `/health`
    /// (the process answers).
    #[arg(long)]
    pub ready: bool,
}

/// A number of seconds, megabytes or messages: finite, 0 or more, and at
/// most a billion (an `inf` or a huge value would otherwise panic where it
/// becomes a Duration).
fn parse_amount(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if !v.is_finite() || !(0.0..=1e9).contains(&v) {
        return Err("must be a number from 0 to 1000000000".into());
    }
    Ok(v)
}

/// A pace (messages a minute): 0 for none, else at least one a
/// hundred minutes (a slower one would wait past what a timer holds).
fn parse_rate(s: &str) -> Result<f64, String> {
    match parse_amount(s)? {
        v if v > 0.0 && v < 0.01 => Err("must be 0 (no pacing) or at least 0.01".into()),
        v => Ok(v),
    }
}

fn parse_age(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (e.g. 12h, 3d, 0 for never)"))
}

pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "wabridge")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("sessions"))
}

impl ServeArgs {
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let mut a = self.listen;
                if a.ip().is_unspecified() {
                    a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{a}")
            }
        }
    }
}

fn parse_session_id(s: &str) -> Result<crate::domain::SessionId, String> {
    crate::domain::SessionId::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{ArgAction, CommandFactory};

    /// Every boolean setting read from the environment takes what container
    /// files and shells write: `1`/`0`, `yes`/`no`, `on`/`off` as well as
    /// `true`/`false`, and refuses anything else.
    #[test]
    fn boolean_settings_take_the_usual_spellings() {
        let cli = Cli::command();
        let mut checked = 0;
        for cmd in cli.get_subcommands() {
            for arg in cmd.get_arguments() {
                if arg.get_env().is_none() || !matches!(arg.get_action(), ArgAction::SetTrue) {
                    continue;
                }
                // The same argument, its value given on the command line.
                let one =
                    clap::Command::new("t").arg(arg.clone().action(ArgAction::Set).num_args(1));
                let long = arg.get_long().unwrap();
                let parse = |v: &str| {
                    one.clone()
                        .try_get_matches_from(["t", &format!("--{long}={v}")])
                        .map(|m| *m.get_one::<bool>(arg.get_id().as_str()).unwrap())
                };
                for (v, want) in [
                    ("true", true),
                    ("1", true),
                    ("yes", true),
                    ("on", true),
                    ("false", false),
                    ("0", false),
                    ("no", false),
                    ("off", false),
                ] {
                    assert_eq!(parse(v).ok(), Some(want), "{:?} = {v}", arg.get_env());
                }
                assert!(parse("maybe").is_err(), "{:?}", arg.get_env());
                checked += 1;
            }
        }
        assert!(checked >= 7, "{checked}");
    }

    #[test]
    fn amounts_are_finite_and_not_negative() {
        let serve = |flag: &str, v: &str| {
            Cli::try_parse_from(["wabridge", "serve", flag, v]).map(|c| match c.command {
                Command::Serve(s) => (s.hang_after(), s.page_timeout()),
                _ => unreachable!(),
            })
        };
        for bad in ["inf", "NaN", "-1", "1e300", "soon"] {
            for flag in [
                "--hang-after",
                "--page-timeout",
                "--load-timeout",
                "--qr-wait",
            ] {
                assert!(serve(flag, bad).is_err(), "{flag} {bad}");
            }
        }
        let (hang, _) = serve("--hang-after", "12").unwrap();
        assert_eq!(hang, Duration::from_secs(12));
        let (_, page) = serve("--page-timeout", "0").unwrap();
        assert_eq!(page, Duration::from_millis(500), "the floor, not zero");
        // Where a value became a panic further on: a pace too slow for a
        // timer, a jitter past u64 arithmetic, a ceiling past MB as bytes.
        for (flag, bad, good) in [
            ("--send-per-minute", "1e-20", "0.01"),
            ("--send-jitter-ms", "18446744073709551615", "600000"),
            ("--session-max-pss-mb", "17592186044416", "1048576"),
            // A timeout past a day, media past MB as bytes, a retry wait
            // past i64 milliseconds.
            ("--request-timeout-s", "18446744073709551615", "86400"),
            ("--max-media-mb", "17592186044416", "16384"),
            ("--webhook-retry-max-ms", "18446744073709551615", "86400000"),
        ] {
            assert!(serve(flag, bad).is_err(), "{flag} {bad}");
            assert!(serve(flag, good).is_ok(), "{flag} {good}");
            assert!(serve(flag, "0").is_ok(), "{flag} 0");
        }
    }

    #[test]
    fn the_global_webhook_takes_a_twilio_account_sid() {
        let parse = |args: &[&str]| {
            let mut all = vec![
                "wabridge",
                "serve",
                "--webhook-url",
                "http://127.0.0.1:9/in",
            ];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).unwrap().command {
                Command::Serve(s) => s.webhook.global(),
                _ => unreachable!(),
            }
        };
        let sid = "AC0123456789abcdef0123456789abcdef";
        let hook = parse(&["--webhook-format", "twilio", "--webhook-account-sid", sid])
            .unwrap()
            .unwrap();
        assert_eq!(hook.account_sid.as_deref(), Some(sid));
        assert_eq!(parse(&[]).unwrap().unwrap().account_sid, None);
        let e = parse(&["--webhook-account-sid", sid])
            .unwrap_err()
            .to_string();
        assert!(e.contains("account_sid"), "{e}");
    }
}
