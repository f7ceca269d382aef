//! Sub-runs: a run's children when it ends (`children = "cancel"` or `"abandon"`),
//! cancelling one run of a tree without waiting for it, and the tree as people see it
//! (`history --tree`).

use super::Engine;
use crate::config::Config;
use crate::coord::StopRequest;
use crate::core::clock::{self, to_ms};
use crate::core::error::Result;
use crate::core::run::{Actor, ChildPolicy, RunRecord, RunStatus, Transition};

/// After `run` ended: its children not ended yet are cancelled, unless its job says
/// `children = "abandon"` (a job no longer in the config: cancelled).
pub(crate) fn on_end(e: &mut Engine<'_>, run: &RunRecord, by: &Actor) {
    let policy = e
        .cfg
        .jobs
        .get(&run.job)
        .map_or(ChildPolicy::Cancel, |j| j.control().children);
    if policy == ChildPolicy::Abandon {
        return;
    }
    let children = match e.store.descendants(run.id) {
        Ok(d) => d,
        Err(err) => {
            tracing::warn!(run = run.id, "can't read the run's children: {err}");
            return;
        }
    };
    let reason = format!("cancelled: its parent run {} ended {}", run.id, run.status);
    for child in children
        .iter()
        .filter(|c| c.parent_run_id == Some(run.id) && !c.status.is_end())
    {
        if let Err(err) = cancel_one(e, child, by, &reason) {
            tracing::warn!(
                run = child.id,
                "can't cancel a child of run {}: {err}",
                run.id
            );
        }
    }
}

/// Asks for `run` to be cancelled, without waiting: a queued run is closed at once; a
/// supervised one's supervisor is asked to stop it (having recorded who asked and why, so
/// a supervisor that is just starting cancels it as it starts, and its end says why).
/// Returns what the request to its supervisor came to (`None` for a queued run closed
/// here).
pub(crate) fn cancel_one(
    e: &mut Engine<'_>,
    run: &RunRecord,
    by: &Actor,
    reason: &str,
) -> Result<Option<StopRequest>> {
    super::cancel::record_request(e, run, by, reason)?;
    e.store.request_control(run.id, RunStatus::Cancelled, by)?;
    if run.status == RunStatus::Queued {
        let closed = e.store.transition(
            run.id,
            &Transition::new(
                RunStatus::Queued,
                RunStatus::Cancelled,
                Some(reason.to_string()),
                by.clone(),
            ),
            to_ms(clock::real_now()),
        )?;
        if closed {
            return Ok(None);
        }
    }
    // Started meanwhile, or held by a supervisor: ask it.
    Ok(Some(e.coord.request_stop(run.lock_key(), run.id)))
}

/// One line of `history --tree`: a run and how deep it is drawn.
pub(crate) struct TreeLine<'a> {
    pub(crate) run: &'a RunRecord,
    /// How many levels below a run shown above it.
    pub(crate) level: usize,
}

/// `runs` (newest first) as trees: each run under its parent when the parent is among
/// them (children oldest first, as they were submitted), roots newest first.
pub(crate) fn layout(runs: &[RunRecord]) -> Vec<TreeLine<'_>> {
    let ids: std::collections::HashSet<i64> = runs.iter().map(|r| r.id).collect();
    let mut children: std::collections::HashMap<i64, Vec<&RunRecord>> = Default::default();
    for r in runs {
        if let Some(p) = r.parent_run_id.filter(|p| ids.contains(p)) {
            children.entry(p).or_default().push(r);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|r| r.id);
    }
    let mut out = Vec::with_capacity(runs.len());
    fn walk<'a>(
        r: &'a RunRecord,
        level: usize,
        children: &std::collections::HashMap<i64, Vec<&'a RunRecord>>,
        out: &mut Vec<TreeLine<'a>>,
    ) {
        out.push(TreeLine { run: r, level });
        for c in children.get(&r.id).into_iter().flatten() {
            walk(c, level + 1, children, out);
        }
    }
    for r in runs
        .iter()
        .filter(|r| r.parent_run_id.is_none_or(|p| !ids.contains(&p)))
    {
        walk(r, 0, &children, &mut out);
    }
    out
}

/// The ancestors of a run with a `tree_budget`, and their limits: what a reservation of
/// the run must stay within (`ReserveRequest::tree`). The run itself first.
pub(crate) fn budget_limits(e: &Engine<'_>, run: &RunRecord) -> Result<Vec<(i64, i64)>> {
    budget_limits_of(e.cfg, run, |id| e.store.get_run(id))
}

fn budget_limits_of(
    cfg: &Config,
    run: &RunRecord,
    get: impl Fn(i64) -> Result<Option<RunRecord>>,
) -> Result<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    let mut at = Some(run.clone());
    // A tree is never deeper than max_depth; the bound guards a damaged parent chain.
    for _ in 0..=cfg.runner.max_depth.saturating_add(1) {
        let Some(r) = at else { break };
        if let Some(limit) = cfg
            .jobs
            .get(&r.job)
            .and_then(|j| j.control().tree_budget_milli)
        {
            out.push((r.id, limit));
        }
        at = match r.parent_run_id {
            Some(p) => get(p)?,
            None => None,
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, parent: Option<i64>) -> RunRecord {
        RunRecord {
            id,
            parent_run_id: parent,
            ..Default::default()
        }
    }

    #[test]
    fn children_are_drawn_under_their_parent_oldest_first() {
        // Newest first, as history reads them.
        let runs = vec![
            run(6, None),
            run(5, Some(2)),
            run(4, Some(3)),
            run(3, Some(2)),
            run(2, None),
            run(1, Some(99)),
        ];
        let lines: Vec<(i64, usize)> = layout(&runs).iter().map(|l| (l.run.id, l.level)).collect();
        assert_eq!(
            lines,
            vec![(6, 0), (2, 0), (3, 1), (4, 2), (5, 1), (1, 0)],
            "a run whose parent is not shown is a root"
        );
    }
}
