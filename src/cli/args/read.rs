//! The arguments of the commands that read: a schedule's next slots, the job list, the
//! history (and its filters), a run's log and report, the event log.

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use super::job_names;
use crate::core::run::{RunStatus, Trigger};

#[derive(Debug, Args)]
pub(crate) struct Next {
    /// The job (jobctl list shows them)
    #[arg(add = job_names())]
    pub(crate) name: String,
    /// How many start times (at most 10000)
    #[arg(short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) n: u64,
    /// List the slots after this moment (RFC 3339) instead of after now
    #[arg(long, value_name = "RFC3339")]
    pub(crate) from: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct List {
    /// Every column whole, whatever the terminal's width (lines may wrap)
    #[arg(long)]
    pub(crate) wide: bool,
}

#[derive(Debug, Args)]
pub(crate) struct History {
    /// Only this job's runs
    #[arg(add = job_names(), conflicts_with = "job")]
    pub(crate) name: Option<String>,
    /// Only this job's runs (the same as NAME)
    #[arg(long, value_name = "NAME", add = job_names())]
    pub(crate) job: Option<String>,
    /// How many runs (newest first)
    #[arg(short = 'n', default_value_t = 20)]
    pub(crate) n: usize,
    /// Draw sub-runs under the run that submitted them
    #[arg(long)]
    pub(crate) tree: bool,
    /// Only runs in this status
    #[arg(long, value_name = "STATUS", value_parser = status_parser())]
    pub(crate) status: Option<RunStatus>,
    /// Only runs that started since then: a duration back from now (90m, 2d) or a time
    /// (2026-03-01, 2026-03-01 08:00, RFC 3339)
    #[arg(long, value_name = "DURATION|TIME")]
    pub(crate) since: Option<String>,
    /// Only runs that started before then (the same forms as --since)
    #[arg(long, value_name = "DURATION|TIME")]
    pub(crate) until: Option<String>,
    /// Only runs made this way
    #[arg(long, value_name = "TRIGGER", value_parser = trigger_parser())]
    pub(crate) trigger: Option<Trigger>,
    /// Every column whole, whatever the terminal's width (lines may wrap)
    #[arg(long)]
    pub(crate) wide: bool,
}

impl History {
    /// The job asked for, by either spelling.
    pub(crate) fn job(&self) -> Option<&str> {
        self.name.as_deref().or(self.job.as_deref())
    }
}

fn status_parser() -> impl TypedValueParser<Value = RunStatus> {
    PossibleValuesParser::new(RunStatus::ALL.iter().map(|s| s.as_str()))
        .map(|s| RunStatus::parse(&s).expect("a possible value"))
}

fn trigger_parser() -> impl TypedValueParser<Value = Trigger> {
    PossibleValuesParser::new(Trigger::ALL.iter().map(|t| t.as_str()))
        .map(|s| Trigger::parse(&s).expect("a possible value"))
}

#[derive(Debug, Args)]
pub(crate) struct Logs {
    /// The run id (jobctl history shows them)
    #[arg(required_unless_present = "job", conflicts_with = "job")]
    pub(crate) run_id: Option<i64>,
    /// The latest run of this job
    #[arg(long, value_name = "NAME", add = job_names())]
    pub(crate) job: Option<String>,
    /// Keep printing as the log grows until the run ends
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Only the last N lines (then, with --follow, what comes)
    #[arg(long, value_name = "N")]
    pub(crate) tail: Option<u64>,
    /// Each line with the time jobctl received it
    #[arg(short = 't', long)]
    pub(crate) timestamps: bool,
}

#[derive(Debug, Args)]
pub(crate) struct Show {
    /// The run id
    #[arg(required_unless_present = "job", conflicts_with = "job")]
    pub(crate) run_id: Option<i64>,
    /// The latest run of this job
    #[arg(long, value_name = "NAME")]
    pub(crate) job: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct Events {
    /// Only this run's events
    #[arg(long, value_name = "ID")]
    pub(crate) run: Option<i64>,
    /// Keep printing events as they arrive (with --run: until the run has ended)
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// How many of the latest events
    #[arg(short = 'n', default_value_t = 50)]
    pub(crate) n: usize,
}
