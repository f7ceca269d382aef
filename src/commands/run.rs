//! `jobctl run`: the tick. Starts every due job and returns; `--wait` stays for the
//! results, `--dry-run` explains, `--force --job NAME` is `jobctl force NAME`.

use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Result;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::cli::Global;
use crate::exec::process::interrupted_exit;
use crate::exit_code::code;
use crate::output::{Ui, human_duration};
use crate::store::{RunRecord, Store};
use crate::tick::{self, Held, TickResult};
use crate::{bail_code, config, core::clock, plan};

pub fn execute(
    g: &Global,
    ui: &Ui,
    job: Option<&str>,
    force: bool,
    dry_run: bool,
    wait: bool,
) -> Result<u8> {
    if force {
        let Some(name) = job else {
            bail_code!(
                code::USAGE,
                "--force needs --job NAME (or use: jobctl force NAME)"
            );
        };
        return super::force::execute(g, ui, name);
    }
    let cfg = config::load(g.config.as_deref())?;
    if let Some(name) = job {
        cfg.job(name)?;
    }
    if dry_run {
        return dry(cfg, ui, job);
    }
    super::warn_if_root();
    if wait {
        // Before the tick, so a signal during it is not lost: runs it starts get it too.
        catch_stop_signals();
    }
    let (started, held) = match tick::tick(cfg, job)? {
        TickResult::Busy(pid) => {
            let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            tracing::warn!("another jobctl run holds the lock{who}");
            if ui.json {
                ui.print_json(&serde_json::json!({"started": [], "busy": true, "holder_pid": pid}));
            }
            return Ok(code::OK);
        }
        TickResult::Done { started, held } => (started, held),
    };
    let held_json: Vec<serde_json::Value> = held
        .iter()
        .map(|h| match h {
            Held::StillRunning(j) => serde_json::json!({"job": j, "reason": "still running"}),
            Held::MaxRunning(j) => serde_json::json!({"job": j, "reason": "max_running"}),
        })
        .collect();
    if !wait {
        if ui.json {
            let list: Vec<serde_json::Value> = started
                .iter()
                .map(|s| serde_json::json!({"run_id": s.run.id, "job": s.run.job, "pid": s.supervisor.id()}))
                .collect();
            ui.print_json(&serde_json::json!({"started": list, "held": held_json}));
        } else if !ui.quiet {
            for s in &started {
                ui.print(&format!(
                    "started {} (run {}, supervisor pid {})",
                    s.run.job,
                    s.run.id,
                    s.supervisor.id()
                ));
            }
        }
        return Ok(code::OK);
    }
    let store = Store::open(&cfg.runner.state_dir)?;
    let interrupted = wait_for_supervisors(&mut started_children(&started));
    let mut records = Vec::new();
    let mut worst = code::OK;
    for s in started {
        let r = store.get_run(s.run.id)?.unwrap_or(s.run);
        if r.status != crate::core::run::RunStatus::Succeeded {
            worst = code::FAILURE;
        }
        if !ui.json {
            ui.print(&end_line(&r));
        }
        records.push(super::history::run_json(&r));
    }
    if ui.json {
        ui.print_json(&serde_json::json!({"runs": records, "held": held_json}));
    }
    Ok(match interrupted {
        Some(sig) => interrupted_exit(sig),
        None => worst,
    })
}

fn started_children(started: &[tick::Started]) -> Vec<u32> {
    started.iter().map(|s| s.supervisor.id()).collect()
}

static GOT_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(sig: i32) {
    // The first one decides the exit code; a second doesn't change what was passed on.
    let _ = GOT_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

extern "C" fn ignore_signal(_: i32) {}

/// SIGINT/SIGTERM/SIGHUP to `run --wait` are noted, to be passed on to the supervisors it
/// starts; SIGUSR1/SIGUSR2 are ignored, so a stray one doesn't end it and leave nobody to
/// report the runs. Handlers, not `SIG_IGN`: exec resets them, so the supervisors don't
/// inherit them (they block these signals from exec on, until their own are installed).
fn catch_stop_signals() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    let note = SigAction::new(
        SigHandler::Handler(note_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let ignore = SigAction::new(
        SigHandler::Handler(ignore_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handlers only store into an atomic, or do nothing.
    unsafe {
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            let _ = sigaction(s, &note);
        }
        for s in [Signal::SIGUSR1, Signal::SIGUSR2] {
            let _ = sigaction(s, &ignore);
        }
    }
}

/// Waits for the supervisors `--wait` started. A stop signal to this process is passed on
/// to them (they stop their runs the way a timeout does and record them cancelled): SIGINT
/// as SIGINT, SIGTERM and SIGHUP (the terminal is gone) as SIGTERM. Returns the signal
/// this process got, when there was one.
fn wait_for_supervisors(pids: &mut Vec<u32>) -> Option<Signal> {
    let mut got = None;
    while !pids.is_empty() {
        let sig = GOT_SIGNAL.load(Ordering::SeqCst);
        if sig != 0 && got.is_none() {
            let s = Signal::try_from(sig).unwrap_or(Signal::SIGTERM);
            let pass = if s == Signal::SIGINT {
                Signal::SIGINT
            } else {
                Signal::SIGTERM
            };
            for p in pids.iter() {
                let _ = nix::sys::signal::kill(Pid::from_raw(*p as i32), pass);
            }
            got = Some(s);
        }
        pids.retain(|p| {
            !matches!(
                waitpid(Pid::from_raw(*p as i32), Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(_)
            )
        });
        if !pids.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    got
}

/// One line per ended run: job, run id, status, exit, duration.
pub fn end_line(r: &RunRecord) -> String {
    let exit = match (r.exit_code, r.signal) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "exit -".into(),
    };
    let mut line = format!(
        "{}  run {}  {}  {}  {}",
        r.job,
        r.id,
        r.status,
        exit,
        human_duration(r.duration_ms)
    );
    if r.status != crate::core::run::RunStatus::Succeeded
        && let Some(e) = &r.error
    {
        line.push_str(&format!("  ({e})"));
    }
    line
}

fn dry(cfg: &config::Config, ui: &Ui, only: Option<&str>) -> Result<u8> {
    let store = Store::open(&cfg.runner.state_dir)?;
    let now = clock::now()?;
    let states = store.job_states()?;
    let prev_tick = store.last_tick()?;
    let running = store.running_ids()?;
    let mut rows = Vec::new();
    let mut due_count = 0usize;
    for (name, job) in &cfg.jobs {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let p = plan::evaluate(job, states.get(name), prev_tick, now);
        let mut why = plan::explain(&p);
        let due = matches!(p, plan::Plan::Due { .. });
        if due {
            if let Some(id) = running.get(name) {
                why = format!("due, but still running (run {id}): waits for a later tick");
            } else if running.len() + due_count >= cfg.runner.max_running as usize {
                why = format!(
                    "due, but held back by max_running = {}",
                    cfg.runner.max_running
                );
            } else {
                due_count += 1;
            }
        }
        if ui.json {
            rows.push(serde_json::json!({"job": name, "due": due, "reason": why}));
        } else {
            ui.print(&format!("{name}: {why}"));
        }
    }
    if ui.json {
        ui.print_json(&serde_json::Value::Array(rows));
    }
    Ok(code::OK)
}
