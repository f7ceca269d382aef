//! Agent scopes and the shared daily usage in PostgreSQL. A reservation locks the agent's
//! usage row (and the scope's) for its one transaction, so any number of hosts reserving
//! at once never take usage past the budget and never lose an increment. A reservation
//! within a run tree's `tree_budget` also takes a transaction-scoped advisory lock on each
//! tree it counts against (the tree's root run): runs of one tree reserving from
//! different agents, on different hosts, take turns over what the tree holds.

use postgres::Transaction;
use postgres::types::Type;

use super::{Param, PgStore, events};
use crate::core::budget::{ReasonKind, ScopeReason, Verdict, day_in_force, verdict};
use crate::core::error::Result;
use crate::store::encode::NewEvent;
use crate::store::rows::{self, ALL_SCOPES, ScopeCol, UsageCol};
use crate::store::sql::{cat_into, const_text};
use crate::store::{BudgetStore, MetaStore, Reservation, ReserveRequest, ScopeState, Ticket};

/// The advisory lock key of the budget day's rollover ("budget" in ASCII).
const ROLL_LOCK: i64 = 0x6275_6467_6574;

/// The first key of a tree's advisory lock (`pg_advisory_xact_lock(TREE_LOCK, root)`):
/// "tree" in ASCII, apart from every single-key lock.
const TREE_LOCK: i32 = 0x7472_6565;

fn kinds(rule: fn(ReasonKind) -> bool) -> Vec<&'static str> {
    ReasonKind::all_where(rule)
        .iter()
        .map(|k| k.as_str())
        .collect()
}

const ONE_SCOPE: &str = const_text!(
    cat_into,
    &[
        "SELECT ",
        ScopeCol::LIST,
        " FROM agent_scopes WHERE agent = $1 AND scope = $2"
    ]
);

impl BudgetStore for PgStore {
    fn roll_budget_day(&mut self, day: &str, now: i64, cooldown_ms: i64) -> Result<String> {
        let before = now - cooldown_ms;
        let cooldown_kinds = kinds(ReasonKind::clears_after_cooldown);
        // Cheap read first: the common case is "same day, nothing cooled down".
        let stored = self.get_meta("budget_day")?;
        let due: i64 = self
            .query_opt(
                "SELECT count(*) FROM agent_scopes WHERE NOT enabled AND disabled_at <= $1 AND reason_kind = ANY($2)",
                &[(&before, Type::INT8), (&cooldown_kinds, Type::TEXT_ARRAY)],
            )?
            .map(|r| r.get(0))
            .unwrap_or(0);
        let want = day_in_force(stored.as_deref(), day);
        if stored.as_deref() == Some(want) && due == 0 {
            return Ok(want.to_string());
        }
        self.write(|tx| {
            tx.query_typed(
                "SELECT pg_advisory_xact_lock($1)",
                &[(&ROLL_LOCK, Type::INT8)],
            )?;
            let stored: Option<String> = tx
                .query_typed_opt("SELECT value FROM meta WHERE key = 'budget_day'", &[])?
                .map(|r| r.get(0));
            let day = day_in_force(stored.as_deref(), day).to_string();
            // The events go in last: the events lock is the last lock taken.
            let mut news = Vec::new();
            if stored.as_deref() != Some(day.as_str()) {
                let enabled = enable_scopes(tx, ReasonKind::clears_at_new_day, None, None)?;
                tx.query_typed(
                    "UPDATE agent_usage SET used_milli = 0, day = $1, epoch = epoch + 1",
                    &[(&day, Type::TEXT)],
                )?;
                tx.query_typed(
                    "INSERT INTO meta (key, value) VALUES ('budget_day', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[(&day, Type::TEXT)],
                )?;
                if stored.is_some() {
                    news.push(NewEvent::new_budget_day(now, &day, &enabled));
                }
            }
            let cooled = enable_scopes(tx, ReasonKind::clears_after_cooldown, None, Some(before))?;
            if !cooled.is_empty() {
                news.push(NewEvent::cooled(now, &cooled));
            }
            for e in &news {
                events::append_tx(tx, e)?;
            }
            Ok(day)
        })
    }

    fn ensure_scopes(&mut self, agents: &[&str], scopes: &[String]) -> Result<()> {
        let mut a = Vec::new();
        let mut s = Vec::new();
        for agent in agents {
            for scope in scopes {
                a.push(agent.to_string());
                s.push(scope.clone());
            }
        }
        self.write_one(
            "INSERT INTO agent_scopes (agent, scope) SELECT * FROM unnest($1::text[], $2::text[]) \
             ON CONFLICT (agent, scope) DO NOTHING",
            &[(&a, Type::TEXT_ARRAY), (&s, Type::TEXT_ARRAY)],
        )?;
        Ok(())
    }

    fn scope_states(&self) -> Result<Vec<ScopeState>> {
        self.query(ALL_SCOPES, &[])?
            .iter()
            .map(rows::scope_state_of)
            .collect()
    }

    fn scope_state(&self, agent: &str, scope: &str) -> Result<Option<ScopeState>> {
        self.query_opt(ONE_SCOPE, &[(&agent, Type::TEXT), (&scope, Type::TEXT)])?
            .as_ref()
            .map(rows::scope_state_of)
            .transpose()
    }

    fn usage(&self, agent: &str, day: &str) -> Result<i64> {
        Ok(self
            .query_opt(
                "SELECT used_milli FROM agent_usage WHERE agent = $1 AND day = $2",
                &[(&agent, Type::TEXT), (&day, Type::TEXT)],
            )?
            .map(|r| r.get(0))
            .unwrap_or(0))
    }

    fn set_scope(
        &mut self,
        agent: &str,
        scope: &str,
        disabled: Option<&ScopeReason>,
        now: i64,
    ) -> Result<bool> {
        self.write(|tx| set_scope_tx(tx, agent, scope, disabled, now))
    }

    fn disable_agent(
        &mut self,
        agent: &str,
        scopes: &[String],
        reason: &ScopeReason,
        now: i64,
    ) -> Result<usize> {
        self.write(|tx| {
            let mut changed = 0;
            for scope in scopes {
                changed += usize::from(set_scope_tx(tx, agent, scope, Some(reason), now)?);
            }
            Ok(changed)
        })
    }

    fn reserve(&mut self, req: &ReserveRequest<'_>) -> Result<Reservation> {
        let (agent, scope, day) = (req.agent, req.scope, req.day);
        // In id order, so two reservations never wait for each other's trees.
        let mut roots: Vec<(i64, i64)> = req.tree.to_vec();
        roots.sort_unstable();
        self.write(|tx| {
            // Both rows exist first, so both can be locked: the usage row serializes every
            // reservation of the agent, whichever host makes it.
            tx.query_typed(
                "INSERT INTO agent_scopes (agent, scope) VALUES ($1, $2) ON CONFLICT (agent, scope) DO NOTHING",
                &[(&agent, Type::TEXT), (&scope, Type::TEXT)],
            )?;
            tx.query_typed(
                "INSERT INTO agent_usage (agent, day) VALUES ($1, $2) ON CONFLICT (agent) DO NOTHING",
                &[(&agent, Type::TEXT), (&day, Type::TEXT)],
            )?;
            let usage = rows::usage_of(&tx.query_typed_one(
                &format!("SELECT {} FROM agent_usage WHERE agent = $1 FOR UPDATE", UsageCol::LIST),
                &[(&agent, Type::TEXT)],
            )?)?;
            let state = rows::scope_state_of(&tx.query_typed_one(
                &format!("{ONE_SCOPE} FOR UPDATE"),
                &[(&agent, Type::TEXT), (&scope, Type::TEXT)],
            )?)?;
            // What the tree below `root` (and `root` itself) holds: the cost noted on each
            // of its runs, charged or still reserved; counted under the tree's lock (the
            // id's low 32 bits: trees that share them merely take turns).
            let held = |root: i64| -> Result<i64> {
                let key = root as i32;
                tx.query_typed(
                    "SELECT pg_advisory_xact_lock($1, $2)",
                    &[(&TREE_LOCK, Type::INT4), (&key, Type::INT4)],
                )?;
                Ok(tx
                    .query_typed_one(
                        "WITH RECURSIVE sub(id) AS (SELECT $1::bigint UNION SELECT r.id FROM runs r JOIN sub ON r.parent_run_id = sub.id) \
                         SELECT COALESCE(SUM(cost_milli), 0)::bigint FROM runs WHERE id IN (SELECT id FROM sub)",
                        &[(&root, Type::INT8)],
                    )?
                    .get(0))
            };
            let after = match verdict(&req.reserving(state, &usage, &roots), held)? {
                Verdict::Disabled(reason) => return Ok(Reservation::Disabled(reason)),
                Verdict::OverTree(reason) => return Ok(Reservation::OverTree(reason)),
                Verdict::Exhausted(reason) => {
                    set_scope_tx(tx, agent, scope, Some(&reason), req.now)?;
                    return Ok(Reservation::Exhausted(reason.text));
                }
                Verdict::Reserve(after) => after,
            };
            tx.query_typed(
                "UPDATE agent_usage SET day = $2, used_milli = $3, epoch = $4 WHERE agent = $1",
                &[
                    (&agent, Type::TEXT),
                    (&after.day, Type::TEXT),
                    (&after.used, Type::INT8),
                    (&after.epoch, Type::INT8),
                ],
            )?;
            if let Some((run_id, model)) = req.for_run {
                tx.query_typed(
                    "UPDATE runs SET agent = $1, model = $2, cost_milli = $3, reserve_day = $4, reserve_epoch = $5, \
                     pgid = NULL, agent_starting = NULL WHERE id = $6",
                    &[
                        (&agent, Type::TEXT),
                        (&model, Type::TEXT),
                        (&req.cost, Type::INT8),
                        (&day, Type::TEXT),
                        (&after.epoch, Type::INT8),
                        (&run_id, Type::INT8),
                    ],
                )?;
            }
            Ok(Reservation::Reserved(req.ticket(after.epoch)))
        })
    }

    fn release(&mut self, t: &Ticket) -> Result<()> {
        self.write_one(RELEASE, &ticket(t))?;
        Ok(())
    }

    fn reset_budgets(&mut self, agent: Option<&str>, now: i64) -> Result<Vec<(String, String)>> {
        self.write(|tx| {
            let enabled = enable_scopes(tx, ReasonKind::clears_at_new_day, agent, None)?;
            tx.query_typed(
                "UPDATE agent_usage SET used_milli = 0, epoch = epoch + 1 WHERE $1::text IS NULL OR agent = $1",
                &[(&agent, Type::TEXT)],
            )?;
            events::append_tx(tx, &NewEvent::budgets_reset(now, agent, &enabled))?;
            Ok(enabled)
        })
    }
}

/// Gives a ticket back into the usage it was counted in (its day, no reset since), never
/// below zero: `$1` cost, `$2` agent, `$3` day, `$4` epoch ([`ticket`]).
pub(super) const RELEASE: &str = "UPDATE agent_usage SET used_milli = GREATEST(0, used_milli - $1) \
     WHERE agent = $2 AND day = $3 AND epoch = $4";

/// [`RELEASE`]'s parameters.
pub(super) fn ticket(t: &Ticket) -> [Param<'_>; 4] {
    [
        (&t.cost, Type::INT8),
        (&t.agent, Type::TEXT),
        (&t.day, Type::TEXT),
        (&t.epoch, Type::INT8),
    ]
}

fn set_scope_tx(
    tx: &mut Transaction<'_>,
    agent: &str,
    scope: &str,
    disabled: Option<&ScopeReason>,
    now: i64,
) -> Result<bool> {
    tx.query_typed(
        "INSERT INTO agent_scopes (agent, scope) VALUES ($1, $2) ON CONFLICT (agent, scope) DO NOTHING",
        &[(&agent, Type::TEXT), (&scope, Type::TEXT)],
    )?;
    let enabled = disabled.is_none();
    let reason = disabled.map(|r| r.text.as_str());
    let kind = disabled.map(|r| r.kind.as_str());
    let n = tx
        .query_typed(
            "UPDATE agent_scopes SET enabled = $1, reason = $2, reason_kind = $6, \
             disabled_at = CASE WHEN $1 THEN NULL ELSE $3 END \
             WHERE agent = $4 AND scope = $5 AND (enabled != $1 OR COALESCE(reason, '') != COALESCE($2, '')) \
             RETURNING 1",
            &[
                (&enabled, Type::BOOL),
                (&reason, Type::TEXT),
                (&now, Type::INT8),
                (&agent, Type::TEXT),
                (&scope, Type::TEXT),
                (&kind, Type::TEXT),
            ],
        )?
        .len();
    if n > 0 {
        events::append_tx(tx, &NewEvent::scope_set(now, agent, scope, reason))?;
    }
    Ok(n > 0)
}

/// Enables the disabled scopes whose reason kind `rule` selects (see the SQLite store).
fn enable_scopes(
    tx: &mut Transaction<'_>,
    rule: fn(ReasonKind) -> bool,
    agent: Option<&str>,
    before: Option<i64>,
) -> Result<Vec<(String, String)>> {
    let kinds = kinds(rule);
    let rows = tx.query_typed(
        "UPDATE agent_scopes SET enabled = TRUE, reason = NULL, reason_kind = NULL, disabled_at = NULL \
         WHERE NOT enabled AND reason_kind = ANY($1) AND ($2::text IS NULL OR agent = $2) \
         AND ($3::bigint IS NULL OR disabled_at <= $3) RETURNING agent, scope",
        &[
            (&kinds, Type::TEXT_ARRAY),
            (&agent, Type::TEXT),
            (&before, Type::INT8),
        ],
    )?;
    let mut out: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    out.sort();
    Ok(out)
}
