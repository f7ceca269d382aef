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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
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
        /// The job
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
        name: Option<String>,
        /// How many runs
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
    },

    /// The stored output of a run
    #[command(
        after_help = "Examples:\n  jobctl logs 42\n  jobctl logs --job nightly-vacuum --follow"
    )]
    Logs {
        /// The run id
        #[arg(required_unless_present = "job", conflicts_with = "job")]
        run_id: Option<i64>,
        /// The latest run of this job
        #[arg(long, value_name = "NAME")]
        job: Option<String>,
        /// Keep printing as the log grows until the run ends
        #[arg(short, long)]
        follow: bool,
    },

    /// The tick: start every due job, then return (launchd/systemd call this every 5 minutes)
    #[command(
        after_help = "Examples:\n  jobctl run                     start what is due and return\n  jobctl run --dry-run           say which jobs are due and why\n  jobctl run --wait              stay until the started runs end\n  jobctl run --force --job NAME  same as jobctl force NAME"
    )]
    Run {
        /// Consider only this job (it still must be due, unless --force)
        #[arg(long, value_name = "NAME")]
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
        /// The job
        name: String,
    },

    /// Stop a running run (TERM, grace, KILL, the whole tree) and record it cancelled
    #[command(after_help = "Examples:\n  jobctl cancel 42\n  jobctl cancel --job log-bug-hunter")]
    Cancel {
        /// The run id
        #[arg(required_unless_present = "job", conflicts_with = "job")]
        run_id: Option<i64>,
        /// The running run of this job
        #[arg(long, value_name = "NAME")]
        job: Option<String>,
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
        #[arg(long, default_value = "backend")]
        scope: String,
        /// First agent to try (then [fallback] order)
        #[arg(long, value_name = "NAME")]
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
    },

    /// Make API tokens, or a new signing key (which invalidates every token)
    #[command(subcommand)]
    Token(Token),

    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  jobctl completions bash > ~/.local/share/bash-completion/completions/jobctl\n  jobctl completions zsh > ~/.zfunc/_jobctl\n  jobctl completions fish > ~/.config/fish/completions/jobctl.fish"
    )]
    Completions {
        /// bash, zsh or fish
        shell: CompletionShell,
    },

    /// Print the man page (roff), generated from this command line
    #[command(after_help = "Example:\n  jobctl man > ~/.local/share/man/man1/jobctl.1")]
    Man,

    /// Internal: supervise one run started by `jobctl run`
    #[command(hide = true)]
    Supervise {
        run_id: i64,
        #[arg(long)]
        lock_fd: i32,
        #[arg(long)]
        state_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Configure {
    /// Enable or disable an agent for one scope or all (a reason is stored as "manual: TEXT")
    #[command(
        after_help = "Examples:\n  jobctl configure agent claude --disable --reason \"token expired\"\n  jobctl configure agent claude --scope worker --enable"
    )]
    Agent {
        name: String,
        /// Only this scope (default: every scope)
        #[arg(long)]
        scope: Option<String>,
        /// Make the agent available again
        #[arg(long, conflicts_with = "disable", required_unless_present = "disable")]
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
    Job {
        name: String,
        /// Stop scheduling the job (survives restarts)
        #[arg(long, conflicts_with = "resume", required_unless_present = "resume")]
        pause: bool,
        /// Schedule it again, from its next slot (passed slots are not caught up)
        #[arg(long)]
        resume: bool,
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
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
    },
    /// Forget when the job last ran, so it is scheduled as if new (history stays)
    #[command(after_help = "Example:\n  jobctl reset job nightly-vacuum")]
    Job { name: String },
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
