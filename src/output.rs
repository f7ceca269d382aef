//! How results reach people and programs: tables (comfy-table), colour, JSON documents,
//! and the formatting of times and durations. Results go to stdout, logs to stderr; a
//! closed stdout (`jobctl list | head`) is not an error.

use std::io::{IsTerminal, Write};

use comfy_table::presets::NOTHING;
use comfy_table::{Cell, Color, ContentArrangement, Table};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::cli::{ColorChoice, Global};

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
            _ => cell,
        }
    }
}

/// The zone people's times are shown in: the system's, looked up once per process.
pub fn local_zone() -> TimeZone {
    crate::core::zone::system()
}

/// `2026-11-22 06:00` in local time.
pub fn human_time(ms: i64) -> String {
    // Formatted by hand: `list` shows two per job, and strftime's parsing of its format
    // string was a tenth of a 1,000-job `list`.
    let t = crate::core::clock::from_ms(ms);
    let d = local_zone().to_datetime(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute()
    )
}

/// `2026-11-22 06:00:00 +01:00`: local time with offset.
pub fn human_time_offset(t: Timestamp) -> String {
    t.to_zoned(local_zone())
        .strftime("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// RFC 3339 with the local offset, for JSON.
pub fn rfc3339(ms: i64) -> String {
    let z = crate::core::clock::from_ms(ms).to_zoned(local_zone());
    z.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

pub fn rfc3339_opt(ms: Option<i64>) -> serde_json::Value {
    ms.map(|m| serde_json::Value::String(rfc3339(m)))
        .unwrap_or(serde_json::Value::Null)
}

/// `4m12s`, `350ms`.
pub fn human_duration(ms: Option<i64>) -> String {
    match ms {
        Some(ms) if ms >= 0 => {
            crate::core::units::format_duration(std::time::Duration::from_millis(ms as u64))
        }
        _ => "-".into(),
    }
}
