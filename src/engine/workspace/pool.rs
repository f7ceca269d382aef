//! Warm worktrees: a worktree whose run is over and whose work is saved (committed, and
//! pushed or kept on its branch) is cleaned and parked instead of deleted, and the next
//! run on the same repository takes it instead of checking every file out again.
//!
//! Checking out is most of a worktree's cost (20,000 files written, then stat'ed for the
//! index); taking a parked one is a rename and a switch that rewrites only the files that
//! differ between its commit and the new base. A parked worktree is exactly a fresh one:
//! detached, reset to its commit, and `git clean -ffdx`'d (no untracked or ignored file
//! of the previous run is left, its included files neither). At most [`POOL_MAX`] wait per
//! repository, in `WORKSPACE_DIR/.pool/REPO/`; the tick removes those idle longer than
//! `workspace_max_age`, `jobctl workspaces clean` all of them.
//!
//! Both ends run under the repository's lock. A crash in between leaves either a worktree
//! at its run's path (found and kept by recovery, like any) or a complete parked one.

use std::path::{Path, PathBuf};

use super::git::Git;
use super::lock::key;

/// Parked worktrees kept per repository.
pub(crate) const POOL_MAX: usize = 2;

/// The pool of the repository whose git directory is `git_dir`.
pub(crate) fn dir(workspace_dir: &Path, git_dir: &Path) -> PathBuf {
    workspace_dir
        .join(".pool")
        .join(key(&git_dir.display().to_string()))
}

/// The parked worktrees of a pool, newest first.
pub(crate) fn entries(pool: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(pool)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v.reverse();
    v
}

/// Cleans worktree `wt` and parks it in `pool` (the caller holds the repository's lock),
/// unless the pool is full. On `Ok(true)` the worktree is detached, so its branch can be
/// deleted; on `Ok(false)` or an error it is where it was.
pub(crate) fn park(git: &Git, git_dir: &Path, wt: &Path, pool: &Path) -> Result<bool, String> {
    if entries(pool).len() >= POOL_MAX {
        return Ok(false);
    }
    let e = |e: super::git::GitError| e.to_string();
    git.ok(wt, &["checkout", "--quiet", "--detach"])
        .map_err(e)?;
    git.ok(wt, &["reset", "--quiet", "--hard"]).map_err(e)?;
    git.ok(wt, &["clean", "-ffdxq"]).map_err(e)?;
    std::fs::create_dir_all(pool)
        .map_err(|err| format!("can't create {}: {err}", pool.display()))?;
    // Named by when it was parked, so newest first is a sort, and unique per run.
    let name = format!(
        "{:013}-{}",
        crate::core::clock::to_ms(crate::core::clock::real_now()),
        wt.file_name().and_then(|n| n.to_str()).unwrap_or("wt")
    );
    let to = pool.join(name);
    git.ok(
        git_dir,
        &[
            "worktree",
            "move",
            &wt.display().to_string(),
            &to.display().to_string(),
        ],
    )
    .map_err(e)?;
    Ok(true)
}

/// Takes a parked worktree from `pool` to `dest`, on a new `branch` at `base_commit`
/// (the caller holds the repository's lock). `false`: none could be taken (the pool is
/// empty, or what was in it did not work and was removed): make one.
pub(crate) fn take(
    git: &Git,
    git_dir: &Path,
    pool: &Path,
    dest: &Path,
    branch: &str,
    base_commit: &str,
) -> bool {
    let dest_s = dest.display().to_string();
    for entry in entries(pool) {
        let moved = git.ok(
            git_dir,
            &["worktree", "move", &entry.display().to_string(), &dest_s],
        );
        if moved.is_err() {
            discard(git, git_dir, &entry);
            continue;
        }
        let switched = git.ok(
            dest,
            &[
                "switch",
                "--quiet",
                "--no-guess",
                "--discard-changes",
                "-c",
                branch,
                base_commit,
            ],
        );
        if switched.is_ok() {
            return true;
        }
        discard(git, git_dir, dest);
        return false;
    }
    false
}

/// Removes a parked (or half-taken) worktree for good.
pub(crate) fn discard(git: &Git, git_dir: &Path, wt: &Path) {
    let _ = git.ok(
        git_dir,
        &[
            "worktree",
            "remove",
            "--force",
            "--force",
            &wt.display().to_string(),
        ],
    );
    if wt.exists() {
        let _ = std::fs::remove_dir_all(wt);
        let _ = git.ok(git_dir, &["worktree", "prune"]);
    }
}

/// The age of a parked worktree (ms since it was parked), from its name.
pub(crate) fn parked_at(entry: &Path) -> Option<i64> {
    entry.file_name()?.to_str()?.split('-').next()?.parse().ok()
}
