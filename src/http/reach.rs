//! A token's reach (api.md, "Holding up"): for a token limited to some jobs (`jobs` globs),
//! everything it reads holds its jobs, their runs and the agents they may use, and nothing
//! else: no other job's name, no id of a run of another job, no other agent, no reason an
//! operator gave for another agent. Each read endpoint passes what it answers through
//! here; for a token of every job everything passes as it is.

use std::collections::{BTreeSet, HashMap};

use super::auth::Claims;
use crate::config::{Config, JobKind};
use crate::core::error::Result;
use crate::core::run::{EventKind, RunRecord};
use crate::engine::events::EventView;
use crate::engine::views::{FailureView, ListRow, RunView, StatusReport};
use crate::store::{RunQuery, Store};

/// What one token may read.
#[derive(Clone)]
pub(crate) struct Reach {
    /// The jobs of the config it sees, and the agents they may use (their own, and the
    /// `[fallback]` order's); `None` for a token of every job.
    limits: Option<Limits>,
}

#[derive(Clone)]
struct Limits {
    /// The `jobs` globs, compiled once (the stream asks for each event); one that does
    /// not compile matches nothing.
    globs: Vec<glob::Pattern>,
    jobs: BTreeSet<String>,
    agents: BTreeSet<String>,
}

impl Reach {
    pub(crate) fn new(cfg: &Config, claims: &Claims) -> Reach {
        let limits = claims.jobs.as_ref().map(|globs| {
            let mut l = Limits {
                globs: globs
                    .iter()
                    .filter_map(|g| glob::Pattern::new(g).ok())
                    .collect(),
                jobs: BTreeSet::new(),
                agents: BTreeSet::new(),
            };
            for (name, job) in &cfg.jobs {
                if !l.globs.iter().any(|g| g.matches(name)) {
                    continue;
                }
                l.jobs.insert(name.clone());
                if let JobKind::Agent(a) = &job.kind {
                    l.agents.extend(a.agent.iter().cloned());
                    l.agents.extend(cfg.fallback.iter().cloned());
                }
            }
            l
        });
        Reach { limits }
    }

    /// Whether the job `name` (in the config or only in the history) exists for it.
    pub(crate) fn job(&self, name: &str) -> bool {
        self.limits
            .as_ref()
            .is_none_or(|l| l.globs.iter().any(|g| g.matches(name)))
    }

    pub(crate) fn agent(&self, name: &str) -> bool {
        self.limits.as_ref().is_none_or(|l| l.agents.contains(name))
    }

    /// The runs `q` asks for that it may see, newest first. For a limited token and no
    /// `job`, the page is made of its own jobs' runs (one query per job, merged), so the
    /// page is full when they have enough runs, and its last id, the next page's cursor,
    /// is always one of theirs.
    pub(crate) fn find_runs(&self, store: &dyn Store, q: &RunQuery<'_>) -> Result<Vec<RunRecord>> {
        let Some(limits) = self.limits.as_ref().filter(|_| q.job.is_none()) else {
            let mut runs = store.find_runs(q)?;
            runs.retain(|r| self.job(&r.job));
            return Ok(runs);
        };
        // Its jobs in the config, and those only the history still has.
        let mut jobs = limits.jobs.clone();
        jobs.extend(
            store
                .run_counts()?
                .into_iter()
                .filter(|c| self.job(&c.job))
                .map(|c| c.job),
        );
        let mut runs = Vec::new();
        for job in &jobs {
            runs.extend(store.find_runs(&RunQuery {
                job: Some(job),
                ..*q
            })?);
        }
        runs.sort_unstable_by_key(|r| std::cmp::Reverse(r.id));
        runs.truncate(q.limit);
        Ok(runs)
    }

    /// Whether run `id` exists for it.
    pub(crate) fn run(&self, store: &dyn Store, id: i64) -> Result<bool> {
        Ok(store.get_run(id)?.is_some_and(|r| self.job(&r.job)))
    }

    /// Forgets each id of `ids` that is a run it may not see (a sub-run's parent of another
    /// job).
    pub(crate) fn hide_runs<'a>(
        &self,
        store: &dyn Store,
        ids: impl Iterator<Item = &'a mut Option<i64>>,
    ) -> Result<()> {
        if self.limits.is_none() {
            return Ok(());
        }
        let mut seen: HashMap<i64, bool> = HashMap::new();
        for id in ids {
            let Some(n) = *id else { continue };
            let visible = match seen.get(&n) {
                Some(v) => *v,
                None => *seen.entry(n).or_insert(self.run(store, n)?),
            };
            if !visible {
                *id = None;
            }
        }
        Ok(())
    }

    /// The runs of `views` it may see, their parents of other jobs forgotten.
    pub(crate) fn runs(&self, store: &dyn Store, views: &mut Vec<RunView>) -> Result<()> {
        views.retain(|v| self.job(&v.job));
        self.hide_runs(store, views.iter_mut().map(|v| &mut v.parent_run_id))
    }

    /// A `list` row of one of its jobs: the jobs it `needs` that it may not see are left
    /// out.
    pub(crate) fn row(&self, row: &mut ListRow) {
        if self.limits.is_some() {
            row.needs.retain(|j| self.job(j));
            row.waiting_for.retain(|j| self.job(j));
        }
    }

    /// `status` as it may see it: its agents, its jobs' runs (held, queued, leaving
    /// survivors), and the last failure among them.
    pub(crate) fn status(&self, store: &dyn Store, report: &mut StatusReport) -> Result<()> {
        if self.limits.is_none() {
            return Ok(());
        }
        report.agents.retain(|a| self.agent(&a.agent));
        report.running.retain(|r| self.job(&r.job));
        report.queued.retain(|r| self.job(&r.job));
        report.survivors.retain(|s| self.job(&s.job));
        report.running_runs.retain(|r| self.job(&r.job));
        report.queued_runs.retain(|(r, _)| self.job(&r.job));
        report.survivor_runs.retain(|(r, _)| self.job(&r.job));
        self.hide_runs(
            store,
            report
                .running
                .iter_mut()
                .map(|r| &mut r.parent_run_id)
                .chain(report.queued.iter_mut().map(|r| &mut r.parent_run_id)),
        )?;
        if report
            .last_failure_run
            .as_ref()
            .is_some_and(|r| !self.job(&r.job))
        {
            report.last_failure_run = self.last_failure(store)?;
            report.last_failure = report.last_failure_run.as_ref().map(FailureView::from);
        }
        Ok(())
    }

    /// The latest failure of its jobs: of each (job, failing status) the history has, the
    /// newest run, and the newest of those.
    fn last_failure(&self, store: &dyn Store) -> Result<Option<RunRecord>> {
        let mut last: Option<RunRecord> = None;
        for c in store.run_counts()? {
            if c.count == 0 || !c.status.is_failure() || !self.job(&c.job) {
                continue;
            }
            let newest = store.find_runs(&RunQuery {
                job: Some(&c.job),
                status: Some(c.status),
                parent: None,
                before: None,
                limit: 1,
                ..RunQuery::default()
            })?;
            if let Some(r) = newest.into_iter().next()
                && last.as_ref().is_none_or(|l| r.id > l.id)
            {
                last = Some(r);
            }
        }
        Ok(last)
    }

    /// The event as it may see it, or `None`: another job's, or of the agents only other
    /// jobs use. An event of no job (the budget's and the agents' scopes) is shown with
    /// only the agents it may see; one of another kind, unknown to these rules, is not.
    pub(crate) fn event(&self, mut view: EventView) -> Option<EventView> {
        if self.limits.is_none() {
            return Some(view);
        }
        if let Some(job) = &view.job {
            return self.job(job).then_some(view);
        }
        let agent_of = |v: &serde_json::Value| v.as_str().map(|a| self.agent(a));
        let d = &mut view.detail;
        match view.kind {
            EventKind::ScopeDisabled | EventKind::ScopeEnabled => {
                agent_of(&d["agent"]).unwrap_or(false).then_some(view)
            }
            EventKind::ScopesEnabled => {
                self.keep_scopes(&mut d["scopes"]);
                (d["scopes"].as_array().is_some_and(|s| !s.is_empty())).then_some(view)
            }
            EventKind::BudgetReset => {
                if agent_of(&d["agent"]) == Some(false) {
                    return None;
                }
                self.keep_scopes(&mut d["enabled"]);
                Some(view)
            }
            _ => None,
        }
    }

    /// Keeps, of a list of `[agent, scope]` pairs, those of agents it may see.
    fn keep_scopes(&self, pairs: &mut serde_json::Value) {
        if let Some(list) = pairs.as_array_mut() {
            list.retain(|p| p[0].as_str().is_some_and(|a| self.agent(a)));
        }
    }
}
