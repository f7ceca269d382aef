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
    /// What works, but not as the file seems to say (`engine::lint`).
    warnings: Vec<String>,
}

pub(crate) fn execute(g: &Global, ui: &Ui) -> Result<u8> {
    let cfg = config::load_fresh(g.config.as_deref())?;
    let running = crate::engine::presence::any_alive(&cfg.runner.state_dir);
    let warnings = crate::engine::lint::warnings(&cfg, crate::core::clock::now()?, running);
    if ui.json {
        ui.print_view(&CheckView {
            ok: true,
            jobs: cfg.jobs.len(),
            agents: cfg.agents.len(),
            path: cfg.path.display().to_string(),
            warnings,
        });
    } else {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        ui.print(&format!(
            "ok: {} jobs, {} agents ({})",
            cfg.jobs.len(),
            cfg.agents.len(),
            cfg.path.display()
        ));
    }
    Ok(0)
}
