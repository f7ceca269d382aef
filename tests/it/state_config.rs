//! `[state]` without a database: the URL's form is checked without connecting, a
//! database that can't be reached is exit 74 in one line naming the host (never the
//! password), and a password in the URL is never written to disk by jobctl. A job's
//! `hosts` are checked, and a host leaves a job of other hosts to them (and says so).
use crate::support;

use crate::support::{Env, both, code, stderr, stdout};

fn with_state(state: &str) -> Env {
    let env = Env::new();
    env.config(&format!(
        "{}\n[state]\n{state}\n\n[jobs.j]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n",
        support::runner(&env, "")
    ));
    env
}

#[test]
fn check_validates_the_state_url_without_connecting() {
    // Nothing listens there (an invalid name): check never connects.
    let env = with_state(
        "url = \"postgres://jobctl:s3cret@db.invalid:5432/jobctl\"\nhost = \"buildbox-1\"\nlease = \"45s\"",
    );
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 0, "{}", both(&out));

    let env = with_state("url = \"mysql://db/jobctl\"");
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 78, "{}", both(&out));
    assert!(stderr(&out).contains("state.url"), "{}", both(&out));
    assert!(stderr(&out).contains("postgres://"), "{}", both(&out));

    let env = with_state("url = \"postgres://u:s3cret@h:notaport/d\"");
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 78, "{}", both(&out));
    assert!(!stderr(&out).contains("s3cret"), "{}", both(&out));

    let env = with_state("host = \"a\"");
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 78, "host without a url: {}", both(&out));

    let env = with_state("url = \"postgres://db/j\"\nlease = \"1ms\"\nhots = 1");
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 78, "{}", both(&out));
    assert!(stderr(&out).contains("state.lease"), "{}", both(&out));
    assert!(stderr(&out).contains("hots"), "{}", both(&out));

    // The environment variable is checked the same way, and named.
    let env = Env::with_config("[jobs.j]\ntype = \"script\"\ncommand = \"true\"\n");
    let out = env
        .cmd(&["check"])
        .env("JOBCTL_DATABASE_URL", "not a url")
        .output()
        .unwrap();
    assert_eq!(code(&out), 78, "{}", both(&out));
    assert!(
        stderr(&out).contains("JOBCTL_DATABASE_URL"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_database_that_cannot_be_reached_exits_74_in_one_line_naming_the_host() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again: nothing listens there
    let env = with_state(&format!(
        "url = \"postgres://jobctl:hunter2@127.0.0.1:{port}/jobs\"\nhost = \"laptop-7\""
    ));
    for args in [
        &["run"][..],
        &["list"],
        &["status"],
        &["history"],
        &["force", "j"],
    ] {
        let out = env.run(args);
        assert_eq!(code(&out), 74, "{args:?}: {}", both(&out));
        let err = stderr(&out);
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.contains("running as root"))
            .collect();
        assert_eq!(lines.len(), 1, "one line: {}", both(&out));
        assert!(lines[0].contains("host laptop-7"), "{}", both(&out));
        assert!(
            lines[0].contains(&format!("127.0.0.1:{port}/jobs")),
            "{}",
            both(&out)
        );
        assert!(
            !err.contains("hunter2"),
            "the password is never printed: {}",
            both(&out)
        );
    }
    // Nor is it written to disk: a config whose URL holds a password gets no snapshot.
    let cache = env.home().join("cache");
    let snapshots = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    assert_eq!(snapshots, 0, "no snapshot in {}", cache.display());
}

#[test]
fn a_job_names_its_hosts() {
    let env = Env::with_config(
        "[jobs.j]\ntype = \"script\"\ncommand = \"true\"\nhosts = []\n\n[jobs.k]\ntype = \"script\"\ncommand = \"true\"\nhosts = [\"a b\"]\n",
    );
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 78, "{}", both(&out));
    assert!(
        stderr(&out).matches("hosts").count() >= 2,
        "both jobs' hosts: {}",
        both(&out)
    );
}

/// The row of `rows` (a JSON array) whose `key` is `value`.
fn find(rows: &serde_json::Value, key: &str, value: &str) -> serde_json::Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == value)
        .cloned()
        .unwrap_or_else(|| panic!("no {key} {value} in {rows:#}"))
}

#[test]
fn a_host_leaves_another_hosts_job_to_it_and_says_so() {
    let here = jobctl::config::StateConfig::default_host();
    let env = Env::with_config(&format!(
        "[jobs.mine]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\nhosts = [\"{here}\"]\n\n\
         [jobs.theirs]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\nhosts = [\"elsewhere\"]\n"
    ));
    let now = "2026-03-02T10:00:00Z";
    let out = env.run_at(now, &["run", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let row = |job: &str| find(&rows, "job", job);
    assert_eq!(
        (&row("mine")["decision"], &row("mine")["due"]),
        (&serde_json::json!("run"), &serde_json::json!(true))
    );
    let theirs = row("theirs");
    assert_eq!(
        (&theirs["decision"], &theirs["due"]),
        (&serde_json::json!("other_host"), &serde_json::json!(false)),
        "{rows:#}"
    );
    assert_eq!(
        theirs["reason"],
        format!("runs only on elsewhere (this host is {here}): their ticks start it")
    );

    // `list` says whose job it is.
    let out = env.run_at(now, &["list", "--json"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let only_on = |job: &str| find(&list, "name", job)["only_on"].clone();
    assert_eq!(only_on("mine"), serde_json::Value::Null);
    assert_eq!(only_on("theirs"), serde_json::json!(["elsewhere"]));
    let out = env.run_at(now, &["list"]);
    let line = stdout(&out)
        .lines()
        .find(|l| l.contains("theirs"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("due now on elsewhere"), "{}", stdout(&out));

    // What the dry run said is what the tick does.
    let out = env.run_at(now, &["run"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(stdout(&out).contains("started mine"), "{}", both(&out));
    assert!(!both(&out).contains("theirs"), "{}", both(&out));
    let out = env.run_at(now, &["run", "--job", "theirs"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        both(&out).contains("theirs: runs only on elsewhere"),
        "{}",
        both(&out)
    );
}
