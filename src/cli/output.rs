//! How results reach people and programs: tables (comfy-table), colour, JSON documents,
//! and the formatting of times and durations. Results go to stdout, logs to stderr; a
//! closed stdout (`jobctl list | head`) is not an error.

use std::io::{IsTerminal, Write};

use comfy_table::presets::NOTHING;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::args::{ColorChoice, Global};

pub struct Ui {
    pub json: bool,
    pub color: bool,
    pub quiet: bool,
    tty: bool,
}

impl Ui {
    pub fn new(g: &Global) -> Ui {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        Ui {
            json: g.json,
            color,
            quiet: g.quiet,
            tty,
        }
    }

    /// Prints to stdout; a closed pipe ends output quietly.
    pub fn print(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|_| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        });
        let _ = out.flush();
    }

    pub fn print_json(&self, v: &serde_json::Value) {
        let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
        self.print(&text);
    }

    /// Prints a view as one JSON document, its objects' keys sorted (through a
    /// `serde_json::Value`, whose maps are ordered), as every `--json` document is.
    pub fn print_view(&self, view: &impl serde::Serialize) {
        let v = serde_json::to_value(view).unwrap_or(serde_json::Value::Null);
        self.print_json(&v);
    }

    /// A borderless table, sized to the terminal only when there is one.
    pub fn table(&self, header: &[&str]) -> Table {
        let mut t = Table::new();
        t.load_style(NOTHING);
        if self.tty {
            t.set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            t.force_no_tty();
        }
        if self.color {
            t.enforce_styling();
        }
        t.set_header(header.iter().map(Cell::new));
        t
    }

    pub fn print_table(&self, t: &Table) {
        let lines: Vec<String> = t.lines().map(|l| l.trim_end().to_string()).collect();
        let mut text = lines.join("\n");
        text.push('\n');
        self.print(&text);
    }

    /// A run status, coloured when colour is on.
    pub fn status_cell(&self, status: impl AsRef<str>) -> Cell {
        let status = status.as_ref();
        let cell = Cell::new(status);
        if !self.color {
            return cell;
        }
        match status {
            "succeeded" => cell.fg(Color::Green),
            "failed" | "timed_out" | "lost" => cell.fg(Color::Red),
            "skipped" | "cancelled" => cell.fg(Color::Yellow),
            "running" => cell.fg(Color::Cyan),
            "paused" | "queued" | "retrying" => cell.fg(Color::Blue),
            _ => cell,
        }
    }
}

pub use crate::core::clock::{human_time, human_time_offset};

/// `4m12s`, `350ms`.
pub fn human_duration(ms: Option<i64>) -> String {
    match ms {
        Some(ms) if ms >= 0 => {
            crate::core::units::format_duration(std::time::Duration::from_millis(ms as u64))
        }
        _ => "-".into(),
    }
}

/// One line per ended run: job, run id, status, exit, duration.
pub fn end_line(r: &crate::core::run::RunRecord) -> String {
    let exit = match (r.exit_code, r.signal) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "exit -".into(),
    };
    let mut line = format!(
        "{}  run {}  {}  {}  {}",
        r.job,
        r.id,
        r.status,
        exit,
        human_duration(r.duration_ms)
    );
    if r.status != crate::core::run::RunStatus::Succeeded
        && let Some(e) = &r.error
    {
        line.push_str(&format!("  ({e})"));
    }
    line
}
