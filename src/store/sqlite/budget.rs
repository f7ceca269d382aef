//! Agent runtime state in the db: one `{enabled, reason}` per agent per scope, and one
//! usage counter per agent per budget day, shared by all scopes. Reservations happen in
//! `BEGIN IMMEDIATE` transactions, so any number of jobctl processes reserving at once
//! never overspend and never lose an increment.
//!
//! The budget day itself (which day "now" belongs to) is decided by the caller and passed
//! in as a string; this module only makes the rollover to a new day atomic.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::SqliteStore;
use super::events::append;
use crate::core::budget::{ReasonKind, ScopeReason, Usage, Verdict, day_in_force, verdict};
use crate::core::error::Result;
use crate::store::encode::NewEvent;
use crate::store::rows::{self, ALL_SCOPES, ScopeCol, UsageCol};
use crate::store::sql::{cat_into, const_text};
use crate::store::{BudgetStore, MetaStore, Reservation, ReserveRequest, ScopeState, Ticket};

/// `reason_kind IN ('a', 'b')` for the kinds a rule selects (the kinds are fixed names,
/// never user text).
fn kinds_where(rule: fn(ReasonKind) -> bool) -> String {
    let kinds: Vec<String> = ReasonKind::all_where(rule)
        .iter()
        .map(|k| format!("'{k}'"))
        .collect();
    format!("reason_kind IN ({})", kinds.join(", "))
}

const ONE_SCOPE: &str = const_text!(
    cat_into,
    &[
        "SELECT ",
        ScopeCol::LIST,
        " FROM agent_scopes WHERE agent = ?1 AND scope = ?2"
    ]
);
const USAGE: &str = const_text!(
    cat_into,
    &[
        "SELECT ",
        UsageCol::LIST,
        " FROM agent_usage WHERE agent = ?1"
    ]
);

impl BudgetStore for SqliteStore {
    /// Brings the db to budget day `day`: on the first access of a new day, usage starts
    /// from zero and `quota_exhausted:` scopes are enabled again (one event). Also
    /// re-enables provider-quota scopes whose cooldown has passed. Idempotent.
    ///
    /// The day only moves forward: with the clock stepped back, the stored (later) day
    /// stays current, so usage is never zeroed by a clock going backwards. Returns the
    /// budget day in force.
    fn roll_budget_day(&mut self, day: &str, now: i64, cooldown_ms: i64) -> Result<String> {
        // Cheap read first: the common case is "same day, nothing cooled down".
        let stored = self.get_meta("budget_day")?;
        let day = day_in_force(stored.as_deref(), day).to_string();
        let day = day.as_str();
        let due_cooldowns: i64 = self.conn.query_row(
            &format!(
                "SELECT count(*) FROM agent_scopes WHERE enabled = 0 AND disabled_at <= ?1 AND {}",
                kinds_where(ReasonKind::clears_after_cooldown)
            ),
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
        let day = day_in_force(stored.as_deref(), day);
        if stored.as_deref() != Some(day) {
            let enabled = enable_scopes(&tx, ReasonKind::clears_at_new_day, None, None)?;
            tx.execute(
                "UPDATE agent_usage SET used_milli = 0, day = ?1, epoch = epoch + 1",
                [day],
            )?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('budget_day', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [day],
            )?;
            if stored.is_some() {
                append(&tx, &NewEvent::new_budget_day(now, day, &enabled))?;
            }
        }
        let cooled = enable_scopes(
            &tx,
            ReasonKind::clears_after_cooldown,
            None,
            Some(now - cooldown_ms),
        )?;
        if !cooled.is_empty() {
            append(&tx, &NewEvent::cooled(now, &cooled))?;
        }
        tx.commit()?;
        Ok(day.to_string())
    }

    fn ensure_scopes(&mut self, agents: &[&str], scopes: &[String]) -> Result<()> {
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

    fn scope_states(&self) -> Result<Vec<ScopeState>> {
        let mut st = self.conn.prepare_cached(ALL_SCOPES)?;
        let rows = st.query_map([], |r| rows::scope_state_of(r))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn scope_state(&self, agent: &str, scope: &str) -> Result<Option<ScopeState>> {
        Ok(self
            .conn
            .query_row(ONE_SCOPE, [agent, scope], |r| rows::scope_state_of(r))
            .optional()?)
    }

    fn usage(&self, agent: &str, day: &str) -> Result<i64> {
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

    fn set_scope(
        &mut self,
        agent: &str,
        scope: &str,
        disabled: Option<&ScopeReason>,
        now: i64,
    ) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = set_scope_tx(&tx, agent, scope, disabled, now)?;
        tx.commit()?;
        Ok(changed)
    }

    fn disable_agent(
        &mut self,
        agent: &str,
        scopes: &[String],
        reason: &ScopeReason,
        now: i64,
    ) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed = 0;
        for scope in scopes {
            changed += usize::from(set_scope_tx(&tx, agent, scope, Some(reason), now)?);
        }
        tx.commit()?;
        Ok(changed)
    }

    fn reserve(&mut self, req: &ReserveRequest<'_>) -> Result<Reservation> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (agent, scope) = (req.agent, req.scope);
        tx.execute(
            "INSERT OR IGNORE INTO agent_scopes (agent, scope) VALUES (?1, ?2)",
            [agent, scope],
        )?;
        let state = tx.query_row(ONE_SCOPE, [agent, scope], |r| rows::scope_state_of(r))?;
        // An agent without a counter yet gets one only when a reservation is taken.
        let usage = tx
            .query_row(USAGE, [agent], |r| rows::usage_of(r))
            .optional()?
            .unwrap_or_else(|| Usage::fresh(req.day));
        // What the tree below `root` (and `root` itself) holds: the cost noted on each of
        // its runs, charged or still reserved.
        let held = |root: i64| {
            tx.query_row(
                "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION SELECT r.id FROM runs r JOIN sub ON r.parent_run_id = sub.id) \
                 SELECT COALESCE(SUM(cost_milli), 0) FROM runs WHERE id IN (SELECT id FROM sub)",
                [root],
                |r| r.get::<_, i64>(0),
            )
        };
        let after = match verdict(&req.reserving(state, &usage, req.tree), held)? {
            Verdict::Disabled(reason) => return Ok(Reservation::Disabled(reason)),
            Verdict::OverTree(reason) => return Ok(Reservation::OverTree(reason)),
            Verdict::Exhausted(reason) => {
                set_scope_tx(&tx, agent, scope, Some(&reason), req.now)?;
                tx.commit()?;
                return Ok(Reservation::Exhausted(reason.text));
            }
            Verdict::Reserve(after) => after,
        };
        tx.execute(
            "INSERT INTO agent_usage (agent, day, used_milli, epoch) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(agent) DO UPDATE SET day = excluded.day, used_milli = excluded.used_milli, \
             epoch = excluded.epoch",
            params![agent, after.day, after.used, after.epoch],
        )?;
        if let Some((run_id, model)) = req.for_run {
            tx.execute(
                "UPDATE runs SET agent = ?1, model = ?2, cost_milli = ?3, reserve_day = ?4, reserve_epoch = ?5, \
                 pgid = NULL, agent_starting = NULL WHERE id = ?6",
                params![agent, model, req.cost, req.day, after.epoch, run_id],
            )?;
        }
        tx.commit()?;
        Ok(Reservation::Reserved(req.ticket(after.epoch)))
    }

    fn release(&mut self, t: &Ticket) -> Result<()> {
        release_tx(&self.conn, t)
    }

    fn reset_budgets(&mut self, agent: Option<&str>, now: i64) -> Result<Vec<(String, String)>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let enabled = enable_scopes(&tx, ReasonKind::clears_at_new_day, agent, None)?;
        tx.execute(
            "UPDATE agent_usage SET used_milli = 0, epoch = epoch + 1 WHERE ?1 IS NULL OR agent = ?1",
            [agent],
        )?;
        append(&tx, &NewEvent::budgets_reset(now, agent, &enabled))?;
        tx.commit()?;
        Ok(enabled)
    }
}

/// Gives `t` back into the usage it was counted in (its day, no reset since), never
/// below zero.
pub(super) fn release_tx(conn: &rusqlite::Connection, t: &Ticket) -> Result<()> {
    conn.execute(
        "UPDATE agent_usage SET used_milli = MAX(0, used_milli - ?1) WHERE agent = ?2 AND day = ?3 AND epoch = ?4",
        params![t.cost, t.agent, t.day, t.epoch],
    )?;
    Ok(())
}

fn set_scope_tx(
    tx: &Transaction<'_>,
    agent: &str,
    scope: &str,
    disabled: Option<&ScopeReason>,
    now: i64,
) -> Result<bool> {
    tx.execute(
        "INSERT OR IGNORE INTO agent_scopes (agent, scope) VALUES (?1, ?2)",
        [agent, scope],
    )?;
    let enabled = disabled.is_none();
    let reason = disabled.map(|r| r.text.as_str());
    let kind = disabled.map(|r| r.kind.as_str());
    let n = tx.execute(
        "UPDATE agent_scopes SET enabled = ?1, reason = ?2, reason_kind = ?6, \
         disabled_at = CASE WHEN ?1 = 1 THEN NULL ELSE ?3 END \
         WHERE agent = ?4 AND scope = ?5 AND (enabled != ?1 OR COALESCE(reason, '') != COALESCE(?2, ''))",
        params![enabled as i64, reason, now, agent, scope, kind],
    )?;
    if n > 0 {
        append(tx, &NewEvent::scope_set(now, agent, scope, reason))?;
    }
    Ok(n > 0)
}

/// Enables the disabled scopes whose reason kind `rule` selects: of one agent or all, and
/// with `before`, only those disabled at or before it (their cooldown passed).
fn enable_scopes(
    tx: &Transaction<'_>,
    rule: fn(ReasonKind) -> bool,
    agent: Option<&str>,
    before: Option<i64>,
) -> Result<Vec<(String, String)>> {
    let mut st = tx.prepare(&format!(
        "SELECT agent, scope FROM agent_scopes WHERE enabled = 0 AND {} \
         AND (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR disabled_at <= ?2)",
        kinds_where(rule)
    ))?;
    let rows: Vec<(String, String)> = st
        .query_map(params![agent, before], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (a, s) in &rows {
        tx.execute(
            "UPDATE agent_scopes SET enabled = 1, reason = NULL, reason_kind = NULL, disabled_at = NULL \
             WHERE agent = ?1 AND scope = ?2",
            [a, s],
        )?;
    }
    Ok(rows)
}
