//! Agent jobs.

use anyhow::Result;
use nix::sys::signal::Signal;

use crate::config::{Config, Job};
use crate::store::{RunEnd, RunRecord, Store};
use crate::supervisor::logfile::LogFile;
use crate::supervisor::process::{Echo, Signals};

#[allow(clippy::too_many_arguments)]
pub async fn run_job(
    _cfg: &Config,
    _store: &mut Store,
    _job: &Job,
    _run: &RunRecord,
    _deadline: tokio::time::Instant,
    log: &mut LogFile,
    _signals: &mut Signals,
    _echo: Echo,
) -> Result<(RunEnd, Option<Signal>)> {
    let error = "agent jobs are not supported by this build".to_string();
    log.note(&error)?;
    Ok((RunEnd { status: "failed".into(), ended_at: crate::clock::to_ms(crate::clock::real_now()), error: Some(error), ..Default::default() }, None))
}
