//! Crash points for the crash-resilience tests: with `JOBCTL_FAULT=<point>` in its
//! environment, jobctl SIGKILLs itself when it reaches that point, the way the OOM killer
//! or a power cut would. Unset (always, outside tests) it costs one cached env lookup.
//!
//! Pause points widen a race for the concurrency tests: with `JOBCTL_PAUSE=<point>:<ms>`
//! jobctl creates the file `$JOBCTL_PAUSE_MARK` (so a test knows it is there) and waits.

use std::sync::OnceLock;

static FAULT: OnceLock<Option<String>> = OnceLock::new();

/// The named points, in the order a run passes them.
pub const POINTS: &[&str] = &[
    // A submitted run is recorded `queued`, not yet started.
    "enqueue_after_record",
    // Whoever drains the queue chose the next run to start.
    "drain_before_claim",
    // ... and recorded it `running`, before its supervisor exists.
    "drain_after_claim",
    "tick_after_claim",
    "supervisor_start",
    "after_reserve",
    "before_spawn",
    "after_spawn",
    "during_output",
    // A pause stopped the run's processes, before it is recorded `paused`.
    "pause_after_stop",
    "before_end_record",
    // A failed attempt and its retry are recorded; its backoff has not begun.
    "retry_after_record",
];

/// Points only a run with a workspace passes (between recording its worktree and
/// making it).
pub const WORKSPACE_POINTS: &[&str] = &["before_worktree"];

/// Dies here if `JOBCTL_FAULT` names this point.
pub(crate) fn point(name: &str) {
    let f = FAULT.get_or_init(|| std::env::var("JOBCTL_FAULT").ok().filter(|v| !v.is_empty()));
    if f.as_deref() == Some(name) {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
}

static PAUSE: OnceLock<Option<(String, u64)>> = OnceLock::new();

/// Waits here if `JOBCTL_PAUSE` names this point.
pub(crate) fn pause(name: &str) {
    let p = PAUSE.get_or_init(|| {
        let v = std::env::var("JOBCTL_PAUSE").ok()?;
        let (point, ms) = v.split_once(':')?;
        Some((point.to_string(), ms.parse().ok()?))
    });
    if let Some((point, ms)) = p
        && point == name
    {
        if let Some(mark) = std::env::var_os("JOBCTL_PAUSE_MARK") {
            let _ = std::fs::write(mark, name);
        }
        std::thread::sleep(std::time::Duration::from_millis(*ms));
    }
}
