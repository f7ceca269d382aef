//! `ask`: one agent call without tools, for programs other than the scheduler, sharing the
//! agents, their scopes and their budget. It is a run like any other (job `ask`), under a
//! lease of its own taken before its record exists, so asks run side by side and one whose
//! process dies is recovered like any run.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde::Serialize;

use super::Engine;
use super::pipeline::{self, AskWork, Work};
use super::views::milli_number;
use crate::config::{Config, MAX_PROMPT_BYTES, Thinking};
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{ASK_JOB, Actor, NewRun, RunStatus, Trigger};
use crate::core::units::{format_duration, parse_duration};
use crate::exec::process::Echo;
use crate::fail;
use crate::store::Claim;

/// An ask as the command line or a program gives it (the prompt apart: it may still have
/// to be read).
pub(crate) struct AskRequest<'a> {
    pub(crate) scope: &'a str,
    pub(crate) agent: Option<&'a str>,
    pub(crate) thinking: &'a str,
    pub(crate) timeout: &'a str,
}

/// The answer, as `ask --json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct AskView {
    pub(crate) agent: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) cost: Option<f64>,
    pub(crate) result: String,
    pub(crate) usage: UsageView,
}

#[derive(Debug, Serialize)]
pub(crate) struct UsageView {
    pub(crate) input_tokens: Option<i64>,
    pub(crate) output_tokens: Option<i64>,
    pub(crate) cost_usd: Option<f64>,
    pub(crate) num_turns: Option<i64>,
}

pub(crate) enum AskOutcome {
    Answered(AskView),
    /// jobctl was told to stop and stopped the call (exit 128 + N).
    Interrupted(Signal),
}

/// A request whose scope, agent, thinking level and timeout are valid.
pub(crate) struct Checked {
    thinking: Thinking,
    timeout: Duration,
}

/// Checks a request against the config, before anything is read or opened.
pub(crate) fn check(cfg: &Config, r: &AskRequest<'_>) -> Result<Checked> {
    if !cfg.budget.scopes.iter().any(|s| s == r.scope) {
        fail!(Usage, "{}", cfg.no_such_scope(r.scope));
    }
    if let Some(name) = r.agent
        && !cfg.agents.contains_key(name)
    {
        fail!(Usage, "{}", cfg.no_such_agent(name));
    }
    let Some(thinking) = Thinking::parse(r.thinking) else {
        fail!(
            Usage,
            "--thinking must be fast, med or slow, not {:?}",
            r.thinking
        );
    };
    let timeout = parse_duration(r.timeout).map_err(|e| Error::Usage(format!("--timeout: {e}")))?;
    Ok(Checked { thinking, timeout })
}

/// Checks a prompt: not empty, no control character but tab, newline and carriage return
/// (`core::text`), and small enough for one argument.
pub(crate) fn check_prompt(prompt: &str) -> Result<()> {
    if prompt.trim().is_empty() {
        fail!(Usage, "the prompt is empty");
    }
    if let Some(bad) = crate::core::text::free_text_problem(prompt) {
        fail!(
            Usage,
            "the prompt holds {bad}; only tab, newline and carriage return may be in a prompt"
        );
    }
    if prompt.len() > MAX_PROMPT_BYTES {
        fail!(
            Usage,
            "the prompt is {} bytes; at most 100 KiB fits in one argument",
            prompt.len()
        );
    }
    Ok(())
}

/// Makes the call, as a run of its own.
pub(crate) fn ask(
    e: &mut Engine<'_>,
    r: &AskRequest<'_>,
    c: Checked,
    prompt: &str,
) -> Result<AskOutcome> {
    check_prompt(prompt)?;
    let key = crate::coord::ask_lock_name();
    let Some(lease) = e.coord.try_lease(&key)? else {
        fail!(State, "can't take the lock {key}: another process holds it");
    };
    let now = to_ms(clock::real_now());
    let claim = e.store.claim_run(&NewRun {
        job: ASK_JOB.into(),
        scheduled_for: now,
        started_at: now,
        supervisor_pid: Some(i64::from(std::process::id())),
        scope: Some(r.scope.to_string()),
        lock_name: Some(key),
        trigger: Trigger::Ask,
        by: Actor::Cli,
        ..Default::default()
    })?;
    let Claim::Claimed(run) = claim else {
        fail!(State, "the store refused a new ask: {claim:?}");
    };
    let work = Work::Ask(AskWork {
        scope: r.scope,
        first: r.agent,
        thinking: c.thinking,
        prompt,
        timeout: c.timeout,
    });
    let done = pipeline::supervise(e, work, *run, lease, Echo::Off)?;
    let rec = done.record;
    match rec.status {
        RunStatus::Succeeded => Ok(AskOutcome::Answered(AskView {
            agent: rec.usage.agent,
            model: rec.usage.model,
            scope: rec.usage.scope,
            cost: rec.usage.cost_milli.map(milli_number),
            result: done.answer.unwrap_or_default(),
            usage: UsageView {
                input_tokens: rec.usage.input_tokens,
                output_tokens: rec.usage.output_tokens,
                cost_usd: rec.usage.cost_usd,
                num_turns: rec.usage.num_turns,
            },
        })),
        RunStatus::Skipped if rec.attempts.is_empty() => fail!(
            Unavailable,
            "no agent to try for scope {}: pass --agent NAME or set [fallback] order",
            r.scope
        ),
        RunStatus::Skipped => {
            let lines: Vec<String> = rec
                .attempts
                .iter()
                .map(|a| format!("  {}", a.describe()))
                .collect();
            fail!(
                Unavailable,
                "no agent available for scope {}:\n{}",
                r.scope,
                lines.join("\n")
            )
        }
        RunStatus::TimedOut => fail!(
            TimedOut,
            "ask timed out after {}",
            format_duration(c.timeout)
        ),
        RunStatus::Cancelled => Ok(AskOutcome::Interrupted(
            done.interrupted.unwrap_or(Signal::SIGTERM),
        )),
        RunStatus::Running
        | RunStatus::Queued
        | RunStatus::Paused
        | RunStatus::Retrying
        | RunStatus::Failed
        | RunStatus::Lost => fail!(
            Failed,
            "{}",
            rec.error.unwrap_or_else(|| "the agent failed".into())
        ),
    }
}
