//! Moving sessions when the peer list changes: a peer that holds a session
//! homed elsewhere stops it, packs it (auth state, history, webhooks,
//! pending deliveries; one move epoch on), the new home takes it in and
//! starts it, and only then is the copy here removed. No rescan, and never
//! two running copies: the home refuses an export older than its copy.

use super::{CLUSTER_KEY, Cluster, INSTANCE};
use crate::domain::SessionId;
use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use std::time::Duration;

/// Sessions moved at once.
const AT_ONCE: usize = 4;
/// A move that failed is tried again after this long, doubling after each
/// failure in a row up to `RETRY_MAX`.
const RETRY: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(120);

/// Sessions whose move failed: failures in a row, and when to try again.
/// (A home that refuses, an export too large for it, a peer list it has
/// not read yet: each try stops, packs and restarts the session.)
type Waits = std::collections::HashMap<SessionId, (u32, std::time::Instant)>;

/// A move whose outcome is unknown: the copy here stays stopped, and is
/// asked about again at the next round, not later.
#[derive(Debug)]
struct StaysStopped;

impl std::fmt::Display for StaysStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the copy here stays stopped")
    }
}

impl Cluster {
    pub(super) async fn hand_over(&self) {
        let mut peers = self.watch();
        let mut waits = Waits::new();
        loop {
            self.move_away(&mut waits).await;
            tokio::select! {
                r = peers.changed() => {
                    if r.is_err() {
                        return;
                    }
                    // A new list: every session is tried at once.
                    waits.clear();
                }
                _ = tokio::time::sleep(RETRY) => {}
            }
        }
    }

    async fn move_away(&self, waits: &mut Waits) {
        let now = std::time::Instant::now();
        let away: Vec<(SessionId, String)> = self
            .inner
            .core
            .sessions()
            .await
            .into_iter()
            .map(|v| v.record.id)
            .filter_map(|id| {
                let home = self.home(id.as_str());
                (home != self.me()).then_some((id, home))
            })
            .filter(|(id, _)| waits.get(id).is_none_or(|(_, at)| *at <= now))
            .collect();
        let done: Vec<(SessionId, Option<bool>)> = futures::stream::iter(away)
            .map(|(id, home)| async move {
                match self.move_one(&id, &home).await {
                    Ok(()) => {
                        tracing::info!(session = %id, to = %home, "cluster: session moved to its home");
                        (id, None)
                    }
                    Err(e) => {
                        tracing::warn!(session = %id, to = %home, "cluster: session not moved yet: {e:#}");
                        let soon = e.downcast_ref::<StaysStopped>().is_some();
                        (id, Some(soon))
                    }
                }
            })
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        waits.retain(|id, _| self.home(id.as_str()) != self.me());
        for (id, failed) in done {
            match failed {
                None => {
                    waits.remove(&id);
                }
                // Unknown: asked again at the next round.
                Some(true) => {
                    waits.remove(&id);
                }
                Some(false) => {
                    let w = waits.entry(id).or_insert((0, now));
                    w.0 += 1;
                    let wait = RETRY.saturating_mul(1 << (w.0 - 1).min(4)).min(RETRY_MAX);
                    w.1 = std::time::Instant::now() + wait;
                }
            }
        }
    }

    async fn move_one(&self, id: &SessionId, home: &str) -> anyhow::Result<()> {
        // A home that is down is not given the session: it keeps running
        // here (its messages stored, its webhooks delivered) until it can.
        self.inner
            .http
            .get(format!("{home}/health"))
            .timeout(Duration::from_secs(2))
            .send()
            .await?
            .error_for_status()?;
        let core = &self.inner.core;
        let mine = core.session(id).await?.record.move_epoch;
        // An earlier move whose answer was lost: the home has the copy this
        // one was packed as (or a newer one), and this one is stale.
        if self.held_at(id, home).await?.is_some_and(|e| e >= mine) {
            return Ok(core.remove_here(id).await?);
        }
        let bytes = match core.pack_for_move(id).await {
            Ok(b) => b,
            Err(e) => {
                // Stopped to be packed, and not packed: it runs on here.
                if core.session(id).await.is_ok_and(|v| v.record.should_run) {
                    core.start(id).await?;
                }
                return Err(e.into());
            }
        };
        let packed = core.session(id).await?.record.move_epoch;
        let sent = self
            .inner
            .http
            .post(format!("{home}/_cluster/sessions/{id}/import"))
            .header(CLUSTER_KEY, &self.inner.key)
            .header("content-type", "application/x-tar")
            .body(bytes)
            .timeout(Duration::from_secs(120))
            .send()
            .await;
        let outcome = match sent {
            Ok(r) if r.status().is_success() => Moved::Yes,
            // The home has this move or a newer one already (an earlier
            // move whose clean-up here did not finish).
            Ok(r) if r.status() == StatusCode::CONFLICT => {
                let why = r.text().await.unwrap_or_default();
                if why.contains("move epoch") {
                    Moved::Yes
                } else {
                    Moved::No(anyhow::anyhow!("the home refused it: {why}"))
                }
            }
            Ok(r) if r.status().is_client_error() => {
                Moved::No(anyhow::anyhow!("the home answered {}", r.status()))
            }
            // Never sent: the home cannot have it.
            Err(e) if e.is_connect() => Moved::No(e.into()),
            // A 5xx, a timeout, a connection lost mid-way: the home may have
            // taken it and be running it. Ask before running it here too.
            // After a timeout (ours, or the home's request timeout: 503,
            // 504) or a lost connection, its import may still be under way
            // there (it runs to its end): not holding it yet is no "no".
            Ok(r) => {
                let under_way = matches!(
                    r.status(),
                    StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
                );
                self.ask_after(
                    id,
                    home,
                    packed,
                    under_way,
                    format!("the home answered {}", r.status()),
                )
                .await
            }
            Err(e) => self.ask_after(id, home, packed, true, e.to_string()).await,
        };
        match outcome {
            Moved::Yes => Ok(core.remove_here(id).await?),
            Moved::No(e) => {
                // Not moved: the only copy runs on here.
                if core.session(id).await.is_ok_and(|v| v.record.should_run) {
                    core.start(id).await?;
                }
                Err(e)
            }
            // Stays stopped here: the next round asks again before it
            // packs anything (`held_at` above).
            Moved::Unknown(e) => Err(e.context(StaysStopped)),
        }
    }

    /// After an answer that says neither yes nor no: whether the home now
    /// holds the copy packed at `packed`. While its import may still be
    /// `under_way`, not yet is unknown: the copy here stays stopped, and the
    /// next round asks again before it packs anything.
    async fn ask_after(
        &self,
        id: &SessionId,
        home: &str,
        packed: u64,
        under_way: bool,
        why: String,
    ) -> Moved {
        match self.held_at(id, home).await {
            Ok(Some(e)) if e >= packed => Moved::Yes,
            Ok(_) if under_way => Moved::Unknown(anyhow::anyhow!(
                "{why}; the home does not hold it yet and may still be taking it in, so the copy here stays stopped"
            )),
            Ok(_) => Moved::No(anyhow::anyhow!("not taken: {why}")),
            Err(e) => Moved::Unknown(anyhow::anyhow!(
                "{why}; whether the home took it is unknown ({e}), so the copy here stays stopped"
            )),
        }
    }

    /// The move epoch at which `home` holds the session, if it does.
    async fn held_at(&self, id: &SessionId, home: &str) -> anyhow::Result<Option<u64>> {
        let r = self
            .peer_get(&format!("{home}/_cluster/sessions/{id}"))
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        // The list names this peer under another spelling than
        // WABRIDGE_SELF: "moved" to itself, its sessions would be removed.
        if self.answered_by_me(&r) {
            anyhow::bail!(
                "{home} is this peer: WABRIDGE_SELF ({}) must be spelled as the peer list spells it",
                self.me()
            );
        }
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let v: serde_json::Value = r.error_for_status()?.json().await?;
        v["move_epoch"]
            .as_u64()
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("the home's answer has no move epoch"))
    }
}

/// What became of a hand-over.
enum Moved {
    Yes,
    No(anyhow::Error),
    Unknown(anyhow::Error),
}

/// `GET /_cluster/sessions/{id}`: whether this peer holds the session, and
/// at which move epoch (`{"id", "move_epoch"}`, or 404).
pub async fn held(
    State(c): State<Cluster>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !c.from_peer(&headers) {
        return super::keys::refused();
    }
    let instance = [(INSTANCE, c.inner.instance.clone())];
    let Ok(id) = SessionId::parse(&id) else {
        return (StatusCode::NOT_FOUND, instance).into_response();
    };
    match c.inner.core.session(&id).await {
        Ok(v) => (
            instance,
            Json(serde_json::json!({"id": id, "move_epoch": v.record.move_epoch})),
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, instance).into_response(),
    }
}

/// `POST /_cluster/sessions/{id}/import`: a peer hands a session over.
pub async fn import(
    State(c): State<Cluster>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    // Refused before the body is read: up to 512 MB are a peer's to send.
    if !c.from_peer(&headers) {
        return super::keys::refused();
    }
    let Ok(body) = axum::body::to_bytes(body, crate::api::native::MAX_IMPORT).await else {
        return crate::api::native::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the session export is too large, or was cut short",
        )
        .into_response();
    };
    let id = match SessionId::parse(&id) {
        Ok(id) => id,
        Err(e) => {
            return crate::api::native::ApiError::from(crate::core::CoreError::invalid("id", e))
                .into_response();
        }
    };
    // A peer that has not seen the new list yet reads it first, rather than
    // taking a session only to hand it back.
    if !c.is_home(id.as_str()) {
        c.reread_file().await;
    }
    if !c.is_home(id.as_str()) {
        return crate::api::native::ApiError::from(crate::core::CoreError::Conflict {
            code: "not_home",
            message: format!(
                "session '{id}' is homed on {} by this peer's list",
                c.home(id.as_str())
            ),
        })
        .into_response();
    }
    match c.inner.core.import_session(&id, body.to_vec()).await {
        Ok(v) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"id": v.record.id, "status": v.status()})),
        )
            .into_response(),
        Err(e) => crate::api::native::ApiError::from(e).into_response(),
    }
}
