//! Dependencies (`needs`): a job that needs others has no schedule of its own; it is
//! queued when every job it needs has a succeeded run newer than its own last run (one
//! that started after that run was created; any, when it never ran), by whoever ends the
//! last of those runs. The tick looks too, so a dependency whose ender died is not lost.

use super::Engine;
use crate::config::Job;
use crate::core::clock::{self, to_ms};
use crate::core::error::Result;
use crate::core::run::{Actor, NewRun, RunRecord, Trigger};
use crate::store::{Enqueued, Store};

/// The jobs `job` needs that have no succeeded run newer than `job`'s last run, given
/// `last`, its latest run.
pub(crate) fn missing(
    store: &dyn Store,
    job: &Job,
    last: Option<&RunRecord>,
) -> Result<Vec<String>> {
    if job.control().needs.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = job.control().needs.iter().map(String::as_str).collect();
    let succeeded = store.latest_succeeded(&names)?;
    Ok(job
        .control()
        .needs
        .iter()
        .filter(|n| {
            succeeded
                .get(*n)
                .is_none_or(|id| last.is_some_and(|l| *id < l.id))
        })
        .cloned()
        .collect())
}

/// After a run of `done` succeeded: queues every enabled, unpaused job that needs it and
/// now has all it needs. Returns the runs queued.
pub(crate) fn release(e: &mut Engine<'_>, done: &str, by: &Actor) -> Result<Vec<RunRecord>> {
    let dependents: Vec<&Job> = e
        .cfg
        .jobs
        .values()
        .filter(|j| j.control().needs.iter().any(|n| n == done))
        .map(|j| &**j)
        .collect();
    queue_ready(e, &dependents, by)
}

/// The tick's look at every job with `needs`.
pub(crate) fn check_all(e: &mut Engine<'_>, by: &Actor) -> Result<Vec<RunRecord>> {
    let jobs: Vec<&Job> = e
        .cfg
        .jobs
        .values()
        .filter(|j| !j.control().needs.is_empty())
        .map(|j| &**j)
        .collect();
    queue_ready(e, &jobs, by)
}

fn queue_ready(e: &mut Engine<'_>, jobs: &[&Job], by: &Actor) -> Result<Vec<RunRecord>> {
    let mut queued = Vec::new();
    for job in jobs {
        if !job.enabled || e.store.job_state(&job.name)?.is_some_and(|s| s.paused) {
            continue;
        }
        let last = e.store.latest_run(&job.name)?;
        if !missing(&*e.store, job, last.as_ref())?.is_empty() {
            continue;
        }
        let now = to_ms(clock::real_now());
        let new = NewRun {
            job: job.name.clone(),
            forced: true,
            scheduled_for: now,
            started_at: now,
            trigger: Trigger::Dependency,
            by: by.clone(),
            reason: Some(format!(
                "every job it needs succeeded ({})",
                job.control().needs.join(", ")
            )),
            ..Default::default()
        };
        if let Enqueued::Queued(run) = e.store.enqueue_run(&new, true)? {
            tracing::info!(job = %job.name, run = run.id, "queued: every job it needs succeeded");
            queued.push(*run);
        }
    }
    Ok(queued)
}
