//! `jobctl run`: the tick. Starts every due job and returns; `--wait` stays for the
//! results, `--dry-run` explains, `--force --job NAME` is `jobctl force NAME`.

use serde::Serialize;

use crate::cli::args::Global;
use crate::cli::output::{Ui, end_line};
use crate::core::error::{Result, code};
use crate::core::run::RunStatus;
use crate::engine::tick::{self, HeldView, TickResult};
use crate::engine::views::{self, RunView};
use crate::engine::wait::Waiting;
use crate::exec::signal::interrupted_exit;
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

pub(crate) fn execute(
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
    // Before the tick, so a signal during it is not lost: runs it starts get it too.
    let waiting = if wait { Some(Waiting::listen()?) } else { None };
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
    let Some(waiting) = waiting else {
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
    };
    // As each run ends, its line.
    let mut waited = waiting.wait(&mut e, &started, &queued, &mut |r| say(end_line(r)))?;
    if ui.json {
        // In the order they started.
        waited.runs.sort_by_key(|r| r.id);
        ui.print_view(&WaitView {
            runs: waited.runs.iter().map(RunView::from).collect(),
            held: held_views(),
        });
    }
    let failed = waited.runs.iter().any(|r| r.status != RunStatus::Succeeded);
    Ok(match waited.interrupted {
        Some(sig) => interrupted_exit(sig),
        None if failed => code::FAILURE,
        None => code::OK,
    })
}
