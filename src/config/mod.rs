//! The validated configuration. `load` turns a TOML file into a [`Config`] or a
//! [`ConfigErrors`] listing every problem; after that, no other module sees raw TOML and
//! none has to re-check a value.

mod control;
mod errors;
mod inputs;
mod jobs;
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
pub(crate) use paths::{absolute as absolute_path, default_config_file, find_config_file};
pub(crate) use workspace::DEFAULT_COMMIT_MESSAGE;

use crate::core::error::{Error, Result};
use crate::core::run::{ChildPolicy, RunStatus};
use crate::core::schedule::Schedule;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Preset {
    Claude,
    Codex,
    Gemini,
    Command,
}

impl Preset {
    pub(crate) fn parse(s: &str) -> Option<Preset> {
        Some(match s {
            "claude" => Preset::Claude,
            "codex" => Preset::Codex,
            "gemini" => Preset::Gemini,
            "command" => Preset::Command,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Preset::Claude => "claude",
            Preset::Codex => "codex",
            Preset::Gemini => "gemini",
            Preset::Command => "command",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Thinking {
    Fast,
    Med,
    Slow,
}

impl Thinking {
    pub(crate) fn parse(s: &str) -> Option<Thinking> {
        Some(match s {
            "fast" => Thinking::Fast,
            "med" => Thinking::Med,
            "slow" => Thinking::Slow,
            _ => return None,
        })
    }
}

/// Model names per thinking level, as the file names them; `None`: the preset's default
/// (`agents::presets::model_for`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Models {
    pub(crate) fast: Option<String>,
    pub(crate) med: Option<String>,
    pub(crate) slow: Option<String>,
}

impl Models {
    pub(crate) fn get(&self, t: Thinking) -> Option<&str> {
        match t {
            Thinking::Fast => self.fast.as_deref(),
            Thinking::Med => self.med.as_deref(),
            Thinking::Slow => self.slow.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Auth {
    pub(crate) env: Vec<String>,
    pub(crate) files: Vec<PathBuf>,
    /// The paths as written, for messages.
    pub(crate) files_display: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Agent {
    pub(crate) name: String,
    pub(crate) preset: Preset,
    /// Cost units per budget day, in thousandths.
    pub(crate) daily_budget_milli: i64,
    /// For presets: the binary. For `command`: the argv template.
    pub(crate) command: Vec<String>,
    pub(crate) models: Models,
    /// Cost per call by model, in thousandths.
    pub(crate) rates: BTreeMap<String, i64>,
    pub(crate) auth: Option<Auth>,
    pub(crate) args: Vec<String>,
    /// `agent_stall`: how long output that shows only the provider being unreachable may
    /// go on before the call is stopped and the next agent tried.
    pub(crate) stall: Duration,
    /// `mcp = true`: jobctl's MCP tools are wired into this CLI for every job run.
    pub(crate) mcp: bool,
}

impl Agent {
    /// What one call with `model` costs the budget, in thousandths (1.0 when unlisted).
    pub(crate) fn rate_milli(&self, model: Option<&str>) -> i64 {
        model
            .and_then(|m| self.rates.get(m))
            .copied()
            .unwrap_or(1000)
    }
}

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

#[cfg(feature = "postgres")]
fn state_url_has_password(url: &str) -> bool {
    crate::store::postgres::url::url_has_password(url)
}

#[cfg(not(feature = "postgres"))]
fn state_url_has_password(_url: &str) -> bool {
    false
}

/// Finds and loads the config file (`--config` first, then the lookup order of config.md).
pub(crate) fn load(explicit: Option<&Path>) -> Result<Config> {
    let path = find_config_file(explicit)?;
    load_file(&path)
}

/// Like [`load`], but always parses and validates the file, and neither reads nor writes
/// a snapshot: `jobctl check` looks at the file itself and changes nothing.
pub(crate) fn load_fresh(explicit: Option<&Path>) -> Result<Config> {
    let path = find_config_file(explicit)?;
    load_path(&path, false)
}

/// Validates `text` as the config file at `path` would be (relative paths from its
/// directory), without reading the file or touching a snapshot: `jobctl edit` checks an
/// edited copy before it replaces the file.
pub(crate) fn load_text(path: &Path, text: &str) -> Result<Config> {
    let path = paths::absolute(path);
    if text.len() > MAX_CONFIG_BYTES {
        return Err(errors::whole_file(
            &path,
            format!(
                "is {} bytes; a config file may be at most {MAX_CONFIG_BYTES} bytes",
                text.len()
            ),
        )
        .into());
    }
    Ok(parse::parse_config(&path, text)?.0)
}

/// Reads, parses and validates one config file, or takes its snapshot when the file and
/// everything it refers to are unchanged since the snapshot was made.
pub fn load_file(path: &Path) -> Result<Config> {
    load_path(path, true)
}

fn load_path(path: &Path, use_snapshot: bool) -> Result<Config> {
    let path = paths::absolute(path);
    let display = path.display().to_string();
    let meta = std::fs::metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => paths::no_config(&path),
        _ => errors::whole_file(&path, format!("can't read the config file: {e}")),
    })?;
    if meta.is_dir() {
        return Err(errors::whole_file(&path, "is a directory, not a config file".into()).into());
    }
    if let Err(why) = safety::trusted_config(&meta) {
        return Err(Error::State(format!(
            "refusing the config {}: {why}",
            path.display()
        )));
    }
    if meta.len() as usize > MAX_CONFIG_BYTES {
        return Err(errors::whole_file(
            &path,
            format!(
                "is {} bytes; a config file may be at most {} bytes",
                meta.len(),
                MAX_CONFIG_BYTES
            ),
        )
        .into());
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| errors::whole_file(&path, format!("can't read the config file: {e}")))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let valid = std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or("");
            let (line, column) = errors::line_col(valid, at);
            return Err(ConfigErrors {
                issues: vec![ConfigIssue {
                    file: display,
                    line,
                    column,
                    key: String::new(),
                    expected: "UTF-8 text (found a byte sequence that is not UTF-8)".into(),
                }],
            }
            .into());
        }
    };
    if use_snapshot && let Some(config) = snapshot::read(&path, &text) {
        return Ok(config);
    }
    let (mut config, inputs) = parse::parse_config(&path, &text)?;
    config.read_files = inputs.read_paths();
    // A password in the state URL is never written to disk by jobctl.
    let secret = config
        .state
        .as_ref()
        .is_some_and(|s| state_url_has_password(&s.url));
    if use_snapshot && !secret {
        snapshot::write(&path, &text, &inputs, &config);
    }
    Ok(config)
}
