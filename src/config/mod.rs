//! The validated configuration. `load` turns a TOML file into a [`Config`] or a
//! [`ConfigErrors`] listing every problem; after that, no other module sees raw TOML and
//! none has to re-check a value.

mod agent;
mod control;
mod errors;
mod inputs;
mod job;
mod jobs;
mod load;
mod parse;
mod paths;
pub(crate) mod safety;
mod sections;
pub(crate) mod snapshot;
pub mod state;
mod walk;
mod workspace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use crate::core::error::{ConfigErrors, ConfigIssue};
pub(crate) use agent::{Agent, Auth, Models, Preset, Thinking};
pub(crate) use errors::whole_file;
pub(crate) use job::{AgentJob, Command, Hooks, JobControl, JobKind, Repo, RetryOn};
pub use job::{Job, Workspace};
pub use load::load_file;
pub(crate) use load::{load, load_fresh, load_text};
pub(crate) use paths::{absolute as absolute_path, default_config_file, find_config_file};
pub(crate) use workspace::DEFAULT_COMMIT_MESSAGE;

use crate::core::error::{Error, Result};
use crate::core::zone::Zone;

/// The largest config file jobctl reads; anything bigger is a mistake, not a config.
pub(crate) const MAX_CONFIG_BYTES: usize = 4 << 20;
/// The largest prompt: one argv string can't be longer on Linux.
pub(crate) const MAX_PROMPT_BYTES: usize = 100 << 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// The config file, absolute.
    pub(crate) path: PathBuf,
    /// Its directory: relative paths in the file are relative to it.
    pub(crate) dir: PathBuf,
    pub runner: Runner,
    pub(crate) daemon: Option<Daemon>,
    pub(crate) budget: Budget,
    pub(crate) agents: BTreeMap<String, Agent>,
    pub(crate) fallback: Vec<String>,
    /// Boxed: a `Job` is 400 bytes, and a map node holds eleven of them inline, mostly
    /// half empty after in-order inserts; boxed, a 1,000-job config takes half the memory
    /// (every page of it is a page fault on every load).
    pub jobs: BTreeMap<String, Box<Job>>,
    /// `[state]`: a PostgreSQL state several hosts share; `None`: SQLite in `state_dir`.
    pub(crate) state: Option<StateConfig>,
    /// The other files loading read (prompt files, the env file): what a process that
    /// keeps the config watches besides the file itself.
    pub(crate) read_files: Vec<PathBuf>,
}

/// Where several hosts keep their one state (`[state]`, docs/several-hosts.md).
#[derive(Clone, Serialize, Deserialize)]
pub struct StateConfig {
    /// `postgres://...` (from `[state] url` or `JOBCTL_DATABASE_URL`). It may hold a
    /// password: never printed, and a config whose URL holds one is never snapshotted.
    pub(crate) url: String,
    /// This host's name as written; `None`: the machine's hostname.
    pub(crate) host: Option<String>,
    /// How long a claim on a run lives without a heartbeat.
    pub(crate) lease: Duration,
}

impl std::fmt::Debug for StateConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateConfig")
            .field("url", &"<not shown>")
            .field("host", &self.host)
            .field("lease", &self.lease)
            .finish()
    }
}

impl StateConfig {
    /// This host's name: `host`, else the hostname.
    pub(crate) fn host_name(&self) -> String {
        self.host.clone().unwrap_or_else(StateConfig::default_host)
    }

    /// The machine's hostname (`localhost` if it has none that can name a host).
    pub fn default_host() -> String {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| state::is_valid_host(h))
            .unwrap_or_else(|| "localhost".into())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Runner {
    pub(crate) scope: String,
    pub(crate) timezone: Zone,
    pub(crate) max_running: u32,
    pub(crate) default_timeout: Duration,
    pub(crate) kill_grace: Duration,
    pub(crate) log_max_bytes: u64,
    pub(crate) keep_runs: u32,
    pub(crate) env_remove: Vec<String>,
    pub(crate) default_role: String,
    pub(crate) role_env: Vec<String>,
    /// `[runner] env`; jobs get [`Runner::env_vars`].
    pub(crate) env: Vec<(String, String)>,
    pub(crate) env_file: Option<PathBuf>,
    /// What `env_file` held. It holds secrets, so it is never part of a snapshot: every
    /// load reads the file again.
    #[serde(skip)]
    pub(crate) env_file_vars: Vec<(String, String)>,
    pub state_dir: PathBuf,
    /// Where run worktrees go (`workspace_dir`, default `STATE_DIR/workspaces`).
    pub(crate) workspace_dir: PathBuf,
    /// Kept worktrees older than this are removed by the tick.
    pub(crate) workspace_max_age: Duration,
    /// Kept worktrees beyond this many bytes together are removed, oldest first.
    pub(crate) workspace_max_bytes: u64,
    /// The git program (a name on PATH or a path).
    pub(crate) git: String,
    /// `"Name <email>"` for the commits jobctl makes, when set.
    pub(crate) git_author: Option<GitAuthor>,
    /// `[runner.hooks]`: every job's hooks unless the job names its own.
    pub(crate) hooks: Option<Box<Hooks>>,
    /// The deepest a sub-run may be (top-level runs are depth 0).
    pub(crate) max_depth: u32,
    /// At most `depth_limits[d]` runs at depth `d` at once; a depth past the list has no
    /// limit of its own.
    pub(crate) depth_limits: Vec<u32>,
    /// How long a run may stay paused before it is cancelled (a job may say otherwise).
    pub(crate) max_pause: Duration,
}

/// The identity of the commits jobctl makes of a run's work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GitAuthor {
    pub(crate) name: String,
    pub(crate) email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Daemon {
    pub(crate) socket: PathBuf,
    pub(crate) health_path: String,
    pub(crate) timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Budget {
    pub(crate) scopes: Vec<String>,
    pub(crate) day_starts: (u8, u8),
    pub(crate) provider_cooldown: Duration,
}

impl Runner {
    /// `env` then the `env_file` entries, in that order.
    pub(crate) fn env_vars(&self) -> impl Iterator<Item = &(String, String)> {
        self.env.iter().chain(&self.env_file_vars)
    }
}

impl Config {
    /// How long a run of `job` may stay paused.
    pub(crate) fn max_pause(&self, job: &Job) -> Duration {
        job.control().max_pause.unwrap_or(self.runner.max_pause)
    }

    /// The most runs at depth `depth` at once, if the depth has a limit.
    pub(crate) fn depth_limit(&self, depth: u32) -> Option<u32> {
        self.runner.depth_limits.get(depth as usize).copied()
    }

    /// The job named `name`, or the error every command gives for a name not in the file.
    pub fn job(&self, name: &str) -> Result<&Job> {
        self.jobs
            .get(name)
            .map(|j| &**j)
            .ok_or_else(|| Error::NotFound(self.no_such_job(name)))
    }

    /// `no such job 'helo' (did you mean 'hello'?)`.
    pub(crate) fn no_such_job(&self, name: &str) -> String {
        no_such("job", name, self.jobs.keys(), &self.path)
    }

    /// `no such agent 'claud' (did you mean 'claude'?)`.
    pub(crate) fn no_such_agent(&self, name: &str) -> String {
        no_such("agent", name, self.agents.keys(), &self.path)
    }

    /// `scope "x" is not in budget.scopes (worker, backend)`, with a suggestion.
    pub(crate) fn no_such_scope(&self, scope: &str) -> String {
        format!(
            "scope '{scope}' is not in budget.scopes ({}){}",
            self.budget.scopes.join(", "),
            crate::core::names::hint(scope, self.budget.scopes.iter().map(String::as_str))
        )
    }
}

fn no_such<'a>(
    what: &str,
    name: &str,
    known: impl Iterator<Item = &'a String>,
    path: &Path,
) -> String {
    match crate::core::names::closest(name, known.map(String::as_str)) {
        Some(m) => format!("no such {what} '{name}' (did you mean '{m}'?)"),
        None => format!("no such {what} '{name}' in {}", path.display()),
    }
}
