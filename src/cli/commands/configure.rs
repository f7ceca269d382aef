//! `jobctl configure`: pause and resume jobs, enable and disable agents' scopes.

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::{Result, code};
use crate::engine::{budgets, jobs};

pub(crate) fn job(g: &Global, ui: &Ui, name: &str, pause: bool) -> Result<u8> {
    let mut e = super::engine(g)?;
    let v = jobs::set_paused(&mut e, name, pause)?;
    if ui.json {
        ui.print_view(&v);
    } else {
        let state = if pause { "paused" } else { "resumed" };
        ui.print(&format!("job {name}: {state}"));
    }
    Ok(code::OK)
}

/// `configure agent NAME [--scope S] --enable|--disable [--reason TEXT]`.
pub(crate) fn agent(
    g: &Global,
    ui: &Ui,
    name: &str,
    scope: Option<&str>,
    enable: bool,
    reason: Option<&str>,
) -> Result<u8> {
    let mut e = super::engine(g)?;
    let disable = (!enable).then(|| reason.unwrap_or("disabled with jobctl configure agent"));
    let states = budgets::configure_agent(&mut e, name, scope, disable)?;
    if ui.json {
        ui.print_view(&states);
    } else {
        for s in &states {
            let state = if s.enabled {
                "enabled".to_string()
            } else {
                format!("disabled ({})", s.reason.as_deref().unwrap_or("-"))
            };
            ui.print(&format!("{} {}: {state}", s.agent, s.scope));
        }
    }
    Ok(code::OK)
}
