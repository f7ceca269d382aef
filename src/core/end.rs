//! How a run ends, and how its end is said and recorded: [`RunEnd`], built from how its
//! process ended ([`Ending`]). Its error is kept in parts (why it ended, how its process
//! tree was stopped, what was added, what survived), so the steps after the job (naming
//! who cancelled it, listing survivors) change a part, never take the words apart. And
//! what both stores decide as they close a run: a run lost before its agent
//! started gives back the reservation it held (never spent); a lost run otherwise keeps
//! the agent and cost it was charged, so history adds up to usage; an end that carries a
//! workspace replaces the one recorded.

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::budget::Ticket;
use super::run::{Actor, AgentUsage, Attempt, RunStatus, Survivor, signal_name};
use super::workspace::{Change, HookResult, WorkspaceInfo};

/// Why a run ended as it did, shown (and stored) as one line: `WHY[; stopped the process
/// tree HOW][; THEN...]`, or with survivors `WHY; stopping the process tree HOW[; THEN...]:
/// LEFT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndError {
    /// Why it ended.
    pub(crate) why: String,
    /// How its process tree was stopped (`with SIGTERM`; empty when not said), when
    /// jobctl stopped it.
    pub(crate) stopped: Option<String>,
    /// What went wrong after, in order (a failure to save the run's work).
    pub(crate) then: Vec<String>,
    /// The processes stopping it left behind (`1 process could not be killed (...)`).
    pub(crate) left: Option<String>,
}

impl EndError {
    /// An error that is only its reason.
    pub(crate) fn new(why: impl Into<String>) -> EndError {
        EndError {
            why: why.into(),
            stopped: None,
            then: Vec::new(),
            left: None,
        }
    }

    /// Why it ended, and that jobctl stopped its process tree `how`.
    pub(crate) fn stopped(why: impl Into<String>, how: impl Into<String>) -> EndError {
        EndError {
            stopped: Some(how.into()),
            ..EndError::new(why)
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub status: RunStatus,
    pub ended_at: i64,
    pub exit_code: Option<i64>,
    pub signal: Option<i64>,
    /// Why it ended as it did, in parts (see [`EndError`]).
    pub error: Option<EndError>,
    /// Its agent and what it used (for an agent job or an ask).
    pub usage: AgentUsage,
    pub attempts: Vec<Attempt>,
    /// For a `lost` run: give back the budget reservation it holds if its agent surely
    /// never started (the supervisor died before it noted the agent starting).
    pub refund_unstarted: bool,
    /// Processes the run left that could not be killed.
    pub survivors: Vec<Survivor>,
    /// The run's workspace as it ended (`None`: leave what is recorded).
    pub workspace: Option<WorkspaceInfo>,
    pub changes: Vec<Change>,
    pub hooks: Vec<HookResult>,
    /// Who ended it (its end event's `by`).
    pub by: Actor,
}

impl Default for RunEnd {
    /// A builder's start: an end whose status is still to be decided (failed until then).
    fn default() -> RunEnd {
        RunEnd::new(RunStatus::Failed, 0)
    }
}

impl RunEnd {
    /// An end with this status and nothing else known yet.
    pub fn new(status: RunStatus, ended_at: i64) -> RunEnd {
        RunEnd {
            status,
            ended_at,
            exit_code: None,
            signal: None,
            error: None,
            usage: AgentUsage::default(),
            attempts: Vec::new(),
            refund_unstarted: false,
            survivors: Vec::new(),
            workspace: None,
            changes: Vec::new(),
            hooks: Vec::new(),
            by: Actor::Supervisor,
        }
    }

    /// A failed end with this error.
    pub(crate) fn failed(ended_at: i64, error: impl Into<String>) -> RunEnd {
        let mut e = RunEnd::new(RunStatus::Failed, ended_at);
        e.error = Some(EndError::new(error));
        e
    }

    /// Its error as one line, as it is recorded.
    pub(crate) fn error_text(&self) -> Option<String> {
        self.error.as_ref().map(EndError::to_string)
    }
}

/// How a run's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signaled(i32),
    TimedOut,
    /// jobctl itself got SIGTERM, SIGINT or SIGHUP and stopped the run.
    Interrupted(Signal),
    /// The output showed only the provider being unreachable for the stall limit (the
    /// last notice); the process was stopped.
    Stalled(String),
    /// It stayed paused longer than `max_pause` and was stopped.
    PausedTooLong(Duration),
    /// The program could not be started (127: not found, 126: not executable).
    SpawnFailed {
        exit_code: i32,
        message: String,
    },
}

/// How stopping a run's process tree went, in words: SIGTERM was enough, or SIGKILL
/// followed after `grace`.
pub fn how_stopped(killed: bool, grace: Duration) -> String {
    if killed {
        format!(
            "with SIGTERM, then SIGKILL after {} (SIGTERM was not enough)",
            crate::core::units::format_duration(grace)
        )
    } else {
        "with SIGTERM".into()
    }
}

impl RunEnd {
    /// The end of a run whose process ended so: `status` is the main process's own (exit
    /// code, signal), `timeout` and `grace` what stopping it used, `killed` whether
    /// SIGTERM was not enough and SIGKILL was sent.
    pub(crate) fn of_process(
        ending: &Ending,
        status: Option<(Option<i32>, Option<i32>)>,
        timeout: Duration,
        grace: Duration,
        killed: bool,
        ended_at: i64,
    ) -> RunEnd {
        use crate::core::units::format_duration;
        let (code, sig) = status.unwrap_or((None, None));
        let how = how_stopped(killed, grace);
        let (run_status, error) = match ending {
            Ending::Exited(0) => (RunStatus::Succeeded, None),
            Ending::Exited(c) => (
                RunStatus::Failed,
                Some(EndError::new(format!("exited with code {c}"))),
            ),
            Ending::Signaled(s) => (
                RunStatus::Failed,
                Some(EndError::new(format!(
                    "killed by {} (signal {s})",
                    signal_name(i64::from(*s))
                ))),
            ),
            Ending::TimedOut => (
                RunStatus::TimedOut,
                Some(EndError::stopped(
                    format!("timed out after {}", format_duration(timeout)),
                    how,
                )),
            ),
            Ending::Interrupted(s) => (
                RunStatus::Cancelled,
                Some(EndError::stopped(
                    format!("cancelled: its supervisor received {s}"),
                    how,
                )),
            ),
            Ending::PausedTooLong(max) => (
                RunStatus::Cancelled,
                Some(EndError::stopped(
                    format!(
                        "cancelled: paused for longer than max_pause ({})",
                        format_duration(*max)
                    ),
                    how,
                )),
            ),
            Ending::SpawnFailed { message, .. } => {
                (RunStatus::Failed, Some(EndError::new(message.clone())))
            }
            Ending::Stalled(notice) => (
                RunStatus::Failed,
                Some(EndError::new(format!(
                    "stopped: its output showed only the provider being unreachable ({notice})"
                ))),
            ),
        };
        let mut end = RunEnd::new(run_status, ended_at);
        end.error = error;
        end.exit_code = match ending {
            Ending::SpawnFailed { exit_code, .. } => Some(i64::from(*exit_code)),
            _ => code.map(i64::from),
        };
        end.signal = sig.map(i64::from);
        end
    }
}

impl RunEnd {
    /// The end of a run cancelled by a stop signal, saying who stopped it: `who` (a
    /// person's `jobctl cancel`) becomes why it ended, how its tree was stopped standing;
    /// without one, it was not `jobctl cancel` (a shutdown, a signal sent to it).
    pub(crate) fn name_canceller(&mut self, who: Option<String>) {
        let Some(who) = who else {
            if let Some(e) = self.error.as_mut().filter(|e| e.stopped.is_some()) {
                e.why = format!(
                    "{} (a shutdown or a signal sent to it, not jobctl cancel)",
                    e.why
                );
            }
            return;
        };
        self.error = Some(match self.error.take() {
            Some(e) if e.stopped.is_some() => EndError { why: who, ..e },
            _ => EndError::new(who),
        });
    }

    /// The end of a foreground run stopped by Ctrl-C at its terminal: said plainly, not
    /// as a signal from someone else.
    pub(crate) fn interrupted_at_terminal(&mut self) {
        if self.status == RunStatus::Cancelled
            && let Some(e) = self.error.as_mut().filter(|e| e.stopped.is_some())
        {
            e.why = "interrupted (Ctrl-C)".into();
        }
    }

    /// The end of a run whose stop left processes behind (`left` says which): its error
    /// says so.
    pub(crate) fn with_left(&mut self, left: String) {
        self.error = Some(match self.error.take() {
            Some(e) => EndError {
                left: Some(left),
                ..e
            },
            None => EndError::new(left),
        });
    }
}

impl From<String> for EndError {
    fn from(why: String) -> EndError {
        EndError::new(why)
    }
}

impl From<&str> for EndError {
    fn from(why: &str) -> EndError {
        EndError::new(why)
    }
}

impl fmt::Display for EndError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.why)?;
        let how = |how: &str| {
            if how.is_empty() {
                String::new()
            } else {
                format!(" {how}")
            }
        };
        let then: String = self.then.iter().map(|t| format!("; {t}")).collect();
        match (&self.stopped, &self.left) {
            (Some(h), Some(left)) => {
                write!(f, "; stopping the process tree{}{then}: {left}", how(h))
            }
            (Some(h), None) => write!(f, "; stopped the process tree{}{then}", how(h)),
            (None, Some(left)) => write!(f, "{then}; {left}"),
            (None, None) => f.write_str(&then),
        }
    }
}

impl serde::Serialize for EndError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a run holds in the store when its end comes: its state, and the agent call it
/// was charged for, with the reservation while the day's usage still counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) status: RunStatus,
    pub(crate) agent: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) cost_milli: Option<i64>,
    /// The budget day of the reservation it holds (none once its end is recorded).
    pub(crate) reserve_day: Option<String>,
    /// The usage counter's epoch the reservation was taken in.
    pub(crate) reserve_epoch: i64,
    /// Its agent never started: neither its process group nor the agent's start was
    /// noted.
    pub(crate) unstarted: bool,
}

/// How an end is recorded, beside what the end itself says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closing {
    /// A reservation to give back, in the transaction that closes the run (so exactly
    /// once, and only into the usage it was counted in).
    pub(crate) refund: Option<Ticket>,
    /// The agent, model and cost the record keeps.
    pub(crate) agent: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) cost_milli: Option<i64>,
}

impl RunEnd {
    /// How this end of a run that held `held` is recorded.
    pub(crate) fn closing(&self, held: Held) -> Closing {
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
    pub(crate) fn kept_worktree(&self) -> Option<&str> {
        self.workspace
            .as_ref()
            .filter(|w| w.kept)
            .map(|w| w.path.as_str())
    }
}

#[cfg(test)]
mod tests;
