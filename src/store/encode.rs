//! What both stores write, encoded once: a new run's and an end's columns as stored
//! (JSON text, NULL for nothing), and the events they record beside each change, with
//! their detail. The statements that write them are each backend's own.

use serde::Serialize;
use serde_json::json;

use crate::core::end::{Closing, Held};
use crate::core::error::Result;
use crate::core::run::{Actor, EventKind, NewRun, RunEnd, RunStatus, Transition};

/// A list as a JSON column: NULL when empty.
pub(crate) fn json_list<T: Serialize>(items: &[T]) -> Result<Option<String>> {
    Ok(if items.is_empty() {
        None
    } else {
        Some(serde_json::to_string(items)?)
    })
}

/// A new run's columns that are not its fields as they are: its trigger, attempt (at
/// least 1), depth, and its variables and metadata as JSON (NULL when none).
pub(crate) struct NewRunColumns {
    pub(crate) trigger: &'static str,
    pub(crate) attempt: i64,
    pub(crate) depth: i64,
    pub(crate) env: Option<String>,
    pub(crate) metadata: Option<String>,
}

impl NewRunColumns {
    pub(crate) fn of(new: &NewRun) -> Result<NewRunColumns> {
        Ok(NewRunColumns {
            trigger: new.effective_trigger().as_str(),
            attempt: i64::from(new.attempt.max(1)),
            depth: i64::from(new.depth),
            env: json_list(&new.env)?,
            metadata: new
                .metadata
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        })
    }
}

/// The detail of a new run's first event (the store that keeps hosts adds `host`): with
/// the run it belongs to, when it has one (the parent of a sub-run, the first attempt of
/// a retry, the original of a rerun), so a reader of the event stream knows whose it is
/// without asking.
pub(crate) fn created_detail(new: &NewRun) -> serde_json::Value {
    let mut d = json!({
        "forced": new.forced, "scheduled_for": new.scheduled_for,
        "trigger": new.effective_trigger(),
    });
    for (key, run) in [
        ("parent_run_id", new.parent_run_id),
        ("retry_of", new.retry_of),
        ("rerun_of", new.rerun_of),
    ] {
        if let Some(id) = run {
            d[key] = id.into();
        }
    }
    d
}

/// The change of state a new run's first event records.
pub(crate) fn created(new: &NewRun, status: RunStatus) -> Transition {
    Transition {
        from: None,
        to: status,
        reason: new.reason.clone(),
        by: new.by.clone(),
    }
}

/// An end's columns that are not its fields as they are, with how the end is recorded
/// ([`RunEnd::closing`]).
pub(crate) struct EndColumns {
    pub(crate) closing: Closing,
    /// Its error, as one line.
    pub(crate) error: Option<String>,
    pub(crate) attempts: Option<String>,
    /// The workspace the end carries (NULL: the one recorded stays), and its worktree
    /// on disk when kept.
    pub(crate) workspace: Option<String>,
    pub(crate) worktree: Option<String>,
    pub(crate) changes: Option<String>,
    pub(crate) hooks: Option<String>,
    pub(crate) survivors: Option<String>,
}

impl EndColumns {
    pub(crate) fn of(end: &RunEnd, held: Held) -> Result<EndColumns> {
        Ok(EndColumns {
            closing: end.closing(held),
            error: end.error_text(),
            attempts: json_list(&end.attempts)?,
            workspace: end
                .workspace
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
            worktree: end.kept_worktree().map(str::to_string),
            changes: json_list(&end.changes)?,
            hooks: json_list(&end.hooks)?,
            survivors: json_list(&end.survivors)?,
        })
    }
}

/// One event as stored: what happened, when, to which job and run, its detail, and for a
/// change of a run's state, from what, to what, why and by whom.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent<'a> {
    pub(crate) at: i64,
    pub(crate) kind: EventKind,
    pub(crate) job: Option<&'a str>,
    pub(crate) run_id: Option<i64>,
    pub(crate) detail: serde_json::Value,
    pub(crate) change: Option<Transition>,
}

impl<'a> NewEvent<'a> {
    pub(crate) fn of(
        at: i64,
        kind: EventKind,
        job: Option<&'a str>,
        run_id: Option<i64>,
        detail: serde_json::Value,
    ) -> NewEvent<'a> {
        NewEvent {
            at,
            kind,
            job,
            run_id,
            detail,
            change: None,
        }
    }

    /// A run's change of state `t`, with the event kind that records it.
    pub(crate) fn change(
        at: i64,
        job: &'a str,
        run_id: i64,
        t: Transition,
        detail: serde_json::Value,
    ) -> NewEvent<'a> {
        NewEvent {
            at,
            kind: t.to.event_kind(t.from),
            job: Some(job),
            run_id: Some(run_id),
            detail,
            change: Some(t),
        }
    }

    /// A run's end (from `from`), which took `duration_ms`.
    pub(crate) fn end(
        end: &RunEnd,
        job: &'a str,
        run_id: i64,
        from: RunStatus,
        duration_ms: Option<i64>,
    ) -> NewEvent<'a> {
        let t = Transition {
            from: Some(from),
            to: end.status,
            reason: end.error_text(),
            by: end.by.clone(),
        };
        let detail = json!({
            "status": end.status, "exit_code": end.exit_code, "signal": end.signal,
            "duration_ms": duration_ms, "error": end.error,
        });
        NewEvent::change(end.ended_at, job, run_id, t, detail)
    }

    /// A queued run started at `at`, after waiting since `queued_at`.
    pub(crate) fn started(
        at: i64,
        job: &'a str,
        run_id: i64,
        queued_at: i64,
        by: &Actor,
    ) -> NewEvent<'a> {
        let t = Transition::new(RunStatus::Queued, RunStatus::Running, None, by.clone());
        NewEvent::change(at, job, run_id, t, json!({"waited_ms": at - queued_at}))
    }

    /// A job paused or resumed by a person.
    pub(crate) fn job_paused(at: i64, job: &'a str, paused: bool) -> NewEvent<'a> {
        let kind = if paused {
            EventKind::JobPaused
        } else {
            EventKind::JobResumed
        };
        NewEvent::of(at, kind, Some(job), None, json!({}))
    }

    /// A job's schedule forgotten (`reset`).
    pub(crate) fn job_reset(at: i64, job: &'a str) -> NewEvent<'a> {
        NewEvent::of(at, EventKind::JobReset, Some(job), None, json!({}))
    }

    /// A scope enabled (no reason) or disabled with `reason`.
    pub(crate) fn scope_set(
        at: i64,
        agent: &str,
        scope: &str,
        reason: Option<&str>,
    ) -> NewEvent<'a> {
        let kind = if reason.is_none() {
            EventKind::ScopeEnabled
        } else {
            EventKind::ScopeDisabled
        };
        let detail = json!({"agent": agent, "scope": scope, "reason": reason});
        NewEvent::of(at, kind, None, None, detail)
    }

    /// A new budget day began (usage from zero), enabling `enabled`.
    pub(crate) fn new_budget_day(at: i64, day: &str, enabled: &[(String, String)]) -> NewEvent<'a> {
        let detail = json!({"why": "new budget day", "day": day, "enabled": enabled});
        NewEvent::of(at, EventKind::BudgetReset, None, None, detail)
    }

    /// The scopes whose provider cooldown passed, enabled again.
    pub(crate) fn cooled(at: i64, scopes: &[(String, String)]) -> NewEvent<'a> {
        let detail = json!({"why": "provider cooldown passed", "scopes": scopes});
        NewEvent::of(at, EventKind::ScopesEnabled, None, None, detail)
    }

    /// `reset budgets` (of one agent or all), enabling `enabled`.
    pub(crate) fn budgets_reset(
        at: i64,
        agent: Option<&str>,
        enabled: &[(String, String)],
    ) -> NewEvent<'a> {
        let detail = json!({"why": "jobctl reset budgets", "agent": agent, "enabled": enabled});
        NewEvent::of(at, EventKind::BudgetReset, None, None, detail)
    }

    /// Where several hosts share the state: the host it happened on, in the detail.
    #[cfg(feature = "postgres")]
    pub(crate) fn on_host(mut self, host: Option<&str>) -> NewEvent<'a> {
        self.detail["host"] = host.into();
        self
    }

    /// The columns of a change of state: from, to, reason, actor (all NULL otherwise).
    pub(crate) fn moved_from(&self) -> Option<&'static str> {
        self.change
            .as_ref()
            .and_then(|t| t.from)
            .map(RunStatus::as_str)
    }

    pub(crate) fn moved_to(&self) -> Option<&'static str> {
        self.change.as_ref().map(|t| t.to.as_str())
    }

    pub(crate) fn reason(&self) -> Option<&str> {
        self.change.as_ref().and_then(|t| t.reason.as_deref())
    }

    pub(crate) fn actor(&self) -> Option<String> {
        self.change.as_ref().map(|t| t.by.to_wire())
    }
}
