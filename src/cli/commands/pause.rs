//! `jobctl pause` / `jobctl resume`: stop a running run's whole process tree (its timeout
//! clock with it) or continue a paused one.

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::{Result, code};
use crate::core::run::Actor;
use crate::engine::cancel::Target;
use crate::engine::control;

pub(crate) fn execute(
    g: &Global,
    ui: &Ui,
    run_id: Option<i64>,
    job: Option<&str>,
    pause: bool,
) -> Result<u8> {
    let mut e = super::engine(g)?;
    let target = match (run_id, job) {
        (Some(id), _) => Target::Run(id),
        (None, Some(j)) => Target::Job(j),
        (None, None) => crate::fail!(Usage, "give a RUN_ID or --job NAME"),
    };
    let done = if pause {
        control::pause(&mut e, target, &Actor::Cli)?
    } else {
        control::resume(&mut e, target, &Actor::Cli)?
    };
    if ui.json {
        match target {
            Target::Run(_) => ui.print_view(&done[0]),
            Target::Job(_) => ui.print_view(&done),
        }
        return Ok(code::OK);
    }
    for c in &done {
        let r = &c.record;
        let what = if pause { "paused" } else { "resumed" };
        if c.changed {
            ui.print(&format!("{what} run {} of {}", r.id, r.job));
        } else {
            ui.print(&format!(
                "run {} of {} is already {}",
                r.id, r.job, r.status
            ));
        }
    }
    Ok(code::OK)
}
