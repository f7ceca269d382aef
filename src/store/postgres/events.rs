//! The append-only event log in PostgreSQL. A run's change of state also says from
//! what, to what, why and who made it (`from_status`, `to_status`, `reason`, `actor`).
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

use super::{Param, PgStore};
use crate::core::error::Result;
use crate::core::run::EventKind;
use crate::store::encode::NewEvent;
use crate::store::rows::{self, EventCol};
use crate::store::sql::{cat_into, const_text};
use crate::store::{Event, EventStore};

/// The advisory lock key that orders event inserts ("events" in ASCII).
pub(super) const EVENTS_LOCK: i64 = 0x6576_656e_7473;

/// The id of a new event, drawn under the events lock: a `CASE` evaluates its condition
/// before its result, so `nextval` runs only once the lock is held.
pub(super) const NEXT_ID: &str = "CASE WHEN pg_advisory_xact_lock(111559182283891)::text = '' \
     THEN nextval(pg_get_serial_sequence('events', 'id')) END";

/// One event's insert: `$1` at, `$2` kind, `$3` job, `$4` run, `$5` detail, and of a
/// change of state `$6` from, `$7` to, `$8` reason, `$9` actor.
fn insert_sql() -> String {
    format!(
        "INSERT INTO events (id, at, kind, job, run_id, detail, from_status, to_status, reason, actor) \
         VALUES ({NEXT_ID}, $1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
}

/// An event's SELECT: its columns, in order.
const SELECT: &str = const_text!(cat_into, &["SELECT ", EventCol::LIST, " FROM events"]);

/// Appends `e` in the caller's transaction: its last write (see the module doc).
pub(super) fn append_tx(tx: &mut Transaction<'_>, e: &NewEvent<'_>) -> Result<()> {
    with_params(e, |p| {
        tx.query_typed(&insert_sql(), p)?;
        Ok(())
    })
}

/// `f` given the parameters of `e`'s insert.
fn with_params<T>(e: &NewEvent<'_>, f: impl FnOnce(&[Param<'_>]) -> Result<T>) -> Result<T> {
    let detail = e.detail.to_string();
    let (from, to, reason, actor) = (e.moved_from(), e.moved_to(), e.reason(), e.actor());
    f(&[
        (&e.at, Type::INT8),
        (&e.kind.as_str(), Type::TEXT),
        (&e.job, Type::TEXT),
        (&e.run_id, Type::INT8),
        (&detail, Type::TEXT),
        (&from, Type::TEXT),
        (&to, Type::TEXT),
        (&reason, Type::TEXT),
        (&actor, Type::TEXT),
    ])
}

fn event(r: &Row) -> Result<Event> {
    rows::event_of(r)
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
        let e = NewEvent::of(at, kind, job, run_id, detail.clone());
        with_params(&e, |p| self.write_one(&insert_sql(), p).map(drop))
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

    /// Read in id order, which is commit order (see the module doc): a reader following
    /// the log by the last id it saw misses nothing.
    fn events_after(&self, run_id: Option<i64>, after: i64, limit: usize) -> Result<Vec<Event>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        self.query(
            &format!(
                "{SELECT} WHERE ($1::bigint IS NULL OR run_id = $1) AND id > $2 ORDER BY id LIMIT $3"
            ),
            &[
                (&run_id, Type::INT8),
                (&after, Type::INT8),
                (&limit, Type::INT8),
            ],
        )?
        .iter()
        .map(event)
        .collect()
    }

    fn last_event_id(&self) -> Result<i64> {
        Ok(self
            .query_opt("SELECT COALESCE(max(id), 0) FROM events", &[])?
            .map(|r| r.get(0))
            .unwrap_or(0))
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
