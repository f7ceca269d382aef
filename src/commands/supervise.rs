//! `jobctl supervise RUN_ID --lock-fd N` (internal): the detached process the tick starts
//! for each run. It inherits the job lock on fd N and supervises the run to its end.
//!
//! It starts with SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 blocked (the tick set the
//! mask before exec); `Signals::register` unblocks them once they are handled, so a
//! `cancel` or a `run --wait` interrupt that comes while it starts is not its death.

use std::path::Path;

use anyhow::Result;

use crate::cli::Global;
use crate::coord::flock::{JobLock, job_lock_path};
use crate::exec::{process, process::Echo};
use crate::store::{RunEnd, Store};
use crate::supervisor;
use crate::{config, core::clock};

pub fn execute(g: &Global, run_id: i64, lock_fd: i32, state_dir: &Path) -> Result<u8> {
    let mut store = Store::open(state_dir)?;
    let Some(run) = store.get_run(run_id)? else {
        anyhow::bail!("run {run_id} is not in {}", state_dir.display());
    };
    // SAFETY: the tick passed this descriptor to this process alone.
    let lock = unsafe { JobLock::from_inherited_fd(lock_fd, job_lock_path(state_dir, &run.job)) };
    let fail = |store: &mut Store, error: String| -> Result<u8> {
        store.finish_run(
            run_id,
            &RunEnd {
                status: crate::core::run::RunStatus::Failed,
                ended_at: clock::to_ms(clock::real_now()),
                error: Some(error),
                ..Default::default()
            },
        )?;
        Ok(1)
    };
    let cfg = match config::load(g.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            return fail(
                &mut store,
                format!("the config became invalid before the run started: {e:#}"),
            );
        }
    };
    let Some(job) = cfg.jobs.get(&run.job) else {
        return fail(
            &mut store,
            format!(
                "job {} was removed from the config before its run started",
                run.job
            ),
        );
    };
    let done = supervisor::supervise(cfg, &mut store, job, run, lock, Echo::Off)?;
    Ok(match done.interrupted {
        Some(sig) => process::interrupted_exit(sig),
        None => u8::from(done.record.status != crate::core::run::RunStatus::Succeeded),
    })
}
