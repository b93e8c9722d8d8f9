//! wabridge: a WhatsApp Web bridge daemon. See docs/architecture.md.

pub mod config;
pub mod model;
pub mod qr;
pub mod sandbox;

use config::{HealthcheckArgs, LogFormat, SandboxArgs, ServeArgs};

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WABRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,chromiumoxide=off,sled=warn"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
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

pub async fn serve(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

pub async fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<()> {
    let url = format!("{}/health", args.url.trim_end_matches('/'));
    let resp = reqwest::Client::new()
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
