//! The command line, declared (and only declared) with clap: the global options and the
//! list of commands here, each group's arguments in a module of its own.

mod read;
mod runs;
mod setup;
mod state;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) use read::{Events, History, List, Logs, Next, Show};
pub(crate) use runs::{Ask, Force, Rerun, Run, RunOrJob, Submit, Wait};
pub(crate) use setup::{
    CompletionShell, Import, ImportFormat, LogFormatArg, Man, Serve, Supervise, Token, TokenScope,
};
pub(crate) use state::{Configure, Reset, StateCommand, WorkspacesAction};

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
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct Global {
    /// Config file (default: $JOBCTL_CONFIG, $JOBCTL_HOME/jobctl.toml, ~/.config/jobctl/jobctl.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Machine-readable output: one JSON document on stdout
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More log on stderr (-v, -vv)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Colour: auto (only on a terminal, never with NO_COLOR), always, never
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub(crate) color: ColorChoice,
    /// Times as they are, without "in 4m" / "3m ago" beside them on a terminal
    #[arg(long, global = true)]
    pub(crate) absolute: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate the config and print a summary or every error
    #[command(after_help = "Example:\n  jobctl check --config ~/jobs/jobctl.toml")]
    Check,

    /// The next start times of a job's schedule
    #[command(
        after_help = "Examples:\n  jobctl next nightly-vacuum\n  jobctl next report -n 10 --from 2026-03-28T00:00:00+01:00"
    )]
    Next(Next),

    /// One row per job: schedule, next start, last run
    #[command(
        after_help = "Examples:\n  jobctl list\n  jobctl list --wide\n  jobctl list --json | jq '.[] | select(.last_status == \"failed\")'"
    )]
    List(List),

    /// Latest runs, newest first
    #[command(
        after_help = "Examples:\n  jobctl history\n  jobctl history nightly-vacuum -n 5 --json\n  jobctl history --status failed --since 1d\n  jobctl history --trigger forced --since 2026-03-01 --until 2026-03-08"
    )]
    History(History),

    /// The stored output of a run
    #[command(
        after_help = "Examples:\n  jobctl logs 42\n  jobctl logs --job nightly-vacuum --follow\n  jobctl logs --job nightly-vacuum --tail 20 --timestamps"
    )]
    Logs(Logs),

    /// What a run did: status, times, agents, usage, workspace and changed files, hooks, the end of its log
    #[command(
        after_help = "Examples:\n  jobctl show 42\n  jobctl show --job bug-hunter --json | jq .changes"
    )]
    Show(Show),

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
    Run(Run),

    /// Run a job now, in the foreground, with its output streamed and its exit code passed through
    #[command(
        after_help = "Examples:\n  jobctl force nightly-vacuum\n  jobctl force report --json > run.json\n\nAn agent job prints the agent's answer; a fall back to the next agent is said on stderr as it happens."
    )]
    Force(Force),

    /// Stop a running run (TERM, grace, KILL, the whole tree) and record it cancelled
    #[command(after_help = "Examples:\n  jobctl cancel 42\n  jobctl cancel --job log-bug-hunter")]
    Cancel(RunOrJob),

    /// Pause a running run: stop its whole process tree (SIGSTOP), its timeout clock with it
    #[command(after_help = "Examples:\n  jobctl pause 42\n  jobctl pause --job log-bug-hunter")]
    Pause(RunOrJob),

    /// Resume a paused run (SIGCONT to its whole process tree)
    #[command(after_help = "Examples:\n  jobctl resume 42\n  jobctl resume --job log-bug-hunter")]
    Resume(RunOrJob),

    /// Queue a run of a job (from inside a run: a sub-run of it), started as soon as a slot is free
    #[command(
        after_help = "Examples:\n  jobctl submit report\n  jobctl submit review --wait --prompt \"Review src/parse.rs\" --env TARGET=src/parse.rs"
    )]
    Submit(Submit),

    /// Make an ended run again: the same job, prompt, environment and metadata
    #[command(after_help = "Examples:\n  jobctl rerun 42\n  jobctl rerun 42 --wait")]
    Rerun(Rerun),

    /// Wait for runs to end, and exit with their result as force does (the worst, for several)
    #[command(after_help = "Examples:
  jobctl wait 42
  jobctl wait $(jobctl submit report) $(jobctl submit backup)

Exit code: a run's own, as force exits (0 when it succeeded); for several runs, the first
non-zero of them in the order given.")]
    Wait(Wait),

    /// The event log: every run's changes of state (who, why), skips, budgets
    #[command(
        after_help = "Examples:\n  jobctl events\n  jobctl events --run 42 --follow\n  jobctl events --json -n 500"
    )]
    Events(Events),

    /// The daemon, the role now, every agent and scope with its budget, what runs, the last failure
    #[command(
        after_help = "Examples:\n  jobctl status\n  jobctl status --json | jq '.agents[] | select(.enabled | not)'"
    )]
    Status,

    /// A one-shot agent call without tools, sharing the agents and their budget
    #[command(
        after_help = "Examples:\n  jobctl ask \"Summarise this error: ...\"\n  git diff | jobctl ask --scope backend --thinking med --json -"
    )]
    Ask(Ask),

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
    Serve(Serve),

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
        after_help = "Examples:\n  crontab -l | jobctl import crontab - --append\n  jobctl import teleclaude ~/teleclaude/teleclaude.yml\n  jobctl import ai-settings ai-settings.json\n\nWhat could not be carried over is listed on stderr (and as # comments in the TOML)."
    )]
    Import(Import),

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
    Man(Man),

    /// Internal: finish a run recorded lost (size its worktree, run its hooks)
    #[command(hide = true, name = "after-lost")]
    AfterLost {
        run_id: i64,
        #[arg(long)]
        state_dir: PathBuf,
    },

    /// Internal: supervise one run started by `jobctl run`
    #[command(hide = true)]
    Supervise(Supervise),
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
