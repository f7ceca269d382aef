//! `jobctl ask`: a one-shot agent call without tools, for programs other than the
//! scheduler, sharing the agents, their scopes and their budget. Recorded in history as
//! job `ask`.

use std::io::Read;

use anyhow::{Context, Result};

use crate::agents::{self, CallSpec, presets::Mode, role};
use crate::cli::Global;
use crate::config::Thinking;
use crate::coord::flock::JobLock;
use crate::core::units as values;
use crate::exec::logfile::LogFile;
use crate::exec::process::{Echo, Signals};
use crate::exit_code::code;
use crate::output::Ui;
use crate::store::{NewRun, Store};
use crate::{bail_code, config, core::clock};

pub struct AskArgs<'a> {
    pub scope: &'a str,
    pub agent: Option<&'a str>,
    pub thinking: &'a str,
    pub timeout: &'a str,
    pub prompt: &'a str,
}

pub fn execute(g: &Global, ui: &Ui, a: AskArgs<'_>) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    if !cfg.budget.scopes.iter().any(|s| s == a.scope) {
        bail_code!(
            code::USAGE,
            "scope {:?} is not in budget.scopes ({})",
            a.scope,
            cfg.budget.scopes.join(", ")
        );
    }
    if let Some(name) = a.agent
        && !cfg.agents.contains_key(name)
    {
        bail_code!(
            code::USAGE,
            "no agent named {name:?} in {}",
            cfg.path.display()
        );
    }
    let Some(thinking) = Thinking::parse(a.thinking) else {
        bail_code!(
            code::USAGE,
            "--thinking must be fast, med or slow, not {:?}",
            a.thinking
        );
    };
    let timeout = values::parse_duration(a.timeout).map_err(|e| {
        anyhow::Error::new(crate::exit_code::Coded::new(
            code::USAGE,
            format!("--timeout: {e}"),
        ))
    })?;
    let prompt = if a.prompt == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("can't read the prompt from stdin")?;
        s
    } else {
        a.prompt.to_string()
    };
    if prompt.trim().is_empty() {
        bail_code!(code::USAGE, "the prompt is empty");
    }
    if prompt.len() > config::MAX_PROMPT_BYTES {
        bail_code!(
            code::USAGE,
            "the prompt is {} bytes; at most 100 KiB fits in one argument",
            prompt.len()
        );
    }
    super::warn_if_root();
    let mut store = Store::open(&cfg.runner.state_dir)?;
    // An ask is supervised like any run: under a lock of its own, taken before its record
    // exists, so no other command can mistake it for a run whose supervisor died.
    let lock_name = crate::coord::flock::ask_lock_name();
    let Some(mut lock) = JobLock::try_acquire(&store.dir, &lock_name)? else {
        anyhow::bail!("can't take the lock {lock_name}: another process holds it");
    };
    let now = clock::to_ms(clock::real_now());
    let run = store.insert_run(&NewRun {
        job: "ask".into(),
        forced: false,
        scheduled_for: now,
        started_at: now,
        supervisor_pid: Some(std::process::id() as i64),
        scope: Some(a.scope.to_string()),
        last_slot: None,
        lock_name: Some(lock_name),
    })?;
    lock.set_holder(std::process::id(), run.id);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let log_path = run.log_path.clone().unwrap_or_default();
    let result = rt.block_on(async {
        let mut signals = Signals::register()?;
        let mut log = LogFile::create(std::path::Path::new(&log_path), cfg.runner.log_max_bytes)?;
        let role = role::role_for(cfg, None, &role::daemon_state(cfg));
        let mut env = crate::supervisor::env::base_env_plain(cfg);
        for (k, v) in [
            ("JOBCTL_JOB_NAME", "ask".to_string()),
            ("JOBCTL_RUN_ID", run.id.to_string()),
            ("JOBCTL_STATE_DIR", store.dir.display().to_string()),
            ("JOBCTL_JOB_ROLE", role.clone()),
        ] {
            crate::supervisor::env::set(&mut env, k, &v);
        }
        for name in &cfg.runner.role_env {
            crate::supervisor::env::set(&mut env, name, &role);
        }
        let spec = CallSpec {
            first: a.agent,
            scope: a.scope,
            thinking,
            model: None,
            args: &[],
            prompt: &prompt,
            mode: Mode::Ask,
            env,
            workdir: cfg.dir.clone(),
            role,
            timeout,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let r = agents::call(
            cfg,
            &mut store,
            &run,
            spec,
            deadline,
            &mut log,
            &mut signals,
            Echo::Off,
        )
        .await?;
        log.finish()?;
        anyhow::Ok(r)
    })?;
    store.finish_run(run.id, &result.end)?;
    lock.remove();
    crate::supervisor::prune(cfg, &mut store, "ask");
    let end = &result.end;
    match end.status.as_str() {
        "succeeded" => {
            let answer = result.answer.clone().unwrap_or_default();
            if ui.json {
                ui.print_json(&serde_json::json!({
                    "agent": end.agent, "model": end.model, "scope": end.scope,
                    "cost": end.cost_milli.map(|c| values::format_milli(c).parse::<f64>().unwrap_or(0.0)),
                    "result": answer,
                    "usage": {"input_tokens": end.input_tokens, "output_tokens": end.output_tokens, "cost_usd": end.cost_usd, "num_turns": end.num_turns},
                }));
            } else {
                ui.print(&answer);
            }
            Ok(code::OK)
        }
        "skipped" if end.attempts.is_empty() => {
            bail_code!(
                code::UNAVAILABLE,
                "no agent to try for scope {}: pass --agent NAME or set [fallback] order",
                a.scope
            );
        }
        "skipped" => {
            let lines: Vec<String> = end
                .attempts
                .iter()
                .map(|a| {
                    format!(
                        "  {}: {}",
                        a.agent,
                        a.reason.clone().unwrap_or_else(|| a.outcome.to_string())
                    )
                })
                .collect();
            bail_code!(
                code::UNAVAILABLE,
                "no agent available for scope {}:\n{}",
                a.scope,
                lines.join("\n")
            );
        }
        "timed_out" => bail_code!(
            code::TIMEOUT,
            "ask timed out after {}",
            values::format_duration(timeout)
        ),
        "cancelled" => Ok(
            if result.interrupted == Some(nix::sys::signal::Signal::SIGINT) {
                code::SIGINT
            } else {
                code::SIGTERM
            },
        ),
        _ => bail_code!(
            code::FAILURE,
            "{}",
            end.error
                .clone()
                .unwrap_or_else(|| "the agent failed".into())
        ),
    }
}
