//! Outages of the state database: a restart, a failover, PgBouncer restarted, a host cut
//! off from the network. They are routine, so a lost connection is told apart from a
//! statement the database refused (by the driver's error type and the SQLSTATE, never by
//! a message's words), and whoever must outlast one (a supervisor's writes, its lease's
//! keeper) waits it out with the same backoff: the first retry after 250 ms, then twice
//! as long each time, at most 2 s apart.

use postgres::error::SqlState;

pub(crate) use crate::core::backoff::{FIRST_RETRY, MAX_RETRY, Outage};

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
