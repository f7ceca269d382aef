//! `jobctl status`: is it working? The last tick (and a warning when the timer seems not
//! to run), the daemon (when one is configured), the role jobs would get now, every
//! agent × scope with its budget, what is running, what could not be killed, and the
//! last failure.

use crate::cli::args::Global;
use crate::cli::output::{Ui, human_time, relative};
use crate::cli::table::Cell;
use crate::core::error::Result;
use crate::core::units::format_milli;
use crate::engine::views::{self, TICK_INTERVAL_MS, TICK_LATE_AFTER};

pub(crate) fn execute(g: &Global, ui: &Ui) -> Result<u8> {
    let mut e = super::engine(g)?;
    let s = views::status(&mut e)?;
    if ui.json {
        ui.print_view(&s);
        return Ok(0);
    }
    let mut text = String::new();
    match s.last_tick_ms {
        Some(t) => text.push_str(&format!(
            "last tick: {} ({})\n",
            human_time(t),
            relative(t, s.now_ms)
        )),
        None => match s.set_up_ms.filter(|_| !s.tick_late) {
            // New: no tick yet is no sign of trouble.
            Some(t) => text.push_str(&format!(
                "last tick: never (set up {}; the timer runs one every {}m)\n",
                relative(t, s.now_ms),
                TICK_INTERVAL_MS / 60_000
            )),
            None => text.push_str("last tick: never\n"),
        },
    }
    if s.tick_late {
        let minutes = |ms: i64| ms / 60_000;
        let since = match s.last_tick_ms {
            Some(t) => format!(
                "no tick for {}",
                relative(t, s.now_ms).trim_end_matches(" ago")
            ),
            None => match s.set_up_ms {
                Some(t) => format!(
                    "no tick has run since jobctl was set up here {}",
                    relative(t, s.now_ms)
                ),
                None => "no tick has run yet".into(),
            },
        };
        text.push_str(&format!(
            "warning: {since} (the timer runs one every {}m; none for over {}m): is the timer installed? (./install.sh, docs/operations.md)\n",
            minutes(TICK_INTERVAL_MS),
            minutes(TICK_LATE_AFTER)
        ));
    }
    for sc in &s.schedulers {
        let next = match (&sc.next_wakeup, &sc.next_job) {
            (Some(t), Some(j)) => format!("next wake-up {t} ({j})"),
            (Some(t), None) => format!("next wake-up {t}"),
            _ => "no job has a next slot".into(),
        };
        text.push_str(&format!(
            "scheduler: pid {} on {}, since {}, {next}
",
            sc.pid, sc.host, sc.since
        ));
        if let Some(err) = &sc.config_error {
            text.push_str(&format!(
                "warning: the scheduler keeps its previous config: the file is invalid: {err}
"
            ));
        }
    }
    // The daemon only matters where one is configured.
    if let Some(sock) = &s.daemon.socket {
        match (s.daemon.present, &s.daemon_why) {
            (true, _) => text.push_str(&format!("daemon: present ({sock})\n")),
            (false, Some(why)) => text.push_str(&format!("daemon: absent ({sock}: {why})\n")),
            (false, None) => text.push_str(&format!("daemon: absent ({sock})\n")),
        }
    }
    let no_daemon = if s.daemon.socket.is_none() {
        " (no [daemon] configured)"
    } else {
        ""
    };
    text.push_str(&format!(
        "role now: {}{no_daemon}\nbudget day: {}\n\n",
        s.role, s.budget_day
    ));
    // Several hosts sharing the state: each one's last tick and config.
    for h in &s.hosts {
        text.push_str(&format!(
            "host {}{}: last tick {}, config {}\n",
            h.host,
            if h.this { " (this host)" } else { "" },
            h.last_tick
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(|t| human_time(t.as_millisecond()))
                .unwrap_or_else(|| "never".into()),
            h.config_digest.as_deref().unwrap_or("-")
        ));
    }
    if let Some(w) = &s.hosts_warning {
        text.push_str(&format!("warning: {w}\n"));
    }
    if !s.hosts.is_empty() {
        text.push('\n');
    }
    if s.agents.is_empty() {
        text.push_str("agents: none configured\n");
    } else {
        let rows: Vec<Vec<Cell>> = s
            .agents
            .iter()
            .map(|a| {
                vec![
                    Cell::new(&a.agent),
                    Cell::new(&a.scope),
                    ui.status_cell(if a.enabled { "enabled" } else { "disabled" }),
                    Cell::new(a.reason.as_deref().unwrap_or("-")),
                    Cell::new(format_milli(a.used_milli)),
                    Cell::new(format_milli(a.budget_milli)),
                ]
            })
            .collect();
        text.push_str(&ui.table_text(
            &["AGENT", "SCOPE", "STATE", "REASON", "USED", "BUDGET"],
            &rows,
        ));
        text.push_str(&relogin_hints(&s.agents));
    }
    text.push('\n');
    if s.running_runs.is_empty() {
        text.push_str("running: nothing\n");
    } else {
        // PID: the run's supervisor (what `cancel` signals, what `force` names); PGID: the
        // job's own process group; HOST: where it runs, when several hosts share the state.
        let several = s.running_runs.iter().any(|r| r.host.is_some());
        let rows: Vec<Vec<Cell>> = s
            .running_runs
            .iter()
            .map(|run| {
                let id = |p: Option<i64>| p.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
                let mut row = vec![
                    Cell::new(run.id),
                    Cell::new(&run.job),
                    ui.status_cell(run.status),
                    Cell::new(ui.time(run.started_at, s.now_ms)),
                    Cell::new(id(run.supervisor_pid)),
                    Cell::new(id(run.pgid)),
                    Cell::new(run.usage.agent.as_deref().unwrap_or("-")),
                ];
                if several {
                    row.push(Cell::new(run.host.as_deref().unwrap_or("-")));
                }
                row
            })
            .collect();
        let mut head = vec!["RUN", "JOB", "STATUS", "STARTED", "PID", "PGID", "AGENT"];
        if several {
            head.push("HOST");
        }
        text.push_str(&ui.table_text(&head, &rows));
    }
    if !s.queued_runs.is_empty() {
        text.push('\n');
        let rows: Vec<Vec<Cell>> = s
            .queued_runs
            .iter()
            .map(|(run, why)| {
                vec![
                    Cell::new(run.id),
                    Cell::new(&run.job),
                    Cell::new(ui.time(run.started_at, s.now_ms)),
                    Cell::new(why),
                ]
            })
            .collect();
        text.push_str(&ui.table_text(&["QUEUED", "JOB", "SINCE", "WAITING FOR"], &rows));
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

/// How to bring back each agent whose CLI is logged out (every scope of it disabled
/// `auth_failed`): it stays off until someone logs it in and enables it.
fn relogin_hints(agents: &[crate::engine::status::AgentScopeView]) -> String {
    use crate::core::budget::ReasonKind;
    let mut names: Vec<&str> = agents
        .iter()
        .filter(|a| {
            !a.enabled
                && a.reason
                    .as_deref()
                    .is_some_and(|r| ReasonKind::of_text(r) == ReasonKind::AuthFailed)
        })
        .map(|a| a.agent.as_str())
        .collect();
    names.dedup();
    names
        .iter()
        .map(|a| {
            format!(
                "{a} is logged out: log its CLI in, then `jobctl configure agent {a} --enable`\n"
            )
        })
        .collect()
}
