//! Run records in PostgreSQL: claimed by one insert that the unique indexes on
//! `(job, slot)` and on a job's running run let only one host win, closed exactly once.
//! What a run did around its job (its workspace, changes and hooks) is JSON text, as in
//! the SQLite state; `worktree` holds the worktree's path while that directory is on disk.

use std::collections::HashMap;

use postgres::types::Type;
use postgres::{Row, Transaction};

use super::PgStore;
use super::events::{self, NEXT_ID};
use crate::core::error::{Error, Result};
use crate::core::run::{EventKind, NewRun, RunEnd, RunRecord, RunStatus};
use crate::core::workspace::{HookResult, WorkspaceInfo};
use crate::store::{Claim, RunStore};

pub(super) const COLUMNS: &str = "id, job, status, forced, scheduled_for, started_at, ended_at, duration_ms, exit_code, signal, \
     error, role, agent, model, scope, cost_milli, cost_usd, input_tokens, output_tokens, num_turns, attempts, \
     log_path, supervisor_pid, pgid, tool_calls, lock_name, survivors, host, workspace, changes, hooks";

/// A JSON column read back: what can't be read is left out, never an error that would
/// hide the rest of the record.
fn json_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> Option<T> {
    r.get::<_, Option<String>>(i)
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// A list as a JSON column: NULL when empty.
fn json_list<T: serde::Serialize>(items: &[T]) -> Result<Option<String>> {
    Ok(if items.is_empty() {
        None
    } else {
        Some(serde_json::to_string(items)?)
    })
}

pub(super) fn from_row(r: &Row) -> Result<RunRecord> {
    let status: String = r.get(2);
    let attempts: Option<String> = r.get(20);
    Ok(RunRecord {
        id: r.get(0),
        job: r.get(1),
        status: RunStatus::parse(&status).ok_or_else(|| {
            Error::State(format!("unknown run status {status:?} in the database"))
        })?,
        forced: r.get(3),
        scheduled_for: r.get(4),
        started_at: r.get(5),
        ended_at: r.get(6),
        duration_ms: r.get(7),
        exit_code: r.get(8),
        signal: r.get(9),
        error: r.get(10),
        role: r.get(11),
        agent: r.get(12),
        model: r.get(13),
        scope: r.get(14),
        cost_milli: r.get(15),
        cost_usd: r.get(16),
        input_tokens: r.get(17),
        output_tokens: r.get(18),
        num_turns: r.get(19),
        attempts: attempts
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default(),
        log_path: r.get(21),
        supervisor_pid: r.get(22),
        pgid: r.get(23),
        tool_calls: r.get(24),
        lock_name: r.get(25),
        survivors: r.get(26),
        host: r.get(27),
        workspace: json_col(r, 28),
        changes: json_col(r, 29).unwrap_or_default(),
        hooks: json_col(r, 30).unwrap_or_default(),
    })
}

fn rows(rs: Vec<Row>) -> Result<Vec<RunRecord>> {
    rs.iter().map(from_row).collect()
}

fn get_tx(tx: &mut Transaction<'_>, id: i64) -> Result<Option<RunRecord>> {
    tx.query_typed_opt(
        &format!("SELECT {COLUMNS} FROM runs WHERE id = $1"),
        &[(&id, Type::INT8)],
    )?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Why a claim is refused, if it is: the slot was claimed already, or the job has a
/// running run (one not under a lease of its own). Read before the insert (so a refused
/// claim takes no run id) and again after an insert that conflicted (an insert that meets
/// an uncommitted conflicting row waits for it); `None` after a conflict means it is gone
/// (that run ended, that claim rolled back): try again.
fn refusal(store: &PgStore, new: &NewRun) -> Result<Option<Claim>> {
    let check_running = new.lock_name.is_none();
    let row = store.query_opt(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE job = $1 AND slot = $2), \
         (SELECT id FROM runs WHERE $3 AND status = 'running' AND job = $1 AND lock_name IS NULL LIMIT 1)",
        &[
            (&new.job, Type::TEXT),
            (&new.last_slot, Type::INT8),
            (&check_running, Type::BOOL),
        ],
    )?;
    let Some(row) = row else { return Ok(None) };
    if row.get::<_, Option<bool>>(0) == Some(true) {
        return Ok(Some(Claim::SlotTaken));
    }
    Ok(row.get::<_, Option<i64>>(1).map(Claim::JobRunning))
}

impl RunStore for PgStore {
    /// The insert, the job's new slot and the `run_started` event are one statement: one
    /// round trip, all or nothing, decided by the unique indexes when hosts race. The
    /// event goes in last (it reads the count of `j`, so the job's row is written first):
    /// the events lock is the last lock taken.
    fn claim_run(&mut self, new: &NewRun) -> Result<Claim> {
        let logs = format!("{}/", self.dir.join("logs").join(&new.job).display());
        let detail = serde_json::json!({
            "forced": new.forced, "scheduled_for": new.scheduled_for, "host": self.host,
        })
        .to_string();
        let host = self.host.clone();
        for _ in 0..5 {
            if let Some(c) = refusal(self, new)? {
                return Ok(c);
            }
            let rows = self.write_one(
                &format!(
                    "WITH n AS (SELECT nextval(pg_get_serial_sequence('runs', 'id')) AS id), \
                     r AS (INSERT INTO runs (id, job, status, forced, slot, scheduled_for, started_at, supervisor_pid, \
                           scope, lock_name, host, log_path) \
                         SELECT n.id, $1, 'running', $2, $3, $4, $5, $6, $7, $8, $9, $10 || n.id || '.log' FROM n \
                         ON CONFLICT DO NOTHING RETURNING {COLUMNS}), \
                     j AS (INSERT INTO jobs (name, first_seen, last_slot) SELECT $1, $3, $3 FROM r WHERE $3::bigint IS NOT NULL \
                         ON CONFLICT (name) DO UPDATE SET last_slot = excluded.last_slot, held = FALSE RETURNING 1), \
                     e AS (INSERT INTO events (id, at, kind, job, run_id, detail) \
                         SELECT {NEXT_ID}, $5, 'run_started', $1, r.id, $11 FROM r, (SELECT count(*) FROM j) AS jd) \
                     SELECT {COLUMNS} FROM r"
                ),
                &[
                    (&new.job, Type::TEXT),
                    (&new.forced, Type::BOOL),
                    (&new.last_slot, Type::INT8),
                    (&new.scheduled_for, Type::INT8),
                    (&new.started_at, Type::INT8),
                    (&new.supervisor_pid, Type::INT8),
                    (&new.scope, Type::TEXT),
                    (&new.lock_name, Type::TEXT),
                    (&host, Type::TEXT),
                    (&logs, Type::TEXT),
                    (&detail, Type::TEXT),
                ],
            )?;
            if let Some(r) = rows.first() {
                return Ok(Claim::Claimed(Box::new(from_row(r)?)));
            }
        }
        Err(Error::State(format!(
            "the claim of a run of {} kept meeting runs that vanished; try again",
            new.job
        )))
    }

    fn mark_agent_starting(&mut self, id: i64) -> Result<()> {
        self.write_one(
            "UPDATE runs SET agent_starting = TRUE WHERE id = $1 AND status = 'running'",
            &[(&id, Type::INT8)],
        )?;
        Ok(())
    }

    fn set_run_process(&mut self, id: i64, supervisor_pid: i64, pgid: Option<i64>) -> Result<()> {
        self.write_one(
                "UPDATE runs SET supervisor_pid = $1, pgid = COALESCE($2, pgid) WHERE id = $3 AND status = 'running'",
                &[
                    (&supervisor_pid, Type::INT8),
                    (&pgid, Type::INT8),
                    (&id, Type::INT8),
                ],
        )?;
        Ok(())
    }

    fn finish_run(&mut self, id: i64, end: &RunEnd) -> Result<Option<RunRecord>> {
        self.write(|tx| finish_tx(tx, id, end))
    }

    fn get_run(&self, id: i64) -> Result<Option<RunRecord>> {
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM runs WHERE id = $1"),
            &[(&id, Type::INT8)],
        )?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    fn running_runs(&self) -> Result<Vec<RunRecord>> {
        rows(self.query(
            &format!("SELECT {COLUMNS} FROM runs WHERE status = 'running' ORDER BY id"),
            &[],
        )?)
    }

    fn latest_runs(&self, jobs: &[&str]) -> Result<HashMap<String, RunRecord>> {
        let names: Vec<&str> = jobs.to_vec();
        let rs = self.query(
            &format!(
                "SELECT {COLUMNS} FROM runs WHERE id IN \
                 (SELECT (SELECT max(id) FROM runs WHERE job = j) FROM unnest($1::text[]) AS j)"
            ),
            &[(&names, Type::TEXT_ARRAY)],
        )?;
        let mut out = HashMap::with_capacity(jobs.len());
        for r in rows(rs)? {
            out.insert(r.job.clone(), r);
        }
        Ok(out)
    }

    fn latest_run(&self, job: &str) -> Result<Option<RunRecord>> {
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM runs WHERE job = $1 ORDER BY id DESC LIMIT 1"),
            &[(&job, Type::TEXT)],
        )?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    fn last_scheduled_slot_before(&self, job: &str, t: i64) -> Result<Option<i64>> {
        Ok(self
            .query_opt(
                "SELECT max(scheduled_for) FROM runs WHERE job = $1 AND NOT forced AND scheduled_for <= $2",
                &[(&job, Type::TEXT), (&t, Type::INT8)],
            )?
            .and_then(|r| r.get(0)))
    }

    fn history(&self, job: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        rows(self.query(
            &format!(
                "SELECT {COLUMNS} FROM runs WHERE ($1::text IS NULL OR job = $1) ORDER BY id DESC LIMIT $2"
            ),
            &[(&job, Type::TEXT), (&limit, Type::INT8)],
        )?)
    }

    /// A keyset page: the index on `(job, id)` (or the primary key) finds where it starts.
    fn history_page(
        &self,
        job: Option<&str>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RunRecord>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let before = before.unwrap_or(i64::MAX);
        rows(self.query(
            &format!(
                "SELECT {COLUMNS} FROM runs WHERE ($1::text IS NULL OR job = $1) AND id < $2 ORDER BY id DESC LIMIT $3"
            ),
            &[(&job, Type::TEXT), (&before, Type::INT8), (&limit, Type::INT8)],
        )?)
    }

    fn last_failure(&self) -> Result<Option<RunRecord>> {
        let failures: Vec<&str> = RunStatus::ALL
            .iter()
            .filter(|s| s.is_failure())
            .map(|s| s.as_str())
            .collect();
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM runs WHERE status = ANY($1) ORDER BY id DESC LIMIT 1"),
            &[(&failures, Type::TEXT_ARRAY)],
        )?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    fn runs_with_survivors(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        rows(self.query(
            &format!(
                "SELECT {COLUMNS} FROM runs WHERE survivors IS NOT NULL ORDER BY id DESC LIMIT $1"
            ),
            &[(&limit, Type::INT8)],
        )?)
    }

    fn prune_runs(&mut self, job: &str, keep: u32) -> Result<Vec<String>> {
        let offset = i64::from(keep) - 1;
        self.write(|tx| {
            let Some(cutoff) = tx.query_typed_opt(
                "SELECT id FROM runs WHERE job = $1 ORDER BY id DESC LIMIT 1 OFFSET $2",
                &[(&job, Type::TEXT), (&offset, Type::INT8)],
            )?
            else {
                return Ok(Vec::new());
            };
            let cutoff: i64 = cutoff.get(0);
            crate::faults::pause("prune_read");
            let gone = tx.query_typed(
                "DELETE FROM runs WHERE job = $1 AND id < $2 AND status != 'running' AND worktree IS NULL \
                 RETURNING id, log_path",
                &[(&job, Type::TEXT), (&cutoff, Type::INT8)],
            )?;
            let mut ids: Vec<i64> = gone.iter().map(|r| r.get(0)).collect();
            ids.sort_unstable();
            tx.query_typed(
                "DELETE FROM events WHERE run_id = ANY($1)",
                &[(&ids, Type::INT8_ARRAY)],
            )?;
            super::logs::delete_tx(tx, &ids)?;
            let mut paths: Vec<(i64, String)> = gone
                .iter()
                .filter_map(|r| r.get::<_, Option<String>>(1).map(|p| (r.get(0), p)))
                .collect();
            paths.sort();
            Ok(paths.into_iter().map(|(_, p)| p).collect())
        })
    }

    fn set_run_workspace(&mut self, id: i64, ws: &WorkspaceInfo, on_disk: bool) -> Result<()> {
        let info = serde_json::to_string(ws)?;
        let worktree = on_disk.then_some(ws.path.as_str());
        self.write_one(
            "UPDATE runs SET workspace = $1, worktree = $2 WHERE id = $3",
            &[
                (&info, Type::TEXT),
                (&worktree, Type::TEXT),
                (&id, Type::INT8),
            ],
        )?;
        Ok(())
    }

    fn runs_with_worktree(&self) -> Result<Vec<RunRecord>> {
        rows(self.query(
            &format!("SELECT {COLUMNS} FROM runs WHERE worktree IS NOT NULL ORDER BY id"),
            &[],
        )?)
    }

    /// Appended in one statement (the row's lock orders two adders; a run pruned
    /// meanwhile is no longer there to add to).
    fn add_run_hooks(&mut self, id: i64, hooks: &[HookResult]) -> Result<()> {
        if hooks.is_empty() {
            return Ok(());
        }
        let more = serde_json::to_string(hooks)?;
        self.write_one(
            "UPDATE runs SET hooks = (COALESCE(hooks::jsonb, '[]'::jsonb) || $1::jsonb)::text WHERE id = $2",
            &[(&more, Type::TEXT), (&id, Type::INT8)],
        )?;
        Ok(())
    }
}

/// Closes a run once (see `RunStore::finish_run`), in the caller's transaction.
fn finish_tx(tx: &mut Transaction<'_>, id: i64, end: &RunEnd) -> Result<Option<RunRecord>> {
    // The row is locked for the rest of the transaction: a racing close waits, then finds
    // it closed.
    let Some(cur) = tx.query_typed_opt(
        "SELECT agent, model, cost_milli, reserve_day, COALESCE(reserve_epoch, 0), pgid IS NULL AND agent_starting IS NULL \
         FROM runs WHERE id = $1 AND status = 'running' FOR UPDATE",
        &[(&id, Type::INT8)],
    )?
    else {
        return Ok(None);
    };
    let (agent, model, cost): (Option<String>, Option<String>, Option<i64>) =
        (cur.get(0), cur.get(1), cur.get(2));
    let reserve_day: Option<String> = cur.get(3);
    let epoch: i64 = cur.get(4);
    let unstarted: bool = cur.get(5);
    let mut refunded = false;
    if end.status == RunStatus::Lost
        && end.refund_unstarted
        && unstarted
        && let (Some(a), Some(day), Some(c)) = (&agent, &reserve_day, cost)
    {
        // Never started, so never spent: given back in the transaction that closes the
        // run, so exactly once, and only into the usage it was counted in.
        tx.query_typed(
            "UPDATE agent_usage SET used_milli = GREATEST(0, used_milli - $1) WHERE agent = $2 AND day = $3 AND epoch = $4",
            &[
                (&c, Type::INT8),
                (a, Type::TEXT),
                (day, Type::TEXT),
                (&epoch, Type::INT8),
            ],
        )?;
        refunded = true;
    }
    let (agent, model, cost_milli) = if end.status == RunStatus::Lost {
        (agent, model, if refunded { None } else { cost })
    } else {
        (end.agent.clone(), end.model.clone(), end.cost_milli)
    };
    let attempts = if end.attempts.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&end.attempts)?)
    };
    // The workspace an end carries replaces the one recorded (its worktree on disk when
    // kept); without one, what is recorded stays.
    let workspace = end
        .workspace
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let worktree = end
        .workspace
        .as_ref()
        .and_then(|w| w.kept.then(|| w.path.clone()));
    let (changes, hooks) = (json_list(&end.changes)?, json_list(&end.hooks)?);
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
            (&end.error, Type::TEXT),
            (&end.role, Type::TEXT),
            (&agent, Type::TEXT),
            (&model, Type::TEXT),
            (&end.scope, Type::TEXT),
            (&cost_milli, Type::INT8),
            (&end.cost_usd, Type::FLOAT8),
            (&end.input_tokens, Type::INT8),
            (&end.output_tokens, Type::INT8),
            (&end.num_turns, Type::INT8),
            (&attempts, Type::TEXT),
            (&id, Type::INT8),
            (&end.tool_calls, Type::INT8),
            (&end.survivors, Type::TEXT),
            (&workspace, Type::TEXT),
            (&worktree, Type::TEXT),
            (&changes, Type::TEXT),
            (&hooks, Type::TEXT),
        ],
    )?;
    let job: String = row.get(0);
    let duration: Option<i64> = row.get(1);
    let kind = if end.status == RunStatus::Lost {
        EventKind::RunLost
    } else {
        EventKind::RunEnded
    };
    events::append_tx(
        tx,
        end.ended_at,
        kind,
        Some(&job),
        Some(id),
        &serde_json::json!({
            "status": end.status, "exit_code": end.exit_code, "signal": end.signal,
            "duration_ms": duration, "error": end.error,
        }),
    )?;
    get_tx(tx, id)
}
