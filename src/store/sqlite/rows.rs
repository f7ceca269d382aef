//! A run's row: its columns, reading one into a [`RunRecord`], the terms that find the
//! runs not ended yet, and bulk imports (history migration, the benchmark's fixtures).

use rusqlite::{Row, params};

use super::SqliteStore;
use crate::core::error::Result;
use crate::core::run::RunRecord;
use crate::store::rows::{self, Cells, RunCol};

/// The columns every SELECT of a run names ([`RunCol`]).
pub(super) const COLUMNS: &str = RunCol::LIST;

/// The runs not ended yet (the term of the partial index `runs_active`), and the runs a
/// supervisor holds, through the same index.
pub(super) use crate::store::sql::{ACTIVE, SUPERVISED_OF_ACTIVE as SUPERVISED};

/// A cell as SQLite reads it; a value jobctl never writes is a conversion failure.
impl Cells for Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, at: usize) -> rusqlite::Result<i64> {
        self.get(at)
    }
    fn int_opt(&self, at: usize) -> rusqlite::Result<Option<i64>> {
        self.get(at)
    }
    fn real_opt(&self, at: usize) -> rusqlite::Result<Option<f64>> {
        self.get(at)
    }
    fn text(&self, at: usize) -> rusqlite::Result<String> {
        self.get(at)
    }
    fn text_opt(&self, at: usize) -> rusqlite::Result<Option<String>> {
        self.get(at)
    }
    fn bytes(&self, at: usize) -> rusqlite::Result<Vec<u8>> {
        self.get(at)
    }
    fn flag(&self, at: usize) -> rusqlite::Result<bool> {
        Ok(self.get::<_, i64>(at)? != 0)
    }
    fn unknown(&self, at: usize, what: String) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, what.into())
    }
}

/// The run in a row selected with [`COLUMNS`].
pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    rows::run_of(r)
}

impl SqliteStore {
    /// Imports finished runs in one transaction (history migration, and the benchmark's
    /// fixtures: a million runs one transaction each would take minutes).
    pub fn import_runs(&mut self, runs: impl IntoIterator<Item = RunRecord>) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO runs (job, status, forced, scheduled_for, started_at, ended_at, duration_ms, exit_code, \
                 signal, error, log_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for r in runs {
                st.execute(params![
                    r.job,
                    r.status.as_str(),
                    r.forced as i64,
                    r.scheduled_for,
                    r.started_at,
                    r.ended_at,
                    r.duration_ms,
                    r.exit_code,
                    r.signal,
                    r.error,
                    r.log_path
                ])?;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Records job states as a tick would (first seen, last slot), in one transaction.
    pub fn import_job_states(&mut self, states: &[(String, i64, Option<i64>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO jobs (name, first_seen, last_slot) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(name) DO UPDATE SET first_seen = excluded.first_seen, last_slot = excluded.last_slot",
            )?;
            for (name, first_seen, last_slot) in states {
                st.execute(params![name, first_seen, last_slot])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
