//! The arguments of the commands that start, stop and wait for runs: the tick, `force`,
//! `cancel`, `pause`, `resume`, `submit`, `rerun`, `wait`, and `ask`.

use clap::Args;

use super::{agent_names, job_names, scope_names};

#[derive(Debug, Args)]
pub(crate) struct Run {
    /// Consider only this job (it still must be due, unless --force)
    #[arg(long, value_name = "NAME", add = job_names())]
    pub(crate) job: Option<String>,
    /// Run --job now in the foreground, due or not
    #[arg(long, requires = "job")]
    pub(crate) force: bool,
    /// Print which jobs are due and why (or why not); change nothing
    #[arg(long, conflicts_with_all = ["force", "wait"])]
    pub(crate) dry_run: bool,
    /// Stay until the runs this tick started have ended, printing their results
    #[arg(long)]
    pub(crate) wait: bool,
}

#[derive(Debug, Args)]
pub(crate) struct Force {
    /// The job (jobctl list shows them)
    #[arg(add = job_names())]
    pub(crate) name: String,
}

/// A run by its id, or a job's: what `cancel`, `pause` and `resume` act on.
#[derive(Debug, Args)]
pub(crate) struct RunOrJob {
    /// The run id (jobctl status shows the running ones)
    #[arg(required_unless_present = "job", conflicts_with = "job")]
    pub(crate) run_id: Option<i64>,
    /// The job's running (or paused) runs
    #[arg(long, value_name = "NAME", add = job_names())]
    pub(crate) job: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct Submit {
    /// The job
    #[arg(add = job_names())]
    pub(crate) name: String,
    /// Wait for the run's end and exit with its result, as force does
    #[arg(long)]
    pub(crate) wait: bool,
    /// For an agent job: this prompt instead of its own
    #[arg(long, value_name = "TEXT")]
    pub(crate) prompt: Option<String>,
    /// Add a variable to the run's environment (repeatable)
    #[arg(long = "env", value_name = "K=V")]
    pub(crate) env: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct Rerun {
    /// The ended run (jobctl history shows them)
    pub(crate) run_id: i64,
    /// Wait for the new run's end and exit with its result, as force does
    #[arg(long)]
    pub(crate) wait: bool,
}

#[derive(Debug, Args)]
pub(crate) struct Wait {
    /// The runs (jobctl submit prints their ids)
    #[arg(value_name = "RUN_ID", required = true, num_args = 1..)]
    pub(crate) run_ids: Vec<i64>,
}

#[derive(Debug, Args)]
pub(crate) struct Ask {
    /// Budget scope to spend from
    #[arg(long, default_value = "backend", add = scope_names())]
    pub(crate) scope: String,
    /// First agent to try (then [fallback] order)
    #[arg(long, value_name = "NAME", add = agent_names())]
    pub(crate) agent: Option<String>,
    /// fast, med or slow: picks the model
    #[arg(long, default_value = "fast", value_name = "LEVEL")]
    pub(crate) thinking: String,
    /// Deadline for the whole call
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub(crate) timeout: String,
    /// The prompt; - reads it from stdin
    pub(crate) prompt: String,
}
