//! Finding, stopping (SIGSTOP) and ending every process of a run: its process group, the
//! descendants of its supervisor, and (on Linux) any process whose environment carries the
//! run's identity, which catches helpers that called `setsid()` or double-forked out of
//! the group. A process marked as not the run's (another run's supervisor, started from
//! inside this run and adopted by its supervisor) is left out, with all below it.
//!
//! Nothing here knows about runs or the database; callers pass the identity to match.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// The environment entry of a detached supervisor (`jobctl supervise`): a run it
/// supervises is its own, never the run of the process that started it (a sub-run
/// submitted from inside a run is adopted by that run's supervisor, a subreaper).
pub(crate) const SUPERVISOR_MARK: (&str, &str) = ("JOBCTL_SUPERVISOR", "1");

/// [`SUPERVISOR_MARK`] as it appears in an environment.
pub(crate) fn supervisor_mark() -> String {
    format!("{}={}", SUPERVISOR_MARK.0, SUPERVISOR_MARK.1)
}

/// What identifies a run's processes.
#[derive(Debug, Clone)]
pub(crate) struct RunIdentity {
    /// The process group the job was started in (its leader's pid).
    pub(crate) pgid: Option<i32>,
    /// `NAME=value` entries that all must be in a process's environment.
    pub(crate) env_marks: Vec<String>,
    /// A process whose descendants belong to the run (the supervisor itself), if alive.
    pub(crate) ancestor: Option<i32>,
    /// When known, a start time (clock ticks since boot, as in `/proc/PID/stat`) before
    /// which no process of the run started: older processes can't carry the run's
    /// environment marks, so theirs is not read. Most of a machine's processes are older
    /// than any run, and reading every environment made each run's end cost a `/proc`
    /// file per process.
    pub(crate) not_before: Option<u64>,
    /// An environment entry (`NAME=value`) of processes that are not the run's even when
    /// they are below it: they, and everything below them, are left out.
    pub(crate) foreign: Option<String>,
}

impl RunIdentity {
    /// The start time of this process, for [`RunIdentity::not_before`] of runs it starts.
    pub(crate) fn my_start() -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            read_stat(std::process::id() as i32).map(|p| p.start)
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }
}

#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct ProcInfo {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    zombie: bool,
    /// Stopped by a signal (state `T`) or traced (`t`).
    stopped: bool,
    /// Start time in clock ticks since boot.
    start: u64,
}

#[cfg(target_os = "linux")]
fn read_stat(pid: i32) -> Option<ProcInfo> {
    use std::io::Read;
    // One read into a buffer: a stat line is a few hundred bytes, and this runs for every
    // process on the machine (read_to_string would stat the file and read twice).
    let mut buf = [0u8; 1024];
    let mut f = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let n = f.read(&mut buf).ok()?;
    let s = std::str::from_utf8(&buf[..n]).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    // Fields from the 3rd (state) on: ppid is the 4th, pgrp the 5th, starttime the 22nd.
    let f: Vec<&str> = rest.split(' ').take(20).collect();
    Some(ProcInfo {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        zombie: matches!(*f.first()?, "Z" | "X"),
        stopped: matches!(*f.first()?, "T" | "t"),
        start: f.get(19)?.parse().ok()?,
    })
}

#[cfg(target_os = "linux")]
fn all_processes() -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_stat)
        .collect()
}

/// Whether `pid`'s environment holds every one of `marks` (false for none), and whether
/// it holds `foreign`.
#[cfg(target_os = "linux")]
fn env_of(pid: i32, marks: &[String], foreign: Option<&str>) -> (bool, bool) {
    if marks.is_empty() && foreign.is_none() {
        return (false, false);
    }
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return (false, false);
    };
    let has = |m: &[u8]| env.split(|b| *b == 0).any(|entry| entry == m);
    (
        !marks.is_empty() && marks.iter().all(|m| has(m.as_bytes())),
        foreign.is_some_and(|f| has(f.as_bytes())),
    )
}

/// The live (non-zombie) processes of a run, never including this process.
#[cfg(target_os = "linux")]
pub(crate) fn members(id: &RunIdentity) -> Vec<i32> {
    members_info(id).into_iter().map(|p| p.pid).collect()
}

#[cfg(target_os = "linux")]
fn members_info(id: &RunIdentity) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let procs = all_processes();
    let mut set: Vec<ProcInfo> = Vec::new();
    let mut foreign: Vec<i32> = Vec::new();
    let mut roots: Vec<i32> = id.ancestor.into_iter().collect();
    for p in &procs {
        if p.pid == me || p.zombie {
            continue;
        }
        let may_carry_marks = id.not_before.is_none_or(|t| p.start >= t);
        let (marked, other) = if may_carry_marks {
            env_of(p.pid, &id.env_marks, id.foreign.as_deref())
        } else {
            (false, false)
        };
        if other {
            foreign.push(p.pid);
            continue;
        }
        if id.pgid.is_some_and(|g| g == p.pgrp) || marked {
            set.push(*p);
            roots.push(p.pid);
        }
    }
    // Descendants of the ancestor and of every member found so far.
    let mut changed = true;
    while changed {
        changed = false;
        for p in &procs {
            if p.pid != me
                && !p.zombie
                && !foreign.contains(&p.pid)
                && !set.iter().any(|s| s.pid == p.pid)
                && roots.contains(&p.ppid)
            {
                set.push(*p);
                roots.push(p.pid);
                changed = true;
            }
        }
    }
    set
}

/// SIGSTOP to every process of the run, again and again, until each one found is stopped
/// (one that forked meanwhile is found the next time) or `limit` passes. Returns how many
/// were still not stopped.
#[cfg(target_os = "linux")]
pub(crate) fn stop_all(id: &RunIdentity, limit: Duration) -> usize {
    let until = Instant::now() + limit;
    loop {
        let running: Vec<i32> = members_info(id)
            .into_iter()
            .filter(|p| !p.stopped)
            .map(|p| p.pid)
            .collect();
        if running.is_empty() {
            return 0;
        }
        signal_all(id, &running, Signal::SIGSTOP);
        if Instant::now() >= until {
            return running.len();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Without /proc, the process group is stopped and taken as stopped.
#[cfg(not(target_os = "linux"))]
pub(crate) fn stop_all(id: &RunIdentity, _limit: Duration) -> usize {
    signal_all(id, &[], Signal::SIGSTOP);
    0
}

/// SIGCONT to every process of the run.
pub(crate) fn continue_all(id: &RunIdentity) {
    signal_all(id, &members(id), Signal::SIGCONT);
}

/// Without /proc only the process group can be found (best-effort, documented).
#[cfg(not(target_os = "linux"))]
pub(crate) fn members(id: &RunIdentity) -> Vec<i32> {
    match id.pgid {
        Some(g) if killpg(Pid::from_raw(g), None).is_ok() => vec![-g],
        _ => Vec::new(),
    }
}

pub(crate) fn signal_all(id: &RunIdentity, pids: &[i32], sig: Signal) {
    if let Some(g) = id.pgid {
        // "Already gone" is success.
        let _ = killpg(Pid::from_raw(g), sig);
    }
    for &p in pids {
        let _ = if p < 0 {
            killpg(Pid::from_raw(-p), sig)
        } else {
            kill(Pid::from_raw(p), sig)
        };
    }
}

pub(crate) use crate::core::run::Survivor;

impl Survivor {
    /// Who each of `pids` is, as far as can still be read.
    pub(crate) fn describe(pids: &[i32]) -> Vec<Survivor> {
        pids.iter()
            .filter(|p| **p > 0)
            .map(|&pid| Survivor {
                pid,
                user: owner(pid),
                start: start_of(pid),
            })
            .collect()
    }

    /// Whether this very process (not a reuse of its pid) is still alive.
    pub(crate) fn alive(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            read_stat(self.pid).is_some_and(|p| !p.zombie && Some(p.start) == self.start)
        }
        #[cfg(not(target_os = "linux"))]
        {
            kill(Pid::from_raw(self.pid), None).is_ok()
        }
    }
}

/// `N processes could not be killed (pid 12 user root, ...)`.
pub(crate) fn survivors_text(s: &[Survivor]) -> String {
    let list: Vec<String> = s
        .iter()
        .map(|s| format!("pid {} user {}", s.pid, s.user))
        .collect();
    let n = s.len();
    let what = if n == 1 { "process" } else { "processes" };
    format!("{n} {what} could not be killed ({})", list.join(", "))
}

fn start_of(pid: i32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        read_stat(pid).map(|p| p.start)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// The effective user of `pid`: the one whose rights decide who may signal it.
fn owner(pid: i32) -> String {
    #[cfg(target_os = "linux")]
    let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1)?.parse::<u32>().ok())
        });
    #[cfg(not(target_os = "linux"))]
    let uid: Option<u32> = {
        let _ = pid;
        None
    };
    match uid {
        Some(u) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(u))
            .ok()
            .flatten()
            .map_or_else(|| u.to_string(), |user| user.name),
        None => "unknown".into(),
    }
}

/// Reaps every exited child of this process without blocking; returns the statuses.
pub(crate) fn reap_children() -> Vec<WaitStatus> {
    let mut out = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) | Err(_) => break,
            Ok(s) => out.push(s),
        }
    }
    out
}

/// SIGTERM to everything of the run, SIGKILL after `grace` to whatever is left, until
/// nothing is left (or `limit` passes). `on_reap` sees every child status reaped meanwhile.
/// Returns the number of processes that were still alive at the end (0 = all gone).
pub(crate) fn terminate(
    id: &RunIdentity,
    grace: Duration,
    limit: Duration,
    on_reap: &mut dyn FnMut(WaitStatus),
) -> usize {
    let start = Instant::now();
    let mut step = |sig: Option<Signal>, until: Instant| -> usize {
        let mut sent = false;
        loop {
            for s in reap_children() {
                on_reap(s);
            }
            let left = members(id);
            if left.is_empty() {
                return 0;
            }
            if let Some(sig) = sig
                && !sent
            {
                signal_all(id, &left, sig);
                // A stopped (paused) process handles SIGTERM only once it runs again.
                signal_all(id, &left, Signal::SIGCONT);
                sent = true;
            } else if sig == Some(Signal::SIGKILL) {
                // New forks may appear while killing: keep killing what is found.
                signal_all(id, &left, Signal::SIGKILL);
            }
            if Instant::now() >= until {
                return left.len();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    if step(Some(Signal::SIGTERM), start + grace) == 0 {
        return 0;
    }
    step(
        Some(Signal::SIGKILL),
        start + limit.max(grace + Duration::from_secs(1)),
    )
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_past_a_command_name_with_spaces_and_parens() {
        // `sleep` under a name with the characters that break naive parsing (a symlink:
        // the command name comes from the path executed).
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a) b (c");
        std::os::unix::fs::symlink("/bin/sleep", &odd).unwrap();
        let mut child = std::process::Command::new(&odd).arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        let raw = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(raw.contains("(a) b (c)"), "{raw}");
        let info = read_stat(pid).expect("stat of a live child");
        let me = read_stat(std::process::id() as i32).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(info.ppid, std::process::id() as i32);
        assert_eq!(info.pgrp, me.pgrp);
        assert!(!info.zombie);
        // A child starts no earlier than its parent: the basis of `not_before`.
        assert!(info.start >= me.start, "{} < {}", info.start, me.start);
        assert_eq!(RunIdentity::my_start(), Some(me.start));
    }

    #[test]
    fn a_survivor_is_alive_only_as_the_process_it_was() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let s = Survivor::describe(&[pid]).remove(0);
        let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
            .unwrap()
            .unwrap();
        assert_eq!(s.user, me.name);
        assert!(s.alive());
        // The same pid with another start time is another process.
        let reused = Survivor {
            start: s.start.map(|t| t + 1),
            ..s.clone()
        };
        assert!(!reused.alive());
        assert_eq!(
            survivors_text(std::slice::from_ref(&s)),
            format!("1 process could not be killed (pid {pid} user {})", me.name)
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!s.alive());
    }
}
