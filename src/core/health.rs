//! What operations ask: is the store usable, how many sessions are in each
//! status, how many deliveries wait.

use super::{Core, CoreError};
use crate::domain::Status;

impl Core {
    /// Whether the store stopped taking writes for good (a restart reopens
    /// it): the process is alive but cannot work.
    pub fn store_broken(&self) -> bool {
        self.store.broken().is_some()
    }

    /// Fails when the store cannot be read.
    pub fn check_store(&self) -> Result<(), CoreError> {
        Ok(self.store.check()?)
    }

    /// Every status with how many sessions are in it (zeros included, so a
    /// gauge falls back to 0 when its last session leaves a status).
    pub async fn status_counts(&self) -> Vec<(Status, usize)> {
        let all = self.sessions().await;
        Status::ALL
            .into_iter()
            .map(|s| (s, all.iter().filter(|v| v.status() == s).count()))
            .collect()
    }

    /// The ids of the sessions this process has (that the caller sees).
    pub async fn session_ids(&self) -> std::collections::HashSet<String> {
        let all = self.sessions().await;
        all.into_iter().map(|v| v.record.id.to_string()).collect()
    }

    /// Deliveries in the outbox: (pending, dead).
    pub fn outbox_counts(&self) -> Result<(u64, u64), CoreError> {
        Ok(self.store.outbox_counts()?)
    }
}
