//! The sandbox: a WhatsApp Web stand-in (a page with its own `window.WPP`)
//! and the servers and phones behind it, with a JSON control API.
//! `wabridge sandbox` runs it alone; `wabridge serve --sandbox` embeds it.

mod calls;
mod channels;
mod chats;
mod communities;
mod contacts;
mod control;
mod find;
mod groups;
mod labels;
mod notes;
mod people;
mod pins;
mod receipts;
mod socket;
mod world;

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use tokio::sync::Mutex;
use world::{Persisted, World};

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub listen: SocketAddr,
    /// How often an unlinked device's QR string rotates.
    pub qr_interval: Duration,
    /// QR codes an unlinked device is shown before WhatsApp stops
    /// offering them (idle) until the page asks for more.
    pub qr_codes: u32,
    /// Delay between `sent` and `delivered` acks of outbound messages.
    pub ack_delay: Duration,
    /// Keep accounts, links and messages across restarts.
    pub state_file: Option<PathBuf>,
}

#[derive(Clone)]
struct Sandbox {
    world: Arc<Mutex<World>>,
    cfg: Arc<SandboxConfig>,
}

pub struct SandboxHandle {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds the listener and serves in a background task.
pub async fn spawn(cfg: SandboxConfig) -> anyhow::Result<SandboxHandle> {
    let persisted = match &cfg.state_file {
        Some(path) if path.exists() => {
            let bytes = std::fs::read(path)?;
            serde_json::from_slice::<Persisted>(&bytes).map_err(|e| {
                anyhow::anyhow!("sandbox state file {} is not valid: {e}", path.display())
            })?
        }
        _ => Persisted::default(),
    };
    let sb = Sandbox {
        world: Arc::new(Mutex::new(World::new(persisted))),
        cfg: Arc::new(cfg.clone()),
    };
    if let Some(path) = cfg.state_file.clone() {
        tokio::spawn(save_loop(sb.world.clone(), path));
    }
    tokio::spawn(sync_loop(sb.world.clone()));
    let app = Router::new()
        .route("/", get(index))
        .route("/wpp.js", get(wpp_js))
        .route("/page.js", get(page_js))
        .route("/ws", get(socket::upgrade))
        .nest("/_sandbox", control::routes())
        .with_state(sb);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("sandbox cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("sandbox server stopped: {e}");
        }
    });
    Ok(SandboxHandle { addr, task })
}

/// Brings devices online once their sync is over (`World::sync_due`).
async fn sync_loop(world: Arc<Mutex<World>>) {
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut w = world.lock().await;
        if !w.syncing.is_empty() {
            w.sync_due();
        }
    }
}

/// Writes the state file when something changed, atomically (rename).
async fn save_loop(world: Arc<Mutex<World>>, path: PathBuf) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let bytes = {
            let mut w = world.lock().await;
            if !w.dirty {
                continue;
            }
            w.dirty = false;
            match serde_json::to_vec(&w.p) {
                Ok(b) => b,
                Err(_) => continue,
            }
        };
        let tmp = path.with_extension("tmp");
        let res = tokio::fs::write(&tmp, &bytes).await;
        if let Err(e) = res.and(tokio::fs::rename(&tmp, &path).await) {
            tracing::warn!(
                "sandbox could not save its state to {}: {e}",
                path.display()
            );
        }
    }
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const WPP_JS: &str = include_str!("assets/wpp.js");
const PAGE_JS: &str = include_str!("assets/page.js");

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
}
/// The page library, preceded by the build the sandbox plays now.
async fn wpp_js(State(sb): State<Sandbox>) -> impl IntoResponse {
    let build = sb.world.lock().await.build.clone();
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!("window.__sandboxBuild = {build};\n{WPP_JS}"),
    )
}
async fn page_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PAGE_JS,
    )
}
