//! Lifecycle hooks (workspaces.md, "Lifecycle hooks"): `pre_run`, `post_run`,
//! `on_success`, `on_failure`, at job and runner level, with their environment, their
//! output in the run log, their timeout that stops the whole tree, and the rule that only
//! `pre_run` can change a run's status. The healthchecks.io-style ping of the docs is run
//! for real, with curl, against a listener on loopback.

use crate::support::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::Value;

fn log_of(env: &Env, run: &Value) -> String {
    let o = env.run(&["logs", &run["run_id"].to_string()]);
    ok(&o);
    stdout(&o)
}

fn show_json(env: &Env, run: &Value) -> Value {
    let o = env.run(&["show", &run["run_id"].to_string(), "--json"]);
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A hook that appends `NAME STATUS EXIT` to `hooks.txt` in the home.
fn note(env: &Env, name: &str) -> String {
    format!(
        "echo {name} $JOBCTL_STATUS $JOBCTL_EXIT_CODE >> {}/hooks.txt",
        env.home().display()
    )
}

fn noted(env: &Env) -> Vec<String> {
    std::fs::read_to_string(env.home().join("hooks.txt"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn all_hooks(env: &Env) -> String {
    format!(
        "pre_run = \"{}\"\npost_run = \"{}\"\non_success = \"{}\"\non_failure = \"{}\"\n",
        note(env, "pre_run"),
        note(env, "post_run"),
        note(env, "on_success"),
        note(env, "on_failure")
    )
}

#[test]
fn each_hook_runs_when_it_should_with_the_runs_status_and_exit_code() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    env.config(&format!(
        "{}[jobs.good]\ntype = \"script\"\ncommand = \"echo working\"\n[jobs.good.hooks]\n{hooks}\n\
         [jobs.bad]\ntype = \"script\"\ncommand = \"exit 5\"\n[jobs.bad.hooks]\n{hooks}\n\
         [jobs.slow]\ntype = \"script\"\ncommand = \"sleep 30\"\ntimeout = \"1s\"\n[jobs.slow.hooks]\n{hooks}\n",
        runner(&env, ""),
        hooks = all_hooks(&env)
    ));
    ok(&env.run(&["force", "good"]));
    assert_eq!(
        noted(&env),
        [
            "pre_run running",
            "post_run succeeded 0",
            "on_success succeeded 0"
        ]
    );
    std::fs::remove_file(env.home().join("hooks.txt")).unwrap();
    assert_eq!(code(&env.run(&["force", "bad"])), 5);
    assert_eq!(
        noted(&env),
        [
            "pre_run running",
            "post_run failed 5",
            "on_failure failed 5"
        ]
    );
    std::fs::remove_file(env.home().join("hooks.txt")).unwrap();
    assert_eq!(code(&env.run(&["force", "slow"])), 124);
    assert_eq!(
        noted(&env),
        [
            "pre_run running",
            "post_run timed_out",
            "on_failure timed_out"
        ]
    );
    let run = env.last_run("good");
    assert_eq!(run["hook_errors"], serde_json::json!([]), "{run:#}");
    let hooks = &show_json(&env, &run)["hooks"];
    let names: Vec<&str> = hooks
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hook"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pre_run", "post_run", "on_success"]);
    assert!(hooks.as_array().unwrap().iter().all(|h| h["ok"] == true));
}

#[test]
fn a_failing_pre_run_fails_the_run_without_starting_the_job() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    let started = env.home().join("started");
    env.config(&format!(
        "{}[jobs.x]\ntype = \"script\"\ncommand = \"touch {}\"\n[jobs.x.hooks]\n\
         pre_run = \"echo preparing; exit 3\"\non_failure = \"{}\"\npost_run = \"{}\"\n",
        runner(&env, ""),
        started.display(),
        note(&env, "on_failure"),
        note(&env, "post_run")
    ));
    let o = env.run(&["force", "x"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let run = env.last_run("x");
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"], "pre_run hook exited 3");
    assert_eq!(
        run["hook_errors"],
        serde_json::json!(["pre_run hook exited 3"])
    );
    assert!(!started.exists(), "the job never started");
    assert_eq!(noted(&env), ["post_run failed", "on_failure failed"]);
    let log = log_of(&env, &run);
    assert!(log.contains("[hook pre_run] preparing\n"), "{log}");
}

#[test]
fn a_failing_later_hook_is_recorded_but_never_changes_the_status() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    env.config(&format!(
        "{}[jobs.x]\ntype = \"script\"\ncommand = \"true\"\n[jobs.x.hooks]\n\
         post_run = \"echo oops >&2; exit 4\"\non_success = \"{}\"\n",
        runner(&env, ""),
        note(&env, "on_success")
    ));
    ok(&env.run(&["force", "x"]));
    let run = env.last_run("x");
    assert_eq!(run["status"], "succeeded");
    assert_eq!(
        run["hook_errors"],
        serde_json::json!(["post_run hook exited 4"])
    );
    assert_eq!(
        noted(&env),
        ["on_success succeeded 0"],
        "the next hook still ran"
    );
    let report = show_json(&env, &run);
    let failed: Vec<&Value> = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "hook_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{report:#}");
    assert_eq!(failed[0]["detail"]["hook"], "post_run");
    assert_eq!(failed[0]["detail"]["exit_code"], 4);
    assert!(log_of(&env, &run).contains("[hook post_run] oops\n"));
}

#[test]
fn a_hook_gets_the_jobs_environment_and_cwd_and_the_run_variables() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    std::fs::create_dir_all(env.home().join("work")).unwrap();
    env.config(&format!(
        "{}[jobs.x]\ntype = \"script\"\ncommand = \"true\"\nworkdir = \"work\"\nenv = {{ GREETING = \"hello\" }}\n\
         [jobs.x.hooks]\npost_run = [\"sh\", \"-c\", \"echo \\\"$(pwd) $GREETING $JOBCTL_JOB_NAME $JOBCTL_RUN_ID $JOBCTL_LOG_PATH\\\"\"]\n\
         on_success = [\"printf\", \"%s\\\\n\", \"$HOME is not expanded\"]\n",
        runner(&env, "")
    ));
    ok(&env.run(&["force", "x"]));
    let run = env.last_run("x");
    let log = log_of(&env, &run);
    let want = format!(
        "[hook post_run] {} hello x {} {}\n",
        env.home().join("work").display(),
        run["run_id"],
        run["log_path"].as_str().unwrap()
    );
    assert!(log.contains(&want), "want {want:?} in {log}");
    assert!(
        log.contains("[hook on_success] $HOME is not expanded\n"),
        "an array is exec'd as is: {log}"
    );
}

#[test]
fn a_hook_past_its_timeout_is_stopped_with_its_whole_tree() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    env.config(&format!(
        "{}[jobs.x]\ntype = \"script\"\ncommand = \"true\"\n[jobs.x.hooks]\n\
         post_run = \"sleep 60 & setsid sleep 60 & sleep 60\"\nhook_timeout = \"1s\"\n",
        runner(&env, "")
    ));
    let t0 = Instant::now();
    ok(&env.run(&["force", "x"]));
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    let run = env.last_run("x");
    assert_eq!(
        run["status"], "succeeded",
        "a hook never changes the status"
    );
    let errors = run["hook_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .as_str()
            .unwrap()
            .starts_with("post_run hook timed out after 1s"),
        "{run:#}"
    );
    let (live, _) = run_processes(&env.state_dir(), run["run_id"].as_i64().unwrap());
    assert!(live.is_empty(), "nothing of the hook is left: {live:?}");
}

#[test]
fn runner_hooks_apply_to_every_job_unless_a_job_names_its_own() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    let home = env.home().display();
    env.config(&format!(
        "{}[runner.hooks]\non_success = \"echo runner $JOBCTL_JOB_NAME >> {home}/hooks.txt\"\n\
         post_run = \"echo post $JOBCTL_JOB_NAME >> {home}/hooks.txt\"\n\n\
         [jobs.plain]\ntype = \"script\"\ncommand = \"true\"\n\
         [jobs.own]\ntype = \"script\"\ncommand = \"true\"\n[jobs.own.hooks]\non_success = \"echo own >> {home}/hooks.txt\"\n\
         [jobs.none]\ntype = \"script\"\ncommand = \"true\"\n[jobs.none.hooks]\non_success = \"\"\n",
        runner(&env, "")
    ));
    for j in ["plain", "own", "none"] {
        ok(&env.run(&["force", j]));
    }
    assert_eq!(
        noted(&env),
        ["post plain", "runner plain", "post own", "own", "post none"]
    );
}

#[test]
fn a_lost_runs_on_failure_is_run_for_the_command_that_closes_it() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    env.config(&format!(
        "{}[jobs.x]\ntype = \"script\"\ncommand = \"echo out; sleep 30\"\n[jobs.x.hooks]\n\
         on_failure = \"echo seen $JOBCTL_STATUS; {}\"\n",
        runner(&env, ""),
        note(&env, "on_failure")
    ));
    let o = env
        .cmd(&["force", "x"])
        .env("JOBCTL_FAULT", "during_output")
        .output()
        .unwrap();
    assert_ne!(code(&o), 0, "the supervisor died: {}", both(&o));
    assert!(noted(&env).is_empty());
    ok(&env.run(&["status"]));
    let run = env.last_run("x");
    assert_eq!(run["status"], "lost");
    // Run after the answer, by the process the closing command left behind.
    let hooks = wait_for("the hook's record", Duration::from_secs(30), || {
        let hooks = show_json(&env, &run)["hooks"].clone();
        (hooks.as_array().is_some_and(|h| !h.is_empty())).then_some(hooks)
    });
    assert_eq!(hooks[0]["hook"], "on_failure", "{hooks:#}");
    assert_eq!(noted(&env), ["on_failure lost"]);
    assert!(log_of(&env, &run).contains("[hook on_failure] seen lost\n"));
    ok(&env.run(&["status"]));
    assert_eq!(noted(&env).len(), 1, "run once, by whoever closed it");
}

#[test]
fn a_scheduled_run_runs_its_hooks_too() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    env.config(&format!(
        "{}[jobs.x]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n[jobs.x.hooks]\non_success = \"{}\"\n",
        runner(&env, ""),
        note(&env, "on_success")
    ));
    ok(&env.run(&["run", "--wait"]));
    assert_eq!(noted(&env), ["on_success succeeded 0"]);
}

/// A listener on loopback standing in for a web service: each request's path and body
/// go to the channel; every answer is 200.
fn listen() -> (u16, std::sync::mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut len = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let _ = tx.send((path, String::from_utf8_lossy(&body).into_owned()));
            let mut s = stream;
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK");
        }
    });
    (port, rx)
}

/// The webhook recipe of docs/configuration.md, exactly as written there, posting JSON
/// to a listener on loopback.
#[test]
fn the_webhook_recipe_posts_what_happened() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let start = doc
        .find("on_failure = '''\ncurl")
        .expect("the webhook recipe in the docs");
    let len = doc[start..].find("\n'''\n").unwrap() + 4;
    let recipe = &doc[start..start + len];
    let (port, rx) = listen();
    let env = Env::new();
    let _s = Sweep::new(&env);
    env.config(&format!(
        "{}[jobs.deploy]\ntype = \"script\"\ncommand = \"exit 2\"\n\
         env = {{ WEBHOOK_URL = \"http://127.0.0.1:{port}/hook\" }}\n[jobs.deploy.hooks]\n{recipe}\n",
        runner(&env, "")
    ));
    assert_eq!(code(&env.run(&["force", "deploy"])), 2);
    let (path, body) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/hook");
    let j: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(j["text"], "deploy run 1: failed (exit 2)");
    assert_eq!(env.last_run("deploy")["hook_errors"], serde_json::json!([]));
}

/// The healthchecks.io recipe, against a listener standing in for hc-ping.com: a
/// success pings `/UUID`, a failure `/UUID/fail`.
#[test]
fn the_ping_recipe_pings_success_and_failure() {
    let (port, rx) = listen();
    let env = Env::new();
    let _s = Sweep::new(&env);
    let hc = format!("http://127.0.0.1:{port}/0b5e-uuid");
    env.config(&format!(
        "{}[jobs.nightly]\ntype = \"script\"\ncommand = \"exit ${{FAIL:-0}}\"\n[jobs.nightly.hooks]\n\
         on_success = \"curl -fsS -m 10 --retry 3 -o /dev/null {hc}\"\n\
         on_failure = \"curl -fsS -m 10 --retry 3 -o /dev/null {hc}/fail\"\n",
        runner(&env, "")
    ));
    ok(&env.run(&["force", "nightly"]));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap().0,
        "/0b5e-uuid"
    );
    let o = env
        .cmd(&["force", "nightly"])
        .env("FAIL", "1")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap().0,
        "/0b5e-uuid/fail"
    );
    assert_eq!(
        env.last_run("nightly")["hook_errors"],
        serde_json::json!([])
    );
}
