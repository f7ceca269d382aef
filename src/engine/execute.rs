//! The execute step of the run pipeline: the script, the agent call with its fallback
//! walk, or an `ask`. Each runs in the context's working directory (the job's, or its
//! worktree) with the job's environment plus what the prepare steps added.

use nix::sys::signal::Signal;

use super::Engine;
use super::env::{base_env_plain, job_env, run_marks};
use super::pipeline::{AskWork, Executed, RunContext};
use crate::agents::presets::Mode;
use crate::agents::{self, CallSpec, role};
use crate::config::{AgentJob, Command, Job};
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{ASK_JOB, EventKind, RunEnd, RunStatus};
use crate::exec::env::{find_program, path_of, set, shell_program};
use crate::exec::process::{self, Launch};

/// A job's environment plus the context's additions (the workspace's variables).
fn with_extra(mut env: Vec<(String, String)>, cx: &RunContext) -> Vec<(String, String)> {
    for (k, v) in &cx.extra_env {
        set(&mut env, k, v);
    }
    env
}

pub(super) async fn run_script(
    e: &mut Engine<'_>,
    cx: &mut RunContext,
    job: &Job,
    command: &Command,
) -> Result<Executed> {
    let (program, args) = match command {
        Command::Shell(s) => ("/bin/sh".to_string(), vec!["-c".to_string(), s.clone()]),
        Command::Argv(v) => (v[0].clone(), v[1..].to_vec()),
    };
    let launch = Launch {
        program,
        args,
        env: with_extra(job_env(e.cfg, job, &cx.run, None, &cx.state_dir), cx),
        workdir: cx.workdir.clone().unwrap_or_else(|| job.workdir.clone()),
        capture_stdout: false,
        stall: None,
        line_prefix: None,
    };
    let run_id = cx.run.id;
    let store = &mut *e.store;
    let mut on_spawn = |pid: i32| {
        let _ = store.set_run_process(run_id, i64::from(std::process::id()), Some(i64::from(pid)));
    };
    let ctx = process::Ctx {
        log: &mut cx.log,
        echo: cx.echo,
        signals: &mut cx.signals,
        grace: e.cfg.runner.kill_grace,
        env_marks: run_marks(&cx.state_dir, run_id),
        on_starting: &mut || {},
        on_spawn: &mut on_spawn,
    };
    let mut fin = process::run(&launch, cx.deadline, ctx)
        .await
        .map_err(Error::Internal)?;
    if let Command::Shell(s) = command
        && let Some(missing) = shell_not_found(s, &fin.ending, &launch)
    {
        fin.ending = missing;
    }
    let end = RunEnd::of_process(
        &fin.ending,
        fin.status,
        job.timeout,
        e.cfg.runner.kill_grace,
        fin.killed,
        to_ms(clock::real_now()),
    );
    let interrupted = interrupted_by(&fin.ending);
    // The log says who stopped it, as the run's record will (`cancelled by api:alice`),
    // not only that its supervisor got a signal.
    let mut told = end.clone();
    if interrupted.is_some() {
        super::cancel::name_the_canceller(&*e.store, cx.run.id, &mut told);
    }
    if let Some(err) = told.error_text() {
        cx.log.note(&err).map_err(Error::Internal)?;
    }
    Ok(Executed {
        interrupted,
        end,
        answer: None,
    })
}

/// A shell that exited 127 because the command's program is not there: the same end as
/// the array form's, whose exec found it missing ("command not found: NAME").
fn shell_not_found(command: &str, ending: &process::Ending, l: &Launch) -> Option<process::Ending> {
    if *ending != process::Ending::Exited(127) {
        return None;
    }
    let program = shell_program(command)?;
    find_program(program, path_of(&l.env), &l.workdir)
        .is_none()
        .then(|| process::Ending::SpawnFailed {
            exit_code: 127,
            message: crate::exec::spawn::not_found(program),
        })
}

fn interrupted_by(ending: &process::Ending) -> Option<Signal> {
    match ending {
        process::Ending::Interrupted(s) => Some(*s),
        _ => None,
    }
}

/// Runs agent job `job`, whose agent call is `aj` (its kind).
pub(super) async fn run_agent_job(
    e: &mut Engine<'_>,
    cx: &mut RunContext,
    job: &Job,
    aj: &AgentJob,
) -> Result<Executed> {
    let cfg = e.cfg;
    let role = role::role_for(cfg, Some(aj), &role::daemon_state(cfg));
    let spec = CallSpec {
        first: aj.agent.as_deref(),
        scope: &aj.scope,
        thinking: aj.thinking,
        model: aj.model.as_deref(),
        args: &aj.args,
        prompt: cx.run.prompt.as_deref().unwrap_or(&aj.prompt),
        mode: Mode::Job,
        env: with_extra(job_env(cfg, job, &cx.run, Some(&role), &cx.state_dir), cx),
        workdir: cx.workdir.clone().unwrap_or_else(|| job.workdir.clone()),
        role,
        timeout: job.timeout,
        marks: run_marks(&cx.state_dir, cx.run.id),
        tree: super::tree::budget_limits(e, &cx.run)?,
        mcp: aj.mcp,
    };
    let r = agents::call(
        cfg,
        &mut *e.store,
        &cx.run,
        spec,
        cx.deadline,
        &mut cx.log,
        &mut cx.signals,
        cx.echo,
    )
    .await?;
    if r.end.status == RunStatus::Skipped {
        e.store.append_event(
            to_ms(clock::real_now()),
            EventKind::RunSkipped,
            Some(&job.name),
            Some(cx.run.id),
            &serde_json::json!({"reason": r.end.error, "attempts": r.end.attempts}),
        )?;
    }
    Ok(Executed {
        end: r.end,
        interrupted: r.interrupted,
        answer: None,
    })
}

pub(super) async fn run_ask(
    e: &mut Engine<'_>,
    cx: &mut RunContext,
    ask: &AskWork<'_>,
) -> Result<Executed> {
    let cfg = e.cfg;
    let role = role::role_for(cfg, None, &role::daemon_state(cfg));
    let mut env = base_env_plain(cfg);
    for (k, v) in [
        ("JOBCTL_JOB_NAME", ASK_JOB.to_string()),
        ("JOBCTL_RUN_ID", cx.run.id.to_string()),
        ("JOBCTL_STATE_DIR", cx.state_dir.display().to_string()),
        ("JOBCTL_JOB_ROLE", role.clone()),
    ] {
        set(&mut env, k, &v);
    }
    for name in &cfg.runner.role_env {
        set(&mut env, name, &role);
    }
    super::env::reach_this_jobctl(cfg, &mut env);
    let spec = CallSpec {
        first: ask.first,
        scope: ask.scope,
        thinking: ask.thinking,
        model: None,
        args: &[],
        prompt: ask.prompt,
        mode: Mode::Ask,
        env,
        workdir: cfg.dir.clone(),
        role,
        timeout: ask.timeout,
        marks: run_marks(&cx.state_dir, cx.run.id),
        tree: Vec::new(),
        mcp: false,
    };
    let r = agents::call(
        cfg,
        &mut *e.store,
        &cx.run,
        spec,
        cx.deadline,
        &mut cx.log,
        &mut cx.signals,
        cx.echo,
    )
    .await?;
    Ok(Executed {
        end: r.end,
        interrupted: r.interrupted,
        answer: r.answer,
    })
}
