//! `jobctl status`: the daemon, the role jobs would get now, every agent × scope with its
//! budget, what is running, what could not be killed, and the last failure.

use comfy_table::Cell;

use crate::cli::args::Global;
use crate::cli::output::{Ui, human_time};
use crate::core::error::Result;
use crate::core::units::format_milli;
use crate::engine::views;

pub fn execute(g: &Global, ui: &Ui) -> Result<u8> {
    let mut e = super::engine(g)?;
    let s = views::status(&mut e)?;
    if ui.json {
        ui.print_view(&s);
        return Ok(0);
    }
    let daemon_line = match (&s.daemon.socket, s.daemon.present, &s.daemon_why) {
        (None, _, _) => "daemon: not configured".to_string(),
        (Some(sock), true, _) => format!("daemon: present ({sock})"),
        (Some(sock), false, Some(why)) => format!("daemon: absent ({sock}: {why})"),
        (Some(_), false, None) => "daemon: -".into(),
    };
    let mut text = format!(
        "{daemon_line}\nrole now: {}\nbudget day: {}\n\n",
        s.role, s.budget_day
    );
    let mut t = ui.table(&["AGENT", "SCOPE", "STATE", "REASON", "USED", "BUDGET"]);
    for a in &s.agents {
        t.add_row(vec![
            Cell::new(&a.agent),
            Cell::new(&a.scope),
            ui.status_cell(if a.enabled { "enabled" } else { "disabled" }),
            Cell::new(a.reason.as_deref().unwrap_or("-")),
            Cell::new(format_milli(a.used_milli)),
            Cell::new(format_milli(a.budget_milli)),
        ]);
    }
    if s.agents.is_empty() {
        text.push_str("agents: none configured\n");
    } else {
        text.push_str(&table_text(&t));
    }
    text.push('\n');
    if s.running_runs.is_empty() {
        text.push_str("running: nothing\n");
    } else {
        let mut r = ui.table(&["RUN", "JOB", "STATUS", "STARTED", "PID", "AGENT"]);
        for run in &s.running_runs {
            r.add_row(vec![
                Cell::new(run.id),
                Cell::new(&run.job),
                ui.status_cell(run.status),
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
    if !s.queued_runs.is_empty() {
        text.push('\n');
        let mut q = ui.table(&["QUEUED", "JOB", "SINCE", "WAITING FOR"]);
        for (run, why) in &s.queued_runs {
            q.add_row(vec![
                Cell::new(run.id),
                Cell::new(&run.job),
                Cell::new(human_time(run.started_at)),
                Cell::new(why),
            ]);
        }
        text.push_str(&table_text(&q));
    }
    text.push('\n');
    for (r, list) in &s.survivor_runs {
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
    if !s.survivor_runs.is_empty() {
        text.push('\n');
    }
    match &s.last_failure_run {
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

fn table_text(t: &comfy_table::Table) -> String {
    let mut s: String = t.lines().map(|l| l.trim_end().to_string() + "\n").collect();
    if s.is_empty() {
        s.push('\n');
    }
    s
}
