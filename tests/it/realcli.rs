//! Agent jobs and `jobctl ask` against the real claude, codex and gemini CLIs, installed
//! from npm at the versions pinned in `tests/realcli/package.json` (`.ci/run` installs
//! them). Nothing here is a fake of a CLI: the failure paths are the CLIs' own answers with
//! no credentials, no network or the wrong user, and the success paths are the CLIs
//! completing real turns against a model-API stub on loopback (`common/model_stub.rs`),
//! where only the model is a stand-in.
//!
//! Locally, a missing CLI skips its test with one line on stderr; under `CI=true` it fails.

use crate::support::model_stub;
use crate::support::model_stub::{ModelStub, Script};
use crate::support::*;

use std::time::{Duration, Instant};

use serde_json::Value;

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

pub(crate) fn outcomes(run: &Value) -> Vec<(String, String)> {
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

pub(crate) fn log_of(env: &Env, run: &Value) -> String {
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
    let (env, _s) = swept_env(|e| {
        format!(
            "{}[agents.claude]\npreset = \"claude\"\ndaily_budget = 10\n\n{}\n[fallback]\norder = [\"local\"]\n\n\
             [jobs.hunt]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"---\\nfind bugs\"\n",
            runner_for(e, ", IS_SANDBOX = \"1\""),
            local_agent(e)
        )
    });
    let o = env.run(&["force", "hunt"]);
    ok(&o);
    let run = env.last_run("hunt");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        outcomes(&run),
        [
            ("claude".into(), "auth_failed".into()),
            ("local".into(), "succeeded".into())
        ],
        "{run:#}"
    );
    let st = env.status_json();
    let c = scope_row(&st, "claude", "worker");
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
        scope_row(&st, "claude", "backend")["reason"],
        c["reason"],
        "a logged-out CLI is logged out for every scope"
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
    let (env, _s) = swept_env(|e| {
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
    let run = env.last_run("hunt");
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
    let st = env.status_json();
    let c = scope_row(&st, "claude", "worker");
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
    let (env, _s) = swept_env(|e| {
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
    let run = env.last_run("fix");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        outcomes(&run),
        [
            ("codex".into(), "unavailable".into()),
            ("local".into(), "succeeded".into())
        ],
        "{run:#}"
    );
    let st = env.status_json();
    let c = scope_row(&st, "codex", "worker");
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
    let (env, _s) = swept_env(|e| {
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
    let run = env.last_run("sum");
    assert_eq!(
        outcomes(&run),
        [
            ("gemini".into(), "auth_failed".into()),
            ("local".into(), "succeeded".into())
        ],
        "{run:#}"
    );
    let c = scope_row(&env.status_json(), "gemini", "worker");
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
    let (env, _s) = swept_env(|e| {
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

// ---------------------------------------------------------------------------------------
// Success: the real CLIs complete turns against the model stub on loopback
// ---------------------------------------------------------------------------------------

/// The stub's provider settings for codex, as agent `args`.
fn codex_provider_args(stub: &ModelStub) -> String {
    format!(
        "args = [\"-c\", \"model_provider=stub\", \"-c\", 'model_providers.stub={{name=\"stub\",base_url=\"{}/v1\",env_key=\"OPENAI_API_KEY\",wire_api=\"responses\"}}']",
        stub.url()
    )
}

/// An env with all three agents pointed at `stub`, and `job` (agent `agent`) working in
/// `work/`. gemini is told to use its API key in its settings, as a user would.
fn stub_env(stub: &ModelStub, agent: &str) -> (Env, Sweep) {
    stub_env_with(
        stub,
        "",
        &format!(
            "[jobs.work]\ntype = \"agent\"\nagent = \"{agent}\"\nprompt = \"write out.txt\"\nworkdir = \"work\"\ntimeout = \"2m\"\n"
        ),
    )
}

/// An env with all three agents pointed at `stub` and `jobs`, with `runner_extra` in
/// `[runner]`; `work/` made for the jobs to work in.
pub(crate) fn stub_env_with(stub: &ModelStub, runner_extra: &str, jobs: &str) -> (Env, Sweep) {
    let (env, s) = swept_env(|e| {
        format!(
            "{}{runner_extra}\n[agents.claude]\npreset = \"claude\"\ndaily_budget = 10\n\n\
             [agents.codex]\npreset = \"codex\"\ndaily_budget = 10\n{}\n\n\
             [agents.gemini]\npreset = \"gemini\"\ndaily_budget = 10\n\n{jobs}",
            runner_for(
                e,
                &format!(
                    ", IS_SANDBOX = \"1\", ANTHROPIC_API_KEY = \"sk-ant-dummy\", ANTHROPIC_BASE_URL = \"{url}\", \
                     OPENAI_API_KEY = \"sk-dummy\", GEMINI_API_KEY = \"dummy-gemini-key\", GOOGLE_GEMINI_BASE_URL = \"{url}\", \
                     TMPDIR = \"{tmp}\"",
                    url = stub.url(),
                    tmp = e.home().join("tmp").display()
                )
            ),
            codex_provider_args(stub)
        )
    });
    std::fs::create_dir_all(env.home().join("work")).unwrap();
    std::fs::create_dir_all(env.home().join("tmp")).unwrap();
    env.write(
        "agent-home/.gemini/settings.json",
        r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#,
    );
    (env, s)
}

/// Forces `work`, asserts it succeeded through `agent`, and returns its record.
fn run_work(env: &Env, agent: &str) -> Value {
    let o = env.run(&["force", "work"]);
    ok(&o);
    let run = env.last_run("work");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        outcomes(&run),
        [(agent.to_string(), "succeeded".to_string())],
        "{run:#}"
    );
    assert!(
        log_of(env, &run).contains(model_stub::ANSWER),
        "the answer is in the run log"
    );
    let out = std::fs::read_to_string(env.home().join("work/out.txt"))
        .unwrap_or_else(|e| panic!("{agent}'s tool call wrote work/out.txt: {e}\n{run:#}"));
    assert_eq!(out, "hi\n", "the tool really ran in the job's workdir");
    run
}

#[test]
fn claude_completes_a_turn_with_a_tool_call_and_every_number_is_recorded() {
    if !have("claude") {
        return;
    }
    let stub = ModelStub::start(Script::ToolCall);
    let (env, _s) = stub_env(&stub, "claude");
    let run = run_work(&env, "claude");
    assert_eq!(run["model"], "haiku", "{run:#}");
    assert_eq!(
        run["num_turns"], 2,
        "a tool turn and an answer turn: {run:#}"
    );
    assert_eq!(run["input_tokens"], 22, "{run:#}");
    assert_eq!(run["output_tokens"], 14, "{run:#}");
    let usd = run["cost_usd"].as_f64().unwrap_or(0.0);
    assert!(
        usd > 0.0 && usd < 0.01,
        "claude's own cost (total_cost_usd): {run:#}"
    );
    assert_eq!(run["cost"].as_f64(), Some(1.0), "charged once: {run:#}");
    assert!(
        run["tool_calls"].is_null(),
        "claude's result doesn't count tools: {run:#}"
    );
    assert!(
        stub.requests()
            .iter()
            .any(|p| p.starts_with("/v1/messages")),
        "{:?}",
        stub.requests()
    );
}

#[test]
fn codex_completes_a_turn_with_a_shell_call_and_every_number_is_recorded() {
    if !have("codex") {
        return;
    }
    let stub = ModelStub::start(Script::ToolCall);
    let (env, _s) = stub_env(&stub, "codex");
    let run = run_work(&env, "codex");
    assert!(
        run["model"].is_null(),
        "no -m: codex's own default model: {run:#}"
    );
    assert_eq!(run["tool_calls"], 1, "one command_execution: {run:#}");
    assert_eq!(run["input_tokens"], 22, "{run:#}");
    assert_eq!(run["output_tokens"], 14, "{run:#}");
    assert_eq!(run["num_turns"], 1, "{run:#}");
    assert!(
        stub.requests().iter().all(|p| p == "/v1/responses"),
        "{:?}",
        stub.requests()
    );
}

#[test]
fn gemini_completes_a_turn_with_a_shell_call_and_every_number_is_recorded() {
    if !have("gemini") {
        return;
    }
    let stub = ModelStub::start(Script::ToolCall);
    let (env, _s) = stub_env(&stub, "gemini");
    let run = run_work(&env, "gemini");
    assert_eq!(run["tool_calls"], 1, "stats.tools.totalCalls: {run:#}");
    assert_eq!(
        run["input_tokens"], 33,
        "router and two main calls: {run:#}"
    );
    assert_eq!(run["output_tokens"], 21, "{run:#}");
    assert_eq!(run["num_turns"], 2, "the main model's requests: {run:#}");
    let log = log_of(&env, &run);
    assert!(!log.contains("not trusted"), "{log}");
}

#[test]
fn ask_succeeds_through_each_real_cli_without_tools() {
    if !have("claude") || !have("codex") || !have("gemini") {
        return;
    }
    // The stub offers a shell call whenever the CLI offers a shell tool: ask offers none.
    let stub = ModelStub::start(Script::ToolCall);
    let (env, _s) = stub_env(&stub, "claude");
    for agent in ["claude", "codex", "gemini"] {
        let o = env.run(&[
            "ask",
            "--agent",
            agent,
            "--json",
            "--",
            "-- is this a flag?",
        ]);
        ok(&o);
        let j: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{agent}: {e}\n{}", both(&o)));
        assert_eq!(j["agent"], agent, "{j:#}");
        assert_eq!(j["result"], model_stub::ANSWER, "{j:#}");
        assert!(
            j["usage"]["input_tokens"].as_i64().unwrap() > 0,
            "{agent}: {j:#}"
        );
        assert!(
            !env.home().join("out.txt").exists() && !env.home().join("work/out.txt").exists(),
            "{agent} ran no tool in ask"
        );
    }
    let h = env.history_json(&["ask"]);
    assert_eq!(h.len(), 3, "{h:#?}");
    assert!(h.iter().all(|r| r["status"] == "succeeded"), "{h:#?}");
}
