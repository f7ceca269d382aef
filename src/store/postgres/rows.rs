//! A run's row in PostgreSQL: its columns, reading one into a [`RunRecord`], the terms
//! that find the runs not ended yet, and the insert of a new run with its first event.

use postgres::types::Type;
use postgres::{Row, Transaction};

use super::events;
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, AgentUsage, NewRun, RunRecord, RunStatus, Transition, Trigger};

pub(super) const COLUMNS: &str = "id, job, status, forced, scheduled_for, started_at, ended_at, duration_ms, exit_code, signal, \
     error, role, agent, model, scope, cost_milli, cost_usd, input_tokens, output_tokens, num_turns, attempts, \
     log_path, supervisor_pid, pgid, tool_calls, lock_name, survivors, host, workspace, changes, hooks, \
     trigger_kind, parent_run_id, depth, attempt, retry_of, control, control_by, paused_at, prompt, env, metadata";

/// The runs not ended yet (the term of the partial index `runs_active`), and the runs a
/// supervisor holds (the term of the unique index `runs_one_per_lease`).
pub(super) use crate::store::sql::{ACTIVE, SUPERVISED};

/// A JSON column read back: what can't be read is left out, never an error that would
/// hide the rest of the record.
fn json_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> Option<T> {
    r.get::<_, Option<String>>(i)
        .and_then(|t| serde_json::from_str(&t).ok())
}

fn status(s: &str) -> Result<RunStatus> {
    RunStatus::parse(s)
        .ok_or_else(|| Error::State(format!("unknown run status {s:?} in the database")))
}

fn small(v: i64, min: i64) -> u32 {
    v.clamp(min, i64::from(u32::MAX)) as u32
}

pub(super) fn from_row(r: &Row) -> Result<RunRecord> {
    let attempts: Option<String> = r.get(20);
    let job: String = r.get(1);
    let forced: bool = r.get(3);
    let lock_name: Option<String> = r.get(25);
    let trigger = match r.get::<_, Option<String>>(31) {
        Some(t) => Trigger::parse(&t)
            .ok_or_else(|| Error::State(format!("unknown trigger {t:?} in the database")))?,
        // Rows from before triggers were stored.
        None if forced => Trigger::Forced,
        None if job == "ask" && lock_name.is_some() => Trigger::Ask,
        None => Trigger::Scheduled,
    };
    let control = match r.get::<_, Option<String>>(36) {
        Some(c) => Some((
            status(&c)?,
            r.get::<_, Option<String>>(37)
                .as_deref()
                .and_then(Actor::parse)
                .unwrap_or(Actor::Cli),
        )),
        None => None,
    };
    Ok(RunRecord {
        id: r.get(0),
        status: status(&r.get::<_, String>(2))?,
        job,
        forced,
        scheduled_for: r.get(4),
        started_at: r.get(5),
        ended_at: r.get(6),
        duration_ms: r.get(7),
        exit_code: r.get(8),
        signal: r.get(9),
        error: r.get(10),
        usage: AgentUsage {
            role: r.get(11),
            agent: r.get(12),
            model: r.get(13),
            scope: r.get(14),
            cost_milli: r.get(15),
            cost_usd: r.get(16),
            input_tokens: r.get(17),
            output_tokens: r.get(18),
            num_turns: r.get(19),
            tool_calls: r.get(24),
        },
        attempts: attempts
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default(),
        log_path: r.get(21),
        supervisor_pid: r.get(22),
        pgid: r.get(23),
        lock_name,
        survivors: json_col(r, 26).unwrap_or_default(),
        host: r.get(27),
        workspace: json_col(r, 28),
        changes: json_col(r, 29).unwrap_or_default(),
        hooks: json_col(r, 30).unwrap_or_default(),
        trigger,
        parent_run_id: r.get(32),
        depth: small(r.get(33), 0),
        attempt: small(r.get(34), 1),
        retry_of: r.get(35),
        control,
        paused_at: r.get(38),
        prompt: r.get(39),
        env: json_col(r, 40).unwrap_or_default(),
        metadata: json_col(r, 41),
    })
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

/// The run-control columns of a new run, as stored: its trigger, attempt (at least 1),
/// variables (JSON, NULL when none), depth and metadata (JSON).
pub(super) struct Control {
    pub trigger: &'static str,
    pub attempt: i64,
    pub env: Option<String>,
    pub depth: i64,
    pub metadata: Option<String>,
}

impl Control {
    pub fn of(new: &NewRun) -> Result<Control> {
        Ok(Control {
            trigger: new.effective_trigger().as_str(),
            attempt: i64::from(new.attempt.max(1)),
            env: if new.env.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&new.env)?)
            },
            depth: i64::from(new.depth),
            metadata: new
                .metadata
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        })
    }
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
    let c = Control::of(new)?;
    let st = status.as_str();
    let Some(row) = tx.query_typed_opt(
        &format!(
            "INSERT INTO runs (id, job, status, forced, slot, scheduled_for, started_at, supervisor_pid, scope, \
             lock_name, host, log_path, trigger_kind, parent_run_id, depth, attempt, retry_of, prompt, env, metadata) \
             SELECT n.id, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 || n.id || '.log', $12, $13, $14, $15, $16, $17, $18, $19 \
             FROM (SELECT nextval(pg_get_serial_sequence('runs', 'id')) AS id) AS n \
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        ),
        &[
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
        ],
    )?
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
    events::append_transition_tx(
        tx,
        new.started_at,
        &new.job,
        run.id,
        &Transition {
            from: None,
            to: status,
            reason: new.reason.clone(),
            by: new.by.clone(),
        },
        &serde_json::json!({
            "forced": new.forced, "scheduled_for": new.scheduled_for,
            "trigger": new.effective_trigger(), "host": host,
        }),
    )?;
    Ok(Some(run))
}
