//! `jobctl check`: validate the config and nothing else.

use serde::Serialize;

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::config;
use crate::core::error::Result;

#[derive(Serialize)]
struct CheckView {
    ok: bool,
    jobs: usize,
    agents: usize,
    path: String,
}

pub(crate) fn execute(g: &Global, ui: &Ui) -> Result<u8> {
    let cfg = config::load_fresh(g.config.as_deref())?;
    if ui.json {
        ui.print_view(&CheckView {
            ok: true,
            jobs: cfg.jobs.len(),
            agents: cfg.agents.len(),
            path: cfg.path.display().to_string(),
        });
    } else {
        ui.print(&format!(
            "ok: {} jobs, {} agents ({})",
            cfg.jobs.len(),
            cfg.agents.len(),
            cfg.path.display()
        ));
    }
    Ok(0)
}
