//! The run state machine: which moves between states a run may make, the event kind that
//! records each, who makes one (`by`), the move as its event records it, and what a run's
//! children become when it ends. Pure data and rules; the store applies them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::run::{EventKind, RunStatus};

impl RunStatus {
    /// Whether a run may move from `self` to `to`: `queued` → `running`; `running` ⇄
    /// `paused`; `retrying` → `running`; anything not ended → an end. Nothing leaves an end.
    pub(crate) fn can_become(self, to: RunStatus) -> bool {
        use RunStatus::*;
        match (self, to) {
            (Queued, Running) | (Running, Paused) | (Paused, Running) | (Retrying, Running) => true,
            (from, to) => !from.is_end() && to.is_end(),
        }
    }

    /// Whether a run in this state takes a request that its supervisor bring it to
    /// `want`: any request while a supervisor holds it; a request to end it (a cancel)
    /// while it is queued.
    pub(crate) fn takes_request(self, want: RunStatus) -> bool {
        self.is_supervised() || (want.is_end() && !self.is_end())
    }

    /// The event kind that records a move into `self` (from `from`, `None` for a new run).
    pub(crate) fn event_kind(self, from: Option<RunStatus>) -> EventKind {
        match (from, self) {
            (_, RunStatus::Queued) => EventKind::RunQueued,
            (_, RunStatus::Retrying) => EventKind::RunRetrying,
            (Some(RunStatus::Paused), RunStatus::Running) => EventKind::RunResumed,
            (_, RunStatus::Running) => EventKind::RunStarted,
            (_, RunStatus::Paused) => EventKind::RunPaused,
            (_, RunStatus::Lost) => EventKind::RunLost,
            _ => EventKind::RunEnded,
        }
    }
}

/// Who made a run change state (`by` of its events): the tick, a supervisor, a command,
/// the HTTP API (with the subject of its token), or recovery after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Actor {
    Tick,
    #[default]
    Supervisor,
    Cli,
    Api(String),
    Recovery,
    /// jobctl's MCP tools (`jobctl mcp`): `mcp:RUN_ID` as the run that called them, `mcp`
    /// for a user's own agent session.
    Mcp(Option<i64>),
}

impl Actor {
    /// `tick`, `supervisor`, `cli`, `api`, `recovery`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Actor::Tick => "tick",
            Actor::Supervisor => "supervisor",
            Actor::Cli => "cli",
            Actor::Api(_) => "api",
            Actor::Recovery => "recovery",
            Actor::Mcp(_) => "mcp",
        }
    }

    /// The API token's subject.
    pub(crate) fn subject(&self) -> Option<&str> {
        match self {
            Actor::Api(s) => Some(s),
            _ => None,
        }
    }

    /// `by` as events show it: the kind, and for MCP tools called from a run
    /// `mcp:RUN_ID` (the API token's subject is shown apart, as `subject`).
    pub fn shown(&self) -> String {
        match self {
            Actor::Mcp(Some(_)) => self.to_wire(),
            other => other.kind().to_string(),
        }
    }

    /// As stored: the kind, and for the API `api:SUBJECT`.
    pub fn to_wire(&self) -> String {
        match self {
            Actor::Api(s) => format!("api:{s}"),
            Actor::Mcp(Some(run)) => format!("mcp:{run}"),
            other => other.kind().to_string(),
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Actor> {
        Some(match s {
            "tick" => Actor::Tick,
            "supervisor" => Actor::Supervisor,
            "cli" => Actor::Cli,
            "recovery" => Actor::Recovery,
            "mcp" => Actor::Mcp(None),
            other => match other.strip_prefix("mcp:") {
                Some(run) => Actor::Mcp(Some(run.parse().ok()?)),
                None => Actor::Api(other.strip_prefix("api:")?.to_string()),
            },
        })
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_wire())
    }
}

/// One change of a run's state, as its event records it: `{from, to, reason, by}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// `None` for a run being created.
    pub from: Option<RunStatus>,
    pub to: RunStatus,
    pub reason: Option<String>,
    pub by: Actor,
}

impl Transition {
    pub fn new(from: RunStatus, to: RunStatus, reason: Option<String>, by: Actor) -> Transition {
        Transition {
            from: Some(from),
            to,
            reason,
            by,
        }
    }

    /// Whether the move is one a run may make.
    pub(crate) fn is_allowed(&self) -> bool {
        self.from.is_none_or(|f| f.can_become(self.to))
    }

    /// The state run `id` moves from, for a move of a run that exists and that the state
    /// machine allows; anything else is a bug of the caller.
    pub(crate) fn checked(&self, id: i64) -> Result<RunStatus> {
        let Some(from) = self.from else {
            return Err(Error::Internal(anyhow::anyhow!(
                "a transition of run {id} without a state to move from"
            )));
        };
        if !self.is_allowed() {
            return Err(Error::Internal(anyhow::anyhow!(
                "run {id} can't move from {from} to {} this way",
                self.to
            )));
        }
        Ok(from)
    }

    /// Which time of the run the move sets, besides its state.
    pub(crate) fn stamp(&self) -> Stamp {
        match self.to {
            to if to.is_end() => Stamp::Ended,
            RunStatus::Paused => Stamp::Paused,
            RunStatus::Running if self.from != Some(RunStatus::Paused) => Stamp::Started,
            _ => Stamp::None,
        }
    }
}

/// What a move between states records beside the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// An end: when it ended and how long it took, its reason as the run's error; the
    /// reservation it held is settled.
    Ended,
    /// Paused: since when (for `max_pause`, and people).
    Paused,
    /// Started (from the queue, or again after a retry's backoff): from now.
    Started,
    /// Nothing else (a resume: it runs on from its start).
    None,
}

/// What a run's children still running become when it ends (the job's `children`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ChildPolicy {
    #[default]
    Cancel,
    Abandon,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_allows_only_its_moves() {
        use RunStatus::*;
        let allowed = [
            (Queued, Running),
            (Running, Paused),
            (Paused, Running),
            (Retrying, Running),
        ];
        for from in RunStatus::ALL {
            for to in RunStatus::ALL {
                let want = allowed.contains(&(*from, *to)) || (!from.is_end() && to.is_end());
                assert_eq!(from.can_become(*to), want, "{from} -> {to}");
            }
        }
        assert!(!Succeeded.can_become(Running), "an end never changes");
        assert!(!Queued.can_become(Paused) && !Retrying.can_become(Paused));
        assert!(!Running.can_become(Queued) && !Running.can_become(Retrying));
        assert_eq!(Running.event_kind(Some(Paused)), EventKind::RunResumed);
        assert_eq!(Running.event_kind(Some(Queued)), EventKind::RunStarted);
        assert_eq!(Lost.event_kind(Some(Paused)), EventKind::RunLost);
    }

    #[test]
    fn a_move_records_its_time_and_only_an_allowed_move_is_made() {
        use RunStatus::*;
        let t = |from, to| Transition::new(from, to, None, Actor::Cli);
        assert_eq!(t(Running, Failed).stamp(), Stamp::Ended);
        assert_eq!(t(Queued, Cancelled).stamp(), Stamp::Ended);
        assert_eq!(t(Running, Paused).stamp(), Stamp::Paused);
        assert_eq!(t(Retrying, Running).stamp(), Stamp::Started);
        assert_eq!(t(Queued, Running).stamp(), Stamp::Started);
        assert_eq!(
            t(Paused, Running).stamp(),
            Stamp::None,
            "a resume keeps its start"
        );
        assert_eq!(t(Paused, Running).checked(3).unwrap(), Paused);
        assert!(t(Succeeded, Running).checked(3).is_err());
        let new = Transition {
            from: None,
            ..t(Queued, Running)
        };
        assert!(new.checked(3).is_err(), "a move needs a state to move from");
    }

    #[test]
    fn a_request_is_taken_by_a_held_run_and_a_cancel_by_a_queued_one() {
        use RunStatus::*;
        for s in [Running, Paused, Retrying] {
            assert!(s.takes_request(Paused) && s.takes_request(Cancelled), "{s}");
        }
        assert!(Queued.takes_request(Cancelled));
        assert!(!Queued.takes_request(Paused));
        assert!(!Succeeded.takes_request(Cancelled));
    }

    #[test]
    fn actors_round_trip_with_the_api_subject() {
        for a in [
            Actor::Tick,
            Actor::Supervisor,
            Actor::Cli,
            Actor::Recovery,
            Actor::Api("ci-bot".into()),
            Actor::Mcp(None),
            Actor::Mcp(Some(7)),
        ] {
            assert_eq!(Actor::parse(&a.to_wire()), Some(a.clone()));
        }
        assert_eq!(Actor::Api("x".into()).kind(), "api");
        assert_eq!(Actor::parse("nobody"), None);
        assert_eq!(Actor::parse("mcp:x"), None);
    }
}
