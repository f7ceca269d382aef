//! Lifecycle hooks: `pre_run` before the job, `post_run` after every run, then
//! `on_success` or `on_failure` by how it ended. The notifications people wire to jobs
//! (a healthchecks.io ping, a webhook, `notify-send`) are hooks.
//!
//! A hook is run like a job: in the job's cwd (the worktree when there is one), with the
//! job's environment plus `JOBCTL_STATUS`, `JOBCTL_EXIT_CODE`, `JOBCTL_LOG_PATH` and the
//! workspace variables, its output in the run log under `[hook NAME] `, and its whole
//! process tree stopped at `hook_timeout`. A failing `pre_run` fails the run before the
//! job starts; any later hook's failure is recorded (an event, and the run's hooks) but
//! never changes the run's status.
//!
//! In a run's supervisor a hook runs through the same process code as the job
//! ([`run`]); `on_failure` of a run found `lost` is run for the command that closes it,
//! by the detached process it starts (`engine::after_lost`), with a plain spawn and wait
//! ([`run_after_close`]): no supervisor's signal handling is needed there.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::env::{job_env, run_marks};
use super::pipeline::RunContext;

use crate::config::{Command, Config, Hooks, Job};
use crate::core::clock::{self, to_ms};
use crate::core::run::{Ending, EventKind, RunRecord, RunStatus};
use crate::core::units::format_duration;
use crate::core::workspace::{HookName, HookResult};
use crate::exec::env::set;
use crate::exec::process::{self, Launch};
use crate::exec::proctree::{self, RunIdentity};
use crate::store::Store;

/// Which hooks follow a run that ended `status`: `post_run`, then `on_success` or
/// `on_failure` (failed, timed_out, lost, skipped).
pub(crate) fn after(status: RunStatus) -> Vec<HookName> {
    let mut v = vec![HookName::PostRun];
    if status == RunStatus::Succeeded {
        v.push(HookName::OnSuccess);
    } else if status.is_failure() {
        v.push(HookName::OnFailure);
    }
    v
}

/// Where and with what a hook of one run runs.
pub(crate) struct HookSite<'a> {
    pub(crate) workdir: &'a Path,
    /// Variables besides the job's (the workspace's).
    pub(crate) extra_env: &'a [(&'static str, String)],
}

fn environment(
    cfg: &Config,
    job: &Job,
    run: &RunRecord,
    state_dir: &Path,
    site: &HookSite<'_>,
    status: &str,
    exit_code: Option<i64>,
) -> Vec<(String, String)> {
    let mut env = job_env(cfg, job, run, None, state_dir);
    for (k, v) in site.extra_env {
        set(&mut env, k, v);
    }
    set(&mut env, "JOBCTL_STATUS", status);
    set(
        &mut env,
        "JOBCTL_EXIT_CODE",
        &exit_code.map(|c| c.to_string()).unwrap_or_default(),
    );
    set(
        &mut env,
        "JOBCTL_LOG_PATH",
        run.log_path.as_deref().unwrap_or(""),
    );
    env
}

fn argv(c: &Command) -> (String, Vec<String>) {
    match c {
        Command::Shell(s) => ("/bin/sh".into(), vec!["-c".into(), s.clone()]),
        Command::Argv(v) => (v[0].clone(), v[1..].to_vec()),
    }
}

fn result_of(
    name: HookName,
    cmd: &Command,
    started: Instant,
    error: Option<String>,
    exit_code: Option<i64>,
) -> HookResult {
    HookResult {
        hook: name,
        command: cmd.display(),
        ok: error.is_none(),
        exit_code,
        duration_ms: started.elapsed().as_millis().min(i64::MAX as u128) as i64,
        error,
    }
}

/// Why a hook that ended so failed, if it did.
fn failure(name: HookName, ending: &Ending, timeout: Duration) -> Option<String> {
    match ending {
        Ending::Exited(0) => None,
        Ending::Exited(c) => Some(format!("{name} hook exited {c}")),
        Ending::Signaled(s) => Some(format!("{name} hook was killed by signal {s}")),
        Ending::TimedOut => Some(format!(
            "{name} hook timed out after {}; stopped its process tree",
            format_duration(timeout)
        )),
        Ending::Interrupted(s) => Some(format!("{name} hook was stopped: jobctl received {s}")),
        Ending::SpawnFailed { message, .. } => {
            Some(format!("{name} hook could not start: {message}"))
        }
        Ending::Stalled(_) => Some(format!("{name} hook stalled")),
        Ending::PausedTooLong(max) => Some(format!(
            "{name} hook was stopped: paused for longer than max_pause ({})",
            format_duration(*max)
        )),
    }
}

/// Why a hook's end ends the run besides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookStop {
    /// jobctl itself was told to stop (this signal) meanwhile.
    Interrupted(Signal),
    /// The run's own timeout passed while `pre_run` ran (its time is the run's).
    RunTimedOut,
}

/// Runs hook `name` of `job` in the run's supervisor, if the job has one. `status` and
/// `exit_code` are the run's as far as known. Returns its result and whether the run
/// must stop for it besides.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    cfg: &Config,
    store: &mut dyn Store,
    cx: &mut RunContext,
    job: &Job,
    name: HookName,
    site: &HookSite<'_>,
    status: &str,
    exit_code: Option<i64>,
) -> Option<(HookResult, Option<HookStop>)> {
    let hooks: &Hooks = job.hooks.as_deref()?;
    let cmd = hooks.get(name)?;
    let started = Instant::now();
    let (program, args) = argv(cmd);
    let launch = Launch {
        program,
        args,
        env: environment(cfg, job, &cx.run, &cx.state_dir, site, status, exit_code),
        workdir: site.workdir.to_path_buf(),
        capture_stdout: false,
        stall: None,
        line_prefix: Some(format!("[hook {name}] ")),
    };
    let now = tokio::time::Instant::now();
    let mut deadline = now + hooks.timeout;
    // pre_run's time is part of the run's: the run's timeout may come first.
    let run_deadline_first = name == HookName::PreRun && cx.deadline < deadline;
    if run_deadline_first {
        deadline = cx.deadline;
    }
    let allowed = deadline.saturating_duration_since(now);
    let run_id = cx.run.id;
    let ctx = process::Ctx {
        log: &mut cx.log,
        echo: cx.echo,
        signals: &mut cx.signals,
        grace: cfg.runner.kill_grace,
        env_marks: run_marks(&cx.state_dir, run_id),
        on_starting: &mut || {},
        on_spawn: &mut |_| {},
    };
    let (error, code, stop) = match process::run(&launch, deadline, ctx).await {
        Ok(fin) => {
            let stop = match fin.ending {
                Ending::Interrupted(s) => Some(HookStop::Interrupted(s)),
                Ending::TimedOut if run_deadline_first => Some(HookStop::RunTimedOut),
                _ => None,
            };
            let code = match &fin.ending {
                Ending::SpawnFailed { exit_code, .. } => Some(i64::from(*exit_code)),
                _ => fin.status.and_then(|(c, _)| c).map(i64::from),
            };
            let error = match stop {
                Some(HookStop::RunTimedOut) => Some(format!(
                    "{name} hook was stopped at the run's timeout ({}); stopped its process tree",
                    format_duration(job.timeout)
                )),
                _ => failure(name, &fin.ending, allowed),
            };
            (error, code, stop)
        }
        Err(e) => (Some(format!("{name} hook: {e:#}")), None, None),
    };
    let result = result_of(name, cmd, started, error, code);
    if let Some(err) = &result.error {
        let _ = cx.log.note(err);
        record_failure(store, &job.name, run_id, &result);
    }
    Some((result, stop))
}

fn record_failure(store: &mut dyn Store, job: &str, run_id: i64, r: &HookResult) {
    let _ = store.append_event(
        to_ms(clock::real_now()),
        EventKind::HookFailed,
        Some(job),
        Some(run_id),
        &serde_json::json!({"hook": r.hook, "error": r.error, "exit_code": r.exit_code}),
    );
}

/// Runs `on_failure` (and `post_run`) of a run closed `lost` by a command other than its
/// supervisor (in `jobctl after-lost`), blocking until they end; their output is appended
/// to the run's log.
pub(crate) fn run_after_close(
    cfg: &Config,
    store: &mut dyn Store,
    run: &RunRecord,
    status: RunStatus,
) -> Vec<HookResult> {
    let Some(job) = cfg.jobs.get(&run.job) else {
        return Vec::new(); // no longer in the config: no hooks to run
    };
    let Some(hooks) = job.hooks.as_deref() else {
        return Vec::new();
    };
    let state_dir = store.dir().to_path_buf();
    let ws_env: Vec<(&'static str, String)> = run
        .workspace
        .as_ref()
        .map(|w| {
            vec![
                ("JOBCTL_WORKSPACE", w.path.clone()),
                ("JOBCTL_BRANCH", w.branch.clone()),
                ("JOBCTL_BASE_COMMIT", w.base_commit.clone()),
            ]
        })
        .unwrap_or_default();
    let workdir: PathBuf = run
        .workspace
        .as_ref()
        .map(|w| PathBuf::from(&w.path))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| job.workdir.clone());
    let site = HookSite {
        workdir: &workdir,
        extra_env: &ws_env,
    };
    let mut out = Vec::new();
    for name in after(status) {
        let Some(cmd) = hooks.get(name) else { continue };
        let env = environment(cfg, job, run, &state_dir, &site, status.as_str(), None);
        let r = blocking(
            cfg,
            run,
            &state_dir,
            name,
            cmd,
            env,
            &workdir,
            hooks.timeout,
        );
        if !r.ok {
            record_failure(store, &job.name, run.id, &r);
        }
        out.push(r);
    }
    out
}

/// One hook outside a supervisor: its own process group, output prefixed into the run's
/// log, the whole tree (its group and everything carrying the run's marks) stopped when it
/// ends or at `timeout`.
#[allow(clippy::too_many_arguments)]
fn blocking(
    cfg: &Config,
    run: &RunRecord,
    state_dir: &Path,
    name: HookName,
    cmd: &Command,
    env: Vec<(String, String)>,
    workdir: &Path,
    timeout: Duration,
) -> HookResult {
    let started = Instant::now();
    let fail = |msg: String| result_of(name, cmd, started, Some(msg), None);
    let (program, args) = argv(cmd);
    let (reader, writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return fail(format!("{name} hook: can't create a pipe: {e}")),
    };
    let writer2 = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return fail(format!("{name} hook: can't duplicate a pipe: {e}")),
    };
    let child = Proc::new(&program)
        .args(&args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return fail(format!("{name} hook could not start: {program}: {e}")),
    };
    let pid = child.id() as i32;
    drop(child); // reaped below, by pid
    let log_path = run.log_path.clone().unwrap_or_default();
    let prefix = format!("[hook {name}] ");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        copy_prefixed(reader, Path::new(&log_path), &prefix);
        let _ = done_tx.send(());
    });
    let deadline = started + timeout;
    let mut status = None;
    let mut timed_out = false;
    while status.is_none() {
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(s) => status = Some(s),
            Err(_) => break,
        }
        if status.is_none() {
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // Whatever the hook left (or all of it, at its timeout) goes, like a job's.
    let identity = RunIdentity {
        pgid: Some(pid),
        env_marks: run_marks(state_dir, run.id),
        ancestor: None,
        not_before: None,
        foreign: Some(proctree::supervisor_mark()),
    };
    proctree::terminate(
        &identity,
        cfg.runner.kill_grace.min(Duration::from_secs(2)),
        Duration::from_secs(10),
        &mut |s| {
            if s.pid() == Some(Pid::from_raw(pid)) && status.is_none() {
                status = Some(s);
            }
        },
    );
    let _ = done_rx.recv_timeout(Duration::from_secs(2));
    let ending = if timed_out {
        Ending::TimedOut
    } else {
        match status {
            Some(WaitStatus::Exited(_, c)) => Ending::Exited(c),
            Some(WaitStatus::Signaled(_, s, _)) => Ending::Signaled(s as i32),
            _ => Ending::Signaled(Signal::SIGKILL as i32),
        }
    };
    let code = match ending {
        Ending::Exited(c) => Some(i64::from(c)),
        _ => None,
    };
    result_of(name, cmd, started, failure(name, &ending, timeout), code)
}

/// Appends what `from` gives to the log at `path`, each line prefixed; at most 1 MiB (a
/// closed run's log is not trimmed any more).
fn copy_prefixed(mut from: impl Read, path: &Path, prefix: &str) {
    const LIMIT: usize = 1 << 20;
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .ok();
    let mut buf = vec![0u8; 16 << 10];
    let mut at_start = true;
    let mut written = 0usize;
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let Some(f) = log.as_mut() else { continue };
        if written >= LIMIT {
            continue; // drained, not kept
        }
        let mut out = Vec::with_capacity(n + prefix.len() * 4);
        for line in buf[..n].split_inclusive(|b| *b == b'\n') {
            if at_start {
                out.extend_from_slice(prefix.as_bytes());
            }
            out.extend_from_slice(line);
            at_start = line.ends_with(b"\n");
        }
        written += out.len();
        let _ = f.write_all(&out);
    }
}
