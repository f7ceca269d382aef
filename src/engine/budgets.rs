//! The agents' scopes and shared budget as people change them: enabling and disabling an
//! agent's scopes, and resetting the day's usage.

use serde::Serialize;

use super::Engine;
use super::views::milli_number;
use crate::core::budget::ScopeReason;
use crate::core::clock::{self, to_ms};
use crate::core::error::Result;
use crate::fail;

/// One agent × scope, as `configure agent --json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct ScopeView {
    pub(crate) agent: String,
    pub(crate) scope: String,
    pub(crate) enabled: bool,
    pub(crate) reason: Option<String>,
}

/// Enables (`disable = None`) or disables (with the reason's words) one scope of an
/// agent, or all of them. Returns the resulting states.
pub(crate) fn configure_agent(
    e: &mut Engine<'_>,
    name: &str,
    scope: Option<&str>,
    disable: Option<&str>,
) -> Result<Vec<ScopeView>> {
    let cfg = e.cfg;
    if !cfg.agents.contains_key(name) {
        fail!(NotFound, "{}", cfg.no_such_agent(name));
    }
    let scopes: Vec<String> = match scope {
        Some(s) if cfg.budget.scopes.iter().any(|x| x == s) => vec![s.to_string()],
        Some(s) => fail!(Usage, "{}", cfg.no_such_scope(s)),
        None => cfg.budget.scopes.clone(),
    };
    let now = clock::now()?;
    crate::agents::prepare(cfg, &mut *e.store, now)?;
    let reason = disable.map(ScopeReason::manual);
    for s in &scopes {
        e.store.set_scope(name, s, reason.as_ref(), to_ms(now))?;
    }
    Ok(e.store
        .scope_states()?
        .into_iter()
        .filter(|s| s.agent == name && scopes.contains(&s.scope))
        .map(|s| ScopeView {
            agent: s.agent,
            scope: s.scope,
            enabled: s.enabled,
            reason: s.reason,
        })
        .collect())
}

/// `reset budgets --json`.
#[derive(Debug, Serialize)]
pub(crate) struct ResetView {
    pub(crate) reset: Vec<UsageReset>,
    pub(crate) enabled: Vec<ScopeRef>,
}

#[derive(Debug, Serialize)]
pub(crate) struct UsageReset {
    pub(crate) agent: String,
    /// The usage before, in budget units.
    pub(crate) used_before: f64,
    #[serde(skip)]
    pub(crate) used_before_milli: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct ScopeRef {
    pub(crate) agent: String,
    pub(crate) scope: String,
}

/// Today's usage to zero and the scopes a new day clears enabled again, for one agent or
/// all: what the start of every budget day does by itself.
pub(crate) fn reset(e: &mut Engine<'_>, agent: Option<&str>) -> Result<ResetView> {
    let cfg = e.cfg;
    if let Some(a) = agent
        && !cfg.agents.contains_key(a)
    {
        fail!(NotFound, "{}", cfg.no_such_agent(a));
    }
    let day = crate::agents::prepare(cfg, &mut *e.store, clock::now()?)?;
    let mut reset = Vec::new();
    for n in cfg.agents.keys().filter(|n| agent.is_none_or(|a| a == *n)) {
        let used = e.store.usage(n, &day)?;
        reset.push(UsageReset {
            agent: n.clone(),
            used_before: milli_number(used),
            used_before_milli: used,
        });
    }
    let enabled = e
        .store
        .reset_budgets(agent, to_ms(clock::real_now()))?
        .into_iter()
        .map(|(agent, scope)| ScopeRef { agent, scope })
        .collect();
    Ok(ResetView { reset, enabled })
}
