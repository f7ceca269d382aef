//! `jobctl next NAME`: the slots the scheduler will use, for checking a schedule before
//! trusting it.

use anyhow::Result;

use crate::cli::Global;
use crate::exit_code::code;
use crate::output::{Ui, human_time_offset};
use crate::store::Store;
use crate::{bail_code, config, core::clock, core::schedule};

pub fn execute(g: &Global, ui: &Ui, name: &str, n: usize, from: Option<&str>) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let job = cfg.job(name)?;
    let Some(sched) = &job.schedule else {
        bail_code!(
            code::FAILURE,
            "job {name} has no schedule: it runs only when forced (jobctl force {name})"
        );
    };
    let from = match from {
        Some(f) => clock::parse_instant(f).map_err(|e| {
            anyhow::Error::new(crate::exit_code::Coded::new(
                code::USAGE,
                format!("--from {f:?} is not an RFC 3339 time: {e}"),
            ))
        })?,
        None => clock::now()?,
    };
    let last_slot = if matches!(sched, schedule::Schedule::Every(_)) {
        Store::open(&cfg.runner.state_dir)?
            .job_state(name)?
            .and_then(|s| s.last_slot)
            .map(clock::from_ms)
    } else {
        None
    };
    let slots = schedule::upcoming(sched, &job.timezone, last_slot, from, n);
    if ui.json {
        let v: Vec<String> = slots
            .iter()
            .map(|t| crate::output::rfc3339(t.as_millisecond()))
            .collect();
        ui.print_json(&serde_json::json!(v));
    } else {
        let lines: Vec<String> = slots.iter().map(|t| human_time_offset(*t)).collect();
        ui.print(&(lines.join("\n") + "\n"));
    }
    Ok(0)
}
