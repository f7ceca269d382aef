//! `jobctl reset`: forget a job's schedule state (and, for agents, reset budgets).

use anyhow::Result;

use crate::cli::Global;
use crate::exit_code::code;
use crate::output::Ui;
use crate::store::Store;
use crate::{bail_code, config, core::clock};

pub fn job(g: &Global, ui: &Ui, name: &str) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    cfg.job(name)?;
    let mut store = Store::open(&cfg.runner.state_dir)?;
    store.reset_job(name, clock::to_ms(clock::now()?))?;
    if ui.json {
        ui.print_json(&serde_json::json!({"job": name, "reset": true}));
    } else {
        ui.print(&format!(
            "job {name}: schedule state forgotten; it is scheduled as if new (history kept)"
        ));
    }
    Ok(code::OK)
}

/// `reset budgets [--agent NAME]`: usage to zero; `quota_exhausted:` scopes enabled again.
pub fn budgets(g: &Global, ui: &Ui, agent: Option<&str>) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    if let Some(a) = agent
        && !cfg.agents.contains_key(a)
    {
        bail_code!(
            code::FAILURE,
            "no agent named {a:?} in {}",
            cfg.path.display()
        );
    }
    let mut store = Store::open(&cfg.runner.state_dir)?;
    let now = clock::now()?;
    let day = crate::agents::prepare(cfg, &mut store, now)?;
    let before: Vec<(String, i64)> = cfg
        .agents
        .keys()
        .filter(|n| agent.is_none_or(|a| a == n.as_str()))
        .map(|n| Ok((n.clone(), store.usage(n, &day)?)))
        .collect::<Result<_>>()?;
    let enabled = store.reset_budgets(agent, clock::to_ms(clock::real_now()))?;
    if ui.json {
        let usage: Vec<serde_json::Value> = before
            .iter()
            .map(|(n, u)| serde_json::json!({"agent": n, "used_before": crate::core::units::format_milli(*u).parse::<f64>().unwrap_or(0.0)}))
            .collect();
        let en: Vec<serde_json::Value> = enabled
            .iter()
            .map(|(a, s)| serde_json::json!({"agent": a, "scope": s}))
            .collect();
        ui.print_json(&serde_json::json!({"reset": usage, "enabled": en}));
    } else {
        for (n, u) in &before {
            ui.print(&format!(
                "{n}: usage {} → 0",
                crate::core::units::format_milli(*u)
            ));
        }
        for (a, s) in &enabled {
            ui.print(&format!("{a} {s}: enabled again (was quota_exhausted)"));
        }
    }
    Ok(code::OK)
}
