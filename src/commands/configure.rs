//! `jobctl configure`: pause and resume jobs (and, for agents, enable and disable scopes).

use anyhow::Result;

use crate::cli::Global;
use crate::exit_code::code;
use crate::output::Ui;
use crate::store::Store;
use crate::{bail_code, config, core::clock, plan};

pub fn job(g: &Global, ui: &Ui, name: &str, pause: bool) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let job = cfg.job(name)?;
    let mut store = Store::open(&cfg.runner.state_dir)?;
    let now = clock::now()?;
    // Resuming moves the schedule past the slots that passed while paused.
    let resume_slot = if pause {
        None
    } else {
        plan::passed_slot(job, store.job_state(name)?.as_ref(), now)
    };
    store.set_paused(name, pause, clock::to_ms(now), resume_slot)?;
    let state = if pause { "paused" } else { "resumed" };
    if ui.json {
        ui.print_json(&serde_json::json!({"job": name, "paused": pause}));
    } else {
        ui.print(&format!("job {name}: {state}"));
    }
    Ok(code::OK)
}

/// `configure agent NAME [--scope S] --enable|--disable [--reason TEXT]`.
pub fn agent(
    g: &Global,
    ui: &Ui,
    name: &str,
    scope: Option<&str>,
    enable: bool,
    reason: Option<&str>,
) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    if !cfg.agents.contains_key(name) {
        bail_code!(
            code::FAILURE,
            "no agent named {name:?} in {}",
            cfg.path.display()
        );
    }
    let scopes: Vec<String> = match scope {
        Some(s) if cfg.budget.scopes.iter().any(|x| x == s) => vec![s.to_string()],
        Some(s) => bail_code!(
            code::USAGE,
            "scope {s:?} is not in budget.scopes ({})",
            cfg.budget.scopes.join(", ")
        ),
        None => cfg.budget.scopes.clone(),
    };
    let mut store = Store::open(&cfg.runner.state_dir)?;
    let now = clock::now()?;
    crate::agents::prepare(cfg, &mut store, now)?;
    let reason = (!enable).then(|| {
        format!(
            "manual: {}",
            reason.unwrap_or("disabled with jobctl configure agent")
        )
    });
    for s in &scopes {
        store.set_scope(name, s, enable, reason.as_deref(), clock::to_ms(now))?;
    }
    let states: Vec<_> = store
        .scope_states()?
        .into_iter()
        .filter(|s| s.agent == name && scopes.contains(&s.scope))
        .collect();
    if ui.json {
        let v: Vec<serde_json::Value> = states
            .iter()
            .map(|s| serde_json::json!({"agent": s.agent, "scope": s.scope, "enabled": s.enabled, "reason": s.reason}))
            .collect();
        ui.print_json(&serde_json::Value::Array(v));
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
