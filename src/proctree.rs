//! Finding and stopping every process of a run: its process group, the descendants of its
//! supervisor, and (on Linux) any process whose environment carries the run's identity,
//! which catches helpers that called `setsid()` or double-forked out of the group.
//!
//! Nothing here knows about runs or the database; callers pass the identity to match.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// What identifies a run's processes.
#[derive(Debug, Clone)]
pub struct RunIdentity {
    /// The process group the job was started in (its leader's pid).
    pub pgid: Option<i32>,
    /// `NAME=value` entries that all must be in a process's environment.
    pub env_marks: Vec<String>,
    /// A process whose descendants belong to the run (the supervisor itself), if alive.
    pub ancestor: Option<i32>,
}

#[derive(Debug, Clone, Copy)]
struct ProcInfo {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    zombie: bool,
}

#[cfg(target_os = "linux")]
fn read_stat(pid: i32) -> Option<ProcInfo> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some(ProcInfo {
        pid,
        ppid,
        pgrp,
        zombie: state == "Z" || state == "X",
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

#[cfg(target_os = "linux")]
fn env_matches(pid: i32, marks: &[String]) -> bool {
    if marks.is_empty() {
        return false;
    }
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    marks
        .iter()
        .all(|m| env.split(|b| *b == 0).any(|entry| entry == m.as_bytes()))
}

/// The live (non-zombie) processes of a run, never including this process.
#[cfg(target_os = "linux")]
pub fn members(id: &RunIdentity) -> Vec<i32> {
    let me = std::process::id() as i32;
    let procs = all_processes();
    let mut set: Vec<i32> = Vec::new();
    let mut roots: Vec<i32> = id.ancestor.into_iter().collect();
    for p in &procs {
        if p.pid == me || p.zombie {
            continue;
        }
        if id.pgid.is_some_and(|g| g == p.pgrp) || env_matches(p.pid, &id.env_marks) {
            set.push(p.pid);
            roots.push(p.pid);
        }
    }
    // Descendants of the ancestor and of every member found so far.
    let mut changed = true;
    while changed {
        changed = false;
        for p in &procs {
            if p.pid != me && !p.zombie && !set.contains(&p.pid) && roots.contains(&p.ppid) {
                set.push(p.pid);
                roots.push(p.pid);
                changed = true;
            }
        }
    }
    set
}

/// Without /proc only the process group can be found (best-effort, documented).
#[cfg(not(target_os = "linux"))]
pub fn members(id: &RunIdentity) -> Vec<i32> {
    match id.pgid {
        Some(g) if killpg(Pid::from_raw(g), None).is_ok() => vec![-g],
        _ => Vec::new(),
    }
}

pub fn signal_all(id: &RunIdentity, pids: &[i32], sig: Signal) {
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

/// Reaps every exited child of this process without blocking; returns the statuses.
pub fn reap_children() -> Vec<WaitStatus> {
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
pub fn terminate(
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
