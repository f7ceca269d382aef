//! Submitting a run (`jobctl submit`, the API's `POST /runs`): a queued run of a job,
//! started at once if its slots allow (else when one frees), detached under a supervisor
//! of its own. From inside a run it is a sub-run: its parent is the calling run, its
//! depth one more, at most `runner.max_depth`. Waiting for it is refused when it could
//! never start: when every slot of its job is held by its own ancestors, each waiting for
//! what is below it.

use std::time::{Duration, Instant};

use super::Engine;
use super::queue;
use crate::config::JobKind;
use crate::core::clock::{self, to_ms};
use crate::core::error::Result;
use crate::core::run::{Actor, EventKind, Metadata, NewRun, RunRecord, Trigger};
use crate::core::text;
use crate::fail;
use crate::store::Enqueued;

/// What to submit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Submit<'a> {
    pub(crate) job: &'a str,
    /// The calling run, for a sub-run.
    pub(crate) parent: Option<i64>,
    /// For an agent job: this prompt instead of its own.
    pub(crate) prompt: Option<&'a str>,
    /// Added to the job's environment.
    pub(crate) env: Vec<(String, String)>,
    /// The caller will wait for the run's end.
    pub(crate) wait: bool,
    /// What to store on the run (the API's `metadata`).
    pub(crate) metadata: Option<Metadata>,
    /// The ended run this one makes again (`engine::rerun`): its trigger is `rerun`.
    pub(crate) rerun_of: Option<i64>,
}

/// Creates the run (queued) and starts it if it fits; returns its record as it is then.
pub(crate) fn submit(e: &mut Engine<'_>, s: &Submit<'_>, by: &Actor) -> Result<RunRecord> {
    let cfg = e.cfg;
    if let Some(bad) = text::name_problem(s.job) {
        fail!(Usage, "the job name {:?} holds {bad}", s.job);
    }
    let job = cfg.job(s.job)?;
    if let Some(p) = s.prompt {
        if matches!(job.kind, JobKind::Script(_)) {
            fail!(
                Usage,
                "--prompt is for agent jobs; {} is a script job",
                job.name
            );
        }
        super::ask::check_prompt(p)?;
    }
    for (k, v) in &s.env {
        if !text::is_env_name(k) || k.starts_with("JOBCTL_") {
            fail!(
                Usage,
                "--env {k:?}: expected NAME=VALUE with a portable NAME (letters, digits and '_', not starting with a digit) that is not one of jobctl's JOBCTL_*"
            );
        }
        if let Some(bad) = text::free_text_problem(v) {
            fail!(
                Usage,
                "--env {k}: its value holds {bad}; only tab, newline and carriage return may be in a value"
            );
        }
    }
    e.recover()?;
    let (parent, depth) = match s.parent {
        None => (None, 0),
        Some(id) => {
            let Some(p) = e.store.get_run(id)? else {
                fail!(NotFound, "no run {id} (JOBCTL_RUN_ID) in the history");
            };
            if p.status.is_end() {
                fail!(
                    Conflict,
                    "run {id} (JOBCTL_RUN_ID) is {}: a sub-run needs a parent that has not ended",
                    p.status
                );
            }
            let depth = p.depth + 1;
            (Some(p), depth)
        }
    };
    let max = cfg.runner.max_depth;
    if depth > max {
        let p = parent.as_ref().map_or(0, |p| p.id);
        // An event of the parent run, under its job: who may see that run sees it (the
        // refused job is in the detail).
        e.store.append_event(
            to_ms(clock::real_now()),
            EventKind::SubmitRefused,
            Some(
                parent
                    .as_ref()
                    .map_or(job.name.as_str(), |p| p.job.as_str()),
            ),
            Some(p),
            &serde_json::json!({"job": job.name, "depth": depth, "max_depth": max, "by": by}),
        )?;
        fail!(
            Conflict,
            "depth limit {max} reached: a run of {} submitted by run {p} would be at depth {depth}",
            job.name
        );
    }
    if s.wait
        && let Some(p) = &parent
    {
        refuse_a_wait_that_never_ends(e, p, &job.name, job.control().concurrency.max(1))?;
    }
    let now = to_ms(clock::real_now());
    let reason = match (&parent, s.rerun_of) {
        (Some(p), _) => format!("submitted by run {} of {}", p.id, p.job),
        (None, Some(original)) => format!("rerun of run {original}"),
        (None, None) => "submitted".to_string(),
    };
    let new = NewRun {
        job: job.name.clone(),
        forced: true,
        scheduled_for: now,
        started_at: now,
        trigger: if s.rerun_of.is_some() {
            Trigger::Rerun
        } else {
            Trigger::Submit
        },
        parent_run_id: parent.as_ref().map(|p| p.id),
        rerun_of: s.rerun_of,
        depth,
        prompt: s.prompt.map(str::to_string),
        env: s.env.clone(),
        metadata: s.metadata.clone(),
        by: by.clone(),
        reason: Some(reason),
        ..Default::default()
    };
    let Enqueued::Queued(run) = e.store.enqueue_run(&new, false)? else {
        fail!(State, "the store refused a submitted run of {}", job.name);
    };
    crate::faults::point("enqueue_after_record");
    if let Err(err) = queue::drain(e, by) {
        tracing::warn!("can't start queued runs: {err}");
    }
    Ok(e.store.get_run(run.id)?.unwrap_or(*run))
}

/// Refuses to wait for a new run of `job` below `parent` when every slot of `job` is held
/// by `parent` and its ancestors: each of them waits (directly or not) for the new run,
/// which could only start once one of them ended.
fn refuse_a_wait_that_never_ends(
    e: &Engine<'_>,
    parent: &RunRecord,
    job: &str,
    concurrency: u32,
) -> Result<()> {
    let mut holders = Vec::new();
    let mut at = Some(parent.clone());
    for _ in 0..=e.cfg.runner.max_depth.saturating_add(1) {
        let Some(r) = at else { break };
        if r.job == job && r.status.is_supervised() {
            holders.push(r.id);
        }
        at = match r.parent_run_id {
            Some(p) => e.store.get_run(p)?,
            None => None,
        };
    }
    if holders.len() as u32 >= concurrency {
        let ids: Vec<String> = holders.iter().map(|i| format!("run {i}")).collect();
        fail!(
            Conflict,
            "can't wait for a run of {job}: its concurrency ({concurrency}) is taken by {}, which would wait for it forever; submit without --wait, or raise concurrency",
            ids.join(", ")
        );
    }
    Ok(())
}

/// Waits until run `id` has ended, and returns its record (recovering now and then, so a
/// run whose supervisor died is seen `lost`).
pub(crate) fn wait(e: &mut Engine<'_>, id: i64) -> Result<RunRecord> {
    let mut runs = wait_until(e, &[id], None, &|| false)?;
    Ok(runs.remove(0))
}

/// Waits until every run of `ids` has ended, `deadline` passes or `stop` says so, and
/// returns their records as they are then, in the order of `ids` (recovering now and
/// then, so a run whose supervisor died is seen `lost`).
pub(crate) fn wait_until(
    e: &mut Engine<'_>,
    ids: &[i64],
    deadline: Option<Instant>,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<RunRecord>> {
    let mut next_recovery = Instant::now() + Duration::from_secs(1);
    let mut pause = Duration::from_millis(10);
    loop {
        let mut runs = Vec::with_capacity(ids.len());
        for &id in ids {
            match e.store.get_run(id)? {
                Some(r) => runs.push(r),
                None => fail!(NotFound, "run {id} vanished from the history"),
            }
        }
        let now = Instant::now();
        if runs.iter().all(|r| r.status.is_end()) || deadline.is_some_and(|d| now >= d) || stop() {
            return Ok(runs);
        }
        let left = deadline.map_or(pause, |d| d - now);
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(100));
        if Instant::now() > next_recovery {
            e.recover()?;
            next_recovery = Instant::now() + Duration::from_secs(1);
        }
    }
}
