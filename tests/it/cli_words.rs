//! What the commands say, read as a person reads it: a forced agent job's answer (not
//! its CLI's JSON) with each fallback said on stderr as it happens; reasons said once;
//! counts in the singular for one; no model for a command agent; a Ctrl-C called so; a
//! new setup not called late; events without raw JSON.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

const CLAUDE_NOT_LOGGED_IN: &str = r#"cat <<'EOF'
{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login","total_cost_usd":0,"num_turns":1}
EOF
exit 1
"#;

const CODEX_OK: &str = r#"cat <<'EOF'
{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"codex says hi"}}
{"type":"turn.completed","usage":{"input_tokens":100,"output_tokens":20}}
EOF
"#;

fn agents_env() -> (Env, Sweep) {
    let (env, s) = swept_env(|e| {
        format!(
            "{}[agents.claude]\npreset = \"claude\"\ndaily_budget = 100\n\n\
             [agents.codex]\npreset = \"codex\"\ndaily_budget = 100\n\n\
             [agents.local]\npreset = \"command\"\ncommand = [\"sh\", \"-c\", \"echo done: $1\", \"sh\", \"{{prompt}}\"]\ndaily_budget = 100\n\n\
             [fallback]\norder = [\"claude\", \"codex\"]\n\n\
             [jobs.work]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"do the work\"\n\n\
             [jobs.local]\ntype = \"agent\"\nagent = \"local\"\nprompt = \"sum up\"\nthinking = \"med\"\n\n\
             [jobs.slow]\ntype = \"script\"\ncommand = \"sleep 30\"\n",
            runner(e, "")
        )
    });
    env.script("bin/claude", &format!("#!/bin/sh\n{CLAUDE_NOT_LOGGED_IN}"));
    env.script("bin/codex", &format!("#!/bin/sh\n{CODEX_OK}"));
    (env, s)
}

#[test]
fn force_of_an_agent_job_prints_the_answer_and_says_the_fallback_on_stderr() {
    let (env, _s) = agents_env();
    let o = env.run(&["force", "work"]);
    ok(&o);
    assert_eq!(
        stdout(&o),
        "codex says hi\n",
        "the answer, not JSON\n{}",
        both(&o)
    );
    assert!(
        stderr(&o).contains("claude: auth_failed: Not logged in · Please run /login; trying codex"),
        "{}",
        both(&o)
    );
    // With --json the record is stdout's; the answer and the note go to stderr.
    let o = env.run(&["--json", "force", "work"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["agent"], "codex");
    assert!(stderr(&o).contains("codex says hi"), "{}", both(&o));
    assert!(stderr(&o).contains("; trying codex"), "{}", both(&o));
    // A command agent's output is its answer, shown as it comes.
    let o = env.run(&["force", "local"]);
    ok(&o);
    assert_eq!(stdout(&o), "done: sum up\n", "{}", both(&o));
}

#[test]
fn show_says_a_reason_once_and_no_model_for_a_command_agent() {
    let (env, _s) = agents_env();
    ok(&env.run(&["force", "work"]));
    ok(&env.run(&["force", "local"]));
    let work = stdout(&env.run(&["show", "--job", "work"]));
    assert!(
        work.contains("claude auth_failed: Not logged in")
            && !work.contains("auth_failed: auth_failed"),
        "{work}"
    );
    let local = stdout(&env.run(&["show", "--job", "local"]));
    assert!(local.contains("agent      local (scope worker"), "{local}");
    assert!(
        !local.contains("model"),
        "a command agent has no model: {local}"
    );
    assert!(env.last_run("local")["model"].is_null());
    // Counts: one agent is "1 agent".
    let editor = env.script("bin/add-comment", "#!/bin/sh\necho '# edited' >> \"$1\"\n");
    let o = env
        .cmd(&["edit"])
        .env("EDITOR", &editor)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    ok(&o);
    assert!(
        stdout(&o).starts_with("ok: 3 jobs, 3 agents"),
        "{}",
        both(&o)
    );
    env.config(&format!(
        "{}[agents.local]\npreset = \"command\"\ncommand = [\"echo\", \"{{prompt}}\"]\ndaily_budget = 1\n\n[jobs.one]\ntype = \"script\"\ncommand = \"true\"\n",
        runner(&env, "")
    ));
    let o = env
        .cmd(&["edit"])
        .env("EDITOR", &editor)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    ok(&o);
    assert!(
        stdout(&o).starts_with("ok: 1 job, 1 agent ("),
        "{}",
        both(&o)
    );
}

#[test]
fn a_ctrl_c_at_the_terminal_is_recorded_as_such() {
    let (env, _s) = agents_env();
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &format!("{BIN} force slow"), "/dev/null"])
        .current_dir(env.home())
        .env("JOBCTL_HOME", env.home())
        .env_remove("JOBCTL_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("script(1) runs");
    wait_for("the run to start", Duration::from_secs(20), || {
        env.history_json(&[])
            .first()
            .filter(|r| r["status"] == "running")
            .map(|_| ())
    });
    // Ctrl-C typed at the terminal: the line discipline signals the foreground group.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let run = wait_for("the run to end", Duration::from_secs(20), || {
        Some(env.last_run("slow")).filter(|r| r["status"] != "running")
    });
    drop(stdin);
    let _ = child.wait_with_output().unwrap();
    assert_eq!(run["status"], "cancelled", "{run:#}");
    let error = run["error"].as_str().unwrap_or("");
    assert!(error.starts_with("interrupted (Ctrl-C)"), "{run:#}");
    assert!(!error.contains("a shutdown or a signal"), "{run:#}");
}

#[test]
fn status_on_a_new_setup_does_not_call_the_timer_late() {
    let (env, _s) = agents_env();
    let o = env.run(&["status"]);
    ok(&o);
    let out = stdout(&o);
    assert!(out.starts_with("last tick: never (set up "), "{out}");
    assert!(
        !out.contains("warning") && !out.contains("none for over"),
        "{out}"
    );
    // An hour on, still no tick: that is worth a warning.
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let out = stdout(&env.run_at(&later, &["status"]));
    assert!(
        out.contains("warning: no tick has run since jobctl was set up here 1h ago"),
        "{out}"
    );
}

#[test]
fn events_read_as_text_and_json_only_with_json() {
    let (env, _s) = agents_env();
    ok(&env.run(&[
        "configure",
        "agent",
        "codex",
        "--disable",
        "--reason",
        "token expired",
    ]));
    let text = stdout(&env.run(&["events"]));
    let line = text
        .lines()
        .find(|l| l.contains("scope_disabled"))
        .unwrap_or("");
    assert!(line.contains("reason: manual: token expired"), "{text}");
    assert!(
        !text.contains('{') && !text.contains('"'),
        "no raw JSON: {text}"
    );
    let o = env.run(&["--json", "events"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().is_some_and(|a| !a.is_empty()));
}
