//! The arguments of the commands that set jobctl up and serve it: `serve`, `token`,
//! `import`, `completions`, `man`, and the internal `supervise`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// How the scheduler logs its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormatArg {
    /// One line of text per event
    Text,
    /// One JSON object per line
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImportFormat {
    /// crontab lines (`crontab -l`)
    Crontab,
    /// the `jobs:` section of a TeleClaude teleclaude.yml
    Teleclaude,
    /// job-finder's ai-settings JSON (agents, budgets, fallbacks, scope states)
    AiSettings,
}

#[derive(Debug, Args)]
pub(crate) struct Serve {
    /// Address to listen on (anything but loopback needs TLS in front)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    pub(crate) listen: std::net::SocketAddr,
    /// Listen on this unix socket instead
    #[arg(long, value_name = "PATH", conflicts_with = "listen")]
    pub(crate) socket: Option<PathBuf>,
    /// The most connections open at once; one more is answered 503
    #[arg(long, value_name = "N", default_value_t = crate::http::MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) max_connections: u32,
    /// Also run the schedule, as `jobctl scheduler` does (one process for both)
    #[arg(long)]
    pub(crate) schedule: bool,
    /// How the schedule's events are logged (with --schedule)
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text, requires = "schedule")]
    pub(crate) log_format: LogFormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct Import {
    /// crontab, teleclaude (a teleclaude.yml jobs section) or ai-settings (job-finder's JSON)
    pub(crate) format: ImportFormat,
    /// The file to read; - reads stdin
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Add the jobs to the config file instead of printing them: checked as `edit`
    /// checks (nothing is written unless the result is valid), a name already in the
    /// config said
    #[arg(long)]
    pub(crate) append: bool,
}

#[derive(Debug, Args)]
pub(crate) struct Man {
    /// A command (jobctl-COMMAND(1)) or jobctl.toml (the config format, section 5)
    #[arg(value_name = "PAGE", conflicts_with = "dir")]
    pub(crate) page: Option<String>,
    /// Write every page under DIR/man1 and DIR/man5
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct Supervise {
    pub(crate) run_id: i64,
    /// The job lock, inherited (a state on this host)
    #[arg(long, conflicts_with = "lease_epoch")]
    pub(crate) lock_fd: Option<i32>,
    /// The lease's epoch (a PostgreSQL state; its URL comes by environment)
    #[arg(long, requires = "host")]
    pub(crate) lease_epoch: Option<i64>,
    /// This host's name in the shared state
    #[arg(long)]
    pub(crate) host: Option<String>,
    #[arg(long)]
    pub(crate) state_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TokenScope {
    /// Every GET: see jobs, runs, agents, events
    Read,
    /// Every POST too: run, pause, resume, cancel, enable, disable
    Write,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Token {
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
