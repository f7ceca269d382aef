//! Settling a run's workspace after the job: its changes collected, what it left
//! uncommitted committed, its branch pushed when it has new commits. Apart from the
//! set-up in `mod.rs`; keeping or removing the worktree afterwards is `release.rs`'s.

use std::time::{Duration, Instant};

use super::{Prepared, changes, git, rescue};
use crate::config::{Config, Job, Workspace};
use crate::core::run::RunRecord;
use crate::core::workspace::{PushFailure, render_template};

/// How settling the workspace after the job went.
pub struct Settled {
    pub(crate) changes: Vec<crate::core::workspace::Change>,
    /// Why the run must be `failed` (committing or pushing failed).
    pub failure: Option<String>,
    /// Uncommitted work is left in the worktree.
    pub(crate) dirty: bool,
}

/// After the job: collects its changes, commits what it left uncommitted (`commit`), and
/// pushes the branch when it has new commits (`push`, unless `push_now` is false: the
/// run was cancelled), as the job's `workspace` `ws` says. Updates `p.info`.
pub fn settle(
    p: &mut Prepared,
    ws: &Workspace,
    cfg: &Config,
    job: &Job,
    run: &RunRecord,
    push_now: bool,
    note: &mut dyn FnMut(&str),
) -> Settled {
    // The job may have used the run's whole deadline: saving its work still gets time.
    let git = p.git.until(
        p.git
            .deadline()
            .max(Instant::now() + Duration::from_secs(120)),
    );
    let message;
    let commit = if ws.commit {
        let date = crate::core::clock::from_ms(run.started_at)
            .to_zoned((*job.timezone).clone())
            .strftime("%Y%m%d")
            .to_string();
        message = render_template(&ws.commit_message, &job.name, run.id, &date);
        let author = cfg.runner.git_author.as_ref().map(|a| changes::Author {
            name: &a.name,
            email: &a.email,
        });
        Some((message.as_str(), author))
    } else {
        None
    };
    let mut failure = None;
    let collected = match changes::collect(&git, &p.dir, &p.info.base_commit, commit) {
        Ok(c) => c,
        Err(e) => {
            failure = Some(e.to_string());
            // Still say what the run changed, as the worktree holds it uncommitted.
            changes::collect(&git, &p.dir, &p.info.base_commit, None).unwrap_or_default()
        }
    };
    let info = &mut p.info;
    info.files_changed = collected.changes.len() as u64;
    info.insertions = collected.insertions();
    info.deletions = collected.deletions();
    if !collected.head.is_empty() {
        info.head_commit = Some(collected.head.clone());
    }
    // A job that deleted or moved its branch: its commits go back on one, to be pushed
    // and kept like any run's.
    if let Some(head) = info.head_commit.clone() {
        match rescue::keep_reachable(
            &git,
            &p.git_dir,
            &info.branch,
            &info.base_commit,
            &head,
            run.id,
        ) {
            Ok(Some(b)) => note(&format!(
                "workspace: the job moved or deleted its branch; branch {b} is set at its last commit {head}"
            )),
            Ok(None) => {}
            Err(e) => {
                failure.get_or_insert(format!(
                    "can't keep the run's last commit {head} on a branch: {e}"
                ));
            }
        }
    }
    if collected.committed {
        note(&format!(
            "workspace: committed the run's work on {} ({} files, +{} -{})",
            info.branch, info.files_changed, info.insertions, info.deletions
        ));
    }
    let new_commits = info
        .head_commit
        .as_deref()
        .is_some_and(|h| h != info.base_commit);
    if ws.push && new_commits && push_now {
        let refspec = format!("refs/heads/{b}:refs/heads/{b}", b = info.branch);
        match git.ok(
            &p.dir,
            &["push", "--no-progress", "--", &ws.remote, &refspec],
        ) {
            Ok(_) => {
                info.pushed = true;
                note(&format!(
                    "workspace: pushed {} to {}",
                    info.branch, ws.remote
                ));
            }
            Err(e) => {
                let kind = match &e {
                    git::GitError::Failed { stderr, .. } => PushFailure::classify(stderr),
                    _ => PushFailure::Network,
                };
                info.push_failure = Some(kind);
                let why = format!(
                    "push of {} to {} failed ({kind}): {}",
                    info.branch,
                    ws.remote,
                    git::key_line(e.stderr()).if_empty(&e.to_string())
                );
                failure.get_or_insert(why);
            }
        }
    }
    Settled {
        changes: collected.changes,
        failure,
        dirty: collected.dirty,
    }
}

trait IfEmpty {
    fn if_empty(self, other: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, other: &str) -> String {
        if self.is_empty() {
            other.to_string()
        } else {
            self
        }
    }
}
