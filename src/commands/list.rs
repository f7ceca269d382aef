//! `jobctl list`: one row per job, sorted by name.

use anyhow::Result;
use comfy_table::Cell;

use crate::cli::Global;
use crate::output::{Ui, human_duration, human_time, rfc3339_opt};
use crate::plan::{self, Plan};
use crate::store::Store;
use crate::{config, core::clock};

pub fn execute(g: &Global, ui: &Ui) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let mut store = Store::open(&cfg.runner.state_dir)?;
    crate::recovery::recover(cfg, &mut store)?;
    let now = clock::now()?;
    let states = store.job_states()?;
    let prev_tick = store.last_tick()?;
    let latest = store.latest_runs(cfg.jobs.keys().map(String::as_str))?;
    let running = store.running_ids()?;

    let mut rows = Vec::new();
    let mut table = ui.table(&[
        "JOB", "TYPE", "SCHEDULE", "NEXT", "LAST RUN", "STATUS", "DURATION",
    ]);
    for (name, job) in &cfg.jobs {
        let state = states.get(name);
        let plan = plan::evaluate(job, state, prev_tick, now);
        let schedule = job
            .schedule
            .as_ref()
            .map(|s| s.describe())
            .unwrap_or_else(|| "manual".into());
        let running_id = running.get(name).copied();
        let last = latest.get(name);
        let due = matches!(plan, Plan::Due { .. });
        let next_ms = match plan {
            Plan::NotDue { next } => next.map(|t| t.as_millisecond()),
            Plan::Due { slot, .. } => Some(slot.as_millisecond()),
            Plan::Skip { .. } => job
                .schedule
                .as_ref()
                .and_then(|s| {
                    crate::core::schedule::next_slot_after(
                        s,
                        &job.timezone,
                        plan::slot_state(state, now),
                        now,
                    )
                })
                .map(|t| t.as_millisecond()),
            _ => None,
        };
        let next_text = match (running_id, plan) {
            (Some(id), _) => format!("running (run {id})"),
            (None, Plan::Disabled) => "disabled".into(),
            (None, Plan::Paused) => "paused".into(),
            (None, Plan::Manual) => "manual".into(),
            (None, Plan::Due { .. }) => "due now".into(),
            (None, _) => next_ms.map(human_time).unwrap_or_else(|| "-".into()),
        };
        if ui.json {
            rows.push(serde_json::json!({
                "name": name,
                "type": job.type_name(),
                "schedule": schedule,
                "enabled": job.enabled,
                "paused": state.is_some_and(|s| s.paused),
                "due": due,
                "running_run_id": running_id,
                "next_run": if matches!(plan, Plan::Disabled | Plan::Paused | Plan::Manual) { serde_json::Value::Null } else { rfc3339_opt(next_ms) },
                "last_run_id": last.map(|r| r.id),
                "last_run": rfc3339_opt(last.map(|r| r.started_at)),
                "last_status": last.map(|r| r.status),
                "last_exit_code": last.and_then(|r| r.exit_code),
                "last_duration_ms": last.and_then(|r| r.duration_ms),
            }));
        } else {
            table.add_row(vec![
                Cell::new(name),
                Cell::new(job.type_name()),
                Cell::new(&schedule),
                Cell::new(&next_text),
                Cell::new(
                    last.map(|r| human_time(r.started_at))
                        .unwrap_or_else(|| "never".into()),
                ),
                last.map(|r| ui.status_cell(r.status))
                    .unwrap_or_else(|| Cell::new("-")),
                Cell::new(
                    last.map(|r| human_duration(r.duration_ms))
                        .unwrap_or_else(|| "-".into()),
                ),
            ]);
        }
    }
    if ui.json {
        ui.print_json(&serde_json::Value::Array(rows));
    } else {
        ui.print_table(&table);
    }
    Ok(0)
}
