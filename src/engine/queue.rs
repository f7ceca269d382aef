//! The queue: runs accepted but waiting for a slot (`max_running` for top-level runs, a
//! job's `concurrency`, `runner.depth_limits` for each depth). Whoever frees a slot (a
//! supervisor ending its run, `submit`, the tick, and every command's recovery after a
//! crash) drains it: the oldest queued run whose job and depth have a free slot is
//! started under a detached supervisor, then the next, until none fits.
//!
//! Starting one is the tick's claim for a queued run: take a free lease of the job (one
//! per `concurrency` slot), move the run to `running` in the store (which checks the
//! limits again, in the same transaction), hand the lease to the supervisor. Two drainers
//! racing start a run once: the store moves it out of `queued` once.
//!
//! Where several hosts share the state, the queue is theirs together and a run starts on
//! the host whose drain starts it; a queued run of a job that names its `hosts` waits for
//! one of those (its drain after a run ends there, its tick at the latest).

use std::collections::HashSet;

use super::Engine;
use super::launch::{self, Started};
use crate::config::{Config, Job};
use crate::coord::{Coordinator, Lease, slot_key, slot_lock_name};
use crate::core::clock::{self, to_ms};
use crate::core::error::Result;
use crate::core::run::{Actor, RunEnd};
use crate::store::{Limits, Load, QueueHead, QueueStart};

/// The slots a run of `job` at `depth` needs.
pub(crate) fn limits(cfg: &Config, job: &Job, depth: u32) -> Limits {
    Limits {
        max_running: (depth == 0).then_some(cfg.runner.max_running),
        depth: cfg.depth_limit(depth),
        concurrency: job.control().concurrency.max(1),
    }
}

/// A lease of one of a job's `concurrency` slots, and the `lock_name` a run under it is
/// recorded with (`None`: the job's own).
pub(crate) type SlotLease = (Option<String>, Box<dyn Lease>);

/// A free lease among the job's `concurrency` slots; `None` when every one is held.
pub(crate) fn take_slot(coord: &dyn Coordinator, job: &Job) -> Result<Option<SlotLease>> {
    for slot in 1..=job.control().concurrency.max(1) {
        if let Some(lease) = coord.try_lease(&slot_key(&job.name, slot))? {
            return Ok(Some((slot_lock_name(&job.name, slot), lease)));
        }
    }
    Ok(None)
}

/// Starts queued runs, oldest first, while their limits leave slots; returns what it
/// started. A queued run of a job no longer in the config can never start: it is closed
/// `failed`, saying so.
pub(crate) fn drain(e: &mut Engine<'_>, by: &Actor) -> Result<Vec<Started>> {
    let cfg = e.cfg;
    let mut started = Vec::new();
    // Jobs and depths whose every lease another process holds right now, and jobs this
    // host doesn't run (`hosts = [...]`).
    let mut blocked: HashSet<(String, u32)> = HashSet::new();
    let mut here: Option<String> = e.host.clone();
    loop {
        let heads = e.store.queue_heads()?;
        if heads.is_empty() {
            break;
        }
        let load = e.store.load()?;
        let Some(head) = next_to_start(cfg, &heads, &load, &blocked) else {
            break;
        };
        if let Some(job) = cfg.jobs.get(&head.job)
            && job.hosts.is_some()
            && !job.runs_on(here.get_or_insert_with(crate::config::StateConfig::default_host))
        {
            blocked.insert((head.job.clone(), head.depth));
            continue;
        }
        let Some(job) = cfg.jobs.get(&head.job) else {
            let mut end = RunEnd::failed(
                to_ms(clock::real_now()),
                format!(
                    "job {} is not in the config any more; its queued run can't start",
                    head.job
                ),
            );
            end.by = by.clone();
            e.store.finish_run(head.id, &end)?;
            continue;
        };
        crate::faults::point("drain_before_claim");
        let Some((lock_name, mut lease)) = take_slot(&*e.coord, job)? else {
            blocked.insert((head.job.clone(), head.depth));
            continue;
        };
        let lim = limits(cfg, job, head.depth);
        let now = || to_ms(clock::real_now());
        match e
            .store
            .start_queued_now(head.id, lock_name.as_deref(), &lim, by, &now)?
        {
            QueueStart::Started(run) => {
                crate::faults::point("drain_after_claim");
                let supervisor = launch::spawn_supervisor(
                    cfg,
                    e.store.dir(),
                    &run,
                    &mut *lease,
                    e.host.as_deref(),
                )?;
                tracing::info!(run = run.id, job = %run.job, "started a queued run");
                started.push(Started {
                    run: *run,
                    supervisor,
                });
            }
            // Another process changed the queue or took the slot meanwhile: look again,
            // without this job and depth if the slot is what it took.
            QueueStart::Full => {
                blocked.insert((head.job.clone(), head.depth));
            }
            QueueStart::NotQueued => {}
        }
    }
    Ok(started)
}

/// The oldest head whose job and depth have a free slot (a job no longer in the config
/// counts as startable: starting it closes it).
fn next_to_start(
    cfg: &Config,
    heads: &[QueueHead],
    load: &Load,
    blocked: &HashSet<(String, u32)>,
) -> Option<QueueHead> {
    heads
        .iter()
        .filter(|h| !blocked.contains(&(h.job.clone(), h.depth)))
        .find(|h| match cfg.jobs.get(&h.job) {
            Some(job) => load.fits(&h.job, h.depth, &limits(cfg, job, h.depth)),
            None => true,
        })
        .cloned()
}

/// Why a queued run waits, for people (`status`, `list`).
pub(crate) fn waiting_reason(cfg: &Config, load: &Load, job: &str, depth: u32) -> String {
    let Some(j) = cfg.jobs.get(job) else {
        return "its job is not in the config any more".into();
    };
    let lim = limits(cfg, j, depth);
    if depth == 0 && lim.max_running.is_some_and(|m| load.top_level >= m) {
        return format!("max_running = {}", cfg.runner.max_running);
    }
    if let Some(d) = lim.depth
        && load.by_depth.get(&depth).copied().unwrap_or(0) >= d
    {
        return format!("depth_limits: {d} at depth {depth}");
    }
    if load.by_job.get(job).copied().unwrap_or(0) >= lim.concurrency {
        return format!("concurrency = {}", lim.concurrency);
    }
    "a free slot".into()
}
