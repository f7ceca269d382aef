//! `jobctl submit JOB`: queue a run of a job, started as soon as a slot is free. From
//! inside a run (`JOBCTL_RUN_ID` of this state directory) it is a sub-run of that run.
//! Prints the run id, or with `--wait` waits and exits as `force` would.

use std::io::Write;

use serde::Serialize;

use crate::cli::args::Global;
use crate::cli::output::{Ui, end_line};
use crate::core::error::{Result, code, exit_code_of_run};
use crate::core::run::{Actor, RunRecord, RunStatus};
use crate::engine::Engine;
use crate::engine::submit::{self, Submit};
use crate::engine::views::RunView;

#[derive(Serialize)]
struct Submitted {
    run_id: i64,
    job: String,
    status: RunStatus,
    parent_run_id: Option<i64>,
    depth: u32,
}

pub(crate) fn execute(
    g: &Global,
    ui: &Ui,
    name: &str,
    wait: bool,
    prompt: Option<&str>,
    env: &[String],
) -> Result<u8> {
    let mut e = super::engine(g)?;
    let mut vars = Vec::with_capacity(env.len());
    for kv in env {
        let Some((k, v)) = kv.split_once('=') else {
            crate::fail!(Usage, "--env {kv:?}: expected K=V");
        };
        vars.push((k.to_string(), v.to_string()));
    }
    let req = Submit {
        job: name,
        parent: crate::engine::env::calling_run(e.state_dir()),
        prompt,
        env: vars,
        wait,
        metadata: None,
        rerun_of: None,
    };
    let run = submit::submit(&mut e, &req, &Actor::Cli)?;
    answer(&mut e, ui, &run, wait)
}

/// Prints a run just queued (its id), or with `wait` waits for its end and exits as
/// `force` would: what `submit` and `rerun` answer.
pub(super) fn answer(e: &mut Engine<'_>, ui: &Ui, run: &RunRecord, wait: bool) -> Result<u8> {
    if !wait {
        if ui.json {
            ui.print_view(&Submitted {
                run_id: run.id,
                job: run.job.clone(),
                status: run.status,
                parent_run_id: run.parent_run_id,
                depth: run.depth,
            });
        } else {
            ui.print(&run.id.to_string());
        }
        return Ok(code::OK);
    }
    let r = submit::wait(e, run.id)?;
    if ui.json {
        ui.print_view(&RunView::from(&r));
    } else if !ui.quiet {
        let _ = writeln!(std::io::stderr(), "{}", end_line(&r));
    }
    Ok(exit_code_of_run(r.status, r.exit_code, r.signal))
}
