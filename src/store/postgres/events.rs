//! The append-only event log in PostgreSQL.
//!
//! Events become visible in id order: a reader that has seen every event up to id N and
//! asks for "everything after N" never misses one that commits later with a lower id.
//! Every insert draws its id only once it holds one transaction-scoped advisory lock
//! ([`NEXT_ID`]), so event-writing transactions take ids, and commit, one after another
//! (the lock is released after the commit is visible). A transaction-scoped lock ends
//! with its transaction, so PgBouncer's transaction pooling is no problem.
//!
//! So that the lock never takes part in a deadlock, it is always the last lock a
//! transaction takes: events are inserted after every other write of their transaction
//! (nothing waits while holding it but the commit).

use postgres::types::Type;
use postgres::{Row, Transaction};

use super::PgStore;
use crate::core::error::{Error, Result};
use crate::core::run::EventKind;
use crate::store::{Event, EventStore};

/// The advisory lock key that orders event inserts ("events" in ASCII).
pub(super) const EVENTS_LOCK: i64 = 0x6576_656e_7473;

/// The id of a new event, drawn under the events lock: a `CASE` evaluates its condition
/// before its result, so `nextval` runs only once the lock is held.
pub(super) const NEXT_ID: &str = "CASE WHEN pg_advisory_xact_lock(111559182283891)::text = '' \
     THEN nextval(pg_get_serial_sequence('events', 'id')) END";

/// One event's insert: `$1` at, `$2` kind, `$3` job, `$4` run, `$5` detail.
fn insert_sql() -> String {
    format!(
        "INSERT INTO events (id, at, kind, job, run_id, detail) VALUES ({NEXT_ID}, $1, $2, $3, $4, $5)"
    )
}

const SELECT: &str = "SELECT id, at, kind, job, run_id, detail FROM events";

/// Appends an event in the caller's transaction: its last write (see the module doc).
pub(super) fn append_tx(
    tx: &mut Transaction<'_>,
    at: i64,
    kind: EventKind,
    job: Option<&str>,
    run_id: Option<i64>,
    detail: &serde_json::Value,
) -> Result<()> {
    let detail = detail.to_string();
    tx.query_typed(
        &insert_sql(),
        &[
            (&at, Type::INT8),
            (&kind.as_str(), Type::TEXT),
            (&job, Type::TEXT),
            (&run_id, Type::INT8),
            (&detail, Type::TEXT),
        ],
    )?;
    Ok(())
}

fn event(r: &Row) -> Result<Event> {
    let k: String = r.get(2);
    let detail: String = r.get(5);
    Ok(Event {
        id: r.get(0),
        at: r.get(1),
        kind: EventKind::parse(&k)
            .ok_or_else(|| Error::State(format!("unknown event kind {k:?} in the database")))?,
        job: r.get(3),
        run_id: r.get(4),
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    })
}

impl EventStore for PgStore {
    fn append_event(
        &mut self,
        at: i64,
        kind: EventKind,
        job: Option<&str>,
        run_id: Option<i64>,
        detail: &serde_json::Value,
    ) -> Result<()> {
        let detail = detail.to_string();
        self.write_one(
            &insert_sql(),
            &[
                (&at, Type::INT8),
                (&kind.as_str(), Type::TEXT),
                (&job, Type::TEXT),
                (&run_id, Type::INT8),
                (&detail, Type::TEXT),
            ],
        )?;
        Ok(())
    }

    fn events(&self, kind: Option<EventKind>, limit: usize) -> Result<Vec<Event>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let kind = kind.map(EventKind::as_str);
        self.query(
            &format!("{SELECT} WHERE ($1::text IS NULL OR kind = $1) ORDER BY id DESC LIMIT $2"),
            &[(&kind, Type::TEXT), (&limit, Type::INT8)],
        )?
        .iter()
        .map(event)
        .collect()
    }

    fn run_events(&self, run_id: i64) -> Result<Vec<Event>> {
        self.query(
            &format!("{SELECT} WHERE run_id = $1 ORDER BY id"),
            &[(&run_id, Type::INT8)],
        )?
        .iter()
        .map(event)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_in_the_id_is_the_events_lock() {
        assert!(NEXT_ID.contains(&format!("pg_advisory_xact_lock({EVENTS_LOCK})")));
    }
}
