//! The tick (`jobctl run`): with the tick lease, close lost runs, decide which jobs are
//! due, and claim each one: take its lease, record the run, and hand the lease to a
//! detached supervisor process. Then, without the lease, it removes kept worktrees past
//! their age or size limit. The tick returns as soon as the runs have started.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use jiff::Timestamp;
use serde::Serialize;

use super::Engine;
use super::plan::{self, Plan};
use crate::config::{Config, Job};
use crate::coord::{Lease, TickOutcome};
use crate::core::clock::{self, rfc3339, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{EventKind, NewRun, RunRecord};
use crate::store::{Claim, Store};

/// How long a tick waits for another tick to finish deciding.
pub const TICK_LOCK_WAIT: Duration = Duration::from_secs(5);

/// A run this tick started.
pub struct Started {
    pub run: RunRecord,
    pub supervisor: Child,
}

/// Why a due job was not started.
pub enum Held {
    StillRunning(String),
    MaxRunning(String),
}

impl Held {
    pub fn job(&self) -> &str {
        match self {
            Held::StillRunning(j) | Held::MaxRunning(j) => j,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Held::StillRunning(_) => "still running",
            Held::MaxRunning(_) => "max_running",
        }
    }
}

/// A held job as `run --json` shows it.
#[derive(Debug, Serialize)]
pub struct HeldView<'a> {
    pub job: &'a str,
    pub reason: &'static str,
}

impl<'a> From<&'a Held> for HeldView<'a> {
    fn from(h: &'a Held) -> HeldView<'a> {
        HeldView {
            job: h.job(),
            reason: h.reason(),
        }
    }
}

pub enum TickResult {
    /// Another tick held the lock the whole time.
    Busy(Option<u32>),
    Done {
        started: Vec<Started>,
        held: Vec<Held>,
        /// The job whose slot comes next among those not due, and when (for "nothing
        /// due; next: ...").
        next: Option<(String, Timestamp)>,
    },
}

pub fn tick(e: &mut Engine<'_>, only: Option<&str>) -> Result<TickResult> {
    let tick_guard = match e.coord.tick(TICK_LOCK_WAIT)? {
        TickOutcome::Acquired(g) => g,
        TickOutcome::Held(pid) => return Ok(TickResult::Busy(pid)),
    };
    e.recover()?;
    let cfg = e.cfg;
    let now = clock::now()?;
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
    let mut running = store.running_runs()?.len();
    let mut started = Vec::new();
    let mut held = Vec::new();
    let mut next: Option<(String, Timestamp)> = None;

    for (name, job) in &cfg.jobs {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let state = states.get(name);
        match plan::evaluate(job, state, prev_tick, now) {
            Plan::Disabled | Plan::Paused => {
                // Slots that pass while off are not caught up when the job is back on.
                if let Some(slot) = plan::passed_slot(job, state, now)
                    && state.and_then(|s| s.last_slot).is_none_or(|l| slot > l)
                {
                    store.set_last_slot(name, slot)?;
                }
            }
            Plan::Skip { slot, reason } => {
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
                if running >= cfg.runner.max_running as usize {
                    tracing::info!(job = %name, "due, held back by max_running = {}", cfg.runner.max_running);
                    store.set_held(name, true)?;
                    held.push(Held::MaxRunning(name.clone()));
                    continue;
                }
                let lease = match e.coord.try_lease(name)? {
                    Some(l) => l,
                    None => {
                        tracing::info!(job = %name, "due, but still running");
                        store.set_held(name, true)?;
                        held.push(Held::StillRunning(name.clone()));
                        continue;
                    }
                };
                match claim(cfg, store, job, lease, slot, missed)? {
                    Some(s) => {
                        running += 1;
                        started.push(s);
                    }
                    None => held.push(Held::StillRunning(name.clone())),
                }
            }
            Plan::NotDue { next: Some(t) } => {
                if next.as_ref().is_none_or(|(_, n)| t < *n) {
                    next = Some((name.clone(), t));
                }
            }
            Plan::Manual | Plan::NotDue { next: None } => {}
        }
    }
    // `--job` looked at one job: the others were not seen, so this was not a tick for them.
    if only.is_none() {
        store.set_last_tick(now)?;
    }
    // Kept worktrees past their age or size limit, after the runs have started and with
    // the tick lock released: removing a big tree takes a while.
    drop(tick_guard);
    super::workspace::cleanup::on_tick(e);
    Ok(TickResult::Done {
        started,
        held,
        next,
    })
}

/// Records the run (and the job's new slot) and starts its supervisor with the lease;
/// `None` when the store refused the claim (the slot was taken, or a run still runs).
fn claim(
    cfg: &Config,
    store: &mut dyn Store,
    job: &Job,
    lease: Box<dyn Lease>,
    slot: Timestamp,
    missed: bool,
) -> Result<Option<Started>> {
    let claim = store.claim_run(&NewRun {
        job: job.name.clone(),
        forced: false,
        scheduled_for: to_ms(slot),
        started_at: to_ms(clock::real_now()),
        supervisor_pid: None,
        scope: None,
        last_slot: Some(to_ms(slot)),
        lock_name: None,
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
    let supervisor = spawn_supervisor(cfg, store.dir(), &run, lease.as_ref())?;
    Ok(Some(Started { run, supervisor }))
}

fn supervisor_log(state_dir: &std::path::Path) -> Stdio {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(state_dir.join("supervisors.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

/// Starts `jobctl supervise RUN_ID` in a session of its own (so it outlives the tick and a
/// terminal's Ctrl-C), handing it the lease's open file: the flock belongs to the open
/// file, so from the moment the child exists both hold it, and there is no instant at
/// which the job is unlocked.
pub(crate) fn spawn_supervisor(
    cfg: &Config,
    state_dir: &std::path::Path,
    run: &RunRecord,
    lease: &dyn Lease,
) -> Result<Child> {
    let exe = std::env::current_exe().context("can't find the jobctl executable")?;
    let fd = lease
        .handover_fd()
        .ok_or_else(|| Error::State("this lease can't be handed to a supervisor".into()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--config")
        .arg(&cfg.path)
        .arg("supervise")
        .arg(run.id.to_string())
        .arg("--lock-fd")
        .arg(fd.to_string())
        .arg("--state-dir")
        .arg(state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Not the tick's stderr: whoever reads the tick's output (cron, a pipe) would wait
        // for every run to end. A supervisor's own complaints go to a file in the state dir.
        .stderr(supervisor_log(state_dir));
    // Until the supervisor handles them, a stop signal (a `cancel`, `run --wait` passing
    // on a Ctrl-C) would kill it and leave its run `lost`: blocked here, they stay pending
    // across exec until it has its handlers (`process::Signals::register`).
    let blocked = crate::exec::process::stop_signals();
    // SAFETY: setsid, sigprocmask and fcntl are async-signal-safe; `blocked` is built
    // beforehand.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            blocked.thread_block().map_err(std::io::Error::from)?;
            // The lease's descriptor survives exec in this child only: cleared in the
            // parent, another thread's child (a server starting runs side by side) could
            // inherit it and hold a job's lock it knows nothing of.
            if nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().context("can't start the run's supervisor")?;
    tracing::debug!(run = run.id, pid = child.id(), "supervisor started");
    Ok(child)
}
