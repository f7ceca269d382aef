//! Retries: whether a run that just ended gets another attempt (`retries`, `retry_on`,
//! never a skipped, cancelled or lost run, nor an agent run that failed for auth or quota:
//! the fallback walk handled those), how long its supervisor waits first
//! (`retry_backoff`, doubled each time up to `retry_backoff_max`, ±10% jitter), and the
//! new run it makes: `trigger = retry`, `retry_of` the first attempt, the same slot.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::Engine;
use crate::config::{Job, JobControl};
use crate::core::clock::{self, to_ms};
use crate::core::error::Result;
use crate::core::run::{Actor, NewRun, Outcome, RunEnd, RunRecord, RunStatus, Trigger};
use crate::core::units::format_duration;
use crate::exec::signal::{Event, Handler, Listen, Requests};

/// Another attempt to make, and when.
pub(crate) struct Retry {
    pub(crate) new: NewRun,
    pub(crate) delay: Duration,
}

/// The retry of `run`, ended `end`, if it gets one. `interrupted`: jobctl itself was
/// told to stop (no retry then).
pub(crate) fn plan(
    job: &Job,
    run: &RunRecord,
    end: &RunEnd,
    interrupted: bool,
    now: i64,
) -> Option<Retry> {
    let c = job.control();
    let retried = matches!(end.status, RunStatus::Failed | RunStatus::TimedOut)
        && c.retry_on.contains(end.status)
        && run.attempt <= c.retries
        && !interrupted
        && !end
            .attempts
            .last()
            .is_some_and(|a| matches!(a.outcome, Outcome::AuthFailed | Outcome::QuotaExhausted));
    if !retried {
        return None;
    }
    let delay = backoff(c, run.attempt, jitter());
    let attempt = run.attempt + 1;
    Some(Retry {
        new: NewRun {
            job: run.job.clone(),
            forced: run.forced,
            scheduled_for: run.scheduled_for,
            started_at: now,
            supervisor_pid: Some(i64::from(std::process::id())),
            scope: None,
            last_slot: None,
            lock_name: run.lock_name.clone(),
            trigger: Trigger::Retry,
            parent_run_id: run.parent_run_id,
            depth: run.depth,
            attempt,
            retry_of: Some(run.retry_of.unwrap_or(run.id)),
            rerun_of: None,
            prompt: run.prompt.clone(),
            env: run.env.clone(),
            metadata: run.metadata.clone(),
            by: Actor::Supervisor,
            reason: Some(format!(
                "attempt {attempt} of {} after run {} {}; starts in {}",
                c.retries + 1,
                run.id,
                end.status,
                format_duration(delay)
            )),
        },
        delay,
    })
}

/// Waits out a retry's backoff, unless it is cancelled meanwhile (a stop signal, or a
/// cancel recorded before its supervisor could be signalled): then the retry's end and
/// the signal, if one came.
pub(crate) fn wait_backoff(
    e: &mut Engine<'_>,
    rt: &tokio::runtime::Runtime,
    requests: &Requests,
    id: i64,
    delay: Duration,
) -> Result<Option<(RunEnd, Option<Signal>)>> {
    let cancelled = |by: Actor, why: String| {
        let mut end = RunEnd::new(RunStatus::Cancelled, to_ms(clock::real_now()));
        end.error = Some(why.into());
        end.by = by;
        end
    };
    if let Some(r) = e.store.get_run(id)?
        && let Some((RunStatus::Cancelled, by)) = r.control
    {
        let who =
            super::cancel::canceller(&*e.store, id).unwrap_or_else(|| format!("cancelled by {by}"));
        let why = format!("{who} during its retry backoff");
        return Ok(Some((cancelled(by, why), None)));
    }
    let got: Option<Signal> = rt.block_on(async {
        let mut events = Handler::install(Listen::Supervisor)?.with_requests(requests);
        let stopped = async {
            loop {
                if let Event::Stop(stop) = events.recv().await {
                    return stop.signal();
                }
            }
        };
        let got = tokio::select! {
            _ = tokio::time::sleep(delay) => None,
            sig = stopped => Some(sig),
        };
        anyhow::Ok(got)
    })?;
    let Some(sig) = got else {
        return Ok(None);
    };
    let by = e
        .store
        .get_run(id)?
        .and_then(|r| match r.control {
            Some((RunStatus::Cancelled, by)) => Some(by),
            _ => None,
        })
        .unwrap_or(Actor::Supervisor);
    let why = match super::cancel::canceller(&*e.store, id) {
        Some(who) => format!("{who} during its retry backoff"),
        None => format!("cancelled during its retry backoff: jobctl received {sig}"),
    };
    Ok(Some((cancelled(by, why), Some(sig))))
}

/// The wait before the retry of attempt `attempt` (1 = the first run):
/// `retry_backoff × 2^(attempt-1)`, at most `retry_backoff_max`, moved by `jitter` × 10%
/// (`jitter` in -1..=1).
pub(crate) fn backoff(c: &JobControl, attempt: u32, jitter: f64) -> Duration {
    let doubled = c
        .retry_backoff
        .checked_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .unwrap_or(Duration::MAX);
    let base = doubled.min(c.retry_backoff_max);
    base.mul_f64((1.0 + 0.1 * jitter.clamp(-1.0, 1.0)).max(0.0))
}

/// A number in -1..=1, different in every process and call: std's hasher keys are
/// random per process (a crate for one jitter would be more than it is worth).
fn jitter() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() as f64 / u64::MAX as f64) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(backoff: u64, max: u64) -> JobControl {
        JobControl {
            retries: 5,
            retry_backoff: Duration::from_secs(backoff),
            retry_backoff_max: Duration::from_secs(max),
            ..Default::default()
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_maximum_within_ten_percent() {
        let c = control(30, 100);
        assert_eq!(backoff(&c, 1, 0.0), Duration::from_secs(30));
        assert_eq!(backoff(&c, 2, 0.0), Duration::from_secs(60));
        assert_eq!(backoff(&c, 3, 0.0), Duration::from_secs(100), "capped");
        assert_eq!(
            backoff(&c, 40, 0.0),
            Duration::from_secs(100),
            "no overflow"
        );
        assert_eq!(backoff(&c, 1, 1.0), Duration::from_secs(33));
        assert_eq!(backoff(&c, 1, -1.0), Duration::from_secs(27));
        for _ in 0..100 {
            let j = jitter();
            assert!((-1.0..=1.0).contains(&j), "{j}");
        }
    }
}
