//! Send pacing per session (see `domain::pacing`): sends take turns in the
//! order they came, each waiting for a token of the session's bucket and
//! holding its turn until WhatsApp took the message, so they also arrive in
//! that order. Past the queue's bound a send is refused with a wait to retry.

use super::CoreError;
use crate::domain::SessionId;
use crate::domain::pacing::{Bucket, Pacing};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Lanes {
    pub pacing: Pacing,
    epoch: Instant,
    lanes: Mutex<HashMap<SessionId, Arc<Lane>>>,
}

struct Lane {
    turn: Arc<tokio::sync::Mutex<Bucket>>,
    waiting: AtomicUsize,
}

/// A place in a session's queue; dropping it gives the place up.
pub struct Ticket {
    lane: Option<Arc<Lane>>,
}

/// The turn to send: held until the message went out.
pub type Turn = Option<tokio::sync::OwnedMutexGuard<Bucket>>;

impl Lanes {
    pub fn new(pacing: Pacing) -> Self {
        Lanes {
            pacing,
            epoch: Instant::now(),
            lanes: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// A place in the session's queue, or `RateLimited` when it is full.
    pub fn admit(&self, session: &SessionId) -> Result<Ticket, CoreError> {
        if !self.pacing.is_on() {
            return Ok(Ticket { lane: None });
        }
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            lanes
                .entry(session.clone())
                .or_insert_with(|| {
                    Arc::new(Lane {
                        turn: Arc::new(tokio::sync::Mutex::new(Bucket::full(
                            &self.pacing,
                            self.now(),
                        ))),
                        waiting: AtomicUsize::new(0),
                    })
                })
                .clone()
        };
        let ahead = lane.waiting.fetch_add(1, Ordering::SeqCst);
        if ahead >= self.pacing.queue {
            lane.waiting.fetch_sub(1, Ordering::SeqCst);
            let wait = self
                .pacing
                .wait_for(0.0, ahead.saturating_sub(self.pacing.queue));
            return Err(CoreError::RateLimited {
                retry_after: wait.max(Duration::from_secs(1)),
                message: format!(
                    "session '{session}' has {ahead} sends waiting (the most it queues at {:.0} a minute); retry later",
                    self.pacing.per_minute
                ),
            });
        }
        Ok(Ticket { lane: Some(lane) })
    }

    /// Waits for the ticket's turn and a token (then a random pause, if
    /// configured). The turn is held until the send is done.
    pub async fn turn(&self, ticket: &Ticket) -> Turn {
        let lane = ticket.lane.as_ref()?;
        let mut bucket = lane.turn.clone().lock_owned().await;
        loop {
            match bucket.take(&self.pacing, self.now()) {
                Ok(()) => break,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
        if !self.pacing.jitter.is_zero() {
            let ms = rand::random::<u64>() % (self.pacing.jitter.as_millis() as u64 + 1);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Some(bucket)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(l) = &self.lane {
            l.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
