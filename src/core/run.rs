//! Runs as data: their states, the events that record every change, the outcome of each
//! agent tried, and the record a run is created with and kept as (how it ends is
//! `end.rs`'s). Typed here once, so no layer compares strings; the strings are what the
//! database and `--json` carry.

use std::fmt;

use nix::sys::signal::Signal;

use serde::{Deserialize, Serialize};

pub use crate::core::end::{EndError, Ending, RunEnd, how_stopped};
use crate::core::workspace::{Change, HookResult, WorkspaceInfo};

/// Declares a string-backed enum: its wire names, `as_str`, `parse`, `Display`, serde.
macro_rules! wire_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vm])* $v,)+ }

        impl $name {
            $vis const ALL: &'static [$name] = &[$($name::$v,)+];

            $vis const fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)+ }
            }

            $vis fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$v),)+ _ => None }
            }
        }

        /// Compares with a wire name (`status == "succeeded"`), as a test or a query reads.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {}: {s:?}", stringify!($name)))
                })
            }
        }
    };
}

wire_enum! {
    /// Where a run is in its life (cli.md, "Run statuses"; docs/run-control.md).
    pub enum RunStatus {
        /// Accepted, waiting for a slot (`max_running`, `concurrency`, a depth quota).
        Queued = "queued",
        Running = "running",
        /// Its processes are stopped (SIGSTOP); its supervisor still holds its lease.
        Paused = "paused",
        /// A retry waiting out its backoff under the failed attempt's supervisor.
        Retrying = "retrying",
        Succeeded = "succeeded",
        Failed = "failed",
        TimedOut = "timed_out",
        /// Stopped by a person or by jobctl's own shutdown.
        Cancelled = "cancelled",
        /// jobctl vanished while it ran; found and closed later.
        Lost = "lost",
        /// No agent could take it.
        Skipped = "skipped",
    }
}

impl RunStatus {
    /// The states a run is in before it ends (`queued`, `running`, `paused`, `retrying`).
    pub(crate) const ACTIVE: &'static [RunStatus] = &[
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Paused,
        RunStatus::Retrying,
    ];

    /// The states of a run a supervisor holds (with its lease): running, paused, or
    /// waiting to retry. These hold a slot of `max_running`, `concurrency` and the depth
    /// quotas.
    pub(crate) const SUPERVISED: &'static [RunStatus] =
        &[RunStatus::Running, RunStatus::Paused, RunStatus::Retrying];

    /// An ended run never changes state again.
    pub fn is_end(self) -> bool {
        !RunStatus::ACTIVE.contains(&self)
    }

    /// A run a supervisor holds (see [`RunStatus::SUPERVISED`]).
    pub(crate) fn is_supervised(self) -> bool {
        RunStatus::SUPERVISED.contains(&self)
    }

    /// What `status` calls a failure, and `on_failure` hooks run for.
    pub(crate) fn is_failure(self) -> bool {
        matches!(
            self,
            RunStatus::Failed | RunStatus::TimedOut | RunStatus::Lost | RunStatus::Skipped
        )
    }
}

wire_enum! {
    /// Why a run exists (`history --json` `trigger`). A run created without saying why is
    /// a scheduled one (the tick's).
    #[derive(Default)]
    pub enum Trigger {
        /// A slot of the job's schedule.
        #[default]
        Scheduled = "scheduled",
        /// `jobctl force`.
        Forced = "forced",
        /// Another attempt after a failure (`retries`).
        Retry = "retry",
        /// Every job it `needs` succeeded.
        Dependency = "dependency",
        /// `jobctl submit` (from inside a run: a sub-run).
        Submit = "submit",
        /// One `jobctl ask` call.
        Ask = "ask",
        /// A run made again from an ended one: its job, prompt, environment and metadata
        /// (`engine::rerun`); the original is its first event's `rerun_of`.
        Rerun = "rerun",
    }
}

impl Trigger {
    /// The trigger of a stored run: the one recorded, or for a row from before triggers
    /// were recorded, what its other columns say (forced; an ask's own lease; else the
    /// schedule's).
    pub(crate) fn of_row(
        recorded: Option<Trigger>,
        forced: bool,
        job: &str,
        lock_name: Option<&str>,
    ) -> Trigger {
        match recorded {
            Some(t) => t,
            None if forced => Trigger::Forced,
            None if job == ASK_JOB && lock_name.is_some() => Trigger::Ask,
            None => Trigger::Scheduled,
        }
    }
}

pub use super::control::{Actor, ChildPolicy, Transition};

wire_enum! {
    /// What happened to one agent tried for a run.
    pub enum Outcome {
        Succeeded = "succeeded",
        Failed = "failed",
        TimedOut = "timed_out",
        Cancelled = "cancelled",
        /// Its scope was disabled, or its provider could not be reached.
        Unavailable = "unavailable",
        NotInstalled = "not_installed",
        AuthFailed = "auth_failed",
        QuotaExhausted = "quota_exhausted",
    }
}

impl Outcome {
    /// The outcome of an agent attempt whose run ended with `status`.
    pub(crate) fn of_run(status: RunStatus) -> Outcome {
        match status {
            RunStatus::Succeeded => Outcome::Succeeded,
            RunStatus::TimedOut => Outcome::TimedOut,
            RunStatus::Cancelled => Outcome::Cancelled,
            _ => Outcome::Failed,
        }
    }
}

wire_enum! {
    /// The kinds of the event log (scheduling.md, "Events").
    pub enum EventKind {
        RunQueued = "run_queued",
        RunStarted = "run_started",
        RunPaused = "run_paused",
        RunResumed = "run_resumed",
        RunRetrying = "run_retrying",
        RunEnded = "run_ended",
        RunLost = "run_lost",
        RunSkipped = "run_skipped",
        SlotSkipped = "slot_skipped",
        CatchUp = "catch_up",
        ClockJump = "clock_jump",
        ScopeDisabled = "scope_disabled",
        ScopeEnabled = "scope_enabled",
        ScopesEnabled = "scopes_enabled",
        BudgetReset = "budget_reset",
        JobPaused = "job_paused",
        JobResumed = "job_resumed",
        JobReset = "job_reset",
        /// `jobctl cancel` asked a run's supervisor to stop it: who, so the run's end can
        /// say so (`{by: {user, pid}}`).
        CancelRequested = "cancel_requested",
        /// A lifecycle hook after `pre_run` failed (the run's status stands).
        HookFailed = "hook_failed",
        /// A run's worktree was kept after it (by `keep`, a failed push, a crash).
        WorkspaceKept = "workspace_kept",
        /// A kept worktree was removed (by age, size or `workspaces clean`).
        WorkspaceRemoved = "workspace_removed",
        /// `submit` refused a sub-run (its depth past `max_depth`): on the parent run.
        SubmitRefused = "submit_refused",
    }
}

/// One candidate agent tried for a run, and what happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attempt {
    pub agent: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
}

impl Attempt {
    pub fn new(agent: &str, outcome: Outcome, reason: Option<String>) -> Attempt {
        Attempt {
            agent: agent.to_string(),
            outcome,
            reason,
        }
    }

    /// `agent: reason` (or the outcome when there is no reason), as messages list them.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}: {}",
            self.agent,
            self.reason
                .clone()
                .unwrap_or_else(|| self.outcome.to_string())
        )
    }
}

/// Which agent a run's call went to and what it used: the role it ran in, the agent,
/// model and scope chosen, the budget charged, and what the agent reported of itself.
/// A run's record, its end and its view carry it as one; the JSON has its fields flat.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentUsage {
    pub role: Option<String>,
    pub agent: Option<String>,
    pub model: Option<String>,
    pub scope: Option<String>,
    /// The budget charged, in thousandths (`cost` in JSON: the amount people read).
    #[serde(
        rename = "cost",
        serialize_with = "crate::core::units::serialize_milli"
    )]
    pub cost_milli: Option<i64>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub num_turns: Option<i64>,
    pub tool_calls: Option<i64>,
}

/// A process of a run that outlived every attempt to kill it: it became another user (a
/// setuid program, sudo), so signals from the supervisor are refused, or it is stuck in
/// the kernel. Kept on the run record so `status` can point at it (`exec::proctree`
/// finds them, and tells whether one still lives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survivor {
    pub(crate) pid: i32,
    /// The owner's name, else the uid as a number (`unknown` when even that can't be read).
    pub(crate) user: String,
    /// Start time in clock ticks since boot (Linux), to tell it from a later process that
    /// reuses the pid.
    pub(crate) start: Option<u64>,
}

/// What a program submitting a run over the API attached to it: a JSON object, passed to
/// the run's processes as `JOBCTL_RUN_METADATA`.
pub(crate) type Metadata = serde_json::Map<String, serde_json::Value>;

/// A run as stored.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: i64,
    pub job: String,
    pub status: RunStatus,
    pub forced: bool,
    pub scheduled_for: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i64>,
    pub signal: Option<i64>,
    pub error: Option<String>,
    /// Its agent and what it used (for an agent job or an ask).
    pub usage: AgentUsage,
    pub attempts: Vec<Attempt>,
    pub log_path: Option<String>,
    pub supervisor_pid: Option<i64>,
    pub pgid: Option<i64>,
    /// The lock its supervisor holds when it is not the job's (an ask's).
    pub lock_name: Option<String>,
    /// Processes the run left that could not be killed.
    pub survivors: Vec<Survivor>,
    /// The run's worktree, for a job with a `workspace`.
    pub workspace: Option<WorkspaceInfo>,
    /// What the run changed in its workspace.
    pub changes: Vec<Change>,
    /// What each lifecycle hook did.
    pub hooks: Vec<HookResult>,
    /// The host that runs it, where several hosts share the state (else `None`).
    pub host: Option<String>,
    pub trigger: Trigger,
    /// The run whose process submitted this one (a sub-run), if any.
    pub parent_run_id: Option<i64>,
    /// 0 for a top-level run, the parent's depth + 1 for a sub-run.
    pub depth: u32,
    /// 1 for a first attempt, N for the (N-1)th retry.
    pub attempt: u32,
    /// The first attempt of the runs this one retries.
    pub retry_of: Option<i64>,
    /// What was last asked of its supervisor (`paused`, `running` to resume, `cancelled`)
    /// and by whom: the supervisor brings the run there and records the move.
    pub control: Option<(RunStatus, Actor)>,
    /// When it was last paused (while it is paused: since when).
    pub paused_at: Option<i64>,
    /// A prompt given to this run (`submit --prompt`) instead of the job's.
    pub prompt: Option<String>,
    /// Variables given to this run (`submit --env`), added to the job's.
    pub env: Vec<(String, String)>,
    /// What a program submitting the run over the API attached to it.
    pub metadata: Option<Metadata>,
}

impl Default for RunRecord {
    fn default() -> RunRecord {
        RunRecord {
            id: 0,
            job: String::new(),
            status: RunStatus::Running,
            forced: false,
            scheduled_for: 0,
            started_at: 0,
            ended_at: None,
            duration_ms: None,
            exit_code: None,
            signal: None,
            error: None,
            usage: AgentUsage::default(),
            attempts: Vec::new(),
            log_path: None,
            supervisor_pid: None,
            pgid: None,
            lock_name: None,
            survivors: Vec::new(),
            workspace: None,
            changes: Vec::new(),
            hooks: Vec::new(),
            host: None,
            trigger: Trigger::Scheduled,
            parent_run_id: None,
            depth: 0,
            attempt: 1,
            retry_of: None,
            control: None,
            paused_at: None,
            prompt: None,
            env: Vec::new(),
            metadata: None,
        }
    }
}

/// The job name every `jobctl ask` call's run is recorded under (no job may be named so).
pub(crate) const ASK_JOB: &str = "ask";

/// How the lease key of one `jobctl ask` call starts (`ask/PID-NANOS`).
pub(crate) const ASK_LEASE_PREFIX: &str = "ask/";

/// Whether a run under the lease `lock_name` holds a lease of its own (an ask's: each call
/// its own, taken once), rather than one of its job's, which its job's runs take in turn.
pub(crate) fn is_own_lease(lock_name: Option<&str>) -> bool {
    lock_name.is_some_and(|l| l.starts_with(ASK_LEASE_PREFIX))
}

impl RunRecord {
    /// The name of the lock that is held while this run runs.
    pub(crate) fn lock_key(&self) -> &str {
        self.lock_name.as_deref().unwrap_or(&self.job)
    }

    pub fn is_running(&self) -> bool {
        self.status == RunStatus::Running
    }

    /// The state its supervisor was asked to bring it to, if any.
    pub(crate) fn wanted(&self) -> Option<RunStatus> {
        self.control.as_ref().map(|(s, _)| *s)
    }
}

/// What is known when a run is created.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub job: String,
    pub forced: bool,
    pub scheduled_for: i64,
    pub started_at: i64,
    pub supervisor_pid: Option<i64>,
    pub scope: Option<String>,
    /// For scheduled runs: the job's new last slot, stored in the same transaction.
    pub last_slot: Option<i64>,
    /// The lock the run is supervised under, when it is not the job's own.
    pub lock_name: Option<String>,
    pub trigger: Trigger,
    pub parent_run_id: Option<i64>,
    pub depth: u32,
    /// 0 is taken as 1 (a first attempt).
    pub attempt: u32,
    pub retry_of: Option<i64>,
    /// The ended run this one makes again (a rerun), recorded in its first event.
    pub rerun_of: Option<i64>,
    pub prompt: Option<String>,
    pub env: Vec<(String, String)>,
    /// What the API's submitter attached to it.
    pub metadata: Option<Metadata>,
    /// Who creates it, and why (its first event's `by` and `reason`).
    pub by: Actor,
    pub reason: Option<String>,
}

impl NewRun {
    /// Its trigger: a run made `forced` without naming a trigger was forced (callers from
    /// before triggers were recorded say only `forced`).
    pub(crate) fn effective_trigger(&self) -> Trigger {
        match self.trigger {
            Trigger::Scheduled if self.forced => Trigger::Forced,
            t => t,
        }
    }
}

/// A signal by its name (`SIGKILL`), as every message and view says it; `signal N` for a
/// number that names none.
pub(crate) fn signal_name(sig: i64) -> String {
    i32::try_from(sig)
        .ok()
        .and_then(|s| Signal::try_from(s).ok())
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| format!("signal {sig}"))
}

#[cfg(test)]
mod tests;
