//! What both stores write, encoded once: a new run's and an end's columns as stored
//! (JSON text, NULL for nothing), and the detail of the events they record beside a
//! change. The statements that write them are each backend's own.

use serde::Serialize;

use crate::core::end::{Closing, Held};
use crate::core::error::Result;
use crate::core::run::{NewRun, RunEnd};

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
    pub trigger: &'static str,
    pub attempt: i64,
    pub depth: i64,
    pub env: Option<String>,
    pub metadata: Option<String>,
}

impl NewRunColumns {
    pub fn of(new: &NewRun) -> Result<NewRunColumns> {
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

/// The detail of a new run's first event (the store that keeps hosts adds `host`).
pub(crate) fn created_detail(new: &NewRun) -> serde_json::Value {
    serde_json::json!({
        "forced": new.forced, "scheduled_for": new.scheduled_for,
        "trigger": new.effective_trigger(),
    })
}

/// An end's columns that are not its fields as they are, with how the end is recorded
/// ([`RunEnd::closing`]).
pub(crate) struct EndColumns {
    pub closing: Closing,
    pub attempts: Option<String>,
    /// The workspace the end carries (NULL: the one recorded stays), and its worktree
    /// on disk when kept.
    pub workspace: Option<String>,
    pub worktree: Option<String>,
    pub changes: Option<String>,
    pub hooks: Option<String>,
    pub survivors: Option<String>,
}

impl EndColumns {
    pub fn of(end: &RunEnd, held: Held) -> Result<EndColumns> {
        Ok(EndColumns {
            closing: end.closing(held),
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

/// The detail of a run's end event.
pub(crate) fn ended_detail(end: &RunEnd, duration_ms: Option<i64>) -> serde_json::Value {
    serde_json::json!({
        "status": end.status, "exit_code": end.exit_code, "signal": end.signal,
        "duration_ms": duration_ms, "error": end.error,
    })
}
