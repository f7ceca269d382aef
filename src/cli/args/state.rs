//! The arguments of the commands that change stored state: `configure`, `reset`,
//! `state migrate`, `workspaces clean`.

use clap::Subcommand;

use super::{agent_names, job_names, scope_names};

#[derive(Debug, Subcommand)]
pub(crate) enum WorkspacesAction {
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
pub(crate) enum Configure {
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
pub(crate) enum StateCommand {
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
pub(crate) enum Reset {
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
