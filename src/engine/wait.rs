//! `run --wait`: waiting for the runs a tick started, each handed over as it ends. First
//! the supervisors it started (its children: reaped here), then the runs it queued (they
//! start under other supervisors as slots free, and are seen through the store), then
//! the runs their ends started (a job that `needs` them), found in the store.
//!
//! A stop signal to this process is passed on to the supervisors still running (SIGINT as
//! SIGINT; SIGTERM, and SIGHUP (the terminal is gone), as SIGTERM): they stop their runs
//! the way a timeout does and record them cancelled. The queued runs not ended by then
//! are cancelled (those not started never start). The first signal decides the exit code.

use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::Engine;
use super::launch::Started;
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, RunRecord};
use crate::exec::signal::{Event, Handler, Listen, Stop};

/// How often the runs are looked at.
const POLL: Duration = Duration::from_millis(20);
/// How often the queued runs' supervisors are checked for (closing their runs as lost).
const RECOVER_EVERY: Duration = Duration::from_secs(1);

/// A `run --wait` listening for stop signals.
pub(crate) struct Waiting {
    rt: tokio::runtime::Runtime,
    signals: Handler,
}

/// What came of waiting.
pub(crate) struct Waited {
    /// The runs, in the order they ended.
    pub(crate) runs: Vec<RunRecord>,
    /// The stop signal this process got, if one came (its exit code is 128 + N).
    pub(crate) interrupted: Option<Signal>,
}

impl Waiting {
    /// Handles the stop signals from now on: before the tick, so one that comes during it
    /// is not lost (the runs it starts get it too).
    pub(crate) fn listen() -> Result<Waiting> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("can't start the wait's event loop")
            .map_err(Error::Internal)?;
        let signals = {
            let _in = rt.enter();
            Handler::install(Listen::TickWait).map_err(Error::Internal)?
        };
        Ok(Waiting { rt, signals })
    }

    /// Waits for the runs `started` and `queued` to end, handing each to `ended` as it
    /// does.
    pub(crate) fn wait(
        mut self,
        e: &mut Engine<'_>,
        started: &[Started],
        queued: &[RunRecord],
        ended: &mut dyn FnMut(&RunRecord),
    ) -> Result<Waited> {
        let mut runs = Vec::new();
        let mut on_end = |r: RunRecord| {
            ended(&r);
            runs.push(r);
        };
        let signals = &mut self.signals;
        let interrupted = self.rt.block_on(async {
            let ended_jobs = std::cell::RefCell::new(Vec::new());
            let mut on_end = |r: RunRecord| {
                ended_jobs.borrow_mut().push((r.id, r.job.clone()));
                on_end(r);
            };
            let mut got = supervisors(signals, e, started, &mut on_end).await?;
            let mut waiting: Vec<i64> = queued.iter().map(|r| r.id).collect();
            // The runs their ends started (`needs` met), and theirs in turn, are waited for
            // too: what the tick set going includes what follows from it.
            let first = started
                .iter()
                .map(|s| s.run.id)
                .chain(waiting.iter().copied())
                .min();
            let mut seen = 0;
            while got.is_none() {
                if let Some(first) = first {
                    let ended = ended_jobs.borrow()[seen..].to_vec();
                    seen += ended.len();
                    let new = dependents(e, &ended, first, &waiting)?;
                    waiting.extend(new);
                }
                if waiting.is_empty() {
                    break;
                }
                got = queued_runs(signals, e, &mut waiting, &mut on_end).await?;
            }
            for id in waiting {
                let Some(now) = e.store.get_run(id)? else {
                    continue;
                };
                if !now.status.is_end() {
                    super::tree::cancel_one(
                        e,
                        &now,
                        &Actor::Cli,
                        "cancelled: jobctl run --wait was interrupted",
                    )?;
                }
                on_end(e.store.get_run(id)?.unwrap_or(now));
            }
            Ok::<_, Error>(got)
        })?;
        Ok(Waited {
            runs,
            interrupted: interrupted.map(Stop::signal),
        })
    }
}

/// The runs (ids from `first` on, not in `waiting`) that the ends of `ended` started:
/// runs of a job that `needs` one of them, made because what it needs succeeded.
fn dependents(
    e: &mut Engine<'_>,
    ended: &[(i64, String)],
    first: i64,
    waiting: &[i64],
) -> Result<Vec<i64>> {
    let needing: Vec<&str> = e
        .cfg
        .jobs
        .iter()
        .filter(|(_, job)| {
            job.control()
                .needs
                .iter()
                .any(|n| ended.iter().any(|(_, j)| j == n))
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let mut out = Vec::new();
    for job in needing {
        let runs = e.store.find_runs(&crate::store::RunQuery {
            job: Some(job),
            trigger: Some(crate::core::run::Trigger::Dependency),
            limit: 20,
            ..Default::default()
        })?;
        out.extend(runs.iter().map(|r| r.id).filter(|id| {
            *id > first && !waiting.contains(id) && !ended.iter().any(|(e, _)| e == id)
        }));
    }
    Ok(out)
}

/// The stop signal that comes within `wait` (SIGUSR1 and SIGUSR2 are not for this
/// process: a stray one must not end it).
async fn stop_within(signals: &mut Handler, wait: Duration) -> Option<Stop> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        tokio::select! {
            biased;
            event = signals.recv() => if let Event::Stop(stop) = event {
                return Some(stop);
            },
            _ = tokio::time::sleep_until(deadline) => return None,
        }
    }
}

/// Waits for the supervisors `started`, passing a stop signal on to them. Returns the
/// signal this process got, when there was one.
async fn supervisors(
    signals: &mut Handler,
    e: &mut Engine<'_>,
    started: &[Started],
    ended: &mut dyn FnMut(RunRecord),
) -> Result<Option<Stop>> {
    let mut pids: Vec<(u32, i64)> = started
        .iter()
        .map(|s| (s.supervisor.id(), s.run.id))
        .collect();
    let mut got = None;
    // A store that fails to say how a run ended doesn't stop the waiting for the others.
    let mut store_err = None;
    while !pids.is_empty() {
        if let Some(stop) = stop_within(signals, Duration::ZERO).await
            && got.is_none()
        {
            let pass = match stop {
                Stop::Int => Signal::SIGINT,
                Stop::Term | Stop::Hup => Signal::SIGTERM,
            };
            for (p, _) in &pids {
                let _ = nix::sys::signal::kill(Pid::from_raw(*p as i32), pass);
            }
            got = Some(stop);
        }
        let mut i = 0;
        while i < pids.len() {
            let (pid, run) = pids[i];
            let done = matches!(
                waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(_)
            );
            if !done {
                i += 1;
                continue;
            }
            pids.remove(i);
            match e.store.get_run(run) {
                Ok(Some(r)) => ended(r),
                Ok(None) => {}
                Err(err) => store_err = Some(err),
            }
        }
        if !pids.is_empty() {
            tokio::time::sleep(POLL).await;
        }
    }
    match store_err {
        Some(err) => Err(err),
        None => Ok(got),
    }
}

/// Waits for the queued runs `ids` to end, handing each to `ended` as it does (and
/// taking it out of `ids`), unless a stop signal comes first (then that signal, and `ids`
/// holds those not ended).
async fn queued_runs(
    signals: &mut Handler,
    e: &mut Engine<'_>,
    ids: &mut Vec<i64>,
    ended: &mut dyn FnMut(RunRecord),
) -> Result<Option<Stop>> {
    let mut next_recovery = Instant::now();
    while !ids.is_empty() {
        if let Some(stop) = stop_within(signals, Duration::ZERO).await {
            return Ok(Some(stop));
        }
        let mut i = 0;
        while i < ids.len() {
            match e.store.get_run(ids[i])? {
                Some(r) if !r.status.is_end() => i += 1,
                Some(r) => {
                    ids.remove(i);
                    ended(r);
                }
                None => {
                    ids.remove(i);
                }
            }
        }
        if Instant::now() >= next_recovery {
            e.recover()?;
            next_recovery = Instant::now() + RECOVER_EVERY;
        }
        if !ids.is_empty() {
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(None)
}
