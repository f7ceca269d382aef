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

pub(crate) fn list(g: &Global, ui: &Ui) -> Result<u8> {
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

pub(crate) fn clean(
    g: &Global,
    ui: &Ui,
    older_than: Option<&str>,
    dry_run: bool,
    discard: bool,
) -> Result<u8> {
    let older_than = older_than
        .map(|d| parse_duration(d).map_err(|e| Error::Usage(format!("--older-than: {e}"))))
        .transpose()?;
    let mut e = super::engine(g)?;
    let opts = cleanup::CleanOptions {
        older_than,
        dry_run,
        discard,
    };
    let done = cleanup::clean(&mut e, opts)?;
    if ui.json {
        ui.print_view(&done);
    } else if done.is_empty() {
        ui.print("nothing to remove");
    } else {
        let text: String = done.iter().map(|c| said(c, dry_run) + "\n").collect();
        ui.print(&text);
    }
    Ok(if done.iter().any(|c| c.error.is_some()) {
        1
    } else {
        0
    })
}

/// `N files: a, b, c` (the first few).
fn files(paths: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = format!(
        "{} file{}: {}",
        paths.len(),
        if paths.len() == 1 { "" } else { "s" },
        paths[..paths.len().min(SHOWN)].join(", ")
    );
    if paths.len() > SHOWN {
        s.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    s
}

/// One line of what `clean` did (or would do) with one worktree.
fn said(c: &cleanup::Cleaned, dry_run: bool) -> String {
    let at = format!("{} (run {})", c.path, c.run_id);
    if let Some(err) = &c.error {
        return format!("kept {at}: {err}");
    }
    let work = match (&c.rescue_branch, c.discarded) {
        (_, true) if dry_run => format!(
            ", throwing away uncommitted changes to {}",
            files(&c.uncommitted)
        ),
        (_, true) => format!(
            "; discarded uncommitted changes to {}",
            files(&c.uncommitted)
        ),
        (Some(b), _) if dry_run => format!(
            ", committing its uncommitted work ({}) to branch {b} first",
            files(&c.uncommitted)
        ),
        (Some(b), _) => {
            let pushed = match (&c.pushed_to, &c.push_error) {
                (Some(r), _) => format!(", pushed to {r}"),
                (None, Some(why)) => format!(" (not pushed: {why})"),
                (None, None) => String::new(),
            };
            format!(
                "; its uncommitted work ({}) was committed to branch {b}{pushed}",
                files(&c.uncommitted)
            )
        }
        (None, _) => String::new(),
    };
    if dry_run {
        return format!("would remove {at}{work}");
    }
    let mut s = format!("removed {at}{work}");
    for b in &c.restored {
        s.push_str(&format!(
            "; branch {b} set at the run's last commit (its job had moved or deleted it)"
        ));
    }
    if c.branch_kept {
        s.push_str(&format!(
            "; branch {} stays (its commits are on no remote)",
            c.branch
        ));
    }
    s
}
