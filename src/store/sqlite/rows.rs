//! A run's row: its columns, reading one into a [`RunRecord`], the terms that find the
//! runs not ended yet, and bulk imports (history migration, the benchmark's fixtures).

use rusqlite::{Row, params};

use super::SqliteStore;
use crate::core::error::Result;
use crate::core::run::{Actor, AgentUsage, RunRecord, RunStatus, Trigger};

pub(super) const COLUMNS: &str = "id, job, status, forced, scheduled_for, started_at, ended_at, duration_ms, exit_code, signal, \
     error, role, agent, model, scope, cost_milli, cost_usd, input_tokens, output_tokens, num_turns, attempts, \
     log_path, supervisor_pid, pgid, tool_calls, lock_name, survivors, trigger_kind, parent_run_id, depth, attempt, \
     retry_of, control, control_by, paused_at, prompt, env, workspace, changes, hooks, metadata";

/// The runs not ended yet (the term of the partial index `runs_active`), and the runs a
/// supervisor holds, through the same index.
pub(super) use crate::store::sql::{ACTIVE, SUPERVISED_OF_ACTIVE as SUPERVISED};

/// A JSON column read back: what can't be read is left out, never an error that would
/// hide the rest of the record.
fn json_col<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = r.get(i)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn conversion(col: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into())
}

pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let attempts: Option<String> = r.get(20)?;
    let job: String = r.get(1)?;
    let forced = r.get::<_, i64>(3)? != 0;
    let lock_name: Option<String> = r.get(25)?;
    let trigger = match r.get::<_, Option<String>>(27)? {
        Some(t) => {
            Trigger::parse(&t).ok_or_else(|| conversion(27, format!("unknown trigger {t:?}")))?
        }
        // Rows from before triggers were stored.
        None if forced => Trigger::Forced,
        None if job == "ask" && lock_name.is_some() => Trigger::Ask,
        None => Trigger::Scheduled,
    };
    let control = match r.get::<_, Option<String>>(32)? {
        Some(c) => Some((
            RunStatus::parse(&c).ok_or_else(|| conversion(32, format!("unknown control {c:?}")))?,
            r.get::<_, Option<String>>(33)?
                .as_deref()
                .and_then(Actor::parse)
                .unwrap_or(Actor::Cli),
        )),
        None => None,
    };
    let env: Option<String> = r.get(36)?;
    Ok(RunRecord {
        id: r.get(0)?,
        job,
        status: {
            let s: String = r.get(2)?;
            RunStatus::parse(&s)
                .ok_or_else(|| conversion(2, format!("unknown run status {s:?}")))?
        },
        forced,
        scheduled_for: r.get(4)?,
        started_at: r.get(5)?,
        ended_at: r.get(6)?,
        duration_ms: r.get(7)?,
        exit_code: r.get(8)?,
        signal: r.get(9)?,
        error: r.get(10)?,
        usage: AgentUsage {
            role: r.get(11)?,
            agent: r.get(12)?,
            model: r.get(13)?,
            scope: r.get(14)?,
            cost_milli: r.get(15)?,
            cost_usd: r.get(16)?,
            input_tokens: r.get(17)?,
            output_tokens: r.get(18)?,
            num_turns: r.get(19)?,
            tool_calls: r.get(24)?,
        },
        attempts: attempts
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default(),
        log_path: r.get(21)?,
        supervisor_pid: r.get(22)?,
        pgid: r.get(23)?,
        lock_name,
        survivors: json_col(r, 26)?.unwrap_or_default(),
        workspace: json_col(r, 37)?,
        changes: json_col(r, 38)?.unwrap_or_default(),
        hooks: json_col(r, 39)?.unwrap_or_default(),
        host: None,
        trigger,
        parent_run_id: r.get(28)?,
        depth: r.get::<_, i64>(29)?.clamp(0, u32::MAX as i64) as u32,
        attempt: r.get::<_, i64>(30)?.clamp(1, u32::MAX as i64) as u32,
        retry_of: r.get(31)?,
        control,
        paused_at: r.get(34)?,
        prompt: r.get(35)?,
        env: env
            .and_then(|e| serde_json::from_str(&e).ok())
            .unwrap_or_default(),
        metadata: json_col(r, 40)?,
    })
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
