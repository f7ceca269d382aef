//! `jobctl list`: one row per job, sorted by name. On a narrow terminal the job's name
//! stays whole: times keep how far they are, DURATION and TYPE go, then SCHEDULE is cut
//! (`--wide`: every column whole). The times of a job scheduled by the clock (`at`,
//! `cron`) are in its own zone, named where that is not the local one.

use crate::cli::args::Global;
use crate::cli::output::{Ui, human_duration};
use crate::cli::table::{Cell, Table};
use crate::core::clock;
use crate::core::error::Result;
use crate::core::schedule::Schedule;
use crate::engine::views::{self, Next};

const HEADERS: [&str; 7] = [
    "JOB", "TYPE", "SCHEDULE", "NEXT", "LAST RUN", "STATUS", "DURATION",
];

pub(crate) fn execute(g: &Global, ui: &Ui, wide: bool) -> Result<u8> {
    let mut e = super::engine(g)?;
    let rows = views::list(&mut e)?;
    if ui.json {
        ui.print_view(&rows);
        return Ok(0);
    }
    let now = clock::to_ms(clock::now()?);
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            // Only a wall-clock schedule (at, cron) is in a zone; an interval is in none.
            let zone = e
                .cfg
                .jobs
                .get(&r.name)
                .filter(|j| !matches!(j.schedule, None | Some(Schedule::Every(_))))
                .map(|j| &*j.timezone);
            let next = match r.next {
                Next::Running(id) => Cell::new(format!("running (run {id})")),
                Next::PausedRun(id) => Cell::new(format!("paused run {id}")),
                Next::Retrying(id) => Cell::new(format!("retrying (run {id})")),
                Next::Queued(id) => Cell::new(format!("queued (run {id})")),
                Next::Waiting(ref needs) => Cell::new(format!("waiting for {}", needs.join(", "))),
                Next::Disabled => Cell::new("disabled"),
                Next::Paused => Cell::new("paused"),
                Next::Manual => Cell::new("manual"),
                Next::DueNow => Cell::new("due now"),
                Next::At(ms) => ui.time_cell(ms, now, zone),
                Next::Never => Cell::new("-"),
            };
            // Another host's job: what its hosts will do, not this one.
            let next = match &r.only_on {
                Some(hosts) => {
                    let on = format!(" on {}", hosts.join(", "));
                    let short = next.short.as_ref().map(|s| format!("{s}{on}"));
                    Cell {
                        text: format!("{}{on}", next.text),
                        short,
                        ..next
                    }
                }
                None => next,
            };
            vec![
                Cell::new(&r.name),
                Cell::new(r.kind),
                Cell::new(&r.schedule),
                next,
                r.last_started_ms
                    .map(|ms| ui.time_cell(ms, now, zone))
                    .unwrap_or_else(|| Cell::new("never")),
                r.last_status
                    .map(|s| {
                        let cell = ui.status_cell(s);
                        match &r.last_fell_back_to {
                            // Said, so a success on a fallback (the example's local
                            // script, say) is not taken for the agent asked for.
                            Some(agent) => Cell {
                                text: format!("{} (on {agent})", cell.text),
                                ..cell
                            },
                            None => cell,
                        }
                    })
                    .unwrap_or_else(|| Cell::new("-")),
                Cell::new(
                    r.last_run_id
                        .map(|_| human_duration(r.last_duration_ms))
                        .unwrap_or_else(|| "-".into()),
                ),
            ]
        })
        .collect();
    let table = Table::new(&HEADERS, ui.color)
        .keys(&["JOB"])
        .optional(&["DURATION", "TYPE"])
        .spare(&["SCHEDULE", "LAST RUN"]);
    ui.print(&table.render(&cells, ui.fit_width(wide)));
    Ok(0)
}
