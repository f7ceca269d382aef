//! `jobctl list`: one row per job, sorted by name.

use crate::cli::args::Global;
use crate::cli::output::{Ui, human_duration};
use crate::cli::table::Cell;
use crate::core::clock;
use crate::core::error::Result;
use crate::engine::views::{self, Next};

pub(crate) fn execute(g: &Global, ui: &Ui) -> Result<u8> {
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
            let next = match r.next {
                Next::Running(id) => format!("running (run {id})"),
                Next::PausedRun(id) => format!("paused run {id}"),
                Next::Retrying(id) => format!("retrying (run {id})"),
                Next::Queued(id) => format!("queued (run {id})"),
                Next::Waiting(ref needs) => format!("waiting for {}", needs.join(", ")),
                Next::Disabled => "disabled".into(),
                Next::Paused => "paused".into(),
                Next::Manual => "manual".into(),
                Next::DueNow => "due now".into(),
                Next::At(ms) => ui.time(ms, now),
                Next::Never => "-".into(),
            };
            // Another host's job: what its hosts will do, not this one.
            let next = match &r.only_on {
                Some(hosts) => format!("{next} on {}", hosts.join(", ")),
                None => next,
            };
            vec![
                Cell::new(&r.name),
                Cell::new(r.kind),
                Cell::new(&r.schedule),
                Cell::new(next),
                Cell::new(
                    r.last_started_ms
                        .map(|ms| ui.time(ms, now))
                        .unwrap_or_else(|| "never".into()),
                ),
                r.last_status
                    .map(|s| ui.status_cell(s))
                    .unwrap_or_else(|| Cell::new("-")),
                Cell::new(
                    r.last_run_id
                        .map(|_| human_duration(r.last_duration_ms))
                        .unwrap_or_else(|| "-".into()),
                ),
            ]
        })
        .collect();
    ui.print_table(
        &[
            "JOB", "TYPE", "SCHEDULE", "NEXT", "LAST RUN", "STATUS", "DURATION",
        ],
        &cells,
    );
    Ok(0)
}
