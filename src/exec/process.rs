//! Running one process of a run to its end: start it (`spawn.rs`), copy its output to the
//! run log as it arrives, enforce the deadline, react to SIGTERM/SIGINT/SIGHUP, and when it ends (or must be stopped) take its whole
//! tree down: SIGTERM, `kill_grace`, SIGKILL, until no process of the run is left and all
//! are reaped, or what is left has outlived SIGKILL for [`kill_bound`] (it became another
//! user, or is stuck in the kernel): then it is reported, not waited for.
//!
//! The supervisor is the only reaper (`waitpid(-1)` on SIGCHLD): as a child subreaper it
//! inherits the run's orphans and must collect them, so it doesn't use tokio's process
//! driver, which would race it for the main child's status.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use tokio::io::AsyncReadExt;
use tokio::time::{Instant, sleep, sleep_until};

use super::echo;
pub(crate) use super::output::{CAPTURE_LIMIT, StallLine, StallRule};
use super::output::{Prefixer, StallWatch, StderrKeep};
use super::signal::{self, Event};
use super::spawn::{Spawned, spawn};
use crate::exec::logfile::LogFile;
use crate::exec::proctree::{self, RunIdentity, Survivor};

/// What to start.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
    /// The complete environment of the process.
    pub(crate) env: Vec<(String, String)>,
    pub(crate) workdir: PathBuf,
    /// Keep stdout apart from stderr (agents print JSON on stdout); both still go to the log.
    pub(crate) capture_stdout: bool,
    /// Stop the process when its output shows only a stall for this long.
    pub(crate) stall: Option<StallRule>,
    /// Put this before every line of output, in the log and the echo (a hook's
    /// `[hook NAME] `).
    pub(crate) line_prefix: Option<String>,
}

pub(crate) use crate::core::run::Ending;

#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) ending: Ending,
    /// The main process's own status, when it ended before being stopped (or was stopped).
    pub(crate) status: Option<(Option<i32>, Option<i32>)>,
    /// stdout, when captured (up to [`CAPTURE_LIMIT`]); `stdout_truncated` says if more came.
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_truncated: bool,
    /// stderr's first and last few KiB, when stdout is captured apart.
    pub(crate) stderr: Vec<u8>,
    /// Stopping the tree took SIGKILL: SIGTERM (and `kill_grace`) was not enough.
    pub(crate) killed: bool,
}

/// Where a forced run's output is echoed as it is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Echo {
    Off,
    Stdout,
    Stderr,
    /// Only what the process writes to stderr, to stderr: for a program whose stdout is
    /// a machine-readable result (an agent CLI's JSON), which is shown read instead.
    StderrOnly,
}

pub(crate) use super::pause::PauseControl;

/// What a supervisor keeps for the whole attempt, across the processes it starts (an
/// agent run may try several): the events it reacts to (`signal`), the processes that
/// stopping the run could not kill, for the run's record, and its pauses.
pub(crate) struct Signals {
    events: signal::Handler,
    pub(crate) survivors: Vec<Survivor>,
    /// Pausing, when the run can be paused.
    pub(crate) control: Option<Box<dyn PauseControl>>,
    /// Act as if a control signal came as soon as the next process runs (a request made
    /// before the supervisor could be signalled).
    pub(crate) control_pending: bool,
    /// How long the run has been paused in all: its timeout is pushed back by as much.
    pub(crate) paused_for: Duration,
}

impl Signals {
    /// Reacting to the events of `events` (a supervisor's: `signal::Listen::Supervisor`).
    pub(crate) fn new(events: signal::Handler) -> Signals {
        Signals {
            events,
            survivors: Vec::new(),
            control: None,
            control_pending: false,
            paused_for: Duration::ZERO,
        }
    }
}

/// How long processes that SIGKILL did not end are waited for before they are reported
/// as survivors: at least `kill_grace`, and long enough for a loaded machine to reap.
pub(crate) fn kill_bound(grace: Duration) -> Duration {
    grace.max(Duration::from_secs(5))
}

pub(crate) struct Ctx<'a> {
    pub(crate) log: &'a mut LogFile,
    pub(crate) echo: Echo,
    pub(crate) signals: &'a mut Signals,
    pub(crate) grace: Duration,
    /// Environment entries that mark the run's processes (see `proctree`).
    pub(crate) env_marks: Vec<String>,
    /// Called just before the process is started (for recording that it may have).
    pub(crate) on_starting: &'a mut dyn FnMut(),
    /// Told the pid of the process once it runs (it leads its own process group).
    pub(crate) on_spawn: &'a mut dyn FnMut(i32),
}

enum Phase {
    Running,
    /// Stopping the tree; `since` is when SIGTERM went out, `killed` when SIGKILL first did.
    Stopping {
        since: Option<Instant>,
        killed: Option<Instant>,
    },
    /// Nothing of the run is alive; reading what is left in the pipes.
    Draining {
        since: Instant,
    },
}

/// Sleeps until `at`, or forever when there is no `at`.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(t) => sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A run being watched: what its output and its signals have made of it so far.
struct Watch<'a> {
    launch: &'a Launch,
    echo: Echo,
    log: &'a mut LogFile,
    fin: Finished,
    stderr_keep: StderrKeep,
    stall: StallWatch,
    prefixer: Option<Prefixer>,
    /// Why the run is being stopped, once it is: how it ends.
    stop_reason: Option<Ending>,
    phase: Phase,
    /// While paused: since when. The timeout and the stall rule stand still meanwhile.
    paused_since: Option<Instant>,
}

impl Watch<'_> {
    /// A chunk of stdout (or of both, when they share a pipe): prefixed, logged, echoed,
    /// captured, watched for a stall.
    fn stdout(&mut self, data: &[u8]) -> Result<()> {
        let prefixed = self.prefixer.as_mut().map(|p| p.apply(data));
        let shown = prefixed.as_deref().unwrap_or(data);
        self.log.write(shown)?;
        crate::faults::point("during_output");
        echo::send(self.echo, shown);
        if self.launch.capture_stdout {
            let n = data.len();
            let room = CAPTURE_LIMIT.saturating_sub(self.fin.stdout.len());
            self.fin.stdout.extend_from_slice(&data[..n.min(room)]);
            self.fin.stdout_truncated |= n > room;
        }
        if let Some(rule) = &self.launch.stall {
            self.stall.feed(0, data, rule);
        }
        Ok(())
    }

    /// A chunk of stderr read apart: logged, echoed to stderr, kept in part, watched.
    fn stderr(&mut self, data: &[u8]) -> Result<()> {
        self.log.write(data)?;
        let to = if self.echo == Echo::Off {
            Echo::Off
        } else {
            Echo::Stderr
        };
        echo::send(to, data);
        self.stderr_keep.push(data);
        if let Some(rule) = &self.launch.stall {
            self.stall.feed(1, data, rule);
        }
        Ok(())
    }

    /// The run must stop, and ends as `why`.
    fn stop(&mut self, why: Ending) {
        self.stop_reason = Some(why);
        self.phase = Phase::Stopping {
            since: None,
            killed: None,
        };
    }

    /// A stop signal came. The first decides how the run ends; the terminal closed or the
    /// ssh session dropped (SIGHUP) is a stop like SIGTERM: nobody is left to see the run,
    /// and nothing may keep running unsupervised.
    fn interrupted(&mut self, stop: signal::Stop) {
        if !matches!(self.stop_reason, Some(Ending::Interrupted(_))) {
            self.stop_reason = Some(Ending::Interrupted(stop.signal()));
            if matches!(self.phase, Phase::Running) {
                self.phase = Phase::Stopping {
                    since: None,
                    killed: None,
                };
            }
        }
    }

    /// When the run has been silent too long, if a stall rule watches it and it runs.
    fn stall_at(&self) -> Option<Instant> {
        match (self.stall.since, &self.launch.stall) {
            (Some(t), Some(rule)) if self.paused_since.is_none() => Some(t + rule.limit),
            _ => None,
        }
    }

    /// Moves the tree's stopping on after each wake: the main process ended, SIGTERM,
    /// SIGKILL after the grace, survivors reported after [`kill_bound`], the pipes drained.
    /// `true` when the run is over.
    fn advance(
        &mut self,
        identity: &RunIdentity,
        signals: &mut Signals,
        grace: Duration,
        pipes_open: bool,
    ) -> Result<bool> {
        match self.phase {
            Phase::Running => {
                if self.fin.status.is_some() {
                    // The main process is done; anything it left behind goes too.
                    self.phase = Phase::Stopping {
                        since: None,
                        killed: None,
                    };
                }
            }
            Phase::Stopping { since, killed } => {
                let left = proctree::members(identity);
                if left.is_empty() {
                    if !pipes_open {
                        return Ok(true);
                    }
                    self.phase = Phase::Draining {
                        since: Instant::now(),
                    };
                } else {
                    match since {
                        None => {
                            proctree::signal_all(identity, &left, Signal::SIGTERM);
                            if self.paused_since.is_some() {
                                // Stopped processes handle SIGTERM only once they run again.
                                proctree::signal_all(identity, &left, Signal::SIGCONT);
                            }
                            self.phase = Phase::Stopping {
                                since: Some(Instant::now()),
                                killed,
                            };
                        }
                        Some(_) if killed.is_some_and(|k| k.elapsed() >= kill_bound(grace)) => {
                            // Signals to it are refused (it became another user) or do
                            // nothing (stuck in the kernel): the run ends without it.
                            let survivors = Survivor::describe(&left);
                            self.log.note(&format!(
                                "{}: still alive {} after SIGKILL",
                                proctree::survivors_text(&survivors),
                                crate::core::units::format_duration(kill_bound(grace))
                            ))?;
                            tracing::warn!("{}", proctree::survivors_text(&survivors));
                            signals.survivors.extend(survivors);
                            self.phase = Phase::Draining {
                                since: Instant::now(),
                            };
                        }
                        Some(t) if killed.is_some() || t.elapsed() >= grace => {
                            proctree::signal_all(identity, &left, Signal::SIGKILL);
                            self.fin.killed = true;
                            self.phase = Phase::Stopping {
                                since,
                                killed: killed.or(Some(Instant::now())),
                            };
                        }
                        Some(_) => {}
                    }
                }
            }
            Phase::Draining { since } => {
                // Pipes held open by a process out of reach (a scrubbed environment under
                // another parent) must not keep the run open forever.
                if !pipes_open || since.elapsed() > Duration::from_secs(2) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// What the run came to: the reason it was stopped for, else how its main process ended.
    fn finish(mut self) -> Finished {
        self.fin.stderr = self.stderr_keep.into_bytes();
        self.fin.ending = match (self.stop_reason, self.fin.status) {
            (Some(reason), _) => reason,
            (None, Some((Some(c), _))) => Ending::Exited(c),
            (None, Some((_, Some(s)))) => Ending::Signaled(s),
            (None, _) => Ending::Signaled(Signal::SIGKILL as i32),
        };
        self.fin
    }
}

/// Records the main process's status among the children just reaped (`keep_known`: only if
/// none was recorded yet).
fn reap_into(fin: &mut Finished, pid: i32, keep_known: bool) {
    for s in proctree::reap_children() {
        if s.pid().map(|p| p.as_raw()) == Some(pid) && !(keep_known && fin.status.is_some()) {
            fin.status = Some(exit_of(s));
        }
    }
}

/// Runs `launch` until it and every process it started are gone.
pub(crate) async fn run(launch: &Launch, deadline: Instant, mut ctx: Ctx<'_>) -> Result<Finished> {
    let Spawned { pid, out, err } = match spawn(launch, &mut ctx)? {
        Ok(s) => s,
        Err(ending) => return Ok(Finished::spawn_failed(ending)),
    };
    let (mut out, mut err) = (Some(out), err);
    let identity = RunIdentity {
        pgid: Some(pid),
        env_marks: ctx.env_marks.clone(),
        ancestor: Some(std::process::id() as i32),
        not_before: RunIdentity::my_start(),
        foreign: Some(proctree::supervisor_mark()),
    };
    let mut w = Watch {
        launch,
        echo: ctx.echo,
        log: ctx.log,
        fin: Finished {
            ending: Ending::Exited(0),
            status: None,
            stdout: Vec::new(),
            stdout_truncated: false,
            stderr: Vec::new(),
            killed: false,
        },
        stderr_keep: StderrKeep::default(),
        stall: StallWatch::default(),
        prefixer: launch.line_prefix.as_deref().map(Prefixer::new),
        stop_reason: None,
        phase: Phase::Running,
        paused_since: None,
    };
    let mut buf_out = vec![0u8; 64 << 10];
    let mut buf_err = vec![0u8; 16 << 10];
    let signals = ctx.signals;
    let mut nudged = std::mem::take(&mut signals.control_pending);

    loop {
        let running = matches!(w.phase, Phase::Running);
        if nudged && running {
            nudged = false;
            if super::pause::pause_or_resume(signals, &identity, &mut w.paused_since) == Some(false)
            {
                // Silence while stopped is not a stall.
                w.stall.since = None;
            }
        }
        let max_pause = signals.control.as_ref().map(|c| c.max_pause());
        let pause_limit_at = w.paused_since.zip(max_pause).map(|(t, max)| t + max);
        let stall_at = w.stall_at();
        tokio::select! {
            r = async { out.as_mut().unwrap().read(&mut buf_out).await }, if out.is_some() => {
                match r {
                    Ok(0) | Err(_) => out = None,
                    Ok(n) => w.stdout(&buf_out[..n])?,
                }
            }
            r = async { err.as_mut().unwrap().read(&mut buf_err).await }, if err.is_some() => {
                match r {
                    Ok(0) | Err(_) => err = None,
                    Ok(n) => w.stderr(&buf_err[..n])?,
                }
            }
            event = signals.events.recv() => match event {
                Event::Child => {}
                Event::Pause | Event::Resume | Event::PauseOrResume => nudged = true,
                Event::Stop(stop) => w.interrupted(stop),
            },
            _ = sleep_until(deadline + signals.paused_for), if running && w.paused_since.is_none() => {
                w.stop(Ending::TimedOut);
            }
            _ = sleep_until_some(pause_limit_at), if running && w.paused_since.is_some() => {
                w.stop(Ending::PausedTooLong(max_pause.unwrap_or_default()));
            }
            _ = sleep_until_some(stall_at), if running && stall_at.is_some() => {
                w.stop(Ending::Stalled(w.stall.last.clone().unwrap_or_default()));
            }
            _ = sleep(Duration::from_millis(10)), if !running => {}
        }
        reap_into(&mut w.fin, pid, false);
        if w.advance(
            &identity,
            signals,
            ctx.grace,
            out.is_some() || err.is_some(),
        )? {
            break;
        }
    }
    // Anything that died last is reaped before the run is reported over.
    reap_into(&mut w.fin, pid, true);
    Ok(w.finish())
}

/// (exit code, signal) of a reaped process.
fn exit_of(s: WaitStatus) -> (Option<i32>, Option<i32>) {
    match s {
        WaitStatus::Exited(_, c) => (Some(c), None),
        WaitStatus::Signaled(_, sig, _) => (None, Some(sig as i32)),
        _ => (None, None),
    }
}

impl Finished {
    fn spawn_failed(ending: Ending) -> Finished {
        Finished {
            ending,
            status: None,
            stdout: Vec::new(),
            stdout_truncated: false,
            stderr: Vec::new(),
            killed: false,
        }
    }
}
