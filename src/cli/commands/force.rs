//! `jobctl force NAME`: run a job now, in the foreground, output streamed, its result as
//! the exit code. Due or not, enabled or not, paused or not; the schedule doesn't move.

use std::io::Write;

use crate::cli::args::Global;
use crate::cli::output::{Ui, end_line};
use crate::core::error::{Result, exit_code_of_run};
use crate::engine::supervise;
use crate::engine::views::RunView;
use crate::exec::{echo, process::Echo, signal};

pub(crate) fn execute(g: &Global, ui: &Ui, name: &str) -> Result<u8> {
    let mut e = super::engine(g)?;
    e.cfg.job(name)?;
    super::warn_if_root(e.cfg);
    let to = if ui.json { Echo::Stderr } else { Echo::Stdout };
    let done = supervise::force(&mut e, name, to);
    // What is still queued for the terminal comes before the end line.
    echo::finish();
    let done = done?;
    let r = &done.record;
    if ui.json {
        ui.print_view(&RunView::from(r));
    } else if !ui.quiet {
        // Not eprintln: after a hang-up stderr may be gone, and that is no reason to panic.
        let _ = writeln!(std::io::stderr(), "{}", end_line(r));
    }
    Ok(match done.interrupted {
        Some(sig) => signal::interrupted_exit(sig),
        None => exit_code_of_run(r.status, r.exit_code, r.signal),
    })
}
