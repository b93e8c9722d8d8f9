//! Several daemons, one API. Each session lives on exactly one peer, its
//! home: the rendezvous hash of its id over the peer list ([`peers`]). Any
//! peer takes any request: [`route`] reads which session it is for, and
//! [`forward`] serves it here, streams it to the home, merges the peers'
//! lists, or answers 503 `session_home_unavailable` when the home is down.
//! The caller's key travels with the request and is checked once, by the
//! peer that serves it; scoped keys are on every peer ([`keys`]). Peers
//! call each other with the cluster key, which no user route accepts.
//!
//! When the list changes, sessions move to their new homes ([`moves`])
//! with their auth state: no rescan.
//!
//! Without a peer list none of this is installed.

pub mod events;
pub mod forward;
pub mod keys;
pub mod moves;
pub mod peers;
pub mod route;

use crate::config::ClusterArgs;
use crate::core::Core;
use crate::domain::Access;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Marks a request one peer sent another: served where it arrives.
pub const FORWARDED_BY: &str = "x-wabridge-forwarded-by";
/// The cluster key, on calls between peers.
pub const CLUSTER_KEY: &str = "x-wabridge-cluster-key";
/// On every answer: the peer that served it.
pub const PEER: &str = "x-wabridge-peer";
/// On a merged list: the peers that could not answer (their sessions are
/// missing from it).
pub const UNREACHABLE: &str = "x-wabridge-unreachable";
/// On a peer's answer about a session it holds: which daemon answered (a
/// random id per run), so that a peer never takes itself for another.
pub const INSTANCE: &str = "x-wabridge-instance";

#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    me: String,
    key: String,
    /// The admin key: only it may send a session's export.
    admin: Arc<str>,
    peers: watch::Sender<Arc<Vec<String>>>,
    file: Option<PathBuf>,
    http: reqwest::Client,
    /// The core as the cluster acts on it (keys from peers).
    core: Core,
    /// The largest body read to find a session named in it.
    max_json: usize,
    /// How long a peer may take to start answering a forwarded call: its
    /// own request timeout, and a little more so that its answer wins.
    answer_within: Duration,
    /// How long a body read here may take (the request's own time): a
    /// client that sends its body a byte a minute holds no connection.
    read_within: Duration,
    /// This run's `INSTANCE`.
    instance: String,
    /// How peer lists have spelled this peer where WABRIDGE_SELF spells
    /// it otherwise (`find_myself`): a handful in a life, kept for it.
    aliases: std::sync::Mutex<Vec<&'static str>>,
}

impl Cluster {
    /// None without a peer list; an error for a list this peer cannot use.
    pub fn from_args(
        args: &ClusterArgs,
        api_key: &str,
        core: &Core,
        max_json: usize,
        request_timeout: Duration,
    ) -> anyhow::Result<Option<Cluster>> {
        if !args.enabled() {
            return Ok(None);
        }
        let list = match &args.peers_file {
            Some(f) => read_file(f)?,
            None => peers::parse(&args.peers.join(",")),
        };
        peers::check(&list).map_err(anyhow::Error::msg)?;
        let me = peers::normalize(args.self_url.as_deref().ok_or_else(|| {
            anyhow::anyhow!("with peers, WABRIDGE_SELF (--self-url) must say which one this is")
        })?);
        if !list.contains(&me) {
            // A pod started before the list names it (scaling up): it is
            // home to nothing until the list does, and still serves.
            tracing::warn!(me = %me, "cluster: this peer is not in the peer list yet: home to no session");
        }
        let key = args.cluster_key.clone().unwrap_or_default();
        if key.len() < 16 {
            anyhow::bail!("with peers, WABRIDGE_CLUSTER_KEY must be set (16 characters or more)");
        }
        if key == api_key {
            anyhow::bail!("WABRIDGE_CLUSTER_KEY must differ from the API key");
        }
        // Peers are reached directly: an HTTP_PROXY meant for webhooks
        // must not carry traffic between them.
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(20))
            .build()?;
        tracing::info!(peers = list.len(), me = %me, "cluster: one of {} peers", list.len());
        Ok(Some(Cluster {
            inner: Arc::new(Inner {
                admin: Arc::from(api_key),
                me,
                key,
                peers: watch::channel(Arc::new(list)).0,
                file: args.peers_file.clone(),
                http,
                core: core.acting_as(Access::Admin),
                max_json,
                answer_within: request_timeout + Duration::from_secs(5),
                read_within: request_timeout,
                instance: format!("{:032x}", rand::random::<u128>()),
                aliases: Default::default(),
            }),
        }))
    }

    pub fn me(&self) -> &str {
        let list = self.inner.peers.borrow();
        if list.contains(&self.inner.me) {
            return &self.inner.me;
        }
        let aliases = self.inner.aliases.lock().unwrap_or_else(|e| e.into_inner());
        aliases
            .iter()
            .find(|a| list.iter().any(|p| p == **a))
            .copied()
            .unwrap_or(&self.inner.me)
    }

    pub fn peers(&self) -> Arc<Vec<String>> {
        self.inner.peers.borrow().clone()
    }

    /// The peer a session lives on.
    pub fn home(&self, session: &str) -> String {
        let list = self.peers();
        peers::home(&list, session).unwrap_or(self.me()).to_string()
    }

    pub fn is_home(&self, session: &str) -> bool {
        self.home(session) == self.me()
    }

    /// Every peer but this one.
    pub fn others(&self) -> Vec<String> {
        self.peers()
            .iter()
            .filter(|p| **p != self.me())
            .cloned()
            .collect()
    }

    /// Is this the cluster key?
    pub fn is_key(&self, presented: &str) -> bool {
        crate::api::auth::same(presented, &self.inner.key)
    }

    /// When the peer list does not name WABRIDGE_SELF as it is spelled:
    /// asks each peer of the list which daemon it is, and takes the one
    /// that is this daemon (`INSTANCE`) as this peer's name. Otherwise its
    /// sessions would be homed "elsewhere", at itself: never resumed here.
    pub async fn find_myself(&self) {
        self.find_myself_in(&self.peers()).await
    }

    async fn find_myself_in(&self, list: &[String]) {
        let known = {
            let aliases = self.inner.aliases.lock().unwrap_or_else(|e| e.into_inner());
            list.iter()
                .any(|p| *p == self.inner.me || aliases.iter().any(|a| p == a))
        };
        if known {
            return;
        }
        let asks = list.iter().map(|peer| async move {
            let r = self
                .peer_get(&format!("{peer}/_cluster/sessions/-"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .ok()?;
            self.answered_by_me(&r).then(|| peer.clone())
        });
        let found = futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .next();
        if let Some(peer) = found {
            tracing::warn!(me = %self.inner.me, as_listed = %peer, "cluster: WABRIDGE_SELF is spelled otherwise in the peer list: this peer is taken as the list spells it");
            let peer: &'static str = Box::leak(peer.into_boxed_str());
            self.inner
                .aliases
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(peer);
        }
    }

    /// A GET of a peer's `/_cluster` route, with the cluster key.
    fn peer_get(&self, url: &str) -> reqwest::RequestBuilder {
        self.inner
            .http
            .get(url)
            .header(CLUSTER_KEY, &self.inner.key)
    }

    /// Whether an answer about a session came from this very daemon
    /// (`INSTANCE`), whatever the address it was asked at.
    fn answered_by_me(&self, r: &reqwest::Response) -> bool {
        r.headers().get(INSTANCE).and_then(|v| v.to_str().ok()) == Some(&self.inner.instance)
    }

    /// Changes of the peer list, for the placement of sessions.
    pub fn watch(&self) -> watch::Receiver<Arc<Vec<String>>> {
        self.inner.peers.subscribe()
    }

    /// Background work until the daemon stops: the peers file is re-read
    /// when it changes, and keys are exchanged with every peer.
    pub fn spawn(&self) {
        if let Some(file) = self.inner.file.clone() {
            let c = self.clone();
            tokio::spawn(async move { c.follow_file(file).await });
        }
        let c = self.clone();
        tokio::spawn(async move { c.exchange_keys().await });
        let c = self.clone();
        tokio::spawn(async move { c.hand_over().await });
    }

    async fn follow_file(&self, file: PathBuf) {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            self.reread(&file).await;
        }
    }

    /// Reads the peers file now (if there is one), as its watch would.
    pub async fn reread_file(&self) {
        if let Some(f) = self.inner.file.clone() {
            self.reread(&f).await;
        }
    }

    async fn reread(&self, file: &std::path::Path) {
        let list = match read_file(file) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("cluster: cannot read the peers file: {e}");
                return;
            }
        };
        if *self.peers() == list {
            return;
        }
        if let Err(e) = peers::check(&list) {
            tracing::warn!("cluster: the peers file is not usable, keeping the last list: {e}");
            return;
        }
        // Which entry is this peer, before anything is placed by the list.
        self.find_myself_in(&list).await;
        tracing::info!(peers = ?list, "cluster: the peer list changed");
        self.inner.peers.send_replace(Arc::new(list));
    }
}

fn read_file(f: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(f)
        .map_err(|e| anyhow::anyhow!("cannot read the peers file {}: {e}", f.display()))?;
    Ok(peers::parse(&text))
}
