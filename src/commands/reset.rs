//! `jobctl reset`: forget a job's schedule state (and, for agents, reset budgets).

use anyhow::Result;

use crate::cli::Global;
use crate::exit_code::code;
use crate::output::Ui;
use crate::store::Store;
use crate::{bail_code, clock, config};

pub fn job(g: &Global, ui: &Ui, name: &str) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    if !cfg.jobs.contains_key(name) {
        bail_code!(code::FAILURE, "no job named {name:?} in {}", cfg.path.display());
    }
    let mut store = Store::open(&cfg.runner.state_dir)?;
    store.reset_job(name, clock::to_ms(clock::now()?))?;
    if ui.json {
        ui.print_json(&serde_json::json!({"job": name, "reset": true}));
    } else {
        ui.print(&format!("job {name}: schedule state forgotten; it is scheduled as if new (history kept)"));
    }
    Ok(code::OK)
}
