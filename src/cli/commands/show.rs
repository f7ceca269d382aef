//! `jobctl show RUN_ID` / `--job NAME`: what one run did, for people (a block of labelled
//! lines, the changed files, the end of the log) or as one JSON document.

use std::fmt::Write;

use crate::cli::args::Global;
use crate::cli::output::{Ui, count, human_duration, human_time};
use crate::core::error::Result;
use crate::core::run::Trigger;
use crate::core::units::format_milli;
use crate::engine::report::{self, RunReport, Which};
use crate::fail;

pub(crate) fn execute(g: &Global, ui: &Ui, run_id: Option<i64>, job: Option<&str>) -> Result<u8> {
    let mut e = super::engine(g)?;
    let which = match (run_id, job) {
        (Some(id), _) => Which::Run(id),
        (None, Some(j)) => Which::LatestOf(j),
        (None, None) => fail!(Usage, "give a RUN_ID or --job NAME"),
    };
    let r = report::show(&mut e, which)?;
    if ui.json {
        ui.print_view(&r);
    } else {
        ui.print(&render(&r));
    }
    Ok(0)
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// The report as people read it.
pub(crate) fn render(r: &RunReport) -> String {
    let run = &r.record;
    let mut o = String::new();
    let _ = writeln!(o, "run {}  {}  {}", run.id, run.job, run.status);
    let mut line = |label: &str, text: String| {
        let _ = writeln!(o, "  {label:<10} {text}");
    };
    let trigger = match run.trigger {
        Trigger::Scheduled => format!("scheduled (slot {})", human_time(run.scheduled_for)),
        Trigger::Retry => match run.retry_of {
            Some(first) => format!("retry (attempt {} of run {first})", run.attempt),
            None => format!("retry (attempt {})", run.attempt),
        },
        t => t.to_string(),
    };
    line("trigger", trigger);
    if let Some(parent) = run.parent_run_id {
        line("parent", format!("run {parent} (depth {})", run.depth));
    }
    line(
        "time",
        format!(
            "started {}, ended {}, took {}",
            human_time(run.started_at),
            run.ended_at.map(human_time).unwrap_or_else(|| "-".into()),
            human_duration(run.duration_ms)
        ),
    );
    match (run.exit_code, run.signal) {
        (Some(c), _) => line("exit", c.to_string()),
        (None, Some(s)) => line("exit", format!("signal {s}")),
        _ => {}
    }
    if let Some(err) = &run.error {
        line("error", err.clone());
    }
    if let Some(agent) = &run.usage.agent {
        let mut what = agent.clone();
        let details: Vec<String> = [
            run.usage.model.as_ref().map(|m| format!("model {m}")),
            run.usage.scope.as_ref().map(|s| format!("scope {s}")),
            run.usage.role.as_ref().map(|r| format!("role {r}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !details.is_empty() {
            what.push_str(&format!(" ({})", details.join(", ")));
        }
        line("agent", what);
    }
    for (i, a) in run.attempts.iter().enumerate() {
        let label = if i == 0 { "attempts" } else { "" };
        // A reason that starts with the outcome (`auth_failed: not logged in`) is said
        // once.
        let outcome = a.outcome.to_string();
        let reason = match a.reason.as_deref() {
            Some(r) if r.starts_with(&format!("{outcome}:")) => format!(" {r}"),
            Some(r) => format!(" {outcome}: {r}"),
            None => format!(" {outcome}"),
        };
        line(label, format!("{}{reason}", a.agent));
    }
    let usage: Vec<String> = [
        run.usage.input_tokens.map(|t| format!("{t} tokens in")),
        run.usage.output_tokens.map(|t| format!("{t} out")),
        run.usage
            .cost_milli
            .map(|c| format!("cost {}", format_milli(c))),
        run.usage.cost_usd.map(|u| format!("${u:.4}")),
        run.usage.num_turns.map(|n| count(n, "turn")),
        run.usage.tool_calls.map(|n| count(n, "tool call")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !usage.is_empty() {
        line("usage", usage.join(", "));
    }
    if let Some(ws) = &run.workspace {
        let state = if ws.kept {
            "kept"
        } else if ws.removed_at.is_some() || run.ended_at.is_some() {
            "removed"
        } else {
            "in use"
        };
        line("workspace", format!("{} ({state})", ws.path));
        let head = ws
            .head_commit
            .as_deref()
            .filter(|h| *h != ws.base_commit)
            .map(|h| format!(" -> {}", short(h)))
            .unwrap_or_default();
        let push = match (ws.pushed, ws.push_failure) {
            (true, _) => ", pushed".to_string(),
            (false, Some(f)) => format!(", push failed ({f})"),
            _ => String::new(),
        };
        line(
            "",
            format!(
                "branch {} from {} ({}){head}{push}",
                ws.branch,
                ws.base,
                short(&ws.base_commit)
            ),
        );
        line(
            "",
            format!(
                "{} changed, +{} -{}",
                count(ws.files_changed as i64, "file"),
                ws.insertions,
                ws.deletions
            ),
        );
        if let Some(b) = &ws.rescue_branch {
            line(
                "",
                format!("uncommitted work committed to {b} when the worktree was removed"),
            );
        }
    }
    for c in &run.changes {
        let counts = match (c.insertions, c.deletions) {
            (Some(i), Some(d)) => format!("+{i} -{d}"),
            _ => "binary".into(),
        };
        let path = match &c.from {
            Some(f) => format!("{f} -> {}", c.path),
            None => c.path.clone(),
        };
        line("", format!("  {} {path}  {counts}", c.status.letter()));
    }
    for (i, h) in r.hooks.iter().enumerate() {
        let label = if i == 0 { "hooks" } else { "" };
        let took = human_duration(Some(h.duration_ms));
        let what = match &h.error {
            None => format!("{} ok ({took})", h.hook),
            Some(e) => format!("{e} ({took})"),
        };
        line(label, what);
    }
    if let Some(p) = &run.log_path {
        line("log", p.clone());
    }
    for l in &r.log_tail {
        let _ = writeln!(o, "    {l}");
    }
    o
}
