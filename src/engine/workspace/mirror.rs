//! The local copy of a repository given by URL: a bare repository in `STATE_DIR/repos/`,
//! cloned once and fetched before each run, that the runs' worktrees are made from.
//!
//! It is a plain bare repository with `REMOTE` as its remote and remote-tracking refs
//! (`refs/remotes/REMOTE/*`), not a `--mirror` clone: a push from a run's worktree must
//! push that run's branch, never every ref. It is made in a temporary directory and
//! renamed into place, so a crash mid-clone leaves nothing another run would trust.

use std::path::{Path, PathBuf};

use super::git::{Git, GitError};
use super::lock::key;

/// The mirror of `url` under `repos_dir` (its lock is the caller's to hold).
pub(crate) fn path(repos_dir: &Path, url: &str) -> PathBuf {
    repos_dir.join(format!("{}.git", key(url)))
}

/// Makes sure the mirror of `url` exists; returns its path and whether it was just made
/// (and so is already fetched).
pub(crate) fn ensure(
    git: &Git,
    repos_dir: &Path,
    url: &str,
    remote: &str,
) -> Result<(PathBuf, bool), GitError> {
    let dir = path(repos_dir, url);
    if dir.join("HEAD").is_file() {
        return Ok((dir, false));
    }
    let tmp = repos_dir.join(format!(".new-{}-{}", key(url), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let made = (|| {
        git.ok(
            repos_dir,
            &["init", "--quiet", "--bare", &tmp.display().to_string()],
        )?;
        git.ok(&tmp, &["remote", "add", "--", remote, url])?;
        git.ok(&tmp, &["fetch", "--quiet", "--no-tags", "--", remote])?;
        // Which branch the remote calls its default (refs/remotes/REMOTE/HEAD).
        let _ = git.ok(&tmp, &["remote", "set-head", remote, "--auto"]);
        Ok(())
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        GitError::Spawn(format!(
            "can't move the new mirror to {}: {e}",
            dir.display()
        ))
    })?;
    Ok((dir, true))
}
