//! A run's row: its columns, reading one into a [`RunRecord`], the terms that find the
//! runs not ended yet, and bulk imports (history migration, the benchmark's fixtures); and
//! the statements on one run inside a transaction its caller holds (read, insert with its
//! first event, close once, the lease holder), shared by `runs.rs` and `queue.rs`.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::SqliteStore;
use super::budget::release_tx;
use super::events::append;
use crate::core::error::{Error, Result};
use crate::core::run::{NewRun, RunEnd, RunRecord, RunStatus};
use crate::store::encode::{EndColumns, NewEvent, NewRunColumns, created, created_detail};
use crate::store::rows::{self, Cells, HeldCol, RunCol};

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
pub(super) fn get_tx(tx: &Transaction<'_>, id: i64) -> Result<Option<RunRecord>> {
    Ok(tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// Inserts a new run in `status`, with its log path and its first event; returns its id.
pub(super) fn insert_tx(
    tx: &Transaction<'_>,
    dir: &std::path::Path,
    new: &NewRun,
    status: RunStatus,
) -> Result<i64> {
    let c = NewRunColumns::of(new)?;
    tx.prepare_cached(
        "INSERT INTO runs (job, status, forced, scheduled_for, started_at, supervisor_pid, scope, lock_name, \
         trigger_kind, parent_run_id, depth, attempt, retry_of, prompt, env, metadata) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        new.job,
        status.as_str(),
        new.forced as i64,
        new.scheduled_for,
        new.started_at,
        new.supervisor_pid,
        new.scope,
        new.lock_name,
        c.trigger,
        new.parent_run_id,
        c.depth,
        c.attempt,
        new.retry_of,
        new.prompt,
        c.env,
        c.metadata
    ])?;
    let id = tx.last_insert_rowid();
    let log_path = dir.join("logs").join(&new.job).join(format!("{id}.log"));
    tx.execute(
        "UPDATE runs SET log_path = ?1 WHERE id = ?2",
        params![log_path.display().to_string(), id],
    )?;
    if let Some(slot) = new.last_slot {
        tx.execute(
            "INSERT INTO jobs (name, first_seen, last_slot) VALUES (?1, ?2, ?2) \
             ON CONFLICT(name) DO UPDATE SET last_slot = excluded.last_slot, held = 0",
            params![new.job, slot],
        )?;
    }
    let t = created(new, status);
    append(
        tx,
        &NewEvent::change(new.started_at, &new.job, id, t, created_detail(new)),
    )?;
    Ok(id)
}

/// Whether a scheduled run of `job` for `slot` exists.
pub(super) fn slot_taken(tx: &Transaction<'_>, job: &str, slot: i64) -> Result<bool> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE job = ?1 AND forced = 0 AND scheduled_for = ?2)",
        params![job, slot],
        |r| r.get(0),
    )?)
}

/// A supervised run under the lease of `job` named `lock_name` (`None`: the job's own).
pub(super) fn lease_holder(
    tx: &Transaction<'_>,
    job: &str,
    lock_name: Option<&str>,
) -> Result<Option<i64>> {
    Ok(tx
        .query_row(
            &format!(
                "SELECT id FROM runs WHERE {SUPERVISED} AND job = ?1 AND lock_name IS ?2 LIMIT 1"
            ),
            params![job, lock_name],
            |r| r.get(0),
        )
        .optional()?)
}

/// Closes run `id` once (from any state that is not an end), with its end event; the
/// closed record, or `None` when it was closed already.
pub(super) fn close_tx(tx: &Transaction<'_>, id: i64, end: &RunEnd) -> Result<Option<RunRecord>> {
    let held = tx
        .query_row(
            &format!(
                "SELECT {} FROM runs WHERE id = ?1 AND {ACTIVE}",
                HeldCol::LIST
            ),
            [id],
            |r| rows::held_of(r),
        )
        .optional()?;
    let Some(held) = held else {
        return Ok(None);
    };
    let from = held.status;
    let c = EndColumns::of(end, held)?;
    if let Some(t) = &c.closing.refund {
        release_tx(tx, t)?;
    }
    let n = tx.execute(
        &format!(
            "UPDATE runs SET status = ?1, ended_at = ?2, duration_ms = MAX(0, ?2 - started_at), exit_code = ?3, \
             signal = ?4, error = ?5, role = COALESCE(?6, role), agent = ?7, model = ?8, scope = COALESCE(?9, scope), \
             cost_milli = ?10, cost_usd = ?11, input_tokens = ?12, output_tokens = ?13, num_turns = ?14, \
             attempts = ?15, tool_calls = ?17, survivors = ?18, reserve_day = NULL, \
             worktree = CASE WHEN ?19 IS NULL THEN worktree ELSE ?20 END, workspace = COALESCE(?19, workspace), \
             changes = ?21, hooks = ?22 WHERE id = ?16 AND {ACTIVE}"
        ),
        params![
            end.status.as_str(),
            end.ended_at,
            end.exit_code,
            end.signal,
            c.error,
            end.usage.role,
            c.closing.agent,
            c.closing.model,
            end.usage.scope,
            c.closing.cost_milli,
            end.usage.cost_usd,
            end.usage.input_tokens,
            end.usage.output_tokens,
            end.usage.num_turns,
            c.attempts,
            id,
            end.usage.tool_calls,
            c.survivors,
            c.workspace,
            c.worktree,
            c.changes,
            c.hooks,
        ],
    )?;
    if n != 1 {
        return Ok(None);
    }
    let closed = get_tx(tx, id)?.ok_or_else(|| Error::State(format!("run {id} vanished")))?;
    append(
        tx,
        &NewEvent::end(end, &closed.job, id, from, closed.duration_ms),
    )?;
    Ok(Some(closed))
}
