//! Pausing and resuming a run (`jobctl pause`, `jobctl resume`, the API). What the run
//! should become, and who asks, is recorded in the store; its supervisor is asked through
//! the coordinator, stops (SIGSTOP) or continues (SIGCONT) the whole tree, and records the
//! move. These wait until it did, and say what came of it.
//!
//! Only `running` ⇄ `paused`: anything else is refused with the run and its state
//! ("cannot pause run 12: it is succeeded"); asking for the state a run is in already
//! changes nothing and succeeds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Engine;
use super::cancel::Target;
use super::views::RunView;
use crate::coord::{Request, StopRequest};
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, RunRecord, RunStatus, Transition};
use crate::exec::process::PauseControl;
use crate::fail;
use crate::store::Store;

/// How long a request waits for the supervisor to act on it.
const WAIT: Duration = Duration::from_secs(15);

/// What a pause or resume did to one run.
#[derive(Debug, Serialize)]
pub(crate) struct Controlled {
    #[serde(flatten)]
    pub(crate) run: RunView,
    /// `false`: the run was in that state already.
    pub(crate) changed: bool,
    #[serde(skip)]
    pub(crate) record: RunRecord,
}

/// Pauses the run (every running run of a job): its processes are stopped, its timeout
/// clock stands still, it keeps its lease and its slot.
pub(crate) fn pause(e: &mut Engine<'_>, target: Target<'_>, by: &Actor) -> Result<Vec<Controlled>> {
    set_paused(e, target, true, by)
}

/// Resumes the paused run (every paused run of a job).
pub(crate) fn resume(
    e: &mut Engine<'_>,
    target: Target<'_>,
    by: &Actor,
) -> Result<Vec<Controlled>> {
    set_paused(e, target, false, by)
}

fn set_paused(
    e: &mut Engine<'_>,
    target: Target<'_>,
    pause: bool,
    by: &Actor,
) -> Result<Vec<Controlled>> {
    e.recover()?;
    let runs = match target {
        Target::Run(id) => match e.store.get_run(id)? {
            Some(r) => vec![r],
            None => fail!(NotFound, "no run {id} in the history"),
        },
        Target::Job(j) => {
            e.cfg.job(j)?;
            let runs: Vec<RunRecord> = e
                .store
                .supervised_runs()?
                .into_iter()
                .filter(|r| {
                    r.job == j && matches!(r.status, RunStatus::Running | RunStatus::Paused)
                })
                .collect();
            if runs.is_empty() {
                fail!(NotFound, "job {j} has no running run");
            }
            runs
        }
    };
    runs.into_iter().map(|r| set_one(e, r, pause, by)).collect()
}

fn set_one(e: &mut Engine<'_>, run: RunRecord, pause: bool, by: &Actor) -> Result<Controlled> {
    let (verb, from, to, request) = if pause {
        (
            "pause",
            RunStatus::Running,
            RunStatus::Paused,
            Request::Pause,
        )
    } else {
        (
            "resume",
            RunStatus::Paused,
            RunStatus::Running,
            Request::Resume,
        )
    };
    let refused =
        |r: &RunRecord| Error::Conflict(format!("cannot {verb} run {}: it is {}", r.id, r.status));
    if run.status == to {
        return Ok(done(run, false));
    }
    if run.status != from {
        return Err(refused(&run));
    }
    // Events from here on say whether the supervisor did it (a resumed run may end
    // before its state is seen `running`).
    let since = e.store.last_event_id()?;
    match e.store.request_control(run.id, to, by)? {
        Some((_, true)) => {}
        Some((status, false)) => {
            return Err(refused(&RunRecord { status, ..run }));
        }
        None => fail!(NotFound, "no run {} in the history", run.id),
    }
    let sent = e.coord.request(run.lock_key(), run.id, request);
    if let StopRequest::Refused { pid, why } = sent {
        fail!(
            Failed,
            "can't signal the supervisor of run {} (pid {pid}): {why}",
            run.id
        );
    }
    // Sent; or not held yet (its supervisor, starting, acts on the request as it starts)
    // or any more (the run is ending); or gone (recovery closes the run). Its state says.
    let deadline = Instant::now() + WAIT;
    let mut next_recovery = Instant::now() + Duration::from_secs(1);
    loop {
        let Some(r) = e.store.get_run(run.id)? else {
            fail!(NotFound, "run {} vanished from the history", run.id);
        };
        if r.status == to {
            return Ok(done(r, true));
        }
        if r.status != from {
            let moved = e
                .store
                .events_after(Some(run.id), since, 100)?
                .iter()
                .any(|ev| {
                    ev.transition
                        .as_ref()
                        .is_some_and(|t| t.from == Some(from) && t.to == to)
                });
            return if moved {
                Ok(done(r, true))
            } else {
                Err(refused(&r))
            };
        }
        if Instant::now() > deadline {
            fail!(
                Failed,
                "run {} did not {verb} in time; its supervisor is pid {}",
                run.id,
                r.supervisor_pid
                    .map_or_else(|| "unknown".to_string(), |p| p.to_string())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
        if Instant::now() > next_recovery {
            e.recover()?;
            next_recovery = Instant::now() + Duration::from_secs(1);
        }
    }
}

fn done(r: RunRecord, changed: bool) -> Controlled {
    Controlled {
        run: RunView::from(&r),
        changed,
        record: r,
    }
}

/// The supervisor's side of pausing: asked on a control signal what the run should be
/// (from the store), and records each pause and resume with who asked. It has a store
/// handle of its own, the supervisor's being busy with the run: one the store shares
/// (PostgreSQL: the same connection and fence), else one opened on the state directory at
/// the first signal.
pub(crate) struct PauseRecorder {
    dir: PathBuf,
    run_id: i64,
    max_pause: Duration,
    store: Option<Box<dyn Store>>,
}

impl PauseRecorder {
    pub(crate) fn new(store: &dyn Store, run_id: i64, max_pause: Duration) -> PauseRecorder {
        PauseRecorder {
            dir: store.dir().to_path_buf(),
            run_id,
            max_pause,
            store: store.share(),
        }
    }

    fn store(&mut self) -> Option<&mut Box<dyn Store>> {
        if self.store.is_none() {
            match crate::store::open(&self.dir) {
                Ok(s) => self.store = Some(s),
                Err(err) => tracing::warn!("can't open the state to pause or resume: {err}"),
            }
        }
        self.store.as_mut()
    }

    fn record(&mut self) -> Option<RunRecord> {
        let id = self.run_id;
        self.store()?.get_run(id).ok().flatten()
    }
}

impl PauseControl for PauseRecorder {
    fn wanted(&mut self) -> Option<bool> {
        match self.record()?.wanted()? {
            RunStatus::Paused => Some(true),
            RunStatus::Running => Some(false),
            _ => None,
        }
    }

    fn changed(&mut self, paused: bool) {
        let by = self
            .record()
            .and_then(|r| r.control.map(|(_, by)| by))
            .unwrap_or(Actor::Supervisor);
        let (from, to, reason) = if paused {
            (
                RunStatus::Running,
                RunStatus::Paused,
                "its processes were stopped (SIGSTOP)",
            )
        } else {
            (
                RunStatus::Paused,
                RunStatus::Running,
                "its processes were continued (SIGCONT)",
            )
        };
        let id = self.run_id;
        let t = Transition::new(from, to, Some(reason.to_string()), by);
        if let Some(s) = self.store()
            && let Err(err) = s.transition(id, &t, to_ms(clock::real_now()))
        {
            tracing::warn!(run = id, "can't record the run {to}: {err}");
        }
    }

    fn max_pause(&self) -> Duration {
        self.max_pause
    }
}
