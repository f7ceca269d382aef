//! `jobctl force NAME`: run a job now, in the foreground, output streamed, its result as
//! the exit code. Due or not, enabled or not, paused or not; the schedule doesn't move.

use std::io::Write;

use anyhow::Result;

use crate::cli::Global;
use crate::coord::flock::JobLock;
use crate::exec::{echo, process, process::Echo};
use crate::exit_code::{self, code};
use crate::output::Ui;
use crate::store::{NewRun, Store};
use crate::supervisor;
use crate::{bail_code, config, core::clock};

pub fn execute(g: &Global, ui: &Ui, name: &str) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let job = cfg.job(name)?;
    super::warn_if_root();
    let mut store = Store::open(&cfg.runner.state_dir)?;
    crate::recovery::recover(cfg, &mut store)?;
    let Some(lock) = JobLock::try_acquire(&store.dir, name)? else {
        bail_code!(code::BUSY, "{}", busy_message(&store, name)?);
    };
    // From here on a stop signal waits for the supervisor's handlers: one that killed this
    // process between recording the run and handling signals would leave it `lost`.
    process::block_stop_signals()?;
    let now = clock::to_ms(clock::real_now());
    let run = store.insert_run(&NewRun {
        job: name.to_string(),
        forced: true,
        scheduled_for: now,
        started_at: now,
        supervisor_pid: Some(std::process::id() as i64),
        scope: None,
        last_slot: None,
        lock_name: None,
    })?;
    let to = if ui.json { Echo::Stderr } else { Echo::Stdout };
    let done = supervisor::supervise(cfg, &mut store, job, run, lock, to);
    // What is still queued for the terminal comes before the end line.
    echo::finish();
    let done = done?;
    let r = &done.record;
    if ui.json {
        ui.print_json(&super::history::run_json(r));
    } else if !ui.quiet {
        // Not eprintln: after a hang-up stderr may be gone, and that is no reason to panic.
        let _ = writeln!(std::io::stderr(), "{}", super::run::end_line(r));
    }
    Ok(match done.interrupted {
        Some(sig) => process::interrupted_exit(sig),
        None => exit_code::of_run(r.status, r.exit_code, r.signal),
    })
}

/// Why `name` can't be forced now, saying only what is known: the run and its
/// supervisor's pid as the lock file and the db agree on them.
fn busy_message(store: &Store, name: &str) -> Result<String> {
    let holder = JobLock::holder(&store.dir, name);
    let Some(run) = store.running_runs()?.into_iter().find(|r| r.job == name) else {
        // Locked, yet no run recorded as running: one is being started or closed (or a
        // lost one recovered); the lock file may still name an earlier run.
        return Ok(format!(
            "job {name} is busy: another jobctl holds its lock (a run is starting or ending)"
        ));
    };
    let pid = match holder {
        h if h.run_id == Some(run.id) && h.pid.is_some() => h.pid.map(i64::from),
        _ => run.supervisor_pid,
    };
    Ok(match pid {
        Some(pid) => format!("job {name} is already running (run {}, pid {pid})", run.id),
        None => format!(
            "job {name} is already running (run {}, its supervisor is starting)",
            run.id
        ),
    })
}
