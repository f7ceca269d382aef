//! `jobctl state migrate --to URL`: copy this host's SQLite state into an empty
//! PostgreSQL database.

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::Result;

pub(crate) fn migrate(g: &Global, ui: &Ui, to: &str) -> Result<u8> {
    let cfg = crate::cli::load_config(g)?;
    let copied = crate::engine::state::migrate(cfg, to)?;
    if ui.json {
        ui.print_view(&copied);
    } else {
        ui.print(&format!(
            "copied {} runs, {} run logs, {} events, {} jobs, {} agent scopes, {} agent usage rows and {} settings into {}\nnow set [state] url (or JOBCTL_DATABASE_URL) on every host",
            copied.runs,
            copied.logs,
            copied.events,
            copied.jobs,
            copied.agent_scopes,
            copied.agent_usage,
            copied.meta,
            copied.to
        ));
    }
    Ok(0)
}
