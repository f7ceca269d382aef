//! `jobctl history [NAME]`: the latest runs, newest first.

use anyhow::Result;
use comfy_table::Cell;

use crate::cli::Global;
use crate::config;
use crate::core::units::format_milli;
use crate::output::{Ui, human_duration, human_time, rfc3339, rfc3339_opt};
use crate::store::{RunRecord, Store};

pub fn execute(g: &Global, ui: &Ui, name: Option<&str>, n: usize) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let mut store = Store::open(&cfg.runner.state_dir)?;
    crate::recovery::recover(cfg, &mut store)?;
    let runs = store.history(name, n)?;
    if ui.json {
        ui.print_json(&serde_json::Value::Array(
            runs.iter().map(run_json).collect(),
        ));
        return Ok(0);
    }
    let mut t = ui.table(&[
        "RUN", "JOB", "STARTED", "DURATION", "STATUS", "EXIT", "AGENT", "ROLE",
    ]);
    for r in &runs {
        let exit = match (r.exit_code, r.signal) {
            (Some(c), _) => c.to_string(),
            (None, Some(s)) => format!("sig {s}"),
            _ => "-".into(),
        };
        t.add_row(vec![
            Cell::new(r.id),
            Cell::new(&r.job),
            Cell::new(human_time(r.started_at)),
            Cell::new(human_duration(r.duration_ms)),
            ui.status_cell(r.status),
            Cell::new(exit),
            Cell::new(r.agent.as_deref().unwrap_or("-")),
            Cell::new(r.role.as_deref().unwrap_or("-")),
        ]);
    }
    ui.print_table(&t);
    Ok(0)
}

/// A run as `history --json` and forced runs print it.
pub fn run_json(r: &RunRecord) -> serde_json::Value {
    serde_json::json!({
        "run_id": r.id,
        "job": r.job,
        "status": r.status,
        "forced": r.forced,
        "scheduled_for": rfc3339(r.scheduled_for),
        "started_at": rfc3339(r.started_at),
        "ended_at": rfc3339_opt(r.ended_at),
        "duration_ms": r.duration_ms,
        "exit_code": r.exit_code,
        "signal": r.signal,
        "error": r.error,
        "role": r.role,
        "agent": r.agent,
        "model": r.model,
        "scope": r.scope,
        "cost": r.cost_milli.map(|c| format_milli(c).parse::<f64>().unwrap_or(0.0)),
        "cost_usd": r.cost_usd,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "num_turns": r.num_turns,
        "tool_calls": r.tool_calls,
        "attempts": r.attempts,
        "log_path": r.log_path,
    })
}
