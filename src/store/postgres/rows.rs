//! A run's row in PostgreSQL: its columns, reading one into a [`RunRecord`], the terms
//! that find the runs not ended yet, the insert of a new run with its first event, and
//! its close, once, in the caller's transaction.

use postgres::types::Type;
use postgres::{Row, Transaction};

use super::budget::{RELEASE, ticket};
use super::{Param, events};
use crate::core::error::{Error, Result};
use crate::core::run::{NewRun, RunEnd, RunRecord, RunStatus};
use crate::store::encode::{EndColumns, NewEvent, NewRunColumns, created, created_detail};
use crate::store::rows::{self, Cells, HeldCol, RunCol};
use crate::store::sql::{cat_into, const_text};

/// The columns every SELECT of a run names ([`RunCol`]), and the run's host.
pub(super) const COLUMNS: &str = const_text!(cat_into, &[RunCol::LIST, ", host"]);
/// Where `host` stands in a row selected with [`COLUMNS`].
const HOST: usize = RunCol::ALL.len();

/// The runs not ended yet (the term of the partial index `runs_active`), and the runs a
/// supervisor holds (the term of the unique index `runs_one_per_lease`).
pub(super) use crate::store::sql::{ACTIVE, SUPERVISED};

/// A cell as the driver reads it (a column of another type is a bug of this crate, and
/// panics); a value jobctl never writes is a state error.
impl Cells for Row {
    type Error = Error;
    fn int(&self, at: usize) -> Result<i64> {
        Ok(self.get(at))
    }
    fn int_opt(&self, at: usize) -> Result<Option<i64>> {
        Ok(self.get(at))
    }
    fn real_opt(&self, at: usize) -> Result<Option<f64>> {
        Ok(self.get(at))
    }
    fn text(&self, at: usize) -> Result<String> {
        Ok(self.get(at))
    }
    fn text_opt(&self, at: usize) -> Result<Option<String>> {
        Ok(self.get(at))
    }
    fn bytes(&self, at: usize) -> Result<Vec<u8>> {
        Ok(self.get(at))
    }
    fn flag(&self, at: usize) -> Result<bool> {
        Ok(self.get(at))
    }
    fn unknown(&self, _at: usize, what: String) -> Error {
        Error::State(format!("{what} in the database"))
    }
}

/// The run in a row selected with [`COLUMNS`].
pub(super) fn from_row(r: &Row) -> Result<RunRecord> {
    let mut run = rows::run_of(r)?;
    run.host = r.get(HOST);
    Ok(run)
}

pub(super) fn rows(rs: Vec<Row>) -> Result<Vec<RunRecord>> {
    rs.iter().map(from_row).collect()
}

pub(super) fn get_tx(tx: &mut Transaction<'_>, id: i64) -> Result<Option<RunRecord>> {
    tx.query_typed_opt(
        &format!("SELECT {COLUMNS} FROM runs WHERE id = $1"),
        &[(&id, Type::INT8)],
    )?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The insert of a new run, its record returned (none when a unique index refuses it):
/// alone, or as a statement's first part. Its parameters are [`with_new_run`]'s; a
/// statement that holds it numbers its own from `$20`.
pub(super) fn insert_run() -> String {
    format!(
        "INSERT INTO runs (id, job, status, forced, slot, scheduled_for, started_at, supervisor_pid, scope, \
         lock_name, host, log_path, trigger_kind, parent_run_id, depth, attempt, retry_of, prompt, env, metadata) \
         SELECT n.id, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 || n.id || '.log', $12, $13, $14, $15, $16, $17, $18, $19 \
         FROM (SELECT nextval(pg_get_serial_sequence('runs', 'id')) AS id) AS n \
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    )
}

/// `f` given the parameters of [`insert_run`] for `new` in `status` on `host`, its log
/// under `logs` (`.../JOB/`, the run's id and `.log` follow), then `more` (`$20` on):
/// `$1` job, `$2` status, `$3` forced, `$4` slot, `$5` scheduled for, `$6` started at.
pub(super) fn with_new_run<T>(
    new: &NewRun,
    status: RunStatus,
    host: Option<&str>,
    logs: &str,
    more: &[Param<'_>],
    f: impl FnOnce(&[Param<'_>]) -> Result<T>,
) -> Result<T> {
    let c = NewRunColumns::of(new)?;
    let st = status.as_str();
    let mut p: Vec<Param<'_>> = vec![
        (&new.job, Type::TEXT),
        (&st, Type::TEXT),
        (&new.forced, Type::BOOL),
        (&new.last_slot, Type::INT8),
        (&new.scheduled_for, Type::INT8),
        (&new.started_at, Type::INT8),
        (&new.supervisor_pid, Type::INT8),
        (&new.scope, Type::TEXT),
        (&new.lock_name, Type::TEXT),
        (&host, Type::TEXT),
        (&logs, Type::TEXT),
        (&c.trigger, Type::TEXT),
        (&new.parent_run_id, Type::INT8),
        (&c.depth, Type::INT8),
        (&c.attempt, Type::INT8),
        (&new.retry_of, Type::INT8),
        (&new.prompt, Type::TEXT),
        (&c.env, Type::TEXT),
        (&c.metadata, Type::TEXT),
    ];
    p.extend_from_slice(more);
    f(&p)
}

/// Inserts a new run in `status` on `host`, with its log path under `logs` (`.../JOB/`),
/// and for a scheduled run (`last_slot`) its claim of the slot and the job's new slot,
/// then its first event; the new record, or `None` when the slot was claimed already (or
/// the lease is held: the unique indexes decide).
pub(super) fn insert_tx(
    tx: &mut Transaction<'_>,
    logs: &str,
    new: &NewRun,
    status: RunStatus,
    host: Option<&str>,
) -> Result<Option<RunRecord>> {
    let Some(row) = with_new_run(new, status, host, logs, &[], |p| {
        Ok(tx.query_typed_opt(&insert_run(), p)?)
    })?
    else {
        return Ok(None);
    };
    let run = from_row(&row)?;
    if let Some(slot) = new.last_slot {
        tx.query_typed(
            "INSERT INTO jobs (name, first_seen, last_slot) VALUES ($1, $2, $2) \
             ON CONFLICT (name) DO UPDATE SET last_slot = excluded.last_slot, held = FALSE",
            &[(&new.job, Type::TEXT), (&slot, Type::INT8)],
        )?;
    }
    let first = NewEvent::change(
        new.started_at,
        &new.job,
        run.id,
        created(new, status),
        created_detail(new),
    );
    events::append_tx(tx, &first.on_host(host))?;
    Ok(Some(run))
}
/// Closes a run once (see `RunStore::finish_run`), in the caller's transaction.
pub(super) fn finish_tx(
    tx: &mut Transaction<'_>,
    id: i64,
    end: &RunEnd,
) -> Result<Option<RunRecord>> {
    // The row is locked for the rest of the transaction: a racing close waits, then finds
    // it closed.
    let Some(row) = tx.query_typed_opt(
        &format!(
            "SELECT {} FROM runs WHERE id = $1 AND {ACTIVE} FOR UPDATE",
            HeldCol::LIST
        ),
        &[(&id, Type::INT8)],
    )?
    else {
        return Ok(None);
    };
    let held = rows::held_of(&row)?;
    let from = held.status;
    let c = EndColumns::of(end, held)?;
    if let Some(t) = &c.closing.refund {
        tx.query_typed(RELEASE, &ticket(t))?;
    }
    let status = end.status.as_str();
    let row = tx.query_typed_one(
        "UPDATE runs SET status = $1, ended_at = $2, duration_ms = GREATEST(0, $2 - started_at), exit_code = $3, \
         signal = $4, error = $5, role = COALESCE($6, role), agent = $7, model = $8, scope = COALESCE($9, scope), \
         cost_milli = $10, cost_usd = $11, input_tokens = $12, output_tokens = $13, num_turns = $14, \
         attempts = $15, tool_calls = $17, survivors = $18, reserve_day = NULL, \
         worktree = CASE WHEN $19::text IS NULL THEN worktree ELSE $20 END, workspace = COALESCE($19, workspace), \
         changes = $21, hooks = $22 WHERE id = $16 \
         RETURNING job, duration_ms",
        &[
            (&status, Type::TEXT),
            (&end.ended_at, Type::INT8),
            (&end.exit_code, Type::INT8),
            (&end.signal, Type::INT8),
            (&c.error, Type::TEXT),
            (&end.usage.role, Type::TEXT),
            (&c.closing.agent, Type::TEXT),
            (&c.closing.model, Type::TEXT),
            (&end.usage.scope, Type::TEXT),
            (&c.closing.cost_milli, Type::INT8),
            (&end.usage.cost_usd, Type::FLOAT8),
            (&end.usage.input_tokens, Type::INT8),
            (&end.usage.output_tokens, Type::INT8),
            (&end.usage.num_turns, Type::INT8),
            (&c.attempts, Type::TEXT),
            (&id, Type::INT8),
            (&end.usage.tool_calls, Type::INT8),
            (&c.survivors, Type::TEXT),
            (&c.workspace, Type::TEXT),
            (&c.worktree, Type::TEXT),
            (&c.changes, Type::TEXT),
            (&c.hooks, Type::TEXT),
        ],
    )?;
    let job: String = row.get(0);
    let duration: Option<i64> = row.get(1);
    events::append_tx(tx, &NewEvent::end(end, &job, id, from, duration))?;
    get_tx(tx, id)
}
