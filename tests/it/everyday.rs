//! The everyday commands as a new user meets them (cli.md): the first run without a
//! config, `init`, `edit`, `import`, nothing done silently, unknown names with a
//! suggestion, `--json` for every outcome, one vocabulary for signals, pids and locks,
//! `status` answering "is it working?", run logs (`--tail`, `--timestamps`), the root
//! warning, and the help, man pages and completions.

use crate::support::*;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);
const T: &str = "2026-03-28T12:00:00Z";

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{}", both(o)))
}

fn hello_env() -> Env {
    Env::with_config(
        "[runner]\ntimezone = \"UTC\"\n\n[jobs.hello]\ntype = \"script\"\ncommand = \"echo hello\"\nevery = \"1h\"\n\n\
         [jobs.nightly]\ntype = \"script\"\ncommand = \"true\"\ncron = \"15 3 * * *\"\n",
    )
}

// ---------------------------------------------------------------------------------------
// First run, init, edit, import
// ---------------------------------------------------------------------------------------

#[test]
fn without_a_config_commands_say_where_it_should_be_and_how_to_make_one() {
    let env = Env::new();
    for args in [&["list"][..], &["run"], &["status"]] {
        let o = env.run(args);
        assert_eq!(code(&o), 78, "{args:?}\n{}", both(&o));
        let want = format!(
            "jobctl: no config at {} — create one with jobctl init",
            env.config_path().display()
        );
        assert!(stderr(&o).starts_with(&want), "{args:?}\n{}", both(&o));
        assert!(!stderr(&o).contains("invalid config"), "{}", both(&o));
    }
    // An explicit --config that isn't there says the same of that path.
    let o = env.run(&["--config", "elsewhere.toml", "list"]);
    assert_eq!(code(&o), 78, "{}", both(&o));
    assert!(stderr(&o).contains("no config at ") && stderr(&o).contains("elsewhere.toml"));
}

#[test]
fn init_writes_a_valid_starter_with_the_agent_clis_found_and_never_overwrites() {
    let env = Env::new();
    let bin = env.home().join("bin");
    env.script("bin/claude", "#!/bin/sh\nexit 0\n");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let o = env.cmd(&["init"]).env("PATH", &path).output().unwrap();
    ok(&o);
    assert!(stdout(&o).contains("claude"), "{}", both(&o));
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(
        text.contains("[agents.claude]\npreset = \"claude\""),
        "{text}"
    );
    assert!(!text.contains("[agents.codex]"), "{text}");
    // The jobs' PATH reaches the CLI where it was found, and jobctl, before the usual
    // places; the first line points at the reference, not at a placeholder.
    let jobctl_dir = std::path::Path::new(env!("CARGO_BIN_EXE_jobctl"))
        .parent()
        .unwrap();
    let want = format!(
        "env = {{ PATH = \"{}:{}:/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin\" }}",
        bin.display(),
        jobctl_dir.display()
    );
    assert!(text.lines().any(|l| l == want), "{want}\n{text}");
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("jobctl man jobctl.toml"),
        "{text}"
    );
    assert!(
        text.lines().filter(|l| l.starts_with('#')).count() > 5,
        "commented: {text}"
    );
    let o = env.run(&["check"]);
    ok(&o);
    // A second init refuses, and the file stays as it is.
    std::fs::write(env.config_path(), "# mine\n").unwrap();
    let o = env.cmd(&["init"]).env("PATH", &path).output().unwrap();
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(stderr(&o).contains("never overwrites"), "{}", both(&o));
    assert_eq!(
        std::fs::read_to_string(env.config_path()).unwrap(),
        "# mine\n"
    );
    // --print writes nothing.
    let o = env.run(&["init", "--print"]);
    ok(&o);
    assert!(stdout(&o).contains("[jobs.hello]"));
}

/// An "editor" that replaces the file it is given with `content`.
fn editor(env: &Env, name: &str, content: &str) -> String {
    env.write(&format!("{name}.content"), content);
    env.script(
        name,
        &format!(
            "#!/bin/sh\necho \"$1\" >> {home}/{name}.calls\ncat {home}/{name}.content > \"$1\"\n",
            home = env.home().display()
        ),
    )
    .display()
    .to_string()
}

#[test]
fn edit_saves_a_valid_config_and_never_leaves_an_invalid_one() {
    let env = hello_env();
    let before = std::fs::read_to_string(env.config_path()).unwrap();
    // Invalid, and no terminal to ask on: dropped, the config unchanged, exit 78.
    let bad = editor(&env, "bad-editor", "[jobs.x]\ntype = \"scrpit\"\n");
    let o = env
        .cmd(&["edit"])
        .env("EDITOR", &bad)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    assert_eq!(code(&o), 78, "{}", both(&o));
    assert!(
        stderr(&o).contains("did you mean \"script\""),
        "{}",
        both(&o)
    );
    assert!(stderr(&o).contains("unchanged"), "{}", both(&o));
    // The errors said once, citing the lines of the file the edit is kept in.
    assert_eq!(
        stderr(&o).matches("invalid config").count(),
        1,
        "{}",
        both(&o)
    );
    let kept = env.home().join("jobctl.toml.rejected");
    assert!(
        stderr(&o).contains(&format!("{}:2", kept.display())),
        "{}",
        both(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        "[jobs.x]\ntype = \"scrpit\"\n"
    );
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(env.home())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".edit-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Valid: saved. $VISUAL wins over $EDITOR.
    let good = editor(
        &env,
        "good-editor",
        "[jobs.only]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n",
    );
    let o = env
        .cmd(&["edit"])
        .env("VISUAL", &good)
        .env("EDITOR", &bad)
        .output()
        .unwrap();
    ok(&o);
    assert!(stdout(&o).contains("ok: 1 job, 0 agents"), "{}", both(&o));
    assert!(
        std::fs::read_to_string(env.config_path())
            .unwrap()
            .contains("[jobs.only]")
    );
}

/// `import --append` adds the jobs to the config only when the result is valid, and
/// names a job the config has already (instead of `>> jobctl.toml` leaving a file that
/// says "duplicate key" without saying which).
#[test]
fn import_append_checks_the_result_and_names_a_clash() {
    let env = hello_env();
    let crontab = env.write("crontab", "0 3 * * * /usr/bin/backup.sh --all\n");
    let crontab = crontab.to_str().unwrap();
    let before = std::fs::read_to_string(env.config_path()).unwrap();
    let o = env.run(&["import", "crontab", crontab, "--append"]);
    ok(&o);
    assert!(stdout(&o).contains("ok: 1 job added to"), "{}", both(&o));
    let after = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(
        after.starts_with(&before) && after.contains("[jobs.backup-sh]"),
        "{after}"
    );
    ok(&env.run(&["check"]));
    // Again: the name is taken; said, and nothing written.
    let o = env.run(&["import", "crontab", crontab, "--append"]);
    assert_eq!(code(&o), 78, "{}", both(&o));
    assert!(
        stderr(&o).contains("already has jobs.backup-sh"),
        "{}",
        both(&o)
    );
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), after);
}

#[test]
fn edit_on_a_terminal_offers_the_invalid_copy_again() {
    let env = hello_env();
    // First save invalid, second valid: the editor is run twice on the same copy.
    let ed = env.script(
        "twice",
        &format!(
            "#!/bin/sh\nn=$(cat {h}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {h}/n\n\
             if [ $n = 1 ]; then echo 'broken = [' > \"$1\"; else printf '[jobs.fixed]\\ntype = \"script\"\\ncommand = \"true\"\\n' > \"$1\"; fi\n",
            h = env.home().display()
        ),
    );
    let out = on_terminal(
        &env,
        100,
        &format!("{} edit", BIN),
        &[("EDITOR", &ed.display().to_string())],
        b"y\n",
    );
    assert!(out.contains("edit again?"), "{out}");
    assert_eq!(
        std::fs::read_to_string(env.home().join("n"))
            .unwrap()
            .trim(),
        "2",
        "{out}"
    );
    assert!(
        std::fs::read_to_string(env.config_path())
            .unwrap()
            .contains("[jobs.fixed]"),
        "{out}"
    );
}

#[test]
fn import_turns_a_crontab_on_stdin_into_jobs_and_says_what_it_left() {
    let env = Env::new();
    let mut child = env
        .cmd(&["import", "crontab", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"MAILTO=me\n15 3 * * * /usr/bin/backup.sh\n@reboot start-thing\n*/10 * * * * echo tick\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    ok(&o);
    assert!(
        stderr(&o).contains("not carried over") && stderr(&o).contains("@reboot"),
        "{}",
        both(&o)
    );
    env.config(&stdout(&o));
    let o = env.run(&["list", "--json"]);
    ok(&o);
    let names: Vec<String> = json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["backup-sh", "echo"]);
}

#[test]
fn import_reads_teleclaude_and_ai_settings_files() {
    let env = Env::new();
    env.write(
        "tc/teleclaude.yml",
        "jobs:\n  memory_review:\n    schedule: weekly\n    preferred_weekday: 0\n    preferred_hour: 8\n    job: memory-review\n    agent: claude\n",
    );
    let o = env.run(&["import", "teleclaude", "tc/teleclaude.yml"]);
    ok(&o);
    let tc = stdout(&o);
    env.write(
        "ai.json",
        r#"{"agents": {"codex.cli": {"provider": "codex", "interface": "cli", "dailyBudget": 10,
            "runtimeState": {"worker": {"enabled": false, "reason": "quota_exhausted: limit"}}}},
           "taskFallbacks": {"extraction": ["codex.cli"]}, "modelRates": {}}"#,
    );
    let o = env.run(&["import", "ai-settings", "ai.json"]);
    ok(&o);
    assert!(
        stderr(&o).contains("jobctl configure agent codex --scope worker --disable"),
        "{}",
        both(&o)
    );
    let ai = stdout(&o);
    // Together: one valid config (agents from one, jobs from the other).
    env.config(&format!("{ai}\n[agents.claude]\npreset = \"claude\"\ndaily_budget = 5\n\n{}", tc.replace("[agents.claude]\npreset = \"claude\"\ndaily_budget = 50   # TeleClaude had no budget: set one\n", "")));
    let o = env.run(&["check"]);
    ok(&o);
    let o = env.run(&["list"]);
    assert!(stdout(&o).contains("at 08:00 mon"), "{}", both(&o));
}

// ---------------------------------------------------------------------------------------
// Nothing silent
// ---------------------------------------------------------------------------------------

#[test]
fn a_tick_with_nothing_due_says_so_and_when_the_next_slot_is() {
    let env = hello_env();
    ok(&env.run_at(T, &["run", "--wait"]));
    let o = env.run_at("2026-03-28T12:10:00Z", &["run"]);
    ok(&o);
    assert_eq!(
        stdout(&o).trim(),
        "nothing due; next: hello at 2026-03-28 13:00",
        "{}",
        both(&o)
    );
    let o = env.run_at("2026-03-28T12:10:00Z", &["run", "-q"]);
    ok(&o);
    assert_eq!(stdout(&o), "", "-q silences it");
    // --job of a job that is not due says why.
    let o = env.run_at("2026-03-28T12:10:00Z", &["run", "--job", "hello"]);
    ok(&o);
    assert!(
        stdout(&o).contains("hello: not due: next slot 2026-03-28 13:00"),
        "{}",
        both(&o)
    );
}

#[test]
fn run_wait_prints_a_line_as_each_run_starts_and_as_it_ends() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\n\n[jobs.fast]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n\n\
         [jobs.slow]\ntype = \"script\"\ncommand = \"sleep 1\"\nevery = \"1h\"\n",
    );
    let _sweep = Sweep::new(&env);
    let o = env.run_at(T, &["run", "--wait"]);
    ok(&o);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{}", both(&o));
    assert!(
        lines[0].starts_with("started fast (run 1, supervisor pid "),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("started slow (run 2, supervisor pid "),
        "{lines:?}"
    );
    // Ends in the order they end: the fast one first.
    assert!(
        lines[2].starts_with("fast  run 1  succeeded  exit 0"),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("slow  run 2  succeeded  exit 0"),
        "{lines:?}"
    );
}

#[test]
fn reset_budgets_with_nothing_to_reset_says_so() {
    let env = Env::with_config(
        "[agents.local]\npreset = \"command\"\ndaily_budget = 5\ncommand = [\"echo\", \"{prompt}\"]\n",
    );
    let o = env.run(&["reset", "budgets"]);
    ok(&o);
    assert!(
        stdout(&o).starts_with("nothing to reset: no agent has used any budget today"),
        "{}",
        both(&o)
    );
    ok(&env.run(&["ask", "--agent", "local", "hi"]));
    let o = env.run(&["reset", "budgets"]);
    ok(&o);
    assert_eq!(stdout(&o).trim(), "local: usage 1 → 0", "{}", both(&o));
}

// ---------------------------------------------------------------------------------------
// Unknown names, --json
// ---------------------------------------------------------------------------------------

#[test]
fn an_unknown_job_is_named_with_the_closest_one() {
    let env = hello_env();
    for args in [
        &["history", "helo"][..],
        &["logs", "--job", "helo"],
        &["force", "helo"],
        &["next", "helo"],
        &["run", "--job", "helo"],
        &["cancel", "--job", "helo"],
        &["reset", "job", "helo"],
        &["configure", "job", "helo", "--pause"],
    ] {
        let o = env.run(args);
        assert_eq!(code(&o), 1, "{args:?}\n{}", both(&o));
        assert!(
            stderr(&o).contains("no such job 'helo' (did you mean 'hello'?)"),
            "{args:?}\n{}",
            both(&o)
        );
    }
    let o = env.run(&["history", "zzzzzz"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no such job 'zzzzzz' in "),
        "{}",
        both(&o)
    );
}

#[test]
fn json_means_json_for_usage_errors_dry_runs_and_missing_logs() {
    let env = hello_env();
    let o = env.run(&["--json", "list", "--bogus"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    let doc = json(&o);
    assert_eq!(doc["error"]["exit_code"], 2, "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--bogus"),
        "{doc}"
    );
    assert!(
        !stderr(&o).is_empty(),
        "the human text still goes to stderr"
    );

    let o = env.run_at(T, &["run", "--dry-run", "--json"]);
    ok(&o);
    let rows = json(&o);
    let hello = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "hello")
        .unwrap();
    assert_eq!(hello["decision"], "run", "{hello}");
    assert_eq!(hello["due"], true);
    assert!(
        hello["slot"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-28T12:00:00"),
        "{hello}"
    );
    assert!(
        hello["reason"].as_str().unwrap().starts_with("due"),
        "{hello}"
    );

    ok(&env.run(&["force", "hello"]));
    let r = env.history_json(&["hello"])[0].clone();
    std::fs::remove_file(r["log_path"].as_str().unwrap()).unwrap();
    for args in [
        &["logs", "--job", "hello"][..],
        &["--json", "logs", "--job", "hello"],
    ] {
        let o = env.run(args);
        assert_eq!(code(&o), 1, "{args:?}\n{}", both(&o));
        assert!(stderr(&o).contains("is missing"), "{}", both(&o));
    }
    let doc = json(&env.run(&["--json", "logs", "--job", "hello"]));
    assert_eq!(doc["error"]["exit_code"], 1, "{doc}");
}

// ---------------------------------------------------------------------------------------
// One vocabulary: signals, who cancelled, pids, the tick lock
// ---------------------------------------------------------------------------------------

#[test]
fn signals_are_named_and_a_timeout_says_whether_sigterm_was_enough() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n\
         [jobs.killed]\ntype = \"script\"\ncommand = \"kill -9 $$\"\n\n\
         [jobs.polite]\ntype = \"script\"\ncommand = \"sleep 30\"\ntimeout = \"1s\"\n\n\
         [jobs.stubborn]\ntype = \"script\"\ncommand = \"trap '' TERM; sleep 30\"\ntimeout = \"1s\"\n",
    );
    let _sweep = Sweep::new(&env);
    let o = env.run(&["force", "killed"]);
    assert_eq!(code(&o), 137, "{}", both(&o));
    assert!(
        stderr(&o).contains("SIGKILL"),
        "the end line names the signal\n{}",
        both(&o)
    );
    let list = env.list_json();
    let killed = list.iter().find(|r| r["name"] == "killed").unwrap();
    assert_eq!(killed["last_signal"], "SIGKILL", "{killed}");
    assert!(list.iter().find(|r| r["name"] == "polite").unwrap()["last_signal"].is_null());
    let run = &env.history_json(&["killed"])[0];
    assert_eq!(run["error"], "killed by SIGKILL (signal 9)", "{run}");
    let table = stdout(&env.run(&["history", "killed"]));
    assert!(table.lines().nth(1).unwrap().contains("SIGKILL"), "{table}");

    assert_eq!(code(&env.run(&["force", "polite"])), 124);
    let e = env.history_json(&["polite"])[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        e, "timed out after 1s; stopped the process tree with SIGTERM",
        "{e}"
    );
    assert_eq!(code(&env.run(&["force", "stubborn"])), 124);
    let e = env.history_json(&["stubborn"])[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        e.contains("with SIGTERM, then SIGKILL after 1s (SIGTERM was not enough)"),
        "{e}"
    );
}

/// Starts `jobctl force JOB` in the background and waits until its run is recorded.
fn force_in_background(env: &Env, job: &str) -> (std::process::Child, i64) {
    let child = env
        .cmd(&["force", job])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let id = wait_for("the run", LIMIT, || {
        let st = json(&env.run(&["status", "--json"]));
        st["running"][0]["pgid"].as_i64()?;
        st["running"][0]["run_id"].as_i64()
    });
    (child, id)
}

#[test]
fn a_cancel_records_who_cancelled_and_a_shutdown_is_told_apart() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n[jobs.sleeper]\ntype = \"script\"\ncommand = \"sleep 60\"\n",
    );
    let _sweep = Sweep::new(&env);
    let (mut child, id) = force_in_background(&env, "sleeper");
    let o = env.run(&["cancel", &id.to_string()]);
    ok(&o);
    child.wait().unwrap();
    let err = env.history_json(&["sleeper"])[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .name;
    assert!(
        err.starts_with(&format!("cancelled by jobctl cancel (user {user}, pid ")),
        "{err}"
    );
    assert!(
        err.ends_with("stopped the process tree with SIGTERM"),
        "{err}"
    );

    // SIGTERM from elsewhere (a shutdown): not jobctl cancel.
    let (mut child, _) = force_in_background(&env, "sleeper");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait().unwrap();
    let err = env.history_json(&["sleeper"])[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.starts_with("cancelled: its supervisor received SIGTERM (a shutdown or a signal sent to it, not jobctl cancel)"), "{err}");
}

#[test]
fn status_and_force_name_the_same_supervisor_pid_and_the_jobs_group() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\n\n[jobs.sleeper]\ntype = \"script\"\ncommand = \"sleep 60\"\n",
    );
    let _sweep = Sweep::new(&env);
    let (mut child, id) = force_in_background(&env, "sleeper");
    let st = json(&env.run(&["status", "--json"]));
    let run = &st["running"][0];
    assert_eq!(
        run["pid"],
        child.id(),
        "pid is the supervisor (this force): {st:#}"
    );
    let pgid = run["pgid"].as_i64().unwrap();
    assert_ne!(pgid, child.id() as i64);
    let o = env.run(&["force", "sleeper"]);
    assert_eq!(code(&o), 75);
    assert!(
        stderr(&o).contains(&format!(
            "job sleeper is already running (run {id}, pid {}); that is its supervisor; the job's process group is {pgid}",
            child.id()
        )),
        "{}",
        both(&o)
    );
    let table = stdout(&env.run(&["status"]));
    let header = table.lines().find(|l| l.contains("RUN")).unwrap();
    assert!(
        header
            .split_whitespace()
            .eq(["RUN", "JOB", "STATUS", "STARTED", "PID", "PGID", "AGENT"]),
        "{table}"
    );
    ok(&env.run(&["cancel", &id.to_string()]));
    child.wait().unwrap();
}

#[test]
fn the_tick_lock_message_names_the_real_holder_or_none() {
    let env = hello_env();
    ok(&env.run(&["list"]));
    let lock = env.state_dir().join("jobctl.lock");
    // A holder that wrote a pid that is not its own (a stale one): the kernel's holder is named.
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c", "sleep 30"])
        .spawn()
        .unwrap();
    std::fs::write(&lock, "1\n").unwrap();
    wait_for("the lock to be held", LIMIT, || {
        let f = std::fs::File::open(&lock).ok()?;
        (f.try_lock().is_err()).then_some(())
    });
    let o = env.run(&["run"]);
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "another jobctl run holds the lock (pid {})",
            holder.id()
        )),
        "{err}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
}

// ---------------------------------------------------------------------------------------
// status, history
// ---------------------------------------------------------------------------------------

#[test]
fn status_shows_the_last_tick_and_warns_when_the_timer_seems_not_to_run() {
    let env = hello_env();
    let o = env.run_at(T, &["status"]);
    ok(&o);
    assert!(
        stdout(&o).starts_with("last tick: never\nwarning: no tick has run yet"),
        "{}",
        both(&o)
    );
    assert!(
        !stdout(&o).contains("daemon:"),
        "no [daemon], no daemon line\n{}",
        both(&o)
    );
    ok(&env.run_at(T, &["run", "--wait"]));
    let o = env.run_at("2026-03-28T12:03:00Z", &["status"]);
    assert!(
        stdout(&o).starts_with(
            "last tick: 2026-03-28 12:00 (3m ago)\nrole now: admin (no [daemon] configured)"
        ),
        "{}",
        both(&o)
    );
    let st = json(&env.run_at("2026-03-28T12:03:00Z", &["status", "--json"]));
    assert_eq!(st["tick_late"], false);
    assert!(
        st["last_tick"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-28T12:00:00")
    );
    let o = env.run_at("2026-03-28T12:20:00Z", &["status"]);
    assert!(
        stdout(&o).contains("warning: no tick for 20m")
            && stdout(&o).contains("is the timer installed?"),
        "{}",
        both(&o)
    );
    assert_eq!(
        json(&env.run_at("2026-03-28T12:20:00Z", &["status", "--json"]))["tick_late"],
        true
    );
    // With [daemon], its line is back.
    let mut cfg = std::fs::read_to_string(env.config_path()).unwrap();
    cfg.push_str("\n[daemon]\nsocket = \"/nonexistent/d.sock\"\n");
    env.config(&cfg);
    assert!(stdout(&env.run(&["status"])).contains("daemon: absent (/nonexistent/d.sock"));
}

// ---------------------------------------------------------------------------------------
// Run logs
// ---------------------------------------------------------------------------------------

#[test]
fn logs_tail_and_timestamps() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\n\n[jobs.counter]\ntype = \"script\"\ncommand = \"for i in 1 2 3 4 5; do echo line $i; done; sleep 0.2; echo late\"\n",
    );
    ok(&env.run(&["force", "counter"]));
    let o = env.run(&["logs", "--job", "counter", "--tail", "2"]);
    ok(&o);
    assert_eq!(stdout(&o), "line 5\nlate\n", "{}", both(&o));
    assert_eq!(
        stdout(&env.run(&["logs", "--job", "counter", "--tail", "100"]))
            .lines()
            .count(),
        6
    );
    let o = env.run(&["logs", "--job", "counter", "--timestamps"]);
    ok(&o);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{}", both(&o));
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let time_of = |l: &str| -> jiff::civil::DateTime {
        let (d, rest) = l.split_once(' ').unwrap();
        let (t, _) = rest.split_once(' ').unwrap();
        format!("{d}T{t}")
            .parse()
            .unwrap_or_else(|e| panic!("{l:?}: {e}"))
    };
    assert!(
        lines[0].starts_with(&today) && lines[0].ends_with(" line 1"),
        "{lines:?}"
    );
    assert!(lines[5].ends_with(" late"), "{lines:?}");
    // The late line came at least 0.2 s after the first.
    let gap = time_of(lines[5]) - time_of(lines[0]);
    assert!(
        gap.get_milliseconds() + gap.get_seconds() * 1000 >= 150,
        "{lines:?}"
    );
    // The log itself is plain text.
    let r = &env.history_json(&["counter"])[0];
    let log = std::fs::read_to_string(r["log_path"].as_str().unwrap()).unwrap();
    assert!(log.starts_with("line 1\n"), "{log}");
    let o = env.run(&["logs", "--job", "counter", "--tail", "1", "--timestamps"]);
    assert!(
        stdout(&o).starts_with(&today) && stdout(&o).ends_with(" late\n"),
        "{}",
        both(&o)
    );
}

#[test]
fn a_command_agents_answer_is_in_its_log_once() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\n\n[agents.local]\npreset = \"command\"\ndaily_budget = 10\ncommand = [\"echo\", \"the answer is\", \"{prompt}\"]\n\n\
         [jobs.ask-it]\ntype = \"agent\"\nagent = \"local\"\nprompt = \"42\"\n",
    );
    ok(&env.run(&["force", "ask-it"]));
    let o = env.run(&["logs", "--job", "ask-it"]);
    ok(&o);
    assert_eq!(
        stdout(&o).matches("the answer is 42").count(),
        1,
        "{}",
        both(&o)
    );
}

#[test]
fn the_log_cap_cuts_at_a_line_boundary() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\nlog_max_bytes = \"1KiB\"\n\n[jobs.loud]\ntype = \"script\"\ncommand = \"seq 1 2000 | sed 's/^/number /'\"\n",
    );
    ok(&env.run(&["force", "loud"]));
    let r = &env.history_json(&["loud"])[0];
    let log = std::fs::read_to_string(r["log_path"].as_str().unwrap()).unwrap();
    let (header, rest) = log.split_once('\n').unwrap();
    assert!(
        header.starts_with("[jobctl] output exceeded log_max_bytes (1024 bytes)"),
        "{header}"
    );
    assert!(
        rest.starts_with("number "),
        "the kept part starts at a line: {rest:?}"
    );
    assert!(rest.ends_with("number 2000\n"));
    let kept = rest.len();
    assert!(kept <= 1024 && kept > 1024 - 20, "{kept}");
    assert!(
        header.ends_with(&format!("the last {kept} kept")),
        "{header}"
    );
}

// ---------------------------------------------------------------------------------------
// Root warning, help, man, completions
// ---------------------------------------------------------------------------------------

#[test]
fn the_root_warning_comes_only_where_claude_is_configured_and_once() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: nothing to check");
        return;
    }
    let env = hello_env();
    let _sweep = Sweep::new(&env);
    // No claude agent: never.
    for args in [&["run", "--wait"][..], &["force", "hello"]] {
        let o = env.run_at(T, args);
        ok(&o);
        assert!(
            !stderr(&o).contains("running as root"),
            "{args:?}\n{}",
            both(&o)
        );
    }
    let mut cfg = std::fs::read_to_string(env.config_path()).unwrap();
    cfg.push_str("\n[agents.claude]\npreset = \"claude\"\ndaily_budget = 1\n");
    env.config(&cfg);
    let o = env.run(&["force", "hello"]);
    ok(&o);
    assert_eq!(
        stderr(&o).matches("running as root").count(),
        1,
        "{}",
        both(&o)
    );
    // An idle tick says nothing; one that starts a run says it once.
    let o = env.run_at("2026-03-28T12:10:00Z", &["run"]);
    assert!(!stderr(&o).contains("running as root"), "{}", both(&o));
    let o = env.run_at("2026-03-28T13:00:00Z", &["run", "--wait"]);
    ok(&o);
    assert_eq!(
        stderr(&o).matches("running as root").count(),
        1,
        "{}",
        both(&o)
    );
}

#[test]
fn configure_job_without_a_flag_names_the_flags_it_takes() {
    let env = hello_env();
    for (args, flags) in [
        (&["configure", "job", "hello"][..], ["--pause", "--resume"]),
        (&["configure", "agent", "x"], ["--enable", "--disable"]),
    ] {
        let o = env.run(args);
        assert_eq!(code(&o), 2, "{}", both(&o));
        for f in flags {
            assert!(stderr(&o).contains(f), "{args:?} names {f}\n{}", both(&o));
        }
    }
}

#[test]
fn every_argument_has_help_and_every_command_a_man_page() {
    let env = hello_env();
    let o = env.run(&["man", "--dir", "man"]);
    ok(&o);
    let page = |p: &str| std::fs::read_to_string(env.home().join(p)).unwrap();
    for cmd in [
        "run",
        "list",
        "status",
        "history",
        "logs",
        "init",
        "edit",
        "import",
        "configure",
    ] {
        let text = page(&format!("man/man1/jobctl-{cmd}.1"));
        assert!(
            text.starts_with(".ie") || text.contains(&format!(".TH JOBCTL-{}", cmd.to_uppercase())),
            "{cmd}: {}",
            &text[..200.min(text.len())]
        );
        for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"] {
            assert!(text.contains(section), "jobctl-{cmd}(1) has {section}");
        }
    }
    let main = page("man/man1/jobctl.1");
    assert!(
        main.contains("jobctl\\-run(1)") || main.contains("jobctl\\-run\\fR(1)"),
        "SEE ALSO lists the commands"
    );
    let toml = page("man/man5/jobctl.toml.5");
    assert!(toml.contains("\n.TH JOBCTL.TOML 5"), "{}", &toml[..100]);
    assert!(
        toml.contains("daily_budget") && toml.contains(".SH VALIDATION"),
        "the config reference"
    );
    let o = env.run(&["man", "run"]);
    ok(&o);
    assert!(stdout(&o).contains("\\-\\-dry\\-run"), "{}", both(&o));
    let o = env.run(&["man", "rnu"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("did you mean 'run'"), "{}", both(&o));
    // Every argument says what it is.
    for cmd in [
        &["force", "--help"][..],
        &["configure", "job", "--help"],
        &["configure", "agent", "--help"],
        &["reset", "job", "--help"],
        &["next", "--help"],
    ] {
        let o = env.run(cmd);
        ok(&o);
        let help = stdout(&o);
        let args = help.split("Arguments:").nth(1).unwrap_or("");
        let line = args
            .lines()
            .find(|l| l.trim_start().starts_with('<'))
            .unwrap_or_else(|| panic!("{cmd:?}: {help}"));
        assert!(
            line.trim()
                .split_once("  ")
                .is_some_and(|(_, h)| !h.trim().is_empty()),
            "{cmd:?}: {line:?}"
        );
    }
}

#[test]
fn completions_offer_the_configs_job_and_agent_names() {
    let env = Env::with_config(
        "[agents.local]\npreset = \"command\"\ndaily_budget = 5\ncommand = [\"echo\", \"{prompt}\"]\n\n\
         [jobs.hello]\ntype = \"script\"\ncommand = \"true\"\n\n[jobs.help-desk]\ntype = \"script\"\ncommand = \"true\"\n\n\
         [jobs.other]\ntype = \"script\"\ncommand = \"true\"\n",
    );
    for shell in ["bash", "zsh", "fish"] {
        let o = env.run(&["completions", shell]);
        ok(&o);
        assert!(
            stdout(&o).contains("COMPLETE"),
            "{shell}: the script calls jobctl back\n{}",
            both(&o)
        );
    }
    // What the shell asks, as the bash script asks it.
    let ask = |words: &[&str]| -> Vec<String> {
        let mut args = vec!["--", "jobctl"];
        args.extend_from_slice(words);
        let o = env
            .cmd(&args)
            .env("COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", words.len().to_string())
            .env("_CLAP_COMPLETE_COMP_TYPE", "9")
            .env("_CLAP_COMPLETE_SPACE", "true")
            .env("_CLAP_IFS", "\n")
            .output()
            .unwrap();
        ok(&o);
        stdout(&o).lines().map(String::from).collect()
    };
    assert_eq!(ask(&["force", "he"]), ["hello", "help-desk"]);
    assert_eq!(ask(&["logs", "--job", "o"]), ["other"]);
    assert_eq!(ask(&["ask", "--agent", ""]), ["local"]);
}

// ---------------------------------------------------------------------------------------
// The README's first command, and where an explicit state dir keeps things
// ---------------------------------------------------------------------------------------

#[test]
fn the_readme_runs_the_examples_with_cargo_run_whatever_the_target_dir() {
    let readme = include_str!("../../README.md");
    let first = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap()
        .trim();
    assert!(
        first.starts_with("cargo run --release") && !first.contains("./target/"),
        "the first command must not assume a target dir: {first}"
    );
    // What it runs, on a copy of jobs/: state (and the config snapshot) under ./state.
    let env = Env::new();
    let jobs = env.home().join("jobs");
    let status = std::process::Command::new("cp")
        .args(["-r", concat!(env!("CARGO_MANIFEST_DIR"), "/jobs")])
        .arg(&jobs)
        .status()
        .unwrap();
    assert!(status.success());
    let _ = std::fs::remove_dir_all(jobs.join("state"));
    let cache = env.home().join("xdg-cache");
    let _sweep = Sweep::new(&env);
    let mut outputs = Vec::new();
    for cmd in first.split(';') {
        let args: Vec<&str> = cmd
            .split_whitespace()
            .skip_while(|w| *w != "--")
            .skip(1)
            .collect();
        let o = env
            .cmd(&args)
            .env_remove("JOBCTL_HOME")
            .env("XDG_CACHE_HOME", &cache)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        assert!(code(&o) == 0 || code(&o) == 1, "{cmd}\n{}", both(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", both(&o));
        outputs.push(stdout(&o));
    }
    // The agent job runs after the script it summarises, within the wait, and says that
    // it ran on the local script because no agent CLI is on this PATH.
    let (ran, listed) = (&outputs[0], &outputs[1]);
    let line = |job: &str| {
        ran.lines()
            .position(|l| l.starts_with(&format!("{job}  run ")))
    };
    let (report, summary) = (line("disk-report"), line("log-summary"));
    assert!(
        report.is_some() && summary > report,
        "the summary ends after the report, in the wait: {ran}"
    );
    assert!(
        ran.contains("(on local after claude: ") && ran.contains("; codex: "),
        "{ran}"
    );
    let row = listed.lines().find(|l| l.contains("log-summary")).unwrap();
    assert!(row.contains("succeeded (on local)"), "{listed}");
    assert!(jobs.join("state/jobctl.db").exists());
    // The config's snapshot (beside it, the ticks' next slots).
    let snapshots: Vec<_> = std::fs::read_dir(jobs.join("state/cache"))
        .unwrap()
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().starts_with("config-"))
        .collect();
    assert_eq!(snapshots.len(), 1, "the snapshot is under ./state/cache");
    assert!(!cache.exists(), "nothing in ~/.cache");
}

// ---------------------------------------------------------------------------------------
// On a terminal
// ---------------------------------------------------------------------------------------

/// Runs a shell command line in a pseudo-terminal `cols` wide (with `script`), in this
/// env; returns what the terminal showed, `\r\n` as `\n`.
pub fn on_terminal(
    env: &Env,
    cols: u16,
    line: &str,
    vars: &[(&str, &str)],
    input: &[u8],
) -> String {
    let mut c = std::process::Command::new("script");
    c.args([
        "-qec",
        &format!("stty cols {cols} rows 50; {line}"),
        "/dev/null",
    ])
    .current_dir(env.home())
    .env("JOBCTL_HOME", env.home())
    .env_remove("JOBCTL_CONFIG")
    .env_remove("COLUMNS")
    .env("NO_COLOR", "1")
    .env("TZ", "UTC")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    for (k, v) in vars {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("script(1) runs");
    let _ = child.stdin.take().unwrap().write_all(input);
    let o = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stdout).replace("\r\n", "\n")
}

#[test]
fn tables_fit_the_terminal_and_show_how_far_times_are() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\n\n\
         [jobs.a-rather-long-job-name-for-a-narrow-terminal]\ntype = \"script\"\ncommand = \"exit 3\"\ncron = \"*/15 9-17 * * mon,tue,wed,thu,fri\"\n\n\
         [jobs.hello]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n",
    );
    let _sweep = Sweep::new(&env);
    ok(&env.run(&["force", "hello"]));
    let _ = env.run(&["force", "a-rather-long-job-name-for-a-narrow-terminal"]);
    let list = format!("{} list", BIN);
    // Ten minutes on: the runs were "10m ago".
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10)).to_string();
    let at = [("JOBCTL_NOW", later.as_str())];
    let narrow = on_terminal(&env, 60, &list, &at, b"");
    let lines: Vec<&str> = narrow.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines.len(),
        3,
        "one line per row, nothing wrapped:\n{narrow}"
    );
    for l in &lines {
        assert!(
            l.chars().count() <= 60,
            "{l:?} is wider than the terminal\n{narrow}"
        );
    }
    assert!(narrow.contains('…'), "cells are cut with …\n{narrow}");
    // Wide enough: nothing cut; --absolute: no relative times.
    let wide = on_terminal(&env, 250, &list, &at, b"");
    assert!(!wide.contains('…'), "{wide}");
    assert!(
        wide.contains("(in ") && wide.contains("(10m ago)"),
        "{wide}"
    );
    let absolute = on_terminal(&env, 250, &format!("{list} --absolute"), &at, b"");
    assert!(
        !absolute.contains(" ago)") && !absolute.contains("(in "),
        "{absolute}"
    );
    // Not a terminal: full width, absolute times.
    let piped = stdout(&env.run(&["list"]));
    assert!(!piped.contains('…') && !piped.contains(" ago)"), "{piped}");
    assert!(piped.contains("a-rather-long-job-name-for-a-narrow-terminal"));

    // history: a REASON column on a terminal wide enough, never when piped.
    let history = format!("{} history", BIN);
    let wide = on_terminal(&env, 200, &history, &[], b"");
    let header = wide.lines().next().unwrap();
    assert!(header.trim_end().ends_with("REASON"), "{wide}");
    assert!(wide.contains("exited with code 3"), "{wide}");
    let narrow = on_terminal(&env, 70, &history, &[], b"");
    assert!(!narrow.contains("REASON"), "no room for it\n{narrow}");
    let piped = stdout(&env.run(&["history"]));
    assert!(!piped.contains("REASON"), "{piped}");
    let runs = env.history_json(&[]);
    assert!(
        runs.iter().any(|r| r["error"] == "exited with code 3"),
        "always in --json"
    );
}
