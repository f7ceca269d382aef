//! The append-only event log: every change of state, for `status`, `history` and audits.

use rusqlite::{Transaction, params};

use super::SqliteStore;
use crate::core::error::Result;
use crate::core::run::EventKind;
use crate::store::{Event, EventStore};

pub(super) fn append_tx(
    tx: &Transaction<'_>,
    at: i64,
    kind: EventKind,
    job: Option<&str>,
    run_id: Option<i64>,
    detail: &serde_json::Value,
) -> Result<()> {
    tx.execute(
        "INSERT INTO events (at, kind, job, run_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at, kind.as_str(), job, run_id, detail.to_string()],
    )?;
    Ok(())
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
        let tx = self.conn.transaction()?;
        append_tx(&tx, at, kind, job, run_id, detail)?;
        tx.commit()?;
        Ok(())
    }

    fn events_after(&self, after: i64, run: Option<i64>, limit: usize) -> Result<Vec<Event>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, at, kind, job, run_id, detail FROM events WHERE id > ?1 AND (?2 IS NULL OR run_id = ?2) \
             ORDER BY id LIMIT ?3",
        )?;
        let rows = st.query_map(params![after, run, limit as i64], event_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn last_event_id(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(max(id), 0) FROM events", [], |r| r.get(0))?)
    }

    fn events(&self, kind: Option<EventKind>, limit: usize) -> Result<Vec<Event>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, at, kind, job, run_id, detail FROM events WHERE (?1 IS NULL OR kind = ?1) ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(
            params![kind.map(EventKind::as_str), limit as i64],
            event_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn run_events(&self, run_id: i64) -> Result<Vec<Event>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, at, kind, job, run_id, detail FROM events WHERE run_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([run_id], event_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    let detail: String = r.get(5)?;
    Ok(Event {
        id: r.get(0)?,
        at: r.get(1)?,
        kind: {
            let k: String = r.get(2)?;
            EventKind::parse(&k).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    format!("unknown event kind {k:?}").into(),
                )
            })?
        },
        job: r.get(3)?,
        run_id: r.get(4)?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    })
}
