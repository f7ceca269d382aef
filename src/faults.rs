//! Crash points for the crash-resilience tests: with `JOBCTL_FAULT=<point>` in its
//! environment, jobctl SIGKILLs itself when it reaches that point, the way the OOM killer
//! or a power cut would. Unset (always, outside tests) it costs one cached env lookup.

use std::sync::OnceLock;

static FAULT: OnceLock<Option<String>> = OnceLock::new();

/// The named points, in the order a run passes them.
pub const POINTS: &[&str] = &[
    "tick_after_claim",
    "supervisor_start",
    "before_spawn",
    "after_reserve",
    "during_output",
    "before_end_record",
];

/// Dies here if `JOBCTL_FAULT` names this point.
pub fn point(name: &str) {
    let f = FAULT.get_or_init(|| std::env::var("JOBCTL_FAULT").ok().filter(|v| !v.is_empty()));
    if f.as_deref() == Some(name) {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
}
