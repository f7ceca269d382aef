//! The agents: their presets (how each CLI is called and read), choosing one for a scope,
//! the role a call gets, and the call itself with its fallback walk. Used by agent jobs and
//! by `jobctl ask`; knows processes through `exec`, budgets through the store.

pub(crate) mod call;
pub(crate) mod mcp;
pub(crate) mod parse;
pub(crate) mod presets;
pub(crate) mod role;
pub(crate) mod select;

use jiff::Timestamp;

use crate::config::Config;
use crate::core::clock::to_ms;
use crate::core::error::Result;
use crate::store::Store;

pub(crate) use call::{CallSpec, call};

/// The budget day `now` belongs to: the date in `runner.timezone` of `now - day_starts`.
pub(crate) fn budget_day(cfg: &Config, now: Timestamp) -> String {
    let (h, m) = cfg.budget.day_starts;
    let local = now.to_zoned((*cfg.runner.timezone).clone()).datetime();
    let shifted = local
        .checked_sub(jiff::Span::new().hours(i64::from(h)).minutes(i64::from(m)))
        .unwrap_or(local);
    shifted.date().to_string()
}

/// Makes every agent × scope exist and brings the budget to today: the automatic
/// rollover at `day_starts` needs no cron entry, any command that looks at budgets does it.
pub(crate) fn prepare(cfg: &Config, store: &mut dyn Store, now: Timestamp) -> Result<String> {
    let names: Vec<&str> = cfg.agents.keys().map(String::as_str).collect();
    store.ensure_scopes(&names, &cfg.budget.scopes)?;
    let day = budget_day(cfg, now);
    store.roll_budget_day(
        &day,
        to_ms(now),
        cfg.budget.provider_cooldown.as_millis() as i64,
    )
}
