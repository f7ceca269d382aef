//! The run store's contract: creating, claiming, queueing, moving and closing runs, and
//! reading them back, with the guarantees every backend keeps (a slot claimed once, one
//! running run per job, a run closed once). The backends' statements are in
//! `sqlite/runs.rs` and `postgres/runs.rs`.

use std::collections::HashMap;

use super::{Actor, Limits, Load, NewRun, RunEnd, RunRecord, RunStatus, Transition, Trigger};
use crate::core::error::Result;
use crate::core::workspace::{HookResult, WorkspaceInfo};

/// Which runs to list, a page at a time (newest first).
#[derive(Debug, Clone, Default)]
pub struct RunQuery<'a> {
    pub job: Option<&'a str>,
    pub status: Option<RunStatus>,
    /// Only the sub-runs this run submitted.
    pub parent: Option<i64>,
    /// Only runs with an id below this one (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: usize,
    /// Only runs started at or after this moment (ms).
    pub started_from: Option<i64>,
    /// Only runs started before this moment (ms).
    pub started_before: Option<i64>,
    /// Only runs made this way, and rows from before triggers were recorded (whose
    /// trigger is told from their other columns: the caller checks `RunRecord::trigger`).
    pub trigger: Option<Trigger>,
}

/// The runs of one job in one status.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCount {
    pub job: String,
    pub status: RunStatus,
    pub count: u64,
    /// The durations of those that ended, added up.
    pub duration_ms: u64,
}

/// Why a new run could not be created.
#[derive(Debug, Clone)]
pub enum Claim {
    Claimed(Box<RunRecord>),
    /// A scheduled run of this job for this slot exists already.
    SlotTaken,
    /// The job has a run running already (this one).
    JobRunning(i64),
}

/// What came of creating a queued run.
#[derive(Debug, Clone)]
pub enum Enqueued {
    Queued(Box<RunRecord>),
    /// A scheduled run of this job for this slot exists already.
    SlotTaken,
    /// The job has a queued run already (this one), and one was enough.
    AlreadyQueued(i64),
}

/// What came of starting a queued run.
#[derive(Debug, Clone)]
pub enum QueueStart {
    Started(Box<RunRecord>),
    /// A limit is reached: it stays queued.
    Full,
    /// It is not queued any more (another process started or cancelled it).
    NotQueued,
}

/// The oldest queued run of one job at one depth: a queue's next run is the oldest of
/// these whose job and depth have a free slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueHead {
    pub id: i64,
    pub job: String,
    pub depth: u32,
    /// How many runs of that job at that depth wait.
    pub waiting: u32,
}

pub trait RunStore {
    /// Creates a `running` run and its `run_started` event, and for a scheduled run
    /// (`last_slot`) moves the job's slot, all at once. Refused when the slot was claimed
    /// already, or when the job has a running run and the new one is not supervised under
    /// a lock of its own (an ask's): exactly one claim per slot, one running run per job.
    fn claim_run(&mut self, new: &NewRun) -> Result<Claim>;
    /// Creates a run as [`RunStore::claim_run`] does, or fails when the claim is refused.
    fn insert_run(&mut self, new: &NewRun) -> Result<RunRecord> {
        match self.claim_run(new)? {
            Claim::Claimed(run) => Ok(*run),
            refused => Err(crate::core::error::Error::Conflict(format!(
                "a run of {} can't be created: {refused:?}",
                new.job
            ))),
        }
    }
    /// Notes that the run's agent is about to start.
    fn mark_agent_starting(&mut self, id: i64) -> Result<()>;
    /// Records who supervises a run and its process group.
    fn set_run_process(&mut self, id: i64, supervisor_pid: i64, pgid: Option<i64>) -> Result<()>;
    /// Closes a run exactly once: only a run not ended yet (queued, running, paused,
    /// retrying) is changed, with its end event (`from` its state then). Returns the closed
    /// record when this call closed it, `None` when it was closed already.
    fn finish_run(&mut self, id: i64, end: &RunEnd) -> Result<Option<RunRecord>>;
    /// Closes run `id` as [`RunStore::finish_run`] does and creates its retry, `retrying`,
    /// with its event, in one transaction: there is never a failed attempt whose retry
    /// is half made. `None` when the run was closed already (and no retry is made).
    fn finish_and_retry(
        &mut self,
        id: i64,
        end: &RunEnd,
        retry: &NewRun,
    ) -> Result<Option<(RunRecord, RunRecord)>>;
    /// Moves a run from `t.from` to `t.to` (`running` ⇄ `paused`, `retrying` → `running`,
    /// `queued` → `cancelled`, ...), with its event, once: `false` when the run was not in
    /// `from`. A move the state machine doesn't allow is an error. An end so made records
    /// `t.reason` as the run's error.
    fn transition(&mut self, id: i64, t: &Transition, at: i64) -> Result<bool>;
    /// Records what a run's supervisor is asked to bring it to (`paused`, `running`,
    /// `cancelled`) and who asks. Only a run a supervisor holds (or, for `cancelled`, a
    /// queued one) takes a request: returns the run's state, and whether it took it.
    fn request_control(
        &mut self,
        id: i64,
        want: RunStatus,
        by: &Actor,
    ) -> Result<Option<(RunStatus, bool)>>;
    fn get_run(&self, id: i64) -> Result<Option<RunRecord>>;
    /// Every run a supervisor holds: running, paused, retrying (normally a handful).
    fn supervised_runs(&self) -> Result<Vec<RunRecord>>;
    /// Every run the store says is running.
    fn running_runs(&self) -> Result<Vec<RunRecord>> {
        Ok(self
            .supervised_runs()?
            .into_iter()
            .filter(|r| r.status == RunStatus::Running)
            .collect())
    }
    /// Creates a `queued` run with its `run_queued` event, and for a scheduled run
    /// (`last_slot`) moves the job's slot, at once. Refused when the slot was claimed
    /// already, or with `one_per_job` when the job has a queued run already.
    fn enqueue_run(&mut self, new: &NewRun, one_per_job: bool) -> Result<Enqueued>;
    /// The oldest queued run of each job and depth (oldest first).
    fn queue_heads(&self) -> Result<Vec<QueueHead>>;
    /// The queued runs, oldest first.
    fn queued_runs(&self, limit: usize) -> Result<Vec<RunRecord>>;
    /// The slots that supervised runs take now.
    fn load(&self) -> Result<Load>;
    /// Starts queued run `id` under the lease `lock_name` (`None`: the job's own) if it
    /// is still queued, its lease is free in the store, and `limits` leave it a slot:
    /// `running`, with its `run_started` event, in one transaction. Two processes
    /// starting the same run start it once.
    fn start_queued(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &Limits,
        by: &Actor,
        at: i64,
    ) -> Result<QueueStart>;
    /// [`RunStore::start_queued`] at the time `now` gives once the store is about to
    /// decide (the sqlite store: once it holds the write lock), so a run started in a
    /// slot another run's end freed is never recorded starting before that end. (The
    /// default reads `now` first.)
    fn start_queued_now(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &Limits,
        by: &Actor,
        now: &dyn Fn() -> i64,
    ) -> Result<QueueStart> {
        self.start_queued(id, lock_name, limits, by, now())
    }
    /// Every run below `id` (children, their children, ...), oldest first.
    fn descendants(&self, id: i64) -> Result<Vec<RunRecord>>;
    /// The id of the latest succeeded run of each of `jobs` that has one.
    fn latest_succeeded(&self, jobs: &[&str]) -> Result<HashMap<String, i64>>;
    /// The latest run of each of `jobs` that has one.
    fn latest_runs(&self, jobs: &[&str]) -> Result<HashMap<String, RunRecord>>;
    fn latest_run(&self, job: &str) -> Result<Option<RunRecord>>;
    /// The slot of the job's latest scheduled (not forced) run at or before `t`.
    fn last_scheduled_slot_before(&self, job: &str, t: i64) -> Result<Option<i64>>;
    /// Newest first, optionally for one job.
    fn history(&self, job: Option<&str>, limit: usize) -> Result<Vec<RunRecord>>;
    /// A page of runs, newest first: those matching `q`, older than `q.before`.
    fn find_runs(&self, q: &RunQuery<'_>) -> Result<Vec<RunRecord>>;
    /// How many runs each job has per status, and how long its ended runs took in all.
    fn run_counts(&self) -> Result<Vec<RunCount>>;
    /// The latest run that failed, timed out, was lost or skipped.
    fn last_failure(&self) -> Result<Option<RunRecord>>;
    /// The newest runs that left processes that could not be killed.
    fn runs_with_survivors(&self, limit: usize) -> Result<Vec<RunRecord>>;
    /// Deletes all but the newest `keep` finished runs of `job` and their events; returns
    /// the log paths of the deleted runs. A run whose worktree is still on disk is kept
    /// until the worktree is removed: it is how that directory is found again.
    fn prune_runs(&mut self, job: &str, keep: u32) -> Result<Vec<String>>;

    /// Records a run's workspace; `on_disk`: its worktree directory exists (running or
    /// kept), so [`RunStore::runs_with_worktree`] lists it until this says otherwise.
    /// ([`RunStore::finish_run`] records the workspace an end carries the same way, on
    /// disk when `kept`.)
    fn set_run_workspace(&mut self, id: i64, ws: &WorkspaceInfo, on_disk: bool) -> Result<()>;
    /// The runs whose worktree directory is on disk, oldest first.
    fn runs_with_worktree(&self) -> Result<Vec<RunRecord>>;
    /// Adds hook results to a run's (an `on_failure` hook run after a lost run was closed).
    fn add_run_hooks(&mut self, id: i64, hooks: &[HookResult]) -> Result<()>;

    /// The id of each job's running run, by job name.
    fn running_ids(&self) -> Result<HashMap<String, i64>> {
        Ok(self
            .running_runs()?
            .into_iter()
            .map(|r| (r.job, r.id))
            .collect())
    }
}
