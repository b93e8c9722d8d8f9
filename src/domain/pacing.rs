//! Send pacing: WhatsApp bans numbers that burst, so each session sends at
//! most `per_minute` messages a minute after an initial `burst`, in order,
//! with an optional random pause and typing indicator before each. Pure
//! arithmetic here (a token bucket); the core keeps one per session.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pacing {
    /// Messages a minute, sustained; 0 turns pacing off.
    pub per_minute: f64,
    /// Messages that may go at once after a quiet spell.
    pub burst: f64,
    /// Sends that may wait their turn; past this a send is refused (429).
    pub queue: usize,
    /// The longest a send may wait for its turn; one that would wait
    /// longer is refused (429) rather than held until its request times
    /// out, perhaps while the page is sending it (a retry without an
    /// Idempotency-Key would then send it twice).
    pub max_wait: Duration,
    /// Up to this much random pause before each send.
    pub jitter: Duration,
    /// Show "typing…" in the chat before a text goes.
    pub typing: bool,
}

impl Pacing {
    pub const OFF: Pacing = Pacing {
        per_minute: 0.0,
        burst: 0.0,
        queue: usize::MAX,
        max_wait: Duration::MAX,
        jitter: Duration::ZERO,
        typing: false,
    };

    pub fn is_on(&self) -> bool {
        self.per_minute > 0.0
    }

    /// How long until the send `ahead` places back in the queue may go, if
    /// the ones before it go as soon as they may.
    pub fn wait_for(&self, tokens: f64, ahead: usize) -> Duration {
        if !self.is_on() {
            return Duration::ZERO;
        }
        let missing = (ahead as f64 + 1.0 - tokens).max(0.0);
        // (A rate too small to wait for in a Duration waits "forever".)
        Duration::try_from_secs_f64(missing * 60.0 / self.per_minute).unwrap_or(Duration::MAX)
    }
}

/// A token bucket: `tokens` refill at `per_minute`, up to `burst`.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    pub tokens: f64,
    /// When `tokens` was last brought up to date (seconds, any clock).
    pub at: f64,
}

impl Bucket {
    pub fn full(p: &Pacing, now: f64) -> Bucket {
        Bucket {
            tokens: p.burst.max(1.0),
            at: now,
        }
    }

    /// Brings the tokens up to `now`.
    pub fn refill(&mut self, p: &Pacing, now: f64) {
        let gained = (now - self.at).max(0.0) * p.per_minute / 60.0;
        self.tokens = (self.tokens + gained).min(p.burst.max(1.0));
        self.at = now;
    }

    /// Takes a token if there is one; else how long until there is.
    pub fn take(&mut self, p: &Pacing, now: f64) -> Result<(), Duration> {
        self.refill(p, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(p.wait_for(self.tokens, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(per_minute: f64, burst: f64) -> Pacing {
        Pacing {
            per_minute,
            burst,
            queue: 10,
            max_wait: Duration::MAX,
            jitter: Duration::ZERO,
            typing: false,
        }
    }

    #[test]
    fn a_burst_goes_at_once_then_the_rate_holds() {
        let p = p(60.0, 3.0);
        let mut b = Bucket::full(&p, 0.0);
        for _ in 0..3 {
            assert!(b.take(&p, 0.0).is_ok());
        }
        let wait = b.take(&p, 0.0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-9, "{wait:?}");
        assert!(b.take(&p, 0.5).is_err());
        assert!(b.take(&p, 1.0).is_ok());
        // A long quiet spell refills only up to the burst.
        b.refill(&p, 1000.0);
        assert_eq!(b.tokens, 3.0);
    }

    #[test]
    fn the_wait_of_a_place_in_the_queue() {
        let p = p(30.0, 1.0);
        assert_eq!(p.wait_for(1.0, 0), Duration::ZERO);
        assert_eq!(p.wait_for(0.0, 0), Duration::from_secs(2));
        assert_eq!(p.wait_for(0.0, 2), Duration::from_secs(6));
        assert_eq!(Pacing::OFF.wait_for(0.0, 100), Duration::ZERO);
    }
}
