//! `jobctl configure`: pause and resume jobs (and, for agents, enable and disable scopes).

use anyhow::Result;

use crate::cli::Global;
use crate::exit_code::code;
use crate::output::Ui;
use crate::store::Store;
use crate::{bail_code, clock, config, plan};

pub fn job(g: &Global, ui: &Ui, name: &str, pause: bool) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let Some(job) = cfg.jobs.get(name) else {
        bail_code!(code::FAILURE, "no job named {name:?} in {}", cfg.path.display());
    };
    let mut store = Store::open(&cfg.runner.state_dir)?;
    let now = clock::now()?;
    // Resuming moves the schedule past the slots that passed while paused.
    let resume_slot = if pause { None } else { plan::passed_slot(job, store.job_state(name)?.as_ref(), now) };
    store.set_paused(name, pause, clock::to_ms(now), resume_slot)?;
    let state = if pause { "paused" } else { "resumed" };
    if ui.json {
        ui.print_json(&serde_json::json!({"job": name, "paused": pause}));
    } else {
        ui.print(&format!("job {name}: {state}"));
    }
    Ok(code::OK)
}
