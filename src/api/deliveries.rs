//! Webhook deliveries of a session: list by status, requeue a dead one.

use super::AppState;
use super::error::ApiError;
use super::sessions::session_id;
use crate::model::now_ms;
use crate::webhook::outbox::DeliveryStatus;
use axum::{
    Json,
    extract::{Path, Query, State},
};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    st.manager.get(&id).await?;
    let want = match q.status.as_deref() {
        None | Some("") => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("dead") => Some(DeliveryStatus::Dead),
        Some("delivered") => Some(DeliveryStatus::Delivered),
        Some(other) => {
            return Err(ApiError::invalid(
                "status",
                format!("'{other}' is not pending, dead or delivered"),
            ));
        }
    };
    let limit = match q.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "must be a number from 1 to 1000"))?,
    };
    let store = st.manager.env().records.store();
    let mut out = Vec::new();
    if want != Some(DeliveryStatus::Delivered) {
        let all = store
            .deliveries(&id, false, usize::MAX)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        out.extend(
            all.into_iter()
                .filter(|d| want.is_none_or(|w| d.status == w))
                .take(limit),
        );
    }
    if want.is_none() || want == Some(DeliveryStatus::Delivered) {
        let left = limit.saturating_sub(out.len());
        out.extend(
            store
                .deliveries(&id, true, left)
                .map_err(|e| ApiError::internal(e.to_string()))?,
        );
    }
    Ok(Json(
        json!({"deliveries": out.iter().map(|d| d.view()).collect::<Vec<_>>()}),
    ))
}

pub async fn retry(
    State(st): State<AppState>,
    Path((id, did)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = session_id(&id)?;
    let store = st.manager.env().records.store();
    let mut d = store
        .delivery(&did)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .filter(|d| d.session == id)
        .ok_or_else(|| {
            ApiError::not_found(
                "delivery_not_found",
                format!("no delivery {did} in session '{id}'"),
            )
        })?;
    match d.status {
        DeliveryStatus::Dead => {}
        DeliveryStatus::Pending => {
            return Err(ApiError::conflict(
                "delivery_pending",
                "the delivery is still being retried",
            ));
        }
        DeliveryStatus::Delivered => {
            return Err(ApiError::conflict(
                "delivery_delivered",
                "the delivery was already delivered",
            ));
        }
    }
    d.status = DeliveryStatus::Pending;
    d.attempts = 0;
    d.next_at = now_ms();
    d.last_error = None;
    store
        .put_delivery(&d)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    st.manager.env().events.dispatcher().enqueue([d.clone()]);
    Ok(Json(d.view()))
}
