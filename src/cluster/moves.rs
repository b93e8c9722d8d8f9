//! Moving sessions when the peer list changes: a peer that holds a session
//! homed elsewhere stops it, packs it (auth state, history, webhooks,
//! pending deliveries; one move epoch on), the new home takes it in and
//! starts it, and only then is the copy here removed. No rescan, and never
//! two running copies: the home refuses an export older than its copy.

use super::{CLUSTER_KEY, Cluster};
use crate::domain::SessionId;
use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use std::time::Duration;

/// Sessions moved at once.
const AT_ONCE: usize = 4;
/// A move that failed is tried again after this long.
const RETRY: Duration = Duration::from_secs(10);

impl Cluster {
    pub(super) async fn hand_over(&self) {
        let mut peers = self.watch();
        loop {
            self.move_away().await;
            tokio::select! {
                r = peers.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(RETRY) => {}
            }
        }
    }

    async fn move_away(&self) {
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
            .collect();
        futures::stream::iter(away)
            .for_each_concurrent(AT_ONCE, |(id, home)| async move {
                match self.move_one(&id, &home).await {
                    Ok(()) => tracing::info!(session = %id, to = %home, "cluster: session moved to its home"),
                    Err(e) => tracing::warn!(session = %id, to = %home, "cluster: session not moved yet: {e}"),
                }
            })
            .await;
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
        let bytes = core.export_session(id, false).await?;
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
            Ok(r) if r.status().is_success() => Ok(()),
            // The home has this move or a newer one already (an earlier
            // move whose clean-up here did not finish).
            Ok(r) if r.status() == StatusCode::CONFLICT => {
                let why = r.text().await.unwrap_or_default();
                if why.contains("move epoch") {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("the home refused it: {why}"))
                }
            }
            Ok(r) => Err(anyhow::anyhow!("the home answered {}", r.status())),
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok(()) => Ok(core.remove_here(id).await?),
            Err(e) => {
                // Not moved: the only copy runs on here.
                if core.session(id).await.is_ok_and(|v| v.record.should_run) {
                    core.start(id).await?;
                }
                Err(e)
            }
        }
    }
}

/// `POST /_cluster/sessions/{id}/import`: a peer hands a session over.
pub async fn import(
    State(c): State<Cluster>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !c.from_peer(&headers) {
        return super::keys::refused();
    }
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
        c.reread_file();
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
