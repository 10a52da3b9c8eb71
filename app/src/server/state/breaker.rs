//! A circuit breaker for Redis: after a few failures in a row, cache requests stop trying Redis for a short
//! cool-down and go straight to MySQL; then one request probes, and its success closes the circuit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consecutive failures that open the circuit.
const TRIP_AFTER: u32 = 3;
/// How long an open circuit stays open before a probe; short, so hits resume soon after Redis returns.
pub const COOL_DOWN: Duration = Duration::from_millis(500);

#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    /// Use Redis.
    Closed,
    /// Use Redis: this request is the probe after a cool-down.
    Probe,
    /// Skip Redis for now.
    Open,
}

#[derive(Default)]
pub struct Breaker {
    /// False while nothing has failed since the last success: then every request passes without the lock.
    troubled: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
    trips: u64,
    /// The last failure's reason, for the status probes.
    last_error: String,
}

impl Breaker {
    pub fn check(&self, now: Instant) -> Gate {
        if !self.troubled.load(Ordering::Relaxed) {
            return Gate::Closed;
        }
        let mut s = self.state.lock().expect("breaker");
        match s.open_until {
            None => Gate::Closed,
            Some(until) if now < until => Gate::Open,
            // One probe at a time; everyone else keeps skipping Redis until it reports.
            Some(_) if s.probing => Gate::Open,
            Some(_) => {
                s.probing = true;
                Gate::Probe
            }
        }
    }

    pub fn success(&self) {
        if !self.troubled.load(Ordering::Relaxed) {
            return;
        }
        let mut s = self.state.lock().expect("breaker");
        s.failures = 0;
        s.open_until = None;
        s.probing = false;
        self.troubled.store(false, Ordering::Relaxed);
    }

    pub fn failure(&self, now: Instant, why: &str) {
        let mut s = self.state.lock().expect("breaker");
        self.troubled.store(true, Ordering::Relaxed);
        s.failures += 1;
        s.last_error = why.to_string();
        let was_open = s.open_until.is_some();
        if s.failures >= TRIP_AFTER || s.probing {
            s.open_until = Some(now + COOL_DOWN);
            if !was_open {
                s.trips += 1;
            }
        }
        s.probing = false;
    }

    /// Opens the circuit at once (the status probe found Redis down; it does not wait for three requests).
    pub fn trip(&self, now: Instant, why: &str) {
        for _ in 0..TRIP_AFTER {
            self.failure(now, why);
        }
    }

    /// Why the circuit is open, while it is and its cool-down has not ended (without taking the probe).
    pub fn open_because(&self, now: Instant) -> Option<String> {
        if !self.troubled.load(Ordering::Relaxed) {
            return None;
        }
        let s = self.state.lock().expect("breaker");
        s.open_until.filter(|&until| now < until || s.probing).map(|_| s.last_error.clone())
    }

    pub fn is_open(&self) -> bool {
        self.state.lock().expect("breaker").open_until.is_some()
    }

    /// How many times the circuit opened since start.
    pub fn trips(&self) -> u64 {
        self.state.lock().expect("breaker").trips
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_then_one_probe_decides() {
        let b = Breaker::default();
        let t0 = Instant::now();
        b.failure(t0, "down");
        b.failure(t0, "down");
        assert_eq!(b.check(t0), Gate::Closed, "two failures are not yet a pattern");
        b.failure(t0, "down");
        assert_eq!(b.check(t0), Gate::Open);
        assert_eq!(b.open_because(t0).as_deref(), Some("down"));
        assert_eq!(b.check(t0 + COOL_DOWN / 2), Gate::Open);
        let later = t0 + COOL_DOWN;
        assert_eq!(b.check(later), Gate::Probe);
        assert_eq!(b.check(later), Gate::Open, "only one probe at a time");
        b.failure(later, "down");
        assert_eq!(b.check(later + COOL_DOWN / 2), Gate::Open, "a failed probe reopens for a full cool-down");
        assert_eq!(b.check(later + COOL_DOWN), Gate::Probe);
        b.success();
        assert_eq!(b.check(later + COOL_DOWN), Gate::Closed);
        assert!(!b.is_open());
        assert_eq!(b.trips(), 1);
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = Breaker::default();
        let t0 = Instant::now();
        b.failure(t0, "down");
        b.failure(t0, "down");
        b.success();
        b.failure(t0, "down");
        assert_eq!(b.check(t0), Gate::Closed);
    }
}
