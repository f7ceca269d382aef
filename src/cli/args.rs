//! The command line, declared (and only declared) with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "jobctl",
    version,
    about = "Cron-style job runner for scripts and unattended AI coding agents",
    long_about = "jobctl reads a TOML file of script jobs and AI-agent jobs, runs the ones that are due when \
launchd or systemd starts it every 5 minutes, and keeps run state, history and shared daily agent budgets in SQLite.",
    after_help = "Examples:\n  jobctl check                  validate the config\n  jobctl list                   what runs when, and how it went\n  jobctl run                    the tick: start every due job\n\nEnvironment: JOBCTL_HOME moves config and state; JOBCTL_CONFIG names the config file; \
JOBCTL_NOW=<RFC 3339> pins \"now\" for schedules (what-if checks); JOBCTL_LOG / RUST_LOG set the log filter; NO_COLOR disables colour."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Config file (default: $JOBCTL_CONFIG, $JOBCTL_HOME/jobctl.toml, ~/.config/jobctl/jobctl.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Machine-readable output: one JSON document on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// More log on stderr (-v, -vv)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour: auto (only on a terminal, never with NO_COLOR), always, never
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Times as they are, without "in 4m" / "3m ago" beside them on a terminal
    #[arg(long, global = true)]
    pub absolute: bool,
}

/// How the scheduler logs its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// One line of text per event
    Text,
    /// One JSON object per line
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// crontab lines (`crontab -l`)
    Crontab,
    /// the `jobs:` section of a TeleClaude teleclaude.yml
    Teleclaude,
    /// job-finder's ai-settings JSON (agents, budgets, fallbacks, scope states)
    AiSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the config and print a summary or every error
    #[command(after_help = "Example:\n  jobctl check --config ~/jobs/jobctl.toml")]
    Check,

    /// The next start times of a job's schedule
    #[command(
        after_help = "Examples:\n  jobctl next nightly-vacuum\n  jobctl next report -n 10 --from 2026-03-28T00:00:00+01:00"
    )]
    Next {
        /// The job (jobctl list shows them)
        #[arg(add = job_names())]
        name: String,
        /// How many start times (at most 10000)
        #[arg(short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        n: u64,
        /// List the slots after this moment (RFC 3339) instead of after now
        #[arg(long, value_name = "RFC3339")]
        from: Option<String>,
    },

    /// One row per job: schedule, next start, last run
    #[command(
        after_help = "Examples:\n  jobctl list\n  jobctl list --json | jq '.[] | select(.last_status == \"failed\")'"
    )]
    List,

    /// Latest runs, newest first
    #[command(
        after_help = "Examples:\n  jobctl history\n  jobctl history nightly-vacuum -n 5 --json"
    )]
    History {
        /// Only this job's runs
        #[arg(add = job_names())]
        name: Option<String>,
        /// How many runs (newest first)
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
        /// Draw sub-runs under the run that submitted them
        #[arg(long)]
        tree: bool,
    },

    /// The stored output of a run
    #[command(
        after_help = "Examples:\n  jobctl logs 42\n  jobctl logs --job nightly-vacuum --follow\n  jobctl logs --job nightly-vacuum --tail 20 --timestamps"
    )]
    Logs {
        /// The run id (jobctl history shows them)
        #[arg(required_unless_present = "job", conflicts_with = "job")]
        run_id: Option<i64>,
        /// The latest run of this job
        #[arg(long, value_name = "NAME", add = job_names())]
        job: Option<String>,
        /// Keep printing as the log grows until the run ends
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines (then, with --follow, what comes)
        #[arg(long, value_name = "N")]
        tail: Option<u64>,
        /// Each line with the time jobctl received it
        #[arg(short = 't', long)]
        timestamps: bool,
    },

    /// What a run did: status, times, agents, usage, workspace and changed files, hooks, the end of its log
    #[command(
        after_help = "Examples:\n  jobctl show 42\n  jobctl show --job bug-hunter --json | jq .changes"
    )]
    Show {
        /// The run id
        #[arg(required_unless_present = "job", conflicts_with = "job")]
        run_id: Option<i64>,
        /// The latest run of this job
        #[arg(long, value_name = "NAME")]
        job: Option<String>,
    },

    /// Run worktrees on disk (kept after their runs, or in use), and removing kept ones
    #[command(
        after_help = "Examples:\n  jobctl workspaces\n  jobctl workspaces clean --older-than 2d --dry-run"
    )]
    Workspaces {
        #[command(subcommand)]
        action: Option<WorkspacesAction>,
    },

    /// The tick: start every due job, then return (launchd/systemd call this every 5 minutes)
    #[command(
        after_help = "Examples:\n  jobctl run                     start what is due and return\n  jobctl run --dry-run           say which jobs are due and why\n  jobctl run --wait              stay until the started runs end\n  jobctl run --force --job NAME  same as jobctl force NAME"
    )]
    Run {
        /// Consider only this job (it still must be due, unless --force)
        #[arg(long, value_name = "NAME", add = job_names())]
        job: Option<String>,
        /// Run --job now in the foreground, due or not
        #[arg(long, requires = "job")]
        force: bool,
        /// Print which jobs are due and why (or why not); change nothing
        #[arg(long, conflicts_with_all = ["force", "wait"])]
        dry_run: bool,
        /// Stay until the runs this tick started have ended, printing their results
        #[arg(long)]
        wait: bool,
    },

    /// Run a job now, in the foreground, with its output streamed and its exit code passed through
    #[command(
        after_help = "Examples:\n  jobctl force nightly-vacuum\n  jobctl force report --json > run.json"
    )]
    Force {
        /// The job (jobctl list shows them)
        #[arg(add = job_names())]
        name: String,
    },

    /// Stop a running run (TERM, grace, KILL, the whole tree) and record it cancelled
    #[command(after_help = "Examples:\n  jobctl cancel 42\n  jobctl cancel --job log-bug-hunter")]
    Cancel {
        /// The run id (jobctl status shows the running ones)
        #[arg(required_unless_present = "job", conflicts_with = "job")]
        run_id: Option<i64>,
        /// The running run of this job
        #[arg(long, value_name = "NAME", add = job_names())]
        job: Option<String>,
    },

    /// Pause a running run: stop its whole process tree (SIGSTOP), its timeout clock with it
    #[command(after_help = "Examples:\n  jobctl pause 42\n  jobctl pause --job log-bug-hunter")]
    Pause {
        /// The run id
        #[arg(required_unless_present = "job", conflicts_with = "job")]
        run_id: Option<i64>,
        /// Every running run of this job
        #[arg(long, value_name = "NAME", add = job_names())]
        job: Option<String>,
    },

    /// Resume a paused run (SIGCONT to its whole process tree)
    #[command(after_help = "Examples:\n  jobctl resume 42\n  jobctl resume --job log-bug-hunter")]
    Resume {
        /// The run id
        #[arg(required_unless_present = "job", conflicts_with = "job")]
        run_id: Option<i64>,
        /// Every paused run of this job
        #[arg(long, value_name = "NAME", add = job_names())]
        job: Option<String>,
    },

    /// Queue a run of a job (from inside a run: a sub-run of it), started as soon as a slot is free
    #[command(
        after_help = "Examples:\n  jobctl submit report\n  jobctl submit review --wait --prompt \"Review src/parse.rs\" --env TARGET=src/parse.rs"
    )]
    Submit {
        /// The job
        #[arg(add = job_names())]
        name: String,
        /// Wait for the run's end and exit with its result, as force does
        #[arg(long)]
        wait: bool,
        /// For an agent job: this prompt instead of its own
        #[arg(long, value_name = "TEXT")]
        prompt: Option<String>,
        /// Add a variable to the run's environment (repeatable)
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
    },

    /// Make an ended run again: the same job, prompt, environment and metadata
    #[command(after_help = "Examples:\n  jobctl rerun 42\n  jobctl rerun 42 --wait")]
    Rerun {
        /// The ended run (jobctl history shows them)
        run_id: i64,
        /// Wait for the new run's end and exit with its result, as force does
        #[arg(long)]
        wait: bool,
    },

    /// The event log: every run's changes of state (who, why), skips, budgets
    #[command(
        after_help = "Examples:\n  jobctl events\n  jobctl events --run 42 --follow\n  jobctl events --json -n 500"
    )]
    Events {
        /// Only this run's events
        #[arg(long, value_name = "ID")]
        run: Option<i64>,
        /// Keep printing events as they arrive (with --run: until the run has ended)
        #[arg(short, long)]
        follow: bool,
        /// How many of the latest events
        #[arg(short = 'n', default_value_t = 50)]
        n: usize,
    },

    /// The daemon, the role now, every agent and scope with its budget, what runs, the last failure
    #[command(
        after_help = "Examples:\n  jobctl status\n  jobctl status --json | jq '.agents[] | select(.enabled | not)'"
    )]
    Status,

    /// A one-shot agent call without tools, sharing the agents and their budget
    #[command(
        after_help = "Examples:\n  jobctl ask \"Summarise this error: ...\"\n  git diff | jobctl ask --scope backend --thinking med --json -"
    )]
    Ask {
        /// Budget scope to spend from
        #[arg(long, default_value = "backend", add = scope_names())]
        scope: String,
        /// First agent to try (then [fallback] order)
        #[arg(long, value_name = "NAME", add = agent_names())]
        agent: Option<String>,
        /// fast, med or slow: picks the model
        #[arg(long, default_value = "fast", value_name = "LEVEL")]
        thinking: String,
        /// Deadline for the whole call
        #[arg(long, default_value = "5m", value_name = "DURATION")]
        timeout: String,
        /// The prompt; - reads it from stdin
        prompt: String,
    },

    /// Change stored state: pause or resume a job, enable or disable an agent's scopes
    #[command(
        subcommand,
        after_help = "Examples:\n  jobctl configure job nightly-vacuum --pause\n  jobctl configure agent claude --scope worker --disable --reason \"token expired\""
    )]
    Configure(Configure),

    /// Reset stored state: a job's schedule, today's agent budgets
    #[command(
        subcommand,
        after_help = "Examples:\n  jobctl reset budgets --agent claude\n  jobctl reset job nightly-vacuum"
    )]
    Reset(Reset),

    /// Move the state: copy this host's SQLite state into an empty PostgreSQL database
    #[command(
        subcommand,
        after_help = "Example:\n  jobctl state migrate --to postgres://jobctl@db.internal/jobctl"
    )]
    State(StateCommand),
    /// Serve the control API, live events, metrics and the web console
    #[command(
        after_help = "Examples:\n  jobctl serve                          http://127.0.0.1:7878 (loopback only)\n  jobctl serve --listen 0.0.0.0:7878    every address (put TLS in front)\n  jobctl token create --scope read      a token to sign in with"
    )]
    Serve {
        /// Address to listen on (anything but loopback needs TLS in front)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
        listen: std::net::SocketAddr,
        /// Listen on this unix socket instead
        #[arg(long, value_name = "PATH", conflicts_with = "listen")]
        socket: Option<PathBuf>,
        /// The most connections open at once; one more is answered 503
        #[arg(long, value_name = "N", default_value_t = crate::http::MAX_CONNECTIONS,
              value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        max_connections: u32,
        /// Also run the schedule, as `jobctl scheduler` does (one process for both)
        #[arg(long)]
        schedule: bool,
        /// How the schedule's events are logged (with --schedule)
        #[arg(long, value_enum, default_value_t = LogFormatArg::Text, requires = "schedule")]
        log_format: LogFormatArg,
    },

    /// Run the schedule in the foreground: each job started on its slot, until SIGTERM
    #[command(after_help = "Examples:
  jobctl scheduler                      jobs on their minute, log lines on stderr
  jobctl scheduler --log-format json    one JSON object per event, for collectors

Instead of the 5-minute timer (./install.sh --scheduler), or as a container's main
process. SIGHUP loads the config again; SIGTERM starts nothing more and exits 0,
leaving running jobs to finish.")]
    Scheduler {
        /// How events are logged on stderr
        #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
        log_format: LogFormatArg,
    },

    /// Serve jobctl's tools to an agent over MCP (stdio); inside a run, as that run
    #[command(
        after_help = "Examples (an agent CLI starts it, not a person):\n  claude mcp add jobctl -- jobctl mcp\n  codex mcp add jobctl -- jobctl mcp\nAn agent job with `mcp = true` gets it wired in for each run (docs/mcp.md)."
    )]
    Mcp,

    /// Make API tokens, or a new signing key (which invalidates every token)
    #[command(
        subcommand,
        after_help = "Examples:\n  jobctl token create --scope read --sub dashboard\n  jobctl token rotate"
    )]
    Token(Token),

    /// Write a commented starter config (never over an existing one)
    #[command(
        after_help = "Examples:\n  jobctl init                          ~/.config/jobctl/jobctl.toml (or $JOBCTL_HOME/jobctl.toml)\n  jobctl --config ./jobctl.toml init\n  jobctl init --print > my.toml"
    )]
    Init {
        /// Print it to stdout instead of writing the file
        #[arg(long)]
        print: bool,
    },

    /// Edit the config in $VISUAL or $EDITOR; it is checked on save and never left invalid
    #[command(
        after_help = "Example:\n  EDITOR=nano jobctl edit\n\nLike crontab -e: the editor works on a copy; a valid copy replaces the config, an invalid one is offered for editing again (on a terminal) or dropped, and the config stays as it was."
    )]
    Edit,

    /// Turn another scheduler's jobs into jobctl TOML on stdout
    #[command(
        after_help = "Examples:\n  crontab -l | jobctl import crontab - >> jobctl.toml\n  jobctl import teleclaude ~/teleclaude/teleclaude.yml\n  jobctl import ai-settings ai-settings.json\n\nWhat could not be carried over is listed on stderr (and as # comments in the TOML)."
    )]
    Import {
        /// crontab, teleclaude (a teleclaude.yml jobs section) or ai-settings (job-finder's JSON)
        format: ImportFormat,
        /// The file to read; - reads stdin
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },

    /// Print a shell completion script (job and agent names complete from the config)
    #[command(
        after_help = "Examples:\n  jobctl completions bash > ~/.local/share/bash-completion/completions/jobctl\n  jobctl completions zsh > ~/.zfunc/_jobctl\n  jobctl completions fish > ~/.config/fish/completions/jobctl.fish\n\nThe script calls jobctl for names as you type, so it follows the config."
    )]
    Completions {
        /// bash, zsh or fish
        shell: CompletionShell,
    },

    /// Print a man page (roff): jobctl(1), jobctl-COMMAND(1), jobctl.toml(5)
    #[command(
        after_help = "Examples:\n  jobctl man | man -l -\n  jobctl man run > jobctl-run.1\n  jobctl man jobctl.toml > jobctl.toml.5\n  jobctl man --dir ~/.local/share/man     every page, in man1/ and man5/"
    )]
    Man {
        /// A command (jobctl-COMMAND(1)) or jobctl.toml (the config format, section 5)
        #[arg(value_name = "PAGE", conflicts_with = "dir")]
        page: Option<String>,
        /// Write every page under DIR/man1 and DIR/man5
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },

    /// Internal: finish a run recorded lost (size its worktree, run its hooks)
    #[command(hide = true, name = "after-lost")]
    AfterLost {
        run_id: i64,
        #[arg(long)]
        state_dir: PathBuf,
    },

    /// Internal: supervise one run started by `jobctl run`
    #[command(hide = true)]
    Supervise {
        run_id: i64,
        /// The job lock, inherited (a state on this host)
        #[arg(long, conflicts_with = "lease_epoch")]
        lock_fd: Option<i32>,
        /// The lease's epoch (a PostgreSQL state; its URL comes by environment)
        #[arg(long, requires = "host")]
        lease_epoch: Option<i64>,
        /// This host's name in the shared state
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        state_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspacesAction {
    /// Remove kept worktrees (all, or those older than --older-than); uncommitted work is committed to jobctl/rescue/RUN_ID first, and branches with commits found nowhere else stay
    #[command(
        after_help = "Examples:\n  jobctl workspaces clean --dry-run\n  jobctl workspaces clean --older-than 3d\n  jobctl workspaces clean --discard"
    )]
    Clean {
        /// Only worktrees whose run ended longer ago than this (e.g. 12h, 3d)
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        /// Say what would be removed; remove nothing
        #[arg(long)]
        dry_run: bool,
        /// Throw uncommitted work away instead of committing it to a rescue branch (says which files)
        #[arg(long)]
        discard: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Configure {
    /// Enable or disable an agent for one scope or all (a reason is stored as "manual: TEXT")
    #[command(
        group = clap::ArgGroup::new("action").required(true).args(["enable", "disable"]),
        after_help = "Examples:\n  jobctl configure agent claude --disable --reason \"token expired\"\n  jobctl configure agent claude --scope worker --enable"
    )]
    Agent {
        /// The agent (jobctl status shows them)
        #[arg(add = agent_names())]
        name: String,
        /// Only this scope (default: every scope)
        #[arg(long, add = scope_names())]
        scope: Option<String>,
        /// Make the agent available again
        #[arg(long)]
        enable: bool,
        /// Take the agent out of selection
        #[arg(long)]
        disable: bool,
        /// Why (with --disable)
        #[arg(long, requires = "disable")]
        reason: Option<String>,
    },
    /// Pause or resume a job (a paused job is not scheduled; forcing still works)
    #[command(
        after_help = "Examples:\n  jobctl configure job nightly-vacuum --pause\n  jobctl configure job nightly-vacuum --resume"
    )]
    #[command(group = clap::ArgGroup::new("action").required(true).args(["pause", "resume"]))]
    Job {
        /// The job (jobctl list shows them)
        #[arg(add = job_names())]
        name: String,
        /// Stop scheduling the job (survives restarts)
        #[arg(long)]
        pause: bool,
        /// Schedule it again, from its next slot (passed slots are not caught up)
        #[arg(long)]
        resume: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy runs, events, job slot state, agent scopes and usage into an empty PostgreSQL database
    #[command(
        after_help = "Example:\n  jobctl state migrate --to postgres://jobctl@db.internal/jobctl\n\nThen set [state] url (or JOBCTL_DATABASE_URL) on every host. A database that holds any jobctl state is refused."
    )]
    Migrate {
        /// The PostgreSQL database (postgres://USER@HOST[:PORT]/DB; a password is better kept in ~/.pgpass)
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Reset {
    /// Today's usage to zero; scopes disabled for quota_exhausted are enabled again
    #[command(
        after_help = "Examples:\n  jobctl reset budgets\n  jobctl reset budgets --agent claude"
    )]
    Budgets {
        /// Only this agent
        #[arg(long, value_name = "NAME", add = agent_names())]
        agent: Option<String>,
    },
    /// Forget when the job last ran, so it is scheduled as if new (history stays)
    #[command(after_help = "Example:\n  jobctl reset job nightly-vacuum")]
    Job {
        /// The job (jobctl list shows them)
        #[arg(add = job_names())]
        name: String,
    },
}

/// Completes job names from the config, as the shell asks (`jobctl completions`).
fn job_names() -> clap_complete::engine::ArgValueCandidates {
    clap_complete::engine::ArgValueCandidates::new(|| names(crate::cli::complete::jobs))
}

/// Completes agent names from the config.
fn agent_names() -> clap_complete::engine::ArgValueCandidates {
    clap_complete::engine::ArgValueCandidates::new(|| names(crate::cli::complete::agents))
}

/// Completes the config's budget scopes.
fn scope_names() -> clap_complete::engine::ArgValueCandidates {
    clap_complete::engine::ArgValueCandidates::new(|| names(crate::cli::complete::scopes))
}

fn names(of: fn() -> Vec<(String, String)>) -> Vec<clap_complete::engine::CompletionCandidate> {
    of().into_iter()
        .map(|(name, help)| {
            clap_complete::engine::CompletionCandidate::new(name).help(Some(help.into()))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenScope {
    /// Every GET: see jobs, runs, agents, events
    Read,
    /// Every POST too: run, pause, resume, cancel, enable, disable
    Write,
}

#[derive(Debug, Subcommand)]
pub enum Token {
    /// Print a new token for the API and the console
    #[command(
        after_help = "Examples:\n  jobctl token create --scope read --sub dashboard\n  jobctl token create --scope write --sub manager --ttl 7d --jobs 'team-a-*'"
    )]
    Create {
        /// What it may do
        #[arg(long, value_enum)]
        scope: TokenScope,
        /// Who holds it (recorded with every change it makes)
        #[arg(long, value_name = "NAME", default_value = "jobctl")]
        sub: String,
        /// How long it is valid
        #[arg(long, value_name = "DURATION", default_value = "30d")]
        ttl: String,
        /// Only these jobs exist for it (glob patterns; repeat or separate with commas)
        #[arg(long, value_name = "GLOB", value_delimiter = ',')]
        jobs: Vec<String>,
    },
    /// Make a new signing key: every token made so far stops working
    #[command(after_help = "Example:\n  jobctl token rotate")]
    Rotate,
}
