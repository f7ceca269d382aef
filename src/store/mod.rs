//! Where jobctl keeps its state, behind traits: runs, each job's slot state, the event log,
//! agent scopes with their shared budget, and a little metadata. SQLite in the state
//! directory ([`sqlite`]) is the implementation that needs nothing; any other must pass
//! the same contract suite (`tests/it/contract/`).
//!
//! The guarantees that make several jobctl processes safe are part of these traits, not
//! of a lock around them: a slot of a job is claimed once, a job has one running run
//! (asks aside), a reservation never takes usage past the budget, a run is closed once.

pub(crate) mod encode;
#[cfg(feature = "postgres")]
pub mod postgres;
pub(crate) mod rows;
mod runs;
pub(crate) mod sql;
pub mod sqlite;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub(crate) use crate::core::budget::Ticket;
use crate::core::budget::{Reserving, ScopeReason, Usage};
use crate::core::error::Result;
pub use crate::core::run::{
    Actor, Attempt, EventKind, NewRun, RunEnd, RunRecord, RunStatus, Transition, Trigger,
};
pub use crate::core::slots::{Limits, Load};
pub use runs::{Claim, Enqueued, QueueHead, QueueStart, RunCount, RunQuery, RunStore};

/// One job's schedule state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobState {
    pub first_seen: i64,
    pub last_slot: Option<i64>,
    pub paused: bool,
    /// The previous tick found the job due but couldn't start it.
    pub held: bool,
}

/// One entry of the event log.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub kind: EventKind,
    pub(crate) job: Option<String>,
    pub run_id: Option<i64>,
    pub detail: serde_json::Value,
    /// For a run's change of state: `{from, to, reason, by}`.
    pub transition: Option<Transition>,
}

/// One agent's state in one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeState {
    pub(crate) agent: String,
    pub(crate) scope: String,
    pub enabled: bool,
    pub reason: Option<String>,
    pub disabled_at: Option<i64>,
}

/// The outcome of trying to reserve one call's cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    Reserved(Ticket),
    /// The scope was already disabled, with this reason.
    Disabled(String),
    /// The call would pass the budget: the scope is now disabled with this reason.
    Exhausted(String),
    /// The call would pass the `tree_budget` of the run's tree (of the run or an
    /// ancestor): refused for that tree only, the scope stays as it is.
    OverTree(String),
}

/// One call's reservation request.
#[derive(Debug, Clone)]
pub struct ReserveRequest<'a> {
    pub agent: &'a str,
    pub scope: &'a str,
    pub day: &'a str,
    pub cost: i64,
    pub budget: i64,
    pub now: i64,
    /// The run that will make the call and the model it uses: the reservation is noted
    /// on the run at once, so a run closed `lost` before its agent started gives it back.
    pub for_run: Option<(i64, Option<&'a str>)>,
    /// `(run, limit)` for the run and each ancestor with a `tree_budget`: what the run's
    /// subtree has reserved plus `cost` must stay within `limit` (thousandths).
    pub tree: &'a [(i64, i64)],
}

impl ReserveRequest<'_> {
    /// What this reservation decides on ([`crate::core::budget::verdict`]): the scope as
    /// the store has it, the agent's counter, and the trees it counts against in the
    /// order the store counts them.
    pub(crate) fn reserving<'a>(
        &'a self,
        scope: ScopeState,
        usage: &'a Usage,
        tree: &'a [(i64, i64)],
    ) -> Reserving<'a> {
        Reserving {
            enabled: scope.enabled,
            reason: scope.reason,
            usage,
            day: self.day,
            cost: self.cost,
            budget: self.budget,
            tree,
        }
    }

    /// The ticket of this reservation, taken in the counter's `epoch`.
    pub(crate) fn ticket(&self, epoch: i64) -> Ticket {
        Ticket {
            agent: self.agent.to_string(),
            day: self.day.to_string(),
            cost: self.cost,
            epoch,
        }
    }
}

pub trait JobStateStore {
    fn job_states(&self) -> Result<HashMap<String, JobState>>;
    fn job_state(&self, name: &str) -> Result<Option<JobState>>;
    /// Records the first sighting of jobs not yet known, at `now`.
    fn record_first_seen(&mut self, names: &[&str], now: i64) -> Result<()>;
    fn set_held(&mut self, name: &str, held: bool) -> Result<()>;
    fn set_last_slot(&mut self, name: &str, slot: i64) -> Result<()>;
    /// Replaces stored times that lay in the future of "now".
    fn repair_job_state(
        &mut self,
        name: &str,
        first_seen: i64,
        last_slot: Option<i64>,
    ) -> Result<()>;
    /// Pauses or resumes; `resume_slot` moves the schedule past the slots that passed.
    fn set_paused(
        &mut self,
        name: &str,
        paused: bool,
        now: i64,
        resume_slot: Option<i64>,
    ) -> Result<()>;
    /// Forgets when the job last ran: scheduled as if new (history stays).
    fn reset_job(&mut self, name: &str, now: i64) -> Result<()>;
}

pub trait EventStore {
    fn append_event(
        &mut self,
        at: i64,
        kind: EventKind,
        job: Option<&str>,
        run_id: Option<i64>,
        detail: &serde_json::Value,
    ) -> Result<()>;
    /// Events, newest first, optionally of one kind.
    fn events(&self, kind: Option<EventKind>, limit: usize) -> Result<Vec<Event>>;
    /// Events after event `after`, oldest first, optionally of one run: the log read in
    /// order, and followed as it grows.
    fn events_after(&self, run_id: Option<i64>, after: i64, limit: usize) -> Result<Vec<Event>>;
    /// The events of one run, oldest first.
    fn run_events(&self, run_id: i64) -> Result<Vec<Event>> {
        self.events_after(Some(run_id), 0, usize::MAX)
    }
    /// The id of the latest event (0 when there is none).
    fn last_event_id(&self) -> Result<i64>;
}

pub trait BudgetStore {
    /// Brings the store to budget day `day` (never backwards): usage from zero and the
    /// scopes a new day clears enabled again; scopes whose provider cooldown passed
    /// enabled. Returns the budget day in force.
    fn roll_budget_day(&mut self, day: &str, now: i64, cooldown_ms: i64) -> Result<String>;
    /// Makes sure every agent × scope has a state (enabled, no reason).
    fn ensure_scopes(&mut self, agents: &[&str], scopes: &[String]) -> Result<()>;
    fn scope_states(&self) -> Result<Vec<ScopeState>>;
    fn scope_state(&self, agent: &str, scope: &str) -> Result<Option<ScopeState>>;
    /// The day's usage of an agent, in thousandths.
    fn usage(&self, agent: &str, day: &str) -> Result<i64>;
    /// Enables (`None`) or disables one scope, with an event when it changes.
    fn set_scope(
        &mut self,
        agent: &str,
        scope: &str,
        disabled: Option<&ScopeReason>,
        now: i64,
    ) -> Result<bool>;
    /// Disables `agent` in each of `scopes` with `reason`, in one transaction, with an
    /// event for each scope it changed; returns how many it changed. What a logged-out
    /// CLI means: it is logged out whichever scope calls it.
    fn disable_agent(
        &mut self,
        agent: &str,
        scopes: &[String],
        reason: &ScopeReason,
        now: i64,
    ) -> Result<usize>;
    /// Atomically: with the scope enabled and `usage + cost ≤ budget`, adds `cost` to the
    /// day's usage; past the budget, disables the scope.
    fn reserve(&mut self, req: &ReserveRequest<'_>) -> Result<Reservation>;
    /// Gives a reservation back, unless the usage it was counted in is gone.
    fn release(&mut self, t: &Ticket) -> Result<()>;
    /// Usage to zero and the scopes a new day clears enabled, for one agent or all.
    /// Returns the scopes enabled.
    fn reset_budgets(&mut self, agent: Option<&str>, now: i64) -> Result<Vec<(String, String)>>;
}

pub trait MetaStore {
    fn get_meta(&self, key: &str) -> Result<Option<String>>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;

    /// When the previous tick ran (its "now").
    fn last_tick(&self) -> Result<Option<jiff::Timestamp>> {
        Ok(self
            .get_meta("last_tick")?
            .and_then(|v| v.parse::<i64>().ok())
            .map(crate::core::clock::from_ms))
    }

    fn set_last_tick(&mut self, t: jiff::Timestamp) -> Result<()> {
        self.set_meta("last_tick", &t.as_millisecond().to_string())
    }
}

/// What one host last said of itself (several hosts on one shared store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub name: String,
    /// Its last tick's "now" (ms).
    pub last_tick: Option<i64>,
    /// A digest of the config it ticked with: hosts should share one config.
    pub config_digest: Option<String>,
    /// The jobctl version it ran.
    pub version: Option<String>,
}

/// The hosts sharing the store. A store only one host uses (SQLite) keeps none.
pub trait HostStore: MetaStore {
    /// Notes a tick made at `now`: the store's last tick and, with several hosts, this
    /// host's row (one write where the store can: it is on every tick's path).
    fn record_tick(&mut self, now: jiff::Timestamp, _host: Option<&HostRecord>) -> Result<()> {
        self.set_last_tick(now)
    }
    /// Every host that ever ticked, by name.
    fn hosts(&self) -> Result<Vec<HostRecord>> {
        Ok(Vec::new())
    }
}

/// A piece of a run's output as the store keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredLog {
    /// Output bytes dropped from the start to keep the log within its cap.
    pub dropped: u64,
    /// The output from the position asked for (or from the first kept byte, if that was
    /// dropped), at most the size asked for.
    pub data: Vec<u8>,
    /// The position just past `data`.
    pub next: u64,
    /// The position just past the last byte kept: where the output so far ends.
    pub end: u64,
}

/// Run logs kept in the store, for stores several hosts share: the state directory of
/// the host that ran a job is not where another host looks. A store whose logs are the
/// files in the state directory (SQLite) keeps none.
pub trait LogStore {
    /// Whether run logs are kept here (else they are only the files in the state dir).
    fn keeps_logs(&self) -> bool {
        false
    }
    /// Appends output of run `run_id` at output position `pos`, then drops what lies
    /// more than `cap` bytes before the end.
    fn append_log(&mut self, _run_id: i64, _pos: u64, _data: &[u8], _cap: u64) -> Result<()> {
        Ok(())
    }
    /// Drops what lies before output position `from`: the run's log file dropped it too
    /// (a capped log keeps whole lines), and the copy holds what the file holds.
    fn trim_log(&mut self, _run_id: i64, _from: u64) -> Result<()> {
        Ok(())
    }
    /// Output of run `run_id` from position `from`, at most `max` bytes.
    fn read_log(&self, _run_id: i64, _from: u64, _max: usize) -> Result<StoredLog> {
        Ok(StoredLog::default())
    }
    /// A handle on the same store (same fence) that a thread can own, for the thread that
    /// copies a run's log in while the run goes on; `None` when logs are files only.
    fn log_writer(&self) -> Result<Option<Box<dyn LogStore + Send>>> {
        Ok(None)
    }
}

/// The lease a process writes under: with a fence set, every write of the store first
/// checks that `key` is still held at `epoch`, and changes nothing when another process
/// has taken it since (a host that was stopped or cut off and came back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub key: String,
    pub epoch: i64,
    /// How long the lease lives without a heartbeat: how long a write under it waits for
    /// a lost connection to the state to come back (zero: not at all).
    pub lease: std::time::Duration,
}

/// The first answer to a request sent with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// What identifies the request: its method and path, and a hash of its body.
    pub request: String,
    pub status: u16,
    pub location: Option<String>,
    pub body: Vec<u8>,
    pub at: i64,
}

pub trait IdempotencyStore {
    /// The answer stored under `key` at or after `since`.
    fn answer(&self, key: &str, since: i64) -> Result<Option<StoredAnswer>>;
    /// Stores the first answer under `key` (a later one for the same key is ignored),
    /// and forgets answers older than `forget_before`.
    fn keep_answer(&mut self, key: &str, answer: &StoredAnswer, forget_before: i64) -> Result<()>;
}

/// Everything jobctl keeps.
pub trait Store:
    RunStore
    + JobStateStore
    + EventStore
    + BudgetStore
    + MetaStore
    + HostStore
    + LogStore
    + IdempotencyStore
    + Send
{
    /// The state directory: run logs and locks live there, whatever holds the records.
    fn dir(&self) -> &Path;

    fn logs_dir(&self) -> PathBuf {
        self.dir().join("logs")
    }

    /// Fences every later write with `fence` (see [`Fence`]). A store only one host uses
    /// needs none: there, a lease can't be taken from a live holder.
    fn set_fence(&mut self, _fence: Option<Fence>) {}

    /// Another handle on the same state, under the same fence, for work beside this
    /// handle's (a supervisor pausing its run while the run goes on); `None`: open one on
    /// the state directory when it is needed (SQLite's connection is cheap to open, and
    /// not to share).
    fn share(&self) -> Option<Box<dyn Store>> {
        None
    }
}

/// Opens the state in `dir`: the SQLite database there.
pub fn open(dir: &Path) -> Result<Box<dyn Store>> {
    Ok(Box::new(sqlite::SqliteStore::open(dir)?))
}
