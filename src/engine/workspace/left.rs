//! The worktree a run closed without its supervisor left behind (a lost run, or jobctl
//! failing mid-run): kept, since it may hold the job's unsaved work, and sized later by
//! the process that finishes the lost run (`engine::after_lost`), never by recovery,
//! which may be a read that answers at once.

use std::path::Path;
use std::time::Instant;

use super::cleanup::{REMOVE_DEADLINE, here};
use super::lock;
use crate::core::error::Result;
use crate::core::run::RunRecord;
use crate::core::workspace::WorkspaceInfo;
use crate::engine::Engine;

/// A run closed without its supervisor (lost, or jobctl failed mid-run): its worktree, if
/// still on disk, is kept (it may hold the job's unsaved work), and sized when `sized`
/// (recovery leaves the walk over the worktree to the process that finishes a lost run:
/// it may be a read that answers at once). Returns the workspace to record, `None` when
/// the run had none. `here`: the run ran on this host; another host's worktree (several
/// hosts sharing the state) is on that host's disk, so it is recorded kept, for that
/// host to clean.
pub(crate) fn left_behind(run: &RunRecord, here: bool, sized: bool) -> Option<WorkspaceInfo> {
    let mut ws = run.workspace.clone()?;
    if !here {
        ws.kept = true;
    } else if Path::new(&ws.path).is_dir() {
        if sized {
            super::mark_kept(&mut ws);
        } else {
            ws.kept = true;
            ws.bytes = None;
        }
    } else {
        ws.kept = false;
    }
    Some(ws)
}

/// The kept worktree a lost run left on this host that has no size recorded yet
/// ([`left_behind`] without `sized`).
pub(crate) fn unsized_left_behind(e: &Engine<'_>, run: &RunRecord) -> Option<WorkspaceInfo> {
    run.workspace
        .clone()
        .filter(|w| w.kept && w.bytes.is_none())
        .filter(|w| here(e, run) && Path::new(&w.path).is_dir())
}

/// Records the size of the worktree a lost run left, unless it went meanwhile: the walk
/// runs unlocked, the record under the cleanup's lock once the worktree is found still
/// there, so a `workspaces clean` never sees its removal undone.
pub(crate) fn size_left_behind(e: &mut Engine<'_>, run: &RunRecord) -> Result<()> {
    let Some(mut ws) = unsized_left_behind(e, run) else {
        return Ok(());
    };
    super::mark_kept(&mut ws);
    let repos = super::repos_dir(e.state_dir());
    let _guard = lock::lock(&repos, "cleanup", Instant::now() + REMOVE_DEADLINE)
        .map_err(crate::core::error::Error::State)?;
    let still = e
        .store
        .get_run(run.id)?
        .and_then(|r| unsized_left_behind(e, &r));
    if still.is_some_and(|w| w.path == ws.path) {
        e.store.set_run_workspace(run.id, &ws, true)?;
    }
    Ok(())
}
