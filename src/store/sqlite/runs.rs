//! Run records: created `running` before the job's process starts, closed exactly once.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::core::error::Result;
use crate::core::run::{EventKind, NewRun, RunEnd, RunRecord, RunStatus};
use crate::core::workspace::{HookResult, WorkspaceInfo};
use crate::store::{Claim, RunCount, RunQuery, RunStore};

const COLUMNS: &str = "id, job, status, forced, scheduled_for, started_at, ended_at, duration_ms, exit_code, signal, \
     error, role, agent, model, scope, cost_milli, cost_usd, input_tokens, output_tokens, num_turns, attempts, \
     log_path, supervisor_pid, pgid, tool_calls, lock_name, survivors, workspace, changes, hooks";

/// A JSON column read back: what can't be read is left out, never an error that would
/// hide the rest of the record.
fn json_col<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = r.get(i)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// A list as a JSON column: NULL when empty.
fn json_list<T: serde::Serialize>(items: &[T]) -> Result<Option<String>> {
    Ok(if items.is_empty() {
        None
    } else {
        Some(serde_json::to_string(items)?)
    })
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let attempts: Option<String> = r.get(20)?;
    Ok(RunRecord {
        id: r.get(0)?,
        job: r.get(1)?,
        status: {
            let s: String = r.get(2)?;
            RunStatus::parse(&s).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    format!("unknown run status {s:?}").into(),
                )
            })?
        },
        forced: r.get::<_, i64>(3)? != 0,
        scheduled_for: r.get(4)?,
        started_at: r.get(5)?,
        ended_at: r.get(6)?,
        duration_ms: r.get(7)?,
        exit_code: r.get(8)?,
        signal: r.get(9)?,
        error: r.get(10)?,
        role: r.get(11)?,
        agent: r.get(12)?,
        model: r.get(13)?,
        scope: r.get(14)?,
        cost_milli: r.get(15)?,
        cost_usd: r.get(16)?,
        input_tokens: r.get(17)?,
        output_tokens: r.get(18)?,
        num_turns: r.get(19)?,
        attempts: attempts
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default(),
        log_path: r.get(21)?,
        supervisor_pid: r.get(22)?,
        pgid: r.get(23)?,
        tool_calls: r.get(24)?,
        lock_name: r.get(25)?,
        survivors: r.get(26)?,
        workspace: json_col(r, 27)?,
        changes: json_col(r, 28)?.unwrap_or_default(),
        hooks: json_col(r, 29)?.unwrap_or_default(),
    })
}

impl RunStore for SqliteStore {
    /// The log path is derived from the new id: `logs/JOB/ID.log`. The checks and the
    /// insert are one transaction begun as a writer, so no other process claims between.
    fn claim_run(&mut self, new: &NewRun) -> Result<Claim> {
        let tx = self.conn.transaction()?;
        if let Some(slot) = new.last_slot {
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE job = ?1 AND forced = 0 AND scheduled_for = ?2)",
                params![new.job, slot],
                |r| r.get(0),
            )?;
            if taken {
                return Ok(Claim::SlotTaken);
            }
        }
        if new.lock_name.is_none() {
            let running: Option<i64> = tx
                .query_row(
                    "SELECT id FROM runs WHERE status = 'running' AND job = ?1 AND lock_name IS NULL LIMIT 1",
                    [&new.job],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = running {
                return Ok(Claim::JobRunning(id));
            }
        }
        tx.execute(
            "INSERT INTO runs (job, status, forced, scheduled_for, started_at, supervisor_pid, scope, lock_name) \
             VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7)",
            params![new.job, new.forced as i64, new.scheduled_for, new.started_at, new.supervisor_pid, new.scope, new.lock_name],
        )?;
        let id = tx.last_insert_rowid();
        let log_path = self
            .dir
            .join("logs")
            .join(&new.job)
            .join(format!("{id}.log"));
        let log_path = log_path.display().to_string();
        tx.execute(
            "UPDATE runs SET log_path = ?1 WHERE id = ?2",
            params![log_path, id],
        )?;
        if let Some(slot) = new.last_slot {
            tx.execute(
                "INSERT INTO jobs (name, first_seen, last_slot) VALUES (?1, ?2, ?2) \
                 ON CONFLICT(name) DO UPDATE SET last_slot = excluded.last_slot, held = 0",
                params![new.job, slot],
            )?;
        }
        super::events::append_tx(
            &tx,
            new.started_at,
            crate::core::run::EventKind::RunStarted,
            Some(&new.job),
            Some(id),
            &serde_json::json!({"forced": new.forced, "scheduled_for": new.scheduled_for}),
        )?;
        tx.commit()?;
        let run = self.get_run(id)?.expect("run just inserted");
        Ok(Claim::Claimed(Box::new(run)))
    }

    fn mark_agent_starting(&mut self, id: i64) -> Result<()> {
        self.conn
            .execute("UPDATE runs SET agent_starting = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    fn set_run_process(&mut self, id: i64, supervisor_pid: i64, pgid: Option<i64>) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET supervisor_pid = ?1, pgid = COALESCE(?2, pgid) WHERE id = ?3",
            params![supervisor_pid, pgid, id],
        )?;
        Ok(())
    }

    fn finish_run(&mut self, id: i64, end: &RunEnd) -> Result<Option<RunRecord>> {
        let tx = self.conn.transaction()?;
        let mut refunded = false;
        if end.status == RunStatus::Lost && end.refund_unstarted {
            // A reservation for an agent call that never started was never spent; giving it
            // back in the same transaction that closes the run makes it happen exactly once,
            // and only into the usage it was counted in (same day, no reset since).
            let unstarted: Option<(String, String, i64, i64)> = tx
                .query_row(
                    "SELECT agent, reserve_day, cost_milli, COALESCE(reserve_epoch, 0) FROM runs WHERE id = ?1 \
                     AND status = 'running' AND reserve_day IS NOT NULL AND pgid IS NULL AND agent_starting IS NULL \
                     AND agent IS NOT NULL AND cost_milli IS NOT NULL",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            if let Some((agent, day, cost, epoch)) = unstarted {
                tx.execute(
                    "UPDATE agent_usage SET used_milli = MAX(0, used_milli - ?1) WHERE agent = ?2 AND day = ?3 AND epoch = ?4",
                    params![cost, agent, day, epoch],
                )?;
                refunded = true;
            }
        }
        // A lost run keeps the agent and cost it was charged, so history adds up to usage.
        let (agent, model, cost_milli) = if end.status == RunStatus::Lost {
            tx.query_row(
                "SELECT agent, model, cost_milli FROM runs WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .optional()?
            .map(|(a, m, c)| (a, m, if refunded { None } else { c }))
            .unwrap_or_default()
        } else {
            (end.agent.clone(), end.model.clone(), end.cost_milli)
        };
        let attempts = if end.attempts.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&end.attempts)?)
        };
        let workspace = end
            .workspace
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        let worktree = end
            .workspace
            .as_ref()
            .and_then(|w| w.kept.then(|| w.path.clone()));
        let n = tx.execute(
            "UPDATE runs SET status = ?1, ended_at = ?2, duration_ms = MAX(0, ?2 - started_at), exit_code = ?3, \
             signal = ?4, error = ?5, role = COALESCE(?6, role), agent = ?7, model = ?8, scope = COALESCE(?9, scope), \
             cost_milli = ?10, cost_usd = ?11, input_tokens = ?12, output_tokens = ?13, num_turns = ?14, \
             attempts = ?15, tool_calls = ?17, survivors = ?18, reserve_day = NULL, \
             worktree = CASE WHEN ?19 IS NULL THEN worktree ELSE ?20 END, workspace = COALESCE(?19, workspace), \
             changes = ?21, hooks = ?22 WHERE id = ?16 AND status = 'running'",
            params![
                end.status.as_str(),
                end.ended_at,
                end.exit_code,
                end.signal,
                end.error,
                end.role,
                agent,
                model,
                end.scope,
                cost_milli,
                end.cost_usd,
                end.input_tokens,
                end.output_tokens,
                end.num_turns,
                attempts,
                id,
                end.tool_calls,
                end.survivors,
                workspace,
                worktree,
                json_list(&end.changes)?,
                json_list(&end.hooks)?,
            ],
        )?;
        if n == 1 {
            let (job, duration): (String, Option<i64>) = tx.query_row(
                "SELECT job, duration_ms FROM runs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let kind = if end.status == RunStatus::Lost {
                EventKind::RunLost
            } else {
                EventKind::RunEnded
            };
            super::events::append_tx(
                &tx,
                end.ended_at,
                kind,
                Some(&job),
                Some(id),
                &serde_json::json!({
                    "status": end.status, "exit_code": end.exit_code, "signal": end.signal,
                    "duration_ms": duration, "error": end.error,
                }),
            )?;
        }
        // Read in the same transaction: another process pruning history (runs of `ask`
        // end side by side) may delete the record right after.
        let closed = if n == 1 {
            tx.query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?
        } else {
            None
        };
        tx.commit()?;
        Ok(closed)
    }

    fn get_run(&self, id: i64) -> Result<Option<RunRecord>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    fn running_runs(&self) -> Result<Vec<RunRecord>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM runs WHERE status = 'running' ORDER BY id"
        ))?;
        let rows = st.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn latest_runs(&self, jobs: &[&str]) -> Result<HashMap<String, RunRecord>> {
        // One indexed lookup per job, the history itself never scanned, and all in one
        // statement: a query per job cost more in binding and stepping than the lookups.
        let names = serde_json::to_string(jobs)?;
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM runs WHERE id IN \
             (SELECT (SELECT max(id) FROM runs WHERE job = j.value) FROM json_each(?1) AS j)"
        ))?;
        let mut out = HashMap::with_capacity(jobs.len());
        for r in st.query_map([names], from_row)? {
            let r = r?;
            out.insert(r.job.clone(), r);
        }
        Ok(out)
    }

    fn last_scheduled_slot_before(&self, job: &str, t: i64) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT max(scheduled_for) FROM runs WHERE job = ?1 AND forced = 0 AND scheduled_for <= ?2",
            params![job, t],
            |r| r.get(0),
        )?)
    }

    fn latest_run(&self, job: &str) -> Result<Option<RunRecord>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE job = ?1 ORDER BY id DESC LIMIT 1"),
                [job],
                from_row,
            )
            .optional()?)
    }

    fn history(&self, job: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let mut out = Vec::new();
        match job {
            Some(j) => {
                let mut st = self.conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM runs WHERE job = ?1 ORDER BY id DESC LIMIT ?2"
                ))?;
                for r in st.query_map(params![j, limit], from_row)? {
                    out.push(r?);
                }
            }
            None => {
                let mut st = self.conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"
                ))?;
                for r in st.query_map([limit], from_row)? {
                    out.push(r?);
                }
            }
        }
        Ok(out)
    }

    fn find_runs(&self, q: &RunQuery<'_>) -> Result<Vec<RunRecord>> {
        // Only the conditions asked for, so SQLite walks the job's index or the primary
        // key backwards from the cursor: a page costs its own rows, not the history's.
        let mut cond = vec!["id < ?1".to_string()];
        let mut args: Vec<rusqlite::types::Value> = vec![q.before.unwrap_or(i64::MAX).into()];
        if let Some(job) = q.job {
            args.push(job.to_string().into());
            cond.push(format!("job = ?{}", args.len()));
        }
        if let Some(status) = q.status {
            args.push(status.as_str().to_string().into());
            cond.push(format!("status = ?{}", args.len()));
        }
        args.push((q.limit as i64).into());
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE {} ORDER BY id DESC LIMIT ?{}",
            cond.join(" AND "),
            args.len()
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn run_counts(&self) -> Result<Vec<RunCount>> {
        let mut st = self.conn.prepare_cached(
            "SELECT job, status, count(*), COALESCE(sum(duration_ms), 0) FROM runs GROUP BY job, status ORDER BY job, status",
        )?;
        let rows = st.query_map([], |r| {
            let s: String = r.get(1)?;
            Ok((
                r.get::<_, String>(0)?,
                s,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (job, s, count, ms) = row?;
            if let Some(status) = RunStatus::parse(&s) {
                out.push(RunCount {
                    job,
                    status,
                    count: count.max(0) as u64,
                    duration_ms: ms.max(0) as u64,
                });
            }
        }
        Ok(out)
    }

    fn prune_runs(&mut self, job: &str, keep: u32) -> Result<Vec<String>> {
        let tx = self.conn.transaction()?;
        let cutoff: Option<i64> = tx
            .query_row(
                "SELECT id FROM runs WHERE job = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
                params![job, keep as i64 - 1],
                |r| r.get(0),
            )
            .optional()?;
        let Some(cutoff) = cutoff else {
            return Ok(Vec::new());
        };
        crate::faults::pause("prune_read");
        let mut paths = Vec::new();
        {
            let mut st = tx.prepare(
                "SELECT log_path FROM runs WHERE job = ?1 AND id < ?2 AND status != 'running' AND worktree IS NULL",
            )?;
            for p in st.query_map(params![job, cutoff], |r| r.get::<_, Option<String>>(0))? {
                if let Some(p) = p? {
                    paths.push(p);
                }
            }
        }
        tx.execute(
            "DELETE FROM events WHERE run_id IN (SELECT id FROM runs WHERE job = ?1 AND id < ?2 AND status != 'running' AND worktree IS NULL)",
            params![job, cutoff],
        )?;
        tx.execute(
            "DELETE FROM runs WHERE job = ?1 AND id < ?2 AND status != 'running' AND worktree IS NULL",
            params![job, cutoff],
        )?;
        tx.commit()?;
        Ok(paths)
    }

    fn set_run_workspace(&mut self, id: i64, ws: &WorkspaceInfo, on_disk: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET workspace = ?1, worktree = ?2 WHERE id = ?3",
            params![serde_json::to_string(ws)?, on_disk.then_some(&ws.path), id],
        )?;
        Ok(())
    }

    fn runs_with_worktree(&self) -> Result<Vec<RunRecord>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM runs WHERE worktree IS NOT NULL ORDER BY id"
        ))?;
        let rows = st.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_run_hooks(&mut self, id: i64, hooks: &[HookResult]) -> Result<()> {
        if hooks.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        let old: Option<Option<String>> = tx
            .query_row("SELECT hooks FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        let Some(old) = old else {
            return Ok(()); // pruned meanwhile: nothing to add to
        };
        let mut all: Vec<HookResult> = old
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        all.extend_from_slice(hooks);
        tx.execute(
            "UPDATE runs SET hooks = ?1 WHERE id = ?2",
            params![serde_json::to_string(&all)?, id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn runs_with_survivors(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM runs WHERE survivors IS NOT NULL ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = st.query_map([limit as i64], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn last_failure(&self) -> Result<Option<RunRecord>> {
        let failures: Vec<String> = RunStatus::ALL
            .iter()
            .filter(|s| s.is_failure())
            .map(|s| format!("'{s}'"))
            .collect();
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM runs WHERE status IN ({}) ORDER BY id DESC LIMIT 1",
                    failures.join(", ")
                ),
                [],
                from_row,
            )
            .optional()?)
    }
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
