//! Keeping a run's work on a branch when its worktree goes.
//!
//! A worktree can hold work that removing it would lose in two ways: changes left
//! uncommitted, and commits no branch holds (the job deleted or moved its own branch).
//! The first are committed to a rescue branch, `jobctl/rescue/RUN_ID` ([`commit_to_rescue`]),
//! without touching the worktree, its index or the run's branch, and pushed when the job's
//! repository has its remote ([`push_if_remote`]). For the second the run's branch is put
//! back at the run's last commit, or, where the branch now holds other commits, the rescue
//! branch is made there ([`keep_reachable`]). Either runs before a worktree is parked for
//! the next run or removed.

use std::path::Path;

use super::changes::{self, Author, CollectError};
use super::git::{Git, GitError};

/// The rescue branch of run `run_id`.
pub(crate) fn branch_name(run_id: i64) -> String {
    format!("jobctl/rescue/{run_id}")
}

/// The files worktree `wt` holds uncommitted changes to (untracked ones included, ignored
/// ones not), as git's status lists them.
pub(crate) fn uncommitted(git: &Git, wt: &Path) -> Result<Vec<String>, GitError> {
    let out = git.ok(
        wt,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
        ],
    )?;
    Ok(out
        .split(|b| *b == 0)
        .filter(|e| e.len() > 3)
        .map(|e| String::from_utf8_lossy(&e[3..]).into_owned())
        .collect())
}

/// Commits everything `wt` holds uncommitted (what `add --all` stages, in a copy of its
/// index) on top of its HEAD as branch `jobctl/rescue/RUN_ID`; returns the branch. A rescue
/// branch already holding exactly that work (an earlier attempt) is taken as it is.
pub(crate) fn commit_to_rescue(
    git: &Git,
    wt: &Path,
    run_id: i64,
    message: &str,
    author: Option<Author<'_>>,
) -> Result<String, CollectError> {
    let branch = branch_name(run_id);
    let refname = format!("refs/heads/{branch}");
    let tree = changes::with_scratch_index(git, wt, |in_scratch| {
        let out = git.call(wt, &["write-tree"], in_scratch)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    })?;
    let there = format!("{refname}^{{tree}}");
    if let Ok(there) = git.text(wt, &["rev-parse", "--verify", "--quiet", &there]) {
        return if there == tree {
            Ok(branch)
        } else {
            Err(CollectError::BranchTaken(branch))
        };
    }
    let ident = changes::identity_args(author.as_ref());
    let mut args: Vec<&str> = ident.iter().map(String::as_str).collect();
    args.extend([
        "commit-tree",
        "--no-gpg-sign",
        "-p",
        "HEAD",
        "-m",
        message,
        &tree,
    ]);
    let commit = git.text(wt, &args).map_err(changes::commit_error)?;
    git.ok(
        wt,
        &[
            "update-ref",
            "-m",
            "jobctl: rescued uncommitted work",
            &refname,
            &commit,
            "",
        ],
    )?;
    Ok(branch)
}

/// What became of pushing a rescue branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Pushed to this remote.
    To(String),
    /// The repository has no such remote: the branch is only local.
    NoRemote(String),
    /// The push failed (git's words); the branch is still local.
    Failed(String),
}

/// Pushes `branch` of the repository at `git_dir` to `remote`, when it has that remote.
pub(crate) fn push_if_remote(git: &Git, git_dir: &Path, branch: &str, remote: &str) -> Pushed {
    let has = git
        .text(git_dir, &["remote"])
        .is_ok_and(|r| r.lines().any(|l| l == remote));
    if !has {
        return Pushed::NoRemote(remote.to_string());
    }
    let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
    match git.ok(git_dir, &["push", "--no-progress", "--", remote, &refspec]) {
        Ok(_) => Pushed::To(remote.to_string()),
        Err(e) => Pushed::Failed(e.to_string()),
    }
}

/// Makes sure `commit`, the last of run `run_id`, stays on a branch of the repository at
/// `git_dir`: on the run's `branch`, or its rescue branch. When neither holds it (the job
/// deleted its branch, or moved it), the run's branch is made again at it, or moved
/// forward to it; a branch that now holds commits of its own is left, and the rescue
/// branch is made at `commit` instead. Returns the branch it set, if it had to.
pub(crate) fn keep_reachable(
    git: &Git,
    git_dir: &Path,
    branch: &str,
    base_commit: &str,
    commit: &str,
    run_id: i64,
) -> Result<Option<String>, GitError> {
    let object = format!("{commit}^{{commit}}");
    if commit == base_commit
        || !git.succeeds(git_dir, &["rev-parse", "--verify", "--quiet", &object])?
    {
        return Ok(None); // nothing of the run's, or nothing left to keep
    }
    let run_ref = format!("refs/heads/{branch}");
    let rescue = branch_name(run_id);
    let rescue_ref = format!("refs/heads/{rescue}");
    let holders = git.text(
        git_dir,
        &[
            "for-each-ref",
            "--format=%(refname)",
            "--contains",
            commit,
            &run_ref,
            &rescue_ref,
        ],
    )?;
    if !holders.is_empty() {
        return Ok(None);
    }
    let why = "jobctl: the run's last commit, which its branch no longer held";
    let tip = match git.text(git_dir, &["rev-parse", "--verify", "--quiet", &run_ref]) {
        Ok(tip) => Some(tip),
        Err(GitError::Failed { .. }) => None,
        Err(e) => return Err(e),
    };
    let (target, old) = match &tip {
        None => (run_ref, String::new()),
        Some(tip) if git.succeeds(git_dir, &["merge-base", "--is-ancestor", tip, commit])? => {
            (run_ref, tip.clone())
        }
        Some(_) => (rescue_ref, String::new()),
    };
    git.ok(git_dir, &["update-ref", "-m", why, &target, commit, &old])?;
    Ok(Some(target.trim_start_matches("refs/heads/").to_string()))
}
