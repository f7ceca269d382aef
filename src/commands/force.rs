//! `jobctl force NAME`: run a job now, in the foreground, output streamed, its result as
//! the exit code. Due or not, enabled or not, paused or not; the schedule doesn't move.

use anyhow::Result;

use crate::cli::Global;
use crate::exit_code::{self, code};
use crate::lock::JobLock;
use crate::output::Ui;
use crate::store::{NewRun, Store};
use crate::supervisor::{self, process::Echo};
use crate::{bail_code, clock, config};

pub fn execute(g: &Global, ui: &Ui, name: &str) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let job = cfg.job(name)?;
    super::warn_if_root();
    let mut store = Store::open(&cfg.runner.state_dir)?;
    crate::recovery::recover(cfg, &mut store)?;
    let Some(lock) = JobLock::try_acquire(&store.dir, name)? else {
        let holder = JobLock::holder(&store.dir, name);
        let run = store.running_runs()?.into_iter().find(|r| r.job == name);
        let id = run.as_ref().map(|r| r.id).or(holder.run_id);
        let pid = holder
            .pid
            .map(i64::from)
            .or(run.and_then(|r| r.supervisor_pid));
        let id = id.map(|i| i.to_string()).unwrap_or_else(|| "?".into());
        let pid = pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into());
        bail_code!(
            code::BUSY,
            "job {name} is already running (run {id}, pid {pid})"
        );
    };
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
    let echo = if ui.json { Echo::Stderr } else { Echo::Stdout };
    let done = supervisor::supervise(cfg, &mut store, job, run, lock, echo)?;
    let r = &done.record;
    if ui.json {
        ui.print_json(&super::history::run_json(r));
    } else if !ui.quiet {
        eprintln!("{}", super::run::end_line(r));
    }
    Ok(match done.interrupted {
        Some(nix::sys::signal::Signal::SIGINT) => code::SIGINT,
        Some(_) => code::SIGTERM,
        None => exit_code::of_run(&r.status, r.exit_code, r.signal),
    })
}
