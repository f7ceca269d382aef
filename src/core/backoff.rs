//! Waiting out an outage of a service jobctl depends on (the state database restarting,
//! a failover, the network gone for a while): the first retry soon, then twice as long
//! each time up to a cap, so a short outage costs little and a long one doesn't hammer
//! the service or the log. Shared by whoever must outlast one: a supervisor's writes, its
//! lease's keeper, the server's event follower.

use std::time::{Duration, Instant};

/// The wait before the first retry.
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between two retries.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(2);

/// One outage as a waiter lives through it: when it began, and the next wait.
pub(crate) struct Outage {
    began: Instant,
    next: Duration,
}

impl Outage {
    /// An outage noticed now.
    pub(crate) fn begin() -> Outage {
        Outage {
            began: Instant::now(),
            next: FIRST_RETRY,
        }
    }

    /// How long it has lasted.
    pub(crate) fn lasted(&self) -> Duration {
        self.began.elapsed()
    }

    /// The wait before the next retry (each one twice the last, at most [`MAX_RETRY`]).
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(MAX_RETRY);
        wait
    }

    /// Waits before the next retry; `false` (without waiting) once the outage has lasted
    /// `patience`. The last wait is cut short to end at `patience`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // a state database's waiters
    pub(crate) fn wait(&mut self, patience: Duration) -> bool {
        let left = patience.saturating_sub(self.lasted());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(self.next_wait().min(left));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_starts_at_250_ms_and_doubles_up_to_2_s() {
        let mut o = Outage::begin();
        let waits: Vec<u128> = (0..6).map(|_| o.next_wait().as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 2000, 2000]);
    }

    #[test]
    fn no_wait_once_patience_is_spent() {
        let mut o = Outage::begin();
        assert!(!o.wait(Duration::ZERO));
    }
}
