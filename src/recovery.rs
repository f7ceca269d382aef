//! Closing runs whose supervisor vanished (SIGKILL, OOM, power loss). Any `run`, `list`,
//! `status`, `history` or `logs` calls [`recover`] first: a run the db says is running
//! whose job lock nobody holds has lost its supervisor. Its leftover processes are killed
//! (nobody enforces their timeout any more), and it is closed as `lost`, while this
//! process holds the job lock, so no new run of the job can start in between.

use std::time::Duration;

use anyhow::Result;

use crate::config::Config;
use crate::coord::flock::JobLock;
use crate::core::clock;
use crate::exec::proctree::{self, RunIdentity};
use crate::store::{RunEnd, RunRecord, Store};

/// The environment entries that mark a run's processes.
pub fn env_marks(state_dir: &std::path::Path, run_id: i64) -> Vec<String> {
    vec![
        format!("JOBCTL_RUN_ID={run_id}"),
        format!("JOBCTL_STATE_DIR={}", state_dir.display()),
    ]
}

pub fn recover(cfg: &Config, store: &mut Store) -> Result<Vec<i64>> {
    let mut lost = Vec::new();
    for run in store.running_runs()? {
        let Some(lock) = JobLock::try_acquire(&store.dir, run.lock_key())? else {
            continue; // held: a supervisor is alive
        };
        // Re-read under the lock: the supervisor may have closed it just before exiting.
        if store
            .get_run(run.id)?
            .is_none_or(|r| r.status != crate::core::run::RunStatus::Running)
        {
            continue;
        }
        close_lost(cfg, store, &run)?;
        lost.push(run.id);
        if run.lock_name.is_some() {
            lock.remove(); // an ask's lock is never taken again
        }
    }
    Ok(lost)
}

fn close_lost(cfg: &Config, store: &mut Store, run: &RunRecord) -> Result<()> {
    // On Linux by environment marks only: after a reboot the stored process group number
    // may belong to someone else. Elsewhere the group is all there is to go on.
    let id = RunIdentity {
        pgid: if cfg!(target_os = "linux") {
            None
        } else {
            run.pgid.map(|p| p as i32)
        },
        env_marks: env_marks(&store.dir, run.id),
        ancestor: None,
        // The run's start is known only as wall time: read every environment.
        not_before: None,
    };
    let left = proctree::members(&id);
    if !left.is_empty() {
        tracing::warn!(run = run.id, job = %run.job, processes = left.len(), "killing what is left of a lost run");
        proctree::terminate(
            &id,
            cfg.runner.kill_grace.min(Duration::from_secs(2)),
            Duration::from_secs(10),
            &mut |_| {},
        );
    }
    let who = run
        .supervisor_pid
        .map(|p| format!(" (pid {p})"))
        .unwrap_or_default();
    store.finish_run(
        run.id,
        &RunEnd {
            status: crate::core::run::RunStatus::Lost,
            ended_at: clock::to_ms(clock::real_now()),
            error: Some(format!("its supervisor{who} vanished; closed as lost")),
            attempts: run.attempts.clone(),
            refund_unstarted: true,
            ..Default::default()
        },
    )?;
    Ok(())
}
