//! `jobctl workspaces`: the run worktrees on disk; `workspaces clean`: removing kept ones.

use crate::cli::args::Global;
use crate::cli::output::{Ui, human_duration};
use crate::cli::table::Cell;
use crate::core::error::{Error, Result};
use crate::core::units::parse_duration;
use crate::engine::workspace::cleanup;

/// `12.3 MiB`.
fn human_bytes(b: Option<u64>) -> String {
    let Some(b) = b else { return "-".into() };
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub fn list(g: &Global, ui: &Ui) -> Result<u8> {
    let mut e = super::engine(g)?;
    let rows = cleanup::list(&mut e)?;
    if ui.json {
        ui.print_view(&rows);
        return Ok(0);
    }
    if rows.is_empty() {
        ui.print("no run worktrees on disk");
        return Ok(0);
    }
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            vec![
                Cell::new(r.run_id),
                Cell::new(&r.job),
                Cell::new(&r.branch),
                Cell::new(human_duration(Some(r.age_ms))),
                Cell::new(human_bytes(r.bytes)),
                Cell::new(yes(r.pushed)),
                Cell::new(if r.running { "running" } else { yes(r.kept) }),
            ]
        })
        .collect();
    ui.print_table(
        &["RUN", "JOB", "BRANCH", "AGE", "SIZE", "PUSHED", "KEPT"],
        &cells,
    );
    Ok(0)
}

pub fn clean(g: &Global, ui: &Ui, older_than: Option<&str>, dry_run: bool) -> Result<u8> {
    let older_than = older_than
        .map(|d| parse_duration(d).map_err(|e| Error::Usage(format!("--older-than: {e}"))))
        .transpose()?;
    let mut e = super::engine(g)?;
    let done = cleanup::clean(&mut e, older_than, dry_run)?;
    if ui.json {
        ui.print_view(&done);
    } else if done.is_empty() {
        ui.print("nothing to remove");
    } else {
        let mut text = String::new();
        for c in &done {
            let what = match (&c.error, dry_run) {
                (Some(err), _) => format!("kept {} (run {}): {err}", c.path, c.run_id),
                (None, true) => format!("would remove {} (run {})", c.path, c.run_id),
                (None, false) => {
                    let mut s = format!("removed {} (run {})", c.path, c.run_id);
                    if c.committed {
                        s.push_str("; its uncommitted work was committed first");
                    }
                    if c.branch_kept {
                        s.push_str(&format!(
                            "; branch {} stays (its commits are on no remote)",
                            c.branch
                        ));
                    }
                    s
                }
            };
            text.push_str(&what);
            text.push('\n');
        }
        ui.print(&text);
    }
    Ok(if done.iter().any(|c| c.error.is_some()) {
        1
    } else {
        0
    })
}
