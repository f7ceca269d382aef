//! `jobctl run`: the tick. Starts every due job and returns; `--wait` stays for the
//! results, `--dry-run` explains, `--force --job NAME` is `jobctl force NAME`.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde::Serialize;

use crate::cli::args::Global;
use crate::cli::output::{Ui, end_line};
use crate::core::error::{Result, code};
use crate::core::run::{Actor, RunRecord, RunStatus};
use crate::engine::tick::{self, HeldView, TickResult};
use crate::engine::views::{self, RunView};
use crate::exec::process::interrupted_exit;
use crate::fail;

#[derive(Serialize)]
struct BusyView {
    started: [(); 0],
    busy: bool,
    holder_pid: Option<u32>,
}

#[derive(Serialize)]
struct StartedView<'a> {
    run_id: i64,
    job: &'a str,
    pid: u32,
}

#[derive(Serialize)]
struct QueuedView<'a> {
    run_id: i64,
    job: &'a str,
}

#[derive(Serialize)]
struct TickView<'a> {
    started: Vec<StartedView<'a>>,
    queued: Vec<QueuedView<'a>>,
    held: Vec<HeldView<'a>>,
}

#[derive(Serialize)]
struct WaitView<'a> {
    runs: Vec<RunView>,
    held: Vec<HeldView<'a>>,
}

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
            fail!(
                Usage,
                "--force needs --job NAME (or use: jobctl force NAME)"
            );
        };
        return super::force::execute(g, ui, name);
    }
    let cfg = crate::cli::load_config(g)?;
    if let Some(name) = job {
        cfg.job(name)?;
    }
    let mut e = crate::engine::Engine::open(cfg)?;
    if dry_run {
        let rows = views::dry_run(&mut e, job)?;
        if ui.json {
            ui.print_view(&rows);
        } else {
            for r in &rows {
                ui.print(&format!("{}: {}", r.job, r.reason));
            }
        }
        return Ok(code::OK);
    }
    if wait {
        // Before the tick, so a signal during it is not lost: runs it starts get it too.
        catch_stop_signals();
    }
    let (started, queued, held, next) = match tick::tick(&mut e, job)? {
        TickResult::Busy(pid) => {
            let who = match pid {
                Some(p) => format!(" (pid {p})"),
                None => " (its holder could not be named)".into(),
            };
            tracing::warn!("another jobctl run holds the lock{who}");
            if ui.json {
                ui.print_view(&BusyView {
                    started: [],
                    busy: true,
                    holder_pid: pid,
                });
            }
            return Ok(code::OK);
        }
        TickResult::Done {
            started,
            queued,
            held,
            next,
        } => (started, queued, held, next),
    };
    if !started.is_empty() {
        super::warn_if_root(cfg);
    }
    let held_views = || held.iter().map(HeldView::from).collect::<Vec<_>>();
    let say = |line: String| {
        if !ui.json && !ui.quiet {
            ui.print(&line);
        }
    };
    for s in &started {
        say(format!(
            "started {} (run {}, supervisor pid {})",
            s.run.job,
            s.run.id,
            s.supervisor.id()
        ));
    }
    for r in &queued {
        say(format!(
            "queued {} (run {}): max_running = {} is reached; it starts when a run ends",
            r.job, r.id, cfg.runner.max_running
        ));
    }
    if started.is_empty() && queued.is_empty() && held.is_empty() {
        // Nothing silent: what was (not) done, and why.
        match job {
            Some(name) => {
                let why = views::dry_run(&mut e, Some(name))?
                    .into_iter()
                    .next()
                    .map(|r| r.reason)
                    .unwrap_or_default();
                say(format!("{name}: {why} (jobctl force {name} runs it now)"));
            }
            None => say(match &next {
                Some((j, t)) => {
                    let ms = t.as_millisecond();
                    format!(
                        "nothing due; next: {j} at {}",
                        ui.time(ms, crate::core::clock::to_ms(crate::core::clock::now()?))
                            .replace(" (", ", ")
                            .trim_end_matches(')')
                    )
                }
                None => "nothing due, and no job has a next slot".into(),
            }),
        }
    }
    for h in &held {
        say(format!(
            "{}: due, but {}: waits for a later tick",
            h.job(),
            h.reason()
        ));
    }
    if !wait {
        if ui.json {
            ui.print_view(&TickView {
                started: started
                    .iter()
                    .map(|s| StartedView {
                        run_id: s.run.id,
                        job: &s.run.job,
                        pid: s.supervisor.id(),
                    })
                    .collect(),
                queued: queued
                    .iter()
                    .map(|r| QueuedView {
                        run_id: r.id,
                        job: &r.job,
                    })
                    .collect(),
                held: held_views(),
            });
        }
        return Ok(code::OK);
    }
    // As each run ends, its line.
    let by_pid: Vec<(u32, i64)> = started
        .iter()
        .map(|s| (s.supervisor.id(), s.run.id))
        .collect();
    let mut records = Vec::new();
    let mut worst = code::OK;
    let mut store_err = None;
    let mut interrupted = wait_for_supervisors(&mut started_children(&started), &mut |pid| {
        let Some((_, id)) = by_pid.iter().find(|(p, _)| *p == pid) else {
            return;
        };
        match e.store.get_run(*id) {
            Ok(Some(r)) => {
                if r.status != RunStatus::Succeeded {
                    worst = code::FAILURE;
                }
                say(end_line(&r));
                records.push(r);
            }
            Ok(None) => {}
            Err(err) => store_err = Some(err),
        }
    });
    if let Some(err) = store_err {
        return Err(err);
    }
    // The queued runs start under other supervisors, as slots free: waited for through
    // the store; an interrupt cancels them (those not started yet never start).
    let mut waiting: Vec<i64> = queued.iter().map(|r| r.id).collect();
    let mut queued_ended = |r: RunRecord| {
        if r.status != RunStatus::Succeeded {
            worst = code::FAILURE;
        }
        say(end_line(&r));
        records.push(r);
    };
    if interrupted.is_none() {
        interrupted = wait_for_queued(&mut e, &mut waiting, &mut queued_ended)?;
    }
    for id in waiting {
        let Some(now) = e.store.get_run(id)? else {
            continue;
        };
        if !now.status.is_end() {
            crate::engine::tree::cancel_one(
                &mut e,
                &now,
                &Actor::Cli,
                "cancelled: jobctl run --wait was interrupted",
            )?;
        }
        queued_ended(e.store.get_run(id)?.unwrap_or(now));
    }
    if ui.json {
        // In the order they started.
        records.sort_by_key(|r| r.id);
        ui.print_view(&WaitView {
            runs: records.iter().map(RunView::from).collect(),
            held: held_views(),
        });
    }
    Ok(match interrupted {
        Some(sig) => interrupted_exit(sig),
        None => worst,
    })
}

/// Waits for the queued runs `ids` to end, handing each to `ended` as it does (and
/// taking it out of `ids`), unless a stop signal comes first (then that signal, and `ids`
/// holds those not ended).
fn wait_for_queued(
    e: &mut crate::engine::Engine<'_>,
    ids: &mut Vec<i64>,
    ended: &mut dyn FnMut(RunRecord),
) -> Result<Option<Signal>> {
    let mut next_recovery = std::time::Instant::now();
    while !ids.is_empty() {
        let sig = GOT_SIGNAL.load(Ordering::SeqCst);
        if sig != 0 {
            return Ok(Some(Signal::try_from(sig).unwrap_or(Signal::SIGTERM)));
        }
        let mut i = 0;
        while i < ids.len() {
            match e.store.get_run(ids[i])? {
                Some(r) if !r.status.is_end() => i += 1,
                Some(r) => {
                    ids.remove(i);
                    ended(r);
                }
                None => {
                    ids.remove(i);
                }
            }
        }
        if std::time::Instant::now() >= next_recovery {
            e.recover()?;
            next_recovery = std::time::Instant::now() + std::time::Duration::from_secs(1);
        }
        if !ids.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    Ok(None)
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
fn wait_for_supervisors(pids: &mut Vec<u32>, ended: &mut dyn FnMut(u32)) -> Option<Signal> {
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
            let done = matches!(
                waitpid(Pid::from_raw(*p as i32), Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(_)
            );
            if done {
                ended(*p);
            }
            !done
        });
        if !pids.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    got
}
