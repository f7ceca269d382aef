//! The integration tests' harness: a temp `JOBCTL_HOME` with a config in it, the real
//! `jobctl` binary run against it, and polling with a deadline instead of sleeping.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_jobctl");

#[allow(unused_imports)]
pub use jobctl::store::{BudgetStore, EventStore, JobStateStore, MetaStore, RunStore, Store as _};

/// One isolated jobctl installation: config, state, logs, all under a temp dir.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A new env with `toml` as its `jobctl.toml`.
    pub fn with_config(toml: &str) -> Env {
        let e = Env::new();
        e.config(toml);
        e
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.home().join("state")
    }

    pub fn config_path(&self) -> PathBuf {
        self.home().join("jobctl.toml")
    }

    pub fn config(&self, toml: &str) {
        std::fs::write(self.config_path(), toml).unwrap();
    }

    /// Writes a file relative to the home (parents created).
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.home().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Writes an executable script relative to the home.
    pub fn script(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.write(rel, content);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// `jobctl ARGS` in this env: JOBCTL_HOME set, no colour, UTC unless the test sets TZ.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.home())
            .env("JOBCTL_HOME", self.home())
            .env_remove("JOBCTL_CONFIG")
            .env_remove("JOBCTL_NOW")
            .env_remove("JOBCTL_LOG")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run jobctl")
    }

    /// `jobctl ARGS` with "now" pinned (RFC 3339).
    pub fn run_at(&self, now: &str, args: &[&str]) -> Output {
        self.cmd(args)
            .env("JOBCTL_NOW", now)
            .output()
            .expect("run jobctl")
    }

    pub fn store(&self) -> jobctl::store::sqlite::SqliteStore {
        jobctl::store::sqlite::SqliteStore::open(&self.state_dir()).expect("open store")
    }

    /// `jobctl list --json` as values.
    pub fn list_json(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["list", "--json"]);
        assert_eq!(code(&out), 0, "list failed: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("list --json is JSON")
    }

    /// The latest run of `job` (its `history --json` record).
    pub fn last_run(&self, job: &str) -> serde_json::Value {
        self.history_json(&[job, "-n", "1"])
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no run of {job}"))
    }

    /// `jobctl history --json` as values (newest first).
    pub fn history_json(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut a = vec!["history", "--json"];
        a.extend_from_slice(args);
        let out = self.run(&a);
        assert_eq!(code(&out), 0, "history failed: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("history --json is JSON")
    }
}

/// `[runner]` (UTC, 1 s grace) whose jobs see `HOME/bin` first on their PATH: where the
/// tests put fake agent CLIs. `extra` goes inside the table.
pub fn runner(env: &Env, extra: &str) -> String {
    format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\nenv = {{ PATH = \"{}/bin:/usr/bin:/bin\" }}\n{extra}\n",
        env.home().display()
    )
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code, stdout and stderr of a command, for assertion messages.
pub fn both(o: &Output) -> String {
    format!(
        "--- exit {}\n--- stdout:\n{}\n--- stderr:\n{}",
        code(o),
        stdout(o),
        stderr(o)
    )
}

#[track_caller]
pub fn ok(o: &Output) {
    assert_eq!(code(o), 0, "expected exit 0\n{}", both(o));
}

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of live processes whose environment holds `entry` (e.g. `JOBCTL_RUN_ID=3`) and
/// `JOBCTL_STATE_DIR=<state_dir>`; zombies are reported separately.
pub fn run_processes(state_dir: &Path, run_id: i64) -> (Vec<i32>, Vec<i32>) {
    let marks = [
        format!("JOBCTL_RUN_ID={run_id}"),
        format!("JOBCTL_STATE_DIR={}", state_dir.display()),
    ];
    let mut live = Vec::new();
    let mut zombies = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rfind(')')
            .is_some_and(|i| stat[i + 2..].starts_with('Z'));
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let has = |m: &str| env.split(|b| *b == 0).any(|x| x == m.as_bytes());
        if marks.iter().all(|m| has(m)) {
            if zombie {
                zombies.push(pid)
            } else {
                live.push(pid)
            }
        }
    }
    (live, zombies)
}

/// Pids of live processes (not this one) whose environment holds any of `marks`.
pub fn marked_pids(marks: &[String]) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if env
            .split(|b| *b == 0)
            .any(|x| marks.iter().any(|m| x == m.as_bytes()))
        {
            out.push(pid);
        }
    }
    out
}

/// Kills, on drop, every process that carries this env's marks (jobctl processes started
/// with its `JOBCTL_HOME`, job processes with its `JOBCTL_STATE_DIR`), so a failing test
/// leaves nothing running.
pub struct Sweep {
    marks: Vec<String>,
}

impl Sweep {
    pub fn new(env: &Env) -> Sweep {
        Sweep {
            marks: vec![
                format!("JOBCTL_HOME={}", env.home().display()),
                format!("JOBCTL_STATE_DIR={}", env.state_dir().display()),
            ],
        }
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = marked_pids(&self.marks);
            if pids.is_empty() || Instant::now() > deadline {
                break;
            }
            for p in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
