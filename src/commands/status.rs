//! `jobctl status`: the daemon, the role jobs would get now, every agent × scope with its
//! budget, what is running, and the last failure.

use anyhow::Result;
use comfy_table::Cell;

use crate::agents::{self, role};
use crate::cli::Global;
use crate::core::units::format_milli;
use crate::exec::proctree::Survivor;
use crate::output::{Ui, human_time, rfc3339, rfc3339_opt};
use crate::store::{RunRecord, Store};
use crate::{config, core::clock};

pub fn execute(g: &Global, ui: &Ui) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let mut store = Store::open(&cfg.runner.state_dir)?;
    crate::recovery::recover(cfg, &mut store)?;
    let now = clock::now()?;
    let day = agents::prepare(cfg, &mut store, now)?;
    let daemon = role::daemon_state(cfg);
    let role_now = role::role_for(cfg, None, &daemon);
    let socket = cfg.daemon.as_ref().map(|d| d.socket.display().to_string());
    let scopes: Vec<_> = store
        .scope_states()?
        .into_iter()
        .filter(|s| cfg.agents.contains_key(&s.agent) && cfg.budget.scopes.contains(&s.scope))
        .collect();
    let running = store.running_runs()?;
    let survivors = live_survivors(&store)?;
    let last_failure = store.last_failure()?;

    if ui.json {
        let agents_json: Vec<serde_json::Value> = scopes
            .iter()
            .map(|s| {
                let a = &cfg.agents[&s.agent];
                serde_json::json!({
                    "agent": s.agent, "scope": s.scope, "enabled": s.enabled, "reason": s.reason,
                    "used": milli_num(store.usage(&s.agent, &day).unwrap_or(0)), "budget": milli_num(a.daily_budget_milli),
                })
            })
            .collect();
        let running_json: Vec<serde_json::Value> = running
            .iter()
            .map(|r| serde_json::json!({"run_id": r.id, "job": r.job, "started_at": rfc3339(r.started_at), "pid": r.pgid.or(r.supervisor_pid), "agent": r.agent}))
            .collect();
        ui.print_json(&serde_json::json!({
            "daemon": {"configured": cfg.daemon.is_some(), "present": matches!(daemon, Some(Ok(()))), "socket": socket},
            "role": role_now,
            "budget_day": day,
            "agents": agents_json,
            "running": running_json,
            "survivors": survivors.iter().flat_map(|(r, list)| list.iter().map(|s| serde_json::json!({
                "run_id": r.id, "job": r.job, "pid": s.pid, "user": s.user,
            }))).collect::<Vec<_>>(),
            "last_failure": last_failure.map(|r| serde_json::json!({
                "run_id": r.id, "job": r.job, "status": r.status, "ended_at": rfc3339_opt(r.ended_at), "error": r.error,
            })),
        }));
        return Ok(0);
    }

    let daemon_line = match (&daemon, &socket) {
        (None, _) => "daemon: not configured".to_string(),
        (Some(Ok(())), Some(s)) => format!("daemon: present ({s})"),
        (Some(Err(why)), Some(s)) => format!("daemon: absent ({s}: {why})"),
        _ => "daemon: -".into(),
    };
    let mut text = format!("{daemon_line}\nrole now: {role_now}\nbudget day: {day}\n\n");
    let mut t = ui.table(&["AGENT", "SCOPE", "STATE", "REASON", "USED", "BUDGET"]);
    for s in &scopes {
        let a = &cfg.agents[&s.agent];
        let state = if s.enabled {
            ui.status_cell("enabled")
        } else {
            ui.status_cell("disabled")
        };
        t.add_row(vec![
            Cell::new(&s.agent),
            Cell::new(&s.scope),
            state,
            Cell::new(s.reason.as_deref().unwrap_or("-")),
            Cell::new(format_milli(store.usage(&s.agent, &day)?)),
            Cell::new(format_milli(a.daily_budget_milli)),
        ]);
    }
    if scopes.is_empty() {
        text.push_str("agents: none configured\n");
    } else {
        text.push_str(&table_text(&t));
    }
    text.push('\n');
    if running.is_empty() {
        text.push_str("running: nothing\n");
    } else {
        let mut r = ui.table(&["RUN", "JOB", "STARTED", "PID", "AGENT"]);
        for run in &running {
            r.add_row(vec![
                Cell::new(run.id),
                Cell::new(&run.job),
                Cell::new(human_time(run.started_at)),
                Cell::new(
                    run.pgid
                        .or(run.supervisor_pid)
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::new(run.agent.as_deref().unwrap_or("-")),
            ]);
        }
        text.push_str(&table_text(&r));
    }
    text.push('\n');
    for (r, list) in &survivors {
        let n = list.len();
        let what = if n == 1 { "process" } else { "processes" };
        let pids: Vec<String> = list
            .iter()
            .map(|s| format!("pid {} user {}", s.pid, s.user))
            .collect();
        text.push_str(&format!(
            "run {} of {} left {n} {what} it could not kill, still running: {}\n",
            r.id,
            r.job,
            pids.join(", ")
        ));
    }
    if !survivors.is_empty() {
        text.push('\n');
    }
    match last_failure {
        Some(r) => text.push_str(&format!(
            "last failure: run {} of {} {} at {}: {}\n",
            r.id,
            r.job,
            r.status,
            r.ended_at.map(human_time).unwrap_or_else(|| "-".into()),
            r.error.as_deref().unwrap_or("-")
        )),
        None => text.push_str("last failure: none\n"),
    }
    ui.print(&text);
    Ok(0)
}

/// Runs that left processes they could not kill, with those of them still alive (a
/// survivor that has since ended, or whose pid now belongs to another process, is not
/// shown).
fn live_survivors(store: &Store) -> Result<Vec<(RunRecord, Vec<Survivor>)>> {
    let mut out = Vec::new();
    for r in store.runs_with_survivors(100)? {
        let list: Vec<Survivor> = r
            .survivors
            .as_deref()
            .and_then(|j| serde_json::from_str::<Vec<Survivor>>(j).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(Survivor::alive)
            .collect();
        if !list.is_empty() {
            out.push((r, list));
        }
    }
    Ok(out)
}

fn table_text(t: &comfy_table::Table) -> String {
    let mut s: String = t.lines().map(|l| l.trim_end().to_string() + "\n").collect();
    if s.is_empty() {
        s.push('\n');
    }
    s
}

/// Budget numbers in JSON: exact thousandths as a number.
fn milli_num(m: i64) -> serde_json::Value {
    serde_json::json!(format_milli(m).parse::<f64>().unwrap_or(0.0))
}
