//! What people and programs look at, as data: the job list, a run's record, the status
//! overview, the tick's dry run. Each is a `Serialize` struct, so the command line's
//! `--json`, and later the API, serialize the same thing its tables render.
//!
//! Field names and values are those of the command-line spec (cli.md); JSON objects are
//! printed with their keys sorted, as they always were.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;

use super::Engine;
use super::plan::{self, Plan};
use crate::config::Config;
use crate::core::clock::{self, rfc3339, rfc3339_opt};
use crate::core::error::Result;
use crate::core::run::{ASK_JOB, AgentUsage, Attempt, Metadata, RunRecord, RunStatus, Trigger};
use crate::core::schedule;
use crate::core::workspace::{Change, WorkspaceInfo};

pub(crate) use crate::core::units::milli_number;

/// One run, as `history --json` and a forced run's `--json` print it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunView {
    pub(crate) run_id: i64,
    pub(crate) job: String,
    pub(crate) status: RunStatus,
    pub(crate) forced: bool,
    pub(crate) scheduled_for: String,
    pub(crate) started_at: String,
    pub(crate) ended_at: Option<String>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) exit_code: Option<i64>,
    pub(crate) signal: Option<i64>,
    pub(crate) error: Option<String>,
    /// `role`, `agent`, `model`, `scope`, `cost` (budget units), `cost_usd`,
    /// `input_tokens`, `output_tokens`, `num_turns`, `tool_calls`, in this place.
    #[serde(flatten)]
    pub(crate) usage: AgentUsage,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) log_path: Option<String>,
    /// The run's git worktree (workspaces.md), `null` for a job without one.
    pub(crate) workspace: Option<WorkspaceInfo>,
    /// The files the run changed in its workspace.
    pub(crate) changes: Vec<Change>,
    /// What each hook that failed said.
    pub(crate) hook_errors: Vec<String>,
    /// Why the run exists: `scheduled`, `forced`, `retry`, `dependency`, `submit`, `ask`.
    pub(crate) trigger: Trigger,
    pub(crate) parent_run_id: Option<i64>,
    pub(crate) depth: u32,
    pub(crate) attempt: u32,
    pub(crate) retry_of: Option<i64>,
    /// What the program that submitted the run over the API attached to it.
    pub(crate) metadata: Option<Metadata>,
}

impl From<&RunRecord> for RunView {
    fn from(r: &RunRecord) -> RunView {
        RunView {
            run_id: r.id,
            job: r.job.clone(),
            status: r.status,
            forced: r.forced,
            scheduled_for: rfc3339(r.scheduled_for),
            started_at: rfc3339(r.started_at),
            ended_at: rfc3339_opt(r.ended_at),
            duration_ms: r.duration_ms,
            exit_code: r.exit_code,
            signal: r.signal,
            error: r.error.clone(),
            usage: r.usage.clone(),
            attempts: r.attempts.clone(),
            log_path: r.log_path.clone(),
            workspace: r.workspace.clone(),
            changes: r.changes.clone(),
            hook_errors: r.hooks.iter().filter_map(|h| h.error.clone()).collect(),
            trigger: r.trigger,
            parent_run_id: r.parent_run_id,
            depth: r.depth,
            attempt: r.attempt,
            retry_of: r.retry_of,
            metadata: r.metadata.clone(),
        }
    }
}

/// Which runs a history lists (`history --status --since --until --trigger`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunFilter<'a> {
    pub(crate) job: Option<&'a str>,
    pub(crate) status: Option<RunStatus>,
    /// Started at or after (ms).
    pub(crate) since: Option<i64>,
    /// Started before (ms).
    pub(crate) until: Option<i64>,
    pub(crate) trigger: Option<Trigger>,
}

/// The latest runs, newest first, optionally of one job.
pub(crate) fn history(e: &mut Engine<'_>, job: Option<&str>, n: usize) -> Result<Vec<RunRecord>> {
    history_of(
        e,
        &RunFilter {
            job,
            ..Default::default()
        },
        n,
    )
}

/// The latest runs that pass `filter`, newest first.
pub(crate) fn history_of(
    e: &mut Engine<'_>,
    filter: &RunFilter<'_>,
    n: usize,
) -> Result<Vec<RunRecord>> {
    let mut out = Vec::new();
    history_each(e, filter, n, None, &mut |r| {
        out.push(r.clone());
        Ok(true)
    })?;
    Ok(out)
}

/// How many runs are read at a time: the memory a history of any length takes.
const HISTORY_PAGE: usize = 500;

/// The latest `n` runs that pass `filter` (with an id below `before`, when given), newest
/// first, handed to `each` one by one in bounded memory; `each` returns `false` to stop.
/// A job that is not in the config and never ran is an error that names the closest job
/// (`history helo`); `ask`, and a job removed from the config that still has runs, are
/// histories like any other. Returns the newest id seen.
pub(crate) fn history_each(
    e: &mut Engine<'_>,
    filter: &RunFilter<'_>,
    n: usize,
    before: Option<i64>,
    each: &mut dyn FnMut(&RunRecord) -> Result<bool>,
) -> Result<Option<i64>> {
    e.recover()?;
    let job = filter.job;
    if let Some(j) = job
        && j != ASK_JOB
        && !e.cfg.jobs.contains_key(j)
        && e.store.latest_run(j)?.is_none()
    {
        return Err(crate::core::error::Error::NotFound(e.cfg.no_such_job(j)));
    }
    let mut left = n;
    let mut cursor = before;
    let mut newest = None;
    while left > 0 {
        let page = e.store.find_runs(&crate::store::RunQuery {
            job,
            status: filter.status,
            parent: None,
            before: cursor,
            limit: left.min(HISTORY_PAGE),
            started_from: filter.since,
            started_before: filter.until,
            trigger: filter.trigger,
        })?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        newest = newest.or(page.first().map(|r| r.id));
        for r in &page {
            // An old row without a recorded trigger passed the query: its own says.
            if filter.trigger.is_some_and(|t| r.trigger != t) {
                continue;
            }
            left -= 1;
            if !each(r)? || left == 0 {
                return Ok(newest);
            }
        }
    }
    Ok(newest)
}

/// What the NEXT column says of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    Running(i64),
    /// Its run is paused.
    PausedRun(i64),
    /// Its run waits out a retry's backoff.
    Retrying(i64),
    /// It has a run waiting for a slot.
    Queued(i64),
    /// The jobs it needs that have not succeeded since its last run.
    Waiting(Vec<String>),
    Disabled,
    Paused,
    Manual,
    DueNow,
    At(i64),
    Never,
}

/// One row of `list`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListRow {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) schedule: String,
    pub(crate) enabled: bool,
    pub(crate) paused: bool,
    pub(crate) due: bool,
    /// The run a supervisor holds (running, paused, or waiting to retry).
    pub(crate) running_run_id: Option<i64>,
    /// That run's state.
    pub(crate) running_status: Option<RunStatus>,
    /// Its oldest run waiting for a slot.
    pub(crate) queued_run_id: Option<i64>,
    /// The jobs it `needs`, and those of them it still waits for.
    pub(crate) needs: Vec<String>,
    pub(crate) waiting_for: Vec<String>,
    pub(crate) next_run: Option<String>,
    pub(crate) last_run_id: Option<i64>,
    pub(crate) last_run: Option<String>,
    pub(crate) last_status: Option<RunStatus>,
    pub(crate) last_exit_code: Option<i64>,
    /// The signal that ended the latest run's main process (`SIGKILL`), if one did.
    pub(crate) last_signal: Option<String>,
    pub(crate) last_duration_ms: Option<i64>,
    /// The job's `hosts` when this host is not one of them (only their ticks start it);
    /// null when this host runs it.
    pub(crate) only_on: Option<Vec<String>>,
    #[serde(skip)]
    pub(crate) next: Next,
    #[serde(skip)]
    pub(crate) last_started_ms: Option<i64>,
    /// The agent the latest run fell back to, when the ones before it in its order could
    /// not run it (not installed, logged out, out of budget).
    #[serde(skip)]
    pub(crate) last_fell_back_to: Option<String>,
}

/// The agent a run ran on when an agent before it in its order could not take it.
pub(crate) fn fell_back_to(r: &RunRecord) -> Option<String> {
    (r.attempts.len() > 1)
        .then(|| r.usage.agent.clone())
        .flatten()
}

/// One row per job, sorted by name.
pub(crate) fn list(e: &mut Engine<'_>) -> Result<Vec<ListRow>> {
    e.recover()?;
    let cfg = e.cfg;
    let now = clock::now()?;
    let states = e.store.job_states()?;
    let prev_tick = e.store.last_tick()?;
    let names: Vec<&str> = cfg.jobs.keys().map(String::as_str).collect();
    let latest = e.store.latest_runs(&names)?;
    let mut running: HashMap<String, (i64, RunStatus)> = HashMap::new();
    for r in e.store.supervised_runs()? {
        running.entry(r.job.clone()).or_insert((r.id, r.status));
    }
    let mut queued: HashMap<String, i64> = HashMap::new();
    for h in e.store.queue_heads()? {
        queued.entry(h.job).or_insert(h.id);
    }
    // This host's name, as the tick looks it up: only when a job names its hosts.
    let mut this_host = e.host.clone();
    let mut rows = Vec::with_capacity(cfg.jobs.len());
    let mut memo = super::next_slots::load(e.store.dir());
    for (name, job) in &cfg.jobs {
        let state = states.get(name);
        let plan = plan::evaluate(job, state, prev_tick, now, &mut memo);
        let only_on = job.hosts.as_ref().filter(|_| {
            !job.runs_on(this_host.get_or_insert_with(crate::config::StateConfig::default_host))
        });
        let schedule = job
            .schedule
            .as_ref()
            .map(|s| s.describe())
            .unwrap_or_else(|| "manual".into());
        let running_id = running.get(name).map(|(id, _)| *id);
        let running_status = running.get(name).map(|(_, s)| *s);
        let queued_id = queued.get(name).copied();
        let last = latest.get(name);
        let waiting_for = if job.control().needs.is_empty() {
            Vec::new()
        } else {
            super::deps::missing(&*e.store, job, last)?
        };
        let next_ms = match plan {
            Plan::NotDue { next } => next.map(|t| t.as_millisecond()),
            Plan::Due { slot, .. } => Some(slot.as_millisecond()),
            Plan::Skip { .. } => job
                .schedule
                .as_ref()
                .and_then(|s| {
                    schedule::next_slot_after(s, &job.timezone, plan::slot_state(state, now), now)
                })
                .map(|t| t.as_millisecond()),
            _ => None,
        };
        let next = match (running.get(name), plan) {
            (Some((id, RunStatus::Paused)), _) => Next::PausedRun(*id),
            (Some((id, RunStatus::Retrying)), _) => Next::Retrying(*id),
            (Some((id, _)), _) => Next::Running(*id),
            (None, Plan::Disabled) => Next::Disabled,
            (None, _) if queued_id.is_some() => Next::Queued(queued_id.unwrap_or_default()),
            (None, Plan::Paused) => Next::Paused,
            (None, Plan::Manual) if !waiting_for.is_empty() => Next::Waiting(waiting_for.clone()),
            (None, Plan::Manual) => Next::Manual,
            (None, Plan::Due { .. }) => Next::DueNow,
            (None, _) => next_ms.map(Next::At).unwrap_or(Next::Never),
        };
        let off = matches!(plan, Plan::Disabled | Plan::Paused | Plan::Manual);
        rows.push(ListRow {
            name: name.clone(),
            kind: job.type_name(),
            schedule,
            enabled: job.enabled,
            paused: state.is_some_and(|s| s.paused),
            due: matches!(plan, Plan::Due { .. }),
            running_run_id: running_id,
            running_status,
            queued_run_id: queued_id,
            needs: job.control().needs.clone(),
            waiting_for,
            next_run: if off { None } else { rfc3339_opt(next_ms) },
            last_run_id: last.map(|r| r.id),
            last_run: rfc3339_opt(last.map(|r| r.started_at)),
            last_status: last.map(|r| r.status),
            last_exit_code: last.and_then(|r| r.exit_code),
            last_signal: last
                .and_then(|r| r.signal)
                .map(crate::core::run::signal_name),
            last_duration_ms: last.and_then(|r| r.duration_ms),
            only_on: only_on.cloned(),
            next,
            last_started_ms: last.map(|r| r.started_at),
            last_fell_back_to: last.and_then(fell_back_to),
        });
    }
    super::next_slots::save(e.store.dir(), &mut memo, cfg);
    Ok(rows)
}

/// One job of `run --dry-run`: is it due, and why (or why not).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DryRow {
    pub(crate) job: String,
    pub(crate) due: bool,
    /// What a tick would do: `run`, `skip`, `wait` (due, but still running), `queue` (due,
    /// but max_running is reached), `not_due`, `paused`, `disabled`, `manual`,
    /// `other_host` (its `hosts` don't name this one: this host's ticks never start it).
    pub(crate) decision: &'static str,
    /// The slot it concerns (the due or skipped one, else the next), RFC 3339.
    pub(crate) slot: Option<String>,
    pub(crate) reason: String,
}

/// What a tick would do now, changing nothing.
pub(crate) fn dry_run(e: &mut Engine<'_>, only: Option<&str>) -> Result<Vec<DryRow>> {
    let cfg = e.cfg;
    let now = clock::now()?;
    let states = e.store.job_states()?;
    let prev_tick = e.store.last_tick()?;
    let running = e.store.running_ids()?;
    let mut top_level = e.store.load()?.top_level as usize;
    // This host's name, as the tick looks it up: only when a job names its hosts.
    let mut this_host = e.host.clone();
    let mut rows = Vec::new();
    let mut memo = super::next_slots::load(e.store.dir());
    for (name, job) in &cfg.jobs {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let p = plan::evaluate(job, states.get(name), prev_tick, now, &mut memo);
        if let Some(hosts) = &job.hosts {
            let here = this_host.get_or_insert_with(crate::config::StateConfig::default_host);
            if !job.runs_on(here) {
                let slot = match p {
                    Plan::Due { slot, .. } | Plan::Skip { slot, .. } => Some(slot),
                    Plan::NotDue { next } => next,
                    _ => None,
                };
                rows.push(DryRow {
                    job: name.clone(),
                    due: false,
                    decision: "other_host",
                    slot: slot.map(|t| rfc3339(t.as_millisecond())),
                    reason: format!(
                        "runs only on {} (this host is {here}): their ticks start it",
                        hosts.join(", ")
                    ),
                });
                continue;
            }
        }
        let mut why = plan::explain(&p);
        let due = matches!(p, Plan::Due { .. });
        let (mut decision, slot) = match p {
            Plan::Due { slot, .. } => ("run", Some(slot)),
            Plan::Skip { slot, .. } => ("skip", Some(slot)),
            Plan::NotDue { next } => ("not_due", next),
            Plan::Paused => ("paused", None),
            Plan::Disabled => ("disabled", None),
            Plan::Manual => ("manual", None),
        };
        if due {
            if let Some(id) = running.get(name) {
                why = format!("due, but still running (run {id}): waits for a later tick");
                decision = "wait";
            } else if top_level >= cfg.runner.max_running as usize {
                why = format!(
                    "due, but max_running = {} is reached: it would be queued and start when a run ends",
                    cfg.runner.max_running
                );
                decision = "queue";
            } else {
                top_level += 1;
            }
        }
        rows.push(DryRow {
            job: name.clone(),
            due,
            decision,
            slot: slot.map(|t| rfc3339(t.as_millisecond())),
            reason: why,
        });
    }
    Ok(rows)
}

/// The slots of a job's schedule after `from` (`next`): for `every`, continuing from the
/// job's last slot when it has one (read from the store only then). `None`: the job has
/// no schedule.
pub(crate) fn next_slots(
    cfg: &Config,
    name: &str,
    n: usize,
    from: impl FnOnce() -> Result<Timestamp>,
) -> Result<Option<Vec<Timestamp>>> {
    let job = cfg.job(name)?;
    let Some(sched) = &job.schedule else {
        return Ok(None);
    };
    let from = from()?;
    let last_slot = if matches!(sched, schedule::Schedule::Every(_)) {
        Engine::open(cfg)?
            .store
            .job_state(name)?
            .and_then(|s| s.last_slot)
            .map(clock::from_ms)
    } else {
        None
    };
    Ok(Some(schedule::upcoming(
        sched,
        &job.timezone,
        last_slot,
        from,
        n,
    )))
}

pub(crate) use super::status::{
    FailureView, StatusReport, TICK_INTERVAL_MS, TICK_LATE_AFTER, status,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's JSON has its agent's usage flat, between `error` and `attempts`, with the
    /// budget charged as `cost` in budget units: as the API and `--json` always had it.
    #[test]
    fn a_runs_usage_stands_flat_where_it_always_stood() {
        let mut r = RunRecord::default();
        r.usage.agent = Some("codex".into());
        r.usage.cost_milli = Some(1_500);
        r.usage.tool_calls = Some(2);
        let text = serde_json::to_string(&RunView::from(&r)).unwrap();
        assert!(
            text.contains(
                r#""error":null,"role":null,"agent":"codex","model":null,"scope":null,"cost":1.5,"cost_usd":null,"input_tokens":null,"output_tokens":null,"num_turns":null,"tool_calls":2,"attempts":[]"#
            ),
            "{text}"
        );
    }
}
