//! Making an ended run again (a *rerun*): a new run of the same job with the same prompt,
//! environment and metadata, submitted as `jobctl submit` would submit it and recorded as
//! a rerun of the original (its trigger is `rerun`; its first event names the original).
//! Front ends (the API's `POST /runs/{id}/rerun`, a command) only say which run and who.
//!
//! What is copied: the job, the prompt given to the run (not the job's own, which the
//! rerun reads from the config as it is now), the variables given to it and its metadata.
//! The variables' values are copied inside the engine and never shown: they may hold
//! secrets, so the API shows their names only. A rerun is a top-level run: a sub-run's
//! parent has usually ended, and the rerun is asked for by a person, not by that parent.

use super::Engine;
use super::submit::{self, Submit};
use crate::core::error::Result;
use crate::core::run::{ASK_JOB, Actor, RunRecord};
use crate::fail;

/// Submits a rerun of `run_id` by `by`; returns the new run as it is then (queued, or
/// started if its slots allow). `wait`: the caller will wait for its end (as `submit
/// --wait`, refused where that could never come).
pub(crate) fn rerun(e: &mut Engine<'_>, run_id: i64, wait: bool, by: &Actor) -> Result<RunRecord> {
    e.recover()?;
    let Some(original) = e.store.get_run(run_id)? else {
        fail!(NotFound, "no run {run_id} in the history");
    };
    rerunnable(e, &original)?;
    let s = Submit {
        job: &original.job,
        parent: None,
        prompt: original.prompt.as_deref(),
        env: original.env.clone(),
        wait,
        metadata: original.metadata.clone(),
        rerun_of: Some(original.id),
    };
    submit::submit(e, &s, by)
}

/// Whether `run` can be made again now: it has ended, it is not an ask (whose question
/// was the caller's), and its job is still in the config.
pub(crate) fn rerunnable(e: &Engine<'_>, run: &RunRecord) -> Result<()> {
    if !run.status.is_end() {
        fail!(
            Conflict,
            "run {} of {} is {}: a run can be made again once it has ended",
            run.id,
            run.job,
            run.status
        );
    }
    if run.job == ASK_JOB {
        fail!(
            Conflict,
            "run {} is an ask: ask again with jobctl ask",
            run.id
        );
    }
    if !e.cfg.jobs.contains_key(&run.job) {
        fail!(
            Conflict,
            "run {} can't be made again: its job {} is no longer in the config",
            run.id,
            run.job
        );
    }
    Ok(())
}
