//! `jobctl cancel`: stop a running run the way a timeout does and record it `cancelled`.
//! The run's supervisor does the stopping; this asks it to (SIGTERM) and waits.

use std::time::{Duration, Instant};

use anyhow::Result;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cli::Global;
use crate::coord::flock::JobLock;
use crate::exit_code::code;
use crate::output::Ui;
use crate::store::Store;
use crate::{bail_code, config};

pub fn execute(g: &Global, ui: &Ui, run_id: Option<i64>, job: Option<&str>) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let mut store = Store::open(&cfg.runner.state_dir)?;
    let lost = crate::recovery::recover(cfg, &mut store)?;
    let run = match (run_id, job) {
        (Some(id), _) => store.get_run(id)?,
        (None, Some(j)) => store
            .running_runs()?
            .into_iter()
            .find(|r| r.job == j)
            .or(store.latest_run(j)?),
        _ => None,
    };
    let Some(run) = run else {
        match (run_id, job) {
            (Some(id), _) => bail_code!(code::FAILURE, "no run {id} in the history"),
            (_, Some(j)) => bail_code!(code::FAILURE, "job {j} has no running run"),
            _ => bail_code!(code::USAGE, "give a RUN_ID or --job NAME"),
        }
    };
    if run.status != crate::core::run::RunStatus::Running {
        let note = if lost.contains(&run.id) {
            " (its supervisor was gone: closed as lost)"
        } else {
            ""
        };
        bail_code!(
            code::FAILURE,
            "run {} of {} is not running: it ended {}{note}",
            run.id,
            run.job,
            run.status
        );
    }
    // Signal only the process that holds the job's lock for this run: a pid from the db
    // alone could have been reused by an unrelated process.
    let holder = JobLock::holder(&store.dir, run.lock_key());
    let pid = match (holder.pid, holder.run_id) {
        (Some(p), Some(r)) if r == run.id => p,
        _ => bail_code!(
            code::FAILURE,
            "run {} is starting or ending; try again in a moment",
            run.id
        ),
    };
    let mut sent = true;
    match kill(Pid::from_raw(pid as i32), Signal::SIGTERM) {
        Ok(()) => {}
        // Gone between the look-up and the signal: the run ended by itself, or its
        // supervisor died and the run is about to be found lost. Its record says which.
        Err(Errno::ESRCH) => {
            sent = false;
            tracing::info!(
                run = run.id,
                "its supervisor (pid {pid}) is gone; waiting for the run's end to be recorded"
            );
        }
        Err(e) => bail_code!(
            code::FAILURE,
            "can't signal the supervisor of run {} (pid {pid}): {e}",
            run.id
        ),
    }
    let deadline = Instant::now() + cfg.runner.kill_grace + Duration::from_secs(15);
    loop {
        let r = store.get_run(run.id)?;
        if let Some(r) = r.filter(|r| r.status != crate::core::run::RunStatus::Running) {
            if !sent {
                let note = if r.status == crate::core::run::RunStatus::Lost {
                    " (its supervisor was gone: closed as lost)"
                } else {
                    ""
                };
                bail_code!(
                    code::FAILURE,
                    "run {} of {} is not running: it ended {}{note}",
                    r.id,
                    r.job,
                    r.status
                );
            }
            if ui.json {
                ui.print_json(&super::history::run_json(&r));
            } else {
                ui.print(&format!(
                    "cancelled run {} of {}: {}",
                    r.id, r.job, r.status
                ));
            }
            return Ok(code::OK);
        }
        if Instant::now() > deadline && !sent {
            bail_code!(
                code::FAILURE,
                "run {} is still recorded running, but its supervisor (pid {pid}) is gone and its job lock is still held",
                run.id
            );
        }
        if Instant::now() > deadline {
            bail_code!(
                code::FAILURE,
                "run {} did not stop in time; its supervisor is pid {pid}",
                run.id
            );
        }
        std::thread::sleep(Duration::from_millis(50));
        crate::recovery::recover(cfg, &mut store)?;
    }
}
