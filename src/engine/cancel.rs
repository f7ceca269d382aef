//! Cancelling a run: its supervisor stops it the way a timeout does (TERM, grace, KILL,
//! the whole tree) and records it `cancelled`; this asks it to, through the coordinator,
//! and waits for the end to be recorded.

use std::time::{Duration, Instant};

use super::Engine;
use crate::coord::StopRequest;
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{EventKind, RunEnd, TREE_STOPPED};
use crate::core::run::{RunRecord, RunStatus};
use crate::fail;
use crate::store::Store;

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
    if let Target::Job(j) = target
        && j != "ask"
        && !e.cfg.jobs.contains_key(j)
        && e.store.latest_run(j)?.is_none()
    {
        fail!(NotFound, "{}", e.cfg.no_such_job(j));
    }
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
    // Said before the signal, so the supervisor finds who asked when it records the end.
    e.store.append_event(
        to_ms(clock::real_now()),
        EventKind::CancelRequested,
        Some(&run.job),
        Some(run.id),
        &serde_json::json!({"by": {"user": user_name(), "pid": std::process::id()}}),
    )?;
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

/// The name of the user this process runs as (its uid when it has none).
fn user_name() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// Who asked, when `jobctl cancel` asked for `run_id` to be stopped: `jobctl cancel (user
/// alice, pid 4242)`.
pub fn canceller(store: &dyn Store, run_id: i64) -> Option<String> {
    let ev = store
        .events(Some(EventKind::CancelRequested), 50)
        .ok()?
        .into_iter()
        .find(|ev| ev.run_id == Some(run_id))?;
    let by = &ev.detail["by"];
    Some(format!(
        "jobctl cancel (user {}, pid {})",
        by["user"].as_str().unwrap_or("?"),
        by["pid"]
            .as_i64()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into())
    ))
}

/// A run ended `cancelled` says who stopped it: `cancelled by jobctl cancel (user alice,
/// pid 4242); stopped the process tree with SIGTERM`, or, for a signal from anyone else
/// (a shutdown, a `kill`), that it was not `jobctl cancel`.
pub fn name_the_canceller(store: &dyn Store, run_id: i64, end: &mut RunEnd) {
    if end.status != crate::core::run::RunStatus::Cancelled {
        return;
    }
    let Some(who) = canceller(store, run_id) else {
        if let Some(e) = end.error.as_mut()
            && let Some((head, how)) = e.split_once(TREE_STOPPED)
        {
            *e = format!(
                "{head} (a shutdown or a signal sent to it, not jobctl cancel){TREE_STOPPED}{how}"
            );
        }
        return;
    };
    let how = end
        .error
        .as_deref()
        .and_then(|e| e.split_once(TREE_STOPPED))
        .map(|(_, how)| format!("{TREE_STOPPED}{how}"))
        .unwrap_or_default();
    end.error = Some(format!("cancelled by {who}{how}"));
}
