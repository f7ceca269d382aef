//! How results reach people and programs: tables (`table.rs`), colour, JSON documents,
//! and the formatting of times and durations. Results go to stdout, logs to stderr; a
//! closed stdout (`jobctl list | head`) is not an error.

use std::io::{IsTerminal, Write};

use super::args::{ColorChoice, Global};
use super::table::{Cell, Color, Table};

pub(crate) struct Ui {
    pub(crate) json: bool,
    pub(crate) color: bool,
    pub(crate) quiet: bool,
    /// Times shown with how far they are from now (`in 4m`, `3m ago`): on a terminal,
    /// unless `--absolute`.
    pub(crate) relative: bool,
    tty: bool,
    width: Option<usize>,
}

impl Ui {
    pub(crate) fn new(g: &Global) -> Ui {
        let stdout = std::io::stdout();
        let tty = stdout.is_terminal();
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
            relative: tty && !g.absolute && !g.json,
            tty,
            width: if tty { terminal_width(&stdout) } else { None },
        }
    }

    /// Whether stdout is a terminal.
    pub(crate) fn is_tty(&self) -> bool {
        self.tty
    }

    /// The terminal's width, when tables must fit one: `None` when stdout is not a
    /// terminal or its width is unknown or 0 (then nothing is cut).
    pub(crate) fn width(&self) -> Option<usize> {
        self.width
    }

    /// Prints to stdout; a closed pipe ends output quietly.
    pub(crate) fn print(&self, text: &str) {
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

    pub(crate) fn print_json(&self, v: &serde_json::Value) {
        let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
        self.print(&text);
    }

    /// Prints a view as one JSON document, its objects' keys sorted (through a
    /// `serde_json::Value`, whose maps are ordered), as every `--json` document is.
    pub(crate) fn print_view(&self, view: &impl serde::Serialize) {
        let v = serde_json::to_value(view).unwrap_or(serde_json::Value::Null);
        self.print_json(&v);
    }

    /// A table fitted to the terminal, as text (header first).
    pub(crate) fn table_text(&self, headers: &[&str], rows: &[Vec<Cell>]) -> String {
        Table::new(headers, self.color).render(rows, self.width())
    }

    /// Prints a table fitted to the terminal.
    pub(crate) fn print_table(&self, headers: &[&str], rows: &[Vec<Cell>]) {
        self.print(&self.table_text(headers, rows));
    }

    /// A run status, coloured when colour is on.
    pub(crate) fn status_cell(&self, status: impl AsRef<str>) -> Cell {
        let status = status.as_ref();
        let cell = Cell::new(status);
        match status {
            "succeeded" => cell.fg(Color::Green),
            "failed" | "timed_out" | "lost" => cell.fg(Color::Red),
            "skipped" | "cancelled" => cell.fg(Color::Yellow),
            "running" => cell.fg(Color::Cyan),
            "paused" | "queued" | "retrying" => cell.fg(Color::Blue),
            _ => cell,
        }
    }

    /// A moment for people: local time, and on a terminal how far it is from `now`
    /// (`2026-11-27 10:30 (in 4m)`).
    pub(crate) fn time(&self, ms: i64, now_ms: i64) -> String {
        self.time_cell(ms, now_ms, None).text
    }

    /// A moment as a table cell: local time, or in `zone` with its name where that is not
    /// the local time (`2026-12-08 03:30 EST`, as `systemctl list-timers` shows), on a
    /// terminal with how far it is from `now`; its short form is how far it is (`in 4m`),
    /// or without a terminal the time without its year.
    pub(crate) fn time_cell(
        &self,
        ms: i64,
        now_ms: i64,
        zone: Option<&jiff::tz::TimeZone>,
    ) -> Cell {
        let abs = match zone.filter(|z| !crate::core::clock::is_local_at(z, ms)) {
            Some(z) => crate::core::clock::human_time_in(ms, z),
            None => human_time(ms),
        };
        if self.relative {
            let rel = relative(ms, now_ms);
            Cell::with_short(format!("{abs} ({rel})"), rel)
        } else {
            // `2026-` off the front.
            let short = abs.get(5..).unwrap_or(&abs).to_string();
            Cell::with_short(abs, short)
        }
    }

    /// The width tables fit: the terminal's, or none with `--wide`.
    pub(crate) fn fit_width(&self, wide: bool) -> Option<usize> {
        if wide { None } else { self.width() }
    }
}

/// The width of the terminal on `stdout`: `$COLUMNS` when set (a shell's own idea of it;
/// 0 means none), else the terminal's. `None`: unknown, or 0.
fn terminal_width(stdout: &std::io::Stdout) -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
    {
        return (c > 0).then_some(c);
    }
    terminal_size::terminal_size_of(stdout)
        .map(|(w, _)| usize::from(w.0))
        .filter(|w| *w > 0)
}

/// `in 4m`, `3m ago`, `in 2h5m`, `now`: the distance from `now_ms`, rounded down to the
/// minute past a minute, to two units at most.
pub(crate) fn relative(ms: i64, now_ms: i64) -> String {
    let d = ms - now_ms;
    let secs = d.unsigned_abs() / 1000;
    if secs < 60 {
        return if secs < 5 {
            "now".into()
        } else if d > 0 {
            format!("in {secs}s")
        } else {
            format!("{secs}s ago")
        };
    }
    let (days, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let amount = match (days, h, m) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    };
    if d > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

pub(crate) use crate::core::clock::{human_time, human_time_offset};

/// `1 file`, `3 files`: a count with its noun, singular for one (`noun` is the singular,
/// the plural adds `s`).
pub(crate) fn count(n: impl Into<i64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `4m12s`, `350ms`.
pub(crate) fn human_duration(ms: Option<i64>) -> String {
    match ms {
        Some(ms) if ms >= 0 => {
            crate::core::units::format_duration(std::time::Duration::from_millis(ms as u64))
        }
        _ => "-".into(),
    }
}

pub(crate) use crate::core::run::signal_name;

/// How a run's main process ended, in few words: `exit 3`, `SIGKILL`, `exit -`.
pub(crate) fn exit_text(exit_code: Option<i64>, signal: Option<i64>) -> String {
    match (exit_code, signal) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => signal_name(s),
        _ => "exit -".into(),
    }
}

/// One line per ended run: job, run id, status, exit, duration.
pub(crate) fn end_line(r: &crate::core::run::RunRecord) -> String {
    let mut line = format!(
        "{}  run {}  {}  {}  {}",
        r.job,
        r.id,
        r.status,
        exit_text(r.exit_code, r.signal),
        human_duration(r.duration_ms)
    );
    if r.status != crate::core::run::RunStatus::Succeeded
        && let Some(e) = &r.error
    {
        line.push_str(&format!("  ({e})"));
    }
    if let Some(agent) = crate::engine::views::fell_back_to(r) {
        let before: Vec<String> = r.attempts[..r.attempts.len() - 1]
            .iter()
            .map(crate::core::run::Attempt::describe)
            .collect();
        line.push_str(&format!("  (on {agent} after {})", before.join("; ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_like_people_say_them() {
        let m = 60_000;
        assert_eq!(relative(4 * m, 0), "in 4m");
        assert_eq!(relative(0, 3 * m + 20_000), "3m ago");
        assert_eq!(relative(125 * m, 0), "in 2h5m");
        assert_eq!(relative(120 * m, 0), "in 2h");
        assert_eq!(relative(0, 26 * 60 * m), "1d2h ago");
        assert_eq!(relative(1000, 0), "now");
        assert_eq!(relative(30_000, 0), "in 30s");
    }

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(0, "agent"), "0 agents");
        assert_eq!(count(12, "turn"), "12 turns");
    }

    #[test]
    fn signals_are_named() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(999), "signal 999");
        assert_eq!(exit_text(None, Some(9)), "SIGKILL");
        assert_eq!(exit_text(Some(3), None), "exit 3");
    }
}
