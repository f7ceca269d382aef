//! Starting the pipeline for a run: a forced run (`jobctl force`, supervised by the
//! process that forced it) and a scheduled run's detached supervisor (`jobctl supervise`,
//! started by the tick with the job's lease).

use super::pipeline::{self, Supervised, Work};
use super::{Engine, StateTarget};
use crate::config::Config;
use crate::coord::Handover;
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, NewRun, RunEnd, Trigger};
use crate::exec::process::Echo;
use crate::exec::signal;
use crate::store::Claim;

/// Runs `job` now, due or not, enabled or not: the schedule doesn't move.
pub(crate) fn force(e: &mut Engine<'_>, name: &str, echo: Echo) -> Result<Supervised> {
    let cfg = e.cfg;
    let job = cfg.job(name)?;
    e.recover()?;
    let Some((lock_name, lease)) = super::queue::take_slot(&*e.coord, job)? else {
        return Err(Error::Busy(busy_message(e, name)?));
    };
    // From here on a stop signal waits for the supervisor's handlers: one that killed this
    // process between recording the run and handling signals would leave it `lost`.
    signal::block_stop_signals().map_err(|e| {
        Error::Internal(anyhow::Error::new(e).context("can't block the stop signals"))
    })?;
    let now = to_ms(clock::real_now());
    let claim = e.store.claim_run(&NewRun {
        job: name.to_string(),
        forced: true,
        scheduled_for: now,
        started_at: now,
        supervisor_pid: Some(i64::from(std::process::id())),
        lock_name,
        trigger: Trigger::Forced,
        by: Actor::Cli,
        ..Default::default()
    })?;
    let run = match claim {
        Claim::Claimed(run) => *run,
        Claim::JobRunning(_) | Claim::SlotTaken => {
            return Err(Error::Busy(busy_message(e, name)?));
        }
    };
    pipeline::supervise(e, Work::Job(job), run, lease, echo)
}

/// Starts a run of `job` now, due or not, under a detached supervisor (as the tick starts
/// one), and returns its record at once: how a program forces a job without becoming
/// its supervisor.
pub(crate) fn start_detached(
    e: &mut Engine<'_>,
    name: &str,
    by: &Actor,
) -> Result<crate::core::run::RunRecord> {
    let cfg = e.cfg;
    cfg.job(name)?;
    e.recover()?;
    let Some(mut lease) = e.coord.try_lease(name)? else {
        return Err(Error::Busy(busy_message(e, name)?));
    };
    let now = to_ms(clock::real_now());
    let claim = e.store.claim_run(&NewRun {
        job: name.to_string(),
        forced: true,
        scheduled_for: now,
        started_at: now,
        trigger: Trigger::Forced,
        by: by.clone(),
        ..Default::default()
    })?;
    let run = match claim {
        Claim::Claimed(run) => *run,
        Claim::JobRunning(_) | Claim::SlotTaken => {
            return Err(Error::Busy(busy_message(e, name)?));
        }
    };
    let mut child =
        super::launch::spawn_supervisor(cfg, e.store.dir(), &run, &mut *lease, e.host.as_deref())?;
    drop(lease);
    // Reaped in the background: the supervisor outlives this request by design.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(run)
}

/// Why `name` can't be forced now, saying only what is known: the run and its
/// supervisor's pid as the lease and the store agree on them.
fn busy_message(e: &Engine<'_>, name: &str) -> Result<String> {
    let holder = e.coord.holder(name);
    let Some(run) = e
        .store
        .supervised_runs()?
        .into_iter()
        .find(|r| r.job == name)
    else {
        // Held, yet no run recorded as running: one is being started or closed (or a
        // lost one recovered); the lease may still name an earlier run.
        return Ok(format!(
            "job {name} is busy: another jobctl holds its lock (a run is starting or ending)"
        ));
    };
    let pid = match holder {
        h if h.run_id == Some(run.id) && h.pid.is_some() => h.pid.map(i64::from),
        _ => run.supervisor_pid,
    };
    let group = run
        .pgid
        .map(|g| format!("; the job's process group is {g}"))
        .unwrap_or_default();
    // A run of another host sharing the state: its pid means nothing here without it.
    let on = match &run.host {
        Some(h) if e.host.as_deref() != Some(h.as_str()) => format!(" on host {h}"),
        _ => String::new(),
    };
    Ok(match pid {
        Some(pid) => format!(
            "job {name} is already running (run {}{on}, pid {pid}); that is its supervisor{group}",
            run.id
        ),
        None => format!(
            "job {name} is already running (run {}{on}, its supervisor is starting)",
            run.id
        ),
    })
}

/// What a detached supervisor did.
pub(crate) enum Detached {
    Supervised(Box<Supervised>),
    /// The run could not start (the config became invalid, the job was removed): it was
    /// closed `failed` with why.
    NotStarted,
}

/// The detached supervisor of run `run_id`, taking over the lease the tick handed over.
/// `cfg` is the config as loaded now, or why it can't be; `target` the state the tick
/// used (the state of a config that became invalid is still known).
///
/// # Safety
/// A [`Handover::Fd`] must be the descriptor the tick passed to this process alone.
pub(crate) unsafe fn detached(
    cfg: std::result::Result<&Config, &Error>,
    run_id: i64,
    handover: Handover,
    target: &StateTarget,
) -> Result<Detached> {
    let (mut store, coord, host) = target.open()?;
    let Some(run) = store.get_run(run_id)? else {
        return Err(Error::NotFound(format!(
            "run {run_id} is not in {}",
            store.dir().display()
        )));
    };
    // SAFETY: the caller's contract.
    let lease = unsafe { coord.adopt(run.lock_key(), handover)? };
    store.set_fence(lease.fence());
    let cfg = match cfg {
        Ok(c) if c.jobs.contains_key(&run.job) => c,
        Ok(_) | Err(_) => {
            let why = match cfg {
                Err(err) => format!("the config became invalid before the run started: {err}"),
                Ok(_) => format!(
                    "job {} was removed from the config before its run started",
                    run.job
                ),
            };
            let closed =
                store.finish_run(run_id, &RunEnd::failed(to_ms(clock::real_now()), why))?;
            drop(lease);
            store.set_fence(None);
            if let (Ok(cfg), Some(closed)) = (cfg, closed) {
                // Its slot is free again: what waits for it may start.
                let mut e = Engine {
                    cfg,
                    store,
                    coord,
                    host,
                };
                super::tree::on_end(&mut e, &closed, &Actor::Supervisor);
                if let Err(err) = super::queue::drain(&mut e, &Actor::Supervisor) {
                    tracing::warn!("can't start the queued runs: {err}");
                }
            }
            return Ok(Detached::NotStarted);
        }
    };
    let job = cfg.job(&run.job)?;
    let mut e = Engine {
        cfg,
        store,
        coord,
        host,
    };
    Ok(Detached::Supervised(Box::new(pipeline::supervise(
        &mut e,
        Work::Job(job),
        run,
        lease,
        Echo::Off,
    )?)))
}
