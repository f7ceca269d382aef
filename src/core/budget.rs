//! The budget's rules as data: why an agent's scope is disabled, and which of those
//! reasons a new budget day or a provider cooldown clears (agents.md, "Scopes and the
//! shared budget"); which budget day is in force; what a reservation comes to. Stores
//! keep the kind beside the reason's text and ask these rules, so no query decides policy
//! by matching text, and both stores decide a reservation alike.

use std::fmt;

use serde::Serialize;

use super::units::format_milli;

/// What disabled a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// A person: `configure agent --disable`.
    Manual,
    /// The CLI said it is not logged in, or credentials are missing.
    AuthFailed,
    /// The provider said quota or rate limit.
    QuotaExhausted,
    /// jobctl's own daily budget is spent.
    DailyBudget,
    /// The provider could not be reached.
    Unavailable,
    /// Anything else.
    Other,
}

impl ReasonKind {
    pub(crate) const ALL: &'static [ReasonKind] = &[
        ReasonKind::Manual,
        ReasonKind::AuthFailed,
        ReasonKind::QuotaExhausted,
        ReasonKind::DailyBudget,
        ReasonKind::Unavailable,
        ReasonKind::Other,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Manual => "manual",
            ReasonKind::AuthFailed => "auth_failed",
            ReasonKind::QuotaExhausted => "quota_exhausted",
            ReasonKind::DailyBudget => "daily_budget",
            ReasonKind::Unavailable => "unavailable",
            ReasonKind::Other => "other",
        }
    }

    /// The kind of a reason's text, by the prefix every reason is written with.
    pub(crate) fn of_text(reason: &str) -> ReasonKind {
        if reason.starts_with(DAILY_BUDGET_PREFIX) {
            ReasonKind::DailyBudget
        } else if reason.starts_with("quota_exhausted:") {
            ReasonKind::QuotaExhausted
        } else if reason.starts_with("auth_failed:") {
            ReasonKind::AuthFailed
        } else if reason.starts_with("unavailable:") {
            ReasonKind::Unavailable
        } else if reason.starts_with("manual:") {
            ReasonKind::Manual
        } else {
            ReasonKind::Other
        }
    }

    /// Enabled again at the first moment of a budget day (and by `reset budgets`).
    pub(crate) fn clears_at_new_day(self) -> bool {
        matches!(self, ReasonKind::QuotaExhausted | ReasonKind::DailyBudget)
    }

    /// Enabled again once `provider_cooldown` has passed since it was disabled.
    pub(crate) fn clears_after_cooldown(self) -> bool {
        matches!(self, ReasonKind::QuotaExhausted | ReasonKind::Unavailable)
    }

    /// The kinds for which `rule` holds.
    pub(crate) fn all_where(rule: fn(ReasonKind) -> bool) -> Vec<ReasonKind> {
        ReasonKind::ALL
            .iter()
            .copied()
            .filter(|k| rule(*k))
            .collect()
    }
}

impl fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the reason of a spent daily budget starts.
pub(crate) const DAILY_BUDGET_PREFIX: &str = "quota_exhausted: daily budget reached";

/// Why a scope is disabled: its kind, and the words shown to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeReason {
    pub kind: ReasonKind,
    pub(crate) text: String,
}

impl ScopeReason {
    /// A reason whose kind is read from its text's prefix.
    pub fn from_text(text: impl Into<String>) -> ScopeReason {
        let text = text.into();
        ScopeReason {
            kind: ReasonKind::of_text(&text),
            text,
        }
    }

    /// `configure agent --disable --reason TEXT`.
    pub fn manual(text: &str) -> ScopeReason {
        ScopeReason {
            kind: ReasonKind::Manual,
            text: format!("manual: {text}"),
        }
    }

    /// The daily budget would be passed: `used` and `budget` in thousandths.
    pub fn daily_budget(used: &str, budget: &str) -> ScopeReason {
        ScopeReason {
            kind: ReasonKind::DailyBudget,
            text: format!("{DAILY_BUDGET_PREFIX} ({used} of {budget})"),
        }
    }
}

/// The budget day in force when `day` is asked for and `stored` is recorded: the later of
/// the two. The day only moves forward, so usage is never zeroed by a clock stepped back.
pub(crate) fn day_in_force<'a>(stored: Option<&'a str>, day: &'a str) -> &'a str {
    match stored {
        Some(s) if s > day => s,
        _ => day,
    }
}

/// A reservation taken: what giving it back needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub(crate) agent: String,
    pub(crate) day: String,
    pub(crate) cost: i64,
    /// The usage counter's epoch when it was taken: a reset or a new day moves it on, and
    /// a ticket of an older epoch gives nothing back (its usage is already gone).
    pub(crate) epoch: i64,
}

/// An agent's usage counter as a store keeps it: one per agent, shared by its scopes, in
/// thousandths, for one budget day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) day: String,
    pub(crate) used: i64,
    pub(crate) epoch: i64,
}

impl Usage {
    /// The counter of an agent that has none yet.
    pub(crate) fn fresh(day: &str) -> Usage {
        Usage {
            day: day.to_string(),
            used: 0,
            epoch: 0,
        }
    }

    /// What is used on budget day `day`: nothing, if the counter counts another day.
    pub(crate) fn on(&self, day: &str) -> i64 {
        if self.day == day { self.used } else { 0 }
    }

    /// The counter once `cost` is added on `day`: a counter of another day starts again
    /// from nothing, in the next epoch.
    pub(crate) fn plus(&self, day: &str, cost: i64) -> Usage {
        let same_day = self.day == day;
        Usage {
            day: day.to_string(),
            used: self.on(day) + cost,
            epoch: if same_day { self.epoch } else { self.epoch + 1 },
        }
    }
}

/// What a reservation finds, read by the store in its transaction.
#[derive(Debug, Clone)]
pub(crate) struct Reserving<'a> {
    /// The scope's state: enabled, or disabled with its reason.
    pub(crate) enabled: bool,
    pub(crate) reason: Option<String>,
    pub(crate) usage: &'a Usage,
    pub(crate) day: &'a str,
    pub(crate) cost: i64,
    pub(crate) budget: i64,
    /// `(run, limit)` for each run of the tree with a `tree_budget`, in the order they are
    /// counted.
    pub(crate) tree: &'a [(i64, i64)],
}

/// What a reservation comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The scope was disabled already, with this reason.
    Disabled(String),
    /// The tree of a run with a `tree_budget` would pass it: refused for that tree only.
    OverTree(String),
    /// The daily budget would be passed: the scope is to be disabled, with this reason.
    Exhausted(ScopeReason),
    /// Reserved: the usage counter as it becomes.
    Reserve(Usage),
}

/// Decides a reservation, in this order: a disabled scope refuses; then each tree in
/// turn, whose runs hold `held(run)` (asked only as far as a tree refuses); then the
/// daily budget, which only refuses once usage plus the cost would pass it.
pub(crate) fn verdict<E>(
    r: &Reserving<'_>,
    mut held: impl FnMut(i64) -> Result<i64, E>,
) -> Result<Verdict, E> {
    if !r.enabled {
        return Ok(Verdict::Disabled(
            r.reason.clone().unwrap_or_else(|| "disabled".into()),
        ));
    }
    for &(root, limit) in r.tree {
        let held = held(root)?;
        if held + r.cost > limit {
            return Ok(Verdict::OverTree(format!(
                "quota_exhausted: tree budget reached ({} of {} for the tree of run {root})",
                format_milli(held),
                format_milli(limit)
            )));
        }
    }
    let used = r.usage.on(r.day);
    if used + r.cost > r.budget {
        return Ok(Verdict::Exhausted(ScopeReason::daily_budget(
            &format_milli(used),
            &format_milli(r.budget),
        )));
    }
    Ok(Verdict::Reserve(r.usage.plus(r.day, r.cost)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserving<'a>(usage: &'a Usage, tree: &'a [(i64, i64)]) -> Reserving<'a> {
        Reserving {
            enabled: true,
            reason: None,
            usage,
            day: "2026-03-28",
            cost: 1_000,
            budget: 5_000,
            tree,
        }
    }

    fn decide(r: &Reserving<'_>, held: &[(i64, i64)]) -> Verdict {
        verdict(r, |root| {
            Ok::<_, ()>(held.iter().find(|(id, _)| *id == root).map_or(0, |h| h.1))
        })
        .unwrap()
    }

    #[test]
    fn the_later_budget_day_is_in_force() {
        assert_eq!(day_in_force(None, "2026-03-28"), "2026-03-28");
        assert_eq!(day_in_force(Some("2026-03-27"), "2026-03-28"), "2026-03-28");
        assert_eq!(
            day_in_force(Some("2026-03-29"), "2026-03-28"),
            "2026-03-29",
            "a clock stepped back does not move the day back"
        );
    }

    #[test]
    fn usage_of_another_day_counts_nothing_and_starts_a_new_epoch() {
        let u = Usage {
            day: "2026-03-27".into(),
            used: 4_000,
            epoch: 3,
        };
        assert_eq!(u.on("2026-03-27"), 4_000);
        assert_eq!(u.on("2026-03-28"), 0);
        let same = u.plus("2026-03-27", 500);
        assert_eq!((same.used, same.epoch), (4_500, 3));
        let next = u.plus("2026-03-28", 500);
        assert_eq!(
            (next.day.as_str(), next.used, next.epoch),
            ("2026-03-28", 500, 4)
        );
        assert_eq!(
            Usage::fresh("d").plus("d", 7),
            Usage {
                day: "d".into(),
                used: 7,
                epoch: 0
            }
        );
    }

    #[test]
    fn a_reservation_is_refused_by_the_scope_then_the_trees_then_the_budget() {
        let usage = Usage {
            day: "2026-03-28".into(),
            used: 4_500,
            epoch: 1,
        };
        let tree = [(7, 3_000), (9, 10_000)];
        let mut r = reserving(&usage, &tree);
        r.enabled = false;
        r.reason = Some("manual: off".into());
        assert_eq!(
            decide(&r, &[(7, 2_500)]),
            Verdict::Disabled("manual: off".into())
        );
        r.reason = None;
        assert_eq!(decide(&r, &[]), Verdict::Disabled("disabled".into()));
        r.enabled = true;
        assert_eq!(
            decide(&r, &[(7, 2_500), (9, 9_500)]),
            Verdict::OverTree(
                "quota_exhausted: tree budget reached (2.5 of 3 for the tree of run 7)".into()
            ),
            "the first tree over its limit refuses, before the daily budget"
        );
        assert_eq!(
            decide(&r, &[(7, 2_000)]),
            Verdict::Exhausted(ScopeReason::daily_budget("4.5", "5")),
            "4.5 used + 1 would pass 5"
        );
        r.cost = 500;
        assert_eq!(
            decide(&r, &[]),
            Verdict::Reserve(Usage {
                day: "2026-03-28".into(),
                used: 5_000,
                epoch: 1
            }),
            "up to the budget exactly"
        );
    }

    #[test]
    fn a_tree_is_asked_only_until_one_refuses() {
        let usage = Usage::fresh("d");
        let tree = [(1, 10), (2, 10)];
        let mut asked = Vec::new();
        let v = verdict(&reserving(&usage, &tree), |root| {
            asked.push(root);
            Ok::<_, ()>(10)
        });
        assert!(matches!(v, Ok(Verdict::OverTree(_))));
        assert_eq!(asked, [1]);
    }

    #[test]
    fn which_reasons_clear_when() {
        let day = ReasonKind::all_where(ReasonKind::clears_at_new_day);
        assert_eq!(day, [ReasonKind::QuotaExhausted, ReasonKind::DailyBudget]);
        let cool = ReasonKind::all_where(ReasonKind::clears_after_cooldown);
        assert_eq!(cool, [ReasonKind::QuotaExhausted, ReasonKind::Unavailable]);
    }

    #[test]
    fn kinds_of_texts() {
        let r = ScopeReason::daily_budget("10", "10");
        assert_eq!(r.text, "quota_exhausted: daily budget reached (10 of 10)");
        assert_eq!(ReasonKind::of_text(&r.text), ReasonKind::DailyBudget);
        assert_eq!(
            ReasonKind::of_text("quota_exhausted: 429"),
            ReasonKind::QuotaExhausted
        );
        assert_eq!(ScopeReason::manual("x").text, "manual: x");
        assert_eq!(ReasonKind::of_text("weird"), ReasonKind::Other);
    }
}
