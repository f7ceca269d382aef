//! What is left to do once a run is recorded `lost` ([`super::recovery`]): sizing the
//! worktree it left (kept), and its `post_run` and `on_failure` hooks. None of it runs in
//! the command that found the run: that is any command that reads runs (`list`,
//! `status`, a GET of the API), and it answers at once, however long a hook hangs or a
//! worktree is to walk.
//!
//! The command that closed the run starts a detached `jobctl after-lost RUN_ID`, in a
//! session of its own, which does the rest. A process, not a thread of the closer: a
//! command line read exits right after answering, and a server may be stopped while a
//! hook runs; the detached process outlives both. Exactly once: only the command whose
//! `finish_run` closed the run (the store closes a run once) starts it, and it does
//! nothing for a run whose closing hooks are recorded already.

use super::Engine;
use super::workspace::left;
use crate::core::error::Result;
use crate::core::run::{RunRecord, RunStatus};
use crate::core::workspace::HookName;

/// Whether `run`, just closed `lost`, has something left to do: a hook of its job that
/// follows a lost run, or a kept worktree of this host still to size.
fn owed(e: &Engine<'_>, run: &RunRecord) -> bool {
    let hooks = e
        .cfg
        .jobs
        .get(&run.job)
        .and_then(|j| j.hooks.as_deref())
        .is_some_and(|h| {
            super::hooks::after(RunStatus::Lost)
                .into_iter()
                .any(|n| h.get(n).is_some())
        });
    hooks || left::unsized_left_behind(e, run).is_some()
}

/// Hands what is left of the lost run `run` to a detached `jobctl after-lost`. Should it
/// not start, the work is done here after all: late is better than never.
pub(crate) fn hand_off(e: &mut Engine<'_>, run: &RunRecord) {
    if !owed(e, run) {
        return;
    }
    match super::launch::spawn_after_lost(e.cfg, e.state_dir(), run.id) {
        Ok(pid) => tracing::debug!(
            run = run.id,
            pid,
            "finishing the lost run in the background"
        ),
        Err(err) => {
            tracing::warn!(run = run.id, "{err}; finishing the lost run here");
            if let Err(err) = finish(e, run.id) {
                tracing::warn!(run = run.id, "can't finish the lost run: {err}");
            }
        }
    }
}

/// Finishes the lost run `id` (`jobctl after-lost`): sizes its kept worktree, runs its
/// hooks (their output appended to its log) and records them with the run.
pub(crate) fn finish(e: &mut Engine<'_>, id: i64) -> Result<()> {
    let Some(run) = e.store.get_run(id)? else {
        return Ok(());
    };
    if run.status != RunStatus::Lost
        || run
            .hooks
            .iter()
            .any(|h| matches!(h.hook, HookName::PostRun | HookName::OnFailure))
    {
        return Ok(()); // not lost, or finished already
    }
    if let Err(err) = left::size_left_behind(e, &run) {
        tracing::warn!(run = id, "can't size the worktree the lost run left: {err}");
    }
    let hooks = super::hooks::run_after_close(e.cfg, &mut *e.store, &run, RunStatus::Lost);
    if !hooks.is_empty() {
        e.store.add_run_hooks(id, &hooks)?;
    }
    Ok(())
}
