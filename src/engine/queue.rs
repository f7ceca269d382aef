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
pub fn limits(cfg: &Config, job: &Job, depth: u32) -> Limits {
    Limits {
        max_running: (depth == 0).then_some(cfg.runner.max_running),
        depth: cfg.depth_limit(depth),
        concurrency: job.control().concurrency.max(1),
    }
}

/// Whether `load` leaves a slot for a run of `job` at `depth` under `limits`.
pub fn fits(load: &Load, job: &str, depth: u32, limits: &Limits) -> bool {
    let free = |taken: u32, limit: Option<u32>| limit.is_none_or(|l| taken < l);
    (depth != 0 || free(load.top_level, limits.max_running))
        && free(
            load.by_depth.get(&depth).copied().unwrap_or(0),
            limits.depth,
        )
        && free(
            load.by_job.get(job).copied().unwrap_or(0),
            Some(limits.concurrency),
        )
}

/// A lease of one of a job's `concurrency` slots, and the `lock_name` a run under it is
/// recorded with (`None`: the job's own).
pub type SlotLease = (Option<String>, Box<dyn Lease>);

/// A free lease among the job's `concurrency` slots; `None` when every one is held.
pub fn take_slot(coord: &dyn Coordinator, job: &Job) -> Result<Option<SlotLease>> {
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
pub fn drain(e: &mut Engine<'_>, by: &Actor) -> Result<Vec<Started>> {
    let cfg = e.cfg;
    let mut started = Vec::new();
    // Jobs and depths whose every lease another process holds right now.
    let mut blocked: HashSet<(String, u32)> = HashSet::new();
    loop {
        let heads = e.store.queue_heads()?;
        if heads.is_empty() {
            break;
        }
        let load = e.store.load()?;
        let Some(head) = next_to_start(cfg, &heads, &load, &blocked) else {
            break;
        };
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
        let Some((lock_name, lease)) = take_slot(&*e.coord, job)? else {
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
                let supervisor = launch::spawn_supervisor(cfg, e.store.dir(), &run, &*lease)?;
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
            Some(job) => fits(load, &h.job, h.depth, &limits(cfg, job, h.depth)),
            None => true,
        })
        .cloned()
}

/// Why a queued run waits, for people (`status`, `list`).
pub fn waiting_reason(cfg: &Config, load: &Load, job: &str, depth: u32) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(top: u32, depth: &[(u32, u32)], job: &[(&str, u32)]) -> Load {
        Load {
            top_level: top,
            by_depth: depth.iter().copied().collect(),
            by_job: job.iter().map(|(j, n)| (j.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn a_slot_is_free_only_under_every_limit() {
        let lim = Limits {
            max_running: Some(2),
            depth: Some(1),
            concurrency: 2,
        };
        assert!(fits(&load(0, &[], &[]), "j", 0, &lim));
        assert!(!fits(&load(2, &[], &[]), "j", 0, &lim), "max_running");
        assert!(
            !fits(&load(1, &[(0, 1)], &[]), "j", 0, &lim),
            "depth 0 limit"
        );
        assert!(
            !fits(&load(0, &[], &[("j", 2)]), "j", 0, &lim),
            "concurrency"
        );
        let sub = Limits {
            max_running: None,
            depth: Some(2),
            concurrency: 3,
        };
        assert!(
            fits(&load(9, &[(1, 1)], &[("j", 1)]), "j", 1, &sub),
            "a sub-run is not held back by max_running"
        );
        assert!(!fits(&load(0, &[(1, 2)], &[]), "j", 1, &sub));
    }
}
