//! Run records: created `running` before the job's process starts, closed exactly once.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{
    ACTIVE, COLUMNS, SUPERVISED, close_tx, from_row, get_tx, insert_tx, lease_holder, slot_taken,
};
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, NewRun, RunEnd, RunRecord, RunStatus, Transition, is_own_lease};
use crate::core::workspace::{HookResult, WorkspaceInfo};
use crate::store::rows::{self, RUN_COUNTS};
use crate::store::sql::{QUEUED, SUCCEEDED};
use crate::store::{Claim, Enqueued, RunCount, RunQuery, RunStore};

impl RunStore for SqliteStore {
    /// The log path is derived from the new id: `logs/JOB/ID.log`. The checks and the
    /// insert are one transaction begun as a writer, so no other process claims between.
    fn claim_run(&mut self, new: &NewRun) -> Result<Claim> {
        let tx = self.conn.transaction()?;
        if let Some(slot) = new.last_slot
            && slot_taken(&tx, &new.job, slot)?
        {
            return Ok(Claim::SlotTaken);
        }
        if !is_own_lease(new.lock_name.as_deref())
            && let Some(id) = lease_holder(&tx, &new.job, new.lock_name.as_deref())?
        {
            return Ok(Claim::JobRunning(id));
        }
        let id = insert_tx(&tx, &self.dir, new, RunStatus::Running)?;
        let run = get_tx(&tx, id)?.ok_or_else(|| Error::State(format!("run {id} vanished")))?;
        tx.commit()?;
        Ok(Claim::Claimed(Box::new(run)))
    }

    fn enqueue_run(&mut self, new: &NewRun, one_per_job: bool) -> Result<Enqueued> {
        let tx = self.conn.transaction()?;
        if let Some(slot) = new.last_slot
            && slot_taken(&tx, &new.job, slot)?
        {
            return Ok(Enqueued::SlotTaken);
        }
        if one_per_job {
            let queued: Option<i64> = tx
                .query_row(
                    &format!(
                        "SELECT id FROM runs WHERE {ACTIVE} AND {QUEUED} AND job = ?1 LIMIT 1"
                    ),
                    [&new.job],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = queued {
                return Ok(Enqueued::AlreadyQueued(id));
            }
        }
        let id = insert_tx(&tx, &self.dir, new, RunStatus::Queued)?;
        let run = get_tx(&tx, id)?.ok_or_else(|| Error::State(format!("run {id} vanished")))?;
        tx.commit()?;
        Ok(Enqueued::Queued(Box::new(run)))
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
        // Read in the same transaction: another process pruning history (runs of `ask`
        // end side by side) may delete the record right after.
        let closed = close_tx(&tx, id, end)?;
        tx.commit()?;
        Ok(closed)
    }

    fn finish_and_retry(
        &mut self,
        id: i64,
        end: &RunEnd,
        retry: &NewRun,
    ) -> Result<Option<(RunRecord, RunRecord)>> {
        let tx = self.conn.transaction()?;
        let Some(closed) = close_tx(&tx, id, end)? else {
            return Ok(None);
        };
        let rid = insert_tx(&tx, &self.dir, retry, RunStatus::Retrying)?;
        let retry = get_tx(&tx, rid)?.ok_or_else(|| Error::State(format!("run {rid} vanished")))?;
        tx.commit()?;
        Ok(Some((closed, retry)))
    }

    fn transition(&mut self, id: i64, t: &Transition, at: i64) -> Result<bool> {
        self.transition_run(id, t, at)
    }

    fn request_control(
        &mut self,
        id: i64,
        want: RunStatus,
        by: &Actor,
    ) -> Result<Option<(RunStatus, bool)>> {
        self.request_run_control(id, want, by)
    }

    fn queue_heads(&self) -> Result<Vec<crate::store::QueueHead>> {
        self.heads()
    }

    fn queued_runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        self.queued(limit)
    }

    fn load(&self) -> Result<crate::store::Load> {
        self.slots_taken()
    }

    fn start_queued(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &crate::store::Limits,
        by: &Actor,
        at: i64,
    ) -> Result<crate::store::QueueStart> {
        self.start_queued_run(id, lock_name, limits, by, &|| at)
    }

    fn start_queued_now(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &crate::store::Limits,
        by: &Actor,
        now: &dyn Fn() -> i64,
    ) -> Result<crate::store::QueueStart> {
        self.start_queued_run(id, lock_name, limits, by, now)
    }

    fn descendants(&self, id: i64) -> Result<Vec<RunRecord>> {
        self.subtree(id)
    }

    fn latest_succeeded(&self, jobs: &[&str]) -> Result<HashMap<String, i64>> {
        let names = serde_json::to_string(jobs)?;
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT j.value, (SELECT max(id) FROM runs WHERE job = j.value AND {SUCCEEDED}) \
             FROM json_each(?1) AS j"
        ))?;
        let mut out = HashMap::new();
        for row in st.query_map([names], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
        })? {
            let (job, id) = row?;
            if let Some(id) = id {
                out.insert(job, id);
            }
        }
        Ok(out)
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

    fn supervised_runs(&self) -> Result<Vec<RunRecord>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM runs WHERE {SUPERVISED} ORDER BY id"
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
        // No cursor on the first page: a bound value SQLite compares with a partial
        // index's term marks the statement to be prepared again at every binding, which
        // was most of a first page's cost under load.
        let mut cond = vec!["1".to_string()];
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(before) = q.before {
            args.push(before.into());
            cond.push(format!("id < ?{}", args.len()));
        }
        if let Some(job) = q.job {
            args.push(job.to_string().into());
            cond.push(format!("job = ?{}", args.len()));
        }
        if let Some(status) = q.status {
            args.push(status.as_str().to_string().into());
            cond.push(format!("status = ?{}", args.len()));
        }
        if let Some(from) = q.started_from {
            args.push(from.into());
            cond.push(format!("started_at >= ?{}", args.len()));
        }
        if let Some(until) = q.started_before {
            args.push(until.into());
            cond.push(format!("started_at < ?{}", args.len()));
        }
        if let Some(t) = q.trigger {
            args.push(t.as_str().to_string().into());
            cond.push(format!(
                "(trigger_kind = ?{} OR trigger_kind IS NULL)",
                args.len()
            ));
        }
        if let Some(parent) = q.parent {
            // `runs_by_parent` is partial: the term must say the column is not NULL.
            args.push(parent.into());
            cond.push(format!(
                "parent_run_id = ?{} AND parent_run_id IS NOT NULL",
                args.len()
            ));
        }
        // The limit in the text, for the same reason (a number of 1 to 500).
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE {} ORDER BY id DESC LIMIT {}",
            cond.join(" AND "),
            q.limit
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn run_counts(&self) -> Result<Vec<RunCount>> {
        let mut st = self.conn.prepare_cached(RUN_COUNTS)?;
        let mut out = Vec::new();
        for count in st.query_map([], |r| rows::run_count_of(r))? {
            out.extend(count?);
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
            let mut st = tx.prepare(&format!(
                "SELECT log_path FROM runs WHERE job = ?1 AND id < ?2 AND NOT ({ACTIVE}) AND worktree IS NULL"
            ))?;
            for p in st.query_map(params![job, cutoff], |r| r.get::<_, Option<String>>(0))? {
                if let Some(p) = p? {
                    paths.push(p);
                }
            }
        }
        tx.execute(
            &format!("DELETE FROM events WHERE run_id IN (SELECT id FROM runs WHERE job = ?1 AND id < ?2 AND NOT ({ACTIVE}) AND worktree IS NULL)"),
            params![job, cutoff],
        )?;
        tx.execute(
            &format!("DELETE FROM runs WHERE job = ?1 AND id < ?2 AND NOT ({ACTIVE}) AND worktree IS NULL"),
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
