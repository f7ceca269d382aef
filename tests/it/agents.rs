//! Agent jobs and `jobctl ask` run for real against fake agent CLIs: shell scripts that
//! print what claude, codex and gemini print (agents.md, "What the real CLIs do when
//! things go wrong") and record the argv, environment, stdin and working directory they
//! were started with. Covers the preset argv, what a run records, fallback by outcome
//! (auth, quota, root refusal, timeout, garbage, huge output), the role from a real
//! unix-socket daemon, `status`, `ask` and `configure agent`.

use crate::support::*;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A Monday, UTC, in the past of the machine's clock.
const T: &str = "2026-06-01T10:00:00Z";

// ---------------------------------------------------------------------------------------
// Fakes and helpers
// ---------------------------------------------------------------------------------------

/// An agent table.
fn agent(name: &str, preset: &str, extra: &str) -> String {
    format!("[agents.{name}]\npreset = \"{preset}\"\ndaily_budget = 100\n{extra}\n")
}

/// Writes `bin/NAME`: records its argv (NUL-separated), environment, stdin and cwd under
/// `rec/NAME.*`, appends its pid to `rec/NAME.calls`, then runs `body`.
fn fake(env: &Env, name: &str, body: &str) -> PathBuf {
    let rec = env.home().join("rec").join(name);
    std::fs::create_dir_all(rec.parent().unwrap()).unwrap();
    env.script(
        &format!("bin/{name}"),
        &format!(
            "#!/bin/sh\nR='{}'\nprintf '%s\\0' \"$@\" > \"$R.argv\"\nenv -0 > \"$R.env\"\n\
             readlink /proc/self/fd/0 > \"$R.stdin\"\npwd > \"$R.cwd\"\necho $$ >> \"$R.calls\"\n{body}",
            rec.display()
        ),
    )
}

const CLAUDE_OK: &str = r#"cat <<'EOF'
{"type":"result","subtype":"success","is_error":false,"result":"claude says hi","total_cost_usd":0.01,"usage":{"input_tokens":5,"output_tokens":7},"num_turns":2}
EOF
"#;

const CLAUDE_NOT_LOGGED_IN: &str = r#"cat <<'EOF'
{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login","total_cost_usd":0,"num_turns":1}
EOF
exit 1
"#;

const CLAUDE_ROOT: &str = r#"echo '--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons' >&2
exit 1
"#;

const CLAUDE_429: &str = r#"cat <<'EOF'
{"type":"result","is_error":true,"result":"API Error: 429 rate limit exceeded","num_turns":1}
EOF
exit 1
"#;

const CLAUDE_GARBAGE: &str = "echo 'Welcome! this is {not json'\nexit 0\n";

const CLAUDE_HUGE: &str = "head -c 20000000 /dev/zero | tr '\\0' a\necho\nexit 0\n";

const CODEX_OK: &str = r#"cat <<'EOF'
{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Thinking**"}}
{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"codex says hi"}}
{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":50,"output_tokens":20}}
EOF
"#;

const CODEX_QUOTA: &str = r#"cat <<'EOF'
{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"error","message":"You exceeded your current quota, please check your plan and billing details. (insufficient_quota)"}
{"type":"turn.failed","error":{"message":"You exceeded your current quota, please check your plan and billing details. (insufficient_quota)"}}
EOF
exit 1
"#;

/// codex with no network: reconnect notices forever.
const CODEX_HANG: &str = r#"echo '{"type":"thread.started","thread_id":"t"}'
i=1
while :; do
  echo "{\"type\":\"error\",\"message\":\"Reconnecting... $i/5 (stream disconnected before completion)\"}"
  i=$((i+1))
  sleep 0.2
done
"#;

const GEMINI_OK: &str = r#"cat <<'EOF'
{"response":"gemini says hi","stats":{"models":{"gemini-2.5-flash-lite":{"tokens":{"prompt":11,"candidates":3}}}}}
EOF
"#;

const GEMINI_NO_AUTH: &str = r#"cat <<'EOF'
{"error": {"type": "Error", "message": "Please set an Auth method in your /root/.gemini/settings.json or specify one of the following environment variables before running: GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA", "code": 41}}
EOF
exit 41
"#;

/// What a fake recorded about its last start.
struct Rec {
    argv: Vec<String>,
    env: HashMap<String, String>,
    stdin: String,
    cwd: String,
}

fn rec(env: &Env, name: &str) -> Option<Rec> {
    let base = env.home().join("rec").join(name);
    let argv = std::fs::read(base.with_extension("argv")).ok()?;
    let argv: Vec<String> = argv
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>();
    // printf '%s\0' ends every argument with a NUL: drop the empty piece after the last one.
    let argv = argv[..argv.len().saturating_sub(1)].to_vec();
    let envb = std::fs::read(base.with_extension("env")).unwrap_or_default();
    let env_map = envb
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let read = |ext: &str| {
        std::fs::read_to_string(base.with_extension(ext))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    Some(Rec {
        argv,
        env: env_map,
        stdin: read("stdin"),
        cwd: read("cwd"),
    })
}

/// How many times a fake was started.
fn calls(env: &Env, name: &str) -> usize {
    std::fs::read_to_string(env.home().join("rec").join(name).with_extension("calls"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn pids(env: &Env, name: &str) -> Vec<i32> {
    std::fs::read_to_string(env.home().join("rec").join(name).with_extension("calls"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn attempts(run: &Value) -> Vec<(String, String, Option<String>)> {
    run["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempts in {run}"))
        .iter()
        .map(|a| {
            (
                a["agent"].as_str().unwrap_or("").to_string(),
                a["outcome"].as_str().unwrap_or("").to_string(),
                a["reason"].as_str().map(str::to_string),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Presets: argv, environment, what a run records
// ---------------------------------------------------------------------------------------

#[test]
fn claude_job_forced_records_everything() {
    let prompt = "---\ntitle: hunt\n---\nFind the bugs in the logs.";
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}\n[jobs.hunt]\ntype = \"agent\"\nagent = \"claude\"\nthinking = \"slow\"\nprompt = '''{prompt}'''\nargs = [\"--job-arg\"]\n",
            runner(e, ""),
            agent("claude", "claude", "args = [\"--verbose\"]")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    let o = env.run(&["force", "hunt"]);
    ok(&o);

    let r = rec(&env, "claude").expect("claude was started");
    assert_eq!(
        r.argv,
        [
            "-p",
            "--output-format",
            "json",
            "--dangerously-skip-permissions",
            "--no-session-persistence",
            "--no-chrome",
            "--model",
            "opus",
            "--verbose",
            "--job-arg",
            "--",
            prompt,
        ],
        "claude's argv (the prompt, front matter and all, is one argument)"
    );
    assert_eq!(r.stdin, "/dev/null", "an agent's stdin is /dev/null");
    assert_eq!(
        Path::new(&r.cwd).canonicalize().unwrap(),
        env.home().canonicalize().unwrap(),
        "workdir = config dir"
    );

    let run = env.last_run("hunt");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["agent"], "claude", "{run:#}");
    assert_eq!(run["model"], "opus", "{run:#}");
    assert_eq!(run["scope"], "worker", "{run:#}");
    assert_eq!(run["role"], "admin", "{run:#}");
    assert_eq!(
        run["cost"].as_f64(),
        Some(1.0),
        "unlisted model costs 1.0: {run:#}"
    );
    assert_eq!(run["cost_usd"].as_f64(), Some(0.01), "{run:#}");
    assert_eq!(run["input_tokens"], 5, "{run:#}");
    assert_eq!(run["output_tokens"], 7, "{run:#}");
    assert_eq!(run["num_turns"], 2, "{run:#}");
    assert_eq!(run["forced"], true, "{run:#}");
    assert_eq!(
        attempts(&run),
        [("claude".into(), "succeeded".into(), None)],
        "{run:#}"
    );

    // The environment every job gets, plus the role.
    let id = run["run_id"].as_i64().unwrap();
    assert_eq!(
        r.env.get("JOBCTL_JOB_ROLE").map(String::as_str),
        Some("admin")
    );
    assert_eq!(
        r.env.get("JOBCTL_JOB_NAME").map(String::as_str),
        Some("hunt")
    );
    assert_eq!(r.env.get("JOBCTL_RUN_ID"), Some(&id.to_string()));
    assert!(
        r.env.contains_key("JOBCTL_SCHEDULED_FOR"),
        "{:?}",
        r.env.keys()
    );
    let meta: Value = serde_json::from_str(
        r.env
            .get("JOBCTL_JOB_METADATA")
            .expect("JOBCTL_JOB_METADATA"),
    )
    .unwrap();
    assert_eq!(meta["job"], "hunt", "{meta}");
    assert_eq!(meta["run_id"], id, "{meta}");

    // The answer is kept in the run log.
    let o = env.run(&["logs", &id.to_string()]);
    ok(&o);
    assert!(
        stdout(&o).contains("claude says hi"),
        "the answer is in the log\n{}",
        both(&o)
    );

    // Budget: one unit used, shared by every scope of claude.
    let st = env.status_json();
    assert_eq!(
        scope_row(&st, "claude", "worker")["used"].as_f64(),
        Some(1.0),
        "{st:#}"
    );
    assert_eq!(
        scope_row(&st, "claude", "backend")["used"].as_f64(),
        Some(1.0),
        "{st:#}"
    );
}

#[test]
fn codex_job_via_run_wait_records_tokens_and_puts_the_prompt_last() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}\n[jobs.fix]\ntype = \"agent\"\nagent = \"codex\"\nthinking = \"med\"\nprompt = \"-p looks like a flag\"\nevery = \"1h\"\nargs = [\"--job-arg\"]\n",
            runner(e, ""),
            agent("codex", "codex", "args = [\"--agent-arg\"]")
        )
    });
    fake(&env, "codex", CODEX_OK);
    let o = env.run_at(T, &["run", "--wait"]);
    ok(&o);
    assert!(
        stdout(&o).contains("fix"),
        "run --wait prints a line per run\n{}",
        both(&o)
    );

    let r = rec(&env, "codex").expect("codex was started");
    assert_eq!(
        r.argv,
        [
            "exec",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",
            "--skip-git-repo-check",
            "-c",
            "model_reasoning_effort=high",
            "--agent-arg",
            "--job-arg",
            "--",
            "-p looks like a flag"
        ],
        "codex's argv: the prompt is positional, last, after --"
    );
    assert_eq!(
        r.stdin, "/dev/null",
        "codex reads stdin until EOF: it must be /dev/null"
    );

    let run = env.last_run("fix");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["forced"], false, "{run:#}");
    assert_eq!(run["agent"], "codex", "{run:#}");
    assert!(
        run["model"].is_null(),
        "no model named: codex's own default: {run:#}"
    );
    assert_eq!(run["scope"], "worker", "{run:#}");
    assert_eq!(run["role"], "admin", "{run:#}");
    assert_eq!(run["cost"].as_f64(), Some(1.0), "{run:#}");
    assert!(run["cost_usd"].is_null(), "codex reports no cost: {run:#}");
    assert_eq!(run["input_tokens"], 100, "{run:#}");
    assert_eq!(run["output_tokens"], 20, "{run:#}");
    assert_eq!(run["num_turns"], 1, "{run:#}");
    assert_eq!(attempts(&run), [("codex".into(), "succeeded".into(), None)]);
    let o = env.run(&["logs", "--job", "fix"]);
    assert!(stdout(&o).contains("codex says hi"), "{}", both(&o));
}

#[test]
fn gemini_job_argv_and_usage() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}\n[jobs.g]\ntype = \"agent\"\nagent = \"gemini\"\nprompt = \"summarise\"\n",
            runner(e, ""),
            agent("gemini", "gemini", "")
        )
    });
    fake(&env, "gemini", GEMINI_OK);
    ok(&env.run(&["force", "g"]));
    let r = rec(&env, "gemini").unwrap();
    assert_eq!(
        r.argv,
        [
            "--prompt=summarise",
            "--output-format",
            "json",
            "--yolo",
            "--skip-trust",
        ]
    );
    let run = env.last_run("g");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert!(run["model"].is_null(), "{run:#}");
    assert_eq!(run["input_tokens"], 11, "{run:#}");
    assert_eq!(run["output_tokens"], 3, "{run:#}");
}

#[test]
fn command_preset_substitutes_model_and_prompt_and_reads_the_last_json_line() {
    let (env, _s) = swept_env(|e| {
        let bin = e.home().join("bin/local-agent");
        format!(
            "{}[agents.local]\npreset = \"command\"\ndaily_budget = 10\ncommand = [\"{}\", \"--model\", \"{{model}}\", \"{{prompt}}\"]\n\
             models = {{ fast = \"small\", med = \"small\", slow = \"large\" }}\n\n\
             [jobs.loc]\ntype = \"agent\"\nagent = \"local\"\nthinking = \"slow\"\nprompt = \"a b; rm -rf / $(echo no)\"\n",
            runner(e, ""),
            bin.display()
        )
    });
    fake(
        &env,
        "local-agent",
        "echo 'the local answer'\necho '{\"cost\": 0.5, \"usage\": {\"input_tokens\": 3}}'\n",
    );
    ok(&env.run(&["force", "loc"]));
    let r = rec(&env, "local-agent").unwrap();
    assert_eq!(
        r.argv,
        ["--model", "large", "a b; rm -rf / $(echo no)"],
        "whole-argument substitution, no shell"
    );
    let run = env.last_run("loc");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["agent"], "local");
    assert_eq!(run["model"], "large");
    assert_eq!(
        run["cost_usd"].as_f64(),
        Some(0.5),
        "self-reported cost is cost_usd: {run:#}"
    );
    assert_eq!(
        run["cost"].as_f64(),
        Some(1.0),
        "only rates decide the budget cost: {run:#}"
    );
    assert_eq!(run["input_tokens"], 3, "{run:#}");
    let st = env.status_json();
    assert_eq!(
        scope_row(&st, "local", "worker")["used"].as_f64(),
        Some(1.0),
        "{st:#}"
    );
}

// ---------------------------------------------------------------------------------------
// Fallback by outcome
// ---------------------------------------------------------------------------------------

fn two_agent_env(
    claude_body: &str,
    codex_body: &str,
    job_extra: &str,
    runner_extra: &str,
) -> (Env, Sweep) {
    let (env, s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"claude\", \"codex\"]\n\n\
             [jobs.work]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"do the work\"\n{job_extra}\n",
            runner(e, runner_extra),
            agent("claude", "claude", ""),
            agent("codex", "codex", "")
        )
    });
    if !claude_body.is_empty() {
        fake(&env, "claude", claude_body);
    }
    if !codex_body.is_empty() {
        fake(&env, "codex", codex_body);
    }
    (env, s)
}

#[test]
fn claude_not_logged_in_disables_it_in_every_scope_and_codex_takes_over() {
    let (env, _s) = two_agent_env(CLAUDE_NOT_LOGGED_IN, CODEX_OK, "", "");
    let o = env.run(&["force", "work"]);
    ok(&o);
    let run = env.last_run("work");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["agent"], "codex", "{run:#}");
    assert_eq!(run["cost"].as_f64(), Some(1.0), "{run:#}");
    let a = attempts(&run);
    assert_eq!(a.len(), 2, "{run:#}");
    assert_eq!(
        (a[0].0.as_str(), a[0].1.as_str()),
        ("claude", "auth_failed"),
        "{run:#}"
    );
    let reason = a[0].2.clone().unwrap_or_default();
    assert!(
        reason.starts_with("auth_failed:") && reason.contains("Not logged in"),
        "{reason}"
    );
    assert_eq!(
        (a[1].0.as_str(), a[1].1.as_str()),
        ("codex", "succeeded"),
        "{run:#}"
    );

    let st = env.status_json();
    let why = assert_disabled(&st, "claude", "worker");
    assert!(
        why.starts_with("auth_failed:") && why.contains("Not logged in"),
        "{why}"
    );
    // Logged out is logged out whichever scope calls it.
    assert!(
        assert_disabled(&st, "claude", "backend").starts_with("auth_failed:"),
        "{st:#}"
    );
    assert_enabled(&st, "codex", "worker");
    assert_enabled(&st, "codex", "backend");
    let text = String::from_utf8_lossy(&env.run(&["status"]).stdout).to_string();
    assert!(
        text.contains(
            "claude is logged out: log its CLI in, then `jobctl configure agent claude --enable`"
        ),
        "{text}"
    );
    assert!(!text.contains("codex is logged out"), "{text}");
    assert_eq!(
        scope_row(&st, "claude", "worker")["used"].as_f64(),
        Some(0.0),
        "the reservation is released: {st:#}"
    );
    assert_eq!(
        scope_row(&st, "codex", "worker")["used"].as_f64(),
        Some(1.0),
        "{st:#}"
    );

    // The next run doesn't try claude again for this scope.
    ok(&env.run(&["force", "work"]));
    assert_eq!(calls(&env, "claude"), 1, "a disabled scope is skipped");
    let run = env.last_run("work");
    let a = attempts(&run);
    assert_eq!(
        (a[0].0.as_str(), a[0].1.as_str()),
        ("claude", "unavailable"),
        "{run:#}"
    );
    assert!(
        a[0].2.as_deref().unwrap_or("").starts_with("auth_failed:"),
        "the reason is noted: {run:#}"
    );
}

#[test]
fn a_missing_binary_is_skipped_and_not_stored() {
    let (env, _s) = two_agent_env("", CODEX_OK, "", "");
    let o = env.run(&["force", "work"]);
    ok(&o);
    let run = env.last_run("work");
    assert_eq!(run["agent"], "codex", "{run:#}");
    let a = attempts(&run);
    assert_eq!(a.len(), 2, "{run:#}");
    assert_eq!(a[0].0, "claude");
    assert_ne!(a[0].1, "succeeded");
    assert!(
        a[0].2.as_deref().unwrap_or("").contains("claude"),
        "the reason names the binary: {run:#}"
    );
    let st = env.status_json();
    assert_enabled(&st, "claude", "worker");
    assert_enabled(&st, "claude", "backend");
    assert_eq!(
        scope_row(&st, "claude", "worker")["used"].as_f64(),
        Some(0.0),
        "{st:#}"
    );

    // Installing it fixes it, with no configure step.
    fake(&env, "claude", CLAUDE_OK);
    ok(&env.run(&["force", "work"]));
    assert_eq!(env.last_run("work")["agent"], "claude");
}

#[test]
fn missing_credentials_disable_the_scope_without_starting_the_cli() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"codex\"]\n\n\
             [jobs.work]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"p\"\n\n\
             [jobs.with-token]\ntype = \"agent\"\nagent = \"claude\"\nscope = \"backend\"\nprompt = \"p\"\nenv = {{ X_TOKEN = \"from-the-job\" }}\n",
            runner(e, ""),
            agent("claude", "claude", "auth = { env = [\"X_TOKEN\"] }"),
            agent("codex", "codex", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    fake(&env, "codex", CODEX_OK);
    let o = env
        .cmd(&["force", "work"])
        .env_remove("X_TOKEN")
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(
        calls(&env, "claude"),
        0,
        "claude must not be started without credentials"
    );
    let run = env.last_run("work");
    assert_eq!(run["agent"], "codex", "{run:#}");
    let a = attempts(&run);
    assert_eq!(
        a[0],
        (
            "claude".into(),
            "auth_failed".into(),
            Some("auth_failed: missing credentials (env X_TOKEN)".into())
        ),
        "{run:#}"
    );
    let st = env.status_json();
    assert_eq!(
        assert_disabled(&st, "claude", "worker"),
        "auth_failed: missing credentials (env X_TOKEN)"
    );
    assert_enabled(&st, "claude", "backend");

    // The job's own env counts: the agent would get it.
    let o = env
        .cmd(&["force", "with-token"])
        .env_remove("X_TOKEN")
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(env.last_run("with-token")["agent"], "claude");
    assert_eq!(
        rec(&env, "claude")
            .unwrap()
            .env
            .get("X_TOKEN")
            .map(String::as_str),
        Some("from-the-job")
    );
}

#[test]
fn env_remove_counts_for_the_credential_check() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[jobs.work]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"p\"\n",
            runner(e, "env_remove = [\"X_TOKEN\"]"),
            agent("claude", "claude", "auth = { env = [\"X_TOKEN\"] }"),
            agent("codex", "codex", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    // jobctl has X_TOKEN, but the agent would not get it.
    let o = env
        .cmd(&["force", "work"])
        .env("X_TOKEN", "secret")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "no agent left: skipped\n{}", both(&o));
    assert_eq!(calls(&env, "claude"), 0);
    let run = env.last_run("work");
    assert_eq!(run["status"], "skipped", "{run:#}");
    assert_eq!(
        assert_disabled(&env.status_json(), "claude", "worker"),
        "auth_failed: missing credentials (env X_TOKEN)"
    );
}

#[test]
fn gemini_exit_41_is_an_auth_failure() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"gemini\", \"codex\"]\n\n[jobs.work]\ntype = \"agent\"\nprompt = \"p\"\n",
            runner(e, ""),
            agent("gemini", "gemini", ""),
            agent("codex", "codex", "")
        )
    });
    fake(&env, "gemini", GEMINI_NO_AUTH);
    fake(&env, "codex", CODEX_OK);
    ok(&env.run(&["force", "work"]));
    let run = env.last_run("work");
    assert_eq!(run["agent"], "codex", "{run:#}");
    let a = attempts(&run);
    assert_eq!(
        (a[0].0.as_str(), a[0].1.as_str()),
        ("gemini", "auth_failed"),
        "{run:#}"
    );
    let st = env.status_json();
    let why = assert_disabled(&st, "gemini", "worker");
    assert!(
        why.starts_with("auth_failed:") && why.contains("Auth method"),
        "{why}"
    );
    assert!(assert_disabled(&st, "gemini", "backend").starts_with("auth_failed:"));
}

#[test]
fn provider_quota_disables_the_scope_and_the_next_agent_is_used() {
    // codex first, out of quota; claude answers.
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"codex\", \"claude\"]\n\n[jobs.work]\ntype = \"agent\"\nprompt = \"p\"\n",
            runner(e, ""),
            agent("claude", "claude", ""),
            agent("codex", "codex", "")
        )
    });
    fake(&env, "codex", CODEX_QUOTA);
    fake(&env, "claude", CLAUDE_OK);
    let o = env.run_at(T, &["force", "work"]);
    ok(&o);
    let run = env.last_run("work");
    assert_eq!(run["agent"], "claude", "{run:#}");
    let a = attempts(&run);
    assert_eq!(
        (a[0].0.as_str(), a[0].1.as_str()),
        ("codex", "quota_exhausted"),
        "{run:#}"
    );
    let st = env.run_at(T, &["status", "--json"]);
    let st: Value = serde_json::from_slice(&st.stdout).unwrap();
    let why = assert_disabled(&st, "codex", "worker");
    assert!(
        why.starts_with("quota_exhausted:") && why.contains("insufficient_quota"),
        "{why}"
    );
    assert_enabled(&st, "codex", "backend");
    assert_eq!(
        scope_row(&st, "codex", "worker")["used"].as_f64(),
        Some(0.0),
        "released: {st:#}"
    );
}

#[test]
fn claude_429_is_a_quota_failure() {
    let (env, _s) = two_agent_env(CLAUDE_429, CODEX_OK, "", "");
    ok(&env.run_at(T, &["force", "work"]));
    let run = env.last_run("work");
    assert_eq!(run["agent"], "codex", "{run:#}");
    assert_eq!(attempts(&run)[0].1, "quota_exhausted", "{run:#}");
    let st: Value = serde_json::from_slice(&env.run_at(T, &["status", "--json"]).stdout).unwrap();
    assert!(assert_disabled(&st, "claude", "worker").starts_with("quota_exhausted:"));
}

#[test]
fn claude_refusing_root_fails_the_run_plainly_without_fallback() {
    let (env, _s) = two_agent_env(CLAUDE_ROOT, CODEX_OK, "", "");
    let o = env.run(&["force", "work"]);
    assert_eq!(
        code(&o),
        1,
        "the run failed with the CLI's exit 1\n{}",
        both(&o)
    );
    let run = env.last_run("work");
    assert_eq!(run["status"], "failed", "{run:#}");
    let err = run["error"].as_str().unwrap_or("").to_lowercase();
    assert!(
        err.contains("root"),
        "the error says it is about root: {run:#}"
    );
    assert!(!err.contains("auth_failed"), "{run:#}");
    assert_eq!(calls(&env, "codex"), 0, "no fallback");
    assert_eq!(attempts(&run).len(), 1, "{run:#}");
    let st = env.status_json();
    assert_enabled(&st, "claude", "worker");
    assert_enabled(&st, "claude", "backend");
}

#[test]
fn a_hanging_codex_times_out_without_fallback_and_leaves_nothing_behind() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"codex\", \"claude\"]\n\n[jobs.work]\ntype = \"agent\"\nprompt = \"p\"\ntimeout = \"3s\"\n",
            runner(e, ""),
            agent("claude", "claude", ""),
            agent("codex", "codex", "")
        )
    });
    fake(&env, "codex", CODEX_HANG);
    fake(&env, "claude", CLAUDE_OK);
    let start = Instant::now();
    let o = env.run(&["force", "work"]);
    let took = start.elapsed();
    assert_eq!(code(&o), 124, "{}", both(&o));
    assert!(
        took >= Duration::from_secs(3),
        "only the timeout ends it ({took:?})"
    );
    assert!(
        took < Duration::from_secs(60),
        "the 3s timeout took {took:?}"
    );
    let run = env.last_run("work");
    assert_eq!(run["status"], "timed_out", "{run:#}");
    assert_eq!(run["agent"], "codex", "{run:#}");
    assert_eq!(calls(&env, "claude"), 0, "no fallback after a timeout");
    let st = env.status_json();
    assert_enabled(&st, "codex", "worker");
    let id = run["run_id"].as_i64().unwrap();
    let (live, zombies) = run_processes(&env.state_dir(), id);
    assert!(
        live.is_empty() && zombies.is_empty(),
        "processes left: live {live:?}, zombies {zombies:?}"
    );
    for p in pids(&env, "codex") {
        assert!(!alive(p), "the codex process {p} is still alive");
    }
}

#[test]
fn invalid_json_fails_the_run_and_leaves_the_scope_alone() {
    let (env, _s) = two_agent_env(CLAUDE_GARBAGE, CODEX_OK, "", "");
    let o = env.run(&["force", "work"]);
    assert_ne!(code(&o), 0, "{}", both(&o));
    let run = env.last_run("work");
    assert_eq!(run["status"], "failed", "{run:#}");
    let err = run["error"].as_str().unwrap_or("");
    assert!(
        err.contains("claude") && err.to_lowercase().contains("json"),
        "a clear error: {run:#}"
    );
    assert_eq!(calls(&env, "codex"), 0, "no fallback");
    let st = env.status_json();
    assert_enabled(&st, "claude", "worker");
}

#[test]
fn a_huge_output_doesnt_crash_and_the_log_is_capped() {
    let (env, _s) = two_agent_env(
        CLAUDE_HUGE,
        CODEX_OK,
        "timeout = \"5m\"",
        "log_max_bytes = \"1MiB\"",
    );
    let o = env.run(&["force", "work"]);
    let c = code(&o);
    assert!(
        c == 0 || c == 1,
        "a run result, not a crash\n{}",
        &both(&o)[..both(&o).len().min(4000)]
    );
    let run = env.last_run("work");
    let s = run["status"].as_str().unwrap();
    assert!(s == "failed" || s == "succeeded", "{run:#}");
    if s == "failed" {
        let err = run["error"].as_str().unwrap_or("");
        assert!(
            err.contains("claude") && err.len() < 2000,
            "a clear, short error: {err:.300}"
        );
    }
    assert_eq!(calls(&env, "codex"), 0, "no fallback");
    let log = PathBuf::from(run["log_path"].as_str().expect("log_path"));
    let len = std::fs::metadata(&log).unwrap().len();
    assert!(
        len <= (1 << 20) + (64 << 10),
        "the log is capped at 1MiB: {len} bytes"
    );
    assert_enabled(&env.status_json(), "claude", "worker");
}

#[test]
fn every_candidate_unavailable_skips_the_run_with_every_reason() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}{}[fallback]\norder = [\"claude\", \"codex\", \"gemini\"]\n\n\
             [jobs.work]\ntype = \"agent\"\nprompt = \"p\"\nevery = \"1h\"\n",
            runner(e, ""),
            agent("claude", "claude", ""),
            agent("codex", "codex", ""),
            agent("gemini", "gemini", "auth = { env = [\"X_TOKEN\"] }")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    fake(&env, "gemini", GEMINI_OK);
    // claude: disabled by hand; codex: not installed; gemini: no credentials.
    ok(&env.run(&[
        "configure",
        "agent",
        "claude",
        "--disable",
        "--reason",
        "off",
    ]));
    let o = env
        .cmd(&["run", "--wait"])
        .env("JOBCTL_NOW", T)
        .env_remove("X_TOKEN")
        .output()
        .unwrap();
    assert_eq!(
        code(&o),
        1,
        "a skipped run makes run --wait exit 1\n{}",
        both(&o)
    );
    assert_eq!(calls(&env, "claude") + calls(&env, "gemini"), 0);
    let run = env.last_run("work");
    assert_eq!(run["status"], "skipped", "{run:#}");
    let a = attempts(&run);
    assert_eq!(
        a.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["claude", "codex", "gemini"],
        "{run:#}"
    );
    assert_eq!(a[0].2.as_deref(), Some("manual: off"), "{run:#}");
    assert!(a[1].2.as_deref().unwrap_or("").contains("codex"), "{run:#}");
    assert_eq!(
        a[2].2.as_deref(),
        Some("auth_failed: missing credentials (env X_TOKEN)"),
        "{run:#}"
    );
    let err = run["error"].as_str().unwrap_or("");
    for want in [
        "manual: off",
        "auth_failed: missing credentials (env X_TOKEN)",
        "codex",
    ] {
        assert!(
            err.contains(want),
            "the error lists every reason ({want}): {err}"
        );
    }
    let ev = env
        .store()
        .events(
            Some(jobctl::core::run::EventKind::parse("run_skipped").unwrap()),
            10,
        )
        .unwrap();
    assert_eq!(ev.len(), 1, "one event for the skipped run: {ev:?}");
    // A forced run is skipped the same way: exit 1.
    let o = env
        .cmd(&["force", "work"])
        .env_remove("X_TOKEN")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert_eq!(env.last_run("work")["status"], "skipped");
}

// ---------------------------------------------------------------------------------------
// Role and the daemon
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    Unavailable,
    Garbage,
    Silent,
}

/// A daemon on a real unix socket, answering every health check the same way; returns the
/// requests it read.
fn serve(path: &Path, answer: Answer) -> Arc<Mutex<Vec<String>>> {
    let listener = UnixListener::bind(path).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            if matches!(answer, Answer::Silent) {
                held.push(c);
                continue;
            }
            c.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            seen2
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).into_owned());
            let resp: &[u8] = match answer {
                Answer::Ok => b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}",
                Answer::Unavailable => b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                Answer::Garbage => b"\x00\x01hello, I am not an HTTP server\n",
                Answer::Silent => unreachable!(),
            };
            let _ = c.write_all(resp);
        }
    });
    seen
}

fn role_env(daemon: Option<&Path>) -> (Env, Sweep) {
    swept_env(|e| {
        let d = daemon
            .map(|p| format!("[daemon]\nsocket = \"{}\"\nhealth_path = \"/healthz\"\ntimeout = \"200ms\"\n\n", p.display()))
            .unwrap_or_default();
        format!(
            "{}{d}{}[jobs.build]\ntype = \"agent\"\nagent = \"claude\"\nrole = \"builder\"\nprompt = \"p\"\n\n\
             [jobs.plain]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"p\"\n",
            runner(
                e,
                "default_role = \"reviewer\"\nrole_env = [\"TELECLAUDE_JOB_ROLE\"]"
            ),
            agent("claude", "claude", "")
        )
    })
}

/// Forces `job` and returns (the run's role, the agent's JOBCTL_JOB_ROLE, its TELECLAUDE_JOB_ROLE).
fn role_of(env: &Env, job: &str) -> (String, Option<String>, Option<String>) {
    let o = env.run(&["force", job]);
    ok(&o);
    assert!(
        !stderr(&o).to_lowercase().contains("daemon"),
        "the daemon's absence is silent\n{}",
        both(&o)
    );
    let run = env.last_run(job);
    let r = rec(env, "claude").unwrap();
    (
        run["role"].as_str().unwrap_or("").to_string(),
        r.env.get("JOBCTL_JOB_ROLE").cloned(),
        r.env.get("TELECLAUDE_JOB_ROLE").cloned(),
    )
}

#[test]
fn without_a_daemon_the_role_is_admin() {
    let (env, _s) = role_env(None);
    fake(&env, "claude", CLAUDE_OK);
    let admin = (
        "admin".to_string(),
        Some("admin".to_string()),
        Some("admin".to_string()),
    );
    assert_eq!(role_of(&env, "build"), admin);
    assert_eq!(role_of(&env, "plain"), admin);
    let st = env.status_json();
    assert_eq!(st["daemon"]["configured"], false, "{st:#}");
    assert_eq!(st["daemon"]["present"], false, "{st:#}");
    assert_eq!(st["role"], "admin", "{st:#}");
    let o = env.run(&["status"]);
    ok(&o);
    assert!(
        stdout(&o).contains("daemon"),
        "status says what the daemon is\n{}",
        both(&o)
    );
}

#[test]
fn with_a_healthy_daemon_the_job_gets_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("api.sock");
    let seen = serve(&sock, Answer::Ok);
    let (env, _s) = role_env(Some(&sock));
    fake(&env, "claude", CLAUDE_OK);
    let b = |s: &str| (s.to_string(), Some(s.to_string()), Some(s.to_string()));
    assert_eq!(
        role_of(&env, "build"),
        b("builder"),
        "the job's role, also under role_env"
    );
    assert_eq!(
        role_of(&env, "plain"),
        b("reviewer"),
        "runner.default_role for a job without role"
    );
    let req = seen.lock().unwrap().first().cloned().unwrap_or_default();
    assert!(
        req.starts_with("GET /healthz HTTP/1.1\r\n"),
        "an HTTP/1.1 GET of health_path: {req:?}"
    );
    let st = env.status_json();
    assert_eq!(st["daemon"]["configured"], true, "{st:#}");
    assert_eq!(st["daemon"]["present"], true, "{st:#}");
    assert_eq!(st["daemon"]["socket"], sock.display().to_string(), "{st:#}");
    assert_eq!(st["role"], "reviewer", "{st:#}");
    let o = env.run(&["status"]);
    assert!(stdout(&o).contains("present"), "{}", both(&o));
}

#[test]
fn an_absent_daemon_in_any_form_means_admin_silently() {
    for case in [
        "no socket",
        "regular file",
        "503",
        "garbage",
        "never answers",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("api.sock");
        match case {
            "no socket" => {}
            "regular file" => std::fs::write(&sock, "not a socket").unwrap(),
            "503" => drop(serve(&sock, Answer::Unavailable)),
            "garbage" => drop(serve(&sock, Answer::Garbage)),
            _ => drop(serve(&sock, Answer::Silent)),
        }
        let (env, _s) = role_env(Some(&sock));
        fake(&env, "claude", CLAUDE_OK);
        let start = Instant::now();
        let admin = (
            "admin".to_string(),
            Some("admin".to_string()),
            Some("admin".to_string()),
        );
        assert_eq!(role_of(&env, "build"), admin, "{case}");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{case}: took {:?}",
            start.elapsed()
        );
        let st = env.status_json();
        assert_eq!(st["daemon"]["configured"], true, "{case}: {st:#}");
        assert_eq!(st["daemon"]["present"], false, "{case}: {st:#}");
        assert_eq!(st["role"], "admin", "{case}: {st:#}");
        let run = env.last_run("build");
        assert_eq!(run["status"], "succeeded", "{case}: {run:#}");
    }
}

// ---------------------------------------------------------------------------------------
// ask
// ---------------------------------------------------------------------------------------

fn ask_env() -> (Env, Sweep) {
    swept_env(|e| {
        format!(
            "{}{}{}{}[fallback]\norder = [\"claude\", \"codex\"]\n",
            runner(e, ""),
            agent("claude", "claude", ""),
            agent("codex", "codex", ""),
            agent("gemini", "gemini", "")
        )
    })
}

#[test]
fn ask_prints_the_answer_and_is_recorded() {
    let (env, _s) = ask_env();
    fake(&env, "claude", CLAUDE_OK);
    let o = env.run(&["ask", "what is up?"]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), "claude says hi", "{}", both(&o));
    let r = rec(&env, "claude").unwrap();
    assert_eq!(
        r.argv,
        [
            "-p",
            "--output-format",
            "json",
            "--no-session-persistence",
            "--no-chrome",
            "--model",
            "haiku",
            "--tools",
            "",
            "--",
            "what is up?"
        ],
        "ask: no tools, no --dangerously-skip-permissions"
    );
    assert_eq!(r.stdin, "/dev/null");

    let o = env.run(&["ask", "--json", "again"]);
    ok(&o);
    let j: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", both(&o)));
    assert_eq!(j["agent"], "claude", "{j:#}");
    assert_eq!(j["model"], "haiku", "{j:#}");
    assert_eq!(j["scope"], "backend", "{j:#}");
    assert_eq!(j["cost"].as_f64(), Some(1.0), "{j:#}");
    assert_eq!(j["result"], "claude says hi", "{j:#}");
    assert_eq!(j["usage"]["input_tokens"], 5, "{j:#}");
    assert_eq!(j["usage"]["output_tokens"], 7, "{j:#}");
    assert_eq!(j["usage"]["cost_usd"].as_f64(), Some(0.01), "{j:#}");
    assert_eq!(j["usage"]["num_turns"], 2, "{j:#}");

    let h = env.history_json(&["ask"]);
    assert_eq!(h.len(), 2, "every ask is recorded: {h:#?}");
    for run in &h {
        assert_eq!(run["job"], "ask", "{run:#}");
        assert_eq!(run["scope"], "backend", "{run:#}");
        assert_eq!(run["agent"], "claude", "{run:#}");
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(run["cost"].as_f64(), Some(1.0), "{run:#}");
    }
    let st = env.status_json();
    assert_eq!(
        scope_row(&st, "claude", "backend")["used"].as_f64(),
        Some(2.0),
        "{st:#}"
    );

    // Another scope, recorded as such.
    ok(&env.run(&["ask", "--scope", "worker", "q"]));
    assert_eq!(env.history_json(&["ask", "-n", "1"])[0]["scope"], "worker");
}

#[test]
fn ask_argv_of_codex_and_gemini_has_no_tools() {
    let (env, _s) = ask_env();
    fake(&env, "codex", CODEX_OK);
    fake(&env, "gemini", GEMINI_OK);
    let o = env.run(&["ask", "--agent", "codex", "--thinking", "slow", "--", "-x"]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), "codex says hi");
    assert_eq!(
        rec(&env, "codex").unwrap().argv,
        [
            "exec",
            "--json",
            "--sandbox",
            "read-only",
            "--skip-git-repo-check",
            "-c",
            "model_reasoning_effort=xhigh",
            "--",
            "-x"
        ]
    );
    let o = env.run(&["ask", "--agent", "gemini", "q"]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), "gemini says hi");
    assert_eq!(
        rec(&env, "gemini").unwrap().argv,
        [
            "--prompt=q",
            "--output-format",
            "json",
            "--approval-mode",
            "plan",
            "--skip-trust"
        ]
    );
}

#[test]
fn ask_with_no_agent_available_exits_69_with_every_reason() {
    let (env, _s) = ask_env();
    // claude not installed, codex disabled by hand.
    ok(&env.run(&[
        "configure",
        "agent",
        "codex",
        "--scope",
        "backend",
        "--disable",
        "--reason",
        "holiday",
    ]));
    let o = env.run(&["ask", "q"]);
    assert_eq!(code(&o), 69, "{}", both(&o));
    let err = stderr(&o);
    assert!(
        err.contains("claude") && err.contains("codex") && err.contains("manual: holiday"),
        "each reason is printed\n{}",
        both(&o)
    );
    let run = &env.history_json(&["ask"])[0];
    assert_eq!(run["status"], "skipped", "{run:#}");
    assert_eq!(run["scope"], "backend", "{run:#}");
    assert_eq!(attempts(run).len(), 2, "{run:#}");
}

#[test]
fn ask_exit_codes_for_a_failed_and_a_timed_out_agent() {
    let (env, _s) = ask_env();
    fake(&env, "claude", CLAUDE_GARBAGE);
    let o = env.run(&["ask", "q"]);
    assert_eq!(code(&o), 1, "the agent failed\n{}", both(&o));
    assert!(stderr(&o).contains("claude"), "{}", both(&o));
    fake(&env, "codex", CODEX_HANG);
    let start = Instant::now();
    let o = env.run(&["ask", "--agent", "codex", "--timeout", "2s", "q"]);
    assert_eq!(code(&o), 124, "{}", both(&o));
    assert!(start.elapsed() < Duration::from_secs(60));
    let run = &env.history_json(&["ask", "-n", "1"])[0];
    assert_eq!(run["status"], "timed_out", "{run:#}");
    let id = run["run_id"].as_i64().unwrap();
    let (live, zombies) = run_processes(&env.state_dir(), id);
    assert!(
        live.is_empty() && zombies.is_empty(),
        "processes left: {live:?} {zombies:?}"
    );
    for p in pids(&env, "codex") {
        assert!(!alive(p), "codex {p} still alive");
    }
}

// ---------------------------------------------------------------------------------------
// configure agent
// ---------------------------------------------------------------------------------------

#[test]
fn configure_agent_disable_and_enable_by_scope() {
    let (env, _s) = ask_env();
    let o = env.run(&["configure", "agent", "claude", "--disable", "--reason", "x"]);
    ok(&o);
    assert!(
        stdout(&o).contains("manual: x"),
        "prints the resulting state\n{}",
        both(&o)
    );
    let st = env.status_json();
    assert_eq!(assert_disabled(&st, "claude", "worker"), "manual: x");
    assert_eq!(assert_disabled(&st, "claude", "backend"), "manual: x");
    assert_enabled(&st, "codex", "worker");

    let o = env.run(&[
        "configure",
        "agent",
        "claude",
        "--scope",
        "worker",
        "--enable",
    ]);
    ok(&o);
    let st = env.status_json();
    assert_enabled(&st, "claude", "worker");
    assert_eq!(assert_disabled(&st, "claude", "backend"), "manual: x");

    // The human status table shows it.
    let o = env.run(&["status"]);
    ok(&o);
    let line = stdout(&o)
        .lines()
        .find(|l| l.contains("claude") && l.contains("backend"))
        .map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("no claude backend row\n{}", both(&o)));
    assert!(
        line.contains("disabled") && line.contains("manual: x"),
        "{line}"
    );

    // A manual disable is a plain reason: an unknown scope is refused.
    let o = env.run(&[
        "configure",
        "agent",
        "claude",
        "--scope",
        "nope",
        "--enable",
    ]);
    assert_ne!(code(&o), 0, "{}", both(&o));
}

// ---------------------------------------------------------------------------------------
// More edges
// ---------------------------------------------------------------------------------------

#[test]
fn status_shows_the_agent_of_a_running_run() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}[jobs.work]\ntype = \"agent\"\nagent = \"codex\"\nprompt = \"p\"\ntimeout = \"2m\"\n",
            runner(e, ""),
            agent("codex", "codex", "")
        )
    });
    fake(&env, "codex", CODEX_HANG);
    let mut child = env
        .cmd(&["force", "work"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the agent itself runs (it has recorded its start).
    wait_for("codex to start", Duration::from_secs(60), || {
        (calls(&env, "codex") > 0).then_some(())
    });
    let st = wait_for("the run in status", Duration::from_secs(60), || {
        let st = env.status_json();
        (st["running"].as_array().is_some_and(|r| r.len() == 1)).then_some(st)
    });
    let r = &st["running"][0];
    assert_eq!(r["job"], "work", "{st:#}");
    assert!(r["pid"].as_i64().is_some(), "{st:#}");
    let human = env.run(&["status"]);
    let o = env.run(&["cancel", "--job", "work"]);
    ok(&o);
    wait_for("force to end", Duration::from_secs(60), || {
        child.try_wait().unwrap()
    });
    assert_eq!(env.last_run("work")["status"], "cancelled");
    // The AGENT column of a running agent run names the agent being called.
    assert_eq!(
        r["agent"], "codex",
        "status --json running[].agent of a running agent run: {st:#}"
    );
    assert!(
        stdout(&human)
            .lines()
            .any(|l| l.contains("work") && l.contains("codex")),
        "the RUN JOB STARTED PID AGENT table names codex\n{}",
        both(&human)
    );
}

#[test]
fn a_prompt_over_100_kib_is_a_config_error() {
    let big = "x".repeat(101 * 1024);
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}[jobs.big]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"{big}\"\n",
            runner(e, ""),
            agent("claude", "claude", "")
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    let o = env.run(&["check"]);
    assert_eq!(code(&o), 78, "{}", &both(&o)[..both(&o).len().min(3000)]);
    let o = env.run(&["force", "big"]);
    assert_eq!(code(&o), 78, "{}", &both(&o)[..both(&o).len().min(3000)]);
    assert_eq!(calls(&env, "claude"), 0);
}

#[test]
fn auth_lists_env_and_files_and_any_one_present_is_enough() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}[jobs.work]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"p\"\n",
            runner(e, ""),
            agent(
                "claude",
                "claude",
                "auth = { env = [\"X_TOKEN\"], files = [\"creds/claude.json\"] }"
            )
        )
    });
    fake(&env, "claude", CLAUDE_OK);
    let o = env
        .cmd(&["force", "work"])
        .env_remove("X_TOKEN")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", both(&o));
    let run = env.last_run("work");
    assert_eq!(run["status"], "skipped", "{run:#}");
    assert_eq!(
        assert_disabled(&env.status_json(), "claude", "worker"),
        "auth_failed: missing credentials (env X_TOKEN, file creds/claude.json)"
    );
    // The file appears (relative to the config's directory), the scope is enabled by hand.
    env.write("creds/claude.json", "{}");
    ok(&env.run(&["configure", "agent", "claude", "--enable"]));
    let o = env
        .cmd(&["force", "work"])
        .env_remove("X_TOKEN")
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(env.last_run("work")["agent"], "claude");
    // An empty variable is no credential.
    std::fs::remove_file(env.home().join("creds/claude.json")).unwrap();
    let o = env
        .cmd(&["force", "work"])
        .env("X_TOKEN", "")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", both(&o));
}

#[test]
fn ask_reads_the_prompt_from_stdin_and_the_agent_still_gets_dev_null() {
    let (env, _s) = ask_env();
    fake(&env, "claude", CLAUDE_OK);
    let mut child = env
        .cmd(&["ask", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"--- a prompt\nfrom stdin\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    ok(&o);
    assert_eq!(stdout(&o).trim(), "claude says hi");
    let r = rec(&env, "claude").unwrap();
    assert_eq!(
        r.argv[r.argv.len() - 2..],
        ["--", "--- a prompt\nfrom stdin\n"],
        "{:?}",
        r.argv
    );
    assert_eq!(r.stdin, "/dev/null");
}

#[test]
fn codex_turn_failed_401_is_an_auth_failure() {
    let (env, _s) = swept_env(|e| {
        format!(
            "{}{}{}[fallback]\norder = [\"codex\", \"claude\"]\n\n[jobs.work]\ntype = \"agent\"\nprompt = \"p\"\n",
            runner(e, ""),
            agent("claude", "claude", ""),
            agent("codex", "codex", "")
        )
    });
    fake(
        &env,
        "codex",
        "echo '{\"type\":\"thread.started\",\"thread_id\":\"t\"}'\n\
         echo '{\"type\":\"turn.failed\",\"error\":{\"message\":\"unexpected status 401 Unauthorized: invalid api key\"}}'\nexit 1\n",
    );
    fake(&env, "claude", CLAUDE_OK);
    ok(&env.run(&["force", "work"]));
    let run = env.last_run("work");
    assert_eq!(run["agent"], "claude", "{run:#}");
    assert_eq!(attempts(&run)[0].1, "auth_failed", "{run:#}");
    assert!(assert_disabled(&env.status_json(), "codex", "worker").starts_with("auth_failed:"));
}
