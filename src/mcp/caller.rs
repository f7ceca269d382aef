//! Who calls jobctl's MCP tools, and so what they may see and do (mcp.md). A person's
//! own agent session acts as the command line would; an agent run acts as that run (what
//! it submits are its sub-runs, it sees and steers only its own tree, as a token limited
//! to it would); a bearer token of `jobctl serve` has its scopes and its jobs. Every
//! tool asks here before it reads or acts, so no tool can forget a rule.

use std::sync::Arc;

use crate::core::control::Actor;
use crate::core::error::{Error, Result};
use crate::core::run::RunRecord;
use crate::engine::Engine;
use crate::engine::status::AgentScopeView;
use crate::engine::views::{ListRow, RunView};

/// What a token limited to some jobs may read: the server's reach of a token
/// (`http/reach.rs`), seen from here.
pub(crate) trait Reach: Send + Sync {
    /// Whether the job exists for it.
    fn job(&self, name: &str) -> bool;
    /// Whether the agent exists for it.
    fn agent(&self, name: &str) -> bool;
    /// A `list` row of one of its jobs, with what it may not see left out.
    fn row(&self, row: &mut ListRow);
    /// A run it may see, with the ids of runs it may not see (a parent of another job)
    /// forgotten.
    fn view(&self, e: &Engine<'_>, view: &mut RunView) -> Result<()>;
}

/// A bearer token of `jobctl serve`.
#[derive(Clone)]
pub(crate) struct Token {
    pub subject: String,
    /// It has the write scope: the tools that act are listed and may be called.
    pub write: bool,
    pub reach: Arc<dyn Reach>,
}

/// Who calls.
#[derive(Clone)]
pub(crate) enum Caller {
    /// `jobctl mcp` outside any run: as the command line's user.
    User,
    /// `jobctl mcp` started inside this run (its marks, `JOBCTL_RUN_ID` of this state).
    Run(i64),
    /// A request to `/mcp` with this token.
    Token(Token),
}

impl Caller {
    /// Who its actions are recorded as done by (`by` of their events).
    pub(crate) fn actor(&self) -> Actor {
        match self {
            Caller::User => Actor::Mcp(None),
            Caller::Run(id) => Actor::Mcp(Some(*id)),
            Caller::Token(t) => Actor::Api(t.subject.clone()),
        }
    }

    /// The parent of the runs it submits.
    pub(crate) fn parent(&self) -> Option<i64> {
        match self {
            Caller::Run(id) => Some(*id),
            _ => None,
        }
    }

    /// Whether it may call the tools that act (submit, cancel, pause, resume).
    pub(crate) fn may_act(&self) -> bool {
        match self {
            Caller::Token(t) => t.write,
            _ => true,
        }
    }

    pub(crate) fn sees_job(&self, name: &str) -> bool {
        match self {
            Caller::Token(t) => t.reach.job(name),
            _ => true,
        }
    }

    pub(crate) fn sees_agent(&self, name: &str) -> bool {
        match self {
            Caller::Token(t) => t.reach.agent(name),
            _ => true,
        }
    }

    /// The job `name`, if it may use it: a token limited to other jobs is told there is
    /// no such job, as the API tells it.
    pub(crate) fn check_job(&self, name: &str) -> Result<()> {
        if self.sees_job(name) {
            Ok(())
        } else {
            Err(Error::NotFound(format!("no job named {name:?}")))
        }
    }

    /// The record of run `id`, if it is within its reach: for a run, itself and the runs
    /// below it; for a token limited to some jobs, their runs (any other run does not
    /// exist for it).
    pub(crate) fn run(&self, e: &mut Engine<'_>, id: i64) -> Result<RunRecord> {
        e.recover()?;
        let found = e.store.get_run(id)?;
        let Some(run) = found.filter(|r| self.sees_job(&r.job)) else {
            return Err(Error::NotFound(format!("no run {id} in the history")));
        };
        if let Caller::Run(me) = self
            && !is_below(e, &run, *me)?
        {
            return Err(Error::Usage(format!(
                "run {id} ({}) is outside the tree of run {me}: a run's tools reach only that run and the runs it submitted, and theirs",
                run.job
            )));
        }
        Ok(run)
    }

    /// A run's view as it may see it.
    pub(crate) fn view(&self, e: &Engine<'_>, mut view: RunView) -> Result<RunView> {
        if let Caller::Token(t) = self {
            t.reach.view(e, &mut view)?;
        }
        Ok(view)
    }

    /// The `list` rows it may see.
    pub(crate) fn rows(&self, rows: Vec<ListRow>) -> Vec<ListRow> {
        rows.into_iter()
            .filter(|r| self.sees_job(&r.name))
            .map(|mut r| {
                if let Caller::Token(t) = self {
                    t.reach.row(&mut r);
                }
                r
            })
            .collect()
    }

    /// The budgets' rows it may see.
    pub(crate) fn scopes(&self, mut scopes: Vec<AgentScopeView>) -> Vec<AgentScopeView> {
        scopes.retain(|s| self.sees_agent(&s.agent));
        scopes
    }
}

/// Whether `run` is `top` or below it: its parents, followed up to `top`'s depth.
fn is_below(e: &Engine<'_>, run: &RunRecord, top: i64) -> Result<bool> {
    let Some(top) = e.store.get_run(top)? else {
        return Ok(false);
    };
    let mut at = run.clone();
    loop {
        if at.id == top.id {
            return Ok(true);
        }
        if at.depth <= top.depth {
            return Ok(false);
        }
        at = match at.parent_run_id {
            Some(p) => match e.store.get_run(p)? {
                Some(r) => r,
                None => return Ok(false),
            },
            None => return Ok(false),
        };
    }
}
