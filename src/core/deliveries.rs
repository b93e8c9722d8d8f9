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

    /// Pending and dead first, then delivered; newest first in each. Only
    /// `limit` of them are ever held: a long outbox costs a scan, not memory.
    pub async fn deliveries(
        &self,
        session: &SessionId,
        want: Option<DeliveryStatus>,
        limit: usize,
    ) -> Result<Vec<Delivery>, CoreError> {
        self.may(session, Scope::Read)?;
        self.manager.get(session).await?;
        let shown = self.shown_deliveries();
        let mut out = Vec::new();
        if want != Some(DeliveryStatus::Delivered) {
            out = self.store.deliveries(session, false, limit, |d| {
                want.is_none_or(|w| d.status == w) && shown(d)
            })?;
        }
        if want.is_none() || want == Some(DeliveryStatus::Delivered) {
            let left = limit.saturating_sub(out.len());
            out.extend(self.store.deliveries(session, true, left, shown)?);
        }
        Ok(out)
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
