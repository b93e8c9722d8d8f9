//! The daemon's entry points: `serve` wires the layers together (store →
//! dispatcher → pipeline → sessions → core → HTTP), `sandbox` runs the
//! WhatsApp stand-in alone, `healthcheck` asks a running daemon.

use crate::config::{self, HealthcheckArgs, LogFormat, SandboxArgs, ServeArgs};
use crate::{api, cluster, core, domain, pipeline, sandbox, session, store, webhook};

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WABRIDGE_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,chromiumoxide=off,sled=warn,redb=warn")
    });
    // Colours only on a terminal: `docker logs` and files get plain text.
    use std::io::IsTerminal;
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => b.json().try_init(),
        LogFormat::Text => b.try_init(),
    };
}

pub async fn run_sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let h = sandbox::spawn(args.world.config(args.listen)).await?;
    tracing::info!(
        "sandbox: WhatsApp Web stand-in at http://{}/ , control API at /_sandbox",
        h.addr
    );
    tokio::select! {
        _ = shutdown_signal() => {}
        _ = h.task => {}
    }
    Ok(())
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    // Everything this daemon and its browsers write (the store, profiles
    // with WhatsApp's keys, media, imports) is for this user alone, even
    // once copied out of the 0700 data dir.
    // SAFETY: umask only sets this process's file-creation mask.
    unsafe { libc::umask(0o077) };
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(config::default_data_dir);
    if let Err(e) = session::reaper::start() {
        tracing::warn!(
            "cannot start the browser reaper ({e}); leftovers of a crash are ended at the next start"
        );
    }
    if let Err(e) = session::browser::ensure_private_dir(&data_dir) {
        // A volume whose root another user owns (Kubernetes' fsGroup gives
        // it the pod's group, not its user) cannot be made 0700 by us; what
        // we write in it is (umask 077), so it serves if we can write it.
        let writable = e.kind() == std::io::ErrorKind::PermissionDenied
            && data_dir.is_dir()
            && tempfile::tempfile_in(&data_dir).is_ok();
        if !writable {
            anyhow::bail!("cannot use data dir {}: {e}", data_dir.display());
        }
        tracing::warn!(
            dir = %data_dir.display(),
            "the data dir is not ours to make private (0700): what wabridge writes in it is"
        );
    }
    let store = store::Store::open_with_cache(
        &data_dir.join("db"),
        (args.store_cache_mb.max(1.0) * 1048576.0) as u64,
    )?
    .with_reserve((args.min_free_disk_mb.max(0.0) * 1048576.0) as u64);
    let api_key = api_key(&args, &data_dir)?;

    let mut wa_url = args.wa_url.clone();
    let _sandbox = if args.sandbox {
        let mut cfg = args.sandbox_world.config(args.sandbox_listen);
        // Embedded, the sandbox keeps its world next to the sessions, so a
        // daemon restart finds its links (as WhatsApp would).
        cfg.state_file
            .get_or_insert_with(|| data_dir.join("sandbox-state.json"));
        let h = sandbox::spawn(cfg).await?;
        wa_url = format!("http://{}/", h.addr);
        tracing::info!("embedded sandbox at {wa_url} (control API at {wa_url}_sandbox)");
        Some(h)
    } else {
        None
    };
    let spec = session::browser::BrowserSpec {
        kind: args.browser,
        executable: args.chromium.clone(),
        no_sandbox: args.chromium_no_sandbox,
        frames: args.browser_frames,
        multi_process: args.browser_multi_process,
        // A page drawn is a page someone may look at: keep it in front.
        background: !args.browser_foreground && !args.browser_frames,
    };
    let (exe, shell) = spec.resolve()?;
    tracing::info!(browser = %exe.display(), headless_shell = shell, "browser");
    // An operator's wa-js is checked now: a broken file is a clear error at
    // start, not sessions failing one by one.
    let (wajs, chosen) = config::wajs_choice(args.wajs.as_ref());
    if !chosen && !args.sandbox && !wajs.exists() {
        // Every real session would fail to start, one by one.
        tracing::error!(wajs = %wajs.display(), "the bundled wa-js is not there: real sessions cannot start (run `make run` from the checkout, or `npm ci` in inject/, or name one with --wajs)");
    }
    if chosen {
        let c = session::wajs::check_file(&spec, &wajs).await?;
        if !c.missing.is_empty() {
            anyhow::bail!(
                "the wa-js at {} lacks what wabridge needs: {} (wabridge doctor --wajs {} says more)",
                wajs.display(),
                c.missing.join(", "),
                wajs.display()
            );
        }
        tracing::info!(wajs = %wajs.display(), version = c.wa_js.as_deref().unwrap_or("?"), "wa-js chosen by the operator");
        if !c.lacking.is_empty() {
            tracing::warn!(lacking = %c.lacking.join(", "), "the wa-js chosen lacks what some features need: they answer 409 unsupported_by_whatsapp_web");
        }
    }

    let global_hook = args.webhook.global()?;
    let own_user_ids = secret_file(&data_dir, "user-id-key")?;
    let user_ids = match args.cluster.cluster_key.as_deref() {
        // Alike on every peer: a Cloud user id outlives its session's move.
        Some(k) if args.cluster.enabled() && !k.is_empty() => {
            api::cloud::convert::UserIds::shared(k.as_bytes(), own_user_ids)
        }
        _ => api::cloud::convert::UserIds::new(own_user_ids),
    };
    let (replies_tx, replies) = tokio::sync::mpsc::unbounded_channel();
    let dispatcher = webhook::dispatcher::Dispatcher::spawn(
        store.clone(),
        args.webhook.timing(),
        api::webhook_renderer(args.public_url(), user_ids.clone()),
        Some(replies_tx),
        args.limits.private_networks_for_keys,
    )?;
    let retention =
        std::time::Duration::from_secs_f64(args.event_retention_hours.max(0.0) * 3600.0);
    let deliveries = dispatcher.clone();
    let pipeline = pipeline::Pipeline::new(store.clone(), dispatcher, global_hook, retention);
    let config = session::SessionConfig {
        data_dir: data_dir.clone(),
        browser: spec,
        wa_url,
        wajs_path: wajs.clone(),
        page_timeout: args.page_timeout(),
        load_timeout: args.load_timeout(),
        hang: session::HangCheck::after(args.hang_after()),
        print_qr: print_qr(args.print_qr),
        max_pss: (args.session_max_pss_mb > 0).then_some(args.session_max_pss_mb << 20),
        max_age: (!args.browser_max_age.is_zero()).then_some(args.browser_max_age),
        trim_every: (!args.trim_page_messages_every.is_zero())
            .then_some(args.trim_page_messages_every),
        keep_deleted_chats: args.keep_deleted_chats,
        default_proxy: args
            .proxy
            .as_deref()
            .map(domain::Proxy::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("WABRIDGE_PROXY {e}"))?,
    };
    let env = std::sync::Arc::new(session::SessionEnv::new(config, pipeline, store.clone()));
    let manager = session::Manager::new(env);
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    // The grace period counts from the stop signal, even one that came
    // while the sessions were being restored (a second signal listener
    // made then would not hear it).
    let mut stopped = stopping.clone();
    let request_timeout = std::time::Duration::from_secs(args.limits.request_timeout_s.max(1));
    let core = core::Core::new(
        manager.clone(),
        args.default_session.clone(),
        args.pacing.pacing(request_timeout),
        stopping,
        args.limits.max_media(),
        args.limits.private_networks_for_keys,
    )?;
    let max_json = args.limits.max_json_kb.max(1) << 10;
    let cluster =
        cluster::Cluster::from_args(&args.cluster, &api_key, &core, max_json, request_timeout)?;
    tokio::spawn(api::twilio::serve_replies(core.clone(), replies));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!("wabridge listening on http://{}", listener.local_addr()?);
    let ready = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let settings = api::Settings {
        api_key: api_key.into(),
        qr_wait: std::time::Duration::from_secs_f64(args.qr_wait.max(0.0)),
        public_url: args.public_url(),
        user_ids,
        ready: ready.clone(),
        metrics: Some(install_metrics()?),
        limits: api::limits::Limits {
            max_requests: args.limits.max_requests,
            request_timeout,
            max_streams: args.limits.max_streams,
            max_json,
            max_media_body: api::limits::Limits::media_body(args.limits.max_media()),
        },
    };
    let conns = api::serve::Connections {
        max: args.limits.max_connections,
        header_timeout: std::time::Duration::from_secs(args.limits.header_timeout_s.max(1)),
    };
    // Listening before the sessions are restored: /health answers at once,
    // /ready once they are.
    let stop = async move {
        shutdown_signal().await;
        // Event streams end; requests in flight may finish.
        let _ = stopping_tx.send(true);
    };
    let mut app = api::router(core, settings);
    if let Some(c) = &cluster {
        app = cluster::forward::install(c.clone(), app);
    }
    let mut server = tokio::spawn(api::serve::serve(listener, app, conns, stop));
    if let Some(c) = &cluster {
        // Listening: it may have to ask itself (under the list's spelling)
        // before anything is placed.
        c.find_myself().await;
        c.spawn();
    }
    match &cluster {
        // A session homed on another peer is not started here: a device
        // session may be live in one place only.
        Some(c) => manager.resume_only(|id| c.is_home(id.as_str())).await,
        None => manager.resume_only(|_| true).await,
    }
    ready.store(true, std::sync::atomic::Ordering::Release);
    tokio::select! {
        res = &mut server => res??,
        // A client that holds a request open past the grace period (a
        // slow upload, a send waiting on a dead page) does not hold the
        // daemon: its connection is dropped and the browsers still close.
        _ = async {
            if stopped.wait_for(|s| *s).await.is_err() {
                // No stop will be told (the server is done).
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("requests still open {} s after the stop signal: closing them", SHUTDOWN_GRACE.as_secs());
            server.abort();
        }
    }
    tracing::info!("shutting down: closing browsers (profiles are kept)");
    manager.shutdown().await;
    // The webhooks answered are recorded before the last flush: a graceful
    // restart posts none of them again.
    deliveries.shutdown(DELIVERIES_GRACE).await;
    store.flush().await?;
    Ok(())
}

/// How long requests in flight may take to finish once the daemon is
/// asked to stop.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long the stop waits for webhook attempts in flight (a receiver that
/// is slower than this gets the delivery again after the restart).
const DELIVERIES_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The Prometheus recorder behind `/metrics` (one per process).
fn install_metrics() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(crate::telemetry::BUCKETS)?
        // A gauge no longer set is a reading of something gone (a stopped or
        // deleted session's browser memory, read at least every 5 minutes).
        .idle_timeout(
            metrics_util::MetricKindMask::GAUGE,
            Some(crate::telemetry::STALE_GAUGE),
        )
        .install_recorder()?;
    crate::telemetry::describe();
    Ok(handle)
}

/// `WABRIDGE_API_KEY`, or the key kept in the data dir, or a new one
/// (stored 0600 and printed once, outside the logs).
fn api_key(args: &ServeArgs, data_dir: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(k) = args.api_key.as_ref().filter(|k| !k.is_empty()) {
        // The deploy examples' placeholders: a key anyone can read there.
        anyhow::ensure!(
            !k.starts_with("change-me"),
            "WABRIDGE_API_KEY is still the example's placeholder; set your own, or leave it empty to have one generated"
        );
        return Ok(k.clone());
    }
    let path = data_dir.join("api-key");
    if let Ok(k) = std::fs::read_to_string(&path)
        && !k.trim().is_empty()
    {
        return Ok(k.trim().to_string());
    }
    let key = format!("wab_{}", session_key_material());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(key.as_bytes())?;
    // Shown to a person at a terminal, once; where stderr is kept (docker
    // logs, journald) only where it is: a key is no line for a log.
    use std::io::IsTerminal as _;
    if std::io::stderr().is_terminal() {
        eprintln!(
            "wabridge: generated an API key (kept in {}):\n\n    {key}\n",
            path.display()
        );
    } else {
        eprintln!(
            "wabridge: generated an API key, kept in {} (read it there)",
            path.display()
        );
    }
    Ok(key)
}

/// 32 random bytes kept (0600) in the data dir: made once, then reused, so
/// what is derived from them stays stable across restarts.
fn secret_file(data_dir: &std::path::Path, name: &str) -> anyhow::Result<[u8; 32]> {
    use base64::Engine as _;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(name);
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Ok(s) = std::fs::read_to_string(&path) {
        if let Ok(k) = b64.decode(s.trim())
            && let Ok(k) = <[u8; 32]>::try_from(k.as_slice())
        {
            return Ok(k);
        }
        anyhow::bail!("{} is not a key this daemon wrote", path.display());
    }
    let key: [u8; 32] = rand::random();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(b64.encode(key).as_bytes())?;
    Ok(key)
}

fn session_key_material() -> String {
    use base64::Engine as _;
    let bytes: [u8; 24] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub async fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<()> {
    let route = if args.ready { "ready" } else { "health" };
    let url = format!("{}/{route}", args.url.trim_end_matches('/'));
    // The daemon next door, never through an HTTP_PROXY set for webhooks.
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(&url)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "{url} answered {}",
        resp.status()
    );
    Ok(())
}

/// `wabridge export SESSION`: the session's file on stdout.
pub async fn export(args: config::ExportArgs) -> anyhow::Result<()> {
    let url = format!(
        "{}/api/sessions/{}/export{}",
        args.remote.url.trim_end_matches('/'),
        args.session,
        if args.stop { "?stop=true" } else { "" }
    );
    let r = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&args.remote.api_key)
        .send()
        .await?;
    let status = r.status();
    let body = r.bytes().await?;
    anyhow::ensure!(
        status.is_success(),
        "{url} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(&body)?;
    out.flush()?;
    Ok(())
}

/// `wabridge import FILE`: restores the session the file holds.
pub async fn import(args: config::ImportArgs) -> anyhow::Result<()> {
    let bytes = if args.file.as_os_str() == "-" {
        use std::io::Read;
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b)?;
        b
    } else {
        std::fs::read(&args.file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?
    };
    // Checked here, for a clear word before hundreds of megabytes travel.
    session::transfer::manifest_of(&bytes).map_err(anyhow::Error::msg)?;
    let url = format!(
        "{}/api/sessions/import",
        args.remote.url.trim_end_matches('/')
    );
    let r = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&args.remote.api_key)
        .header("content-type", "application/x-tar")
        .body(bytes)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    anyhow::ensure!(status.is_success(), "{url} answered {status}: {text}");
    println!("{text}");
    Ok(())
}

/// `wabridge doctor`: checks a wa-js file against what bridge.js needs.
/// Ok(true) if it has everything.
pub async fn doctor(args: crate::config::DoctorArgs) -> anyhow::Result<bool> {
    let (path, _) = config::wajs_choice(args.wajs.as_ref());
    let spec = session::browser::BrowserSpec {
        kind: args.browser,
        executable: args.chromium.clone(),
        no_sandbox: args.chromium_no_sandbox,
        frames: false,
        multi_process: false,
        background: false,
    };
    let c = session::wajs::check_file(&spec, &path).await?;
    let needs = session::bridge::needs();
    println!("wa-js file:   {}", path.display());
    println!(
        "wa-js:        {}",
        c.wa_js.as_deref().unwrap_or("(no version)")
    );
    println!("bridge.js:    needs {} members", needs.len());
    if c.missing.is_empty() {
        println!("result:       ok, every member bridge.js needs is there");
    } else {
        println!("result:       {} missing:", c.missing.len());
        for m in &c.missing {
            println!("  - WPP.{m}");
        }
    }
    // Not a failure: the features that need them say so when asked.
    for m in &c.lacking {
        println!("lacking:      WPP.{m} (its feature answers 409 unsupported_by_whatsapp_web)");
    }
    Ok(c.missing.is_empty())
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// `--print-qr` prints to a terminal only: where stderr is kept (docker
/// logs, journald) a QR, which links a phone to whoever reads it, is no
/// line for a log.
fn print_qr(asked: bool) -> bool {
    use std::io::IsTerminal as _;
    let terminal = std::io::stderr().is_terminal();
    if asked && !terminal {
        tracing::warn!(
            "--print-qr: stderr is not a terminal, so QRs are not printed (a log would keep them); read them at GET /api/sessions/{{id}}/qr or on the dashboard"
        );
    }
    asked && terminal
}
