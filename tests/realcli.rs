//! Agent jobs and `jobctl ask` against the real claude, codex and gemini CLIs, installed
//! from npm at the versions pinned in `tests/realcli/package.json` (`.ci/run` installs
//! them). Nothing here is a fake of a CLI: the failure paths are the CLIs' own answers with
//! no credentials, no network or the wrong user, and the success paths are the CLIs
//! completing real turns against a model-API stub on loopback (`common/model_stub.rs`),
//! where only the model is a stand-in.
//!
//! Locally, a missing CLI skips its test with one line on stderr; under `CI=true` it fails.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where `npm ci` in `tests/realcli` puts the CLIs.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realcli/node_modules/.bin")
}

/// Whether the real `name` CLI is installed; under CI a missing one fails the test.
fn have(name: &str) -> bool {
    let p = bin_dir().join(name);
    if p.exists() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "the real {name} CLI is missing at {}: run `npm ci` in tests/realcli",
            p.display()
        );
    }
    eprintln!("skipped: the real {name} CLI is not installed (npm ci --prefix tests/realcli)");
    false
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A config whose jobs see the real CLIs on PATH, a HOME of their own (empty: no login,
/// no settings), and `extra_env` (inline-table entries).
fn runner_for(env: &Env, extra_env: &str) -> String {
    let home = env.home().join("agent-home");
    std::fs::create_dir_all(&home).unwrap();
    format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\nenv_remove = [\"ANTHROPIC_API_KEY\", \"OPENAI_API_KEY\", \"GEMINI_API_KEY\", \"GOOGLE_API_KEY\", \"IS_SANDBOX\", \"CLAUDE_CODE_OAUTH_TOKEN\"]\n\
         env = {{ PATH = \"{}:/usr/local/bin:/usr/bin:/bin\", HOME = \"{}\", XDG_CONFIG_HOME = \"{}/.config\", NO_COLOR = \"1\"{extra_env} }}\n",
        bin_dir().display(),
        home.display(),
        home.display(),
    )
}

/// A `command` agent that always answers: what a fallback lands on.
fn local_agent(env: &Env) -> String {
    env.script(
        "bin/local-agent",
        "#!/bin/sh\necho \"local agent answers: $1\"\n",
    );
    format!(
        "[agents.local]\npreset = \"command\"\ndaily_budget = 100\ncommand = [\"{}/bin/local-agent\", \"{{prompt}}\"]\n",
        env.home().display()
    )
}

fn setup(toml: impl FnOnce(&Env) -> String) -> (Env, Sweep) {
    let env = Env::new();
    let t = toml(&env);
    env.config(&t);
    let sweep = Sweep::new(&env);
    (env, sweep)
}

fn last_run(env: &Env, job: &str) -> Value {
    env.history_json(&[job, "-n", "1"])
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no run of {job}"))
}

fn status(env: &Env) -> Value {
    let o = env.run(&["status", "--json"]);
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

fn scope(st: &Value, agent: &str, scope: &str) -> Value {
    st["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"] == agent && r["scope"] == scope)
        .cloned()
        .unwrap_or_else(|| panic!("no {agent} × {scope} in {st:#}"))
}

fn outcomes(run: &Value) -> Vec<(String, String)> {
    run["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempts: {run:#}"))
        .iter()
        .map(|a| {
            (
                a["agent"].as_str().unwrap().to_string(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn log_of(env: &Env, run: &Value) -> String {
    let o = env.run(&["logs", &run["run_id"].to_string()]);
    ok(&o);
    stdout(&o)
}

// ---------------------------------------------------------------------------------------
// Failure shapes: the CLIs' own answers
// ---------------------------------------------------------------------------------------

#[test]
fn claude_not_logged_in_is_auth_failed_and_the_next_agent_runs() {
    if !have("claude") {
        return;
    }
    let (env, _s) = setup(|e| {
        format!(
            "{}[agents.claude]\npreset = \"claude\"\ndaily_budget = 10\n\n{}\n[fallback]\norder = [\"local\"]\n\n\
             [jobs.hunt]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"---\\nfind bugs\"\n",
            runner_for(e, ", IS_SANDBOX = \"1\""),
            local_agent(e)
        )
    });
    let o = env.run(&["force", "hunt"]);
    ok(&o);
    let run = last_run(&env, "hunt");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        outcomes(&run),
        [
            ("claude".into(), "auth_failed".into()),
            ("local".into(), "succeeded".into())
        ],
        "{run:#}"
    );
    let st = status(&env);
    let c = scope(&st, "claude", "worker");
    assert_eq!(c["enabled"], false, "{c}");
    assert_eq!(
        c["reason"], "auth_failed: Not logged in · Please run /login",
        "the scope carries claude's own words: {c}"
    );
    assert_eq!(
        c["used"].as_f64(),
        Some(0.0),
        "an auth failure is not charged: {c}"
    );
    assert_eq!(
        scope(&st, "claude", "backend")["enabled"],
        true,
        "other scopes untouched"
    );
    assert!(
        log_of(&env, &run).contains("local agent answers: ---\nfind bugs"),
        "the prompt reached the next agent whole"
    );
}

#[test]
fn claude_as_root_fails_plainly_and_gives_the_reservation_back() {
    if !have("claude") {
        return;
    }
    if !is_root() {
        eprintln!("skipped: claude's root refusal needs the tests to run as root");
        return;
    }
    let (env, _s) = setup(|e| {
        format!(
            "{}[agents.claude]\npreset = \"claude\"\ndaily_budget = 10\n\n{}\n[fallback]\norder = [\"local\"]\n\n\
             [jobs.hunt]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"find bugs\"\n",
            runner_for(e, ""),
            local_agent(e)
        )
    });
    for _ in 0..3 {
        let o = env.run(&["force", "hunt"]);
        assert_eq!(code(&o), 1, "{}", both(&o));
    }
    let run = last_run(&env, "hunt");
    assert_eq!(run["status"], "failed", "{run:#}");
    let err = run["error"].as_str().unwrap();
    assert!(err.contains("root"), "the record says root: {err}");
    assert!(!err.contains("auth"), "it is not an auth problem: {err}");
    assert_eq!(
        outcomes(&run),
        [("claude".into(), "failed".into())],
        "no fallback"
    );
    assert!(run["cost"].is_null(), "nothing charged: {run:#}");
    let st = status(&env);
    let c = scope(&st, "claude", "worker");
    assert_eq!(c["enabled"], true, "scope untouched: {c}");
    assert_eq!(
        c["used"].as_f64(),
        Some(0.0),
        "three refused calls cost nothing: {c}"
    );
}

#[test]
fn codex_that_cannot_reach_its_provider_is_stopped_by_the_stall_rule() {
    if !have("codex") {
        return;
    }
    // A provider on a port nothing listens on: codex retries and reconnects for ever.
    let (env, _s) = setup(|e| {
        format!(
            "{}[agents.codex]\npreset = \"codex\"\ndaily_budget = 10\nagent_stall = \"4s\"\n\
             args = [\"-c\", \"model_provider=dead\", \"-c\", 'model_providers.dead={{name=\"dead\",base_url=\"http://127.0.0.1:9/v1\",env_key=\"OPENAI_API_KEY\",wire_api=\"responses\"}}']\n\n\
             {}\n[fallback]\norder = [\"local\"]\n\n\
             [jobs.fix]\ntype = \"agent\"\nagent = \"codex\"\nprompt = \"fix it\"\ntimeout = \"3m\"\n",
            runner_for(e, ", OPENAI_API_KEY = \"sk-dummy-key-for-tests\""),
            local_agent(e)
        )
    });
    let t0 = Instant::now();
    let o = env.run(&["force", "fix"]);
    ok(&o);
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "stopped by the stall rule, long before the timeout: {took:?}"
    );
    let run = last_run(&env, "fix");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        outcomes(&run),
        [
            ("codex".into(), "unavailable".into()),
            ("local".into(), "succeeded".into())
        ],
        "{run:#}"
    );
    let st = status(&env);
    let c = scope(&st, "codex", "worker");
    let reason = c["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("unavailable: Reconnecting"),
        "codex's own notice: {c}"
    );
    assert!(
        !reason.contains("sk-dummy"),
        "no secret in a reason: {reason}"
    );
    assert_eq!(c["used"].as_f64(), Some(0.0), "{c}");
    let (live, _) = run_processes(&env.state_dir(), run["run_id"].as_i64().unwrap());
    assert!(live.is_empty(), "codex's processes are gone: {live:?}");
}

#[test]
fn gemini_without_auth_is_auth_failed_from_its_stderr_and_trusts_the_folder() {
    if !have("gemini") {
        return;
    }
    let (env, _s) = setup(|e| {
        format!(
            "{}[agents.gemini]\npreset = \"gemini\"\ndaily_budget = 10\n\n{}\n[fallback]\norder = [\"local\"]\n\n\
             [jobs.sum]\ntype = \"agent\"\nagent = \"gemini\"\nprompt = \"summarise\"\nworkdir = \"fresh\"\n",
            runner_for(e, ""),
            local_agent(e)
        )
    });
    std::fs::create_dir(env.home().join("fresh")).unwrap();
    let o = env.run(&["force", "sum"]);
    ok(&o);
    let run = last_run(&env, "sum");
    assert_eq!(
        outcomes(&run),
        [
            ("gemini".into(), "auth_failed".into()),
            ("local".into(), "succeeded".into())
        ],
        "{run:#}"
    );
    let c = scope(&status(&env), "gemini", "worker");
    assert!(
        c["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("auth_failed: Please set an Auth method"),
        "gemini's own words, from its stderr: {c}"
    );
    let log = log_of(&env, &run);
    assert!(
        !log.contains("not trusted"),
        "--skip-trust: no trust downgrade\n{log}"
    );
}

#[test]
fn ask_through_each_real_cli_reports_each_reason() {
    if !have("claude") || !have("codex") || !have("gemini") {
        return;
    }
    let (env, _s) = setup(|e| {
        format!(
            "{}[agents.claude]\npreset = \"claude\"\ndaily_budget = 10\n\n\
             [agents.gemini]\npreset = \"gemini\"\ndaily_budget = 10\n\n\
             [agents.codex]\npreset = \"codex\"\ndaily_budget = 10\nagent_stall = \"3s\"\n\
             args = [\"-c\", \"model_provider=dead\", \"-c\", 'model_providers.dead={{name=\"dead\",base_url=\"http://127.0.0.1:9/v1\",env_key=\"OPENAI_API_KEY\",wire_api=\"responses\"}}']\n\n\
             [fallback]\norder = [\"claude\", \"gemini\", \"codex\"]\n",
            runner_for(e, ", IS_SANDBOX = \"1\", OPENAI_API_KEY = \"sk-dummy\"")
        )
    });
    let o = env.run(&["ask", "--", "-- what is up?"]);
    assert_eq!(code(&o), 69, "{}", both(&o));
    let err = stderr(&o);
    assert!(err.contains("claude: auth_failed: Not logged in"), "{err}");
    assert!(
        err.contains("gemini: auth_failed: Please set an Auth method"),
        "{err}"
    );
    assert!(err.contains("codex: unavailable: Reconnecting"), "{err}");
    let h = env.history_json(&["ask", "-n", "1"]);
    assert_eq!(h[0]["status"], "skipped", "{:#}", h[0]);
}
