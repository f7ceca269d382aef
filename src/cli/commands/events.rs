//! `jobctl events`: the event log, oldest first: every run's changes of state (from, to,
//! why, who), skipped slots, scopes and budgets. `--follow` keeps printing as events
//! arrive (with `--run`, until the run has ended); `--json` prints one array, or with
//! `--follow` one object per line.

use std::io::Write;

use crate::cli::args::Global;
use crate::cli::output::{Ui, human_time};
use crate::core::error::{Result, code};
use crate::engine::events::{self, EventView};

pub(crate) fn execute(g: &Global, ui: &Ui, run: Option<i64>, follow: bool, n: usize) -> Result<u8> {
    let mut e = super::engine(g)?;
    let mut last = e.store.last_event_id()?;
    let shown = events::latest(&mut e, run, n)?;
    if ui.json && !follow {
        ui.print_view(&shown);
        return Ok(code::OK);
    }
    if let Some(l) = shown.last() {
        last = last.max(l.id);
    }
    let mut out = std::io::stdout().lock();
    let mut print = |ev: &EventView| -> bool {
        let line = if ui.json {
            serde_json::to_string(ev).unwrap_or_default()
        } else {
            line(ev)
        };
        // A closed stdout (`jobctl events -f | head`) ends the command, quietly.
        writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
    };
    for ev in &shown {
        if !print(ev) {
            return Ok(code::OK);
        }
    }
    if follow {
        events::follow(&mut e, run, last, &mut print)?;
    }
    Ok(code::OK)
}

/// `2026-11-23 10:02  run 12 (report)  queued → running  by tick  (reason)`, or for
/// other events `2026-11-23 10:02  slot_skipped  job  reason: missed, slots: 3`.
fn line(ev: &EventView) -> String {
    let when = human_time(ev.at_ms);
    match (ev.run_id, ev.to) {
        (Some(id), Some(to)) => {
            let from = ev.from.map_or_else(|| "new".to_string(), |f| f.to_string());
            let by = match &ev.subject {
                Some(s) => format!("api ({s})"),
                None => ev.by.clone().unwrap_or_else(|| "-".into()),
            };
            let mut l = format!(
                "{when}  run {id} ({})  {from} → {to}  by {by}",
                ev.job.as_deref().unwrap_or("-")
            );
            if let Some(r) = &ev.reason {
                l.push_str(&format!("  ({r})"));
            }
            l
        }
        _ => {
            let mut l = format!("{when}  {}", ev.kind);
            if let Some(j) = &ev.job {
                l.push_str(&format!("  {j}"));
            }
            if let Some(id) = ev.run_id {
                l.push_str(&format!("  run {id}"));
            }
            if let Some(o) = ev.detail.as_object().filter(|o| !o.is_empty()) {
                l.push_str("  ");
                l.push_str(&detail(o));
            }
            l
        }
    }
}

/// An event's detail for people: `key: value` pairs, strings as they are, lists joined
/// with commas, nested objects as `{key: value}`; never JSON's quotes and braces.
fn detail(o: &serde_json::Map<String, serde_json::Value>) -> String {
    o.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{}: {}", k.replace('_', " "), value(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn value(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => s.replace(['\n', '\r'], " "),
        Value::Array(a) => a.iter().map(value).collect::<Vec<_>>().join(", "),
        Value::Object(o) => format!("{{{}}}", detail(o)),
        other => other.to_string(),
    }
}
