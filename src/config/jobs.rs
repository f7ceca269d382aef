//! `[jobs.NAME]`: common keys, script and agent keys, and the schedule keys.

use crate::core::units;
use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use super::walk::{Ctx, StrOrList, Table, value_hint};
use super::workspace;
use super::{
    Agent, AgentJob, Budget, Command, Job, JobControl, JobKind, MAX_PROMPT_BYTES, Runner, Thinking,
};
use crate::core::schedule::Schedule;
use crate::core::zone::Zone;

const COMMON_KEYS: &[&str] = &[
    "type",
    "every",
    "at",
    "cron",
    "weekdays",
    "timezone",
    "timeout",
    "enabled",
    "catch_up",
    "deadline",
    "workdir",
    "env",
    "workspace",
    "hooks",
    "hosts",
    "retries",
    "retry_backoff",
    "retry_backoff_max",
    "retry_on",
    "needs",
    "concurrency",
    "children",
    "tree_budget",
    "max_pause",
];
const SCRIPT_KEYS: &[&str] = &["command"];
const AGENT_KEYS: &[&str] = &[
    "prompt",
    "prompt_file",
    "agent",
    "thinking",
    "role",
    "scope",
    "model",
    "args",
    "mcp",
];
const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// What a job's validation needs from the rest of the file.
pub(super) struct JobEnv<'a> {
    pub(crate) runner: Option<&'a Runner>,
    pub(crate) budget: &'a Budget,
    pub(crate) agents: &'a BTreeMap<String, Agent>,
    pub(crate) fallback: &'a [String],
}

pub(super) fn span_of(t: &Table<'_, '_>, key: &str) -> std::ops::Range<usize> {
    t.get(key).map(|v| v.span()).unwrap_or(t.span.clone())
}

/// The span of item `i` of the array at `key` (the whole value when it is not one).
fn item_span(t: &Table<'_, '_>, key: &str, i: usize) -> std::ops::Range<usize> {
    match t.get(key).map(|v| v.get_ref()) {
        Some(toml::de::DeValue::Array(items)) => items
            .get(i)
            .map(|v| v.span())
            .unwrap_or_else(|| span_of(t, key)),
        _ => span_of(t, key),
    }
}

pub(super) fn job_section(
    ctx: &mut Ctx<'_>,
    t: &Table<'_, '_>,
    name: &Spanned<std::borrow::Cow<'_, str>>,
    env: &JobEnv<'_>,
) -> Option<Job> {
    let name_ok = units::is_valid_name(name.get_ref());
    if !name_ok {
        ctx.err(
            name.span(),
            &t.path,
            "job names must match ^[a-z0-9][a-z0-9_-]{0,63}$ (they become file names)",
        );
    }
    let name_ok = name_ok && {
        let reserved = name.get_ref() == crate::core::run::ASK_JOB;
        if reserved {
            ctx.err(
                name.span(),
                &t.path,
                "\"ask\" is reserved: jobctl ask records its calls under that name",
            );
        }
        !reserved
    };
    let type_v = t.required(ctx, "type", "\"script\" or \"agent\"");
    let kind = t.str(ctx, "type");
    let allowed: Vec<&str> = match kind.as_deref() {
        Some("script") => COMMON_KEYS.iter().chain(SCRIPT_KEYS).copied().collect(),
        Some("agent") => COMMON_KEYS.iter().chain(AGENT_KEYS).copied().collect(),
        Some(other) => {
            ctx.err(
                type_v.map(|v| v.span()).unwrap_or(0..0),
                &t.key_path("type"),
                format!(
                    "expected \"script\" or \"agent\", found {other:?}{}",
                    value_hint(other, ["script", "agent"])
                ),
            );
            COMMON_KEYS
                .iter()
                .chain(SCRIPT_KEYS)
                .chain(AGENT_KEYS)
                .copied()
                .collect()
        }
        None => COMMON_KEYS
            .iter()
            .chain(SCRIPT_KEYS)
            .chain(AGENT_KEYS)
            .copied()
            .collect(),
    };
    let what = match kind.as_deref() {
        Some("script") => "a script job",
        Some("agent") => "an agent job",
        _ => "a job",
    };
    t.check_keys(ctx, &allowed, what);

    let schedule = schedule(ctx, t);
    let runner = env.runner;
    let timezone = match t.str(ctx, "timezone") {
        Some(tz) => match Zone::named(&tz) {
            Ok(z) => Some(z),
            Err(e) => {
                ctx.err(
                    span_of(t, "timezone"),
                    &t.key_path("timezone"),
                    format!("{e}{}", crate::core::zone::suggest(&tz)),
                );
                None
            }
        },
        None => runner.map(|r| r.timezone.clone()),
    };
    let timeout = t
        .duration(ctx, "timeout", Duration::from_secs(1))
        .or(runner.map(|r| r.default_timeout));
    let enabled = t.bool(ctx, "enabled").unwrap_or(true);
    let catch_up = t.bool(ctx, "catch_up").unwrap_or(true);
    let deadline = t.duration(ctx, "deadline", Duration::from_secs(300));
    let workdir = t.path(ctx, "workdir").unwrap_or_else(|| ctx.dir.clone());
    let job_env = t.str_map(ctx, "env").unwrap_or_default();
    let git = runner.map(|r| r.git.as_str()).unwrap_or("git");
    let workspace = t.table(ctx, "workspace").and_then(|wt| {
        if t.get("workdir").is_some() {
            ctx.err(
                span_of(t, "workdir"),
                &t.key_path("workdir"),
                "a job with a workspace runs at the root of its worktree; remove workdir",
            );
        }
        workspace::workspace_section(ctx, &wt, name.get_ref(), git).map(Box::new)
    });
    let workspace_ok = t.get("workspace").is_none() || workspace.is_some();
    let hooks_spec = t
        .table(ctx, "hooks")
        .map(|ht| workspace::hooks_table(ctx, &ht));
    let hooks = workspace::resolve_hooks(hooks_spec, runner.and_then(|r| r.hooks.as_deref()));
    let hosts = t.strings(ctx, "hosts");
    if let Some(h) = &hosts
        && (h.is_empty() || !h.iter().all(|x| super::state::is_valid_host(x)))
    {
        ctx.err(
            span_of(t, "hosts"),
            &t.key_path("hosts"),
            "expected a list of host names (the [state] host of each host that runs the job)",
        );
    }
    // Most jobs keep every default: then nothing is stored (a snapshot decodes one byte).
    let control = Some(super::control::job_control(ctx, t))
        .filter(|c| *c != JobControl::DEFAULT)
        .map(Box::new);

    let kind = match kind.as_deref() {
        Some("script") => script(ctx, t).map(JobKind::Script),
        Some("agent") => agent(ctx, t, env, runner).map(JobKind::Agent),
        _ => None,
    };
    if !name_ok || !workspace_ok {
        return None;
    }
    Some(Job {
        name: name.get_ref().to_string(),
        kind: kind?,
        schedule: schedule?,
        timezone: timezone?,
        timeout: timeout?,
        enabled,
        catch_up,
        deadline,
        workdir,
        env: job_env,
        workspace,
        hooks,
        hosts,
        control,
    })
}

/// `every` / `at` (+ `weekdays`) / `cron`: at most one; none = manual. `None` on error.
fn schedule(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<Option<Schedule>> {
    let present: Vec<&str> = ["every", "at", "cron"]
        .into_iter()
        .filter(|k| t.get(k).is_some())
        .collect();
    if present.len() > 1 {
        ctx.err(
            span_of(t, present[1]),
            &t.key_path(present[1]),
            format!(
                "a job takes at most one of every, at, cron; this one has {}",
                present.join(" and ")
            ),
        );
        return None;
    }
    // Every problem of the schedule is reported, not only the first: a bad day and a bad
    // time are two errors.
    let weekdays = t.strings(ctx, "weekdays");
    let mut ok = true;
    if t.get("weekdays").is_some() && t.get("at").is_none() {
        ctx.err(
            span_of(t, "weekdays"),
            &t.key_path("weekdays"),
            "weekdays only goes with at (use a cron expression for other schedules)",
        );
    }
    if let Some(days) = &weekdays {
        for (i, d) in days.iter().enumerate() {
            if !WEEKDAYS.contains(&d.as_str()) {
                let hint = value_hint(d, WEEKDAYS.iter().copied());
                ctx.err(
                    item_span(t, "weekdays", i),
                    &t.key_path("weekdays"),
                    format!("expected mon, tue, wed, thu, fri, sat or sun, found {d:?}{hint}"),
                );
                ok = false;
            }
        }
    }
    match present.first().copied() {
        None => ok.then_some(None),
        Some("every") => t
            .duration(ctx, "every", Duration::from_secs(60))
            .map(|d| Some(Schedule::Every(d))),
        Some("at") => {
            let (times, single) = match t.str_or_strings(ctx, "at")? {
                StrOrList::Str(s) => (vec![s], true),
                StrOrList::List(l) => (l, false),
            };
            if times.is_empty() {
                ctx.err(
                    span_of(t, "at"),
                    &t.key_path("at"),
                    "expected at least one \"HH:MM\"",
                );
                return None;
            }
            let mut parsed = Vec::new();
            for (i, s) in times.iter().enumerate() {
                match units::parse_hhmm(s) {
                    Ok(hm) => parsed.push(hm),
                    Err(e) => {
                        let span = if single {
                            span_of(t, "at")
                        } else {
                            item_span(t, "at", i)
                        };
                        ctx.err(span, &t.key_path("at"), e.clone());
                        ok = false;
                    }
                }
            }
            if !ok {
                return None;
            }
            match Schedule::at(parsed, &weekdays.unwrap_or_default()) {
                Ok(s) => Some(Some(s)),
                Err(e) => {
                    ctx.err(span_of(t, "at"), &t.key_path("at"), e);
                    None
                }
            }
        }
        Some(_) => {
            let expr = t.str(ctx, "cron")?;
            match Schedule::cron(&expr) {
                Ok(s) => Some(Some(s)),
                Err(e) => {
                    ctx.err(span_of(t, "cron"), &t.key_path("cron"), format!("expected a 5-field cron expression or @hourly/@daily/@weekly/@monthly/@yearly: {e}"));
                    None
                }
            }
        }
    }
}

fn script(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<Command> {
    t.required(
        ctx,
        "command",
        "a string for /bin/sh -c, or an array exec'd as is",
    );
    match t.str_or_strings(ctx, "command")? {
        StrOrList::Str(s) if s.trim().is_empty() => {
            ctx.err(
                span_of(t, "command"),
                &t.key_path("command"),
                "expected a non-empty command",
            );
            None
        }
        StrOrList::List(l) if l.is_empty() => {
            ctx.err(
                span_of(t, "command"),
                &t.key_path("command"),
                "expected a non-empty array",
            );
            None
        }
        StrOrList::Str(s) => Some(Command::Shell(s)),
        StrOrList::List(l) => Some(Command::Argv(l)),
    }
}

fn agent(
    ctx: &mut Ctx<'_>,
    t: &Table<'_, '_>,
    env: &JobEnv<'_>,
    runner: Option<&Runner>,
) -> Option<AgentJob> {
    let prompt = match (t.get("prompt"), t.get("prompt_file")) {
        (Some(_), Some(_)) => {
            ctx.err(
                span_of(t, "prompt_file"),
                &t.key_path("prompt_file"),
                "an agent job takes exactly one of prompt, prompt_file; this one has both",
            );
            None
        }
        (None, None) => {
            ctx.err(
                t.span.clone(),
                &t.key_path("prompt"),
                "missing required key: an agent job needs prompt or prompt_file",
            );
            None
        }
        (Some(_), None) => t.str(ctx, "prompt"),
        (None, Some(_)) => {
            let p = t.path(ctx, "prompt_file")?;
            let span = span_of(t, "prompt_file");
            let key = || t.key_path("prompt_file");
            if ctx.inputs.metadata(&p).is_ok_and(|m| m.is_dir) {
                ctx.err(
                    span,
                    &key(),
                    format!("{} is a directory; expected a prompt file", p.display()),
                );
                None
            } else {
                match ctx.inputs.read(&p) {
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(s) => Some(s),
                        Err(_) => {
                            ctx.err(span, &key(), format!("{} is not UTF-8 text", p.display()));
                            None
                        }
                    },
                    Err(e) => {
                        ctx.err(span, &key(), format!("can't read {}: {e}", p.display()));
                        None
                    }
                }
            }
        }
    };
    if let Some(p) = &prompt
        && p.len() > MAX_PROMPT_BYTES
    {
        let key = if t.get("prompt").is_some() {
            "prompt"
        } else {
            "prompt_file"
        };
        ctx.err(
            span_of(t, key),
            &t.key_path(key),
            format!(
                "the prompt is {} bytes; at most 100 KiB fits in one argument",
                p.len()
            ),
        );
    }
    let agent = t.str(ctx, "agent");
    if let Some(a) = &agent
        && !env.agents.contains_key(a)
    {
        ctx.err(
            span_of(t, "agent"),
            &t.key_path("agent"),
            format!(
                "{a:?} is not an agent defined under [agents]{}",
                value_hint(a, env.agents.keys().map(String::as_str))
            ),
        );
    }
    if agent.is_none() && env.fallback.is_empty() {
        ctx.err(
            t.span.clone(),
            &t.key_path("agent"),
            "this agent job can name no agent: set agent, or [fallback] order",
        );
    }
    let thinking = match t.str(ctx, "thinking") {
        Some(s) => match Thinking::parse(&s) {
            Some(th) => th,
            None => {
                ctx.err(
                    span_of(t, "thinking"),
                    &t.key_path("thinking"),
                    format!(
                        "expected fast, med or slow, found {s:?}{}",
                        value_hint(&s, ["fast", "med", "slow"])
                    ),
                );
                Thinking::Fast
            }
        },
        None => Thinking::Fast,
    };
    let scope = t.str(ctx, "scope").or(runner.map(|r| r.scope.clone()))?;
    if t.get("scope").is_some() && !env.budget.scopes.contains(&scope) {
        ctx.err(
            span_of(t, "scope"),
            &t.key_path("scope"),
            format!(
                "{scope:?} is not in budget.scopes ({}){}",
                env.budget.scopes.join(", "),
                value_hint(&scope, env.budget.scopes.iter().map(String::as_str))
            ),
        );
    }
    Some(AgentJob {
        prompt: prompt?,
        agent,
        thinking,
        role: t.str(ctx, "role"),
        scope,
        model: t.str(ctx, "model"),
        args: t.strings(ctx, "args").unwrap_or_default(),
        mcp: t.bool(ctx, "mcp").unwrap_or(false),
    })
}
