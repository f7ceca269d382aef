//! Reaping: every child of the scheduler that ended is waited for, so none stays a zombie.
//! Its children are the supervisors it starts (detached, but still its children until
//! they end) and, when it is a container's PID 1, every orphan of the container, which the
//! kernel reparents to it. Only ever called between ticks: nothing else in the scheduler
//! waits for a child of its own then.

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use serde_json::json;

use super::Log;

/// Waits for every child that has ended, without blocking.
pub(super) fn all_children(log: &Log) {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(WaitStatus::Exited(pid, code)) => {
                log.event("reaped", json!({"pid": pid.as_raw(), "exit": code}))
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => log.event(
                "reaped",
                json!({"pid": pid.as_raw(), "signal": sig.as_str()}),
            ),
            Ok(_) => {}
        }
    }
}
