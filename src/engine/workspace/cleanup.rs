//! Kept worktrees: listing them (`jobctl workspaces`), removing them on demand
//! (`workspaces clean`) and by age and size (the tick), and marking the one a crashed
//! run left behind as kept (recovery), sized afterwards (`engine::after_lost`). Parked
//! worktrees ([`super::pool`]) go by age too.
//!
//! Removing a worktree never loses work silently: what it holds uncommitted is committed
//! to the rescue branch `jobctl/rescue/RUN_ID` first and pushed when the job has a remote
//! ([`super::rescue`]; a worktree whose work can't be committed is left in place), unless
//! `--discard` says to throw it away, which is then said file by file. The run's commits
//! stay on its branch, deleted only when every commit on it is also on a remote or in the
//! base ([`super::remove`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::rescue::{self, Pushed};
use super::{Git, changes, lock, remove};
use crate::config::Config;
use crate::core::clock::{self, rfc3339, to_ms};
use crate::core::error::Result;
use crate::core::run::{EventKind, RunRecord};
use crate::core::workspace::{WorkspaceInfo, render_template};
use crate::engine::Engine;
use crate::store::Store;

/// How long one removal may take (a big worktree on a slow disk).
pub(super) const REMOVE_DEADLINE: Duration = Duration::from_secs(120);

/// One worktree on disk, as `jobctl workspaces` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WorkspaceRow {
    pub(crate) run_id: i64,
    pub(crate) job: String,
    pub(crate) branch: String,
    pub(crate) path: String,
    pub(crate) repo: String,
    /// When its run ended (started, while it runs).
    pub(crate) since: String,
    pub(crate) age_ms: i64,
    pub(crate) bytes: Option<u64>,
    pub(crate) pushed: bool,
    /// Kept after its run (false: its run is still running in it).
    pub(crate) kept: bool,
    pub(crate) running: bool,
    /// The host whose disk it is on (several hosts sharing the state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) host: Option<String>,
}

fn row(r: &RunRecord, ws: &WorkspaceInfo, now: i64) -> WorkspaceRow {
    let since = r.ended_at.unwrap_or(r.started_at);
    WorkspaceRow {
        run_id: r.id,
        job: r.job.clone(),
        branch: ws.branch.clone(),
        path: ws.path.clone(),
        repo: ws.repo.clone(),
        since: rfc3339(since),
        age_ms: (now - since).max(0),
        bytes: ws.bytes,
        pushed: ws.pushed,
        kept: ws.kept,
        running: !r.status.is_end(),
        host: r.host.clone(),
    }
}

/// Every worktree on disk, oldest run first.
pub(crate) fn list(e: &mut Engine<'_>) -> Result<Vec<WorkspaceRow>> {
    e.recover()?;
    let now = to_ms(clock::real_now());
    Ok(e.store
        .runs_with_worktree()?
        .iter()
        .filter_map(|r| r.workspace.as_ref().map(|ws| row(r, ws, now)))
        .collect())
}

/// Whether `run` ran on this host, whose disk holds its worktree (always, where one host
/// keeps the state).
pub(crate) fn here(e: &Engine<'_>, run: &RunRecord) -> bool {
    run.host.is_none() || run.host == e.host
}

/// Why a worktree is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Why {
    /// Older than `workspace_max_age` (or `--older-than`).
    Age,
    /// The kept worktrees together passed `workspace_max_bytes`.
    Size,
}

/// A kept worktree as the cleanup rules see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kept {
    pub(crate) run_id: i64,
    /// When its run ended (ms).
    pub(crate) since: i64,
    pub(crate) bytes: u64,
}

/// Which kept worktrees to remove, oldest first: those older than `max_age`, then, of
/// the rest, the oldest until the others fit in `max_bytes`.
pub(crate) fn choose(
    kept: &[Kept],
    now: i64,
    max_age: Duration,
    max_bytes: Option<u64>,
) -> Vec<(i64, Why)> {
    let mut sorted = kept.to_vec();
    sorted.sort_by_key(|k| (k.since, k.run_id));
    let cutoff = now - max_age.as_millis().min(i64::MAX as u128) as i64;
    let mut out = Vec::new();
    let mut rest = Vec::new();
    for k in sorted {
        if k.since <= cutoff {
            out.push((k.run_id, Why::Age));
        } else {
            rest.push(k);
        }
    }
    if let Some(max) = max_bytes {
        let mut total: u64 = rest.iter().map(|k| k.bytes).sum();
        for k in rest {
            if total <= max {
                break;
            }
            total -= k.bytes;
            out.push((k.run_id, Why::Size));
        }
    }
    out
}

/// One worktree `clean` removed (or would remove).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Cleaned {
    pub(crate) run_id: i64,
    pub(crate) job: String,
    pub(crate) path: String,
    pub(crate) branch: String,
    pub(crate) why: Why,
    /// The branch stays in the repository (its commits are on no remote).
    pub(crate) branch_kept: bool,
    /// The files it held uncommitted changes to (untracked ones included).
    pub(crate) uncommitted: Vec<String>,
    /// Where they were committed first (`jobctl/rescue/RUN_ID`); with `--dry-run`, where
    /// they would be.
    pub(crate) rescue_branch: Option<String>,
    /// The remote the rescue branch was pushed to.
    pub(crate) pushed_to: Option<String>,
    /// Why it was not pushed, when the repository has a remote and the push failed, or
    /// has no such remote.
    pub(crate) push_error: Option<String>,
    /// They were committed (to `rescue_branch`).
    pub(crate) committed: bool,
    /// The uncommitted changes were thrown away (`--discard`).
    pub(crate) discarded: bool,
    /// Branches set at the run's last commit, which the job had deleted or moved.
    pub(crate) restored: Vec<String>,
    /// Not removed, and why (its work could not be saved, git failed).
    pub(crate) error: Option<String>,
}

/// How `workspaces clean` goes about it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CleanOptions {
    /// Only worktrees whose run ended longer ago than this (all without it).
    pub(crate) older_than: Option<Duration>,
    /// Say what would be done; do nothing.
    pub(crate) dry_run: bool,
    /// Throw uncommitted work away instead of committing it to a rescue branch.
    pub(crate) discard: bool,
}

/// `jobctl workspaces clean`: removes kept worktrees, saving or (`discard`) throwing away
/// what they hold uncommitted.
pub(crate) fn clean(e: &mut Engine<'_>, opts: CleanOptions) -> Result<Vec<Cleaned>> {
    e.recover()?;
    let deadline = Instant::now() + REMOVE_DEADLINE;
    let repos = super::repos_dir(e.state_dir());
    let _guard =
        lock::lock(&repos, "cleanup", deadline).map_err(crate::core::error::Error::State)?;
    let age = opts.older_than.unwrap_or(Duration::ZERO);
    let dry_run = opts.dry_run;
    let done = sweep(e, age, None, opts)?;
    if !dry_run {
        drain_pools(e.cfg, &repos, age)?;
    }
    Ok(done)
}

/// Removes parked worktrees ([`super::pool`]) idle longer than `max_age`.
fn drain_pools(cfg: &Config, repos: &Path, max_age: Duration) -> Result<()> {
    let pools = cfg.runner.workspace_dir.join(".pool");
    let Ok(dirs) = std::fs::read_dir(&pools) else {
        return Ok(()); // none yet
    };
    let now = to_ms(clock::now()?);
    let cutoff = now - max_age.as_millis().min(i64::MAX as u128) as i64;
    let git = Git::new(
        &cfg.runner.git,
        crate::engine::env::base_env_plain(cfg),
        Instant::now() + REMOVE_DEADLINE,
    );
    for pool in dirs.flatten().map(|d| d.path()) {
        for entry in super::pool::entries(&pool) {
            if super::pool::parked_at(&entry).is_some_and(|t| t > cutoff) {
                continue;
            }
            match git_dir_of(&git, &entry) {
                Ok(git_dir) => {
                    let key = git_dir.display().to_string();
                    if let Ok(_lock) = lock::lock(repos, &key, git.deadline()) {
                        super::pool::discard(&git, &git_dir, &entry);
                    }
                }
                Err(_) => {
                    let _ = std::fs::remove_dir_all(&entry);
                }
            }
        }
    }
    Ok(())
}

/// The tick's cleanup, after it started its runs: kept worktrees past
/// `workspace_max_age`, then past `workspace_max_bytes`. Best effort: a problem is
/// logged, never a reason to fail the tick; another process cleaning means skip.
pub(crate) fn on_tick(e: &mut Engine<'_>) {
    // No workspace was ever made here: nothing to look up (the idle tick stays as cheap).
    if !e.cfg.runner.workspace_dir.is_dir() {
        return;
    }
    let any = match e.store.runs_with_worktree() {
        Ok(runs) => runs.iter().any(|r| r.status.is_end() && here(e, r)),
        Err(err) => {
            tracing::warn!("can't list kept worktrees: {err}");
            return;
        }
    };
    let parked = e.cfg.runner.workspace_dir.join(".pool").is_dir();
    if !any && !parked {
        return;
    }
    let repos = super::repos_dir(e.state_dir());
    let Ok(_guard) = lock::lock(&repos, "cleanup", Instant::now()) else {
        return;
    };
    let (age, bytes) = (
        e.cfg.runner.workspace_max_age,
        e.cfg.runner.workspace_max_bytes,
    );
    if parked && let Err(err) = drain_pools(e.cfg, &repos, age) {
        tracing::warn!("workspace cleanup: {err}");
    }
    match sweep(e, age, Some(bytes), CleanOptions::default()) {
        Ok(done) => {
            for c in done {
                if let Some(b) = c.rescue_branch.as_deref().filter(|_| c.committed) {
                    tracing::info!(
                        run = c.run_id,
                        "committed the uncommitted work of {} to branch {b}",
                        c.path
                    );
                }
                match &c.error {
                    None => tracing::info!(run = c.run_id, "removed the kept worktree {}", c.path),
                    Some(why) => {
                        tracing::warn!(run = c.run_id, "kept worktree {} stays: {why}", c.path)
                    }
                }
            }
        }
        Err(err) => tracing::warn!("workspace cleanup: {err}"),
    }
}

fn sweep(
    e: &mut Engine<'_>,
    max_age: Duration,
    max_bytes: Option<u64>,
    opts: CleanOptions,
) -> Result<Vec<Cleaned>> {
    // Ages are judged against "now" as schedules are (`JOBCTL_NOW` for what-if checks).
    let now = to_ms(clock::now()?);
    let runs: Vec<RunRecord> = e
        .store
        .runs_with_worktree()?
        .into_iter()
        .filter(|r| r.status.is_end() && r.workspace.is_some() && here(e, r))
        .collect();
    let kept: Vec<Kept> = runs
        .iter()
        .map(|r| Kept {
            run_id: r.id,
            since: r.ended_at.unwrap_or(r.started_at),
            bytes: r.workspace.as_ref().and_then(|w| w.bytes).unwrap_or(0),
        })
        .collect();
    let mut out = Vec::new();
    for (id, why) in choose(&kept, now, max_age, max_bytes) {
        let Some(run) = runs.iter().find(|r| r.id == id) else {
            continue;
        };
        let ws = run.workspace.clone().unwrap_or_default();
        let mut done = Cleaned {
            run_id: id,
            job: run.job.clone(),
            path: ws.path.clone(),
            branch: ws.branch.clone(),
            why,
            branch_kept: false,
            uncommitted: Vec::new(),
            rescue_branch: None,
            pushed_to: None,
            push_error: None,
            committed: false,
            discarded: false,
            restored: Vec::new(),
            error: None,
        };
        let done = match remove_kept(e.cfg, &mut *e.store, run, &ws, opts, &mut done) {
            Ok(()) => done,
            Err(why) => Cleaned {
                error: Some(why),
                ..done
            },
        };
        out.push(done);
    }
    Ok(out)
}

/// Removes the kept worktree of `run` for good (with `opts.dry_run`, only says what it
/// holds uncommitted), committing that to the run's rescue branch first, or throwing it
/// away (`opts.discard`); records it removed. `done` is told what happened.
fn remove_kept(
    cfg: &Config,
    store: &mut dyn Store,
    run: &RunRecord,
    ws: &WorkspaceInfo,
    opts: CleanOptions,
    done: &mut Cleaned,
) -> std::result::Result<(), String> {
    let dir = PathBuf::from(&ws.path);
    let git = Git::new(
        &cfg.runner.git,
        crate::engine::env::base_env_plain(cfg),
        Instant::now() + REMOVE_DEADLINE,
    );
    let mut fate = super::BranchFate::Deleted;
    let mut info = ws.clone();
    if dir.is_dir() {
        done.uncommitted = rescue::uncommitted(&git, &dir)
            .map_err(|e| format!("can't tell what it holds uncommitted, so it stays: {e}"))?;
        let has_work = !done.uncommitted.is_empty();
        done.discarded = has_work && opts.discard;
        if has_work && !opts.discard {
            done.rescue_branch = Some(rescue::branch_name(run.id));
        }
        if opts.dry_run {
            return Ok(());
        }
        let git_dir = git_dir_of(&git, &dir)?;
        let ws_cfg = cfg.jobs.get(&run.job).and_then(|j| j.workspace.as_deref());
        if done.rescue_branch.is_some() {
            let branch = rescue_commit(cfg, &git, &dir, run, ws_cfg)?;
            done.committed = true;
            let remote = ws_cfg.map_or("origin", |w| w.remote.as_str());
            match rescue::push_if_remote(&git, &git_dir, &branch, remote) {
                Pushed::To(r) => done.pushed_to = Some(r),
                Pushed::NoRemote(r) => {
                    done.push_error = Some(format!("the repository has no remote {r:?}"))
                }
                Pushed::Failed(why) => done.push_error = Some(why),
            }
            info.rescue_branch = Some(branch);
        }
        let repos = super::repos_dir(store.dir());
        let removed = remove(&git, &repos, &git_dir, &dir, (run.id, ws), None)?;
        fate = removed.fate;
        done.restored = removed.restored;
    } else if opts.dry_run {
        return Ok(());
    }
    done.branch_kept = fate == super::BranchFate::Kept;
    info.kept = false;
    info.removed_at = Some(to_ms(clock::real_now()));
    store
        .set_run_workspace(run.id, &info, false)
        .map_err(|e| e.to_string())?;
    let _ = store.append_event(
        to_ms(clock::real_now()),
        EventKind::WorkspaceRemoved,
        Some(&run.job),
        Some(run.id),
        &serde_json::json!({
            "path": ws.path, "branch": ws.branch, "branch_kept": done.branch_kept,
            "rescue_branch": info.rescue_branch, "pushed_to": done.pushed_to,
            "discarded": if done.discarded { &done.uncommitted[..] } else { &[] },
            "restored": done.restored,
        }),
    );
    Ok(())
}

/// Commits what the kept worktree `dir` of `run` holds uncommitted to its rescue branch;
/// returns the branch.
fn rescue_commit(
    cfg: &Config,
    git: &Git,
    dir: &Path,
    run: &RunRecord,
    ws: Option<&crate::config::Workspace>,
) -> std::result::Result<String, String> {
    let message = render_template(
        ws.map_or(crate::config::DEFAULT_COMMIT_MESSAGE, |w| &w.commit_message),
        &run.job,
        run.id,
        &clock::from_ms(run.started_at)
            .to_zoned(clock::local_zone())
            .strftime("%Y%m%d")
            .to_string(),
    );
    let message = format!("{message} (uncommitted work rescued by cleanup)");
    let author = cfg.runner.git_author.as_ref().map(|a| changes::Author {
        name: &a.name,
        email: &a.email,
    });
    rescue::commit_to_rescue(git, dir, run.id, &message, author)
        .map_err(|e| format!("its uncommitted work is not saved, so it stays: {e}"))
}

/// The git directory of the repository a worktree belongs to.
fn git_dir_of(git: &Git, wt: &Path) -> std::result::Result<PathBuf, String> {
    let common = git
        .text(wt, &["rev-parse", "--git-common-dir"])
        .map_err(|e| format!("{} is not a git worktree any more: {e}", wt.display()))?;
    wt.join(common)
        .canonicalize()
        .map_err(|e| format!("can't resolve the git directory of {}: {e}", wt.display()))
}

#[cfg(test)]
mod tests;
