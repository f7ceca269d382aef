//! One agent call: walk the candidates (the first agent named, then `[fallback] order`),
//! reserve each one's cost from the shared daily budget, run its CLI like any job process,
//! read its answer, and move on to the next agent when one is logged out, out of quota or
//! unreachable (agents.md, "Scopes and the shared budget"). Agent jobs and `jobctl ask`
//! both call through here.

use std::cell::RefCell;
use std::path::PathBuf;

use nix::sys::signal::Signal;

use super::parse;
use super::presets::{self, Mode};
use super::select::{self, Verdict};
use crate::config::{Config, Thinking};
use crate::core::budget::{ReasonKind, ScopeReason};
use crate::core::clock::{self, to_ms};
use crate::core::error::{Error, Result};
use crate::core::run::{AgentUsage, Attempt, Outcome, RunEnd, RunRecord, RunStatus};
use crate::exec::env;
use crate::exec::logfile::LogFile;
use crate::exec::process::{self, Echo, Ending, Launch, Signals, StallLine, StallRule};
use crate::store::{Reservation, ReserveRequest, Store};

/// One agent call to make, for a job or for `ask`.
pub(crate) struct CallSpec<'a> {
    pub(crate) first: Option<&'a str>,
    pub(crate) scope: &'a str,
    pub(crate) thinking: Thinking,
    pub(crate) model: Option<&'a str>,
    pub(crate) args: &'a [String],
    pub(crate) prompt: &'a str,
    pub(crate) mode: Mode,
    /// The complete environment of the agent process.
    pub(crate) env: Vec<(String, String)>,
    pub(crate) workdir: PathBuf,
    pub(crate) role: String,
    /// The whole call's deadline, for messages.
    pub(crate) timeout: std::time::Duration,
    /// Environment entries that mark the run's processes.
    pub(crate) marks: Vec<String>,
    /// The `tree_budget` limits of the run and its ancestors (`ReserveRequest::tree`).
    pub(crate) tree: Vec<(i64, i64)>,
    /// The job's `mcp = true`: jobctl's tools wired into the CLI (an agent's own `mcp`
    /// also wires them).
    pub(crate) mcp: bool,
}

pub(crate) struct CallResult {
    pub(crate) end: RunEnd,
    pub(crate) interrupted: Option<Signal>,
    pub(crate) answer: Option<String>,
}

/// Disables `agent` after a call for `why`: in `scope` alone, or, when the CLI said it is
/// logged out, in every scope, since a CLI logged out for one scope is logged out for all.
fn disable(
    store: &mut dyn Store,
    cfg: &Config,
    agent: &str,
    scope: &str,
    why: &ScopeReason,
    now: i64,
) -> Result<()> {
    if why.kind != ReasonKind::AuthFailed {
        store.set_scope(agent, scope, Some(why), now)?;
        return Ok(());
    }
    let mut scopes = vec![scope.to_string()];
    scopes.extend(cfg.budget.scopes.iter().filter(|s| *s != scope).cloned());
    store.disable_agent(agent, &scopes, why, now)?;
    Ok(())
}

fn attempt(agent: &str, outcome: Outcome, reason: Option<String>) -> Attempt {
    Attempt::new(agent, outcome, reason)
}

/// Walks the candidates until one answers, or none is left (`skipped`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn call(
    cfg: &Config,
    store: &mut dyn Store,
    run: &RunRecord,
    spec: CallSpec<'_>,
    deadline: tokio::time::Instant,
    log: &mut LogFile,
    signals: &mut Signals,
    echo: Echo,
) -> Result<CallResult> {
    let now = clock::now()?;
    let day = super::prepare(cfg, store, now)?;
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut end = RunEnd {
        usage: AgentUsage {
            role: Some(spec.role.clone()),
            scope: Some(spec.scope.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    // A foreground run hears of each agent passed over as the next one starts.
    let mut told = 0;
    // An agent CLI's stdout is its JSON result: the answer is shown instead, at the end.
    let raw_echo = |preset| match echo {
        Echo::Off => Echo::Off,
        _ if preset == crate::config::Preset::Command => echo,
        _ => Echo::StderrOnly,
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
        if select::find_program(&agent.command[0], &spec.env, &spec.workdir).is_none() {
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
            // This scope only: what the pre-check found missing depends on the job's
            // environment, which another job may fill.
            store.set_scope(
                &name,
                spec.scope,
                Some(&ScopeReason::from_text(reason.clone())),
                now_ms,
            )?;
            attempts.push(attempt(&name, Outcome::AuthFailed, Some(reason)));
            continue;
        }
        let model = presets::model_for(agent, spec.thinking, spec.model);
        let cost = agent.rate_milli(model.as_deref());
        let ticket = match store.reserve(&ReserveRequest {
            agent: &name,
            scope: spec.scope,
            day: &day,
            cost,
            budget: agent.daily_budget_milli,
            now: now_ms,
            for_run: Some((run.id, model.as_deref())),
            tree: &spec.tree,
        })? {
            Reservation::Reserved(t) => t,
            Reservation::Disabled(reason) => {
                attempts.push(attempt(&name, Outcome::Unavailable, Some(reason)));
                continue;
            }
            Reservation::Exhausted(reason) | Reservation::OverTree(reason) => {
                attempts.push(attempt(&name, Outcome::QuotaExhausted, Some(reason)));
                continue;
            }
        };
        crate::faults::point("after_reserve");
        // A command agent without a model has none to name.
        let model_text = match (&model, agent.preset) {
            (None, crate::config::Preset::Command) => String::new(),
            (m, _) => format!(", model {}", m.as_deref().unwrap_or("the CLI's default")),
        };
        log.note(&format!(
            "agent {name} (preset {}{model_text}, scope {}, role {})",
            agent.preset.as_str(),
            spec.scope,
            spec.role
        ))
        .map_err(Error::Internal)?;
        if echo != Echo::Off {
            for a in &attempts[told..] {
                let why = a.reason.as_deref().unwrap_or(a.outcome.as_str());
                let note = format!("{}: {why}; trying {name}\n", a.agent);
                crate::exec::echo::send(Echo::Stderr, note.as_bytes());
            }
            told = attempts.len();
        }
        let mut argv = presets::argv(
            agent,
            spec.mode,
            spec.prompt,
            model.as_deref(),
            spec.thinking,
            spec.args,
        );
        let mut call_env = spec.env.clone();
        // Held until the call ends: what the wiring made for it goes then.
        let _wired = if spec.mode == Mode::Job && (spec.mcp || agent.mcp) {
            let exe = crate::exec::spawn::self_exe()
                .map_err(|e| Error::Internal(anyhow::anyhow!("can't find jobctl itself: {e}")))?;
            let wired =
                super::mcp::wire(agent.preset, &exe, &mut argv, &mut call_env).map_err(|e| {
                    Error::Internal(anyhow::anyhow!("can't wire jobctl's MCP tools in: {e}"))
                })?;
            log.note(&format!("jobctl's MCP tools wired into {name}"))
                .map_err(Error::Internal)?;
            Some(wired)
        } else {
            None
        };
        let launch = Launch {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            env: call_env,
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
            line_prefix: None,
        };
        let fin = {
            let cell = RefCell::new(&mut *store);
            let mut on_spawn = |pid: i32| {
                let pid = Some(i64::from(pid));
                let _ =
                    cell.borrow_mut()
                        .set_run_process(run.id, i64::from(std::process::id()), pid);
            };
            // Recorded before the agent starts: a supervisor killed from here on may have
            // started it, and the call is then charged (at worst once too often, never a
            // call that ran for free).
            let mut on_starting = || {
                if let Err(e) = cell.borrow_mut().mark_agent_starting(run.id) {
                    tracing::warn!("can't record that agent {name} is starting: {e}");
                }
            };
            let ctx = process::Ctx {
                log: &mut *log,
                echo: raw_echo(agent.preset),
                signals: &mut *signals,
                grace: cfg.runner.kill_grace,
                env_marks: spec.marks.clone(),
                on_starting: &mut on_starting,
                on_spawn: &mut on_spawn,
            };
            process::run(&launch, deadline, ctx)
                .await
                .map_err(Error::Internal)?
        };
        let secrets = env::secret_values(&spec.env);
        let hide = |text: &str| env::redact(text, &secrets);
        end.usage.agent = Some(name.clone());
        end.usage.model = model.clone();
        end.usage.cost_milli = Some(cost);
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
        end.usage.cost_usd = parsed.cost_usd;
        end.usage.input_tokens = parsed.input_tokens;
        end.usage.output_tokens = parsed.output_tokens;
        end.usage.num_turns = parsed.num_turns;
        end.usage.tool_calls = parsed.tool_calls;
        let base = RunEnd::of_process(
            &fin.ending,
            fin.status,
            spec.timeout,
            cfg.runner.kill_grace,
            fin.killed,
            to_ms(clock::real_now()),
        );
        let interrupted = match fin.ending {
            Ending::Interrupted(s) => Some(s),
            _ => None,
        };
        end.exit_code = base.exit_code;
        end.signal = base.signal;
        let verdict = match &fin.ending {
            Ending::TimedOut | Ending::Interrupted(_) | Ending::PausedTooLong(_) => {
                attempts.push(attempt(
                    &name,
                    Outcome::of_run(base.status),
                    base.error_text(),
                ));
                end.status = base.status;
                end.error = base.error;
                return finish(end, attempts, interrupted, None, false, log);
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
                end.status = RunStatus::Succeeded;
                let logged = parsed.answer_is_output;
                if echo != Echo::Off
                    && !logged
                    && let Some(a) = &parsed.answer
                {
                    let mut text = a.clone();
                    if !text.ends_with('\n') {
                        text.push('\n');
                    }
                    crate::exec::echo::send(echo, text.as_bytes());
                }
                return finish(end, attempts, None, parsed.answer, logged, log);
            }
            Verdict::NextAgent { outcome, reason } => {
                let reason = hide(&reason);
                store.release(&ticket)?;
                let now = to_ms(clock::now()?);
                let why = ScopeReason::from_text(reason.clone());
                disable(&mut *store, cfg, &name, spec.scope, &why, now)?;
                log.note(&format!("agent {name}: {reason}; trying the next agent"))
                    .map_err(Error::Internal)?;
                attempts.push(attempt(&name, outcome, Some(reason)));
                end = RunEnd {
                    usage: AgentUsage {
                        role: end.usage.role.take(),
                        scope: end.usage.scope.take(),
                        ..Default::default()
                    },
                    ..Default::default()
                };
            }
            Verdict::Failed { error, refund } => {
                let error = hide(&error);
                if refund {
                    store.release(&ticket)?;
                    end.usage.cost_milli = None;
                }
                attempts.push(attempt(&name, Outcome::Failed, Some(error.clone())));
                end.status = RunStatus::Failed;
                end.error = Some(format!("agent {name} failed: {error}").into());
                return finish(end, attempts, None, None, false, log);
            }
        }
    }
    end.status = RunStatus::Skipped;
    let reasons: Vec<String> = attempts.iter().map(Attempt::describe).collect();
    end.error = Some(
        if reasons.is_empty() {
            "no agent to try: the job names none and [fallback] order is empty".into()
        } else {
            format!("no agent available ({})", reasons.join("; "))
        }
        .into(),
    );
    finish(end, attempts, None, None, false, log)
}

/// Closes a call: its error and its answer in the log (unless the answer is the output
/// the log holds already, `answer_logged`).
fn finish(
    mut end: RunEnd,
    attempts: Vec<Attempt>,
    interrupted: Option<Signal>,
    answer: Option<String>,
    answer_logged: bool,
    log: &mut LogFile,
) -> Result<CallResult> {
    end.attempts = attempts;
    end.ended_at = to_ms(clock::real_now());
    let mut note = || -> anyhow::Result<()> {
        if let Some(e) = end.error_text() {
            log.note(&e)?;
        }
        if let Some(a) = answer.as_ref().filter(|_| !answer_logged) {
            log.note("answer:")?;
            log.write(a.as_bytes())?;
            if !a.ends_with('\n') {
                log.write(b"\n")?;
            }
        }
        Ok(())
    };
    note().map_err(Error::Internal)?;
    Ok(CallResult {
        end,
        interrupted,
        answer,
    })
}
