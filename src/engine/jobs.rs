//! Changing a job's stored state: pausing and resuming its schedule, and forgetting when
//! it last ran.

use serde::Serialize;

use super::Engine;
use super::plan;
use crate::core::clock::{self, to_ms};
use crate::core::error::Result;

/// `configure job --pause/--resume --json`.
#[derive(Debug, Serialize)]
pub(crate) struct PauseView {
    pub(crate) job: String,
    pub(crate) paused: bool,
}

/// Pauses (`true`) or resumes a job's schedule. Resuming moves the schedule past the
/// slots that passed while paused: they are not caught up.
pub(crate) fn set_paused(e: &mut Engine<'_>, name: &str, pause: bool) -> Result<PauseView> {
    let job = e.cfg.job(name)?;
    let now = clock::now()?;
    let resume_slot = if pause {
        None
    } else {
        plan::passed_slot(
            job,
            e.store.job_state(name)?.as_ref(),
            now,
            &mut Default::default(),
        )
    };
    e.store.set_paused(name, pause, to_ms(now), resume_slot)?;
    Ok(PauseView {
        job: name.to_string(),
        paused: pause,
    })
}

/// `reset job --json`.
#[derive(Debug, Serialize)]
pub(crate) struct ResetView {
    pub(crate) job: String,
    pub(crate) reset: bool,
}

/// Forgets when the job last ran: it is scheduled as if new (history and a pause stay).
pub(crate) fn reset(e: &mut Engine<'_>, name: &str) -> Result<ResetView> {
    e.cfg.job(name)?;
    e.store.reset_job(name, to_ms(clock::now()?))?;
    Ok(ResetView {
        job: name.to_string(),
        reset: true,
    })
}
