//! Closing runs whose supervisor vanished (SIGKILL, OOM, power loss), and starting the
//! queued runs that nobody started. Any command that reads runs recovers first: a run the
//! store says a supervisor holds (running, paused, waiting to retry) whose lease nobody
//! holds has lost its supervisor. Its leftover processes are killed (nobody enforces
//! their timeout any more; stopped ones too), it is closed as `lost` while this process
//! holds the lease, so no new run of the job can start in between, and its children are
//! cancelled as its end would have. A worktree it left is marked kept (it may hold the
//! job's unsaved work). Its `post_run` and `on_failure` hooks and the worktree's size are
//! left to a detached process the closing command starts ([`super::after_lost`]): the
//! command may be a read, which answers at once. Then the queue is drained: a process
//! that freed a slot and died before starting the next run leaves nothing waiting for
//! longer than the next command.

use std::time::Duration;

use super::Engine;
use super::env::run_marks;
use crate::core::clock;
use crate::core::error::Result;
use crate::core::run::{Actor, EventKind, RunEnd, RunRecord, RunStatus, is_own_lease};
use crate::exec::proctree::{self, RunIdentity};

/// Closes lost runs, then starts what waits in the queue; returns the lost runs' ids.
pub(crate) fn recover(e: &mut Engine<'_>) -> Result<Vec<i64>> {
    let lost = recover_lost(e)?;
    if let Err(err) = super::queue::drain(e, &Actor::Recovery) {
        tracing::warn!("can't start the queued runs: {err}");
    }
    Ok(lost)
}

/// Closes the runs whose supervisor vanished; returns their ids.
pub(crate) fn recover_lost(e: &mut Engine<'_>) -> Result<Vec<i64>> {
    let mut lost = Vec::new();
    for run in e.store.supervised_runs()? {
        let Some(lease) = e.coord.try_lease(run.lock_key())? else {
            continue; // held: a supervisor is alive
        };
        // Re-read under the lease: the supervisor may have closed it just before exiting.
        if e.store
            .get_run(run.id)?
            .is_none_or(|r| !r.status.is_supervised())
        {
            continue;
        }
        let closed = close_lost(e, &run)?;
        lost.push(run.id);
        if is_own_lease(run.lock_name.as_deref()) {
            lease.remove(); // an ask's lease is never taken again
        } else {
            drop(lease);
        }
        if let Some(closed) = closed {
            super::tree::on_end(e, &closed, &Actor::Recovery);
        }
    }
    Ok(lost)
}

fn close_lost(e: &mut Engine<'_>, run: &RunRecord) -> Result<Option<RunRecord>> {
    // On Linux by environment marks only: after a reboot the stored process group number
    // may belong to someone else. Elsewhere the group is all there is to go on.
    let id = RunIdentity {
        pgid: if cfg!(target_os = "linux") {
            None
        } else {
            run.pgid.map(|p| p as i32)
        },
        env_marks: run_marks(e.state_dir(), run.id),
        ancestor: None,
        // The run's start is known only as wall time: read every environment.
        not_before: None,
        foreign: Some(proctree::supervisor_mark()),
    };
    let left = proctree::members(&id);
    if !left.is_empty() {
        tracing::warn!(run = run.id, job = %run.job, processes = left.len(), "killing what is left of a lost run");
        proctree::terminate(
            &id,
            e.cfg.runner.kill_grace.min(Duration::from_secs(2)),
            Duration::from_secs(10),
            &mut |_| {},
        );
    }
    let who = run
        .supervisor_pid
        .map(|p| format!(" (pid {p})"))
        .unwrap_or_default();
    let mut end = RunEnd::new(RunStatus::Lost, clock::to_ms(clock::real_now()));
    end.error = Some(format!("its supervisor{who} vanished; closed as lost").into());
    end.attempts = run.attempts.clone();
    end.refund_unstarted = true;
    end.by = Actor::Recovery;
    let here = crate::engine::workspace::cleanup::here(e, run);
    end.workspace = crate::engine::workspace::left::left_behind(run, here, false);
    let kept = end.workspace.as_ref().filter(|w| w.kept).cloned();
    let Some(closed) = e.store.finish_run(run.id, &end)? else {
        return Ok(None); // closed meanwhile by someone else
    };
    if let Some(ws) = kept {
        tracing::warn!(
            run = run.id,
            "kept the worktree {} of the lost run",
            ws.path
        );
        e.store.append_event(
            clock::to_ms(clock::real_now()),
            EventKind::WorkspaceKept,
            Some(&run.job),
            Some(run.id),
            &serde_json::json!({"path": ws.path, "branch": ws.branch, "status": RunStatus::Lost}),
        )?;
    }
    super::after_lost::hand_off(e, &closed);
    Ok(Some(closed))
}
