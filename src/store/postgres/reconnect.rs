//! Outages of the state database: a restart, a failover, PgBouncer restarted, a host cut
//! off from the network. They are routine, so a lost connection is told apart from a
//! statement the database refused (by the driver's error type and the SQLSTATE, never by
//! a message's words), and whoever must outlast one (a supervisor's writes, its lease's
//! keeper) waits it out with the same backoff: the first retry after 250 ms, then twice
//! as long each time, at most 2 s apart.

use std::time::{Duration, Instant};

use postgres::error::SqlState;

/// The wait before the first retry.
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between two retries.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(2);

/// Whether `e` means the connection is gone or going (the server shutting down or
/// starting up, a pooler without a server, the network), rather than a statement refused:
/// what a new connection may cure.
pub(crate) fn connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        return code.code().starts_with("08") // connection exceptions (PgBouncer's too)
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
            ]
            .contains(code);
    }
    // No answer from the database: the socket failed (I/O, a connect refused or timed
    // out). Anything else without one (a value that doesn't convert) is no outage.
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.is::<std::io::Error>() {
            return true;
        }
        source = inner.source();
    }
    false
}

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
