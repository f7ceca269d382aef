//! What a job is once loaded: its kind (a script's command or an agent call), its
//! run-control keys, its workspace and hooks. Kept apart from `jobs.rs`, which reads
//! `[jobs.*]` out of the TOML, so that every module using a job sees only these types.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Thinking;
use crate::core::run::{ChildPolicy, RunStatus};
use crate::core::schedule::Schedule;
use crate::core::zone::Zone;

/// A script job's command: a string runs under `/bin/sh -c`, an array is exec'd as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Command {
    Shell(String),
    Argv(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AgentJob {
    pub(crate) prompt: String,
    pub(crate) agent: Option<String>,
    pub(crate) thinking: Thinking,
    pub(crate) role: Option<String>,
    pub(crate) scope: String,
    pub(crate) model: Option<String>,
    pub(crate) args: Vec<String>,
    /// `mcp = true`: jobctl's MCP tools are wired into the agent's CLI for each run.
    pub(crate) mcp: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum JobKind {
    Script(Command),
    Agent(AgentJob),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub(crate) name: String,
    pub(crate) kind: JobKind,
    pub(crate) schedule: Option<Schedule>,
    pub(crate) timezone: Zone,
    pub(crate) timeout: Duration,
    pub(crate) enabled: bool,
    pub(crate) catch_up: bool,
    pub(crate) deadline: Option<Duration>,
    pub(crate) workdir: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    /// The git worktree each run works in, if any.
    pub workspace: Option<Box<Workspace>>,
    /// The hooks that apply to it (its own, else the runner's), if any.
    pub(crate) hooks: Option<Box<Hooks>>,
    /// `hosts = [...]`: the hosts whose tick runs it (several hosts); `None`: every host.
    pub(crate) hosts: Option<Vec<String>>,
    /// Run control (docs/run-control.md); `None`: every default ([`Job::control`]).
    pub(crate) control: Option<Box<JobControl>>,
}

/// A job's run-control keys: retries, dependencies, sub-runs, pausing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobControl {
    /// Extra attempts after a failure.
    pub(crate) retries: u32,
    /// The first wait before a retry; doubled each time, up to `retry_backoff_max`.
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    /// The ends that are retried (`failed`, `timed_out`).
    pub(crate) retry_on: RetryOn,
    /// Jobs that must each succeed before this one runs (it then has no schedule).
    pub(crate) needs: Vec<String>,
    /// How many runs of it may run at once.
    pub(crate) concurrency: u32,
    /// What its runs' children still running become when a run ends.
    pub(crate) children: ChildPolicy,
    /// The most a run of it and all its descendants may reserve from agent budgets
    /// together, in thousandths.
    pub(crate) tree_budget_milli: Option<i64>,
    /// How long a run may stay paused; `None`: `runner.max_pause`.
    pub(crate) max_pause: Option<Duration>,
}

impl JobControl {
    /// The keys' defaults.
    pub(crate) const DEFAULT: JobControl = JobControl {
        retries: 0,
        retry_backoff: Duration::from_secs(30),
        retry_backoff_max: Duration::from_secs(600),
        retry_on: RetryOn {
            failed: true,
            timed_out: false,
        },
        needs: Vec::new(),
        concurrency: 1,
        children: ChildPolicy::Cancel,
        tree_budget_milli: None,
        max_pause: None,
    };
}

impl Default for JobControl {
    fn default() -> JobControl {
        JobControl::DEFAULT
    }
}

/// The ends a job retries (`retry_on`): only these two can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RetryOn {
    pub(crate) failed: bool,
    pub(crate) timed_out: bool,
}

impl RetryOn {
    pub(crate) fn contains(&self, status: RunStatus) -> bool {
        match status {
            RunStatus::Failed => self.failed,
            RunStatus::TimedOut => self.timed_out,
            _ => false,
        }
    }
}

impl Command {
    /// The command as people read it.
    pub(crate) fn display(&self) -> String {
        match self {
            Command::Shell(s) => s.clone(),
            Command::Argv(v) => v.join(" "),
        }
    }
}

impl Job {
    /// Whether host `host` schedules this job.
    pub(crate) fn runs_on(&self, host: &str) -> bool {
        self.hosts
            .as_ref()
            .is_none_or(|h| h.iter().any(|x| x == host))
    }

    /// Its run-control keys.
    pub(crate) fn control(&self) -> &JobControl {
        const DEFAULT: &JobControl = &JobControl::DEFAULT;
        self.control.as_deref().unwrap_or(DEFAULT)
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match self.kind {
            JobKind::Script(_) => "script",
            JobKind::Agent(_) => "agent",
        }
    }
}

/// A job's `[workspace]`: the git worktree it runs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workspace {
    pub(crate) repo: Repo,
    /// The repo as written, for records and messages.
    pub(crate) repo_display: String,
    /// Where the run's branch starts; `None`: the remote's default branch, else HEAD.
    pub(crate) base: Option<String>,
    /// The branch name template (`{job}`, `{run_id}`, `{date}`).
    pub(crate) branch: String,
    /// Fetch `base` from `remote` first; `None`: when the repository has that remote.
    pub(crate) fetch: Option<bool>,
    pub(crate) remote: String,
    pub(crate) commit: bool,
    pub(crate) commit_message: String,
    pub(crate) push: bool,
    pub(crate) keep: crate::core::workspace::Keep,
    /// Gitignored files copied into the worktree (besides `.worktreeinclude`'s).
    pub(crate) include: Vec<String>,
}

/// Where a workspace's repository is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Repo {
    /// A local repository (its working tree, or a bare one).
    Local(PathBuf),
    /// A URL (https, ssh, file, or `host:path`): worked on through a bare mirror.
    Url(String),
}

/// A job's lifecycle hooks (a job's hook replaces the runner's of the same name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hooks {
    pub(crate) pre_run: Option<Command>,
    pub(crate) post_run: Option<Command>,
    pub(crate) on_success: Option<Command>,
    pub(crate) on_failure: Option<Command>,
    pub(crate) timeout: Duration,
}

impl Hooks {
    /// The default `hook_timeout`.
    pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

    pub(crate) fn get(&self, name: crate::core::workspace::HookName) -> Option<&Command> {
        use crate::core::workspace::HookName;
        match name {
            HookName::PreRun => self.pre_run.as_ref(),
            HookName::PostRun => self.post_run.as_ref(),
            HookName::OnSuccess => self.on_success.as_ref(),
            HookName::OnFailure => self.on_failure.as_ref(),
        }
    }
}
