//! Abuse limits that keep honest gRPC clients: rates of the frames a peer
//! can make us work for without a call to show for it, as token buckets
//! with time passed in.
//!
//! What each bound is for, and why its default leaves a busy, well-behaved
//! gRPC client alone:
//!
//! | limit | stops | default | an honest gRPC client |
//! |---|---|---|---|
//! | [`Limits::pings`] | PING floods (each costs an ACK) | burst 50, 10/s | keepalive pings every few seconds at most (gRFC A8 enforcement, issue 21, is stricter and separate) |
//! | [`Limits::settings`] | SETTINGS floods (each costs an ACK and may resize every window) | burst 20, 2/s | one SETTINGS at start, rarely another |
//! | [`Limits::empty_data`] | empty DATA without END_STREAM (costs a poll, moves nothing) | burst 100, 50/s | sends none, but a few come from some stacks' flushes |
//! | [`Limits::resets`] | resets the peer makes right after opening a stream (Rapid Reset, CVE-2023-44487) | burst 1000, 500/s | cancels calls (deadlines, users going away), but each after the server started it; the running-handler cap, not this, is what bounds work |
//!
//! A rate past its bound is the peer's `ENHANCE_YOUR_CALM` (GOAWAY, then
//! close). Resets are counted only for streams the server had not started
//! work on yet; a stream reset after its handler ran is ordinary
//! cancellation and costs nothing here (the handler cap in the runtime
//! already bounds how much work such streams hold).

use std::time::{Duration, Instant};

/// A rate limit: a bucket of `burst` tokens, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Events allowed at once, from a full bucket.
    pub burst: u32,
    /// Tokens added back per second.
    pub per_second: u32,
}

impl Rate {
    /// `burst` events at once, `per_second` sustained.
    #[must_use]
    pub const fn new(burst: u32, per_second: u32) -> Self {
        Self { burst, per_second }
    }
}

/// The limits of one connection; see the module docs for each default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// PING frames (not ACKs).
    pub pings: Rate,
    /// SETTINGS frames (not ACKs).
    pub settings: Rate,
    /// DATA frames with no payload and no END_STREAM.
    pub empty_data: Rate,
    /// Streams the peer resets before the server started work on them.
    pub resets: Rate,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            pings: Rate::new(50, 10),
            settings: Rate::new(20, 2),
            empty_data: Rate::new(100, 50),
            resets: Rate::new(1000, 500),
        }
    }
}

/// A token bucket for one [`Rate`], refilled from the time the caller
/// passes in (no clock is read here).
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    rate: Rate,
    /// Tokens, in millionths, so slow refill rates do not round to nothing.
    micro_tokens: u64,
    /// When the bucket was last refilled; `None` before first use.
    at: Option<Instant>,
}

impl Bucket {
    /// A full bucket.
    #[must_use]
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            micro_tokens: u64::from(rate.burst) * 1_000_000,
            at: None,
        }
    }

    /// Takes a token for an event at `now`: `false` when the rate is spent.
    /// Times earlier than the last one seen are taken as the last one.
    pub fn allow(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.micro_tokens >= 1_000_000 {
            self.micro_tokens -= 1_000_000;
            true
        } else {
            false
        }
    }

    fn refill(&mut self, now: Instant) {
        let Some(at) = self.at else {
            self.at = Some(now);
            return;
        };
        let elapsed = now.checked_duration_since(at).unwrap_or(Duration::ZERO);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        // per_second tokens a second = per_second millionths of a token a
        // microsecond.
        let added = micros.saturating_mul(u64::from(self.rate.per_second));
        let cap = u64::from(self.rate.burst) * 1_000_000;
        self.micro_tokens = self.micro_tokens.saturating_add(added).min(cap);
        // Never back in time: a late timestamp must not earn tokens twice.
        self.at = Some(now.max(at));
    }
}

/// One connection's buckets, one per [`Limits`] field.
#[derive(Debug, Clone, Copy)]
pub struct Budgets {
    /// See [`Limits::pings`].
    pub pings: Bucket,
    /// See [`Limits::settings`].
    pub settings: Bucket,
    /// See [`Limits::empty_data`].
    pub empty_data: Bucket,
    /// See [`Limits::resets`].
    pub resets: Bucket,
}

impl Budgets {
    /// Full buckets for `limits`.
    #[must_use]
    pub fn new(limits: &Limits) -> Self {
        Self {
            pings: Bucket::new(limits.pings),
            settings: Bucket::new(limits.settings),
            empty_data: Bucket::new(limits.empty_data),
            resets: Bucket::new(limits.resets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    #[test]
    fn a_burst_is_allowed_then_refused_then_refilled_with_time() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Rate::new(3, 2));
        for _ in 0..3 {
            assert!(b.allow(t0));
        }
        assert!(!b.allow(t0), "the burst is spent");
        assert!(!b.allow(t0 + Duration::from_millis(400)), "0.8 tokens back");
        assert!(b.allow(t0 + Duration::from_millis(500)), "one token back");
        assert!(!b.allow(t0 + Duration::from_millis(500)));
        // Never more than the burst, however long it rested.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.allow(later));
        }
        assert!(!b.allow(later));
    }

    #[test]
    fn time_going_backwards_adds_nothing() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut b = Bucket::new(Rate::new(1, 1));
        assert!(b.allow(t0));
        assert!(!b.allow(t0 - Duration::from_secs(5)));
        assert!(!b.allow(t0));
    }

    /// What an honest client does fits the defaults: a keepalive PING every
    /// second and 400 cancelled calls a second for a minute.
    #[test]
    fn the_defaults_leave_a_busy_honest_client_alone() {
        let mut budgets = Budgets::new(&Limits::default());
        let t0 = Instant::now();
        for second in 0..60u64 {
            let t = t0 + Duration::from_secs(second);
            assert!(budgets.pings.allow(t));
            for i in 0..400u64 {
                assert!(budgets.resets.allow(t + Duration::from_micros(i * 2500)));
            }
        }
    }

    /// A flood runs the budget out within a bounded number of frames.
    #[test]
    fn floods_are_refused_within_the_burst() {
        let mut budgets = Budgets::new(&Limits::default());
        let t = Instant::now();
        let allowed = (0..10_000).filter(|_| budgets.pings.allow(t)).count();
        assert_eq!(allowed, 50);
        let allowed = (0..10_000).filter(|_| budgets.settings.allow(t)).count();
        assert_eq!(allowed, 20);
    }

    /// Over any stretch of time, no more than burst + rate x time events get
    /// through, whatever the pattern.
    #[test]
    fn random_arrivals_never_exceed_burst_plus_rate_times_time() {
        let mut rng = Rng::new(0xb0c7e7);
        for _ in 0..200 {
            let rate = Rate::new(rng.below(100) as u32 + 1, rng.below(1000) as u32);
            let mut b = Bucket::new(rate);
            let t0 = Instant::now();
            let mut t = t0;
            let mut allowed = 0u64;
            for _ in 0..2_000 {
                t += Duration::from_micros(rng.below(5_000) as u64);
                if b.allow(t) {
                    allowed += 1;
                }
            }
            let secs = t.duration_since(t0).as_secs_f64();
            let bound = f64::from(rate.burst) + f64::from(rate.per_second) * secs + 1.0;
            assert!(
                (allowed as f64) <= bound,
                "{allowed} allowed, bound {bound} ({rate:?})"
            );
        }
    }
}
