//! The slots runs take: what a supervised run holds (`max_running` for top-level runs on
//! a host, a job's `concurrency`, `runner.depth_limits` per depth), and the rule that
//! says whether one more fits. The engine asks it to pick the queue's next run; each store
//! asks it again in the transaction that starts the run.

use std::collections::HashMap;

/// The slots a queued run needs when it starts, checked again in the store as it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `runner.max_running`, for a top-level (depth 0) run.
    pub max_running: Option<u32>,
    /// `runner.depth_limits` at the run's depth, if it has one.
    pub depth: Option<u32>,
    /// The job's `concurrency`.
    pub concurrency: u32,
}

/// The slots taken now: supervised runs (running, paused, retrying).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Load {
    /// At depth 0 (what `max_running` counts).
    pub top_level: u32,
    pub by_depth: HashMap<u32, u32>,
    pub by_job: HashMap<String, u32>,
}

impl Load {
    /// Counts `n` supervised runs of `job` at `depth`, of which `counted_top` count
    /// against `max_running` at depth 0 (where several hosts share the state: those of
    /// this host).
    pub(crate) fn add(&mut self, job: String, depth: u32, n: u32, counted_top: u32) {
        if depth == 0 {
            self.top_level += counted_top;
        }
        *self.by_depth.entry(depth).or_default() += n;
        *self.by_job.entry(job).or_default() += n;
    }

    /// Whether one more run of `job` at `depth` fits under `limits`.
    pub(crate) fn fits(&self, job: &str, depth: u32, limits: &Limits) -> bool {
        let free = |taken: u32, limit: Option<u32>| limit.is_none_or(|l| taken < l);
        (depth != 0 || free(self.top_level, limits.max_running))
            && free(
                self.by_depth.get(&depth).copied().unwrap_or(0),
                limits.depth,
            )
            && free(
                self.by_job.get(job).copied().unwrap_or(0),
                Some(limits.concurrency),
            )
    }
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
        assert!(load(0, &[], &[]).fits("j", 0, &lim));
        assert!(!load(2, &[], &[]).fits("j", 0, &lim), "max_running");
        assert!(!load(1, &[(0, 1)], &[]).fits("j", 0, &lim), "depth 0 limit");
        assert!(!load(0, &[], &[("j", 2)]).fits("j", 0, &lim), "concurrency");
        let sub = Limits {
            max_running: None,
            depth: Some(2),
            concurrency: 3,
        };
        assert!(
            load(9, &[(1, 1)], &[("j", 1)]).fits("j", 1, &sub),
            "a sub-run is not held back by max_running"
        );
        assert!(!load(0, &[(1, 2)], &[]).fits("j", 1, &sub));
    }

    #[test]
    fn only_the_counted_top_level_runs_take_max_running() {
        let mut l = Load::default();
        l.add("a".into(), 0, 3, 1);
        l.add("a".into(), 1, 2, 2);
        l.add("b".into(), 0, 1, 1);
        assert_eq!(l.top_level, 2, "depth 0 only, and only those counted");
        assert_eq!((l.by_depth[&0], l.by_depth[&1]), (4, 2));
        assert_eq!((l.by_job["a"], l.by_job["b"]), (5, 1));
    }
}
