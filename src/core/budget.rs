//! The budget's rules as data: why an agent's scope is disabled, and which of those
//! reasons a new budget day or a provider cooldown clears (agents.md, "Scopes and the
//! shared budget"). Stores keep the kind beside the reason's text and ask these rules,
//! so no query decides policy by matching text.

use std::fmt;

use serde::Serialize;

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
    pub const ALL: &'static [ReasonKind] = &[
        ReasonKind::Manual,
        ReasonKind::AuthFailed,
        ReasonKind::QuotaExhausted,
        ReasonKind::DailyBudget,
        ReasonKind::Unavailable,
        ReasonKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Manual => "manual",
            ReasonKind::AuthFailed => "auth_failed",
            ReasonKind::QuotaExhausted => "quota_exhausted",
            ReasonKind::DailyBudget => "daily_budget",
            ReasonKind::Unavailable => "unavailable",
            ReasonKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ReasonKind> {
        ReasonKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// The kind of a reason's text, by the prefix every reason is written with.
    pub fn of_text(reason: &str) -> ReasonKind {
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
    pub fn clears_at_new_day(self) -> bool {
        matches!(self, ReasonKind::QuotaExhausted | ReasonKind::DailyBudget)
    }

    /// Enabled again once `provider_cooldown` has passed since it was disabled.
    pub fn clears_after_cooldown(self) -> bool {
        matches!(self, ReasonKind::QuotaExhausted | ReasonKind::Unavailable)
    }

    /// The kinds for which `rule` holds.
    pub fn all_where(rule: fn(ReasonKind) -> bool) -> Vec<ReasonKind> {
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
pub const DAILY_BUDGET_PREFIX: &str = "quota_exhausted: daily budget reached";

/// Why a scope is disabled: its kind, and the words shown to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeReason {
    pub kind: ReasonKind,
    pub text: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_reasons_clear_when() {
        let day = ReasonKind::all_where(ReasonKind::clears_at_new_day);
        assert_eq!(day, [ReasonKind::QuotaExhausted, ReasonKind::DailyBudget]);
        let cool = ReasonKind::all_where(ReasonKind::clears_after_cooldown);
        assert_eq!(cool, [ReasonKind::QuotaExhausted, ReasonKind::Unavailable]);
        for k in ReasonKind::ALL {
            assert_eq!(ReasonKind::parse(k.as_str()), Some(*k));
        }
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
