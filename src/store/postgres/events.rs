//! The append-only event log in PostgreSQL.

use postgres::Transaction;
use postgres::types::Type;

use super::PgStore;
use crate::core::error::{Error, Result};
use crate::core::run::EventKind;
use crate::store::{Event, EventStore};

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
        "INSERT INTO events (at, kind, job, run_id, detail) VALUES ($1, $2, $3, $4, $5)",
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
            "INSERT INTO events (at, kind, job, run_id, detail) VALUES ($1, $2, $3, $4, $5)",
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
            "SELECT id, at, kind, job, run_id, detail FROM events WHERE ($1::text IS NULL OR kind = $1) \
             ORDER BY id DESC LIMIT $2",
            &[(&kind, Type::TEXT), (&limit, Type::INT8)],
        )?
        .iter()
        .map(|r| {
            let k: String = r.get(2);
            let detail: String = r.get(5);
            Ok(Event {
                id: r.get(0),
                at: r.get(1),
                kind: EventKind::parse(&k).ok_or_else(|| {
                    Error::State(format!("unknown event kind {k:?} in the database"))
                })?,
                job: r.get(3),
                run_id: r.get(4),
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect()
    }
}
