//! The `[runner]`, `[daemon]`, `[budget]`, `[agents.*]` and `[fallback]` tables, and the
//! assembly of the whole [`Config`].

use crate::core::units;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::de::DeValue;

use super::inputs::Inputs;
use super::walk::{Ctx, StrOrList, Table, number_of, strings_of, type_name, value_hint};
use super::{Agent, Auth, Budget, Config, Daemon, Models, Preset, Runner, jobs, paths};
use crate::core::zone::Zone;

const TOP_KEYS: &[&str] = &[
    "runner", "daemon", "budget", "agents", "fallback", "jobs", "state",
];
const RUNNER_KEYS: &[&str] = &[
    "scope",
    "timezone",
    "max_running",
    "default_timeout",
    "kill_grace",
    "log_max_bytes",
    "keep_runs",
    "env_remove",
    "default_role",
    "role_env",
    "env",
    "env_file",
    "state_dir",
    "workspace_dir",
    "workspace_max_age",
    "workspace_max_bytes",
    "git",
    "git_author",
    "hooks",
    "max_depth",
    "depth_limits",
    "max_pause",
];
const DAEMON_KEYS: &[&str] = &["socket", "health_path", "timeout"];
const BUDGET_KEYS: &[&str] = &["scopes", "day_starts", "provider_cooldown"];
const AGENT_KEYS: &[&str] = &[
    "preset",
    "daily_budget",
    "command",
    "models",
    "rates",
    "auth",
    "args",
    "agent_stall",
    "mcp",
];
const FALLBACK_KEYS: &[&str] = &["order"];

pub(super) fn build(ctx: &mut Ctx<'_>, root: &Table<'_, '_>, path: &Path) -> Option<Config> {
    root.check_keys(ctx, TOP_KEYS, "the top level");
    let empty = toml::de::DeTable::new();
    let sub = |ctx: &mut Ctx<'_>, key: &str| {
        root.table(ctx, key).unwrap_or(Table {
            t: &empty,
            path: key.into(),
            span: 0..0,
        })
    };

    let budget_t = sub(ctx, "budget");
    let budget = budget_section(ctx, &budget_t);
    let runner_t = sub(ctx, "runner");
    let runner = runner_section(ctx, &runner_t, &budget.scopes);
    let daemon = root
        .table(ctx, "daemon")
        .and_then(|t| daemon_section(ctx, &t));
    let state_t = root.table(ctx, "state");
    let state = super::state::state_section(ctx, state_t.as_ref());

    let mut agents = BTreeMap::new();
    if let Some(t) = root.table(ctx, "agents") {
        for (name, v) in t.entries() {
            let key_path = t.key_path(name.get_ref());
            if !units::is_valid_name(name.get_ref()) {
                ctx.err(
                    name.span(),
                    &key_path,
                    "agent names must match ^[a-z0-9][a-z0-9_-]{0,63}$",
                );
            }
            let DeValue::Table(at) = v.get_ref() else {
                ctx.err(
                    v.span(),
                    &key_path,
                    format!("expected a table, found {}", type_name(v.get_ref())),
                );
                continue;
            };
            let at = Table {
                t: at,
                path: key_path,
                span: name.span(),
            };
            if let Some(agent) = agent_section(ctx, &at, name.get_ref()) {
                agents.insert(name.get_ref().to_string(), agent);
            }
        }
    }

    let mut fallback = Vec::new();
    if let Some(t) = root.table(ctx, "fallback") {
        t.check_keys(ctx, FALLBACK_KEYS, "[fallback]");
        if let Some(v) = t.get("order")
            && let Some(list) = strings_of(ctx, v, || "fallback.order".into())
        {
            for (i, a) in list.iter().enumerate() {
                if !agents.contains_key(a) {
                    ctx.err(
                        v.span(),
                        &format!("fallback.order[{i}]"),
                        format!(
                            "{a:?} is not an agent defined under [agents]{}",
                            value_hint(a, agents.keys().map(String::as_str))
                        ),
                    );
                }
            }
            fallback = list;
        }
    }

    let mut job_map = BTreeMap::new();
    if let Some(t) = root.table(ctx, "jobs") {
        let env = jobs::JobEnv {
            runner: runner.as_ref(),
            budget: &budget,
            agents: &agents,
            fallback: &fallback,
        };
        for (name, v) in t.entries() {
            let key_path = t.key_path(name.get_ref());
            let DeValue::Table(jt) = v.get_ref() else {
                ctx.err(
                    v.span(),
                    &key_path,
                    format!("expected a table, found {}", type_name(v.get_ref())),
                );
                continue;
            };
            let jt = Table {
                t: jt,
                path: key_path,
                span: name.span(),
            };
            if let Some(job) = jobs::job_section(ctx, &jt, name, &env) {
                job_map.insert(job.name.clone(), Box::new(job));
            }
        }
        super::control::check_needs(ctx, &t, &job_map);
    }

    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    Some(Config {
        path: path.to_path_buf(),
        dir,
        runner: runner?,
        daemon,
        budget,
        agents,
        fallback,
        jobs: job_map,
        state,
        read_files: Vec::new(),
    })
}

fn budget_section(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Budget {
    t.check_keys(ctx, BUDGET_KEYS, "[budget]");
    let mut scopes = vec!["worker".to_string(), "backend".to_string()];
    if let Some(list) = t.strings(ctx, "scopes") {
        let v = t.get("scopes").map(|v| v.span()).unwrap_or(0..0);
        for s in &list {
            if !units::is_valid_scope(s) {
                ctx.err(
                    v.clone(),
                    "budget.scopes",
                    format!("scope names must match ^[a-z][a-z0-9_-]*$, found {s:?}"),
                );
            }
        }
        if list.is_empty() {
            ctx.err(v, "budget.scopes", "expected at least one scope");
        }
        scopes = list;
    }
    let mut day_starts = (0, 0);
    if let Some(s) = t.str(ctx, "day_starts") {
        match units::parse_hhmm(&s) {
            Ok(hm) => day_starts = hm,
            Err(e) => ctx.err(
                t.get("day_starts").map(|v| v.span()).unwrap_or(0..0),
                "budget.day_starts",
                e.clone(),
            ),
        }
    }
    let provider_cooldown = t
        .duration(ctx, "provider_cooldown", Duration::from_secs(1))
        .unwrap_or(Duration::from_secs(3600));
    Budget {
        scopes,
        day_starts,
        provider_cooldown,
    }
}

fn runner_section(ctx: &mut Ctx<'_>, t: &Table<'_, '_>, scopes: &[String]) -> Option<Runner> {
    t.check_keys(ctx, RUNNER_KEYS, "[runner]");
    let scope = t.str(ctx, "scope").unwrap_or_else(|| "worker".into());
    if !scopes.contains(&scope) {
        let span = t.get("scope").map(|v| v.span()).unwrap_or(t.span.clone());
        ctx.err(
            span,
            "runner.scope",
            format!(
                "{scope:?} is not in budget.scopes ({}){}",
                scopes.join(", "),
                value_hint(&scope, scopes.iter().map(String::as_str))
            ),
        );
    }
    let tz = match t.str(ctx, "timezone") {
        Some(name) => match Zone::named(&name) {
            Ok(tz) => tz,
            Err(e) => {
                ctx.err(
                    t.get("timezone").map(|v| v.span()).unwrap_or(0..0),
                    "runner.timezone",
                    format!("{e}{}", crate::core::zone::suggest(&name)),
                );
                Zone::utc()
            }
        },
        None => Zone::local(),
    };
    let env = t.str_map(ctx, "env").unwrap_or_default();
    let env_file = t.path(ctx, "env_file");
    let mut env_file_vars = Vec::new();
    if let Some(p) = &env_file {
        let span = t.get("env_file").map(|v| v.span()).unwrap_or(0..0);
        match super::inputs::env_file(p) {
            Ok(vars) => env_file_vars = vars,
            Err(e) => ctx.err(span, "runner.env_file", e),
        }
    }
    let state_dir = match t.path(ctx, "state_dir") {
        Some(p) => p,
        None => match paths::state_dir_default(&mut ctx.inputs) {
            Some(p) => p,
            None => {
                ctx.err(
                    t.span.clone(),
                    "runner.state_dir",
                    "no state directory: set runner.state_dir, JOBCTL_HOME or HOME",
                );
                return None;
            }
        },
    };
    let workspace_dir = t
        .path(ctx, "workspace_dir")
        .unwrap_or_else(|| state_dir.join("workspaces"));
    let git = match t.str(ctx, "git") {
        Some(g) if g.trim().is_empty() => {
            ctx.err(
                t.get("git").map(|v| v.span()).unwrap_or(0..0),
                "runner.git",
                "expected the git program (a name on PATH or a path)",
            );
            "git".to_string()
        }
        Some(g) => resolve_program(vec![g], &ctx.dir, &mut ctx.inputs).remove(0),
        None => "git".to_string(),
    };
    let git_author = super::workspace::git_author(ctx, t);
    let hooks = t.table(ctx, "hooks").map(|ht| {
        let spec = super::workspace::hooks_table(ctx, &ht);
        Box::new(super::workspace::runner_hooks(spec))
    });
    Some(Runner {
        scope,
        timezone: tz,
        max_running: t
            .int(ctx, "max_running", 1)
            .unwrap_or(4)
            .min(u32::MAX as i64) as u32,
        default_timeout: t
            .duration(ctx, "default_timeout", Duration::from_secs(1))
            .unwrap_or(Duration::from_secs(1800)),
        kill_grace: t
            .duration(ctx, "kill_grace", Duration::ZERO)
            .unwrap_or(Duration::from_secs(10)),
        log_max_bytes: t.size(ctx, "log_max_bytes").unwrap_or(10 << 20),
        keep_runs: t
            .int(ctx, "keep_runs", 1)
            .unwrap_or(200)
            .min(u32::MAX as i64) as u32,
        env_remove: t.strings(ctx, "env_remove").unwrap_or_default(),
        default_role: t.str(ctx, "default_role").unwrap_or_else(|| "admin".into()),
        role_env: t.strings(ctx, "role_env").unwrap_or_default(),
        env,
        env_file,
        env_file_vars,
        state_dir,
        workspace_dir,
        workspace_max_age: t
            .duration(ctx, "workspace_max_age", Duration::from_secs(60))
            .unwrap_or(Duration::from_secs(7 * 86400)),
        workspace_max_bytes: t.size(ctx, "workspace_max_bytes").unwrap_or(20 << 30),
        git,
        git_author,
        hooks,
        max_depth: t.int(ctx, "max_depth", 0).unwrap_or(5).min(1000) as u32,
        depth_limits: t
            .ints(ctx, "depth_limits", 1)
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.min(u32::MAX as i64) as u32)
            .collect(),
        max_pause: t
            .duration(ctx, "max_pause", Duration::from_secs(1))
            .unwrap_or(DEFAULT_MAX_PAUSE),
    })
}

/// `max_pause` when the config sets none.
pub(crate) const DEFAULT_MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

fn daemon_section(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<Daemon> {
    t.check_keys(ctx, DAEMON_KEYS, "[daemon]");
    t.required(ctx, "socket", "the daemon's unix socket path");
    let socket = t.path(ctx, "socket");
    let health_path = t
        .str(ctx, "health_path")
        .unwrap_or_else(|| "/health".into());
    if !health_path.starts_with('/') {
        ctx.err(
            t.get("health_path").map(|v| v.span()).unwrap_or(0..0),
            "daemon.health_path",
            "expected a path starting with /",
        );
    }
    let timeout = t
        .duration(ctx, "timeout", Duration::from_millis(1))
        .unwrap_or(Duration::from_millis(500));
    Some(Daemon {
        socket: socket?,
        health_path,
        timeout,
    })
}

fn agent_section(ctx: &mut Ctx<'_>, t: &Table<'_, '_>, name: &str) -> Option<Agent> {
    t.check_keys(ctx, AGENT_KEYS, "an agent");
    let preset_v = t.required(ctx, "preset", "claude, codex, gemini or command");
    t.required(
        ctx,
        "daily_budget",
        "cost units per budget day, a number ≥ 0",
    );
    let preset = t.str(ctx, "preset").and_then(|s| {
        let p = Preset::parse(&s);
        if p.is_none() {
            ctx.err(
                preset_v.map(|v| v.span()).unwrap_or(0..0),
                &t.key_path("preset"),
                format!(
                    "expected claude, codex, gemini or command, found {s:?}{}",
                    value_hint(&s, ["claude", "codex", "gemini", "command"])
                ),
            );
        }
        p
    });
    let budget = t.number(ctx, "daily_budget");
    let command = match t.str_or_strings(ctx, "command") {
        Some(StrOrList::Str(s)) => Some(s.split_whitespace().map(String::from).collect::<Vec<_>>()),
        Some(StrOrList::List(l)) => Some(l),
        None => None,
    };
    let cmd_span = t.get("command").map(|v| v.span()).unwrap_or(t.span.clone());
    let command = match (preset, command) {
        (Some(Preset::Command), None) => {
            ctx.err(
                cmd_span,
                &t.key_path("command"),
                "missing required key for preset \"command\" (an argv template with {prompt})",
            );
            return None;
        }
        (Some(Preset::Command), Some(c)) => {
            if !c.iter().any(|a| a == "{prompt}") {
                ctx.err(
                    cmd_span,
                    &t.key_path("command"),
                    "expected an argv template with a {prompt} argument",
                );
            }
            c
        }
        (Some(_), Some(c)) if !c.is_empty() => c,
        (Some(p), _) => vec![p.as_str().to_string()],
        (None, _) => return None,
    };
    // Only what the file names: the preset's own defaults are the agent layer's.
    let mut models = Models::default();
    if let Some(mt) = t.table(ctx, "models") {
        mt.check_keys(ctx, &["fast", "med", "slow"], "models");
        if let Some(v) = mt.str(ctx, "fast") {
            models.fast = Some(v);
        }
        if let Some(v) = mt.str(ctx, "med") {
            models.med = Some(v);
        }
        if let Some(v) = mt.str(ctx, "slow") {
            models.slow = Some(v);
        }
    }
    let mut rates = BTreeMap::new();
    if let Some(rt) = t.table(ctx, "rates") {
        for (model, v) in rt.entries() {
            if let Some(n) = number_of(ctx, v, || rt.key_path(model.get_ref())) {
                rates.insert(model.get_ref().to_string(), units::to_milli(n));
            }
        }
    }
    let auth = t.table(ctx, "auth").map(|at| {
        at.check_keys(ctx, &["env", "files"], "auth");
        let files_display = at.strings(ctx, "files").unwrap_or_default();
        let files = files_display
            .iter()
            .filter_map(|f| paths::expand_path(f, &ctx.dir, &mut ctx.inputs).ok())
            .collect();
        Auth {
            env: at.strings(ctx, "env").unwrap_or_default(),
            files,
            files_display,
        }
    });
    let args = t.strings(ctx, "args").unwrap_or_default();
    let mcp = t.bool(ctx, "mcp").unwrap_or(false);
    if mcp && preset == Some(Preset::Command) {
        ctx.err(
            jobs::span_of(t, "mcp"),
            &t.key_path("mcp"),
            "mcp = true wires jobctl's tools into the claude, codex and gemini presets; a command agent's own argv can start `jobctl mcp` itself",
        );
    }
    let stall = t
        .duration(ctx, "agent_stall", Duration::from_secs(1))
        .unwrap_or(DEFAULT_AGENT_STALL);
    let command = resolve_program(command, &ctx.dir, &mut ctx.inputs);
    Some(Agent {
        name: name.to_string(),
        preset: preset?,
        daily_budget_milli: units::to_milli(budget?),
        command,
        models,
        rates,
        auth,
        args,
        stall,
        mcp,
    })
}

/// `agent_stall` when the config sets none.
pub(crate) const DEFAULT_AGENT_STALL: Duration = Duration::from_secs(120);

/// A program given as a path with a slash is relative to the config file's directory;
/// a bare name is looked up on PATH when the agent runs.
fn resolve_program(mut argv: Vec<String>, dir: &Path, inputs: &mut Inputs) -> Vec<String> {
    if let Some(first) = argv.first_mut()
        && first.contains('/')
        && let Ok(p) = paths::expand_path(first, dir, inputs)
    {
        *first = p.display().to_string();
    }
    argv
}
