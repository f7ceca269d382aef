//! `jobctl history [NAME]`: the latest runs, newest first, optionally only those in a
//! status, started in a window, or made one way; `--tree` draws each sub-run under the
//! run that submitted it.
//!
//! Streamed, in bounded memory whatever `-n` is: JSON is written run by run; a table is
//! measured in one pass over the runs and printed in a second (its column widths must
//! be known before its first row), both pages at a time. A tree is laid out from all the
//! runs it shows, so `--tree` reads them first. On a narrow terminal RUN and JOB stay
//! whole: empty AGENT and ROLE columns go first, STARTED loses its year, then ROLE,
//! AGENT, DURATION and EXIT go (`--wide`: every column whole).

use std::io::Write;

use crate::cli::args::{Global, History};
use crate::cli::output::{Ui, exit_text, human_duration, human_time};
use crate::cli::table::{Cell, Table};
use crate::core::clock;
use crate::core::error::Result;
use crate::core::run::RunRecord;
use crate::engine::Engine;
use crate::engine::views::{self, RunFilter, RunView};

const HEADERS: [&str; 8] = [
    "RUN", "JOB", "STARTED", "DURATION", "STATUS", "EXIT", "AGENT", "ROLE",
];
/// The narrowest REASON column worth showing.
const MIN_REASON: usize = 20;

pub(crate) fn execute(g: &Global, ui: &Ui, a: &History) -> Result<u8> {
    let now = clock::to_ms(clock::now()?);
    let filter = RunFilter {
        job: a.job(),
        status: a.status,
        since: a
            .since
            .as_deref()
            .map(|s| moment("--since", s, now))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|s| moment("--until", s, now))
            .transpose()?,
        trigger: a.trigger,
    };
    let n = a.n;
    let mut e = super::engine(g)?;
    if ui.json {
        return print_json(&mut e, &filter, n);
    }
    // A tree: each sub-run under the run that submitted it.
    let runs = if a.tree {
        views::history_of(&mut e, &filter, n)?
    } else {
        Vec::new()
    };
    let laid: Vec<(usize, &RunRecord)> = crate::engine::tree::layout(&runs)
        .into_iter()
        .map(|l| (l.level, l.run))
        .collect();
    let laid = a.tree.then_some(laid.as_slice());
    // Pass 1: the widths. REASON (why a run did not succeed) only on a terminal with room
    // for it; JSON always has it (`error`).
    let mut headers = HEADERS.to_vec();
    headers.push("REASON");
    let mut table = Table::new(&headers, ui.color)
        .keys(&["RUN", "JOB"])
        .optional(&["ROLE", "AGENT", "DURATION", "EXIT"]);
    let mut reason_width = 0usize;
    let newest = each_run(&mut e, &filter, n, laid, None, &mut |level, r| {
        let mut cells = row(ui, r, level);
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
    let width = ui.fit_width(a.wide);
    let with_reason = ui.is_tty()
        && reason_width > 0
        && width.is_none_or(|w| w >= narrow.natural_width() + 2 + MIN_REASON.min(reason_width));
    if !with_reason {
        table = narrow;
    }
    table.fit(width);
    // Pass 2: the rows, from the same newest run on.
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", table.header_line()).is_err() {
        return Ok(0);
    }
    each_run(
        &mut e,
        &filter,
        n,
        laid,
        newest.map(|id| id + 1),
        &mut |level, r| {
            let mut cells = row(ui, r, level);
            if with_reason {
                cells.push(Cell::new(reason(r)));
            }
            // A closed stdout (`| head`) ends the listing quietly.
            Ok(writeln!(out, "{}", table.line(&cells)).is_ok())
        },
    )?;
    let _ = out.flush();
    Ok(0)
}

/// `--since`/`--until`: a duration back from `now` (`90m`, `2d`), or a time: RFC 3339, or
/// a local date (its midnight) or date and time (`2026-03-01 08:00`).
fn moment(flag: &str, s: &str, now: i64) -> Result<i64> {
    let t = s.trim();
    if let Ok(d) = crate::core::units::parse_duration(t) {
        return Ok(now - i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let local = clock::local_zone();
    let civil = t.parse::<jiff::civil::DateTime>().or_else(|_| {
        t.parse::<jiff::civil::Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    match civil.ok().and_then(|dt| dt.to_zoned(local).ok()) {
        Some(z) => Ok(z.timestamp().as_millisecond()),
        None => crate::fail!(
            Usage,
            "{flag} {s:?}: expected a duration back from now (90m, 2d) or a time (2026-03-01, 2026-03-01 08:00, RFC 3339)"
        ),
    }
}

/// The runs to list, in order, each with how deep it is drawn: the laid-out tree when
/// there is one, else the history streamed (below `before`, when given). Returns the
/// newest id seen (of the stream).
fn each_run(
    e: &mut Engine<'_>,
    filter: &RunFilter<'_>,
    n: usize,
    tree: Option<&[(usize, &RunRecord)]>,
    before: Option<i64>,
    each: &mut dyn FnMut(usize, &RunRecord) -> Result<bool>,
) -> Result<Option<i64>> {
    match tree {
        Some(lines) => {
            for (level, r) in lines {
                if !each(*level, r)? {
                    break;
                }
            }
            Ok(None)
        }
        None => views::history_each(e, filter, n, before, &mut |r| each(0, r)),
    }
}

/// A run's cells; one `level` levels below a run shown above it is drawn under it.
fn row(ui: &Ui, r: &RunRecord, level: usize) -> Vec<Cell> {
    let exit = match (r.exit_code, r.signal) {
        (Some(c), _) => c.to_string(),
        (None, Some(_)) => exit_text(None, r.signal),
        _ => "-".into(),
    };
    let job = if level == 0 {
        r.job.clone()
    } else {
        format!("{}└ {}", "  ".repeat(level - 1), r.job)
    };
    vec![
        Cell::new(r.id),
        Cell::new(job),
        started(r.started_at),
        Cell::new(human_duration(r.duration_ms)),
        ui.status_cell(r.status),
        Cell::new(exit),
        Cell::new(r.usage.agent.as_deref().unwrap_or("-")),
        Cell::new(r.usage.role.as_deref().unwrap_or("-")),
    ]
}

/// When a run started: local time, without its year where room is scarce.
fn started(ms: i64) -> Cell {
    let abs = human_time(ms);
    let short = abs.get(5..).unwrap_or(&abs).to_string();
    Cell::with_short(abs, short)
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
fn print_json(e: &mut Engine<'_>, filter: &RunFilter<'_>, n: usize) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    let mut first = true;
    let mut open = true;
    views::history_each(e, filter, n, None, &mut |r| {
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
