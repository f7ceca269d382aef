//! Cancelling a run and its whole subtree: a supervised run's supervisor stops it the way
//! a timeout does (TERM, grace, KILL, the whole tree) and records it `cancelled`; a queued
//! run is closed at once; a retry waiting out its backoff is closed by its supervisor.
//! This asks (through the coordinator, having recorded who asks) and waits until every
//! one of them is recorded ended.

use std::time::{Duration, Instant};

use super::Engine;
use super::tree;
use crate::coord::StopRequest;
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, RunRecord, RunStatus};
use crate::fail;

/// Which run to cancel.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Run(i64),
    /// The running run of a job (else its latest, to say how it ended).
    Job(&'a str),
}

fn not_running(r: &RunRecord, lost_now: bool) -> Error {
    let note = if lost_now || r.status == RunStatus::Lost {
        " (its supervisor was gone: closed as lost)"
    } else {
        ""
    };
    Error::Conflict(format!(
        "run {} of {} is not running: it ended {}{note}",
        r.id, r.job, r.status
    ))
}

/// Cancels the run and everything below it; returns the run's record once every one of
/// them is recorded ended.
pub fn cancel(e: &mut Engine<'_>, target: Target<'_>, by: &Actor) -> Result<RunRecord> {
    let lost = e.recover()?;
    let run = match target {
        Target::Run(id) => e.store.get_run(id)?,
        Target::Job(j) => {
            let supervised = e.store.supervised_runs()?.into_iter().find(|r| r.job == j);
            match supervised {
                Some(r) => Some(r),
                None => match e.store.queued_runs(1000)?.into_iter().find(|r| r.job == j) {
                    Some(r) => Some(r),
                    None => e.store.latest_run(j)?,
                },
            }
        }
    };
    let Some(run) = run else {
        match target {
            Target::Run(id) => fail!(NotFound, "no run {id} in the history"),
            Target::Job(j) => fail!(NotFound, "job {j} has no running run"),
        }
    };
    if run.status.is_end() {
        let lost_now = lost.contains(&run.id);
        return Err(if lost_now {
            not_running(&run, true)
        } else {
            Error::Conflict(format!(
                "run {} of {} is not running: it ended {}",
                run.id, run.job, run.status
            ))
        });
    }
    let reason = format!("cancelled by {by}");
    // Below it first: a child's supervisor is asked before the parent's end would.
    let below: Vec<RunRecord> = e
        .store
        .descendants(run.id)?
        .into_iter()
        .filter(|r| !r.status.is_end())
        .collect();
    for r in &below {
        let parent = format!("cancelled: an ancestor, run {}, was cancelled", run.id);
        if let Err(err) = tree::cancel_one(e, r, by, &parent) {
            tracing::warn!(run = r.id, "can't cancel a run below run {}: {err}", run.id);
        }
    }
    let sent = match tree::cancel_one(e, &run, by, &reason)? {
        None => None,
        Some(StopRequest::Sent { pid }) => Some(pid),
        // Its supervisor is starting (it cancels the run as it starts) or ending.
        Some(StopRequest::NotHeld) => Some(0),
        // Gone between the look-up and the request: the run ended by itself, or its
        // supervisor died and the run is about to be found lost. Its record says which.
        Some(StopRequest::Gone) => {
            tracing::info!(
                run = run.id,
                "its supervisor is gone; waiting for the run's end to be recorded"
            );
            None
        }
        Some(StopRequest::Refused { pid, why }) => fail!(
            Failed,
            "can't signal the supervisor of run {} (pid {pid}): {why}",
            run.id
        ),
    };
    let queued_here = run.status == RunStatus::Queued;
    let deadline = Instant::now() + e.cfg.runner.kill_grace + Duration::from_secs(15);
    loop {
        let mut ended = None;
        if let Some(r) = e.store.get_run(run.id)?.filter(|r| r.status.is_end()) {
            ended = Some(r);
        }
        let open_below = below
            .iter()
            .filter(|b| {
                e.store
                    .get_run(b.id)
                    .ok()
                    .flatten()
                    .is_some_and(|r| !r.status.is_end())
            })
            .count();
        if let Some(r) = &ended
            && open_below == 0
        {
            if sent.is_none() && !queued_here && r.status != RunStatus::Cancelled {
                return Err(not_running(r, false));
            }
            return Ok(r.clone());
        }
        if Instant::now() > deadline {
            match (sent, &ended) {
                (_, Some(_)) => fail!(
                    Failed,
                    "run {} ended, but {open_below} runs below it did not stop in time",
                    run.id
                ),
                (None, None) => fail!(
                    Failed,
                    "run {} is still recorded running, but its supervisor is gone and its job lock is still held",
                    run.id
                ),
                (Some(0), None) => fail!(
                    Failed,
                    "run {} did not stop in time; no supervisor took it",
                    run.id
                ),
                (Some(pid), None) => fail!(
                    Failed,
                    "run {} did not stop in time; its supervisor is pid {pid}",
                    run.id
                ),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        e.recover()?;
    }
}
