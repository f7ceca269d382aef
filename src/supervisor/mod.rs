//! Supervising a run: the process that holds the job's lock for the whole run, starts the
//! job, logs its output, enforces its timeout, stops it on SIGTERM/SIGINT/SIGHUP, records its end
//! and prunes old history. The tick starts one detached supervisor per run (`jobctl
//! supervise`); a forced run is supervised by the `jobctl force` process itself.

pub mod env;

use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use crate::config::{Command, Config, Job, JobKind};
use crate::coord::flock::JobLock;
use crate::core::clock;
use crate::exec::logfile::LogFile;
use crate::exec::process::{self, Echo, Ending, Launch, Signals};
use crate::exec::proctree::{self, RunIdentity, Survivor};
use crate::store::{RunEnd, RunRecord, Store};

/// What became of a supervised run.
pub struct Supervised {
    pub record: RunRecord,
    /// Set when jobctl itself was told to stop (exit 128 + N: 130, 143, 129).
    pub interrupted: Option<Signal>,
}

/// Marks this process as the reaper of the run's orphans, so a helper that double-forks
/// still ends up as our child and can be found and collected.
fn become_subreaper() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::debug!("can't become a child subreaper: {e}");
    }
}

/// Runs `run` of `job` to its end, holding `lock` until the end is recorded.
pub fn supervise(
    cfg: &Config,
    store: &mut Store,
    job: &Job,
    run: RunRecord,
    mut lock: JobLock,
    echo: Echo,
) -> Result<Supervised> {
    crate::faults::point("supervisor_start");
    become_subreaper();
    lock.set_holder(std::process::id(), run.id);
    store.set_run_process(run.id, std::process::id() as i64, None)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("can't start the supervisor's event loop")?;
    let log_path = run.log_path.clone().unwrap_or_default();
    let outcome = rt.block_on(async {
        let mut signals = Signals::register()?;
        let mut log = LogFile::create(std::path::Path::new(&log_path), cfg.runner.log_max_bytes)?;
        let deadline = tokio::time::Instant::now() + job.timeout;
        let result = match &job.kind {
            JobKind::Script(command) => {
                run_script(
                    cfg,
                    store,
                    job,
                    &run,
                    command,
                    deadline,
                    &mut log,
                    &mut signals,
                    echo,
                )
                .await
            }
            JobKind::Agent(_) => {
                crate::agents::run_job(
                    cfg,
                    store,
                    job,
                    &run,
                    deadline,
                    &mut log,
                    &mut signals,
                    echo,
                )
                .await
            }
        };
        let result = result.and_then(|(end, sig)| {
            log.finish()?;
            Ok((end, sig))
        });
        anyhow::Ok((result?, std::mem::take(&mut signals.survivors)))
    });
    let (end, interrupted) = match outcome {
        Ok(((end, sig), survivors)) => (with_survivors(end, &survivors), sig),
        // jobctl itself failed (the log or the db can't be written, ...): nothing of the
        // run may outlive it, and the run is closed with the real reason, not later as
        // "lost".
        Err(e) => {
            let pgid = store.get_run(run.id).ok().flatten().and_then(|r| r.pgid);
            let identity = RunIdentity {
                pgid: pgid.map(|p| p as i32),
                env_marks: crate::recovery::env_marks(&store.dir, run.id),
                ancestor: Some(std::process::id() as i32),
                not_before: RunIdentity::my_start(),
            };
            proctree::terminate(
                &identity,
                cfg.runner.kill_grace,
                Duration::from_secs(30),
                &mut |_| {},
            );
            let end = RunEnd {
                status: crate::core::run::RunStatus::Failed,
                ended_at: clock::to_ms(clock::real_now()),
                error: Some(format!("jobctl could not supervise the run: {e:#}")),
                ..Default::default()
            };
            (end, None)
        }
    };
    crate::faults::point("before_end_record");
    store.finish_run(run.id, &end)?;
    prune(cfg, store, &job.name);
    let record = store.get_run(run.id)?.context("the run record vanished")?;
    drop(lock);
    Ok(Supervised {
        record,
        interrupted,
    })
}

/// What end_of says of a tree it stopped; not true of one that left survivors.
const TREE_STOPPED: &str = "; stopped the process tree";

/// The end of a run that left processes SIGKILL could not end: still closed (its lock
/// released, so the job can run again), but saying so, and which, so `status` can show
/// them. A run whose main process succeeded did not end cleanly: `failed`.
fn with_survivors(mut end: RunEnd, survivors: &[Survivor]) -> RunEnd {
    if survivors.is_empty() {
        return end;
    }
    let what = proctree::survivors_text(survivors);
    end.error = Some(match end.error.take() {
        Some(e) => match e.split_once(TREE_STOPPED) {
            Some((head, how)) => format!("{head}; stopping the process tree{how}: {what}"),
            None => format!("{e}; {what}"),
        },
        None => what,
    });
    if end.status == crate::core::run::RunStatus::Succeeded {
        end.status = crate::core::run::RunStatus::Failed;
    }
    end.survivors = serde_json::to_string(survivors).ok();
    end
}

/// Removes history beyond `keep_runs`, with its log files. Failing to prune is logged,
/// never a reason to fail the run.
pub fn prune(cfg: &Config, store: &mut Store, job: &str) {
    let logs = store.logs_dir();
    match store.prune_runs(job, cfg.runner.keep_runs) {
        Ok(paths) => {
            for p in paths {
                // Only ever a run log of this state dir, whatever a record says.
                let p = std::path::Path::new(&p);
                let inside = p.starts_with(&logs)
                    && p.components()
                        .all(|c| !matches!(c, std::path::Component::ParentDir));
                if inside {
                    let _ = std::fs::remove_file(p);
                } else {
                    tracing::warn!(
                        "not deleting {}: not a run log of this state directory",
                        p.display()
                    );
                }
            }
        }
        Err(e) => tracing::warn!("can't prune the history of {job}: {e:#}"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_script(
    cfg: &Config,
    store: &Store,
    job: &Job,
    run: &RunRecord,
    command: &Command,
    deadline: tokio::time::Instant,
    log: &mut LogFile,
    signals: &mut Signals,
    echo: Echo,
) -> Result<(RunEnd, Option<Signal>)> {
    let (program, args) = match command {
        Command::Shell(s) => ("/bin/sh".to_string(), vec!["-c".to_string(), s.clone()]),
        Command::Argv(v) => (v[0].clone(), v[1..].to_vec()),
    };
    let launch = Launch {
        program,
        args,
        env: env::job_env(cfg, job, run, None, &store.dir),
        workdir: job.workdir.clone(),
        capture_stdout: false,
        stall: None,
    };
    let mut on_spawn = |pid: i32| {
        let _ = store.set_run_process(run.id, std::process::id() as i64, Some(pid as i64));
    };
    let ctx = process::Ctx {
        log,
        echo,
        signals,
        grace: cfg.runner.kill_grace,
        env_marks: crate::recovery::env_marks(&store.dir, run.id),
        on_starting: &mut || {},
        on_spawn: &mut on_spawn,
    };
    let fin = process::run(&launch, deadline, ctx).await?;
    let (end, sig) = end_of(&fin.ending, fin.status, job.timeout, cfg.runner.kill_grace);
    if let Some(e) = &end.error {
        log.note(e)?;
    }
    Ok((end, sig))
}

/// The run record of a process's ending.
pub fn end_of(
    ending: &Ending,
    status: Option<(Option<i32>, Option<i32>)>,
    timeout: Duration,
    grace: Duration,
) -> (RunEnd, Option<Signal>) {
    let (code, sig) = status.unwrap_or((None, None));
    let mut end = RunEnd {
        ended_at: clock::to_ms(clock::real_now()),
        exit_code: code.map(i64::from),
        signal: sig.map(i64::from),
        ..Default::default()
    };
    let mut interrupted = None;
    match ending {
        Ending::Exited(0) => end.status = crate::core::run::RunStatus::Succeeded,
        Ending::Exited(c) => {
            end.status = crate::core::run::RunStatus::Failed;
            end.error = Some(format!("exited with code {c}"));
        }
        Ending::Signaled(s) => {
            end.status = crate::core::run::RunStatus::Failed;
            end.error = Some(format!("killed by signal {s} ({})", signal_name(*s)));
        }
        Ending::TimedOut => {
            end.status = crate::core::run::RunStatus::TimedOut;
            end.error = Some(format!(
                "timed out after {}{TREE_STOPPED} (SIGTERM, then SIGKILL after {})",
                crate::core::units::format_duration(timeout),
                crate::core::units::format_duration(grace)
            ));
        }
        Ending::Interrupted(s) => {
            end.status = crate::core::run::RunStatus::Cancelled;
            end.error = Some(format!(
                "cancelled: jobctl received {s} and stopped the run"
            ));
            interrupted = Some(*s);
        }
        Ending::SpawnFailed { exit_code, message } => {
            end.status = crate::core::run::RunStatus::Failed;
            end.exit_code = Some(*exit_code as i64);
            end.error = Some(message.clone());
        }
        Ending::Stalled(notice) => {
            end.status = crate::core::run::RunStatus::Failed;
            end.error = Some(format!(
                "stopped: its output showed only the provider being unreachable ({notice})"
            ));
        }
    }
    (end, interrupted)
}

fn signal_name(s: i32) -> &'static str {
    Signal::try_from(s).map(|s| s.as_str()).unwrap_or("unknown")
}
