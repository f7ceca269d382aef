//! `jobctl history [NAME]`: the latest runs, newest first; `--tree` draws each sub-run
//! under the run that submitted it.

use comfy_table::Cell;

use crate::cli::args::Global;
use crate::cli::output::{Ui, human_duration, human_time};
use crate::core::error::Result;
use crate::engine::views::{self, RunView};

pub fn execute(g: &Global, ui: &Ui, name: Option<&str>, n: usize, tree: bool) -> Result<u8> {
    let mut e = super::engine(g)?;
    let runs = views::history(&mut e, name, n)?;
    if ui.json {
        let rows: Vec<RunView> = runs.iter().map(RunView::from).collect();
        ui.print_view(&rows);
        return Ok(0);
    }
    let mut t = ui.table(&[
        "RUN", "JOB", "STARTED", "DURATION", "STATUS", "EXIT", "AGENT", "ROLE",
    ]);
    let lines: Vec<(usize, &crate::core::run::RunRecord)> = if tree {
        crate::engine::tree::layout(&runs)
            .into_iter()
            .map(|l| (l.level, l.run))
            .collect()
    } else {
        runs.iter().map(|r| (0, r)).collect()
    };
    for (level, r) in lines {
        let job = if level == 0 {
            r.job.clone()
        } else {
            format!("{}└ {}", "  ".repeat(level - 1), r.job)
        };
        let exit = match (r.exit_code, r.signal) {
            (Some(c), _) => c.to_string(),
            (None, Some(s)) => format!("sig {s}"),
            _ => "-".into(),
        };
        t.add_row(vec![
            Cell::new(r.id),
            Cell::new(job),
            Cell::new(human_time(r.started_at)),
            Cell::new(human_duration(r.duration_ms)),
            ui.status_cell(r.status),
            Cell::new(exit),
            Cell::new(r.agent.as_deref().unwrap_or("-")),
            Cell::new(r.role.as_deref().unwrap_or("-")),
        ]);
    }
    ui.print_table(&t);
    Ok(0)
}
