//! `jobctl check`: validate the config and nothing else.

use anyhow::Result;

use crate::cli::Global;
use crate::config;
use crate::output::Ui;

pub fn execute(g: &Global, ui: &Ui) -> Result<u8> {
    let cfg = config::load_fresh(g.config.as_deref())?;
    if ui.json {
        ui.print_json(&serde_json::json!({
            "ok": true,
            "jobs": cfg.jobs.len(),
            "agents": cfg.agents.len(),
            "path": cfg.path.display().to_string(),
        }));
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
