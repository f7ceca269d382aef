//! Run records in PostgreSQL: claimed by one insert that the unique indexes on
//! `(job, slot)` and on each lease's supervised run let only one host win, closed exactly
//! once (with the retry that follows, at once). What a run did around its job (its
//! workspace, changes and hooks) is JSON text, as in the SQLite state; `worktree` holds
//! the worktree's path while that directory is on disk.

use std::collections::HashMap;

use postgres::types::Type;

use super::Param;
use super::PgStore;
use super::events::NEXT_ID;
use super::rows::{
    ACTIVE, COLUMNS, SUPERVISED, finish_tx, from_row, insert_run, insert_tx, rows, with_new_run,
};
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, NewRun, RunEnd, RunRecord, RunStatus, Transition, is_own_lease};
use crate::core::workspace::{HookResult, WorkspaceInfo};
use crate::store::encode::created_detail;
use crate::store::rows::{self, RUN_COUNTS};
use crate::store::sql::{QUEUED, RUN_STARTED_VALUE, RUNNING, SUCCEEDED};
use crate::store::{
    Claim, Enqueued, Limits, Load, QueueHead, QueueStart, RunCount, RunQuery, RunStore,
};

/// Where the logs of `job`'s runs go: `DIR/logs/JOB/` (the run's id and `.log` follow).
pub(super) fn logs_of(store: &PgStore, job: &str) -> String {
    format!("{}/", store.dir.join("logs").join(job).display())
}

/// Why a claim is refused, if it is: the slot was claimed already, or a supervised run
/// (running, paused, waiting to retry) holds the lease the run would run under (an ask's
/// lease is its own). Read before the insert (so a refused claim takes no run id) and
/// again after an insert that conflicted (an insert that meets an uncommitted conflicting
/// row waits for it); `None` after a conflict means it is gone (that run ended, that claim
/// rolled back): try again.
fn refusal(store: &PgStore, new: &NewRun) -> Result<Option<Claim>> {
    let check_lease = !is_own_lease(new.lock_name.as_deref());
    let row = store.query_opt(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE job = $1 AND slot = $2), \
             (SELECT id FROM runs WHERE $3 AND {SUPERVISED} AND job = $1 AND lock_name IS NOT DISTINCT FROM $4 LIMIT 1)"
        ),
        &[
            (&new.job, Type::TEXT),
            (&new.last_slot, Type::INT8),
            (&check_lease, Type::BOOL),
            (&new.lock_name, Type::TEXT),
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
        let logs = logs_of(self, &new.job);
        let mut detail = created_detail(new);
        detail["host"] = self.host.clone().into();
        let detail = detail.to_string();
        let host = self.host.clone();
        let actor = new.by.to_wire();
        let sql = format!(
            "WITH r AS ({}), \
             j AS (INSERT INTO jobs (name, first_seen, last_slot) SELECT $1, $4, $4 FROM r WHERE $4::bigint IS NOT NULL \
                 ON CONFLICT (name) DO UPDATE SET last_slot = excluded.last_slot, held = FALSE RETURNING 1), \
             e AS (INSERT INTO events (id, at, kind, job, run_id, detail, to_status, reason, actor) \
                 SELECT {NEXT_ID}, $6, {RUN_STARTED_VALUE}, $1, r.id, $20, $2, $21, $22 \
                 FROM r, (SELECT count(*) FROM j) AS jd) \
             SELECT {COLUMNS} FROM r",
            insert_run()
        );
        let event: [Param<'_>; 3] = [
            (&detail, Type::TEXT),
            (&new.reason, Type::TEXT),
            (&actor, Type::TEXT),
        ];
        for _ in 0..5 {
            if let Some(c) = refusal(self, new)? {
                return Ok(c);
            }
            let rows = with_new_run(new, RunStatus::Running, Some(&host), &logs, &event, |p| {
                self.write_one(&sql, p)
            })?;
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
            &format!("UPDATE runs SET agent_starting = TRUE WHERE id = $1 AND {RUNNING}"),
            &[(&id, Type::INT8)],
        )?;
        Ok(())
    }

    fn set_run_process(&mut self, id: i64, supervisor_pid: i64, pgid: Option<i64>) -> Result<()> {
        self.write_one(
                &format!("UPDATE runs SET supervisor_pid = $1, pgid = COALESCE($2, pgid) WHERE id = $3 AND {ACTIVE}"),
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

    fn finish_and_retry(
        &mut self,
        id: i64,
        end: &RunEnd,
        retry: &NewRun,
    ) -> Result<Option<(RunRecord, RunRecord)>> {
        let logs = logs_of(self, &retry.job);
        let host = self.host.clone();
        self.write(|tx| {
            let Some(closed) = finish_tx(tx, id, end)? else {
                return Ok(None);
            };
            // The failed attempt's lease passes to its retry in this transaction: the
            // unique index sees the first leave before the second comes.
            let next = insert_tx(tx, &logs, retry, RunStatus::Retrying, Some(&host))?.ok_or_else(
                || {
                    Error::State(format!(
                        "the retry of run {id} could not be recorded: its lease or slot is taken"
                    ))
                },
            )?;
            Ok(Some((closed, next)))
        })
    }

    fn enqueue_run(&mut self, new: &NewRun, one_per_job: bool) -> Result<Enqueued> {
        let logs = logs_of(self, &new.job);
        self.write(|tx| {
            // Enqueuers take turns: "the job has a queued run already" holds across hosts.
            super::queue::lock_queue(tx)?;
            if let Some(slot) = new.last_slot
                && tx
                    .query_typed_opt(
                        "SELECT 1 FROM runs WHERE job = $1 AND slot = $2",
                        &[(&new.job, Type::TEXT), (&slot, Type::INT8)],
                    )?
                    .is_some()
            {
                return Ok(Enqueued::SlotTaken);
            }
            if one_per_job
                && let Some(r) = tx.query_typed_opt(
                    &format!(
                        "SELECT id FROM runs WHERE {ACTIVE} AND {QUEUED} AND job = $1 ORDER BY id LIMIT 1"
                    ),
                    &[(&new.job, Type::TEXT)],
                )?
            {
                return Ok(Enqueued::AlreadyQueued(r.get(0)));
            }
            // Not on any host until one starts it.
            Ok(match insert_tx(tx, &logs, new, RunStatus::Queued, None)? {
                Some(run) => Enqueued::Queued(Box::new(run)),
                // A claim of the same slot (a tick's, not queued) won meanwhile.
                None => Enqueued::SlotTaken,
            })
        })
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

    fn supervised_runs(&self) -> Result<Vec<RunRecord>> {
        rows(self.query(
            &format!("SELECT {COLUMNS} FROM runs WHERE {ACTIVE} AND {SUPERVISED} ORDER BY id"),
            &[],
        )?)
    }

    fn queue_heads(&self) -> Result<Vec<QueueHead>> {
        self.heads()
    }

    fn queued_runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        rows(self.query(
            &format!("SELECT {COLUMNS} FROM runs WHERE {ACTIVE} AND {QUEUED} ORDER BY id LIMIT $1"),
            &[(&limit, Type::INT8)],
        )?)
    }

    fn load(&self) -> Result<Load> {
        self.slots_taken()
    }

    fn start_queued(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &Limits,
        by: &Actor,
        at: i64,
    ) -> Result<QueueStart> {
        self.start_queued_run(id, lock_name, limits, by, at)
    }

    fn start_queued_now(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &Limits,
        by: &Actor,
        now: &dyn Fn() -> i64,
    ) -> Result<QueueStart> {
        self.start_queued_run_now(id, lock_name, limits, by, now)
    }

    fn descendants(&self, id: i64) -> Result<Vec<RunRecord>> {
        rows(self.query(
            &format!(
                "WITH RECURSIVE sub(id) AS (SELECT id FROM runs WHERE parent_run_id = $1 \
                 UNION SELECT r.id FROM runs r JOIN sub ON r.parent_run_id = sub.id) \
                 SELECT {COLUMNS} FROM runs WHERE id IN (SELECT id FROM sub) ORDER BY id"
            ),
            &[(&id, Type::INT8)],
        )?)
    }

    fn latest_succeeded(&self, jobs: &[&str]) -> Result<HashMap<String, i64>> {
        let names: Vec<&str> = jobs.to_vec();
        let rs = self.query(
            &format!(
                "SELECT j, (SELECT max(id) FROM runs WHERE job = j AND {SUCCEEDED}) \
                 FROM unnest($1::text[]) AS j"
            ),
            &[(&names, Type::TEXT_ARRAY)],
        )?;
        Ok(rs
            .iter()
            .filter_map(|r| r.get::<_, Option<i64>>(1).map(|id| (r.get(0), id)))
            .collect())
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
    fn find_runs(&self, q: &RunQuery<'_>) -> Result<Vec<RunRecord>> {
        let limit = q.limit.min(i64::MAX as usize) as i64;
        let before = q.before.unwrap_or(i64::MAX);
        let status = q.status.map(RunStatus::as_str);
        let trigger = q.trigger.map(|t| t.as_str());
        // Each statement is planned with its values (unnamed, typed): a condition not
        // asked for folds away, and the page walks the primary key or an index backwards.
        rows(self.query(
            &format!(
                "SELECT {COLUMNS} FROM runs WHERE id < $1 AND ($2::text IS NULL OR job = $2) \
                 AND ($3::text IS NULL OR status = $3) AND ($4::int8 IS NULL OR parent_run_id = $4) \
                 AND ($6::int8 IS NULL OR started_at >= $6) AND ($7::int8 IS NULL OR started_at < $7) \
                 AND ($8::text IS NULL OR trigger_kind = $8 OR trigger_kind IS NULL) \
                 ORDER BY id DESC LIMIT $5"
            ),
            &[
                (&before, Type::INT8),
                (&q.job, Type::TEXT),
                (&status, Type::TEXT),
                (&q.parent, Type::INT8),
                (&limit, Type::INT8),
                (&q.started_from, Type::INT8),
                (&q.started_before, Type::INT8),
                (&trigger, Type::TEXT),
            ],
        )?)
    }

    fn run_counts(&self) -> Result<Vec<RunCount>> {
        let mut out = Vec::new();
        for r in self.query(RUN_COUNTS, &[])? {
            out.extend(rows::run_count_of(&r)?);
        }
        Ok(out)
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
                &format!(
                    "DELETE FROM runs WHERE job = $1 AND id < $2 AND NOT ({ACTIVE}) AND worktree IS NULL \
                     RETURNING id, log_path"
                ),
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
