//! The end of a run's worktree: kept (and sized), parked for the next run, or removed,
//! and its branch deleted only when nothing on it would be lost.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Git, Prepared, lock, pool, rescue};
use crate::core::workspace::WorkspaceInfo;

/// At the end of the run: keeps the worktree (`keep`), or removes it, leaving its branch
/// when that holds commits found nowhere else. Updates and returns `p.info`.
pub fn release(p: &mut Prepared, keep: bool, note: &mut dyn FnMut(&str)) -> WorkspaceInfo {
    if keep {
        mark_kept(&mut p.info);
        note(&format!("workspace: kept {}", p.info.path));
        return p.info.clone();
    }
    let git = p.git.until(Instant::now() + Duration::from_secs(60));
    match remove(
        &git,
        &p.repos_dir,
        &p.git_dir,
        &p.dir,
        (p.run_id, &p.info),
        Some(&p.pool),
    ) {
        Ok(Removed { fate, restored }) => {
            p.info.kept = false;
            for b in restored {
                note(&format!(
                    "workspace: branch {b} set at the run's last commit (the job moved or deleted its branch)"
                ));
            }
            if fate == BranchFate::Kept {
                note(&format!(
                    "workspace: removed the worktree; branch {} stays (its commits are on no remote)",
                    p.info.branch
                ));
            }
        }
        Err(e) => {
            note(&format!("workspace: can't remove the worktree, kept: {e}"));
            mark_kept(&mut p.info);
        }
    }
    p.info.clone()
}

/// Notes that a worktree stays on disk, with its size.
pub fn mark_kept(info: &mut WorkspaceInfo) {
    info.kept = true;
    info.bytes = Some(disk_usage(Path::new(&info.path)));
}

/// What became of a removed worktree's branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchFate {
    /// Every commit on it is on a remote or in the base: deleted.
    Deleted,
    /// It holds commits found nowhere else: it stays in the repository.
    Kept,
}

/// What removing a worktree did besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Removed {
    pub(crate) fate: BranchFate,
    /// Branches set at the run's last commit, which no branch held any more.
    pub(crate) restored: Vec<String>,
}

/// Removes worktree `dir` of the repository at `git_dir` (under its lock), or parks it in
/// `pool` for the next run, and deletes its branch when nothing on it would be lost.
/// First the run's last commits (recorded, and the worktree's HEAD) are put on a branch
/// when the job deleted or moved its own ([`rescue::keep_reachable`]); when that fails,
/// the worktree stays.
pub(crate) fn remove(
    git: &Git,
    repos_dir: &Path,
    git_dir: &Path,
    dir: &Path,
    (run_id, info): (i64, &WorkspaceInfo),
    pool: Option<&Path>,
) -> Result<Removed, String> {
    let _lock = lock::lock(repos_dir, &git_dir.display().to_string(), git.deadline())?;
    let mut heads: Vec<String> = info.head_commit.iter().cloned().collect();
    if dir.is_dir()
        && let Ok(h) = git.text(dir, &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        && !heads.contains(&h)
    {
        heads.push(h);
    }
    let mut restored = Vec::new();
    for head in heads {
        let set =
            rescue::keep_reachable(git, git_dir, &info.branch, &info.base_commit, &head, run_id)
                .map_err(|e| format!("can't keep the run's commit {head} on a branch: {e}"))?;
        restored.extend(set);
    }
    let fate = remove_worktree(git, git_dir, dir, info, pool)?;
    Ok(Removed { fate, restored })
}

/// The removal itself: parked or removed, then the branch deleted or kept.
fn remove_worktree(
    git: &Git,
    git_dir: &Path,
    dir: &Path,
    info: &WorkspaceInfo,
    pool: Option<&Path>,
) -> Result<BranchFate, String> {
    let dir_s = dir.display().to_string();
    let parked = match pool {
        Some(p) if dir.is_dir() => pool::park(git, git_dir, dir, p).unwrap_or_else(|e| {
            tracing::debug!("not parking {dir_s}: {e}");
            false
        }),
        _ => false,
    };
    if !parked
        && let Err(e) = git.ok(
            git_dir,
            &["worktree", "remove", "--force", "--force", &dir_s],
        )
    {
        if dir.exists() {
            return Err(e.to_string());
        }
        // Already gone from disk: only git's record of it is left.
        let _ = git.ok(git_dir, &["worktree", "prune"]);
    }
    let branch = format!("refs/heads/{}", info.branch);
    if !git
        .succeeds(git_dir, &["rev-parse", "--verify", "--quiet", &branch])
        .map_err(|e| e.to_string())?
    {
        return Ok(BranchFate::Deleted); // the job deleted it itself
    }
    let unique = git
        .text(
            git_dir,
            &[
                "rev-list",
                "-n",
                "1",
                &branch,
                "--not",
                "--remotes",
                &info.base_commit,
            ],
        )
        .map_err(|e| e.to_string())?;
    if !unique.is_empty() {
        return Ok(BranchFate::Kept);
    }
    git.ok(git_dir, &["branch", "--quiet", "-D", &info.branch])
        .map_err(|e| e.to_string())?;
    Ok(BranchFate::Deleted)
}

/// Bytes a directory tree takes on disk (allocated blocks; symlinks not followed).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(m) = entry.metadata() else { continue };
            total += m.blocks() * 512;
            if m.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}
