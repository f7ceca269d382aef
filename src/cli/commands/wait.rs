//! `jobctl wait RUN_ID…`: wait for runs to end (`engine::submit::wait_until`), a line on
//! stderr for each as it ends, and exit as `force` would: 0 when every run succeeded,
//! else the code of the first run, in the order given, that did not. It waits only:
//! the runs are not its own, and an interrupted `wait` leaves them as they are.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::cli::args::Global;
use crate::cli::output::{Ui, end_line};
use crate::core::error::{Error, Result, code, exit_code_of_run};
use crate::engine::submit;
use crate::engine::views::RunView;

/// How long one look at the runs lasts before those that ended are reported.
const LOOK: Duration = Duration::from_millis(200);

pub(crate) fn execute(g: &Global, ui: &Ui, ids: &[i64]) -> Result<u8> {
    let mut e = super::engine(g)?;
    e.recover()?;
    for &id in ids {
        if e.store.get_run(id)?.is_none() {
            return Err(Error::NotFound(format!("no run {id} in the history")));
        }
    }
    let mut ended = vec![None; ids.len()];
    let mut pending: Vec<usize> = (0..ids.len()).collect();
    while !pending.is_empty() {
        let looking: Vec<i64> = pending.iter().map(|&i| ids[i]).collect();
        let runs = submit::wait_until(&mut e, &looking, Some(Instant::now() + LOOK), &|| false)?;
        let mut still = Vec::new();
        for (i, r) in pending.into_iter().zip(runs) {
            if !r.status.is_end() {
                still.push(i);
                continue;
            }
            if !ui.json && !ui.quiet {
                // Not eprintln: after a hang-up stderr may be gone, and that is no reason to panic.
                let _ = writeln!(std::io::stderr(), "{}", end_line(&r));
            }
            ended[i] = Some(r);
        }
        pending = still;
    }
    let runs: Vec<_> = ended.into_iter().flatten().collect();
    if ui.json {
        let views: Vec<RunView> = runs.iter().map(RunView::from).collect();
        ui.print_view(&views);
    }
    Ok(runs
        .iter()
        .map(|r| exit_code_of_run(r.status, r.exit_code, r.signal))
        .find(|&c| c != code::OK)
        .unwrap_or(code::OK))
}
