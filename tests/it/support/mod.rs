//! The integration tests' harness: a temp `JOBCTL_HOME` with a config in it, the real
//! `jobctl` binary run against it, and polling with a deadline instead of sleeping. Its
//! modules are shared by every area of the test crate; what a test needs of it comes in
//! with `use crate::support::*` (the submodules that only some areas use by their path).

pub mod browser;
mod clis;
/// The benchmark's fixture generation (a large history through jobctl's own store code),
/// shared with `examples/bench`, whose file it is: the example is a crate of its own.
#[path = "../../../examples/bench/fixtures.rs"]
pub mod fixtures;
pub mod git;
#[cfg(feature = "postgres")]
pub mod hosts;
pub mod mcp;
pub mod model_stub;
#[cfg(feature = "postgres")]
pub mod netns;
pub mod pg;
mod procs;
mod runs;
mod scopes;
pub mod server;
pub mod tmpfs;

pub use clis::*;
pub use procs::*;
pub use runs::*;
pub use scopes::*;

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
        let mut c = self.command(BIN);
        c.args(args);
        c
    }

    /// `program` with this env's environment (as [`Env::cmd`] gives jobctl): for a
    /// program that runs jobctl in turn (`setpriv ... jobctl`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.home())
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

    /// The state database opened straight with SQL: no jobctl code (no recovery, no
    /// migration) comes between a test and what a crash left.
    pub fn db(&self) -> rusqlite::Connection {
        let c =
            rusqlite::Connection::open(self.state_dir().join("jobctl.db")).expect("open the db");
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c
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

/// An env whose config `f` builds from the env (so it can name the temp home), and the
/// sweep that kills what its runs leave behind.
pub fn swept_env(f: impl FnOnce(&Env) -> String) -> (Env, Sweep) {
    let env = Env::new();
    let toml = f(&env);
    env.config(&toml);
    let sweep = Sweep::new(&env);
    (env, sweep)
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

/// Whether this is CI (`CI=true`): there, every tool a test needs is installed, and a
/// missing one fails the test instead of skipping it.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Says in one line that a test is skipped because of `why` (something it needs is not
/// installed), or fails it under CI. The caller returns after it.
#[track_caller]
pub fn skip(test: &str, why: &str) {
    if ci() {
        panic!("{test}: {why}; CI must install it");
    }
    eprintln!("skipping {test}: {why}");
}

/// `module::name`, as the test harness names test `name` of `module` (a `module_path!()`
/// of this crate): the filter that runs that test alone.
pub fn test_path(module: &str, name: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, m)| m);
    if module.is_empty() {
        name.to_string()
    } else {
        format!("{module}::{name}")
    }
}

/// Whether this process is the one to run test `name` of `module` (`module_path!()`):
/// tests that measure this process (its memory) or change what all its threads share (its
/// environment) run in a process of their own, where they are the only test, as they did
/// when each test file was a binary of its own. Called first thing in such a test: in the
/// test process it runs the test again in a new process, asserts that it passed and
/// returns false (the caller returns); in that new process it returns true.
pub fn alone(module: &str, name: &str) -> bool {
    const VAR: &str = "JOBCTL_TEST_ALONE";
    let path = test_path(module, name);
    if std::env::var(VAR).is_ok_and(|v| v == path) {
        return true;
    }
    let o = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", &path, "--nocapture", "--test-threads=1"])
        .env(VAR, &path)
        .stdin(Stdio::null())
        .output()
        .expect("run the test in a process of its own");
    assert!(o.status.success(), "{path}, alone:\n{}", both(&o));
    assert!(
        stdout(&o).contains("1 passed"),
        "{path} did not run alone:\n{}",
        both(&o)
    );
    false
}
