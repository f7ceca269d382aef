//! `jobctl reset`: forget a job's schedule state; reset the agents' budgets.

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::{Result, code};
use crate::core::units::format_milli;
use crate::engine::{budgets, jobs};

pub(crate) fn job(g: &Global, ui: &Ui, name: &str) -> Result<u8> {
    let mut e = super::engine(g)?;
    let v = jobs::reset(&mut e, name)?;
    if ui.json {
        ui.print_view(&v);
    } else {
        ui.print(&format!(
            "job {name}: schedule state forgotten; it is scheduled as if new (history kept)"
        ));
    }
    Ok(code::OK)
}

/// `reset budgets [--agent NAME]`: usage to zero; scopes a new day clears enabled again.
pub(crate) fn budgets(g: &Global, ui: &Ui, agent: Option<&str>) -> Result<u8> {
    let mut e = super::engine(g)?;
    let v = budgets::reset(&mut e, agent)?;
    if ui.json {
        ui.print_view(&v);
    } else if v.reset.iter().all(|u| u.used_before_milli == 0) && v.enabled.is_empty() {
        let which = agent.map(|a| format!("{a} has")).unwrap_or_else(|| {
            if v.reset.is_empty() {
                "no agent is configured, so none has".into()
            } else {
                "no agent has".into()
            }
        });
        ui.print(&format!(
            "nothing to reset: {which} used any budget today, and no scope is disabled for quota"
        ));
    } else {
        for u in &v.reset {
            ui.print(&format!(
                "{}: usage {} → 0",
                u.agent,
                format_milli(u.used_before_milli)
            ));
        }
        for s in &v.enabled {
            ui.print(&format!(
                "{} {}: enabled again (was quota_exhausted)",
                s.agent, s.scope
            ));
        }
    }
    Ok(code::OK)
}
