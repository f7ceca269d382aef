//! Pausing a run's processes: on a control signal the supervisor asks what the run should
//! be, stops its whole tree (SIGSTOP, escapees too, until each is stopped) or continues it
//! (SIGCONT), and has the change recorded. While paused, the timeout clock stands still.

use std::time::Duration;

use tokio::time::Instant;

use super::process::Signals;
use super::proctree::{self, RunIdentity};

/// Pausing a run: asked what the run should be when a control signal comes, and told
/// when its processes were stopped or continued (to record it).
pub(crate) trait PauseControl {
    /// Whether the run should be paused now (`None`: leave it as it is).
    fn wanted(&mut self) -> Option<bool>;
    /// Its processes were stopped (`true`) or continued.
    fn changed(&mut self, paused: bool);
    /// How long it may stay paused before it is stopped.
    fn max_pause(&self) -> Duration;
}

/// A control signal came: asks what the run should be, and stops (SIGSTOP, the whole
/// tree) or continues (SIGCONT) its processes to match, then says so. Returns what it
/// did: paused (`true`), resumed, or nothing.
pub(super) fn pause_or_resume(
    signals: &mut Signals,
    identity: &RunIdentity,
    paused_since: &mut Option<Instant>,
) -> Option<bool> {
    let control = signals.control.as_mut()?;
    match (control.wanted(), *paused_since) {
        (Some(true), None) => {
            // A process in the kernel (state D) stops when it leaves it: wait for that.
            // Paused from the first SIGSTOP: time spent making sure every process stopped
            // is not the run's time.
            let since = Instant::now();
            let left = proctree::stop_all(identity, Duration::from_secs(10));
            if left > 0 {
                tracing::warn!("{left} processes of the run did not stop");
            }
            crate::faults::point("pause_after_stop");
            *paused_since = Some(since);
            control.changed(true);
            Some(true)
        }
        (Some(false), Some(since)) => {
            proctree::continue_all(identity);
            signals.paused_for += since.elapsed();
            *paused_since = None;
            control.changed(false);
            Some(false)
        }
        _ => None,
    }
}
