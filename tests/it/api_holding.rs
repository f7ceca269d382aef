//! `jobctl serve` against hostile and unlucky clients (api.md, "Holding up"), over raw
//! sockets: half-sent heads, trickled bodies and idle connections are cut off in time; past
//! the connection limit new connections get 503 at once while open ones go on; 300
//! half-open sockets under a limit of 256 descriptors leave it answering; an event stream
//! ends with its token (expiry, rotation); SIGTERM ends followed logs and streams within
//! 2 s; idempotency tells requests apart by SHA-256 and locks per key.

use crate::support::*;

use crate::support::server::{Server, SseFrame, SseStream, token};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

fn config(env: &Env) -> String {
    format!(
        "{}\n[jobs.hello]\ntype = \"script\"\ncommand = \"echo hello\"\nevery = \"1d\"\n\n\
         [jobs.other]\ntype = \"script\"\ncommand = \"echo other\"\nevery = \"1d\"\n\n\
         [jobs.chatty]\ntype = \"script\"\ncommand = \"while :; do echo tick; sleep 0.2; done\"\nevery = \"1d\"\n",
        runner(env, "")
    )
}

fn setup() -> (Env, String, String) {
    let env = Env::new();
    env.config(&config(&env));
    let write = token(&env, &["--scope", "write", "--sub", "tester"]);
    let read = token(&env, &["--scope", "read", "--sub", "viewer"]);
    (env, write, read)
}

/// `jobctl serve` with its timeouts shortened (`header=1s,body=2s,...`) and `extra` flags.
fn serve_with(env: &Env, timeouts: &str, extra: &[&str]) -> Server {
    let mut cmd = Server::command(env, extra);
    cmd.env("JOBCTL_HTTP_TIMEOUTS", timeouts);
    Server::spawn(cmd)
}

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// One answer read off a raw connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A keep-alive HTTP/1.1 connection driven by hand.
struct Raw {
    s: TcpStream,
}

impl Raw {
    fn connect(s: &Server) -> Raw {
        let s = TcpStream::connect(addr(s)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Raw { s }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write to the server");
    }

    fn request(&mut self, method: &str, path: &str, tok: Option<&str>, body: &str) -> Answer {
        let auth = tok
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.send(req.as_bytes());
        self.answer()
    }

    /// Reads one answer (with a `content-length`).
    fn answer(&mut self) -> Answer {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = self.s.read(&mut byte).expect("read an answer's head");
            assert!(
                n == 1,
                "the connection closed mid-head: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let status = head[9..12].parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no content-length: {head}"));
        let mut body = vec![0u8; len];
        self.s.read_exact(&mut body).expect("read an answer's body");
        Answer {
            status,
            head,
            body: String::from_utf8(body).unwrap(),
        }
    }

    /// Asserts that the server closes the connection no sooner than `early` and no later
    /// than `late` after `since`.
    fn closes_between(&mut self, since: Instant, early: Duration, late: Duration, what: &str) {
        assert!(
            !self.closed_within(early.saturating_sub(since.elapsed())),
            "{what} was closed after {:?}, before {early:?}",
            since.elapsed()
        );
        assert!(
            self.closed_within(late.saturating_sub(since.elapsed())),
            "{what} is still open after {:?}",
            since.elapsed()
        );
    }

    /// Whether the server closed the connection within `wait` (an end of file or a reset;
    /// bytes that come first are skipped).
    fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(e) => panic!("reading: {e}"),
            }
        }
    }
}

/// Half of a request head: never finished.
const HALF_HEAD: &[u8] = b"GET /api/v1/jobs HTTP/1.1\r\nHost: test\r\nX-Slow: ";

#[test]
fn a_half_sent_head_and_a_silent_connection_are_cut_off_at_ten_seconds() {
    let (env, _write, _read) = setup();
    let s = Server::start(&env);
    let started = Instant::now();
    let mut half = Raw::connect(&s);
    half.send(HALF_HEAD);
    let mut silent = Raw::connect(&s);
    let (early, late) = (Duration::from_secs(9), Duration::from_secs(13));
    half.closes_between(started, early, late, "a connection holding half a head");
    silent.closes_between(started, early, late, "a connection that sent nothing");
    assert_eq!(s.get("/healthz", None).status, 200);
}

#[test]
fn a_trickled_body_and_an_idle_connection_are_cut_off_and_an_idle_one_may_still_ask() {
    let (env, write, read) = setup();
    let s = serve_with(&env, "header=1s,body=2s,idle=5s", &[]);

    // Idle after an answer: open past the header timeout, closed at the idle one.
    let mut idle = Raw::connect(&s);
    assert_eq!(idle.request("GET", "/healthz", None, "").status, 200);
    idle.closes_between(
        Instant::now(),
        Duration::from_millis(4500),
        Duration::from_secs(8),
        "an idle keep-alive connection",
    );

    // A keep-alive connection's next request, after a while idle: served; a next head
    // sent by halves is cut off at the header timeout from its first byte.
    let mut again = Raw::connect(&s);
    assert_eq!(again.request("GET", "/healthz", None, "").status, 200);
    assert!(!again.closed_within(Duration::from_millis(1500)));
    let r = again.request("GET", "/api/v1/jobs", Some(&read), "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!again.closed_within(Duration::from_millis(1500)));
    again.send(HALF_HEAD);
    again.closes_between(
        Instant::now(),
        Duration::from_millis(800),
        Duration::from_secs(3),
        "half a head after an idle wait",
    );

    // A body trickled a byte at a time, each well within the timeout: 408 at the body
    // timeout, and the connection closed.
    let mut slow = Raw::connect(&s);
    slow.send(
        format!(
            "POST /api/v1/jobs/hello/pause HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {write}\r\n\
             Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
        )
        .as_bytes(),
    );
    let mut trickle = slow.s.try_clone().unwrap();
    let sent = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let trickler = std::thread::spawn(move || {
        while !stopped.load(Ordering::SeqCst) && trickle.write_all(b" ").is_ok() {
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let a = slow.answer();
    stop.store(true, Ordering::SeqCst);
    trickler.join().unwrap();
    assert_eq!(a.status, 408, "{a:?}");
    assert_eq!(a.json()["error"]["code"], "REQUEST_TIMEOUT");
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(slow.closed_within(Duration::from_secs(3)));
    let job = s.get("/api/v1/jobs/hello", Some(&read)).json();
    assert_eq!(job["paused"], false, "the cut-off request acted: {job}");
}

#[test]
fn past_the_connection_limit_new_connections_get_503_at_once_and_open_ones_go_on() {
    let (env, write, read) = setup();
    let s = serve_with(&env, "header=60s", &["--max-connections", "6"]);
    let mut open = Raw::connect(&s);
    assert_eq!(open.request("GET", "/healthz", None, "").status, 200);
    let mut stream = events(&s, &read);
    let holders: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    // Each new connection now: 503 at once, the error document, closed.
    for _ in 0..3 {
        let t = Instant::now();
        let mut late = Raw::connect(&s);
        let a = late.request("GET", "/healthz", None, "");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(a.status, 503, "{a:?}");
        assert_eq!(a.json()["error"]["code"], "UNAVAILABLE");
        assert!(a.head.to_ascii_lowercase().contains("retry-after: 1"));
        assert!(late.closed_within(Duration::from_secs(2)));
    }
    // The connections already open go on: the health check, a read, a write, the stream.
    assert_eq!(open.request("GET", "/healthz", None, "").status, 200);
    let jobs = open.request("GET", "/api/v1/jobs", Some(&read), "");
    assert_eq!(jobs.status, 200, "{}", jobs.body);
    let paused = open.request("POST", "/api/v1/jobs/hello/pause", Some(&write), "");
    assert_eq!(paused.status, 200, "{}", paused.body);
    let ev = stream.next_event().expect("an event on the open stream");
    assert_eq!(
        (ev.event.as_str(), &ev.data["job"]),
        ("job.paused", &Value::from("hello"))
    );
    // Room again once some leave.
    drop(holders);
    wait_for(
        "a new connection to be served",
        Duration::from_secs(10),
        || {
            let mut c = Raw::connect(&s);
            (c.request("GET", "/healthz", None, "").status == 200).then_some(())
        },
    );
}

/// CPU seconds the process has used (user + system).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// Sets the open-file limit of the process `pid` (the soft one; the hard one is 256).
fn limit_files(pid: u32, n: u64) {
    let lim = nix::libc::rlimit {
        rlim_cur: n,
        rlim_max: 256,
    };
    // SAFETY: prlimit reads `lim` and writes nothing (no old limit asked for).
    let rc = unsafe {
        nix::libc::prlimit(
            pid as i32,
            nix::libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn three_hundred_half_open_sockets_under_256_descriptors_leave_the_server_answering() {
    let (env, write, read) = setup();
    let _sweep = Sweep::new(&env);
    let mut cmd = Server::command(&env, &[]);
    cmd.env("JOBCTL_HTTP_TIMEOUTS", "header=8s");
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 256, 256)
                .map_err(std::io::Error::from)
        });
    }
    let s = Server::spawn(cmd);
    let mut open = Raw::connect(&s);
    assert_eq!(open.request("GET", "/healthz", None, "").status, 200);
    let mut stream = events(&s, &read);

    let cpu_before = cpu_seconds(s.pid());
    let flood_started = Instant::now();
    let flood: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut c = TcpStream::connect(addr(&s)).expect("connect a half-open socket");
            let _ = c.write_all(HALF_HEAD);
            c
        })
        .collect();
    // The open connection goes on: the health check, reads, a write that starts a run.
    for _ in 0..3 {
        assert_eq!(open.request("GET", "/healthz", None, "").status, 200);
        let jobs = open.request("GET", "/api/v1/jobs", Some(&read), "");
        assert_eq!(jobs.status, 200, "{}", jobs.body);
    }
    let forced = open.request("POST", "/api/v1/jobs/hello/run", Some(&write), "");
    assert_eq!(forced.status, 202, "{}\n{}", forced.body, s.log());
    let id = forced.json()["run_id"].as_i64().unwrap();
    let ended = wait_for("the run to end", Duration::from_secs(20), || {
        let r = open.request("GET", &format!("/api/v1/runs/{id}"), Some(&read), "");
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        status_of(&v).is_end().then_some(v)
    });
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let ev = stream.next_event().expect("the open stream goes on");
    assert_eq!(ev.data["run_id"], id);
    // A new connection meanwhile is answered at once (503 while the sockets hold it all).
    let t = Instant::now();
    let mut late = Raw::connect(&s);
    let a = late.request("GET", "/healthz", None, "");
    assert!(matches!(a.status, 200 | 503), "{a:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Nothing spins.
    let cpu = cpu_seconds(s.pid()) - cpu_before;
    assert!(
        cpu < 1.5,
        "{cpu} CPU seconds over {:?}",
        flood_started.elapsed()
    );
    // The half-open sockets are cut off at the header timeout; then new connections are
    // served again.
    wait_for(
        "new connections to be served",
        Duration::from_secs(15),
        || {
            let mut c = Raw::connect(&s);
            (c.request("GET", "/healthz", None, "").status == 200).then_some(())
        },
    );
    drop(flood);

    // Out of descriptors altogether: accept fails with EMFILE; the server neither spins
    // nor stops, and serves new connections once descriptors are free.
    let used = std::fs::read_dir(format!("/proc/{}/fd", s.pid()))
        .unwrap()
        .count() as u64;
    limit_files(s.pid(), used + 2);
    let cpu_before = cpu_seconds(s.pid());
    let starved: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        assert_eq!(open.request("GET", "/healthz", None, "").status, 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    let cpu = cpu_seconds(s.pid()) - cpu_before;
    assert!(cpu < 1.0, "{cpu} CPU seconds out of descriptors");
    drop(starved);
    limit_files(s.pid(), 256);
    wait_for(
        "new connections to be served",
        Duration::from_secs(15),
        || {
            let mut c = Raw::connect(&s);
            (c.request("GET", "/healthz", None, "").status == 200).then_some(())
        },
    );
    assert_eq!(s.stop(), 0);
}

/// Pauses and resumes the job `other` with the CLI, an event every 200 ms or so, until
/// dropped.
struct Producer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Producer {
    fn start(env: &Arc<Env>) -> Producer {
        let stop = Arc::new(AtomicBool::new(false));
        let (env, stopped) = (env.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut i = 0;
            while !stopped.load(Ordering::SeqCst) {
                let flag = if i % 2 == 0 { "--pause" } else { "--resume" };
                ok(&env.run(&["configure", "job", "other", flag]));
                i += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Producer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The event stream, opened with `tok`.
fn events(s: &Server, tok: &str) -> SseStream {
    SseStream::open(
        &s.base,
        "/api/v1/events/stream",
        tok,
        None,
        Duration::from_secs(15),
    )
}

/// Reads the stream up to its event without an id, its last word (`each` checks every
/// event before it); that event, after which the stream must end.
fn last_word(st: &mut SseStream, mut each: impl FnMut()) -> SseFrame {
    let last = loop {
        let f = st
            .next_frame()
            .expect("the stream ended without an auth event");
        if f.id.is_none() {
            break f;
        }
        each();
    };
    assert_eq!(last.event, "auth", "{last:?}");
    assert!(st.next_frame().is_none(), "more after the auth event");
    last
}

#[test]
fn an_event_stream_ends_when_its_token_expires() {
    let (env, _write, _read) = setup();
    let s = Server::start(&env);
    let made = Instant::now();
    let short = token(&env, &["--scope", "read", "--ttl", "6s"]);
    let _producer = Producer::start(&Arc::new(env));
    let mut st = events(&s, &short);
    let mut seen = 0;
    let last = last_word(&mut st, || {
        seen += 1;
        assert!(
            made.elapsed() < Duration::from_secs(7),
            "an event at {:?} on a 6 s token",
            made.elapsed()
        );
    });
    assert_eq!(last.data["reason"], "token_expired", "{last:?}");
    assert!(last.data["message"].as_str().unwrap().contains("expired"));
    let took = made.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert!(seen >= 5, "only {seen} events before the end");
}

#[test]
fn an_event_stream_ends_when_the_key_is_rotated() {
    let (env, _write, read) = setup();
    let s = Server::start(&env);
    let env = Arc::new(env);
    let _producer = Producer::start(&env);
    let mut st = events(&s, &read);
    assert!(st.next_event().is_some());
    ok(&env.run(&["token", "rotate"]));
    let rotated = Instant::now();
    let last = last_word(&mut st, || {
        assert!(
            rotated.elapsed() < Duration::from_secs(3),
            "events {:?} after the key was rotated",
            rotated.elapsed()
        );
    });
    assert_eq!(last.data["reason"], "key_rotated", "{last:?}");
    assert!(
        rotated.elapsed() < Duration::from_secs(3),
        "{:?}",
        rotated.elapsed()
    );
}

#[test]
fn sigterm_ends_a_followed_log_and_streams_and_exits_zero_within_two_seconds() {
    let (env, write, read) = setup();
    let _sweep = Sweep::new(&env);
    let s = Server::start(&env);
    let r = s.post("/api/v1/jobs/chatty/run", Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    // The console's run page: the log followed, and the event stream.
    let mut log = Raw::connect(&s);
    log.send(
        format!(
            "GET /api/v1/runs/{id}/log?follow=true HTTP/1.1\r\nHost: test\r\n\
             Authorization: Bearer {read}\r\n\r\n"
        )
        .as_bytes(),
    );
    let mut got = Vec::new();
    wait_for(
        "the followed log to stream",
        Duration::from_secs(10),
        || {
            let mut buf = [0u8; 4096];
            let n = log.s.read(&mut buf).expect("read the followed log");
            got.extend_from_slice(&buf[..n]);
            (String::from_utf8_lossy(&got).matches("tick").count() >= 2).then_some(())
        },
    );
    let mut streams: Vec<_> = (0..3)
        .map(|_| {
            let mut st = events(&s, &read);
            std::thread::spawn(move || while st.next_frame().is_some() {})
        })
        .collect();
    let pid = s.pid();
    let asked = Instant::now();
    let code = s.stop();
    let took = asked.elapsed();
    assert_eq!(code, 0, "jobctl serve did not exit by itself (pid {pid})");
    assert!(took < Duration::from_secs(2), "exited after {took:?}");
    assert!(
        log.closed_within(Duration::from_secs(1)),
        "the followed log is still open"
    );
    for st in streams.drain(..) {
        wait_for("the stream to end", Duration::from_secs(2), || {
            st.is_finished().then_some(())
        });
    }
    // The run goes on without the server.
    let run = env.store().get_run(id).unwrap().unwrap();
    assert_eq!(run.status, jobctl::core::run::RunStatus::Running);
}

/// A body for the job `other` whose CRC32 is that of `first`: a run of padding letters in
/// its metadata, each `a` or `q` (one bit apart), chosen by solving the CRC's linear
/// equations over GF(2).
fn same_crc32(first: &[u8]) -> Vec<u8> {
    const PAD: usize = 64;
    let body = |bits: u64| {
        let pad: String = (0..PAD)
            .map(|i| if bits >> i & 1 == 1 { 'q' } else { 'a' })
            .collect();
        format!(r#"{{"job":"other","metadata":{{"pad":"{pad}"}}}}"#).into_bytes()
    };
    let base = crc32fast::hash(&body(0));
    let target = crc32fast::hash(first) ^ base;
    // Each flip's effect on the CRC (same length: the CRC is affine in the bits).
    let mut rows: Vec<(u32, u64)> = (0..PAD)
        .map(|i| (crc32fast::hash(&body(1 << i)) ^ base, 1u64 << i))
        .collect();
    let mut want = (target, 0u64);
    for bit in (0..32).rev() {
        let Some(p) = rows.iter().position(|r| r.0 >> bit & 1 == 1) else {
            continue;
        };
        let pivot = rows.remove(p);
        for r in rows.iter_mut().filter(|r| r.0 >> bit & 1 == 1) {
            *r = (r.0 ^ pivot.0, r.1 ^ pivot.1);
        }
        if want.0 >> bit & 1 == 1 {
            want = (want.0 ^ pivot.0, want.1 ^ pivot.1);
        }
    }
    assert_eq!(want.0, 0, "no padding gives that CRC32");
    let forged = body(want.1);
    assert_eq!(crc32fast::hash(&forged), crc32fast::hash(first));
    forged
}

#[test]
fn a_body_with_the_same_crc32_under_the_same_key_is_another_request() {
    let (env, write, read) = setup();
    let _sweep = Sweep::new(&env);
    let s = Server::start(&env);
    let first = br#"{"job":"hello"}"#;
    let forged = same_crc32(first);
    let key = [("Idempotency-Key", "crafted-1")];
    let a = s.request(
        "POST",
        "/api/v1/runs",
        Some(&write),
        Some(std::str::from_utf8(first).unwrap()),
        &key,
    );
    assert_eq!(a.status, 202, "{}", a.body);
    let b = s.request(
        "POST",
        "/api/v1/runs",
        Some(&write),
        Some(std::str::from_utf8(&forged).unwrap()),
        &key,
    );
    assert_eq!(
        b.status, 422,
        "the forged body got {}: {}",
        b.status, b.body
    );
    assert_eq!(b.error_code(), "UNPROCESSABLE");
    let again = s.request(
        "POST",
        "/api/v1/runs",
        Some(&write),
        Some(std::str::from_utf8(first).unwrap()),
        &key,
    );
    assert_eq!((again.status, again.body.clone()), (202, a.body.clone()));
    let runs = s.get("/api/v1/runs?job=other", Some(&read)).json();
    assert_eq!(
        runs["runs"],
        Value::Array(vec![]),
        "the forged request acted"
    );
}

#[test]
fn a_keyed_cancel_waiting_on_a_slow_stop_does_not_delay_another_key() {
    let env = Env::new();
    env.config(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"4s\"\nenv = { PATH = \"/usr/bin:/bin\" }\n\n\
         [jobs.stubborn]\ntype = \"script\"\ncommand = \"trap '' TERM; sleep 300\"\nevery = \"1d\"\n\n\
         [jobs.other]\ntype = \"script\"\ncommand = \"echo other\"\nevery = \"1d\"\n",
    );
    let _sweep = Sweep::new(&env);
    let write = token(&env, &["--scope", "write"]);
    let s = Arc::new(Server::start(&env));
    let r = s.post("/api/v1/jobs/stubborn/run", Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    wait_for("the job's process", Duration::from_secs(10), || {
        (!run_processes(&env.state_dir(), id).0.is_empty()).then_some(())
    });
    let cancel = {
        let (s, write) = (s.clone(), write.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let r = s.request(
                "POST",
                &format!("/api/v1/runs/{id}/cancel"),
                Some(&write),
                None,
                &[("Idempotency-Key", "cancel-stubborn")],
            );
            (r, t.elapsed())
        })
    };
    // The cancel is under way: it asked the run to stop, which takes its grace.
    wait_for("the cancel to be asked", Duration::from_secs(10), || {
        let evs = s
            .get(&format!("/api/v1/runs/{id}/events"), Some(&write))
            .json();
        evs.as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "cancel_requested")
            .then_some(())
    });
    let t = Instant::now();
    let other = s.request(
        "POST",
        "/api/v1/jobs/other/pause",
        Some(&write),
        None,
        &[("Idempotency-Key", "pause-other")],
    );
    let took = t.elapsed();
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(
        !cancel.is_finished(),
        "the cancel ended before the other key was answered"
    );
    assert!(
        took < Duration::from_secs(2),
        "another key waited {took:?} for the cancel"
    );
    let (c, cancel_took) = cancel.join().unwrap();
    assert_eq!(c.status, 200, "{}", c.body);
    assert!(cancel_took >= Duration::from_secs(3), "{cancel_took:?}");
}

/// An `Idempotency-Key` the OpenAPI document's pattern refuses is refused (400), before
/// anything runs: a tab inside (which HTTP's own header rules let through), 201
/// characters; one it accepts, with a space inside, is taken.
#[test]
fn an_idempotency_key_outside_its_declared_pattern_is_refused() {
    let (env, write, _read) = setup();
    let _sweep = Sweep::new(&env);
    let s = Server::start(&env);
    let long = "k".repeat(201);
    for bad in ["a\tb", long.as_str()] {
        let r = s.request(
            "POST",
            "/api/v1/jobs/hello/run",
            Some(&write),
            None,
            &[("Idempotency-Key", bad)],
        );
        assert_eq!(r.status, 400, "{bad:?}: {}", r.body);
    }
    assert!(env.history_json(&[]).is_empty(), "a refused request ran");
    let ok = s.request(
        "POST",
        "/api/v1/jobs/hello/run",
        Some(&write),
        None,
        &[("Idempotency-Key", "a key")],
    );
    assert_eq!(ok.status, 202, "{}", ok.body);
}
