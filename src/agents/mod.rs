//! Agent calls: choose an agent for a scope (the job's agent, then `[fallback] order`),
//! reserve its cost from the shared daily budget, run its CLI like any job process, read
//! its answer, and move on to the next agent when one is logged out or out of quota.
//! Used by agent jobs (from the supervisor) and by `jobctl ask`.

pub mod parse;
pub mod presets;
pub mod role;
pub mod select;

use std::path::PathBuf;

use anyhow::Result;
use jiff::Timestamp;
use nix::sys::signal::Signal;

use crate::config::{Config, Job, JobKind, Thinking};
use crate::core::clock::{self, to_ms};
use crate::core::run::{Attempt, Outcome, RunEnd, RunRecord};
use crate::exec::logfile::LogFile;
use crate::exec::process::{self, Echo, Ending, Launch, Signals, StallLine, StallRule};
use crate::store::Store;
use crate::store::agents::Reservation;
use presets::Mode;
use select::Verdict;

/// The budget day `now` belongs to: the date in `runner.timezone` of `now - day_starts`.
pub fn budget_day(cfg: &Config, now: Timestamp) -> String {
    let (h, m) = cfg.budget.day_starts;
    let local = now.to_zoned((*cfg.runner.timezone).clone()).datetime();
    let shifted = local
        .checked_sub(jiff::Span::new().hours(i64::from(h)).minutes(i64::from(m)))
        .unwrap_or(local);
    shifted.date().to_string()
}

/// Makes every agent × scope exist and brings the budget to today: the automatic
/// rollover at `day_starts` needs no cron entry, any command that looks at budgets does it.
pub fn prepare(cfg: &Config, store: &mut Store, now: Timestamp) -> Result<String> {
    let names: Vec<&str> = cfg.agents.keys().map(String::as_str).collect();
    store.ensure_scopes(&names, &cfg.budget.scopes)?;
    let day = budget_day(cfg, now);
    store.roll_budget_day(
        &day,
        to_ms(now),
        cfg.budget.provider_cooldown.as_millis() as i64,
    )
}

/// One agent call to make, for a job or for `ask`.
pub struct CallSpec<'a> {
    pub first: Option<&'a str>,
    pub scope: &'a str,
    pub thinking: Thinking,
    pub model: Option<&'a str>,
    pub args: &'a [String],
    pub prompt: &'a str,
    pub mode: Mode,
    /// The complete environment of the agent process.
    pub env: Vec<(String, String)>,
    pub workdir: PathBuf,
    pub role: String,
    /// The whole call's deadline, for messages.
    pub timeout: std::time::Duration,
}

pub struct CallResult {
    pub end: RunEnd,
    pub interrupted: Option<Signal>,
    pub answer: Option<String>,
}

fn attempt(agent: &str, outcome: Outcome, reason: Option<String>) -> Attempt {
    Attempt::new(agent, outcome, reason)
}

/// Walks the candidates until one answers, or none is left (`skipped`).
#[allow(clippy::too_many_arguments)]
pub async fn call(
    cfg: &Config,
    store: &mut Store,
    run: &RunRecord,
    spec: CallSpec<'_>,
    deadline: tokio::time::Instant,
    log: &mut LogFile,
    signals: &mut Signals,
    echo: Echo,
) -> Result<CallResult> {
    let now = clock::now()?;
    let day = prepare(cfg, store, now)?;
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut end = RunEnd {
        role: Some(spec.role.clone()),
        scope: Some(spec.scope.to_string()),
        ..Default::default()
    };
    for name in select::candidates(spec.first, &cfg.fallback) {
        let Some(agent) = cfg.agents.get(&name) else {
            continue;
        };
        let now_ms = to_ms(clock::now()?);
        if let Some(st) = store.scope_state(&name, spec.scope)?
            && !st.enabled
        {
            attempts.push(attempt(&name, Outcome::Unavailable, st.reason));
            continue;
        }
        if select::find_program(&agent.command[0], &spec.env).is_none() {
            attempts.push(attempt(
                &name,
                Outcome::NotInstalled,
                Some(format!("{} not found on PATH", agent.command[0])),
            ));
            continue;
        }
        if let Err(reason) =
            select::check_credentials(agent.auth.as_ref(), &spec.env, |p| p.exists())
        {
            store.set_scope(&name, spec.scope, false, Some(&reason), now_ms)?;
            attempts.push(attempt(&name, Outcome::AuthFailed, Some(reason)));
            continue;
        }
        let model = presets::model_for(agent, spec.thinking, spec.model);
        let cost = agent.rate_milli(model.as_deref());
        let ticket = match store.reserve(
            &name,
            spec.scope,
            &day,
            cost,
            agent.daily_budget_milli,
            now_ms,
            Some((run.id, model.as_deref())),
        )? {
            Reservation::Reserved(t) => t,
            Reservation::Disabled(reason) => {
                attempts.push(attempt(&name, Outcome::Unavailable, Some(reason)));
                continue;
            }
            Reservation::Exhausted(reason) => {
                attempts.push(attempt(&name, Outcome::QuotaExhausted, Some(reason)));
                continue;
            }
        };
        crate::faults::point("after_reserve");
        log.note(&format!(
            "agent {name} (preset {}, model {}, scope {}, role {})",
            agent.preset.as_str(),
            model.as_deref().unwrap_or("the CLI's default"),
            spec.scope,
            spec.role
        ))?;
        let argv = presets::argv(
            agent,
            spec.mode,
            spec.prompt,
            model.as_deref(),
            spec.thinking,
            spec.args,
        );
        let launch = Launch {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            env: spec.env.clone(),
            workdir: spec.workdir.clone(),
            capture_stdout: true,
            stall: Some(StallRule {
                limit: agent.stall,
                read_line: |l| match parse::read_line(l) {
                    parse::Line::Notice(n) => StallLine::Notice(n),
                    parse::Line::Progress => StallLine::Progress,
                    parse::Line::Neutral => StallLine::Neutral,
                },
            }),
        };
        let store_ref: &Store = store;
        let mut on_spawn = |pid: i32| {
            let _ = store_ref.set_run_process(run.id, std::process::id() as i64, Some(pid as i64));
        };
        // Recorded before the agent starts: a supervisor killed from here on may have
        // started it, and the call is then charged (at worst once too often, never a call
        // that ran for free).
        let mut on_starting = || {
            if let Err(e) = store_ref.mark_agent_starting(run.id) {
                tracing::warn!("can't record that agent {name} is starting: {e:#}");
            }
        };
        let ctx = process::Ctx {
            log: &mut *log,
            echo,
            signals: &mut *signals,
            grace: cfg.runner.kill_grace,
            env_marks: crate::recovery::env_marks(&store.dir, run.id),
            on_starting: &mut on_starting,
            on_spawn: &mut on_spawn,
        };
        let fin = process::run(&launch, deadline, ctx).await?;
        let secrets = crate::supervisor::env::secret_values(&spec.env);
        let hide = |text: &str| crate::supervisor::env::redact(text, &secrets);
        end.agent = Some(name.clone());
        end.model = model.clone();
        end.cost_milli = Some(cost);
        let exit = match &fin.ending {
            Ending::Exited(c) => Some(*c),
            _ => None,
        };
        let parsed = parse::parse(
            agent.preset,
            exit,
            &fin.stdout,
            fin.stdout_truncated,
            &fin.stderr,
        );
        end.cost_usd = parsed.cost_usd;
        end.input_tokens = parsed.input_tokens;
        end.output_tokens = parsed.output_tokens;
        end.num_turns = parsed.num_turns;
        end.tool_calls = parsed.tool_calls;
        let (base, interrupted) =
            crate::supervisor::end_of(&fin.ending, fin.status, spec.timeout, cfg.runner.kill_grace);
        end.exit_code = base.exit_code;
        end.signal = base.signal;
        let verdict = match &fin.ending {
            Ending::TimedOut | Ending::Interrupted(_) => {
                attempts.push(attempt(
                    &name,
                    Outcome::of_run(base.status),
                    base.error.clone(),
                ));
                end.status = base.status;
                end.error = base.error;
                return finish(end, attempts, interrupted, None, log);
            }
            Ending::SpawnFailed { message, .. } => Verdict::Failed {
                error: message.clone(),
                refund: true,
            },
            // Only ever retrying to reach the provider: like a provider that said no.
            Ending::Stalled(notice) => Verdict::NextAgent {
                outcome: Outcome::Unavailable,
                reason: format!(
                    "unavailable: {notice} (no progress for {})",
                    crate::core::units::format_duration(agent.stall)
                ),
            },
            Ending::Exited(_) | Ending::Signaled(_) => select::verdict(&parsed),
        };
        match verdict {
            Verdict::Succeeded => {
                attempts.push(attempt(&name, Outcome::Succeeded, None));
                end.status = crate::core::run::RunStatus::Succeeded;
                return finish(end, attempts, None, parsed.answer, log);
            }
            Verdict::NextAgent { outcome, reason } => {
                let reason = hide(&reason);
                store.release(&ticket)?;
                store.set_scope(
                    &name,
                    spec.scope,
                    false,
                    Some(&reason),
                    to_ms(clock::now()?),
                )?;
                log.note(&format!("agent {name}: {reason}; trying the next agent"))?;
                attempts.push(attempt(&name, outcome, Some(reason)));
                end = RunEnd {
                    role: end.role.take(),
                    scope: end.scope.take(),
                    ..Default::default()
                };
            }
            Verdict::Failed { error, refund } => {
                let error = hide(&error);
                if refund {
                    store.release(&ticket)?;
                    end.cost_milli = None;
                }
                attempts.push(attempt(&name, Outcome::Failed, Some(error.clone())));
                end.status = crate::core::run::RunStatus::Failed;
                end.error = Some(format!("agent {name} failed: {error}"));
                return finish(end, attempts, None, None, log);
            }
        }
    }
    end.status = crate::core::run::RunStatus::Skipped;
    let reasons: Vec<String> = attempts
        .iter()
        .map(|a| {
            format!(
                "{}: {}",
                a.agent,
                a.reason.clone().unwrap_or_else(|| a.outcome.to_string())
            )
        })
        .collect();
    end.error = Some(if reasons.is_empty() {
        "no agent to try: the job names none and [fallback] order is empty".into()
    } else {
        format!("no agent available ({})", reasons.join("; "))
    });
    finish(end, attempts, None, None, log)
}

fn finish(
    mut end: RunEnd,
    attempts: Vec<Attempt>,
    interrupted: Option<Signal>,
    answer: Option<String>,
    log: &mut LogFile,
) -> Result<CallResult> {
    end.attempts = attempts;
    end.ended_at = to_ms(clock::real_now());
    if let Some(e) = &end.error {
        log.note(e)?;
    }
    if let Some(a) = &answer {
        log.note("answer:")?;
        log.write(a.as_bytes())?;
        if !a.ends_with('\n') {
            log.write(b"\n")?;
        }
    }
    Ok(CallResult {
        end,
        interrupted,
        answer,
    })
}

/// An agent job's run, for the supervisor.
#[allow(clippy::too_many_arguments)]
pub async fn run_job(
    cfg: &Config,
    store: &mut Store,
    job: &Job,
    run: &RunRecord,
    deadline: tokio::time::Instant,
    log: &mut LogFile,
    signals: &mut Signals,
    echo: Echo,
) -> Result<(RunEnd, Option<Signal>)> {
    let JobKind::Agent(aj) = &job.kind else {
        anyhow::bail!("{} is not an agent job", job.name)
    };
    let role = role::role_for(cfg, Some(aj), &role::daemon_state(cfg));
    let env = crate::supervisor::env::job_env(cfg, job, run, Some(&role), &store.dir);
    let spec = CallSpec {
        first: aj.agent.as_deref(),
        scope: &aj.scope,
        thinking: aj.thinking,
        model: aj.model.as_deref(),
        args: &aj.args,
        prompt: &aj.prompt,
        mode: Mode::Job,
        env,
        workdir: job.workdir.clone(),
        role,
        timeout: job.timeout,
    };
    let r = call(cfg, store, run, spec, deadline, log, signals, echo).await?;
    if r.end.status == crate::core::run::RunStatus::Skipped {
        store.append_event(
            to_ms(clock::real_now()),
            crate::core::run::EventKind::RunSkipped,
            Some(&job.name),
            Some(run.id),
            &serde_json::json!({"reason": r.end.error, "attempts": r.end.attempts}),
        )?;
    }
    Ok((r.end, r.interrupted))
}
