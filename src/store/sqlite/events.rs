//! The append-only event log: every change of state, for `status`, `history`, `events`
//! and audits. A run's change of state also says from what, to what, why and who made it.

use rusqlite::{Connection, Row, params};

use super::SqliteStore;
use crate::core::error::Result;
use crate::core::run::EventKind;
use crate::store::encode::NewEvent;
use crate::store::rows::{self, EventCol};
use crate::store::{Event, EventStore};

/// Appends `e` in the caller's transaction.
pub(super) fn append(tx: &Connection, e: &NewEvent<'_>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (at, kind, job, run_id, detail, from_status, to_status, reason, actor) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        e.at,
        e.kind.as_str(),
        e.job,
        e.run_id,
        e.detail.to_string(),
        e.moved_from(),
        e.moved_to(),
        e.reason(),
        e.actor(),
    ])?;
    Ok(())
}

/// The columns every SELECT of an event names.
const COLUMNS: &str = EventCol::LIST;

fn from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    rows::event_of(r)
}

impl EventStore for SqliteStore {
    fn append_event(
        &mut self,
        at: i64,
        kind: EventKind,
        job: Option<&str>,
        run_id: Option<i64>,
        detail: &serde_json::Value,
    ) -> Result<()> {
        append(
            &self.conn,
            &NewEvent::of(at, kind, job, run_id, detail.clone()),
        )
    }

    fn events(&self, kind: Option<EventKind>, limit: usize) -> Result<Vec<Event>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE (?1 IS NULL OR kind = ?1) ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(
            params![
                kind.map(EventKind::as_str),
                limit.min(i64::MAX as usize) as i64
            ],
            from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn events_after(&self, run_id: Option<i64>, after: i64, limit: usize) -> Result<Vec<Event>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = match run_id {
            Some(id) => {
                let mut st = self.conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                ))?;
                st.query_map(params![id, after, limit], from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            }
            None => {
                let mut st = self.conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))?;
                st.query_map(params![after, limit], from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            }
        };
        Ok(rows)
    }

    fn last_event_id(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(max(id), 0) FROM events", [], |r| r.get(0))?)
    }
}
