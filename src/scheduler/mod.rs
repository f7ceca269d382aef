//! `jobctl scheduler` (and `serve --schedule`): the tick in a loop, for as long as the
//! process lives, each run started on its slot instead of at the next 5-minute timer.
//!
//! The loop ticks (the same `engine::tick` as `jobctl run`: the tick lease, the store's
//! claim, detached supervisors), then sleeps until the next slot of any job
//! ([`wake::Alarm`]), and wakes for nothing else but an edit of the config or a file it
//! reads ([`watch`]), a signal, or the wall clock being set. A slot runs exactly once
//! whoever sees it first (a timer tick, a second scheduler, another host): the store
//! refuses a second claim of one slot. An edit that makes the config invalid keeps the
//! previous config, says why in the log and in `status`, and the next valid edit is taken.
//!
//! What happens is written to stderr, one line per event ([`log`]).

mod log;
mod reap;
mod shed;
mod wake;
mod watch;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;
use tokio::sync::mpsc;

use crate::config::{Config, StateConfig};
use crate::core::clock::rfc3339;
use crate::core::error::{Error, Result};
use crate::engine::Engine;
use crate::engine::presence::{Presence, SchedulerView};
use crate::engine::tick::{self, TickResult};
use crate::exec::signal::{Event, Handler, Listen, Requests, Stop};
pub(crate) use log::{Log, LogFormat};
use wake::{Alarm, Rang};

/// A job due but held back (its last run still runs) is looked at again this often: its
/// run's end starts nothing for it, and the next tick would.
const HELD_RECHECK: Duration = Duration::from_secs(10);
/// Another tick held the lease for the tick's whole wait: tried again this soon.
const BUSY_RETRY: Duration = Duration::from_secs(1);
/// A tick that failed (the state unreachable, say) is tried again this soon.
const FAILED_RETRY: Duration = Duration::from_secs(5);
/// Edits come in bursts (an editor writes, renames, sets modes): one reload after the last.
const SETTLE: Duration = Duration::from_millis(50);
/// How far the wall clock may drift from real time between two wake-ups before it counts
/// as a jump (a suspend and resume).
const JUMP_SLACK: Duration = Duration::from_secs(2);

/// How `jobctl scheduler` runs.
pub(crate) struct Options {
    pub config: PathBuf,
    pub log: Log,
}

/// Who reaps the supervisors the loop starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaping {
    /// This process reaps every child that ends (on SIGCHLD): `jobctl scheduler`, also
    /// as PID 1, where orphans are reparented to it.
    AllChildren,
    /// A thread waits for each supervisor started (inside `serve`, whose other work may
    /// wait for children of its own).
    EachStarted,
}

/// `jobctl scheduler`: loads the config (an invalid one at the start is the usual config
/// error), then schedules until SIGTERM or SIGINT, and exits 0.
pub(crate) fn run(opts: Options) -> Result<u8> {
    let cfg = crate::config::load_file(&opts.config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("can't start the scheduler: {e}")))?;
    rt.block_on(async {
        let events = Handler::install(Listen::Scheduler).map_err(Error::Internal)?;
        schedule(opts.config, cfg, opts.log, events, Reaping::AllChildren).await
    })
}

/// The loop of `serve --schedule`, on a thread of its own beside the server's runtime
/// (the tick blocks); its events are the server's requests, as it has no signals of its
/// own: stopped with [`Beside::stop`] when the server stops.
pub(crate) fn spawn_beside(config: PathBuf, log: Log) -> Beside {
    let requests = Requests::default();
    let theirs = requests.clone();
    let thread = std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return log.event("scheduler_failed", json!({"error": e.to_string()})),
        };
        let ended = rt.block_on(async {
            let cfg = crate::config::load_file(&config)?;
            let events = Handler::install(Listen::Nothing)
                .map_err(Error::Internal)?
                .with_requests(&theirs);
            schedule(config, cfg, log, events, Reaping::EachStarted).await
        });
        if let Err(e) = ended {
            log.event("scheduler_failed", json!({"error": e.to_string()}));
        }
    });
    Beside { requests, thread }
}

/// The loop running beside a server.
pub(crate) struct Beside {
    requests: Requests,
    thread: std::thread::JoinHandle<()>,
}

impl Beside {
    /// Stops the loop (it starts nothing more) and waits for it, a moment at most.
    pub(crate) fn stop(self) {
        self.requests.send(Event::Stop(Stop::Term));
        let _ = self.thread.join();
    }
}

/// The loop, until `events` brings a stop (SIGHUP: a reload).
pub(crate) async fn schedule(
    config_path: PathBuf,
    mut cfg: Config,
    log: Log,
    mut events: Handler,
    reaping: Reaping,
) -> Result<u8> {
    let state_dir = Engine::open(&cfg)?.state_dir().to_path_buf();
    let host = cfg
        .state
        .as_ref()
        .map(StateConfig::host_name)
        .unwrap_or_else(StateConfig::default_host);
    let pid = std::process::id();
    let mut presence = Presence::announce(
        &state_dir,
        SchedulerView {
            pid,
            host: host.clone(),
            since: rfc3339(Timestamp::now().as_millisecond()),
            next_wakeup: None,
            next_job: None,
            config_error: None,
        },
    )
    .inspect_err(|e| log.event("presence_failed", json!({"error": e.to_string()})))
    .ok();
    let (edits, mut edited) = mpsc::unbounded_channel();
    let mut watch = match watch::ConfigWatch::start(&cfg, edits) {
        Ok(w) => Some(w),
        Err(e) => {
            log.event(
                "watch_failed",
                json!({"error": e.to_string(), "reload": "on SIGHUP only"}),
            );
            None
        }
    };
    let mut alarm = Alarm::new().map_err(|e| Error::Internal(e.into()))?;
    log.event(
        "scheduler_started",
        json!({"pid": pid, "host": host, "config": config_path.display().to_string(),
               "state_dir": state_dir.display().to_string(), "jobs": cfg.jobs.len()}),
    );
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    if reaping == Reaping::AllChildren {
        // Children that ended before the handler was in place sent their SIGCHLD to no one.
        reap::all_children(&log);
    }
    loop {
        let wake_at = tick_once(&cfg, &log, reaping);
        if let Some(p) = &mut presence {
            p.update(|v| {
                v.next_wakeup = wake_at.as_ref().map(|(_, t)| rfc3339(t.as_millisecond()));
                v.next_job = wake_at.as_ref().and_then(|(j, _)| j.clone());
            });
        }
        if reaping == Reaping::AllChildren {
            // The process is the scheduler alone (a server beside it would run its code
            // again at once): between slots it keeps no code of the tick mapped.
            shed::shed_code();
        }
        let (wall, mono) = (Timestamp::now(), Instant::now());
        let woke = loop {
            let alarm_rang = async {
                match &wake_at {
                    Some((_, t)) => alarm.until(*t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                rang = alarm_rang => break Woke::Alarm(rang),
                Some(path) = edited.recv() => {
                    tokio::time::sleep(SETTLE).await;
                    while edited.try_recv().is_ok() {}
                    break Woke::Edited(path);
                }
                event = events.recv() => match event {
                    Event::Stop(Stop::Hup) => break Woke::Hangup,
                    Event::Stop(s) => break Woke::Stop(s),
                    Event::Child => reap::all_children(&log),
                    _ => {}
                },
            }
        };
        match woke {
            Woke::Stop(s) => {
                notify_systemd(&[sd_notify::NotifyState::Stopping]);
                log.event(
                    "stopping",
                    json!({"signal": s.signal().as_str(), "running_supervisors": "left to finish"}),
                );
                return Ok(0);
            }
            Woke::Edited(path) => {
                log.event(
                    "config_changed",
                    json!({"file": path.display().to_string()}),
                );
                reload(&config_path, &mut cfg, &log, &mut presence, &mut watch);
            }
            Woke::Hangup => {
                log.event("reload_asked", json!({"signal": "SIGHUP"}));
                reload(&config_path, &mut cfg, &log, &mut presence, &mut watch);
            }
            Woke::Alarm(Ok(Rang::ClockSet)) => {
                log.event(
                    "clock_set",
                    json!({"now": rfc3339(Timestamp::now().as_millisecond())}),
                );
            }
            Woke::Alarm(Ok(Rang::Due)) => {
                if let Some(drift) = wake::jumped(wall, mono, JUMP_SLACK) {
                    log.event(
                        "clock_jumped",
                        json!({"by_ms": drift.as_millis() as i64, "cause": "suspend and resume, or a clock step"}),
                    );
                }
            }
            Woke::Alarm(Err(e)) => {
                log.event("alarm_failed", json!({"error": e.to_string()}));
                tokio::time::sleep(FAILED_RETRY).await;
            }
        }
    }
}

/// What ended a wait.
enum Woke {
    Alarm(std::io::Result<Rang>),
    Edited(PathBuf),
    Hangup,
    Stop(Stop),
}

/// One tick, logged; when to wake next, and for which job.
fn tick_once(cfg: &Config, log: &Log, reaping: Reaping) -> Option<(Option<String>, Timestamp)> {
    let soon = |d: Duration| {
        Timestamp::now()
            .checked_add(jiff::SignedDuration::try_from(d).unwrap_or_default())
            .ok()
    };
    let result = Engine::open(cfg).and_then(|mut e| tick::tick(&mut e, None));
    match result {
        Ok(TickResult::Busy(holder)) => {
            log.event("tick_busy", json!({"holder_pid": holder}));
            soon(BUSY_RETRY).map(|t| (None, t))
        }
        Ok(TickResult::Done {
            started,
            queued,
            held,
            next,
        }) => {
            for s in started {
                log.event(
                    "started",
                    json!({"job": s.run.job, "run": s.run.id,
                           "slot": rfc3339(s.run.scheduled_for), "supervisor_pid": s.supervisor.id()}),
                );
                if reaping == Reaping::EachStarted {
                    let mut child = s.supervisor;
                    std::thread::spawn(move || child.wait());
                }
            }
            for q in &queued {
                log.event(
                    "queued",
                    json!({"job": q.job, "run": q.id, "slot": rfc3339(q.scheduled_for)}),
                );
            }
            for h in &held {
                log.event("held", json!({"job": h.job(), "reason": h.reason()}));
            }
            let mut wake = next.map(|(j, t)| (Some(j), t));
            if !held.is_empty()
                && let Some(t) = soon(HELD_RECHECK)
                && wake.as_ref().is_none_or(|(_, w)| t < *w)
            {
                wake = Some((None, t));
            }
            wake
        }
        Err(e) => {
            log.event("tick_failed", json!({"error": e.to_string()}));
            soon(FAILED_RETRY).map(|t| (None, t))
        }
    }
}

/// Loads the config again: a valid one replaces the one kept (and its files are watched);
/// an invalid one is reported, in the log and in `status`, and the previous one stays.
fn reload(
    path: &std::path::Path,
    cfg: &mut Config,
    log: &Log,
    presence: &mut Option<Presence>,
    watch: &mut Option<watch::ConfigWatch>,
) {
    match crate::config::load_file(path) {
        Ok(new) => {
            *cfg = new;
            if let Some(w) = watch {
                w.follow(cfg);
            }
            if let Some(p) = presence {
                p.update(|v| v.config_error = None);
            }
            log.event("config_reloaded", json!({"jobs": cfg.jobs.len()}));
        }
        Err(e) => {
            let why = e.to_string().trim().replace('\n', "; ");
            log.event(
                "config_invalid",
                json!({"error": why, "kept": "the previous config"}),
            );
            if let Some(p) = presence {
                p.update(|v| v.config_error = Some(why));
            }
        }
    }
}

/// Tells systemd (a `Type=notify` service) how the scheduler is; nothing elsewhere.
fn notify_systemd(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some()
        && let Err(e) = sd_notify::notify(false, state)
    {
        tracing::debug!("systemd notification failed: {e}");
    }
}
