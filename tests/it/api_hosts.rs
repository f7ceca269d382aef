//! `jobctl serve` on a state several hosts share (PostgreSQL): a server on one host shows
//! a run another host ran, with its log (kept in the database, not in this host's state
//! directory); a run submitted over the API there gets its metadata; an `Idempotency-Key`
//! answer is kept in the shared database, so a second server (another host) replays it
//! instead of starting a second run; a job forced over one host's API runs there, and a
//! run on another host is paused, resumed and cancelled from it.
use crate::support::hosts::{Via, db, host, one_at_a_time};
use crate::support::server::{Server, SseStream, token};

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_server_shows_and_steers_runs_of_every_host() {
    let _one = one_at_a_time();
    let Some(db) = db("the API on a shared state", Via::Direct) else {
        return;
    };
    let jobs = "[jobs.hello]\ntype = \"script\"\ncommand = \"echo hello from $JOBCTL_RUN_ID; echo done\"\n\n\
                [jobs.meta]\ntype = \"script\"\ncommand = \"printf '%s' \\\"$JOBCTL_RUN_METADATA\\\"\"\n\n\
                [jobs.long]\ntype = \"script\"\ntimeout = \"2m\"\ncommand = \"sleep 120 & while true; do sleep 0.05; done\"\n";
    let (a, b) = (host(&db, "ha", jobs), host(&db, "hb", jobs));
    let (_sa, _sb) = (Sweep::new(&a), Sweep::new(&b));

    // A run on host a, its log only in a's state directory and the database.
    let o = a.run(&["force", "hello", "--json"]);
    ok(&o);
    let run: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let id = run["run_id"].as_i64().unwrap();

    // Host b's server sees it, its log and its events.
    let tok = token(&b, &["--scope", "write", "--sub", "ops"]);
    let s = Server::start(&b);
    let doc = wait_ended(&s.api(&tok), id, LIMIT);
    assert_eq!(
        (&doc["status"], &doc["job"]),
        (&json!("succeeded"), &json!("hello"))
    );
    // Host a is another machine: its log file is not where b could read it.
    let file = std::path::PathBuf::from(doc["log_path"].as_str().unwrap());
    assert!(file.starts_with(a.home()), "{file:?}");
    std::fs::remove_file(&file).unwrap();
    let log = s.get(&format!("/api/v1/runs/{id}/log"), Some(&tok));
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(log.body, format!("hello from {id}\ndone\n"));
    let next: u64 = log.header("x-log-next").unwrap().parse().unwrap();
    let tail = s.get(&format!("/api/v1/runs/{id}/log?tail=5"), Some(&tok));
    assert_eq!(tail.body, "done\n");
    let rest = s.get(&format!("/api/v1/runs/{id}/log?offset={next}"), Some(&tok));
    assert_eq!(rest.body, "");
    let followed = s.get(&format!("/api/v1/runs/{id}/log?follow=true"), Some(&tok));
    assert_eq!(
        followed.body, log.body,
        "a followed log of an ended run: all of it"
    );
    let page = s.get("/api/v1/runs?job=hello", Some(&tok)).json();
    assert_eq!(page["runs"][0]["run_id"], json!(id));
    let m = s.get("/metrics", Some(&tok));
    assert!(
        m.body
            .contains("jobctl_runs{job=\"hello\",status=\"succeeded\"} 1"),
        "{}",
        m.body
    );

    // Submitted on b's server, with metadata and a key.
    let body = r#"{"job": "meta", "metadata": {"ticket": "OPS-9"}}"#;
    let key = [("Idempotency-Key", "ops-9")];
    let r = s.request("POST", "/api/v1/runs", Some(&tok), Some(body), &key);
    assert_eq!(r.status, 202, "{}", r.body);
    let sub = r.json()["run_id"].as_i64().unwrap();
    let doc = wait_ended(&s.api(&tok), sub, LIMIT);
    assert_eq!(doc["status"], "succeeded", "{doc:#}");
    assert_eq!(doc["metadata"], json!({"ticket": "OPS-9"}));
    let out = s.get(&format!("/api/v1/runs/{sub}/log"), Some(&tok));
    assert_eq!(
        serde_json::from_str::<Value>(&out.body).unwrap(),
        json!({"ticket": "OPS-9"})
    );

    // Host a's server answers the same key with the first answer: one run, not two.
    let tok_a = token(&a, &["--scope", "write", "--sub", "ops"]);
    let sa = Server::start(&a);
    let again = sa.request("POST", "/api/v1/runs", Some(&tok_a), Some(body), &key);
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.json()["run_id"], json!(sub));
    let meta_runs = s.get("/api/v1/runs?job=meta", Some(&tok)).json();
    assert_eq!(
        meta_runs["runs"].as_array().unwrap().len(),
        1,
        "{meta_runs:#}"
    );

    // Forced over b's API: it runs on b, its supervisor handed b's lease in the database.
    let f = s.post("/api/v1/jobs/hello/run", Some(&tok), None);
    assert_eq!(f.status, 202, "{}", f.body);
    let forced = f.json()["run_id"].as_i64().unwrap();
    let doc = wait_ended(&s.api(&tok), forced, LIMIT);
    assert_eq!(
        (&doc["status"], &doc["trigger"]),
        (&json!("succeeded"), &json!("forced"))
    );
    let path = std::path::PathBuf::from(doc["log_path"].as_str().unwrap());
    assert!(path.starts_with(b.home()), "run on b: {path:?}");
    let log = s.get(&format!("/api/v1/runs/{forced}/log"), Some(&tok));
    assert_eq!(log.body, format!("hello from {forced}\ndone\n"));

    // A run on host a paused, resumed and cancelled from b's server: a's supervisor
    // hears of each through its lease.
    let o = a.run(&["submit", "long"]);
    ok(&o);
    let long: i64 = stdout(&o).trim().parse().unwrap();
    wait_for("the long run's processes on a", LIMIT, || {
        let (live, _) = run_processes(&a.state_dir(), long);
        (live.len() >= 2).then_some(())
    });
    let p = s.post(&format!("/api/v1/runs/{long}/pause"), Some(&tok), None);
    assert_eq!(
        (p.status, &p.json()["status"]),
        (200, &json!("paused")),
        "{}",
        p.body
    );
    // The state letter of each process of the run now (`T`: stopped): the shell and its
    // `sleep 120` at least.
    let states = || -> Vec<char> {
        run_processes(&a.state_dir(), long)
            .0
            .iter()
            .filter_map(|pid| {
                let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                st.rfind(')').and_then(|i| st[i + 2..].chars().next())
            })
            .collect()
    };
    let now = states();
    assert!(
        now.len() >= 2 && now.iter().all(|c| *c == 'T'),
        "every process of the run on a is stopped: {now:?}"
    );
    let r = s.post(&format!("/api/v1/runs/{long}/resume"), Some(&tok), None);
    assert_eq!(
        (r.status, &r.json()["status"]),
        (200, &json!("running")),
        "{}",
        r.body
    );
    let now = states();
    assert!(!now.contains(&'T'), "every process continued: {now:?}");
    let c = s.post(&format!("/api/v1/runs/{long}/cancel"), Some(&tok), None);
    assert_eq!(
        (c.status, &c.json()["status"]),
        (200, &json!("cancelled")),
        "{}",
        c.body
    );
    wait_for("no process of the run left on a", LIMIT, || {
        run_processes(&a.state_dir(), long)
            .0
            .is_empty()
            .then_some(())
    });
    let evs = s
        .get(&format!("/api/v1/runs/{long}/events"), Some(&tok))
        .json();
    let paused = evs
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to"] == "paused")
        .unwrap_or_else(|| panic!("{evs:#}"));
    assert_eq!(
        (&paused["by"], &paused["subject"]),
        (&json!("api"), &json!("ops"))
    );
}

/// The backends of jobctl processes connected to the test's database.
fn jobctl_backends(c: &mut postgres::Client) -> Vec<i32> {
    c.query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = 'jobctl' ORDER BY pid",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn a_server_keeps_its_connections_and_replaces_the_ones_it_loses() {
    let _one = one_at_a_time();
    let Some(db) = db("the API's connections to a shared state", Via::Direct) else {
        return;
    };
    let a = host(
        &db,
        "ha",
        "[jobs.hello]\ntype = \"script\"\ncommand = \"echo hello\"\n",
    );
    let _sweep = Sweep::new(&a);
    let tok = token(&a, &["--scope", "write"]);
    let s = Server::start(&a);
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();

    // After one request: the event log's follower and the connection kept for the next.
    assert_eq!(s.get("/api/v1/runs", Some(&tok)).status, 200);
    let kept = wait_for("the server's two connections", LIMIT, || {
        let b = jobctl_backends(&mut c);
        (b.len() == 2).then_some(b)
    });
    for path in ["/api/v1/runs?limit=50", "/api/v1/jobs", "/api/v1/status"].repeat(10) {
        let r = s.get(path, Some(&tok));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    assert_eq!(
        jobctl_backends(&mut c),
        kept,
        "30 requests were served on the kept connection, none opened another"
    );

    // The database drops every connection of the server (a restart, a pooler, the network).
    for pid in &kept {
        c.execute("SELECT pg_terminate_backend($1)", &[pid])
            .unwrap();
    }
    wait_for("the dropped connections to go", LIMIT, || {
        jobctl_backends(&mut c)
            .iter()
            .all(|p| !kept.contains(p))
            .then_some(())
    });
    // The next request gets a working connection, not the dead one.
    let r = s.get("/api/v1/runs", Some(&tok));
    assert_eq!(r.status, 200, "{}", r.body);
    // The event log is followed again: a run's events reach a stream opened now. (Read on
    // a thread: keep-alives would hold a read that waits for an event that never comes.)
    let mut stream = SseStream::open(
        &s.base,
        "/api/v1/events/stream",
        &tok,
        None,
        Duration::from_secs(20),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        while let Some(ev) = stream.next_event() {
            if tx.send(ev).is_err() {
                return;
            }
        }
    });
    let f = s.post("/api/v1/jobs/hello/run", Some(&tok), None);
    assert_eq!(f.status, 202, "{}", f.body);
    let id = f.json()["run_id"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ev = rx
            .recv_timeout(left)
            .expect("the run's end reaches the stream: the event log is followed again");
        if ev.event == "run.ended" && ev.data["run_id"] == json!(id) {
            break;
        }
    }
    assert_eq!(wait_ended(&s.api(&tok), id, LIMIT)["status"], "succeeded");
    assert!(
        s.log().contains("can't read the event log (trying again)")
            && s.log().contains("reading the event log again after"),
        "the follower says when it lost the event log and when it reads it again:\n{}",
        s.log()
    );
}
