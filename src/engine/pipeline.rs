//! The one run pipeline: every run (a scheduled run's detached supervisor, a forced run,
//! an `ask`) goes through [`supervise`]: prepare → execute → finalize, with a
//! [`RunContext`] holding what the steps share.
//!
//! - prepare: become the reaper of the run's orphans, say who holds the lease, record the
//!   supervisor, start the event loop, handle the stop signals, open the run log, build
//!   the environment; for a job, make its workspace and run its `pre_run` hook
//!   ([`job_run`](super::job_run));
//! - execute: the script, or the agent call with its fallback walk ([`execute`](super::execute));
//! - finalize: for a job, settle its workspace (commit, push), run its `post_run` and
//!   `on_success`/`on_failure` hooks, keep or remove its worktree; trim the log, note
//!   survivors, record the end exactly once (or the end and the retry that follows it:
//!   then the same supervisor, still holding the lease, waits out the backoff and runs the
//!   retry through the same steps), cancel the children still running (unless the job
//!   abandons them), prune history, release the lease, queue the jobs that needed this
//!   one, and start what the freed slot lets start.
//!
//! When jobctl itself fails mid-run (the log or the store can't be written), nothing of the
//! run may outlive it: the tree is stopped and the run closed `failed` with the reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::Signal;

use super::Engine;
use super::control::PauseRecorder;
use super::env::run_marks;
use super::retry;
use crate::config::{Job, Thinking};
use crate::coord::{Lease, LeaseNews};
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, RunEnd, RunRecord, RunStatus, Transition};
use crate::exec::logfile::LogFile;
use crate::exec::process::{Echo, Signals};
use crate::exec::proctree::{self, RunIdentity, Survivor};
use crate::exec::signal::{Event, Handler, Listen, Requests, Stop};
use crate::store::Store;

/// What a run does.
pub(crate) enum Work<'a> {
    /// A job of the config, script or agent.
    Job(&'a Job),
    /// One `jobctl ask` call.
    Ask(AskWork<'a>),
}

/// An `ask`: one agent call without tools.
pub(crate) struct AskWork<'a> {
    pub(crate) scope: &'a str,
    pub(crate) first: Option<&'a str>,
    pub(crate) thinking: Thinking,
    pub(crate) prompt: &'a str,
    pub(crate) timeout: Duration,
}

impl Work<'_> {
    fn name(&self) -> &str {
        match self {
            Work::Job(j) => &j.name,
            Work::Ask(_) => crate::core::run::ASK_JOB,
        }
    }

    fn timeout(&self) -> Duration {
        match self {
            Work::Job(j) => j.timeout,
            Work::Ask(a) => a.timeout,
        }
    }
}

/// What became of a supervised run.
pub(crate) struct Supervised {
    pub(crate) record: RunRecord,
    /// Set when jobctl itself was told to stop (exit 128 + N: 130, 143, 129).
    pub(crate) interrupted: Option<Signal>,
    /// An agent's answer.
    pub(crate) answer: Option<String>,
}

/// What the steps of one run share.
pub(crate) struct RunContext {
    pub(crate) run: RunRecord,
    pub(crate) echo: Echo,
    pub(crate) state_dir: PathBuf,
    pub(crate) log: LogFile,
    pub(crate) signals: Signals,
    pub(crate) deadline: tokio::time::Instant,
    /// Where the job runs when not in its `workdir` (its worktree).
    pub(crate) workdir: Option<PathBuf>,
    /// Variables the job gets besides its own (the workspace's).
    pub(crate) extra_env: Vec<(&'static str, String)>,
}

/// How the execute step ended.
pub(super) struct Executed {
    pub(crate) end: RunEnd,
    pub(crate) interrupted: Option<Signal>,
    pub(crate) answer: Option<String>,
}

/// Runs `run` to its end (and its retries, if it gets any), holding `lease` until the
/// end is recorded.
pub(crate) fn supervise(
    e: &mut Engine<'_>,
    work: Work<'_>,
    mut run: RunRecord,
    mut lease: Box<dyn Lease>,
    echo: Echo,
) -> Result<Supervised> {
    crate::faults::point("supervisor_start");
    become_subreaper();
    // Every write about the run (and its retries) from here on holds only while the lease
    // is this process's; its keeper reports requests and a lease lost.
    e.store.set_fence(lease.fence());
    let current = Arc::new(AtomicI64::new(run.id));
    let requests = Requests::default();
    if let Some(news) = lease.keep() {
        watch_lease(news, requests.clone(), Arc::clone(&current), e.state_dir());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("can't start the supervisor's event loop")?;
    let job_name = work.name().to_string();
    let is_ask = matches!(work, Work::Ask(_));
    let me = std::process::id();
    loop {
        current.store(run.id, Ordering::Relaxed);
        lease.set_holder(me, run.id);
        e.store.set_run_process(run.id, i64::from(me), None)?;
        let done = attempt(e, &rt, &work, run.clone(), echo, &requests);
        let retry = match &work {
            Work::Job(job) => retry::plan(
                job,
                &run,
                &done.end,
                done.interrupted.is_some(),
                to_ms(clock::real_now()),
            ),
            Work::Ask(_) => None,
        };
        let Some(retry) = retry else {
            return finalize(e, run.id, &job_name, done, lease, is_ask);
        };
        crate::faults::point("before_end_record");
        let Some((closed, next)) = e.store.finish_and_retry(run.id, &done.end, &retry.new)? else {
            // Closed by someone else meanwhile: no retry of it.
            return finalize(e, run.id, &job_name, done, lease, is_ask);
        };
        super::tree::on_end(e, &closed, &Actor::Supervisor);
        crate::faults::point("retry_after_record");
        current.store(next.id, Ordering::Relaxed);
        lease.set_holder(me, next.id);
        e.store.set_run_process(next.id, i64::from(me), None)?;
        tracing::info!(
            run = next.id,
            "retry of run {} in {:?}",
            closed.id,
            retry.delay
        );
        match retry::wait_backoff(e, &rt, &requests, next.id, retry.delay)? {
            None => {
                let t = Transition::new(
                    RunStatus::Retrying,
                    RunStatus::Running,
                    Some("its backoff is over".into()),
                    Actor::Supervisor,
                );
                e.store.transition(next.id, &t, to_ms(clock::real_now()))?;
                run = e.store.get_run(next.id)?.unwrap_or(next);
            }
            Some((end, interrupted)) => {
                let done = Executed {
                    end,
                    interrupted,
                    answer: None,
                };
                return finalize(e, next.id, &job_name, done, lease, is_ask);
            }
        }
    }
}

/// One attempt through prepare → execute; jobctl's own failure stops what is left of it.
fn attempt(
    e: &mut Engine<'_>,
    rt: &tokio::runtime::Runtime,
    work: &Work<'_>,
    run: RunRecord,
    echo: Echo,
    requests: &Requests,
) -> Executed {
    let run_id = run.id;
    let ship = super::logship::start(
        &*e.store,
        run.id,
        PathBuf::from(run.log_path.clone().unwrap_or_default()),
        e.cfg.runner.log_max_bytes,
    );
    let outcome: Result<(Executed, Vec<Survivor>)> = rt.block_on(async {
        let mut cx = prepare(e, work, run, echo, requests)?;
        let executed = match cancelled_before_start(&*e.store, &cx.run) {
            Some(end) => end,
            None => execute(e, &mut cx, work).await?,
        };
        finish_log(cx.log)?;
        Ok((executed, std::mem::take(&mut cx.signals.survivors)))
    });
    let mut done = match outcome {
        Ok((mut x, survivors)) => {
            // SIGINT to a run in the foreground of a terminal is the Ctrl-C typed there.
            let ctrl_c = x.interrupted == Some(nix::sys::signal::Signal::SIGINT)
                && echo != Echo::Off
                && std::io::IsTerminal::is_terminal(&std::io::stdin());
            if ctrl_c {
                x.end.interrupted_at_terminal();
            } else if x.interrupted.is_some() {
                super::cancel::name_the_canceller(&*e.store, run_id, &mut x.end);
            }
            Executed {
                end: with_survivors(x.end, &survivors),
                ..x
            }
        }
        Err(err) => stop_after_failure(e, run_id, &err),
    };
    if let Some(ship) = ship {
        ship.finish();
    }
    if done.end.status == RunStatus::Cancelled
        && let Ok(Some(r)) = e.store.get_run(run_id)
        && let Some((RunStatus::Cancelled, by)) = r.control
    {
        done.end.by = by;
    }
    done
}

/// A run cancelled before its supervisor could be asked (a request made while it was
/// starting): it ends so without starting anything.
fn cancelled_before_start(store: &dyn Store, run: &RunRecord) -> Option<Executed> {
    let (RunStatus::Cancelled, by) = run.control.clone()? else {
        return None;
    };
    let who =
        super::cancel::canceller(store, run.id).unwrap_or_else(|| format!("cancelled by {by}"));
    let mut end = RunEnd::new(RunStatus::Cancelled, to_ms(clock::real_now()));
    end.error = Some(format!("{who} before it started").into());
    end.by = by;
    Some(Executed {
        end,
        interrupted: None,
        answer: None,
    })
}

fn prepare(
    e: &mut Engine<'_>,
    work: &Work<'_>,
    run: RunRecord,
    echo: Echo,
    requests: &Requests,
) -> Result<RunContext> {
    let events = Handler::install(Listen::Supervisor).map_err(Error::Internal)?;
    let mut signals = Signals::new(events.with_requests(requests));
    // Read after the lease names this supervisor: a request recorded before that is seen
    // here, one recorded after it comes with a signal.
    let run = e.store.get_run(run.id)?.unwrap_or(run);
    let max_pause = match work {
        Work::Job(job) => e.cfg.max_pause(job),
        Work::Ask(_) => e.cfg.runner.max_pause,
    };
    signals.control = Some(Box::new(PauseRecorder::new(&*e.store, run.id, max_pause)));
    signals.control_pending = run.wanted() == Some(RunStatus::Paused);
    let log_path = run.log_path.clone().unwrap_or_default();
    let log = LogFile::create(Path::new(&log_path), e.cfg.runner.log_max_bytes)
        .map_err(Error::Internal)?;
    let deadline = tokio::time::Instant::now() + work.timeout();
    Ok(RunContext {
        run,
        echo,
        state_dir: e.state_dir().to_path_buf(),
        log,
        signals,
        deadline,
        workdir: None,
        extra_env: Vec::new(),
    })
}

async fn execute(e: &mut Engine<'_>, cx: &mut RunContext, work: &Work<'_>) -> Result<Executed> {
    match work {
        Work::Job(job) => super::job_run::run(e, cx, job).await,
        Work::Ask(ask) => super::execute::run_ask(e, cx, ask).await,
    }
}

/// Trims the log to its cap, with the note of what was dropped.
fn finish_log(log: LogFile) -> Result<()> {
    log.finish().map(|_| ()).map_err(Error::Internal)
}

fn finalize(
    e: &mut Engine<'_>,
    run_id: i64,
    job: &str,
    done: Executed,
    lease: Box<dyn Lease>,
    is_ask: bool,
) -> Result<Supervised> {
    crate::faults::point("before_end_record");
    let record = match e.store.finish_run(run_id, &done.end)? {
        Some(r) => r,
        // Closed by someone else (recovery, seeing the lease free at the wrong moment).
        None => e
            .store
            .get_run(run_id)?
            .ok_or_else(|| Error::State(format!("the record of run {run_id} vanished")))?,
    };
    super::tree::on_end(e, &record, &Actor::Supervisor);
    prune(e.cfg.runner.keep_runs, &mut *e.store, job);
    if is_ask {
        lease.remove(); // an ask's lease is never taken again
    } else {
        drop(lease);
    }
    // The run is closed and its lease free: what follows is no longer the run's to fence.
    e.store.set_fence(None);
    after_end(e, &record);
    Ok(Supervised {
        record,
        interrupted: done.interrupted,
        answer: done.answer,
    })
}

/// What a run's end sets going, once its lease is free: the jobs that needed it, and the
/// queued runs its slot lets start. Failing here is logged, never the run's failure.
fn after_end(e: &mut Engine<'_>, record: &RunRecord) {
    if record.status == RunStatus::Succeeded
        && let Err(err) = super::deps::release(e, &record.job, &Actor::Supervisor)
    {
        tracing::warn!("can't queue the jobs that need {}: {err}", record.job);
    }
    if let Err(err) = super::queue::drain(e, &Actor::Supervisor) {
        tracing::warn!("can't start the queued runs: {err}");
    }
}

/// jobctl itself failed during the run: stop whatever of it is left (nobody would enforce
/// its timeout) and close it `failed` with the reason, not later as `lost`.
fn stop_after_failure(e: &mut Engine<'_>, run_id: i64, err: &Error) -> Executed {
    let record = e.store.get_run(run_id).ok().flatten();
    let pgid = record.as_ref().and_then(|r| r.pgid);
    let identity = RunIdentity {
        pgid: pgid.map(|p| p as i32),
        env_marks: run_marks(e.state_dir(), run_id),
        ancestor: Some(std::process::id() as i32),
        not_before: RunIdentity::my_start(),
        foreign: Some(proctree::supervisor_mark()),
    };
    proctree::terminate(
        &identity,
        e.cfg.runner.kill_grace,
        Duration::from_secs(30),
        &mut |_| {},
    );
    let mut end = RunEnd::failed(
        to_ms(clock::real_now()),
        format!("jobctl could not supervise the run: {err}"),
    );
    // Its worktree may hold the job's unsaved work: kept, like a crashed run's.
    end.workspace = record
        .as_ref()
        .and_then(|r| super::workspace::left::left_behind(r, true, true));
    Executed {
        end,
        interrupted: None,
        answer: None,
    }
}

/// Acts on what the lease's keeper reports, on a thread of its own, for as long as it
/// keeps the lease. A request becomes the event its signal is on one host (`jobctl
/// cancel`, `pause` and `resume` send SIGTERM, SIGUSR1, SIGUSR2), for whoever waits for
/// the run's events: a stop stops the run the same way (TERM, grace, KILL) and it is
/// recorded `cancelled`; a pause or resume has the supervisor read what the run should
/// be (paused or running) and act on it. A lease lost is acted on here and now, wherever
/// the supervisor is (a git call, a write waiting out the very outage that lost it): it
/// means another host has closed the run (or is about to), so its processes are stopped
/// at once and this process exits without recording anything more (every write would be
/// refused by the fence anyway).
fn watch_lease(
    news: std::sync::mpsc::Receiver<LeaseNews>,
    requests: Requests,
    run: Arc<AtomicI64>,
    state_dir: &Path,
) {
    let state_dir = state_dir.to_path_buf();
    std::thread::spawn(move || {
        for n in news {
            let run_id = run.load(Ordering::Relaxed);
            match n {
                LeaseNews::StopRequested => {
                    tracing::info!(run = run_id, "a stop was requested");
                    requests.send(Event::Stop(Stop::Term));
                }
                LeaseNews::ControlRequested => {
                    tracing::info!(run = run_id, "a pause or resume was requested");
                    requests.send(Event::PauseOrResume);
                }
                LeaseNews::Lost => lease_lost(run_id, &state_dir),
            }
        }
    });
}

/// The lease is lost: the run's processes stopped, this process gone, nothing recorded.
fn lease_lost(run_id: i64, state_dir: &Path) -> ! {
    tracing::error!(
        run = run_id,
        "this host's lease on the run is lost (not renewed for a whole lease, or taken over by another host); stopping its processes and recording nothing"
    );
    let identity = RunIdentity {
        pgid: None,
        env_marks: run_marks(state_dir, run_id),
        ancestor: Some(std::process::id() as i32),
        not_before: RunIdentity::my_start(),
        // Sub-runs' supervisors hold leases of their own.
        foreign: Some(proctree::supervisor_mark()),
    };
    proctree::terminate(
        &identity,
        Duration::ZERO,
        Duration::from_secs(10),
        &mut |_| {},
    );
    std::process::exit(i32::from(crate::core::error::code::STATE));
}

/// Marks this process as the reaper of the run's orphans, so a helper that double-forks
/// still ends up as our child and can be found and collected.
fn become_subreaper() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::debug!("can't become a child subreaper: {e}");
    }
}

/// The end of a run that left processes SIGKILL could not end: still closed (its lease
/// released, so the job can run again), but saying so, and which, so `status` can show
/// them. A run whose main process succeeded did not end cleanly: `failed`.
fn with_survivors(mut end: RunEnd, survivors: &[Survivor]) -> RunEnd {
    if survivors.is_empty() {
        return end;
    }
    end.with_left(proctree::survivors_text(survivors));
    if end.status == RunStatus::Succeeded {
        end.status = RunStatus::Failed;
    }
    end.survivors = survivors.to_vec();
    end
}

/// Removes history beyond `keep` runs of `job`, with its log files. Failing to prune is
/// logged, never a reason to fail the run.
pub(crate) fn prune(keep: u32, store: &mut dyn Store, job: &str) {
    let logs = store.logs_dir();
    match store.prune_runs(job, keep) {
        Ok(paths) => {
            for p in paths {
                // Only ever a run log of this state dir, whatever a record says.
                let p = Path::new(&p);
                let inside = p.starts_with(&logs)
                    && p.components()
                        .all(|c| !matches!(c, std::path::Component::ParentDir));
                if inside {
                    let _ = crate::exec::logfile::remove(p);
                } else {
                    tracing::warn!(
                        "not deleting {}: not a run log of this state directory",
                        p.display()
                    );
                }
            }
        }
        Err(e) => tracing::warn!("can't prune the history of {job}: {e}"),
    }
}
