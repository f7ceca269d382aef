//! `jobctl next NAME`: the slots the scheduler will use, for checking a schedule before
//! trusting it.

use crate::cli::args::Global;
use crate::cli::output::{Ui, human_time_offset};
use crate::core::clock;
use crate::core::error::{Error, Result};
use crate::engine::views;
use crate::fail;

pub(crate) fn execute(g: &Global, ui: &Ui, name: &str, n: usize, from: Option<&str>) -> Result<u8> {
    let cfg = crate::cli::load_config(g)?;
    let from = || match from {
        Some(f) => clock::parse_instant(f)
            .map_err(|e| Error::Usage(format!("--from {f:?} is not an RFC 3339 time: {e}"))),
        None => clock::now(),
    };
    let Some(slots) = views::next_slots(cfg, name, n, from)? else {
        fail!(
            Failed,
            "job {name} has no schedule: it runs only when forced (jobctl force {name})"
        );
    };
    if ui.json {
        let v: Vec<String> = slots
            .iter()
            .map(|t| clock::rfc3339(t.as_millisecond()))
            .collect();
        ui.print_view(&v);
    } else {
        let lines: Vec<String> = slots.iter().map(|t| human_time_offset(*t)).collect();
        ui.print(&(lines.join("\n") + "\n"));
    }
    Ok(0)
}
