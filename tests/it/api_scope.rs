//! The server held against its own clients (api.md, "Holding up"): a token limited to
//! some jobs reads nothing of other jobs anywhere (every GET of the OpenAPI document, the
//! cursors of `/runs`, `/metrics`, the live event stream); control characters in what
//! reaches a process are refused before anything starts, over the API and on the command
//! line; and a read that finds a lost run answers at once, its hooks run afterwards, once.

use crate::support::*;

use crate::support::server::{Server, SseStream, token};

use std::time::{Duration, Instant};

use jobctl::core::run::RunStatus;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

fn post_run(s: &Server, tok: &str, path: &str, body: Option<&str>) -> i64 {
    let r = s.post(path, Some(tok), body);
    assert_eq!(r.status, 202, "{path}: {}", r.body);
    r.json()["run_id"].as_i64().unwrap()
}

/// Keys whose numbers are ids of runs.
const RUN_ID_KEYS: &[&str] = &[
    "run_id",
    "next",
    "parent_run_id",
    "retry_of",
    "running_run_id",
    "queued_run_id",
    "last_run_id",
];

fn run_ids_in(v: &Value, out: &mut Vec<(String, i64)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if let (true, Some(n)) = (RUN_ID_KEYS.contains(&k.as_str()), v.as_i64()) {
                    out.push((k.clone(), n));
                }
                run_ids_in(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| run_ids_in(v, out)),
        _ => {}
    }
}

/// `body` (JSON or text) names no `bravo` job or agent, says none of their reasons, and
/// carries no id of a hidden run.
#[track_caller]
fn assert_nothing_hidden(what: &str, body: &str, hidden: &[i64]) {
    assert!(
        !body.contains("bravo"),
        "{what} shows something of another job:\n{body}"
    );
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let mut ids = Vec::new();
        run_ids_in(&v, &mut ids);
        for (k, id) in ids {
            assert!(
                !hidden.contains(&id),
                "{what} names the hidden run {id} ({k}):\n{body}"
            );
        }
    }
}

#[test]
fn a_token_limited_to_some_jobs_reads_nothing_of_other_jobs_anywhere() {
    let env = Env::new();
    let _sweep = Sweep::new(&env);
    let agent = |name: &str, budget: u32| {
        format!(
            "[agents.{name}]\npreset = \"command\"\ncommand = [\"true\", \"{{prompt}}\"]\ndaily_budget = {budget}\n"
        )
    };
    let script =
        |name: &str, cmd: &str| format!("[jobs.{name}]\ntype = \"script\"\ncommand = \"{cmd}\"\n");
    env.config(
        &[
            runner(&env, "max_running = 2"),
            agent("agent-alpha", 5),
            agent("agent-bravo", 7),
            script("alpha-report", "echo report"),
            script("bravo-fail", "echo failing; exit 3"),
            script("bravo-long", "sleep 300"),
            script("bravo-hold", "sleep 300"),
            script("bravo-wait", "true"),
            "[jobs.alpha-agent]\ntype = \"agent\"\nagent = \"agent-alpha\"\nprompt = \"a\"\n"
                .into(),
            "[jobs.bravo-agent]\ntype = \"agent\"\nagent = \"agent-bravo\"\nprompt = \"b\"\n"
                .into(),
        ]
        .concat(),
    );
    let write = token(&env, &["--scope", "write", "--sub", "ops"]);
    let alpha = token(
        &env,
        &[
            "--scope",
            "read",
            "--jobs",
            "alpha-*",
            "--sub",
            "team-alpha",
        ],
    );
    let s = Server::start(&env);

    // What the alpha token may see: a run of its own. Then the bravo jobs' runs in every
    // state: failed, running, paused, queued (max_running = 2 is taken).
    let mine = post_run(&s, &write, "/api/v1/jobs/alpha-report/run", None);
    wait_status(&s.api(&write), mine, RunStatus::Succeeded, LIMIT);
    let failed = post_run(&s, &write, "/api/v1/jobs/bravo-fail/run", None);
    wait_status(&s.api(&write), failed, RunStatus::Failed, LIMIT);
    let long = post_run(&s, &write, "/api/v1/jobs/bravo-long/run", None);
    let held = post_run(&s, &write, "/api/v1/jobs/bravo-hold/run", None);
    wait_status(&s.api(&write), held, RunStatus::Running, LIMIT);
    let p = s.post(&format!("/api/v1/runs/{held}/pause"), Some(&write), None);
    assert_eq!(p.status, 200, "{}", p.body);
    wait_status(&s.api(&write), held, RunStatus::Paused, LIMIT);
    let queued = post_run(&s, &write, "/api/v1/runs", Some(r#"{"job": "bravo-wait"}"#));
    wait_status(&s.api(&write), queued, RunStatus::Queued, LIMIT);
    let hidden = [failed, long, held, queued];
    // Scope events with reasons, of both agents, and a budget reset naming scopes.
    for (agent, reason) in [
        ("agent-bravo", "bravo secret reason"),
        ("agent-alpha", "alpha maintenance"),
    ] {
        let r = s.post(
            &format!("/api/v1/agents/{agent}/disable"),
            Some(&write),
            Some(&format!(r#"{{"reason": "{reason}"}}"#)),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    ok(&env.run(&["reset", "budgets"]));

    // The unlimited token sees all of it: the walk below is not vacuous.
    let all = s.get("/api/v1/status", Some(&write)).body;
    for id in hidden {
        assert!(all.contains(&format!("\"run_id\":{id}")), "{id}: {all}");
    }
    assert!(s.get("/metrics", Some(&write)).body.contains("agent-bravo"));

    // Every GET of the OpenAPI document, with each of its jobs and runs.
    let doc = s.get("/api/v1/openapi.json", Some(&alpha)).json();
    let mut paths = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() || path.ends_with("/events/stream") {
            continue; // the stream is read below
        }
        if path.contains("{name}") {
            for job in ["alpha-report", "alpha-agent"] {
                paths.push(path.replace("{name}", job));
            }
        } else if path.contains("{id}") {
            paths.push(path.replace("{id}", &mine.to_string()));
        } else {
            paths.push(path.clone());
        }
    }
    assert!(paths.len() >= 10, "{paths:?}");
    paths.extend([
        "/api/v1/runs?limit=1".to_string(),
        "/api/v1/runs?status=queued".to_string(),
        "/api/v1/runs?status=failed".to_string(),
        "/api/v1/runs?status=paused".to_string(),
        "/api/v1/runs?job=alpha-report".to_string(),
        format!("/api/v1/runs?before={queued}&limit=2"),
        format!("/api/v1/runs?parent={long}"),
        format!("/api/v1/runs/{mine}/log?tail=100"),
        format!("/api/v1/runs/{mine}/events?after=0"),
    ]);
    for path in &paths {
        let r = s.get(path, Some(&alpha));
        assert!(r.status < 500, "{path}: {} {}", r.status, r.body);
        assert_nothing_hidden(path, &r.body, &hidden);
    }

    // What it does see, it sees.
    let status = s.get("/api/v1/status", Some(&alpha)).json();
    assert_eq!(status["queued"], serde_json::json!([]), "{status:#}");
    assert_eq!(status["running"], serde_json::json!([]), "{status:#}");
    assert_eq!(status["last_failure"], Value::Null, "{status:#}");
    let agents = s.get("/api/v1/agents", Some(&alpha)).json();
    assert!(
        agents
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["agent"] == "agent-alpha"),
        "{agents:#}"
    );
    let metrics = s.get("/metrics", Some(&alpha)).body;
    assert!(
        metrics.contains("jobctl_budget_limit{agent=\"agent-alpha\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("jobctl_runs_now{status=\"queued\"} 0"),
        "{metrics}"
    );
    // Page by page with limit=1: each page holds its one run, each cursor is its own.
    let mut seen = Vec::new();
    let mut before = String::new();
    loop {
        let page = s
            .get(&format!("/api/v1/runs?limit=1{before}"), Some(&alpha))
            .json();
        assert_nothing_hidden("a page of runs", &page.to_string(), &hidden);
        seen.extend(
            page["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["run_id"].as_i64().unwrap()),
        );
        match page["next"].as_i64() {
            Some(n) => before = format!("&before={n}"),
            None => break,
        }
        assert!(seen.len() < 10, "{seen:?}");
    }
    assert_eq!(seen, [mine], "the one run it may see, on the first page");

    // The live event stream: the whole log replayed, then live events of both kinds,
    // until a run of its own ends.
    let mut stream = SseStream::open(
        &s.base,
        "/api/v1/events/stream?after=0",
        &alpha,
        None,
        LIMIT,
    );
    let r = s.post("/api/v1/agents/agent-bravo/enable", Some(&write), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let cancel = s.post(&format!("/api/v1/runs/{long}/cancel"), Some(&write), None);
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    let marker = post_run(&s, &write, "/api/v1/jobs/alpha-report/run", None);
    let mut kinds = Vec::new();
    loop {
        let ev = stream.next_event().expect("the stream goes on");
        assert_nothing_hidden(
            &format!("event {}", ev.event),
            &ev.data.to_string(),
            &hidden,
        );
        kinds.push(ev.event.clone());
        if ev.event == "run.ended" && ev.data["run_id"] == marker {
            break;
        }
    }
    assert!(
        kinds.iter().any(|k| k == "scope.disabled"),
        "its own agent's scope events come: {kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "budget.reset"), "{kinds:?}");
}

#[test]
fn control_characters_in_what_reaches_a_process_are_400_and_start_nothing() {
    let env = Env::new();
    let _sweep = Sweep::new(&env);
    let prompt_file = env.home().join("prompt.txt");
    env.config(&format!(
        "{}[agents.stub]\npreset = \"command\"\ndaily_budget = 10\n\
         command = [\"/bin/sh\", \"-c\", \"printf %s \\\"$0\\\" > {}\", \"{{prompt}}\"]\n\
         [jobs.echo]\ntype = \"script\"\ncommand = \"echo \\\"$GREETING\\\"\"\n\
         [jobs.agent]\ntype = \"agent\"\nagent = \"stub\"\nprompt = \"default\"\n",
        runner(&env, ""),
        prompt_file.display()
    ));
    let write = token(&env, &["--scope", "write", "--sub", "ops"]);
    let s = Server::start(&env);

    let bodies = [
        r#"{"job": "echo", "env": {"GREETING": "a\u0000b"}}"#,
        r#"{"job": "echo", "env": {"GREETING": "\u001b[31mred"}}"#,
        r#"{"job": "echo", "env": {"GREETING": "bell\u0007"}}"#,
        r#"{"job": "echo", "env": {"GREE\u0000TING": "x"}}"#,
        r#"{"job": "echo", "env": {"MY-VAR": "x"}}"#,
        r#"{"job": "echo", "env": {"1ST": "x"}}"#,
        r#"{"job": "ec\u0000ho"}"#,
        r#"{"job": "echo\n"}"#,
        r#"{"job": "agent", "prompt": "a\u0000b"}"#,
        r#"{"job": "agent", "prompt": "look \u001b]0;title\u0007 here"}"#,
        r#"{"job": "echo", "metadata": {"tick\u0000et": "x"}}"#,
        r#"{"job": "echo", "metadata": {"nested": {"k\u0001": 1}}}"#,
    ];
    for body in bodies {
        let r = s.post("/api/v1/runs", Some(&write), Some(body));
        assert_eq!(
            (r.status, r.error_code()),
            (400, "BAD_REQUEST".to_string()),
            "{body}: {}",
            r.body
        );
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(!message.contains('\0'), "{message:?}");
    }
    for path in ["/api/v1/jobs/ec%00ho/run", "/api/v1/jobs/ec%01ho/pause"] {
        let r = s.post(path, Some(&write), None);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
    }
    let r = s.get("/api/v1/jobs/ec%1bho", Some(&write));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = s.get("/api/v1/runs?job=ec%00ho", Some(&write));
    assert_eq!(r.status, 400, "{}", r.body);

    // On the command line: one line, exit 2 (a wrong command line), nothing started.
    for args in [
        vec!["submit", "echo", "--env", "GREETING=a\u{1}b"],
        vec!["submit", "echo", "--env", "GREETING=\u{1b}[2J"],
        vec!["submit", "echo", "--env", "MY-VAR=x"],
        vec!["submit", "agent", "--prompt", "look \u{1b}[31mhere"],
        vec!["submit", "ec\u{1}ho"],
    ] {
        let o = env.run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", both(&o));
        assert_eq!(
            stderr(&o).trim().lines().count(),
            1,
            "{args:?}: {}",
            both(&o)
        );
    }
    assert!(
        env.history_json(&["-n", "100"]).is_empty(),
        "nothing started"
    );
    assert!(
        s.get("/api/v1/runs", Some(&write)).json()["runs"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Tabs and newlines are text: a prompt of several lines reaches the agent as it is.
    let text = "first line\n\tindented\r\nlast";
    let body = serde_json::json!({"job": "agent", "prompt": text}).to_string();
    let id = post_run(&s, &write, "/api/v1/runs", Some(&body));
    wait_status(&s.api(&write), id, RunStatus::Succeeded, LIMIT);
    assert_eq!(std::fs::read_to_string(&prompt_file).unwrap(), text);
    let body = serde_json::json!({"job": "echo", "env": {"GREETING": "two\nlines"}}).to_string();
    let id = post_run(&s, &write, "/api/v1/runs", Some(&body));
    wait_status(&s.api(&write), id, RunStatus::Succeeded, LIMIT);
    let o = env.run(&["submit", "agent", "--wait", "--prompt", "a\tb\nc"]);
    ok(&o);
    assert_eq!(std::fs::read_to_string(&prompt_file).unwrap(), "a\tb\nc");
}

/// A job whose supervisor is SIGKILLed mid-run, with an `on_failure` hook that takes 20 s
/// and notes in `hook-JOB` when it starts and ends.
fn lost_job(env: &Env, name: &str) -> String {
    let home = env.home().display();
    format!(
        "[jobs.{name}]\ntype = \"script\"\ncommand = \"touch {home}/started-{name}; sleep 300\"\n\
         [jobs.{name}.hooks]\non_failure = \"echo start $JOBCTL_RUN_ID $JOBCTL_STATUS >> {home}/hook-{name}; sleep 20; echo end $JOBCTL_RUN_ID >> {home}/hook-{name}\"\n"
    )
}

/// Forces `name` and SIGKILLs its supervisor (`force` itself) once the job runs.
fn lose_a_run(env: &Env, name: &str) {
    let mut force = env
        .cmd(&["force", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = env.home().join(format!("started-{name}"));
    wait_for("the job to start", LIMIT, || started.exists().then_some(()));
    force.kill().unwrap();
    force.wait().unwrap();
}

fn hook_lines(env: &Env, name: &str) -> Vec<String> {
    std::fs::read_to_string(env.home().join(format!("hook-{name}")))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_read_that_finds_a_lost_run_answers_at_once_and_its_hooks_run_after_once() {
    let env = Env::new();
    let _sweep = Sweep::new(&env);
    env.config(&format!(
        "{}{}{}",
        runner(&env, ""),
        lost_job(&env, "by-api"),
        lost_job(&env, "by-cli")
    ));
    let read = token(&env, &["--scope", "read", "--sub", "viewer"]);
    let s = Server::start(&env);
    // Fast enough that a 20 s hook can't be in it, slow enough for a busy machine.
    let quick = Duration::from_secs(2);

    lose_a_run(&env, "by-api");
    let t = Instant::now();
    let page = s.get("/api/v1/runs", Some(&read));
    let took = t.elapsed();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(took < quick, "GET /api/v1/runs took {took:?}");
    let run = &page.json()["runs"][0];
    assert_eq!(
        (run["job"].as_str(), run["status"].as_str()),
        (Some("by-api"), Some("lost"))
    );
    let api_run = run["run_id"].as_i64().unwrap();

    lose_a_run(&env, "by-cli");
    let t = Instant::now();
    let o = env.run(&["list"]);
    let took = t.elapsed();
    ok(&o);
    assert!(took < quick, "jobctl list took {took:?}");
    let cli_run = env.history_json(&["by-cli", "-n", "1"])[0].clone();
    assert_eq!(cli_run["status"], "lost", "{cli_run:#}");
    let cli_run = cli_run["run_id"].as_i64().unwrap();

    // Both hooks run in the background, each once, to their end, and are recorded.
    for (job, id) in [("by-api", api_run), ("by-cli", cli_run)] {
        wait_for(
            &format!("{job}'s on_failure to end"),
            Duration::from_secs(90),
            || (hook_lines(&env, job).len() >= 2).then_some(()),
        );
        let hooks = wait_for("the hook's record", LIMIT, || {
            let o = env.run(&["show", &id.to_string(), "--json"]);
            let v: Value = serde_json::from_slice(&o.stdout).ok()?;
            v["hooks"].as_array().filter(|h| !h.is_empty()).cloned()
        });
        assert_eq!(hooks.len(), 1, "{hooks:#?}");
        assert_eq!(hooks[0]["hook"], "on_failure");
        assert_eq!(hooks[0]["ok"], true, "{hooks:#?}");
    }
    // More reads find nothing more to close, and run nothing again.
    ok(&env.run(&["status"]));
    assert_eq!(s.get("/api/v1/runs", Some(&read)).status, 200);
    for (job, id) in [("by-api", api_run), ("by-cli", cli_run)] {
        assert_eq!(
            hook_lines(&env, job),
            [format!("start {id} lost"), format!("end {id}")],
            "{job}'s hook ran once"
        );
    }
}
