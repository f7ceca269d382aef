//! The shared daily agent budget (agents.md, "Scopes and the shared budget"): rates and
//! exact usage, the budget shared by scopes, atomic reservations across many concurrent
//! `jobctl ask` processes, the budget-day rollover at `day_starts` in `runner.timezone`,
//! `jobctl reset budgets`, and the provider cooldown. Agents are fake CLIs (shell scripts);
//! "now" is pinned with `JOBCTL_NOW`.

use crate::support::*;

use std::path::PathBuf;
use std::process::{Output, Stdio};

use serde_json::Value;

/// Days in the past of the machine's clock, UTC.
const T: &str = "2026-06-01T10:00:00Z";

fn ts(s: &str) -> jiff::Timestamp {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not a timestamp: {e}"))
}

fn plus(t: &str, secs: i64) -> String {
    ts(t)
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap()
        .to_string()
}

/// `[fallback]` naming claude alone, so `ask` without `--agent` has a candidate.
const FB: &str = "[fallback]\norder = [\"claude\"]\n\n";

fn agent(name: &str, preset: &str, budget: &str, extra: &str) -> String {
    format!("[agents.{name}]\npreset = \"{preset}\"\ndaily_budget = {budget}\n{extra}\n")
}

/// `bin/NAME`: appends its pid to `rec/NAME.calls`, then runs `body`.
fn fake(env: &Env, name: &str, body: &str) -> PathBuf {
    let rec = env.home().join("rec").join(name);
    std::fs::create_dir_all(rec.parent().unwrap()).unwrap();
    env.script(
        &format!("bin/{name}"),
        &format!("#!/bin/sh\necho $$ >> '{}.calls'\n{body}", rec.display()),
    )
}

fn calls(env: &Env, name: &str) -> usize {
    std::fs::read_to_string(env.home().join("rec").join(format!("{name}.calls")))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

const CLAUDE_OK: &str = r#"cat <<'EOF'
{"type":"result","is_error":false,"result":"claude says hi","total_cost_usd":0.01,"usage":{"input_tokens":5,"output_tokens":7},"num_turns":2}
EOF
"#;

const CODEX_OK: &str = r#"cat <<'EOF'
{"type":"thread.started","thread_id":"t"}
{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"codex says hi"}}
{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":20}}
EOF
"#;

const CODEX_QUOTA: &str = r#"cat <<'EOF'
{"type":"thread.started","thread_id":"t"}
{"type":"error","message":"You exceeded your current quota, please check your plan and billing details. (insufficient_quota)"}
EOF
exit 1
"#;

/// `jobctl ARGS` at `now`, with X_TOKEN unset (some agents list it in `auth`).
fn at(env: &Env, now: &str, args: &[&str]) -> Output {
    env.cmd(args)
        .env("JOBCTL_NOW", now)
        .env_remove("X_TOKEN")
        .output()
        .expect("run jobctl")
}

fn status_at(env: &Env, now: &str) -> Value {
    let o = at(env, now, &["status", "--json"]);
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("status --json: {e}\n{}", both(&o)))
}

fn used(st: &Value, agent: &str) -> f64 {
    let u = scope_row(st, agent, "backend")["used"]
        .as_f64()
        .unwrap_or_else(|| panic!("no used number for {agent}: {st:#}"));
    assert_eq!(
        scope_row(st, agent, "worker")["used"].as_f64(),
        Some(u),
        "usage is one per agent, shown on every scope: {st:#}"
    );
    u
}

// ---------------------------------------------------------------------------------------
// Budget, rates, exact usage
// ---------------------------------------------------------------------------------------

#[test]
fn the_call_past_the_daily_budget_is_refused_and_the_next_agent_used() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"claude\", \"codex\"]\n\n[jobs.work]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"p\"\n",
            runner(e, ""),
            agent("claude", "claude", "2", ""),
            agent("codex", "codex", "10", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    fake(&env, "codex", CODEX_OK);
    for i in 1..=2 {
        ok(&at(&env, T, &["force", "work"]));
        let run = env.last_run("work");
        assert_eq!(run["agent"], "claude", "call {i}: {run:#}");
        assert_eq!(run["cost"].as_f64(), Some(1.0), "{run:#}");
    }
    assert_eq!(used(&status_at(&env, T), "claude"), 2.0);
    ok(&at(&env, T, &["force", "work"]));
    assert_eq!(
        calls(&env, "claude"),
        2,
        "the third call must not start claude"
    );
    let run = env.last_run("work");
    assert_eq!(run["agent"], "codex", "{run:#}");
    let a = &run["attempts"];
    assert_eq!(a[0]["agent"], "claude", "{run:#}");
    assert_eq!(a[0]["outcome"], "quota_exhausted", "{run:#}");
    assert_eq!(
        a[0]["reason"], "quota_exhausted: daily budget reached (2 of 2)",
        "{run:#}"
    );
    assert_eq!(a[1]["agent"], "codex", "{run:#}");
    let st = status_at(&env, T);
    assert_eq!(
        assert_disabled(&st, "claude", "worker"),
        "quota_exhausted: daily budget reached (2 of 2)"
    );
    assert_enabled(&st, "claude", "backend");
    assert_eq!(used(&st, "claude"), 2.0, "no overspend");
    assert_eq!(used(&st, "codex"), 1.0);
    assert_eq!(
        scope_row(&st, "claude", "worker")["budget"].as_f64(),
        Some(2.0),
        "{st:#}"
    );
    // The backend scope finds out for itself: its own check disables it.
    let o = at(&env, T, &["ask", "--agent", "claude", "q"]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), "codex says hi", "{}", both(&o));
    let st = status_at(&env, T);
    assert_eq!(
        assert_disabled(&st, "claude", "backend"),
        "quota_exhausted: daily budget reached (2 of 2)"
    );
}

#[test]
fn rates_by_model_decide_the_cost() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{FB}",
            runner(e, ""),
            agent("claude", "claude", "3", "rates = { opus = 1.5 }")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    let o = at(&env, T, &["ask", "--json", "--thinking", "slow", "q"]);
    ok(&o);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["model"], "opus", "{j:#}");
    assert_eq!(j["cost"].as_f64(), Some(1.5), "{j:#}");
    assert_eq!(env.history_json(&["ask"])[0]["cost"].as_f64(), Some(1.5));
    assert_eq!(used(&status_at(&env, T), "claude"), 1.5);
    // An unlisted model costs 1.0.
    let o = at(&env, T, &["ask", "--json", "--thinking", "fast", "q"]);
    ok(&o);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (j["model"].as_str(), j["cost"].as_f64()),
        (Some("haiku"), Some(1.0)),
        "{j:#}"
    );
    assert_eq!(used(&status_at(&env, T), "claude"), 2.5);
    // 2.5 + 1.5 > 3: refused.
    let o = at(&env, T, &["ask", "--thinking", "slow", "q"]);
    assert_eq!(code(&o), 69, "{}", both(&o));
    assert!(
        stderr(&o).contains("daily budget reached (2.5 of 3)"),
        "{}",
        both(&o)
    );
    assert_eq!(calls(&env, "claude"), 2);
    assert_eq!(
        used(&status_at(&env, T), "claude"),
        2.5,
        "a refused call costs nothing"
    );
}

#[test]
fn tenths_add_up_exactly() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{FB}",
            runner(e, ""),
            agent("claude", "claude", "0.3", "rates = { haiku = 0.1 }")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    for i in 1..=3 {
        let o = at(&env, T, &["ask", "q"]);
        assert_eq!(
            code(&o),
            0,
            "call {i} of 0.1 fits a budget of 0.3\n{}",
            both(&o)
        );
    }
    let st = status_at(&env, T);
    assert_eq!(used(&st, "claude"), 0.3, "{st:#}");
    let o = at(&env, T, &["ask", "q"]);
    assert_eq!(code(&o), 69, "{}", both(&o));
    assert_eq!(
        assert_disabled(&status_at(&env, T), "claude", "backend"),
        "quota_exhausted: daily budget reached (0.3 of 0.3)"
    );
    // The human table shows 0.3, not 0.30000000000000004.
    let o = at(&env, T, &["status"]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.contains("claude") && l.contains("worker"))
        .unwrap_or("")
        .to_string();
    assert!(
        line.split_whitespace().filter(|w| *w == "0.3").count() == 2,
        "USED and BUDGET 0.3: {line:?}\n{}",
        both(&o)
    );
}

#[test]
fn usage_is_shared_by_scopes() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{FB}[jobs.work]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"p\"\n",
            runner(e, ""),
            agent("claude", "claude", "10", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    ok(&at(&env, T, &["ask", "q"]));
    ok(&at(&env, T, &["force", "work"]));
    let st = status_at(&env, T);
    assert_eq!(
        used(&st, "claude"),
        2.0,
        "ask on backend + job on worker: {st:#}"
    );
    let o = at(&env, T, &["status"]);
    ok(&o);
    let text = stdout(&o);
    assert!(
        text.contains("USED") && text.contains("BUDGET"),
        "{}",
        both(&o)
    );
    for scope in ["worker", "backend"] {
        let line = text
            .lines()
            .find(|l| l.contains("claude") && l.contains(scope))
            .unwrap_or("");
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(
            cols.ends_with(&["2", "10"]),
            "{scope}: USED 2 BUDGET 10 in {line:?}\n{text}"
        );
    }
    // Every use is explained by history.
    let h = env.history_json(&["-n", "100"]);
    let scopes: Vec<&str> = h
        .iter()
        .map(|r| r["scope"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(h.len(), 2, "{h:#?}");
    assert!(
        scopes.contains(&"worker") && scopes.contains(&"backend"),
        "{scopes:?}"
    );
}

#[test]
fn a_command_agents_self_reported_cost_is_never_charged() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}[agents.local]\npreset = \"command\"\ndaily_budget = 1\ncommand = [\"{}\", \"--model\", \"{{model}}\", \"{{prompt}}\"]\n\n[fallback]\norder = [\"local\"]\n",
            runner(e, ""),
            e.home().join("bin/local").display()
        )
    });
    fake(
        &env,
        "local",
        "echo answer\necho '{\"cost\": 0.5, \"usage\": {\"input_tokens\": 3}}'\n",
    );
    let o = at(&env, T, &["ask", "--json", "q"]);
    ok(&o);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["cost"].as_f64(), Some(1.0), "{j:#}");
    assert_eq!(j["usage"]["cost_usd"].as_f64(), Some(0.5), "{j:#}");
    assert_eq!(j["result"], "answer", "{j:#}");
    assert_eq!(used(&status_at(&env, T), "local"), 1.0);
    assert_eq!(
        code(&at(&env, T, &["ask", "q"])),
        69,
        "the budget of 1 is spent"
    );
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

#[test]
fn concurrent_asks_never_overspend_and_never_lose_an_increment() {
    const N: usize = 24;
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{FB}",
            runner(e, ""),
            agent("claude", "claude", "10", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    // The db exists before the rush (what is measured is the budget, not the first open).
    assert_eq!(used(&status_at(&env, T), "claude"), 0.0);
    let children: Vec<_> = (0..N)
        .map(|i| {
            env.cmd(&["ask", &format!("question {i}")])
                .env("JOBCTL_NOW", T)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn jobctl ask")
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let codes: Vec<i32> = outs.iter().map(code).collect();
    let succeeded = codes.iter().filter(|c| **c == 0).count();
    let refused = codes.iter().filter(|c| **c == 69).count();
    let odd: Vec<String> = outs
        .iter()
        .filter(|o| !matches!(code(o), 0 | 69))
        .map(both)
        .collect();
    assert!(odd.is_empty(), "every ask exits 0 or 69: {odd:#?}");
    assert_eq!(succeeded, 10, "exactly the budget succeeds: {codes:?}");
    assert_eq!(refused, N - 10, "{codes:?}");
    for o in outs.iter().filter(|o| code(o) == 0) {
        assert_eq!(stdout(o).trim(), "claude says hi", "{}", both(o));
    }
    assert_eq!(calls(&env, "claude"), 10, "claude started exactly 10 times");
    let st = status_at(&env, T);
    assert_eq!(
        used(&st, "claude"),
        10.0,
        "no lost increment, no overspend: {st:#}"
    );
    assert_eq!(
        assert_disabled(&st, "claude", "backend"),
        "quota_exhausted: daily budget reached (10 of 10)"
    );
    assert_enabled(&st, "claude", "worker");
    let h = env.history_json(&["ask", "-n", "1000"]);
    assert_eq!(h.len(), N, "every ask is in history");
    assert_eq!(
        h.iter().filter(|r| r["status"] == "succeeded").count(),
        10,
        "{h:#?}"
    );
    assert_eq!(
        h.iter().filter(|r| r["status"] == "skipped").count(),
        N - 10,
        "{h:#?}"
    );
    let charged: f64 = h.iter().filter_map(|r| r["cost"].as_f64()).sum();
    assert_eq!(charged, 10.0, "history explains USED exactly");
}

// ---------------------------------------------------------------------------------------
// The budget day
// ---------------------------------------------------------------------------------------

/// claude (budget 1), gemini (credentials listed in `auth`, absent) and codex (disabled by
/// hand), all tried in that order.
fn day_env(runner_extra: &str, day_starts: &str) -> (Env, Sweep) {
    let (env, s) = swept_env(|e| {
        format!(
            "{}[budget]\nday_starts = \"{day_starts}\"\n\n{}{}{}[fallback]\norder = [\"claude\", \"gemini\", \"codex\"]\n",
            runner(e, runner_extra),
            agent("claude", "claude", "1", ""),
            agent("gemini", "gemini", "5", "auth = { env = [\"X_TOKEN\"] }"),
            agent("codex", "codex", "5", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    fake(&env, "gemini", "echo '{\"response\":\"gemini\"}'\n");
    fake(&env, "codex", CODEX_OK);
    (env, s)
}

/// At `now`: codex disabled by hand, claude's budget spent, then a refused ask that
/// disables claude (budget) and gemini (auth) for the backend scope.
fn spend_the_day(env: &Env, now: &str) {
    ok(&at(
        env,
        now,
        &[
            "configure",
            "agent",
            "codex",
            "--disable",
            "--reason",
            "vacation",
        ],
    ));
    ok(&at(env, now, &["ask", "q"]));
    let o = at(env, now, &["ask", "q"]);
    assert_eq!(code(&o), 69, "{}", both(&o));
    let st = status_at(env, now);
    assert_eq!(used(&st, "claude"), 1.0);
    assert_eq!(
        assert_disabled(&st, "claude", "backend"),
        "quota_exhausted: daily budget reached (1 of 1)"
    );
    assert!(assert_disabled(&st, "gemini", "backend").starts_with("auth_failed:"));
    assert_eq!(assert_disabled(&st, "codex", "backend"), "manual: vacation");
}

/// After the rollover: usage zero, budget reasons cleared, auth and manual kept.
#[track_caller]
fn assert_rolled_over(env: &Env, now: &str) {
    let st = status_at(env, now);
    assert_eq!(used(&st, "claude"), 0.0, "usage starts from zero: {st:#}");
    assert_enabled(&st, "claude", "backend");
    assert!(
        assert_disabled(&st, "gemini", "backend").starts_with("auth_failed:"),
        "auth_failed stays"
    );
    assert_eq!(
        assert_disabled(&st, "codex", "backend"),
        "manual: vacation",
        "manual stays"
    );
    assert_eq!(assert_disabled(&st, "codex", "worker"), "manual: vacation");
}

#[test]
fn a_new_budget_day_clears_usage_and_quota_reasons_only() {
    let (env, _s) = day_env("", "00:00");
    let d1 = "2026-06-01T23:00:00Z";
    spend_the_day(&env, d1);
    let day1 = status_at(&env, d1)["budget_day"].clone();
    // Still day 1 a minute before midnight.
    let st = status_at(&env, "2026-06-01T23:59:00Z");
    assert_eq!(used(&st, "claude"), 1.0);
    assert_disabled(&st, "claude", "backend");

    let d2 = "2026-06-02T00:05:00Z";
    assert_rolled_over(&env, d2);
    assert_ne!(status_at(&env, d2)["budget_day"], day1, "a new budget day");
    let ev = env
        .store()
        .events(
            Some(jobctl::core::run::EventKind::parse("budget_reset").unwrap()),
            10,
        )
        .unwrap();
    assert_eq!(
        ev.len(),
        1,
        "one budget_reset event for the new day: {ev:?}"
    );
    // The day's budget is there again.
    let o = at(&env, d2, &["ask", "q"]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), "claude says hi");
    assert_eq!(used(&status_at(&env, d2), "claude"), 1.0);
}

#[test]
fn the_budget_day_starts_at_day_starts() {
    let (env, _s) = day_env("", "06:00");
    let d1 = "2026-06-01T23:00:00Z";
    spend_the_day(&env, d1);
    // 05:00 on the next date is still the old budget day.
    let st = status_at(&env, "2026-06-02T05:00:00Z");
    assert_eq!(
        used(&st, "claude"),
        1.0,
        "05:00 belongs to the budget day that began at 06:00 yesterday: {st:#}"
    );
    assert_disabled(&st, "claude", "backend");
    assert_eq!(code(&at(&env, "2026-06-02T05:59:00Z", &["ask", "q"])), 69);
    assert_rolled_over(&env, "2026-06-02T06:00:00Z");
}

#[test]
fn the_budget_day_is_in_the_runners_timezone() {
    // Amsterdam is UTC+2 in June: local midnight is 22:00 UTC.
    let (env, _s) = day_env("", "00:00");
    let toml = std::fs::read_to_string(env.config_path())
        .unwrap()
        .replace("timezone = \"UTC\"", "timezone = \"Europe/Amsterdam\"");
    env.config(&toml);
    spend_the_day(&env, "2026-06-01T21:30:00Z");
    let st = status_at(&env, "2026-06-01T21:59:00Z");
    assert_eq!(
        used(&st, "claude"),
        1.0,
        "23:59 local is still the same day"
    );
    assert_rolled_over(&env, "2026-06-01T22:05:00Z");
}

#[test]
fn reset_budgets_does_the_rollover_on_demand() {
    let (env, _s) = day_env("", "00:00");
    spend_the_day(&env, T);
    // codex back, and spend a little of it.
    ok(&at(&env, T, &["configure", "agent", "codex", "--enable"]));
    ok(&at(&env, T, &["ask", "--agent", "codex", "q"]));
    let st = status_at(&env, T);
    assert_eq!(used(&st, "codex"), 1.0);

    // One agent only.
    let o = at(&env, T, &["reset", "budgets", "--agent", "codex"]);
    ok(&o);
    assert!(
        stdout(&o).contains("codex"),
        "prints what changed\n{}",
        both(&o)
    );
    assert!(!stdout(&o).contains("claude"), "only codex\n{}", both(&o));
    let st = status_at(&env, T);
    assert_eq!(used(&st, "codex"), 0.0);
    assert_eq!(used(&st, "claude"), 1.0, "another agent is untouched");
    assert_disabled(&st, "claude", "backend");

    // Every agent.
    let o = at(&env, T, &["reset", "budgets"]);
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("claude") && out.contains("backend"),
        "says claude's usage and its backend scope changed\n{}",
        both(&o)
    );
    let st = status_at(&env, T);
    assert_eq!(used(&st, "claude"), 0.0);
    assert_enabled(&st, "claude", "backend");
    assert!(
        assert_disabled(&st, "gemini", "backend").starts_with("auth_failed:"),
        "auth_failed stays"
    );
    assert!(
        env.store()
            .events(
                Some(jobctl::core::run::EventKind::parse("budget_reset").unwrap()),
                10
            )
            .unwrap()
            .len()
            >= 2,
        "an event per reset"
    );
    ok(&at(&env, T, &["ask", "q"]));
    assert_eq!(env.last_run("ask")["agent"], "claude");

    // --json says the same.
    let o = at(&env, T, &["reset", "budgets", "--json"]);
    ok(&o);
    let j: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", both(&o)));
    assert!(j.is_object(), "{j}");
}

// ---------------------------------------------------------------------------------------
// Provider cooldown
// ---------------------------------------------------------------------------------------

/// codex out of quota at the provider, claude with a budget of 1; both tried.
fn cooldown_env() -> (Env, Sweep) {
    let (env, s) = swept_env(|e| {
        format!(
            "{}[budget]\nprovider_cooldown = \"1m\"\n\n{}{}[fallback]\norder = [\"codex\", \"claude\"]\n",
            runner(e, ""),
            agent("claude", "claude", "1", ""),
            agent("codex", "codex", "5", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    fake(&env, "codex", CODEX_QUOTA);
    (env, s)
}

fn cooldown_scenario(env: &Env, t0: &str) {
    // codex refuses (provider quota), claude answers and spends its budget.
    let o = at(env, t0, &["ask", "q"]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), "claude says hi");
    // codex is skipped (disabled), claude's budget is reached.
    assert_eq!(code(&at(env, t0, &["ask", "q"])), 69);
    assert_eq!(calls(env, "codex"), 1);
    let st = status_at(env, &plus(t0, 30));
    let why = assert_disabled(&st, "codex", "backend");
    assert!(
        why.starts_with("quota_exhausted:") && why.contains("insufficient_quota"),
        "{why}"
    );
    assert_eq!(
        assert_disabled(&st, "claude", "backend"),
        "quota_exhausted: daily budget reached (1 of 1)"
    );

    // Two minutes later the provider cooldown (1m) has passed; the budget is still spent.
    let st = status_at(env, &plus(t0, 120));
    assert_enabled(&st, "codex", "backend");
    assert_eq!(
        assert_disabled(&st, "claude", "backend"),
        "quota_exhausted: daily budget reached (1 of 1)",
        "the cooldown never re-enables a reached budget"
    );
    let ev = env
        .store()
        .events(
            Some(jobctl::core::run::EventKind::parse("scopes_enabled").unwrap()),
            10,
        )
        .unwrap();
    assert!(!ev.is_empty(), "an event says the cooldown passed");
}

#[test]
fn provider_quota_cools_down_with_the_pinned_clock() {
    let (env, _s) = cooldown_env();
    cooldown_scenario(&env, T);
}

#[test]
fn provider_quota_cools_down_with_the_real_clock() {
    let (env, _s) = cooldown_env();
    let now = jiff::Timestamp::now().to_string();
    cooldown_scenario(&env, &now);
}

#[test]
fn provider_quota_cooldown_is_not_cut_short_by_a_pinned_future() {
    // Pinned to a moment well after the machine's clock, a fresh quota failure must still
    // keep its scope disabled for the cooldown.
    let (env, _s) = cooldown_env();
    let future = plus(&jiff::Timestamp::now().to_string(), 30 * 86400);
    ok(&at(&env, &future, &["ask", "q"]));
    let st = status_at(&env, &plus(&future, 10));
    assert!(
        assert_disabled(&st, "codex", "backend").starts_with("quota_exhausted:"),
        "10 s after the failure the 1m cooldown has not passed"
    );
}

#[test]
fn a_provider_quota_scope_is_enabled_at_the_next_budget_day_before_its_cooldown() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"codex\", \"claude\"]\n",
            runner(e, ""),
            agent("claude", "claude", "5", ""),
            agent("codex", "codex", "5", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    fake(&env, "codex", CODEX_QUOTA);
    // Default cooldown 1h; the failure is at 23:50, the new day at 00:00.
    ok(&at(&env, "2026-06-01T23:50:00Z", &["ask", "q"]));
    assert!(
        assert_disabled(&status_at(&env, "2026-06-01T23:55:00Z"), "codex", "backend")
            .starts_with("quota_exhausted:")
    );
    assert_enabled(&status_at(&env, "2026-06-02T00:01:00Z"), "codex", "backend");
}

#[test]
fn concurrent_asks_on_a_fresh_state_directory() {
    // The same rush as the very first thing jobctl ever does: the db is created under it.
    const N: usize = 16;
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{FB}",
            runner(e, ""),
            agent("claude", "claude", "5", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    let children: Vec<_> = (0..N)
        .map(|i| {
            env.cmd(&["ask", &format!("question {i}")])
                .env("JOBCTL_NOW", T)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn jobctl ask")
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let odd: Vec<String> = outs
        .iter()
        .filter(|o| !matches!(code(o), 0 | 69))
        .map(both)
        .collect();
    assert!(odd.is_empty(), "every ask exits 0 or 69: {odd:#?}");
    assert_eq!(outs.iter().filter(|o| code(o) == 0).count(), 5);
    assert_eq!(used(&status_at(&env, T), "claude"), 5.0);
    assert_eq!(env.history_json(&["ask", "-n", "1000"]).len(), N);
}

#[test]
fn the_first_command_of_a_new_day_may_be_an_ask() {
    let (env, _s) = day_env("", "00:00");
    spend_the_day(&env, "2026-06-01T23:00:00Z");
    let o = at(&env, "2026-06-02T00:00:00Z", &["ask", "q"]);
    ok(&o);
    assert_eq!(env.last_run("ask")["agent"], "claude");
    let st = status_at(&env, "2026-06-02T00:00:01Z");
    assert_eq!(used(&st, "claude"), 1.0, "the new day's first call: {st:#}");
}

#[test]
fn a_zero_budget_refuses_every_call() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"claude\", \"codex\"]\n",
            runner(e, ""),
            agent("claude", "claude", "0", ""),
            agent("codex", "codex", "1", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    fake(&env, "codex", CODEX_OK);
    let o = at(&env, T, &["ask", "q"]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), "codex says hi");
    assert_eq!(calls(&env, "claude"), 0);
    assert_eq!(
        assert_disabled(&status_at(&env, T), "claude", "backend"),
        "quota_exhausted: daily budget reached (0 of 0)"
    );
}

#[test]
fn ask_history_is_pruned_to_keep_runs() {
    let env = Env::new();
    let bin = env.script("bin/local", "#!/bin/sh\necho \"answer to $1\"\n");
    env.config(&format!(
        "[runner]\nkeep_runs = 2\n\n[agents.local]\npreset = \"command\"\ndaily_budget = 100\ncommand = [\"{}\", \"{{prompt}}\"]\n\n[fallback]\norder = [\"local\"]\n",
        bin.display()
    ));
    for i in 0..4 {
        let out = env.run(&["ask", &format!("q{i}")]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let runs = env.history_json(&["ask"]);
    assert_eq!(runs.len(), 2, "keep_runs = 2 applies to ask too: {runs:#?}");
    let logs: Vec<_> = std::fs::read_dir(env.state_dir().join("logs/ask"))
        .unwrap()
        .collect();
    assert_eq!(logs.len(), 2, "pruned runs' logs are removed");
}

// ---------------------------------------------------------------------------------------
// Usage equals the calls that ran, whatever resets and clocks do meanwhile
// ---------------------------------------------------------------------------------------

/// An agent whose call with the prompt `fail` is refused as not logged in after a moment
/// (its reservation is given back), and any other call answers.
fn refusing_env() -> (Env, Sweep) {
    swept_env(|e| {
        fake(
            e,
            "x",
            "if [ \"$1\" = fail ]; then sleep 1.5; echo 'Not logged in' >&2; exit 1; fi\necho fine\n",
        );
        format!(
            "{}{}",
            runner(e, ""),
            agent("x", "command", "10", "command = [\"x\", \"{prompt}\"]")
        )
    })
}

#[test]
fn a_refund_after_a_reset_never_takes_from_the_new_count() {
    let (env, _s) = refusing_env();
    let mut failing = env
        .cmd(&["ask", "--scope", "worker", "--agent", "x", "fail"])
        .env("JOBCTL_NOW", T)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "the failing call to hold its reservation",
        std::time::Duration::from_secs(10),
        || (used(&status_at(&env, T), "x") == 1.0).then_some(()),
    );
    ok(&at(&env, T, &["reset", "budgets"]));
    ok(&at(
        &env,
        T,
        &["ask", "--scope", "backend", "--agent", "x", "ok"],
    ));
    assert_eq!(
        used(&status_at(&env, T), "x"),
        1.0,
        "the call after the reset"
    );
    failing.wait().unwrap();
    let run = env
        .history_json(&["ask"])
        .into_iter()
        .find(|r| r["scope"] == "worker")
        .unwrap();
    assert_eq!(run["status"], "skipped", "{run:#}");
    assert_eq!(
        used(&status_at(&env, T), "x"),
        1.0,
        "the refund of the call reserved before the reset takes nothing from after it"
    );
}

#[test]
fn a_clock_stepped_back_keeps_the_days_usage() {
    let (env, _s) = refusing_env();
    let day2 = "2026-06-02T10:00:00Z";
    ok(&at(&env, day2, &["ask", "--agent", "x", "ok"]));
    ok(&at(&env, day2, &["ask", "--agent", "x", "ok"]));
    assert_eq!(used(&status_at(&env, day2), "x"), 2.0);
    // The clock steps back a day: the budget day stays the later one, usage with it.
    ok(&at(&env, T, &["ask", "--agent", "x", "ok"]));
    let st = status_at(&env, T);
    assert_eq!(
        used(&st, "x"),
        3.0,
        "usage survives a clock going backwards: {st:#}"
    );
    assert_eq!(st["budget_day"], "2026-06-02", "{st:#}");
    ok(&at(
        &env,
        "2026-06-03T10:00:00Z",
        &["ask", "--agent", "x", "ok"],
    ));
    assert_eq!(
        used(&status_at(&env, "2026-06-03T10:00:00Z"), "x"),
        1.0,
        "a real new day"
    );
}
