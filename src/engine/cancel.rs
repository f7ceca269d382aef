//! Cancelling a run: its supervisor stops it the way a timeout does (TERM, grace, KILL,
//! the whole tree) and records it `cancelled`; this asks it to, through the coordinator,
//! and waits for the end to be recorded.

use std::time::{Duration, Instant};

use super::Engine;
use crate::coord::StopRequest;
use crate::core::error::{Error, Result};
use crate::core::run::{RunRecord, RunStatus};
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

/// Cancels the run and returns its record once its end is recorded.
pub fn cancel(e: &mut Engine<'_>, target: Target<'_>) -> Result<RunRecord> {
    let lost = e.recover()?;
    let run = match target {
        Target::Run(id) => e.store.get_run(id)?,
        Target::Job(j) => match e.store.running_runs()?.into_iter().find(|r| r.job == j) {
            Some(r) => Some(r),
            None => e.store.latest_run(j)?,
        },
    };
    let Some(run) = run else {
        match target {
            Target::Run(id) => fail!(NotFound, "no run {id} in the history"),
            Target::Job(j) => fail!(NotFound, "job {j} has no running run"),
        }
    };
    if !run.is_running() {
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
    let sent = match e.coord.request_stop(run.lock_key(), run.id) {
        StopRequest::Sent { pid } => Some(pid),
        StopRequest::NotHeld => fail!(
            Conflict,
            "run {} is starting or ending; try again in a moment",
            run.id
        ),
        // Gone between the look-up and the request: the run ended by itself, or its
        // supervisor died and the run is about to be found lost. Its record says which.
        StopRequest::Gone => {
            tracing::info!(
                run = run.id,
                "its supervisor is gone; waiting for the run's end to be recorded"
            );
            None
        }
        StopRequest::Refused { pid, why } => fail!(
            Failed,
            "can't signal the supervisor of run {} (pid {pid}): {why}",
            run.id
        ),
    };
    let deadline = Instant::now() + e.cfg.runner.kill_grace + Duration::from_secs(15);
    loop {
        if let Some(r) = e.store.get_run(run.id)?.filter(|r| !r.is_running()) {
            if sent.is_none() {
                return Err(not_running(&r, false));
            }
            return Ok(r);
        }
        if Instant::now() > deadline {
            match sent {
                None => fail!(
                    Failed,
                    "run {} is still recorded running, but its supervisor is gone and its job lock is still held",
                    run.id
                ),
                Some(pid) => fail!(
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
