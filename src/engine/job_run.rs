//! A job's run, the steps around its execution: prepare makes its workspace and runs
//! `pre_run`; finalize settles the workspace (commit, push), runs `post_run` and
//! `on_success`/`on_failure`, and keeps or removes the worktree. What each step did goes
//! into the run's end (`workspace`, `changes`, `hooks`), recorded once with the rest.

use nix::sys::signal::Signal;

use super::Engine;
use super::env::base_env;
use super::execute;
use super::hooks::{self, HookSite, HookStop};
use super::pipeline::{Executed, RunContext};
use super::workspace::{self, Prepared, Setup};
use crate::config::{Job, JobKind, Workspace};
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{EndError, EventKind, RunEnd, RunStatus};
use crate::core::units::format_duration;
use crate::core::workspace::{HookName, HookResult, Keep, WorkspaceInfo};

fn failed(error: String) -> Executed {
    Executed {
        end: RunEnd::failed(to_ms(clock::real_now()), error),
        interrupted: None,
        answer: None,
    }
}

/// Writes what a step noted to the run log.
fn flush_notes(cx: &mut RunContext, notes: &mut Vec<String>) -> Result<()> {
    for n in notes.drain(..) {
        cx.log.note(&n).map_err(Error::Internal)?;
    }
    Ok(())
}

pub(super) async fn run(e: &mut Engine<'_>, cx: &mut RunContext, job: &Job) -> Result<Executed> {
    let cfg = e.cfg;
    let mut notes = Vec::new();
    let mut hook_results: Vec<HookResult> = Vec::new();
    let mut done: Option<Executed> = None;

    // Prepare: the workspace (its worktree, with the job's `workspace` it was made by).
    let mut prepared: Option<(Prepared, &Workspace)> = None;
    let mut recorded: Option<WorkspaceInfo> = None;
    if let Some(ws) = job.workspace.as_deref() {
        let setup = Setup {
            cfg,
            job,
            ws,
            run: &cx.run,
            state_dir: &cx.state_dir,
            env: base_env(cfg, job),
            deadline: cx.deadline.into_std(),
        };
        let store = &mut *e.store;
        let run_id = cx.run.id;
        let mut record = |info: &WorkspaceInfo| {
            recorded = Some(info.clone());
            store
                .set_run_workspace(run_id, info, true)
                .map_err(|e| e.to_string())
        };
        match workspace::set_up(setup, &mut record, &mut |n| notes.push(n.to_string())) {
            Ok(p) => {
                notes.insert(
                    0,
                    format!(
                        "workspace: {} on branch {} from {} ({})",
                        p.info.path, p.info.branch, p.info.base, p.info.base_commit
                    ),
                );
                prepared = Some((p, ws));
            }
            Err(why) => {
                let why = format!("workspace set-up failed: {why}");
                notes.push(why.clone());
                done = Some(failed(why));
            }
        }
        flush_notes(cx, &mut notes)?;
    }
    if let Some((p, _)) = &prepared {
        cx.workdir = Some(p.dir.clone());
        cx.extra_env = p.env().to_vec();
    }
    let workdir = cx.workdir.clone().unwrap_or_else(|| job.workdir.clone());
    let extra = cx.extra_env.clone();
    let site = HookSite {
        workdir: &workdir,
        extra_env: &extra,
    };

    // Prepare: pre_run.
    if done.is_none()
        && let Some((r, stop)) = hooks::run(
            cfg,
            &mut *e.store,
            cx,
            job,
            HookName::PreRun,
            &site,
            RunStatus::Running.as_str(),
            None,
        )
        .await
    {
        if let Some(err) = r.error.clone() {
            done = Some(match stop {
                Some(HookStop::Interrupted(sig)) => cancelled(sig, "pre_run"),
                Some(HookStop::RunTimedOut) => timed_out(job, "pre_run"),
                None => failed(err),
            });
        }
        hook_results.push(r);
    }

    // Execute.
    let mut x = match done {
        Some(x) => x,
        None => match &job.kind {
            JobKind::Script(command) => execute::run_script(e, cx, job, command).await?,
            JobKind::Agent(aj) => execute::run_agent_job(e, cx, job, aj).await?,
        },
    };

    // Finalize: the workspace's work.
    let mut changes = Vec::new();
    let mut must_keep = false;
    if let Some((p, ws)) = prepared.as_mut() {
        let settled = workspace::settle(
            p,
            ws,
            cfg,
            job,
            &cx.run,
            x.interrupted.is_none(),
            &mut |n| notes.push(n.to_string()),
        );
        if let Some(f) = &settled.failure {
            notes.push(f.clone());
            fail_with(&mut x.end, f);
            must_keep = true;
        }
        if settled.dirty {
            notes.push("workspace: the run left uncommitted work (commit = false)".into());
            must_keep = true;
        }
        changes = settled.changes;
        flush_notes(cx, &mut notes)?;
    }

    // Finalize: the hooks after the run.
    for name in hooks::after(x.end.status) {
        let Some((r, stop)) = hooks::run(
            cfg,
            &mut *e.store,
            cx,
            job,
            name,
            &site,
            x.end.status.as_str(),
            x.end.exit_code,
        )
        .await
        else {
            continue;
        };
        hook_results.push(r);
        if let Some(HookStop::Interrupted(sig)) = stop {
            x.interrupted = x.interrupted.or(Some(sig));
            break; // jobctl is told to stop: no more hooks
        }
    }

    // Finalize: keep or remove the worktree.
    if let Some((p, ws)) = prepared.as_mut() {
        let keep = must_keep || by_rule(ws.keep, x.end.status, changes.is_empty());
        let info = workspace::release(p, keep, &mut |n| notes.push(n.to_string()));
        flush_notes(cx, &mut notes)?;
        if info.kept {
            e.store.append_event(
                to_ms(clock::real_now()),
                EventKind::WorkspaceKept,
                Some(&job.name),
                Some(cx.run.id),
                &serde_json::json!({"path": info.path, "branch": info.branch, "status": x.end.status}),
            )?;
        }
        x.end.workspace = Some(info);
    } else if let Some(mut info) = recorded {
        // Set-up failed after the run's worktree was recorded: there is none now.
        info.kept = false;
        x.end.workspace = Some(info);
    }
    x.end.changes = changes;
    x.end.hooks = hook_results;
    Ok(x)
}

/// Whether `keep` keeps the worktree of a run that ended `status`. A run no agent could
/// take (`skipped`) that changed nothing keeps one only with `always`: runs skipped for
/// hours while an agent is out of quota would otherwise fill the disk with clean copies.
fn by_rule(keep: Keep, status: RunStatus, unchanged: bool) -> bool {
    if status == RunStatus::Skipped && unchanged {
        return keep == Keep::Always;
    }
    keep.keeps(status == RunStatus::Succeeded)
}

/// A run that could not save its work: `failed`, whatever it was, with why added.
fn fail_with(end: &mut RunEnd, why: &str) {
    if end.status == RunStatus::Succeeded {
        end.status = RunStatus::Failed;
    }
    end.error = Some(match end.error.take() {
        Some(mut e) => {
            e.then.push(why.to_string());
            e
        }
        None => EndError::new(why),
    });
}

/// A run whose timeout passed during hook `during`, before its job started.
fn timed_out(job: &Job, during: &str) -> Executed {
    let mut end = RunEnd::new(RunStatus::TimedOut, to_ms(clock::real_now()));
    // Its hook's process tree was stopped; how is the hook's to say.
    end.error = Some(EndError::stopped(
        format!(
            "timed out after {} during the {during} hook (its time counts against the job's timeout); \
             the job did not start",
            format_duration(job.timeout)
        ),
        "",
    ));
    Executed {
        end,
        interrupted: None,
        answer: None,
    }
}

fn cancelled(sig: Signal, during: &str) -> Executed {
    let mut end = RunEnd::new(RunStatus::Cancelled, to_ms(clock::real_now()));
    end.error = Some(EndError::new(format!(
        "cancelled: jobctl received {sig} during the {during} hook and stopped the run"
    )));
    Executed {
        end,
        interrupted: Some(sig),
        answer: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_keeps_a_worktree() {
        assert!(by_rule(Keep::Failed, RunStatus::Failed, true));
        assert!(!by_rule(Keep::Failed, RunStatus::Succeeded, false));
        assert!(
            !by_rule(Keep::Failed, RunStatus::Skipped, true),
            "a skipped run that changed nothing"
        );
        assert!(by_rule(Keep::Always, RunStatus::Skipped, true));
        assert!(by_rule(Keep::Failed, RunStatus::Cancelled, false));
    }

    #[test]
    fn a_failure_to_save_fails_the_run_and_says_both() {
        let mut end = RunEnd::new(RunStatus::Succeeded, 0);
        fail_with(&mut end, "push failed");
        assert_eq!(end.status, RunStatus::Failed);
        let mut end = RunEnd::failed(0, "exited with code 2");
        fail_with(&mut end, "push failed");
        assert_eq!(
            end.error_text().as_deref(),
            Some("exited with code 2; push failed")
        );
        let mut end = RunEnd::new(RunStatus::TimedOut, 0);
        fail_with(&mut end, "x");
        assert_eq!(end.status, RunStatus::TimedOut);
    }
}
