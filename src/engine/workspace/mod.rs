//! A run's git workspace: a fresh worktree on a branch of its own, set up before the job
//! starts and settled after it ends (its work collected, committed, pushed; the worktree
//! removed or kept). Steps of the run pipeline: [`set_up`] in prepare, [`settle`] and
//! [`release`] in finalize.
//!
//! The rule everything here keeps: **jobctl never deletes the agent's work while its
//! commits exist nowhere else.** A worktree is removed only after its work is committed;
//! a branch is deleted only when every commit on it is also on a remote or in the base.
//!
//! Git is the git CLI ([`git`]), never interactive and under the run's deadline; one
//! repository is changed by one jobctl process at a time ([`lock`]); a repository given
//! by URL is worked on through a bare mirror in `STATE_DIR/repos/` ([`mirror`]).

pub(crate) mod changes;
pub(crate) mod cleanup;
pub(crate) mod git;
mod include;
pub(crate) mod left;
mod lock;
mod mirror;
pub(crate) mod pool;
mod release;
mod rescue;
mod settle;

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{Config, Job, Repo, Workspace};
use crate::core::run::RunRecord;
use crate::core::workspace::{WorkspaceInfo, render_template};
pub(crate) use git::Git;
pub(crate) use release::remove;
pub use release::{BranchFate, disk_usage, mark_kept, release};
pub use settle::{Settled, settle};

/// A worktree made for a run.
pub struct Prepared {
    pub(crate) run_id: i64,
    pub info: WorkspaceInfo,
    /// The worktree directory.
    pub dir: PathBuf,
    /// The repository's git directory (the local repository's, or the mirror).
    pub(crate) git_dir: PathBuf,
    repos_dir: PathBuf,
    /// Where its worktree is parked for the next run ([`pool`]).
    pool: PathBuf,
    pub(crate) git: Git,
}

impl Prepared {
    /// The variables the job and its hooks get.
    pub(crate) fn env(&self) -> [(&'static str, String); 3] {
        [
            ("JOBCTL_WORKSPACE", self.info.path.clone()),
            ("JOBCTL_BRANCH", self.info.branch.clone()),
            ("JOBCTL_BASE_COMMIT", self.info.base_commit.clone()),
        ]
    }
}

/// What a set-up needs.
pub struct Setup<'a> {
    pub cfg: &'a Config,
    pub job: &'a Job,
    pub ws: &'a Workspace,
    pub run: &'a RunRecord,
    pub state_dir: &'a Path,
    /// The job's environment without jobctl's marks: git gets the user's world.
    pub env: Vec<(String, String)>,
    pub deadline: Instant,
}

/// `STATE_DIR/repos`: mirrors and repository locks.
pub(crate) fn repos_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("repos")
}

fn make_dir(p: &Path) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .map_err(|e| format!("can't create {}: {e}", p.display()))
}

/// Makes the run's worktree: mirror (for a URL), fetch, base, branch, `worktree add`,
/// included files. `record` is given the workspace just before its worktree is made (so a
/// crash from then on leaves a worktree that can be found); `note` is told what happened,
/// for the run log. The error says why the run can't start.
pub fn set_up(
    s: Setup<'_>,
    record: &mut dyn FnMut(&WorkspaceInfo) -> Result<(), String>,
    note: &mut dyn FnMut(&str),
) -> Result<Prepared, String> {
    let ws = s.ws;
    let repos = repos_dir(s.state_dir);
    make_dir(&repos)?;
    let git = Git::new(&s.cfg.runner.git, s.env, s.deadline);
    let remote = ws.remote.as_str();
    let (git_dir, checkout, _lock) = match &ws.repo {
        Repo::Local(p) => {
            if !p.is_dir() {
                return Err(format!("repository {} does not exist", p.display()));
            }
            let common = git
                .text(p, &["rev-parse", "--git-common-dir"])
                .map_err(|e| format!("{} is not a usable git repository: {e}", p.display()))?;
            let git_dir = p
                .join(common)
                .canonicalize()
                .map_err(|e| format!("can't resolve the git directory of {}: {e}", p.display()))?;
            let lock = lock::lock(&repos, &git_dir.display().to_string(), s.deadline)?;
            let bare = git.text(p, &["rev-parse", "--is-bare-repository"]).ok();
            let checkout = (bare.as_deref() != Some("true")).then(|| p.clone());
            (git_dir, checkout, lock)
        }
        Repo::Url(url) => {
            let mirror = mirror::path(&repos, url);
            let lock = lock::lock(&repos, &mirror.display().to_string(), s.deadline)?;
            let (dir, fresh) = mirror::ensure(&git, &repos, url, remote)
                .map_err(|e| format!("can't make the local mirror of {}: {e}", ws.repo_display))?;
            if fresh {
                note(&format!(
                    "workspace: cloned {} into {}",
                    ws.repo_display,
                    dir.display()
                ));
            }
            (dir, None, lock)
        }
    };
    let is_url = matches!(ws.repo, Repo::Url(_));
    let has_remote = is_url
        || git
            .text(&git_dir, &["remote"])
            .map_err(|e| e.to_string())?
            .lines()
            .any(|r| r == remote);
    let fetch = ws.fetch.unwrap_or(has_remote);
    if fetch && !has_remote {
        return Err(format!(
            "fetch = true, but {} has no remote {remote:?}",
            ws.repo_display
        ));
    }
    let base_name = ws
        .base
        .as_deref()
        .map(|b| b.strip_prefix(&format!("{remote}/")).unwrap_or(b));
    if fetch {
        let mut args = vec!["fetch", "--quiet", "--no-tags", "--", remote];
        args.extend(base_name);
        git.ok(&git_dir, &args).map_err(|e| {
            format!(
                "fetching {} from {remote} failed: {e}",
                base_name.unwrap_or("its branches")
            )
        })?;
    }
    let tracking = |b: &str| format!("{remote}/{b}");
    let candidates: Vec<String> = match (ws.base.as_deref(), base_name) {
        (Some(_), Some(name)) if fetch || is_url => vec![tracking(name), name.to_string()],
        (Some(b), Some(name)) => vec![b.to_string(), tracking(name)],
        _ if has_remote => vec![tracking("HEAD"), "HEAD".to_string()],
        _ => vec!["HEAD".to_string()],
    };
    let mut base = None;
    // Validated when the config was loaded; never handed to git where it reads options.
    if let Some(c) = candidates.iter().find(|c| c.starts_with('-')) {
        return Err(format!(
            "base {c:?} starts with \"-\"; git would read it as an option"
        ));
    }
    for c in &candidates {
        let spec = format!("{c}^{{commit}}");
        if let Ok(commit) = git.text(&git_dir, &["rev-parse", "--verify", "--quiet", &spec]) {
            // `origin/HEAD` says more as the branch it stands for.
            let name = match c.strip_suffix("/HEAD") {
                Some(_) => git
                    .text(
                        &git_dir,
                        &[
                            "symbolic-ref",
                            "--quiet",
                            "--short",
                            &format!("refs/remotes/{c}"),
                        ],
                    )
                    .unwrap_or_else(|_| c.clone()),
                None => c.clone(),
            };
            base = Some((name, commit));
            break;
        }
    }
    let Some((base, base_commit)) = base else {
        return Err(match ws.base.as_deref() {
            Some(b) => format!(
                "base {b:?} is not a branch, tag or commit of {}",
                ws.repo_display
            ),
            None => format!(
                "{} has no commit to start from (an empty repository?)",
                ws.repo_display
            ),
        });
    };
    let date = crate::core::clock::from_ms(s.run.started_at)
        .to_zoned((*s.job.timezone).clone())
        .strftime("%Y%m%d")
        .to_string();
    let branch = render_template(&ws.branch, &s.job.name, s.run.id, &date);
    let dir = s
        .cfg
        .runner
        .workspace_dir
        .join(&s.job.name)
        .join(s.run.id.to_string());
    if let Some(parent) = dir.parent() {
        make_dir(parent)?;
    }
    if std::fs::symlink_metadata(&dir).is_ok() {
        return Err(format!("{} already exists; move it away", dir.display()));
    }
    let info = WorkspaceInfo {
        path: dir.display().to_string(),
        repo: ws.repo_display.clone(),
        base,
        base_commit: base_commit.clone(),
        branch: branch.clone(),
        ..WorkspaceInfo::default()
    };
    record(&info)?;
    crate::faults::point("before_worktree");
    let pool = pool::dir(&s.cfg.runner.workspace_dir, &git_dir);
    make_worktree(&git, &git_dir, &pool, &dir, &branch, &base_commit)?;
    drop(_lock);
    let prepared = Prepared {
        run_id: s.run.id,
        info,
        dir,
        git_dir,
        repos_dir: repos,
        pool,
        git,
    };

    if let Some(src) = checkout {
        match include::copy(&prepared.git, &src, &prepared.dir, &ws.include) {
            Ok((copied, skipped)) => {
                if !copied.is_empty() {
                    note(&format!("workspace: copied {}", copied.join(", ")));
                }
                for f in skipped {
                    note(&format!(
                        "workspace: not copying {f}: git does not ignore it, so it would be committed"
                    ));
                }
            }
            Err(e) => {
                release_now(&prepared);
                return Err(format!("can't copy the included files: {e}"));
            }
        }
    }
    Ok(prepared)
}

/// How long undoing a set-up may take, whatever was left of the run's time.
const UNDO_TIME: Duration = Duration::from_secs(60);

/// Makes the run's worktree `dir` on a new `branch` at `base_commit` (the caller holds
/// the repository's lock): a parked one from `pool`, else `git worktree add`. One that
/// fails (a full disk, the run's deadline) leaves nothing behind ([`undo_add`]).
fn make_worktree(
    git: &Git,
    git_dir: &Path,
    pool: &Path,
    dir: &Path,
    branch: &str,
    base_commit: &str,
) -> Result<(), String> {
    let refname = format!("refs/heads/{branch}");
    let exists = git
        .succeeds(git_dir, &["rev-parse", "--verify", "--quiet", &refname])
        .map_err(|e| e.to_string())?;
    if exists {
        // Not ours to reuse, nor (below) to delete.
        return Err(format!(
            "branch {branch} already exists in the repository; delete or rename it"
        ));
    }
    if pool::take(git, git_dir, pool, dir, branch, base_commit) {
        return Ok(());
    }
    let dir_s = dir.display().to_string();
    let args = [
        "worktree",
        "add",
        "--quiet",
        "--no-track",
        "-b",
        branch,
        "--",
        &dir_s,
        base_commit,
    ];
    git.ok(git_dir, &args).map(|_| ()).map_err(|e| {
        undo_add(
            &git.until(Instant::now() + UNDO_TIME),
            git_dir,
            dir,
            branch,
            base_commit,
        );
        format!("can't make the worktree: {e}")
    })
}

/// Undoes a worktree that could not be made: git cleans up after a failure it sees (a
/// full disk), but not after being killed at the run's deadline (its half-made worktree
/// stays, `locked` as "initializing"), and never deletes the branch it made first. The
/// branch goes only while it is still at `base_commit`: nothing was committed on it.
fn undo_add(git: &Git, git_dir: &Path, dir: &Path, branch: &str, base_commit: &str) {
    let dir_s = dir.display().to_string();
    let _ = git.ok(
        git_dir,
        &["worktree", "remove", "--force", "--force", "--", &dir_s],
    );
    if std::fs::symlink_metadata(dir).is_ok() {
        let _ = std::fs::remove_dir_all(dir);
    }
    unlock_records_of(git_dir, dir);
    let _ = git.ok(git_dir, &["worktree", "prune"]);
    let refname = format!("refs/heads/{branch}");
    // A git killed while it wrote the ref leaves its lock; the repository lock says no
    // other jobctl is writing it.
    let _ = std::fs::remove_file(git_dir.join(format!("{refname}.lock")));
    let _ = git.ok(git_dir, &["update-ref", "-d", &refname, base_commit]);
}

/// Takes the lock off git's record of worktree `dir` (`GIT_DIR/worktrees/NAME/locked`),
/// so `worktree prune` removes it once the directory is gone.
fn unlock_records_of(git_dir: &Path, dir: &Path) {
    let canon = |p: &Path| match (p.parent(), p.file_name()) {
        (Some(d), Some(n)) => d
            .canonicalize()
            .map_or_else(|_| p.to_path_buf(), |d| d.join(n)),
        _ => p.to_path_buf(),
    };
    let want = canon(dir);
    let Ok(records) = std::fs::read_dir(git_dir.join("worktrees")) else {
        return;
    };
    for rec in records.flatten().map(|e| e.path()) {
        let Ok(gitdir) = std::fs::read_to_string(rec.join("gitdir")) else {
            continue;
        };
        let wt = Path::new(gitdir.trim()).parent().map(canon);
        if wt.as_deref() == Some(want.as_path()) {
            let _ = std::fs::remove_file(rec.join("locked"));
        }
    }
}

/// Undoes a set-up that failed after the worktree was made (nothing in it is work).
fn release_now(p: &Prepared) {
    let git = p.git.until(Instant::now() + UNDO_TIME);
    let _ = remove(
        &git,
        &p.repos_dir,
        &p.git_dir,
        &p.dir,
        (p.run_id, &p.info),
        None,
    );
}
