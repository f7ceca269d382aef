//! How a run's end is recorded: what both stores decide as they close a run. A run lost
//! before its agent started gives back the reservation it held (never spent); a lost run
//! otherwise keeps the agent and cost it was charged, so history adds up to usage; an end
//! that carries a workspace replaces the one recorded.

use super::budget::Ticket;
use super::run::{RunEnd, RunStatus};

/// What a run holds in the store when its end comes: its state, and the agent call it
/// was charged for, with the reservation while the day's usage still counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub status: RunStatus,
    pub agent: Option<String>,
    pub model: Option<String>,
    pub cost_milli: Option<i64>,
    /// The budget day of the reservation it holds (none once its end is recorded).
    pub reserve_day: Option<String>,
    /// The usage counter's epoch the reservation was taken in.
    pub reserve_epoch: i64,
    /// Its agent never started: neither its process group nor the agent's start was
    /// noted.
    pub unstarted: bool,
}

/// How an end is recorded, beside what the end itself says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// A reservation to give back, in the transaction that closes the run (so exactly
    /// once, and only into the usage it was counted in).
    pub refund: Option<Ticket>,
    /// The agent, model and cost the record keeps.
    pub agent: Option<String>,
    pub model: Option<String>,
    pub cost_milli: Option<i64>,
}

impl RunEnd {
    /// How this end of a run that held `held` is recorded.
    pub fn closing(&self, held: Held) -> Closing {
        if self.status != RunStatus::Lost {
            return Closing {
                refund: None,
                agent: self.usage.agent.clone(),
                model: self.usage.model.clone(),
                cost_milli: self.usage.cost_milli,
            };
        }
        let refund = match (&held.agent, held.reserve_day, held.cost_milli) {
            (Some(agent), Some(day), Some(cost)) if self.refund_unstarted && held.unstarted => {
                Some(Ticket {
                    agent: agent.clone(),
                    day,
                    cost,
                    epoch: held.reserve_epoch,
                })
            }
            _ => None,
        };
        Closing {
            cost_milli: if refund.is_some() {
                None
            } else {
                held.cost_milli
            },
            refund,
            agent: held.agent,
            model: held.model,
        }
    }

    /// The worktree on disk once this end is recorded, for an end that carries a
    /// workspace (without one, what is recorded stays): the workspace's path if it was
    /// kept.
    pub fn kept_worktree(&self) -> Option<&str> {
        self.workspace
            .as_ref()
            .filter(|w| w.kept)
            .map(|w| w.path.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(unstarted: bool) -> Held {
        Held {
            status: RunStatus::Running,
            agent: Some("claude".into()),
            model: Some("haiku".into()),
            cost_milli: Some(1_000),
            reserve_day: Some("2026-03-28".into()),
            reserve_epoch: 2,
            unstarted,
        }
    }

    fn lost(refund_unstarted: bool) -> RunEnd {
        let mut e = RunEnd::new(RunStatus::Lost, 9);
        e.refund_unstarted = refund_unstarted;
        e.usage.agent = Some("other".into());
        e
    }

    #[test]
    fn a_run_lost_before_its_agent_started_gives_its_reservation_back() {
        let c = lost(true).closing(held(true));
        assert_eq!(
            c.refund,
            Some(Ticket {
                agent: "claude".into(),
                day: "2026-03-28".into(),
                cost: 1_000,
                epoch: 2
            })
        );
        assert_eq!(
            (c.agent.as_deref(), c.model.as_deref(), c.cost_milli),
            (Some("claude"), Some("haiku"), None),
            "it keeps its agent, not the cost given back"
        );
    }

    #[test]
    fn a_lost_run_whose_agent_may_have_started_keeps_its_charge() {
        for c in [
            lost(true).closing(held(false)),
            lost(false).closing(held(true)),
        ] {
            assert_eq!(c.refund, None);
            assert_eq!(
                (c.agent.as_deref(), c.cost_milli),
                (Some("claude"), Some(1_000))
            );
        }
        let mut gone = held(true);
        gone.reserve_day = None;
        assert_eq!(
            lost(true).closing(gone).refund,
            None,
            "nothing held, nothing given"
        );
    }

    #[test]
    fn any_other_end_records_its_own_agent() {
        let mut e = RunEnd::new(RunStatus::Failed, 9);
        e.refund_unstarted = true;
        e.usage.agent = Some("codex".into());
        e.usage.cost_milli = Some(5);
        let c = e.closing(held(true));
        assert_eq!(c.refund, None);
        assert_eq!(
            (c.agent.as_deref(), c.model, c.cost_milli),
            (Some("codex"), None, Some(5))
        );
    }
}
