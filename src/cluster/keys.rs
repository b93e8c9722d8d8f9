//! Scoped keys on every peer, so that any peer can check any caller: a
//! key made, rotated or revoked on one peer is pushed to the others at
//! once, and every peer pulls the others' keys every 30 s (a peer that was
//! down catches up). Revocations are kept and win over any copy of a key.

use super::{CLUSTER_KEY, Cluster};
use crate::domain::KeySet;
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(30);

impl Cluster {
    pub(super) async fn exchange_keys(&self) {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            for peer in self.others() {
                if let Err(e) = self.pull_keys(&peer).await {
                    tracing::debug!(peer = %peer, "cluster: no keys from this peer: {e}");
                }
            }
        }
    }

    async fn pull_keys(&self, peer: &str) -> anyhow::Result<()> {
        let theirs: KeySet = self
            .peer_get(&format!("{peer}/_cluster/keys"))
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        self.inner.core.merge_keys(&theirs).await?;
        Ok(())
    }

    /// Tells every peer this one's keys, before a key write is answered:
    /// a key revoked here is refused by every reachable peer when the
    /// caller hears back. A peer that misses it pulls the keys later.
    pub async fn push_keys(&self) {
        let Ok(mine) = self.inner.core.key_set() else {
            return;
        };
        let pushes = self.others().into_iter().map(|peer| {
            let mine = &mine;
            async move {
                let r = self
                    .inner
                    .http
                    .post(format!("{peer}/_cluster/keys"))
                    .header(CLUSTER_KEY, &self.inner.key)
                    .json(mine)
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
                if let Err(e) = r {
                    tracing::warn!(peer = %peer, "cluster: could not push keys (it will pull them): {e}");
                }
            }
        });
        futures::future::join_all(pushes).await;
    }

    /// Is this request from a peer (it carries the cluster key)?
    pub fn from_peer(&self, headers: &HeaderMap) -> bool {
        headers
            .get(CLUSTER_KEY)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|k| self.is_key(k))
    }
}

pub(super) fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({"error": {"code": "cluster_key_required", "message": "only peers may call this, with the cluster key"}})),
    )
        .into_response()
}

pub async fn get_keys(State(c): State<Cluster>, headers: HeaderMap) -> Response {
    if !c.from_peer(&headers) {
        return refused();
    }
    match c.inner.core.key_set() {
        Ok(set) => Json(set).into_response(),
        Err(e) => crate::api::native::ApiError::from(e).into_response(),
    }
}

pub async fn post_keys(
    State(c): State<Cluster>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !c.from_peer(&headers) {
        return refused();
    }
    let theirs: KeySet = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": {"code": "invalid_body", "message": e.to_string()}})),
            )
                .into_response();
        }
    };
    match c.inner.core.merge_keys(&theirs).await {
        Ok(n) => Json(serde_json::json!({"changed": n})).into_response(),
        Err(e) => crate::api::native::ApiError::from(e).into_response(),
    }
}
