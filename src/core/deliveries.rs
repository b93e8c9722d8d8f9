//! Webhook deliveries of a session: list by status, requeue a dead one.

use super::{Core, CoreError};
use crate::domain::Scope;
use crate::domain::{Delivery, DeliveryStatus, SessionId, now_ms};

impl Core {
    /// The global webhook (`--webhook-url`) is the operator's, not a
    /// tenant's: only the admin key sees and retries its deliveries. (The
    /// others are to the session's own webhooks, or a message's status
    /// callback, which carries what its dialect attached.)
    fn shown_deliveries(&self) -> impl Fn(&Delivery) -> bool + Copy + use<> {
        let admin = self.access.is_admin();
        move |d: &Delivery| admin || d.subscription || !d.hook.meta.is_empty()
    }

    /// Pending and dead first (newest first, together), then delivered,
    /// newest first. Only `limit` of each state are ever held: a long
    /// outbox costs a scan, not memory.
    pub async fn deliveries(
        &self,
        session: &SessionId,
        want: Option<DeliveryStatus>,
        limit: usize,
    ) -> Result<Vec<Delivery>, CoreError> {
        self.may(session, Scope::Read)?;
        self.manager.get(session).await?;
        let shown = self.shown_deliveries();
        let read = |status| -> Result<Vec<Delivery>, CoreError> {
            if want.is_some_and(|w| w != status) {
                return Ok(Vec::new());
            }
            Ok(self.store.deliveries(session, status, limit, shown)?)
        };
        let mut out = read(DeliveryStatus::Pending)?;
        out.extend(read(DeliveryStatus::Dead)?);
        out.sort_by(|a, b| b.id.cmp(&a.id));
        out.truncate(limit);
        let left = limit - out.len();
        if left > 0 {
            let mut delivered = read(DeliveryStatus::Delivered)?;
            delivered.truncate(left);
            out.extend(delivered);
        }
        Ok(out)
    }

    /// Waits, up to `limit`, until none of the session's webhook
    /// deliveries is pending (delivered, or dead after its attempts): true
    /// once none is, false at the limit (open-wa's waitWhQIdle).
    pub async fn deliveries_idle(
        &self,
        session: &SessionId,
        limit: std::time::Duration,
    ) -> Result<bool, CoreError> {
        self.may(session, Scope::Read)?;
        let until = std::time::Instant::now() + limit;
        loop {
            if self
                .deliveries(session, Some(DeliveryStatus::Pending), 1)
                .await?
                .is_empty()
            {
                return Ok(true);
            }
            if std::time::Instant::now() >= until {
                return Ok(false);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Requeues a dead delivery for a fresh round of attempts.
    pub async fn retry_delivery(
        &self,
        session: &SessionId,
        delivery: &str,
    ) -> Result<Delivery, CoreError> {
        self.may(session, Scope::Manage)?;
        let shown = self.shown_deliveries();
        let d = self
            .store
            .delivery(delivery)?
            .filter(|d| d.session == *session && shown(d))
            .ok_or_else(|| CoreError::NotFound {
                code: "delivery_not_found",
                message: format!("no delivery {delivery} in session '{session}'"),
            })?;
        match d.status {
            DeliveryStatus::Dead => {}
            DeliveryStatus::Pending => {
                return Err(CoreError::Conflict {
                    code: "delivery_pending",
                    message: "the delivery is still being retried".into(),
                });
            }
            DeliveryStatus::Delivered => {
                return Err(CoreError::Conflict {
                    code: "delivery_delivered",
                    message: "the delivery was already delivered".into(),
                });
            }
        }
        // Checked again where it is written: another retry may have just
        // taken it up.
        let d = self
            .store
            .requeue_dead(&d.id, now_ms())?
            .ok_or_else(|| CoreError::Conflict {
                code: "delivery_pending",
                message: "the delivery is already being retried".into(),
            })?;
        self.pipeline.requeue([d.clone()]);
        Ok(d)
    }
}
