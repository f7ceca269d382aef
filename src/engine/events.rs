//! The event log as people and programs read it (`jobctl events`): in order, of every run
//! or one, and followed as events arrive.

use std::time::Duration;

use serde::Serialize;

use super::Engine;
use crate::core::clock::rfc3339;
use crate::core::error::Result;
use crate::core::run::{EventKind, RunStatus};
use crate::fail;
use crate::store::Event;

/// One event, as `events --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventView {
    pub(crate) id: i64,
    pub(crate) at: String,
    pub(crate) kind: EventKind,
    pub(crate) job: Option<String>,
    pub(crate) run_id: Option<i64>,
    /// For a run's change of state: from what (`null` for a new run), to what, why, and
    /// who made it (`tick`, `supervisor`, `cli`, `api`, `recovery`, `mcp`, `mcp:RUN_ID`;
    /// `subject`: the API token's).
    pub(crate) from: Option<RunStatus>,
    pub(crate) to: Option<RunStatus>,
    pub(crate) reason: Option<String>,
    pub(crate) by: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) detail: serde_json::Value,
    #[serde(skip)]
    pub(crate) at_ms: i64,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> EventView {
        let t = e.transition.as_ref();
        EventView {
            id: e.id,
            at: rfc3339(e.at),
            kind: e.kind,
            job: e.job.clone(),
            run_id: e.run_id,
            from: t.and_then(|t| t.from),
            to: t.map(|t| t.to),
            reason: t.and_then(|t| t.reason.clone()),
            by: t.map(|t| t.by.shown()),
            subject: t.and_then(|t| t.by.subject().map(str::to_string)),
            detail: e.detail.clone(),
            at_ms: e.at,
        }
    }
}

/// The latest `n` events (of run `run`), oldest first.
pub(crate) fn latest(e: &mut Engine<'_>, run: Option<i64>, n: usize) -> Result<Vec<EventView>> {
    e.recover()?;
    if let Some(id) = run
        && e.store.get_run(id)?.is_none()
    {
        fail!(NotFound, "no run {id} in the history");
    }
    let mut out: Vec<EventView> = match run {
        // A run has a handful of events: all of them, then the last `n`.
        Some(id) => e
            .store
            .run_events(id)?
            .iter()
            .map(EventView::from)
            .collect(),
        None => {
            let mut v: Vec<EventView> = e
                .store
                .events(None, n)?
                .iter()
                .map(EventView::from)
                .collect();
            v.reverse();
            v
        }
    };
    if out.len() > n {
        out.drain(..out.len() - n);
    }
    Ok(out)
}

/// Follows the log after event `after` (of run `run`): `on_event` gets each new event
/// in order; returns when `on_event` says stop, or (for one run) once the run has ended
/// and its last events are out.
pub(crate) fn follow(
    e: &mut Engine<'_>,
    run: Option<i64>,
    mut after: i64,
    on_event: &mut dyn FnMut(&EventView) -> bool,
) -> Result<()> {
    let mut idle = Duration::from_millis(20);
    loop {
        let ended = match run {
            Some(id) => e.store.get_run(id)?.is_none_or(|r| r.status.is_end()),
            None => false,
        };
        let batch = e.store.events_after(run, after, 1000)?;
        for ev in &batch {
            after = ev.id;
            if !on_event(&EventView::from(ev)) {
                return Ok(());
            }
        }
        if ended && batch.is_empty() {
            return Ok(());
        }
        if batch.is_empty() {
            std::thread::sleep(idle);
            idle = (idle * 2).min(Duration::from_millis(200));
        } else {
            idle = Duration::from_millis(20);
        }
    }
}
