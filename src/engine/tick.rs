//! The tick (`jobctl run`): with the tick lease, close lost runs, queue the jobs whose
//! needs are met, start what the queue lets start, decide which jobs are due, and claim
//! each one: take its lease, record the run, and hand the lease to a detached supervisor
//! process. A due job that `max_running` holds back is queued instead, and started by
//! whoever ends a run. Then, without the lease, it removes kept worktrees past their age
//! or size limit. The tick returns as soon as the runs have started.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::Engine;
use super::launch::spawn_supervisor;
use super::plan::{self, Plan};
use super::{deps, queue, recovery};
use crate::config::{Config, Job};
use crate::coord::TickOutcome;
use crate::core::clock::{self, rfc3339, to_ms};
use crate::core::error::Result;
use crate::core::run::{Actor, EventKind, NewRun, RunRecord, Trigger};
use crate::store::{Claim, Enqueued, Store};

pub(crate) use super::launch::SUPERVISOR_URL_VAR;

/// How long a tick waits for another tick to finish deciding.
pub(crate) const TICK_LOCK_WAIT: Duration = Duration::from_secs(5);

pub(crate) use super::launch::Started;

/// Why a due job was not started (nor queued).
pub(crate) enum Held {
    /// Its runs hold every slot of its `concurrency`: it stays due for a later tick.
    StillRunning(String),
}

impl Held {
    pub(crate) fn job(&self) -> &str {
        match self {
            Held::StillRunning(j) => j,
        }
    }

    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Held::StillRunning(_) => "still running",
        }
    }
}

/// A held job as `run --json` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct HeldView<'a> {
    pub(crate) job: &'a str,
    pub(crate) reason: &'static str,
}

impl<'a> From<&'a Held> for HeldView<'a> {
    fn from(h: &'a Held) -> HeldView<'a> {
        HeldView {
            job: h.job(),
            reason: h.reason(),
        }
    }
}

pub(crate) enum TickResult {
    /// Another tick held the lock the whole time.
    Busy(Option<u32>),
    Done {
        started: Vec<Started>,
        /// Due, but `max_running` was reached: queued, started when a run ends.
        queued: Vec<RunRecord>,
        held: Vec<Held>,
        /// The job whose slot comes next, and when: among the jobs not due, and the next
        /// slots of those due now (for "nothing due; next: ...", and the scheduler's
        /// next wake-up).
        next: Option<(String, Timestamp)>,
    },
}

pub(crate) fn tick(e: &mut Engine<'_>, only: Option<&str>) -> Result<TickResult> {
    let tick_guard = match e.coord.tick(TICK_LOCK_WAIT)? {
        TickOutcome::Acquired(g) => g,
        TickOutcome::Held(pid) => return Ok(TickResult::Busy(pid)),
    };
    recovery::recover_lost(e)?;
    deps::check_all(e, &Actor::Tick)?;
    let mut started = queue::drain(e, &Actor::Tick)?;
    let cfg = e.cfg;
    let now = clock::now()?;
    let host = e.host.clone();
    let store = &mut *e.store;
    let mut states = store.job_states()?;
    let unseen: Vec<&str> = cfg
        .jobs
        .keys()
        .filter(|n| !states.contains_key(*n))
        .map(String::as_str)
        .collect();
    if !unseen.is_empty() {
        store.record_first_seen(&unseen, to_ms(now))?;
        states = store.job_states()?;
    }
    // Times stored while the clock ran ahead would hold schedules back until the clock
    // reaches them again: put them right, loudly.
    for (name, job) in &cfg.jobs {
        if let Some(state) = states.get(name)
            && let Some(mut fixed) = plan::repair_future(job, state, now)
        {
            // The slot of the last scheduled run that really happened before now, when
            // there is one: the schedule goes on from there as if the jump never was.
            if state.last_slot.is_some_and(|l| l > to_ms(now))
                && let Some(slot) = store.last_scheduled_slot_before(name, to_ms(now))?
            {
                fixed.last_slot = Some(slot);
            }
            tracing::warn!(
                job = %name,
                "the stored schedule state is in the future of now (was the clock ahead?); using the slot before now"
            );
            store.repair_job_state(name, fixed.first_seen, fixed.last_slot)?;
            store.append_event(
                to_ms(clock::real_now()),
                EventKind::ClockJump,
                Some(name),
                None,
                &serde_json::json!({
                    "stored_slot": state.last_slot.map(rfc3339),
                    "slot": fixed.last_slot.map(rfc3339),
                    "now": rfc3339(to_ms(now)),
                }),
            )?;
            states.insert(name.clone(), fixed);
        }
    }
    let prev_tick = store.last_tick()?;
    let mut memo = super::next_slots::load(store.dir());
    // Read once a job is due: an idle tick never needs it.
    let mut load: Option<crate::store::Load> = None;
    let mut top_level = 0usize;
    let mut queued = Vec::new();
    let mut held = Vec::new();
    let mut next: Option<(String, Timestamp)> = None;
    // This host's name, looked up only when a job names its hosts.
    let mut this_host = host.clone();

    for (name, job) in &cfg.jobs {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        // `hosts = [...]`: another host's job (its slots are that host's to move).
        if job.hosts.is_some()
            && !job.runs_on(this_host.get_or_insert_with(crate::config::StateConfig::default_host))
        {
            continue;
        }
        let state = states.get(name);
        match plan::evaluate(job, state, prev_tick, now, &mut memo) {
            Plan::Disabled | Plan::Paused => {
                // Slots that pass while off are not caught up when the job is back on.
                if let Some(slot) = plan::passed_slot(job, state, now, &mut memo)
                    && state.and_then(|s| s.last_slot).is_none_or(|l| slot > l)
                {
                    store.set_last_slot(name, slot)?;
                }
            }
            Plan::Skip { slot, reason } => {
                earliest(&mut next, name, slot_after(job, state, slot, now));
                store.set_last_slot(name, to_ms(slot))?;
                store.append_event(
                    to_ms(clock::real_now()),
                    EventKind::SlotSkipped,
                    Some(name),
                    None,
                    &serde_json::json!({"slot": rfc3339(to_ms(slot)), "reason": reason.as_str()}),
                )?;
                tracing::info!(job = %name, "{}", reason.as_str());
            }
            Plan::Due { slot, missed } => {
                // Started, queued or held, its next slot is one the scheduler wakes for.
                earliest(&mut next, name, slot_after(job, state, slot, now));
                let load = match &mut load {
                    Some(l) => l,
                    None => {
                        let l = store.load()?;
                        top_level = l.top_level as usize;
                        load.insert(l)
                    }
                };
                let running_itself = load.by_job.contains_key(name);
                if top_level >= cfg.runner.max_running as usize && !running_itself {
                    tracing::info!(job = %name, "due, queued: max_running = {} is reached", cfg.runner.max_running);
                    if let Some(run) = enqueue(cfg, store, job, slot, missed)? {
                        queued.push(run);
                    }
                    continue;
                }
                let slot_lease = if top_level >= cfg.runner.max_running as usize {
                    None
                } else {
                    queue::take_slot(&*e.coord, job)?
                };
                let Some(slot_lease) = slot_lease else {
                    tracing::info!(job = %name, "due, but still running");
                    store.set_held(name, true)?;
                    held.push(Held::StillRunning(name.clone()));
                    continue;
                };
                match claim(cfg, store, job, slot_lease, slot, missed, host.as_deref())? {
                    Some(s) => {
                        top_level += 1;
                        started.push(s);
                    }
                    None => held.push(Held::StillRunning(name.clone())),
                }
            }
            Plan::NotDue { next: Some(t) } => earliest(&mut next, name, Some(t)),
            Plan::Manual | Plan::NotDue { next: None } => {}
        }
    }
    // `--job` looked at one job: the others were not seen, so this was not a tick for them.
    if only.is_none() {
        let this_host = host.map(|name| crate::store::HostRecord {
            name,
            last_tick: Some(to_ms(now)),
            config_digest: config_digest(&cfg.path),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        });
        store.record_tick(now, this_host.as_ref())?;
    }
    super::next_slots::save(store.dir(), &mut memo, cfg);
    // Kept worktrees past their age or size limit, after the runs have started and with
    // the tick lock released: removing a big tree takes a while.
    drop(tick_guard);
    super::workspace::cleanup::on_tick(e);
    Ok(TickResult::Done {
        started,
        queued,
        held,
        next,
    })
}

/// Keeps in `next` the earlier of it and `job`'s slot `t`.
fn earliest(next: &mut Option<(String, Timestamp)>, job: &str, t: Option<Timestamp>) {
    if let Some(t) = t
        && next.as_ref().is_none_or(|(_, n)| t < *n)
    {
        *next = Some((job.to_string(), t));
    }
}

/// The slot after `slot` of a job that takes it now (to run, queue or skip).
fn slot_after(
    job: &Job,
    state: Option<&crate::store::JobState>,
    slot: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    let mut st = plan::slot_state(state, now);
    st.last_slot = Some(slot);
    crate::core::schedule::next_slot_after(job.schedule.as_ref()?, &job.timezone, st, now)
}

/// A digest of the config file's text, for `status` to tell hosts that tick with
/// different configs apart (CRC-32: a fingerprint, not a security measure).
pub(crate) fn config_digest(path: &std::path::Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|t| format!("{:08x}", crc32fast::hash(&t)))
}

/// Queues the run of a due slot that `max_running` holds back (the slot is the job's
/// new last slot at once: the queued run is its run); `None` when the job has a queued
/// run already, which stands for it.
fn enqueue(
    cfg: &Config,
    store: &mut dyn Store,
    job: &Job,
    slot: Timestamp,
    missed: bool,
) -> Result<Option<RunRecord>> {
    let new = NewRun {
        job: job.name.clone(),
        scheduled_for: to_ms(slot),
        started_at: to_ms(clock::real_now()),
        last_slot: Some(to_ms(slot)),
        trigger: Trigger::Scheduled,
        by: Actor::Tick,
        reason: Some(format!(
            "max_running = {} is reached",
            cfg.runner.max_running
        )),
        ..Default::default()
    };
    let Enqueued::Queued(run) = store.enqueue_run(&new, true)? else {
        return Ok(None);
    };
    if missed {
        store.append_event(
            to_ms(clock::real_now()),
            EventKind::CatchUp,
            Some(&job.name),
            Some(run.id),
            &serde_json::json!({"slot": rfc3339(to_ms(slot))}),
        )?;
    }
    Ok(Some(*run))
}

/// Records the run (and the job's new slot) and starts its supervisor with the lease of
/// one of the job's slots (`lock_name` names it); `None` when the store refused the claim
/// (the slot was taken, or a run still runs).
fn claim(
    cfg: &Config,
    store: &mut dyn Store,
    job: &Job,
    (lock_name, mut lease): queue::SlotLease,
    slot: Timestamp,
    missed: bool,
    host: Option<&str>,
) -> Result<Option<Started>> {
    let claim = store.claim_run(&NewRun {
        job: job.name.clone(),
        forced: false,
        scheduled_for: to_ms(slot),
        started_at: to_ms(clock::real_now()),
        last_slot: Some(to_ms(slot)),
        lock_name,
        trigger: Trigger::Scheduled,
        by: Actor::Tick,
        ..Default::default()
    })?;
    let run = match claim {
        Claim::Claimed(run) => *run,
        Claim::SlotTaken | Claim::JobRunning(_) => {
            tracing::info!(job = %job.name, "the store refused the claim: {claim:?}");
            return Ok(None);
        }
    };
    if missed {
        store.append_event(
            to_ms(clock::real_now()),
            EventKind::CatchUp,
            Some(&job.name),
            Some(run.id),
            &serde_json::json!({"slot": rfc3339(to_ms(slot))}),
        )?;
    }
    crate::faults::point("tick_after_claim");
    let supervisor = spawn_supervisor(cfg, store.dir(), &run, &mut *lease, host)?;
    Ok(Some(Started { run, supervisor }))
}
