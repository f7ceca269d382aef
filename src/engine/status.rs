//! `status`: the daemon, the role now, every agent × scope with its budget, the runs a
//! supervisor holds (running, paused, retrying), the queued runs and what they wait for,
//! what could not be killed, and the last failure.

use std::collections::HashMap;

use serde::Serialize;

use super::Engine;
use super::views::milli_number;
use crate::agents::{self, role};
use crate::core::clock::{self, rfc3339, rfc3339_opt};
use crate::core::error::Result;
use crate::core::run::{RunRecord, RunStatus};
use crate::exec::proctree::Survivor;

/// `status --json`: the daemon, the role now, every agent × scope, what runs, what could
/// not be killed, the last failure.
#[derive(Debug, Serialize)]
pub(crate) struct StatusReport {
    pub(crate) daemon: DaemonView,
    /// When the last tick (`jobctl run`) ran, by its "now".
    pub(crate) last_tick: Option<String>,
    /// No tick for over [`TICK_LATE_AFTER`] (or never): the timer may not be installed.
    pub(crate) tick_late: bool,
    #[serde(skip)]
    pub(crate) last_tick_ms: Option<i64>,
    /// Since when jobctl has been set up here, as far as can be told (the older of the
    /// config file and the state directory, by when each was made): a timer installed
    /// with it would have ticked since.
    #[serde(skip)]
    pub(crate) set_up_ms: Option<i64>,
    #[serde(skip)]
    pub(crate) now_ms: i64,
    pub(crate) role: String,
    pub(crate) budget_day: String,
    pub(crate) agents: Vec<AgentScopeView>,
    /// Runs a supervisor holds: running, paused, waiting to retry.
    pub(crate) running: Vec<RunningView>,
    /// Runs waiting for a slot, oldest first.
    pub(crate) queued: Vec<QueuedView>,
    pub(crate) survivors: Vec<SurvivorView>,
    pub(crate) last_failure: Option<FailureView>,
    /// Every host sharing the state (several hosts only), and a warning when their
    /// configs differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) hosts: Vec<HostView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hosts_warning: Option<String>,
    /// The schedulers (`jobctl scheduler`, `serve --schedule`) running on this state
    /// directory.
    pub(crate) schedulers: Vec<super::presence::SchedulerView>,
    /// Why the daemon is absent, for people.
    #[serde(skip)]
    pub(crate) daemon_why: Option<String>,
    #[serde(skip)]
    pub(crate) running_runs: Vec<RunRecord>,
    #[serde(skip)]
    pub(crate) queued_runs: Vec<(RunRecord, String)>,
    #[serde(skip)]
    pub(crate) survivor_runs: Vec<(RunRecord, Vec<Survivor>)>,
    #[serde(skip)]
    pub(crate) last_failure_run: Option<RunRecord>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DaemonView {
    pub(crate) configured: bool,
    pub(crate) present: bool,
    pub(crate) socket: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AgentScopeView {
    pub(crate) agent: String,
    pub(crate) scope: String,
    pub(crate) enabled: bool,
    pub(crate) reason: Option<String>,
    pub(crate) used: f64,
    pub(crate) budget: f64,
    #[serde(skip)]
    pub(crate) used_milli: i64,
    #[serde(skip)]
    pub(crate) budget_milli: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct RunningView {
    pub(crate) run_id: i64,
    pub(crate) job: String,
    /// `running`, `paused` or `retrying`.
    pub(crate) status: RunStatus,
    pub(crate) started_at: String,
    /// The run's supervisor: what `jobctl cancel` signals and `force` names.
    pub(crate) pid: Option<i64>,
    /// The job's process group (its first process).
    pub(crate) pgid: Option<i64>,
    pub(crate) agent: Option<String>,
    pub(crate) depth: u32,
    pub(crate) parent_run_id: Option<i64>,
    /// The host it runs on (several hosts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) host: Option<String>,
}

/// One host sharing the state, as it last ticked.
#[derive(Debug, Serialize)]
pub(crate) struct HostView {
    pub(crate) host: String,
    pub(crate) last_tick: Option<String>,
    pub(crate) config_digest: Option<String>,
    pub(crate) version: Option<String>,
    /// The host this command runs on.
    pub(crate) this: bool,
}

/// launchd and systemd start the tick every 5 minutes (operations.md); three of those
/// without one means the timer is not running.
pub(crate) const TICK_INTERVAL_MS: i64 = 5 * 60_000;
pub(crate) const TICK_LATE_AFTER: i64 = 3 * TICK_INTERVAL_MS;

#[derive(Debug, Serialize)]
pub(crate) struct QueuedView {
    pub(crate) run_id: i64,
    pub(crate) job: String,
    pub(crate) queued_at: String,
    pub(crate) depth: u32,
    pub(crate) parent_run_id: Option<i64>,
    /// What it waits for (`max_running = 4`, `concurrency = 1`, ...).
    pub(crate) waiting_for: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SurvivorView {
    pub(crate) run_id: i64,
    pub(crate) job: String,
    pub(crate) pid: i32,
    pub(crate) user: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct FailureView {
    pub(crate) run_id: i64,
    pub(crate) job: String,
    pub(crate) status: RunStatus,
    pub(crate) ended_at: Option<String>,
    pub(crate) error: Option<String>,
}

impl From<&RunRecord> for FailureView {
    fn from(r: &RunRecord) -> FailureView {
        FailureView {
            run_id: r.id,
            job: r.job.clone(),
            status: r.status,
            ended_at: rfc3339_opt(r.ended_at),
            error: r.error.clone(),
        }
    }
}

pub(crate) fn status(e: &mut Engine<'_>) -> Result<StatusReport> {
    e.recover()?;
    let cfg = e.cfg;
    let now = clock::now()?;
    let day = agents::prepare(cfg, &mut *e.store, now)?;
    let daemon = role::daemon_state(cfg);
    let role_now = role::role_for(cfg, None, &daemon);
    let socket = cfg.daemon.as_ref().map(|d| d.socket.display().to_string());
    let mut usage: HashMap<String, i64> = HashMap::new();
    let mut scopes = Vec::new();
    for s in e.store.scope_states()? {
        let Some(a) = cfg.agents.get(&s.agent) else {
            continue;
        };
        if !cfg.budget.scopes.contains(&s.scope) {
            continue;
        }
        let used = match usage.get(&s.agent) {
            Some(u) => *u,
            None => {
                let u = e.store.usage(&s.agent, &day)?;
                usage.insert(s.agent.clone(), u);
                u
            }
        };
        scopes.push(AgentScopeView {
            agent: s.agent,
            scope: s.scope,
            enabled: s.enabled,
            reason: s.reason,
            used: milli_number(used),
            budget: milli_number(a.daily_budget_milli),
            used_milli: used,
            budget_milli: a.daily_budget_milli,
        });
    }
    let running = e.store.supervised_runs()?;
    let load = e.store.load()?;
    let queued: Vec<(RunRecord, String)> = e
        .store
        .queued_runs(100)?
        .into_iter()
        .map(|r| {
            let why = super::queue::waiting_reason(cfg, &load, &r.job, r.depth);
            (r, why)
        })
        .collect();
    let survivors = live_survivors(e)?;
    let last_failure = e.store.last_failure()?;
    let last_tick = e.store.last_tick()?.map(clock::to_ms);
    let hosts: Vec<HostView> = e
        .store
        .hosts()?
        .into_iter()
        .map(|h| HostView {
            this: e.host.as_deref() == Some(h.name.as_str()),
            host: h.name,
            last_tick: rfc3339_opt(h.last_tick),
            config_digest: h.config_digest,
            version: h.version,
        })
        .collect();
    // A scheduler ticks at each slot, not every 5 minutes: with one, no tick is late.
    let schedulers = super::presence::present(e.state_dir());
    let now_ms = clock::to_ms(now);
    let set_up_ms = [cfg.path.as_path(), e.state_dir()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.created()).ok())
        .map(|t| clock::to_ms(jiff::Timestamp::try_from(t).unwrap_or(now)))
        .min()
        // A "now" pinned before the set-up (JOBCTL_NOW) can't tell how long it has been.
        .filter(|&t| t <= now_ms);
    // Never ticked: late only once the set-up is older than a tick could be late.
    let late_since = last_tick.or(set_up_ms);
    Ok(StatusReport {
        last_tick: rfc3339_opt(last_tick),
        tick_late: schedulers.is_empty() && late_since.is_none_or(|t| now_ms - t > TICK_LATE_AFTER),
        set_up_ms,
        schedulers,
        last_tick_ms: last_tick,
        now_ms,
        daemon: DaemonView {
            configured: cfg.daemon.is_some(),
            present: matches!(daemon, Some(Ok(()))),
            socket,
        },
        daemon_why: match &daemon {
            Some(Err(why)) => Some(why.clone()),
            _ => None,
        },
        role: role_now,
        budget_day: day,
        agents: scopes,
        running: running
            .iter()
            .map(|r| RunningView {
                run_id: r.id,
                job: r.job.clone(),
                status: r.status,
                started_at: rfc3339(r.started_at),
                pid: r.supervisor_pid,
                pgid: r.pgid,
                agent: r.usage.agent.clone(),
                depth: r.depth,
                parent_run_id: r.parent_run_id,
                host: r.host.clone(),
            })
            .collect(),
        hosts_warning: digest_warning(&hosts),
        hosts,
        queued: queued
            .iter()
            .map(|(r, why)| QueuedView {
                run_id: r.id,
                job: r.job.clone(),
                queued_at: rfc3339(r.started_at),
                depth: r.depth,
                parent_run_id: r.parent_run_id,
                waiting_for: why.clone(),
            })
            .collect(),
        survivors: survivors
            .iter()
            .flat_map(|(r, list)| {
                list.iter().map(|s| SurvivorView {
                    run_id: r.id,
                    job: r.job.clone(),
                    pid: s.pid,
                    user: s.user.clone(),
                })
            })
            .collect(),
        last_failure: last_failure.as_ref().map(FailureView::from),
        running_runs: running,
        queued_runs: queued,
        survivor_runs: survivors,
        last_failure_run: last_failure,
    })
}

/// The warning when hosts tick with configs that differ (they should share one file).
fn digest_warning(hosts: &[HostView]) -> Option<String> {
    let mut digests: Vec<&str> = hosts
        .iter()
        .filter_map(|h| h.config_digest.as_deref())
        .collect();
    digests.sort_unstable();
    digests.dedup();
    (digests.len() > 1).then(|| {
        let each: Vec<String> = hosts
            .iter()
            .map(|h| format!("{} {}", h.host, h.config_digest.as_deref().unwrap_or("-")))
            .collect();
        format!(
            "the hosts tick with different configs ({}): every host should use the same config file",
            each.join(", ")
        )
    })
}

/// Runs that left processes they could not kill, with those of them still alive (a
/// survivor that has since ended, or whose pid now belongs to another process, is not
/// shown).
fn live_survivors(e: &Engine<'_>) -> Result<Vec<(RunRecord, Vec<Survivor>)>> {
    let mut out = Vec::new();
    for r in e.store.runs_with_survivors(100)? {
        let list: Vec<Survivor> = r.survivors.iter().filter(|s| s.alive()).cloned().collect();
        if !list.is_empty() {
            out.push((r, list));
        }
    }
    Ok(out)
}
