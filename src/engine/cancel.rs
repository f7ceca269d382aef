//! Cancelling a run and its whole subtree: a supervised run's supervisor stops it the way
//! a timeout does (TERM, grace, KILL, the whole tree) and records it `cancelled`; a queued
//! run is closed at once; a retry waiting out its backoff is closed by its supervisor.
//! This asks (through the coordinator, having recorded who asks) and waits until every
//! one of them is recorded ended.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::Engine;
use super::tree;
use crate::coord::StopRequest;
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{ASK_JOB, Actor, EventKind, RunEnd, RunRecord, RunStatus};
use crate::fail;
use crate::store::Store;

/// Which run to cancel.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
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
pub(crate) fn cancel(e: &mut Engine<'_>, target: Target<'_>, by: &Actor) -> Result<RunRecord> {
    let lost = e.recover()?;
    if let Target::Job(j) = target
        && j != ASK_JOB
        && !e.cfg.jobs.contains_key(j)
        && e.store.latest_run(j)?.is_none()
    {
        fail!(NotFound, "{}", e.cfg.no_such_job(j));
    }
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
    // Who asked, as the run's end will say it (on whichever host it runs: the host that
    // asked is named where several share the state).
    let on_host = e
        .host
        .as_deref()
        .map(|h| format!(" on host {h}"))
        .unwrap_or_default();
    let reason = match by {
        Actor::Cli => format!(
            "cancelled by jobctl cancel (user {}, pid {}{on_host})",
            user_name(),
            std::process::id()
        ),
        other => format!("cancelled by {other}"),
    };
    // Below it first: a child's supervisor is asked before the parent's end would.
    let mut asked: HashSet<i64> = HashSet::new();
    cancel_below(e, &run, by, &mut asked)?;
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
        // The subtree as it is now: a run below may have submitted a run meanwhile.
        let open_below = cancel_below(e, &run, by, &mut asked)?;
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

/// Asks for every run below `run` not ended yet to be cancelled, once each (`asked`
/// remembers which were); returns how many are not ended.
fn cancel_below(
    e: &mut Engine<'_>,
    run: &RunRecord,
    by: &Actor,
    asked: &mut HashSet<i64>,
) -> Result<usize> {
    let open: Vec<RunRecord> = e
        .store
        .descendants(run.id)?
        .into_iter()
        .filter(|r| !r.status.is_end())
        .collect();
    for r in &open {
        if !asked.insert(r.id) {
            continue;
        }
        let why = format!("cancelled: an ancestor, run {}, was cancelled", run.id);
        if let Err(err) = tree::cancel_one(e, r, by, &why) {
            tracing::warn!(run = r.id, "can't cancel a run below run {}: {err}", run.id);
        }
    }
    Ok(open.len())
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

/// Records who asks for `run` to be cancelled, and why, before its supervisor is asked:
/// the supervisor finds it when it records the end (`{by: {user, pid, host}, actor,
/// reason}`; `host` where several hosts share the state).
pub(crate) fn record_request(
    e: &mut Engine<'_>,
    run: &RunRecord,
    by: &Actor,
    reason: &str,
) -> Result<()> {
    let mut who = serde_json::json!({"user": user_name(), "pid": std::process::id()});
    if let Some(h) = &e.host {
        who["host"] = h.clone().into();
    }
    e.store.append_event(
        to_ms(clock::real_now()),
        EventKind::CancelRequested,
        Some(&run.job),
        Some(run.id),
        &serde_json::json!({
            "by": who,
            "actor": by,
            "reason": reason,
        }),
    )
}

/// Why `run_id` was cancelled, when a cancel was asked for: `cancelled by jobctl cancel
/// (user alice, pid 4242)` (`... pid 4242 on host b` where several hosts share the
/// state), `cancelled: its parent run 12 ended failed`, ...
pub(crate) fn canceller(store: &dyn Store, run_id: i64) -> Option<String> {
    let events = store.run_events(run_id).ok()?;
    let ev = events
        .iter()
        .rev()
        .find(|ev| ev.kind == EventKind::CancelRequested)?;
    if let Some(reason) = ev.detail["reason"].as_str() {
        return Some(reason.to_string());
    }
    let by = &ev.detail["by"];
    Some(format!(
        "cancelled by jobctl cancel (user {}, pid {}{})",
        by["user"].as_str().unwrap_or("?"),
        by["pid"]
            .as_i64()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into()),
        by["host"]
            .as_str()
            .map(|h| format!(" on host {h}"))
            .unwrap_or_default()
    ))
}

/// A run ended `cancelled` by a stop signal says who stopped it: `cancelled by jobctl
/// cancel (user alice, pid 4242); stopped the process tree with SIGTERM`, or, for a signal
/// from anyone else (a shutdown, a `kill`), that it was not `jobctl cancel`.
pub(crate) fn name_the_canceller(store: &dyn Store, run_id: i64, end: &mut RunEnd) {
    if end.status != RunStatus::Cancelled {
        return;
    }
    end.name_canceller(canceller(store, run_id));
}
