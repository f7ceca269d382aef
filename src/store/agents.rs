//! Agent runtime state in the db: one `{enabled, reason}` per agent per scope, and one
//! usage counter per agent per budget day, shared by all scopes. Reservations happen in
//! `BEGIN IMMEDIATE` transactions, so any number of jobctl processes reserving at once
//! never overspend and never lose an increment.
//!
//! The budget day itself (which day "now" belongs to) is decided by the caller and passed
//! in as a string; this module only makes the rollover to a new day atomic.

use anyhow::Result;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::Store;
use super::events::append_tx;
use crate::core::run::EventKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeState {
    pub agent: String,
    pub scope: String,
    pub enabled: bool,
    pub reason: Option<String>,
    pub disabled_at: Option<i64>,
}

/// A reservation taken: what giving it back needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub agent: String,
    pub day: String,
    pub cost: i64,
    /// The usage counter's epoch when it was taken: a reset or a new day moves it on, and
    /// a ticket of an older epoch gives nothing back (its usage is already gone).
    pub epoch: i64,
}

/// The outcome of trying to reserve one call's cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    Reserved(Ticket),
    /// The scope was already disabled, with this reason.
    Disabled(String),
    /// The call would pass the budget: the scope is now disabled with this reason.
    Exhausted(String),
}

/// Prefix of reasons that a new budget day clears.
pub const QUOTA_PREFIX: &str = "quota_exhausted:";
/// Reasons that came from jobctl's own budget, not from a provider (no cooldown).
pub const BUDGET_REASON_PREFIX: &str = "quota_exhausted: daily budget reached";

impl Store {
    /// Brings the db to budget day `day`: on the first access of a new day, usage starts
    /// from zero and `quota_exhausted:` scopes are enabled again (one event). Also
    /// re-enables provider-quota scopes whose cooldown has passed. Idempotent.
    ///
    /// The day only moves forward: with the clock stepped back, the stored (later) day
    /// stays current, so usage is never zeroed by a clock going backwards. Returns the
    /// budget day in force.
    pub fn roll_budget_day(&mut self, day: &str, now: i64, cooldown_ms: i64) -> Result<String> {
        // Cheap read first: the common case is "same day, nothing cooled down".
        let stored = self.get_meta("budget_day")?;
        let day = match &stored {
            Some(s) if s.as_str() > day => s.clone(),
            _ => day.to_string(),
        };
        let day = day.as_str();
        let due_cooldowns: i64 = self.conn.query_row(
            "SELECT count(*) FROM agent_scopes WHERE enabled = 0 AND disabled_at <= ?1 AND (reason LIKE 'unavailable:%' \
             OR (reason LIKE 'quota_exhausted:%' AND reason NOT LIKE 'quota_exhausted: daily budget reached%'))",
            [now - cooldown_ms],
            |r| r.get(0),
        )?;
        if stored.as_deref() == Some(day) && due_cooldowns == 0 {
            return Ok(day.to_string());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'budget_day'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let day = match &stored {
            Some(s) if s.as_str() > day => s.as_str(),
            _ => day,
        };
        if stored.as_deref() != Some(day) {
            let enabled = enable_quota_scopes(&tx, None, None, now)?;
            tx.execute(
                "UPDATE agent_usage SET used_milli = 0, day = ?1, epoch = epoch + 1",
                [day],
            )?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('budget_day', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [day],
            )?;
            if stored.is_some() {
                append_tx(
                    &tx,
                    now,
                    crate::core::run::EventKind::BudgetReset,
                    None,
                    None,
                    &serde_json::json!({"why": "new budget day", "day": day, "enabled": enabled}),
                )?;
            }
        }
        let cooled = enable_quota_scopes(&tx, None, Some(now - cooldown_ms), now)?;
        if !cooled.is_empty() {
            append_tx(
                &tx,
                now,
                crate::core::run::EventKind::ScopesEnabled,
                None,
                None,
                &serde_json::json!({"why": "provider cooldown passed", "scopes": cooled}),
            )?;
        }
        tx.commit()?;
        Ok(day.to_string())
    }

    /// Makes sure every agent × scope has a state row (enabled, no reason).
    pub fn ensure_scopes(&mut self, agents: &[&str], scopes: &[String]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO agent_scopes (agent, scope) VALUES (?1, ?2)",
            )?;
            for a in agents {
                for s in scopes {
                    st.execute(params![a, s])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn scope_states(&self) -> Result<Vec<ScopeState>> {
        let mut st = self.conn.prepare_cached(
            "SELECT agent, scope, enabled, reason, disabled_at FROM agent_scopes ORDER BY agent, scope",
        )?;
        let rows = st.query_map([], |r| {
            Ok(ScopeState {
                agent: r.get(0)?,
                scope: r.get(1)?,
                enabled: r.get::<_, i64>(2)? != 0,
                reason: r.get(3)?,
                disabled_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn scope_state(&self, agent: &str, scope: &str) -> Result<Option<ScopeState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT agent, scope, enabled, reason, disabled_at FROM agent_scopes WHERE agent = ?1 AND scope = ?2",
                [agent, scope],
                |r| {
                    Ok(ScopeState {
                        agent: r.get(0)?,
                        scope: r.get(1)?,
                        enabled: r.get::<_, i64>(2)? != 0,
                        reason: r.get(3)?,
                        disabled_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Today's usage of an agent, in thousandths.
    pub fn usage(&self, agent: &str, day: &str) -> Result<i64> {
        Ok(self
            .conn
            .query_row(
                "SELECT used_milli FROM agent_usage WHERE agent = ?1 AND day = ?2",
                [agent, day],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Disables or enables one scope, with an event when it changes.
    pub fn set_scope(
        &mut self,
        agent: &str,
        scope: &str,
        enabled: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = set_scope_tx(&tx, agent, scope, enabled, reason, now)?;
        tx.commit()?;
        Ok(changed)
    }

    /// Atomically: if the scope is enabled and `usage + cost ≤ budget`, adds `cost` to the
    /// day's usage; if it would pass the budget, disables the scope with the reason.
    ///
    /// `for_run` (run id, model): the reservation is noted on the run in the same
    /// transaction, so a run whose supervisor dies before the agent starts gives it back.
    #[allow(clippy::too_many_arguments)]
    pub fn reserve(
        &mut self,
        agent: &str,
        scope: &str,
        day: &str,
        cost: i64,
        budget: i64,
        now: i64,
        for_run: Option<(i64, Option<&str>)>,
    ) -> Result<Reservation> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR IGNORE INTO agent_scopes (agent, scope) VALUES (?1, ?2)",
            [agent, scope],
        )?;
        let (enabled, reason): (i64, Option<String>) = tx.query_row(
            "SELECT enabled, reason FROM agent_scopes WHERE agent = ?1 AND scope = ?2",
            [agent, scope],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if enabled == 0 {
            return Ok(Reservation::Disabled(
                reason.unwrap_or_else(|| "disabled".into()),
            ));
        }
        let used: i64 = tx
            .query_row(
                "SELECT used_milli FROM agent_usage WHERE agent = ?1 AND day = ?2",
                [agent, day],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if used + cost > budget {
            let reason = format!(
                "{BUDGET_REASON_PREFIX} ({} of {})",
                crate::core::units::format_milli(used),
                crate::core::units::format_milli(budget)
            );
            set_scope_tx(&tx, agent, scope, false, Some(&reason), now)?;
            tx.commit()?;
            return Ok(Reservation::Exhausted(reason));
        }
        let epoch: i64 = tx.query_row(
            "INSERT INTO agent_usage (agent, day, used_milli) VALUES (?1, ?2, ?3) \
             ON CONFLICT(agent) DO UPDATE SET \
               epoch = CASE WHEN day = excluded.day THEN epoch ELSE epoch + 1 END, \
               used_milli = CASE WHEN day = excluded.day THEN used_milli + excluded.used_milli ELSE excluded.used_milli END, \
               day = excluded.day \
             RETURNING epoch",
            params![agent, day, cost],
            |r| r.get(0),
        )?;
        if let Some((run_id, model)) = for_run {
            tx.execute(
                "UPDATE runs SET agent = ?1, model = ?2, cost_milli = ?3, reserve_day = ?4, reserve_epoch = ?5, \
                 pgid = NULL, agent_starting = NULL WHERE id = ?6",
                params![agent, model, cost, day, epoch, run_id],
            )?;
        }
        tx.commit()?;
        Ok(Reservation::Reserved(Ticket {
            agent: agent.to_string(),
            day: day.to_string(),
            cost,
            epoch,
        }))
    }

    /// Gives a reservation back (the call never used the service), unless the usage it
    /// was counted in is gone (a reset or a new day since).
    pub fn release(&mut self, t: &Ticket) -> Result<()> {
        self.conn.execute(
            "UPDATE agent_usage SET used_milli = MAX(0, used_milli - ?1) WHERE agent = ?2 AND day = ?3 AND epoch = ?4",
            params![t.cost, t.agent, t.day, t.epoch],
        )?;
        Ok(())
    }

    /// `jobctl reset budgets`: usage to zero and `quota_exhausted:` scopes enabled, for
    /// one agent or all. Returns the scopes enabled.
    pub fn reset_budgets(
        &mut self,
        agent: Option<&str>,
        now: i64,
    ) -> Result<Vec<(String, String)>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let enabled = enable_quota_scopes(&tx, agent, None, now)?;
        tx.execute(
            "UPDATE agent_usage SET used_milli = 0, epoch = epoch + 1 WHERE ?1 IS NULL OR agent = ?1",
            [agent],
        )?;
        append_tx(
            &tx,
            now,
            crate::core::run::EventKind::BudgetReset,
            None,
            None,
            &serde_json::json!({"why": "jobctl reset budgets", "agent": agent, "enabled": enabled}),
        )?;
        tx.commit()?;
        Ok(enabled)
    }
}

fn set_scope_tx(
    tx: &Transaction<'_>,
    agent: &str,
    scope: &str,
    enabled: bool,
    reason: Option<&str>,
    now: i64,
) -> Result<bool> {
    tx.execute(
        "INSERT OR IGNORE INTO agent_scopes (agent, scope) VALUES (?1, ?2)",
        [agent, scope],
    )?;
    let n = tx.execute(
        "UPDATE agent_scopes SET enabled = ?1, reason = ?2, disabled_at = CASE WHEN ?1 = 1 THEN NULL ELSE ?3 END \
         WHERE agent = ?4 AND scope = ?5 AND (enabled != ?1 OR COALESCE(reason, '') != COALESCE(?2, ''))",
        params![enabled as i64, reason, now, agent, scope],
    )?;
    if n > 0 {
        append_tx(
            tx,
            now,
            if enabled {
                EventKind::ScopeEnabled
            } else {
                EventKind::ScopeDisabled
            },
            None,
            None,
            &serde_json::json!({"agent": agent, "scope": scope, "reason": reason}),
        )?;
    }
    Ok(n > 0)
}

/// Enables `quota_exhausted:` scopes (of one agent, or all), or, with `before`, the scopes a
/// provider disabled (its quota, or unreachable) before that moment: their cooldown passed.
fn enable_quota_scopes(
    tx: &Transaction<'_>,
    agent: Option<&str>,
    before: Option<i64>,
    _now: i64,
) -> Result<Vec<(String, String)>> {
    let provider_only = before.is_some();
    let mut st = tx.prepare(
        "SELECT agent, scope FROM agent_scopes WHERE enabled = 0 \
         AND (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR disabled_at <= ?2) \
         AND ((reason LIKE 'quota_exhausted:%' AND (?3 = 0 OR reason NOT LIKE 'quota_exhausted: daily budget reached%')) \
              OR (?3 = 1 AND reason LIKE 'unavailable:%'))",
    )?;
    let rows: Vec<(String, String)> = st
        .query_map(params![agent, before, provider_only as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (a, s) in &rows {
        tx.execute(
            "UPDATE agent_scopes SET enabled = 1, reason = NULL, disabled_at = NULL WHERE agent = ?1 AND scope = ?2",
            [a, s],
        )?;
    }
    Ok(rows)
}
