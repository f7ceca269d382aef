//! `jobctl history [NAME]`: the latest runs, newest first.
//!
//! Streamed, in bounded memory whatever `-n` is: JSON is written run by run; a table is
//! measured in one pass over the runs and printed in a second (its column widths must
//! be known before its first row), both pages at a time.

use std::io::Write;

use crate::cli::args::Global;
use crate::cli::output::{Ui, exit_text, human_duration, human_time};
use crate::cli::table::{Cell, Table};
use crate::core::error::Result;
use crate::core::run::RunRecord;
use crate::engine::views::{self, RunView};

const HEADERS: [&str; 8] = [
    "RUN", "JOB", "STARTED", "DURATION", "STATUS", "EXIT", "AGENT", "ROLE",
];
/// The narrowest REASON column worth showing.
const MIN_REASON: usize = 20;

pub fn execute(g: &Global, ui: &Ui, name: Option<&str>, n: usize) -> Result<u8> {
    let mut e = super::engine(g)?;
    if ui.json {
        return print_json(&mut e, name, n);
    }
    // Pass 1: the widths. REASON (why a run did not succeed) only on a terminal with room
    // for it; JSON always has it (`error`).
    let mut headers = HEADERS.to_vec();
    headers.push("REASON");
    let mut table = Table::new(&headers, ui.color);
    let mut reason_width = 0usize;
    let newest = views::history_each(&mut e, name, n, None, &mut |r| {
        let mut cells = row(ui, r);
        let why = reason(r);
        if why != "-" {
            reason_width = reason_width.max(why.chars().count());
        }
        cells.push(Cell::new(why));
        table.measure(&cells);
        Ok(true)
    })?;
    let mut narrow = table.clone();
    narrow.drop_last();
    let with_reason = ui.is_tty()
        && reason_width > 0
        && ui
            .width()
            .is_none_or(|w| w >= narrow.natural_width() + 2 + MIN_REASON.min(reason_width));
    if !with_reason {
        table = narrow;
    }
    table.fit(ui.width());
    // Pass 2: the rows, from the same newest run on.
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", table.header_line()).is_err() {
        return Ok(0);
    }
    views::history_each(&mut e, name, n, newest.map(|id| id + 1), &mut |r| {
        let mut cells = row(ui, r);
        if with_reason {
            cells.push(Cell::new(reason(r)));
        }
        // A closed stdout (`| head`) ends the listing quietly.
        Ok(writeln!(out, "{}", table.line(&cells)).is_ok())
    })?;
    let _ = out.flush();
    Ok(0)
}

fn row(ui: &Ui, r: &RunRecord) -> Vec<Cell> {
    let exit = match (r.exit_code, r.signal) {
        (Some(c), _) => c.to_string(),
        (None, Some(_)) => exit_text(None, r.signal),
        _ => "-".into(),
    };
    vec![
        Cell::new(r.id),
        Cell::new(&r.job),
        Cell::new(human_time(r.started_at)),
        Cell::new(human_duration(r.duration_ms)),
        ui.status_cell(r.status),
        Cell::new(exit),
        Cell::new(r.agent.as_deref().unwrap_or("-")),
        Cell::new(r.role.as_deref().unwrap_or("-")),
    ]
}

/// Why a run did not succeed, on one line; `-` for one that did (or still runs).
fn reason(r: &RunRecord) -> String {
    match (
        &r.error,
        r.status.is_end() && r.status != crate::core::run::RunStatus::Succeeded,
    ) {
        (Some(e), true) => e.replace(['\n', '\r'], " "),
        _ => "-".into(),
    }
}

/// The runs as one JSON array, written run by run (laid out as `Ui::print_view` would).
fn print_json(e: &mut crate::engine::Engine<'_>, name: Option<&str>, n: usize) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    let mut first = true;
    let mut open = true;
    views::history_each(e, name, n, None, &mut |r| {
        let v = serde_json::to_value(RunView::from(r))?;
        let text = serde_json::to_string_pretty(&v)?;
        let mut chunk = String::with_capacity(text.len() + 64);
        chunk.push_str(if first { "[\n" } else { ",\n" });
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                chunk.push('\n');
            }
            chunk.push_str("  ");
            chunk.push_str(line);
        }
        first = false;
        open = out.write_all(chunk.as_bytes()).is_ok();
        Ok(open)
    })?;
    if open {
        let _ = out.write_all(if first { b"[]\n" } else { b"\n]\n" });
        let _ = out.flush();
    }
    Ok(0)
}
