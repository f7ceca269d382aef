//! Running the git CLI for a run's workspace: the user's git, with their config,
//! credential helpers and ssh agent, but never interactive and never past a deadline.
//!
//! Each call runs in a session of its own (no controlling terminal, so neither git nor
//! ssh can prompt on one) with `GIT_TERMINAL_PROMPT=0`, and is killed with its process
//! group when the deadline passes. Messages are read in the C locale, so a push failure
//! is classified by git's own English words.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Why a git call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitError {
    /// git could not be started.
    Spawn(String),
    /// It was still running at the deadline (and was killed).
    TimedOut(String),
    /// It exited non-zero; `stderr` is what it said.
    Failed {
        what: String,
        code: Option<i32>,
        stderr: String,
    },
}

impl GitError {
    /// What git said, for classifying it.
    pub(crate) fn stderr(&self) -> &str {
        match self {
            GitError::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::Spawn(m) | GitError::TimedOut(m) => f.write_str(m),
            GitError::Failed { what, code, stderr } => {
                let said = key_line(stderr);
                match (said.is_empty(), code) {
                    (false, _) => write!(f, "{what} failed: {said}"),
                    (true, Some(c)) => write!(f, "{what} exited with code {c}"),
                    (true, None) => write!(f, "{what} was killed"),
                }
            }
        }
    }
}

/// The line of git's stderr that says what went wrong: the first `fatal:`/`error:` line,
/// else the first non-empty one.
pub(crate) fn key_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:") || l.starts_with('!'))
        .or(lines.first())
        .map(|l| {
            crate::core::workspace::redact_url_credentials(&l.chars().take(400).collect::<String>())
        })
        .unwrap_or_default()
}

/// How git is run for one run's workspace.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    program: String,
    env: Vec<(String, String)>,
    deadline: Instant,
}

impl Git {
    /// `program` with `env` (the job's environment, without jobctl's marks) and a deadline.
    pub(crate) fn new(program: &str, mut env: Vec<(String, String)>, deadline: Instant) -> Git {
        for (k, v) in [
            ("GIT_TERMINAL_PROMPT", "0"),
            ("GCM_INTERACTIVE", "never"),
            ("SSH_ASKPASS_REQUIRE", "never"),
            ("LC_ALL", "C"),
        ] {
            crate::exec::env::set(&mut env, k, v);
        }
        env.retain(|(k, _)| k != "GIT_DIR" && k != "GIT_WORK_TREE" && k != "GIT_INDEX_FILE");
        Git {
            program: program.to_string(),
            env,
            deadline,
        }
    }

    /// The same git with another deadline.
    pub(crate) fn until(&self, deadline: Instant) -> Git {
        Git {
            deadline,
            ..self.clone()
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `git -C dir ARGS`; a non-zero exit is an error. Returns stdout.
    pub(crate) fn ok(&self, dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
        self.call(dir, args, &[]).map(|o| o.stdout)
    }

    /// [`Git::ok`] with stdout as text, trimmed.
    pub(crate) fn text(&self, dir: &Path, args: &[&str]) -> Result<String, GitError> {
        let out = self.ok(dir, args)?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// Whether `git -C dir ARGS` exits 0 (a question, like `rev-parse --verify`).
    pub(crate) fn succeeds(&self, dir: &Path, args: &[&str]) -> Result<bool, GitError> {
        match self.call(dir, args, &[]) {
            Ok(_) => Ok(true),
            Err(GitError::Failed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `git -C dir ARGS` with `extra` variables; a non-zero exit is an error.
    pub(crate) fn call(
        &self,
        dir: &Path,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> Result<Output, GitError> {
        self.call_with_input(dir, args, extra, None)
    }

    /// [`Git::call`] with `input` on git's stdin.
    pub(crate) fn call_with_input(
        &self,
        dir: &Path,
        args: &[&str],
        extra: &[(&str, &str)],
        input: Option<Vec<u8>>,
    ) -> Result<Output, GitError> {
        let what = describe(args);
        let mut cmd = Command::new(&self.program);
        cmd.arg("-C")
            .arg(dir)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().copied())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| GitError::Spawn(format!("can't run git ({}): {e}", self.program)))?;
        let pid = child.id() as i32;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            // Written aside, so a git that answers before reading everything can't block us.
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(&data);
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let left = self.deadline.saturating_duration_since(Instant::now());
        let out = match rx.recv_timeout(left) {
            Ok(r) => r.map_err(|e| GitError::Spawn(format!("{what}: {e}")))?,
            Err(_) => {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                // Its output pipes close with it; what it started elsewhere is not waited for.
                let _ = rx.recv_timeout(Duration::from_secs(5));
                return Err(GitError::TimedOut(format!(
                    "{what} was still running at the run's deadline and was stopped"
                )));
            }
        };
        if out.status.success() {
            Ok(out)
        } else {
            Err(GitError::Failed {
                what,
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }
}

/// `git worktree add`, `git push`: the subcommand and its first word, for messages.
fn describe(args: &[&str]) -> String {
    let words: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-') && !a.contains('='))
        .take(2)
        .copied()
        .collect();
    let words = match words.first() {
        Some(&"worktree") | Some(&"remote") => words,
        _ => words.into_iter().take(1).collect(),
    };
    format!("git {}", words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_that_says_what_went_wrong() {
        let s = "hint: something\nfatal: invalid reference: nope\n";
        assert_eq!(key_line(s), "fatal: invalid reference: nope");
        assert_eq!(key_line("\n  just this\n"), "just this");
        assert_eq!(
            describe(&["-c", "a=b", "worktree", "add", "-b", "x"]),
            "git worktree add"
        );
        assert_eq!(describe(&["push", "origin", "x"]), "git push");
    }

    #[test]
    fn a_call_past_its_deadline_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        // `git -c alias.slow='!sleep 30' slow`: a git that hangs.
        let git = Git::new(
            "git",
            std::env::vars().collect(),
            Instant::now() + Duration::from_millis(300),
        );
        let t0 = Instant::now();
        let r = git.call(dir.path(), &["-c", "alias.slow=!sleep 30", "slow"], &[]);
        assert!(matches!(r, Err(GitError::TimedOut(_))), "{r:?}");
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
}
