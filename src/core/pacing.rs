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
    /// The bucket as the last send left it, for a newcomer's wait (the
    /// bucket itself is held by the send whose turn it is).
    seen: Mutex<Bucket>,
    waiting: AtomicUsize,
    /// How long a send holds its turn, on average of late (typing shown,
    /// a pause, the page's call): a queue of slow sends waits for that,
    /// not only for tokens.
    hold: Mutex<Duration>,
}

impl Lane {
    fn held(&self, d: Duration) {
        let mut h = self.hold.lock().unwrap_or_else(|e| e.into_inner());
        *h = if h.is_zero() { d } else { (*h * 7 + d) / 8 };
    }
}

/// A place in a session's queue; dropping it gives the place up.
pub struct Ticket {
    lane: Option<Arc<Lane>>,
    /// Counted among those waiting: until its turn came.
    waiting: std::sync::atomic::AtomicBool,
}

impl Ticket {
    fn new(lane: Option<Arc<Lane>>) -> Ticket {
        let waiting = std::sync::atomic::AtomicBool::new(lane.is_some());
        Ticket { lane, waiting }
    }

    /// No longer waiting (its turn came, or it is given up).
    fn done_waiting(&self) {
        if let Some(l) = &self.lane
            && self.waiting.swap(false, Ordering::SeqCst)
        {
            l.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The turn to send: held until the message went out (then dropped);
/// how long it was held teaches the queue what a wait is.
pub struct Turn {
    held: Option<(tokio::sync::OwnedMutexGuard<Bucket>, Arc<Lane>)>,
    since: Instant,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some((_, lane)) = &self.held {
            lane.held(self.since.elapsed());
        }
    }
}

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
            return Ok(Ticket::new(None));
        }
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            lanes
                .entry(session.clone())
                .or_insert_with(|| {
                    let full = Bucket::full(&self.pacing, self.now());
                    Arc::new(Lane {
                        turn: Arc::new(tokio::sync::Mutex::new(full)),
                        seen: Mutex::new(full),
                        waiting: AtomicUsize::new(0),
                        hold: Mutex::new(Duration::ZERO),
                    })
                })
                .clone()
        };
        let ahead = lane.waiting.fetch_add(1, Ordering::SeqCst);
        let mut seen = *lane.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.refill(&self.pacing, self.now());
        // Each before it takes its token, then holds the turn a while: the
        // one in the page now too.
        let hold = *lane.hold.lock().unwrap_or_else(|e| e.into_inner());
        let sending = usize::from(lane.turn.try_lock().is_err());
        let before = u32::try_from(ahead + sending).unwrap_or(u32::MAX);
        let held = hold.saturating_mul(before);
        let wait = self.pacing.wait_for(seen.tokens, ahead).max(held);
        let refused = if ahead >= self.pacing.queue {
            Some((
                self.pacing
                    .wait_for(0.0, ahead.saturating_sub(self.pacing.queue)),
                "the most it queues",
            ))
        } else if wait > self.pacing.max_wait {
            Some((
                wait - self.pacing.max_wait,
                "more than a send may wait for its turn",
            ))
        } else {
            None
        };
        if let Some((retry, why)) = refused {
            lane.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(CoreError::RateLimited {
                retry_after: retry.max(Duration::from_secs(1)),
                message: format!(
                    "session '{session}' has {ahead} sends waiting ({why} at {:.0} a minute); retry later",
                    self.pacing.per_minute
                ),
            });
        }
        Ok(Ticket::new(Some(lane)))
    }

    /// Waits for the ticket's turn and a token (then a random pause, if
    /// configured). The turn is held until the send is done.
    pub async fn turn(&self, ticket: &Ticket) -> Turn {
        let Some(lane) = ticket.lane.as_ref() else {
            return Turn {
                held: None,
                since: Instant::now(),
            };
        };
        let mut bucket = lane.turn.clone().lock_owned().await;
        loop {
            match bucket.take(&self.pacing, self.now()) {
                Ok(()) => break,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
        *lane.seen.lock().unwrap_or_else(|e| e.into_inner()) = *bucket;
        // Its token is taken: those that come now wait only for the rest.
        ticket.done_waiting();
        let since = Instant::now();
        if !self.pacing.jitter.is_zero() {
            let ms = rand::random::<u64>() % (self.pacing.jitter.as_millis() as u64 + 1);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Turn {
            held: Some((bucket, lane.clone())),
            since,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.done_waiting();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(per_minute: f64, max_wait: Duration) -> Lanes {
        Lanes::new(Pacing {
            per_minute,
            burst: 2.0,
            queue: 100,
            max_wait,
            jitter: Duration::ZERO,
            typing: false,
        })
    }

    #[test]
    fn a_send_that_would_wait_past_its_time_is_refused_at_once() {
        let l = lanes(60.0, Duration::from_secs(5));
        let s = SessionId::parse("s").unwrap();
        // Two go at once (the burst), then one a second: the 8th would
        // wait 6 s, past the 5 s a send may wait.
        let held: Vec<_> = (0..7).map(|_| l.admit(&s).expect("within 5 s")).collect();
        match l.admit(&s) {
            Err(CoreError::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(1))
            }
            other => panic!("not refused: {:?}", other.map(|_| ())),
        }
        // A place given up makes room again.
        drop(held);
        assert!(l.admit(&s).is_ok());
        // Without a bound, only the queue's size refuses.
        let l = lanes(60.0, Duration::MAX);
        let held: Vec<_> = (0..100).map(|_| l.admit(&s).expect("queued")).collect();
        assert!(matches!(l.admit(&s), Err(CoreError::RateLimited { .. })));
        drop(held);
    }

    #[tokio::test]
    async fn the_wait_counts_how_long_sends_hold_their_turn() {
        // Tokens are plenty; each send held its turn 3 s of late.
        let l = lanes(6000.0, Duration::from_secs(10));
        let s = SessionId::parse("s").unwrap();
        drop(l.turn(&l.admit(&s).unwrap()).await);
        let lane = l.lanes.lock().unwrap().get(&s).unwrap().clone();
        *lane.hold.lock().unwrap() = Duration::ZERO;
        lane.held(Duration::from_secs(3));
        // Waits of 0, 3, 6 and 9 s; the fifth would wait 12.
        let held: Vec<_> = (0..4).map(|_| l.admit(&s).expect("within 10 s")).collect();
        assert!(matches!(l.admit(&s), Err(CoreError::RateLimited { .. })));
        drop(held);
        // One in the page now counts too: 3, 6 and 9 s; the fourth, 12.
        let sending = l.turn(&l.admit(&s).unwrap()).await;
        let held: Vec<_> = (0..3).map(|_| l.admit(&s).expect("within 10 s")).collect();
        assert!(matches!(l.admit(&s), Err(CoreError::RateLimited { .. })));
        drop((held, sending));
    }

    #[tokio::test]
    async fn the_wait_counts_the_tokens_the_sends_before_left() {
        // One every 10 s: a test machine's pauses cannot refill a token.
        let l = lanes(6.0, Duration::from_secs(30));
        let s = SessionId::parse("s").unwrap();
        // The burst spent: each place now waits 10 s more. The two sends
        // are still under way (their tickets held), but with their tokens
        // taken they wait for nothing, and nothing waits for them.
        let mut sending = vec![];
        for _ in 0..2 {
            let t = l.admit(&s).unwrap();
            drop(l.turn(&t).await);
            sending.push(t);
        }
        let held: Vec<_> = (0..3).map(|_| l.admit(&s).expect("within 30 s")).collect();
        assert!(matches!(l.admit(&s), Err(CoreError::RateLimited { .. })));
        drop((held, sending));
    }
}
