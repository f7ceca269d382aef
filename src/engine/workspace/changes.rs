//! What a run changed in its worktree, and saving it as a commit.
//!
//! The changes are everything between the base commit and the worktree as the job left
//! it: the commits it made on the branch plus what it left uncommitted, untracked files
//! included and ignored ones not (git's own `add -A` decides, `.gitignore` respected).
//! Read with one `git diff --raw --numstat -z` against the base: file list, statuses,
//! renames and line counts in one pass.

use std::path::Path;

use super::git::{Git, GitError};
use crate::core::workspace::{Change, ChangeStatus};

/// Who the commits jobctl makes are by, when `runner.git_author` says.
pub(crate) struct Author<'a> {
    pub(crate) name: &'a str,
    pub(crate) email: &'a str,
}

/// What collecting found.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) changes: Vec<Change>,
    /// The branch's commit after collecting (a new one when jobctl committed).
    pub(crate) head: String,
    /// jobctl committed what the job left uncommitted.
    pub(crate) committed: bool,
    /// Uncommitted work is left in the worktree (`commit = false`).
    pub(crate) dirty: bool,
}

impl Collected {
    pub(crate) fn insertions(&self) -> u64 {
        self.changes.iter().filter_map(|c| c.insertions).sum()
    }

    pub(crate) fn deletions(&self) -> u64 {
        self.changes.iter().filter_map(|c| c.deletions).sum()
    }
}

/// Why collecting failed.
#[derive(Debug)]
pub(crate) enum CollectError {
    /// git has no name or email to commit with.
    NoIdentity(String),
    /// The branch the work was to go to exists and holds other work.
    BranchTaken(String),
    Git(GitError),
}

impl std::fmt::Display for CollectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectError::NoIdentity(said) => write!(
                f,
                "can't commit the run's work: git has no identity to commit with ({said}); set user.name and user.email \
                 (git config --global user.name \"Your Name\"; git config --global user.email you@example.com) or runner.git_author"
            ),
            CollectError::BranchTaken(b) => write!(
                f,
                "can't save the run's work: branch {b} already exists and holds other work; move it away"
            ),
            CollectError::Git(e) => write!(f, "can't collect the run's changes: {e}"),
        }
    }
}

impl From<GitError> for CollectError {
    fn from(e: GitError) -> CollectError {
        CollectError::Git(e)
    }
}

/// Collects the changes in worktree `wt` since `base`; with `commit`, first commits what
/// the job left uncommitted with that message.
pub(crate) fn collect(
    git: &Git,
    wt: &Path,
    base: &str,
    commit: Option<(&str, Option<Author<'_>>)>,
) -> Result<Collected, CollectError> {
    let mut out = Collected::default();
    let diff = match commit {
        Some((message, author)) => {
            git.ok(wt, &["add", "--all"])?;
            if !git.succeeds(wt, &["diff", "--cached", "--quiet", "--no-ext-diff"])? {
                commit_staged(git, wt, message, author)?;
                out.committed = true;
            }
            out.head = git.text(wt, &["rev-parse", "HEAD"])?;
            git.ok(wt, &diff_args(base, Some(&out.head)))?
        }
        None => {
            let (dirty, diff) = with_scratch_index(git, wt, |in_scratch| {
                let dirty = git
                    .call(
                        wt,
                        &["diff", "--cached", "--quiet", "--no-ext-diff", "HEAD"],
                        in_scratch,
                    )
                    .is_err();
                let diff = git.call(wt, &diff_args(base, None), in_scratch)?.stdout;
                Ok((dirty, diff))
            })?;
            out.dirty = dirty;
            out.head = git.text(wt, &["rev-parse", "HEAD"])?;
            diff
        }
    };
    out.changes = parse_diff(&diff);
    Ok(out)
}

/// Runs `f` with what `add --all` would stage staged in a copy of `wt`'s index (`f` gets
/// the `GIT_INDEX_FILE` to pass to git), then removes the copy: the job's worktree and
/// index stay as it left them.
pub(crate) fn with_scratch_index<T>(
    git: &Git,
    wt: &Path,
    f: impl FnOnce(&[(&str, &str)]) -> Result<T, GitError>,
) -> Result<T, GitError> {
    let index = wt.join(git.text(wt, &["rev-parse", "--git-path", "index"])?);
    let scratch = format!("{}.jobctl-{}", index.display(), std::process::id());
    let _ = std::fs::copy(&index, &scratch);
    let in_scratch = [("GIT_INDEX_FILE", scratch.as_str())];
    let r = git
        .call(wt, &["add", "--all"], &in_scratch)
        .and_then(|_| f(&in_scratch));
    let _ = std::fs::remove_file(&scratch);
    r
}

/// `diff --raw --numstat -z -M BASE [HEAD]` (no HEAD: against the index).
fn diff_args<'a>(base: &'a str, head: Option<&'a str>) -> Vec<&'a str> {
    let mut a = vec![
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--raw",
        "--numstat",
        "-z",
        "-M",
    ];
    match head {
        Some(h) => a.extend([base, h]),
        None => a.extend(["--cached", base]),
    }
    a
}

/// `-c user.name=NAME -c user.email=EMAIL` for `author`, to put before a git command.
pub(crate) fn identity_args(author: Option<&Author<'_>>) -> Vec<String> {
    author.map_or_else(Vec::new, |a| {
        vec![
            "-c".into(),
            format!("user.name={}", a.name),
            "-c".into(),
            format!("user.email={}", a.email),
        ]
    })
}

/// A failed commit: git's missing identity said as such.
pub(crate) fn commit_error(e: GitError) -> CollectError {
    if is_identity_error(e.stderr()) {
        CollectError::NoIdentity(super::git::key_line(e.stderr()))
    } else {
        e.into()
    }
}

fn commit_staged(
    git: &Git,
    wt: &Path,
    message: &str,
    author: Option<Author<'_>>,
) -> Result<(), CollectError> {
    let ident = identity_args(author.as_ref());
    let mut args: Vec<&str> = ident.iter().map(String::as_str).collect();
    // --no-verify: saving the run's work is not a commit for review; a hook that refuses
    // it would leave the work unsaved.
    args.extend([
        "commit",
        "--quiet",
        "--no-verify",
        "--no-gpg-sign",
        "-m",
        message,
    ]);
    git.ok(wt, &args).map(|_| ()).map_err(commit_error)
}

fn is_identity_error(stderr: &str) -> bool {
    [
        "Please tell me who you are",
        "Author identity unknown",
        "Committer identity unknown",
        "unable to auto-detect email address",
        "empty ident name",
        "no email was given",
        "no name was given",
    ]
    .iter()
    .any(|n| stderr.contains(n))
}

/// Reads `git diff --raw --numstat -z`: the raw records (`:modes shas STATUS\0path\0`,
/// two paths for a rename or copy), then the numstat records in the same order
/// (`ins\tdel\tpath\0`, or `ins\tdel\t\0old\0new\0` for a rename; `-` for binary).
pub(crate) fn parse_diff(out: &[u8]) -> Vec<Change> {
    let mut tokens = out
        .split(|b| *b == 0)
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .peekable();
    let mut changes = Vec::new();
    while tokens.peek().is_some_and(|t| t.starts_with(':')) {
        let head = tokens.next().unwrap_or_default();
        let letter = head.rsplit(' ').next().unwrap_or("");
        let status = ChangeStatus::from_git(letter);
        let two = letter.starts_with('R') || letter.starts_with('C');
        let first = tokens.next().unwrap_or_default();
        let (from, path) = if two {
            (Some(first), tokens.next().unwrap_or_default())
        } else {
            (None, first)
        };
        if let Some(status) = status {
            changes.push(Change {
                path,
                status,
                from: if status == ChangeStatus::Renamed {
                    from
                } else {
                    None
                },
                insertions: None,
                deletions: None,
            });
        }
    }
    let count = |s: &str| s.parse::<u64>().ok();
    let mut i = 0;
    while let Some(t) = tokens.next() {
        if t.is_empty() && tokens.peek().is_none() {
            break;
        }
        let mut parts = t.splitn(3, '\t');
        let (ins, del, path) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let path = if path.is_empty() {
            // A rename: the old and new paths follow.
            let _old = tokens.next();
            tokens.next().unwrap_or_default()
        } else {
            path.to_string()
        };
        // Numstat lists what raw listed, in order; a path check guards against surprises.
        let at = if changes.get(i).is_some_and(|c| c.path == path) {
            Some(i)
        } else {
            changes.iter().position(|c| c.path == path)
        };
        if let Some(at) = at {
            changes[at].insertions = count(ins);
            changes[at].deletions = count(del);
            i = at + 1;
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_numstat_are_read_together() {
        let out = b":100644 100644 bdc955b 350ed01 M\0bin\0:100644 100644 422c2b7 de98044 R066\0f1\0f1renamed\0\
:100644 000000 587be6b 0000000 D\0f2\0:000000 100644 0000000 3e75765 A\0sp ace\0\
-\t-\tbin\x001\t0\t\0f1\0f1renamed\x000\t1\tf2\x001\t0\tsp ace\0";
        let c = parse_diff(out);
        assert_eq!(c.len(), 4, "{c:?}");
        assert_eq!(
            (c[0].path.as_str(), c[0].status, c[0].insertions),
            ("bin", ChangeStatus::Modified, None)
        );
        assert_eq!(c[1].path, "f1renamed");
        assert_eq!(c[1].from.as_deref(), Some("f1"));
        assert_eq!(c[1].status, ChangeStatus::Renamed);
        assert_eq!((c[1].insertions, c[1].deletions), (Some(1), Some(0)));
        assert_eq!(
            (c[2].status, c[2].deletions),
            (ChangeStatus::Deleted, Some(1))
        );
        assert_eq!(
            (c[3].path.as_str(), c[3].status, c[3].insertions),
            ("sp ace", ChangeStatus::Added, Some(1))
        );
        assert!(parse_diff(b"").is_empty());
    }
}
