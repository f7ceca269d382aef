//! Processes the tests start and look for: a `jobctl` started in the background with its
//! output in files ([`Proc`]), the state of a process from `/proc`, the processes of a run
//! or of an env, and the [`Sweep`] that kills whatever a test leaves running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{BIN, Env, wait_for};

/// A `jobctl` started by a test, its stdout and stderr in files, not pipes: a tick's
/// detached supervisors inherit them, and a job orphaned by a killed supervisor could hold
/// a pipe open, so reading pipes to their end would wait for the runs. Killed (and
/// reaped) on drop unless it was waited for.
pub struct Proc {
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    /// Starts `c` (a command of `env`), its output in files under the env's home.
    pub fn start(env: &Env, c: Command) -> Proc {
        Proc::launch(env, c, None)
    }

    /// Like [`Proc::start`], but its stdout goes to `stdout` (a pipe the test reads).
    pub fn start_to(env: &Env, c: Command, stdout: impl Into<Stdio>) -> Proc {
        Proc::launch(env, c, Some(stdout.into()))
    }

    fn launch(env: &Env, mut c: Command, stdout: Option<Stdio>) -> Proc {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = env.home().join("cmd-output");
        std::fs::create_dir_all(&dir).unwrap();
        let (out, err) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
        c.stdout(match stdout {
            Some(s) => s,
            None => std::fs::File::create(&out).unwrap().into(),
        })
        .stderr(std::fs::File::create(&err).unwrap());
        Proc {
            child: Some(c.spawn().expect("start jobctl")),
            out,
            err,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("already waited").id() as i32
    }

    /// Waits for the process to exit (within `limit`); its output and how long it took.
    pub fn wait(&mut self, limit: Duration) -> (Output, Duration) {
        let start = Instant::now();
        let child = self.child.as_mut().expect("already waited");
        let status: ExitStatus = wait_for("jobctl to exit", limit, || child.try_wait().unwrap());
        self.child = None;
        let o = Output {
            status,
            stdout: std::fs::read(&self.out).unwrap_or_default(),
            stderr: std::fs::read(&self.err).unwrap_or_default(),
        };
        (o, start.elapsed())
    }

    /// Whether it has exited (or was waited for).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().unwrap().is_some())
    }

    /// What it has written to stderr so far.
    pub fn stderr_now(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.err).unwrap_or_default()).into_owned()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `jobctl ARGS` in `env` (at `now`, RFC 3339, when given) in the background.
pub fn spawn(env: &Env, args: &[&str], now: Option<&str>) -> Proc {
    let mut c = env.cmd(args);
    if let Some(now) = now {
        c.env("JOBCTL_NOW", now);
    }
    Proc::start(env, c)
}

/// `jobctl ARGS` to its exit (within a minute), its output through files, not pipes: a
/// tick's detached supervisors inherit its stderr, so `Command::output()` would wait for
/// the runs to end. The output, and how long it took.
pub fn run_detached(env: &Env, args: &[&str], now: Option<&str>) -> (Output, Duration) {
    spawn(env, args, now).wait(Duration::from_secs(60))
}

/// The state letter of `/proc/PID/stat` (`S`, `R`, `T` stopped, `Z` zombie); `None`: gone.
pub fn proc_state(pid: i32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 2..].chars().next()
}

/// Whether process `pid` is there and not a zombie.
pub fn alive(pid: i32) -> bool {
    matches!(proc_state(pid), Some(c) if c != 'Z' && c != 'X')
}

/// Whether `pid` has a handler installed for `sig` (SigCgt in /proc/PID/status).
pub fn catches(pid: i32, sig: nix::sys::signal::Signal) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (sig as i32 - 1)) != 0)
}

/// Process `pid`'s command line, its arguments joined by spaces.
pub fn cmdline(pid: i32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .replace('\0', " ")
}

/// Whether process `pid`'s environment holds `entry` (`NAME=value`).
pub fn environ_has(pid: i32, entry: &str) -> bool {
    environ_has_any(pid, &[entry])
}

/// Whether process `pid`'s environment holds any of `entries`.
fn environ_has_any(pid: i32, entries: &[impl AsRef<str>]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .any(|x| entries.iter().any(|e| x == e.as_ref().as_bytes()))
}

/// Every pid in `/proc`.
pub fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .collect()
}

/// Live `jobctl` processes (ticks, supervisors, forced runs, waiting submits) of `env`.
pub fn jobctl_processes(env: &Env) -> Vec<i32> {
    let bin = std::fs::canonicalize(BIN).unwrap();
    let mark = format!("JOBCTL_HOME={}", env.home().display());
    all_pids()
        .into_iter()
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == bin)
                && environ_has(*p, &mark)
                && alive(*p)
        })
        .collect()
}

/// Pids of the processes of run `run_id` of the state in `state_dir` (their environment
/// holds `JOBCTL_RUN_ID` and `JOBCTL_STATE_DIR`): the live ones, and the zombies.
pub fn run_processes(state_dir: &Path, run_id: i64) -> (Vec<i32>, Vec<i32>) {
    let marks = [
        format!("JOBCTL_RUN_ID={run_id}"),
        format!("JOBCTL_STATE_DIR={}", state_dir.display()),
    ];
    let mut live = Vec::new();
    let mut zombies = Vec::new();
    for pid in all_pids() {
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let has = |m: &str| env.split(|b| *b == 0).any(|x| x == m.as_bytes());
        if marks.iter().all(|m| has(m)) {
            if proc_state(pid) == Some('Z') {
                zombies.push(pid)
            } else {
                live.push(pid)
            }
        }
    }
    (live, zombies)
}

/// Live and zombie processes whose process group is `pgid`.
pub fn group_members(pgid: i64) -> (Vec<i32>, Vec<i32>) {
    let (mut live, mut zombies) = (Vec::new(), Vec::new());
    for pid in all_pids() {
        let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(i) = s.rfind(')') else { continue };
        let f: Vec<&str> = s[i + 2..].split(' ').collect();
        if f.len() > 2 && f[2].parse::<i64>().ok() == Some(pgid) {
            if f[0] == "Z" {
                zombies.push(pid)
            } else {
                live.push(pid)
            }
        }
    }
    (live, zombies)
}

/// Asserts nothing of run `id` is left: no process with its marks, nothing in its process
/// group, live or zombie.
#[track_caller]
pub fn assert_nothing_left(env: &Env, id: i64) {
    let (live, zombies) = run_processes(&env.state_dir(), id);
    assert!(
        live.is_empty() && zombies.is_empty(),
        "run {id} left processes: live {live:?}, zombies {zombies:?}"
    );
    if let Some(pgid) = super::stored_run(env, id).pgid {
        let (live, zombies) = group_members(pgid);
        let desc: Vec<String> = live
            .iter()
            .chain(&zombies)
            .map(|p| format!("{p}: {}", cmdline(*p)))
            .collect();
        assert!(
            live.is_empty() && zombies.is_empty(),
            "run {id}'s process group {pgid} is not empty: {desc:?}"
        );
    }
}

/// Pids of live processes (not this one) whose environment holds any of `marks`.
pub fn marked_pids(marks: &[String]) -> Vec<i32> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|pid| *pid != me && environ_has_any(*pid, marks))
        .collect()
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

/// The exit code and peak resident size (KiB) of `cmd`, run to its end with its stdout
/// into `out`. A forked child's peak starts at this process's size at the fork, so a test
/// that measures with it runs [`alone`](super::alone), in a small process of its own.
pub fn peak_rss_kib(mut cmd: Command, out: &Path) -> (i32, i64) {
    use std::os::unix::process::CommandExt;
    cmd.stdout(std::fs::File::create(out).unwrap());
    // A child made with vfork (std's default) starts its peak at this process's peak; a
    // forked one at this process's size now.
    // SAFETY: the closure does nothing, so it is async-signal-safe.
    unsafe { cmd.pre_exec(|| Ok(())) };
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 reaps this child, which std never waits
    // for afterwards (the handle is dropped without a wait).
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { nix::libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    drop(child);
    let code = if nix::libc::WIFEXITED(status) {
        nix::libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss)
}
