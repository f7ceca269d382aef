//! The live event stream of `jobctl serve` (api.md, "Live events") over real HTTP: a client
//! that reconnects with `Last-Event-ID` while events are produced misses and repeats
//! nothing; 50 clients at once each get the whole log in order; a run's stream ends with
//! its final event; idle streams get keep-alives; SIGTERM closes open streams and exits 0.
//! Events are produced by the real CLI (pausing and resuming a job, forcing runs).

use crate::support::*;

use crate::support::server::{Server, SseEvent, SseStream, token};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const IDLE: Duration = Duration::from_secs(30);

fn setup() -> (Env, Server, String) {
    let env = Env::new();
    env.config(&format!(
        "{}\n[jobs.quick]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1d\"\n\n\
         [jobs.slow]\ntype = \"script\"\ncommand = \"sleep 1\"\nevery = \"1d\"\n",
        runner(&env, "")
    ));
    let read = token(&env, &["--scope", "read"]);
    let s = Server::start(&env);
    (env, s, read)
}

/// Ids of the event log after `after`, straight from the store.
fn stored_ids(env: &Env, after: i64) -> Vec<i64> {
    env.store()
        .events_after(None, after, 1_000_000)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
}

fn last_id(env: &Env) -> i64 {
    env.store().last_event_id().unwrap()
}

/// Pauses and resumes the job `quick` with the CLI until `n` events were made.
fn produce(env: &Env, n: usize) {
    for i in 0..n {
        let flag = if i % 2 == 0 { "--pause" } else { "--resume" };
        ok(&env.run(&["configure", "job", "quick", flag]));
    }
}

#[test]
fn a_reconnecting_client_loses_and_repeats_nothing_while_200_events_are_made() {
    let (env, s, read) = setup();
    let start = last_id(&env);
    let producing = Arc::new(AtomicBool::new(true));
    let env = Arc::new(env);
    let producer = {
        let env = env.clone();
        let producing = producing.clone();
        std::thread::spawn(move || {
            produce(&env, 200);
            producing.store(false, Ordering::SeqCst);
        })
    };
    let mut got: Vec<SseEvent> = Vec::new();
    let mut reconnects = 0;
    let mut after = start;
    let target = start + 200;
    while after < target {
        // Start from the beginning once with ?after=, then always with Last-Event-ID.
        let mut st = if got.is_empty() {
            SseStream::open(
                &s.base,
                &format!("/api/v1/events/stream?after={start}"),
                &read,
                None,
                IDLE,
            )
        } else {
            SseStream::open(&s.base, "/api/v1/events/stream", &read, Some(after), IDLE)
        };
        // Read a few, then drop the connection mid-stream.
        for _ in 0..(7 + reconnects % 13) {
            let Some(ev) = st.next_event() else { break };
            after = ev.id;
            got.push(ev);
            if after >= target {
                break;
            }
        }
        reconnects += 1;
    }
    producer.join().unwrap();
    assert!(!producing.load(Ordering::SeqCst));
    let ids: Vec<i64> = got.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        stored_ids(&env, start),
        "after {reconnects} reconnects"
    );
    assert!(reconnects >= 10, "only {reconnects} reconnects");
    for ev in &got {
        assert!(
            ev.event == "job.paused" || ev.event == "job.resumed",
            "{ev:?}"
        );
        assert_eq!(ev.data["id"], ev.id);
        assert_eq!(ev.data["job"], "quick");
    }
}

#[test]
fn fifty_clients_at_once_each_get_every_event_in_order() {
    let (env, s, read) = setup();
    let start = last_id(&env);
    let clients: Vec<_> = (0..50)
        .map(|_| {
            SseStream::open(
                &s.base,
                &format!("/api/v1/events/stream?after={start}"),
                &read,
                None,
                IDLE,
            )
        })
        .collect();
    produce(&env, 40);
    ok(&env.run(&["force", "quick"]));
    let expected = stored_ids(&env, start);
    assert!(expected.len() >= 42, "{expected:?}");
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut st| {
            let want = expected.clone();
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                while ids.len() < want.len() {
                    match st.next_event() {
                        Some(ev) => ids.push(ev.id),
                        None => break,
                    }
                }
                ids
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), expected);
    }
}

#[test]
fn a_runs_stream_ends_with_its_final_event() {
    let (env, s, read) = setup();
    let write = token(&env, &["--scope", "write"]);
    let r = s.post("/api/v1/jobs/slow/run", Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    let mut st = SseStream::open(
        &s.base,
        &format!("/api/v1/events/stream?run={id}"),
        &read,
        None,
        IDLE,
    );
    let mut kinds = Vec::new();
    while let Some(ev) = st.next_event() {
        assert_eq!(ev.data["run_id"], id, "{ev:?}");
        kinds.push(ev.event);
    }
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("run.started"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("run.ended"),
        "{kinds:?}"
    );
    // Asked again after the end: the whole story, then the end again.
    let mut again = SseStream::open(
        &s.base,
        &format!("/api/v1/events/stream?run={id}"),
        &read,
        None,
        IDLE,
    );
    let mut n = 0;
    while again.next_event().is_some() {
        n += 1;
    }
    assert_eq!(n, kinds.len());
}

#[test]
fn an_idle_stream_gets_keep_alives_and_proxy_headers() {
    let (_env, s, read) = setup();
    let missing = s.get("/api/v1/events/stream?run=0", Some(&read));
    assert_eq!(missing.status, 404, "{}", missing.body);
    let mut st = SseStream::open(
        &s.base,
        "/api/v1/events/stream",
        &read,
        None,
        Duration::from_secs(25),
    );
    assert_eq!(st.header("x-accel-buffering"), Some("no"));
    assert_eq!(
        st.header("content-encoding"),
        None,
        "an event stream is never compressed"
    );
    assert_eq!(st.header("cache-control"), Some("no-cache"));
    // Nothing happens: the first thing on the wire is a keep-alive, 15 s in.
    let started = std::time::Instant::now();
    assert!(st.next_is_comment(), "no keep-alive");
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_secs(10) && waited < Duration::from_secs(20),
        "a keep-alive after {waited:?}"
    );
}

#[test]
fn sigterm_closes_open_streams_and_exits_zero() {
    let (_env, s, read) = setup();
    let mut st = SseStream::open(&s.base, "/api/v1/events/stream", &read, None, IDLE);
    let reader = std::thread::spawn(move || st.next_event());
    assert_eq!(s.stop(), 0);
    wait_for("the stream to close", Duration::from_secs(10), || {
        reader.is_finished().then_some(())
    });
    assert_eq!(
        reader.join().unwrap(),
        None,
        "the stream ended without an event"
    );
}
