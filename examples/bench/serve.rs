//! B11–B13: `jobctl serve` under load. The real server on a loopback port, real HTTP
//! clients (ureq), events made by the real CLI.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::fixtures::Fixture;

pub struct Numbers {
    /// B11: event commit → SSE client, milliseconds.
    pub latency_p50: f64,
    pub latency_p95: f64,
    pub events: usize,
    /// B12: `GET /api/v1/runs?limit=50`, median milliseconds.
    pub page_median: f64,
    /// B13: the server's RSS with 100 streams open, and before any, MiB.
    pub rss_100: f64,
    pub rss_idle: f64,
}

pub(super) struct Server {
    child: Child,
    pub(super) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

pub(super) fn start(bin: &Path, f: &Fixture) -> Result<Server> {
    let mut child = Command::new(bin)
        .args([
            "--config",
            super::s(&f.config),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("JOBCTL_HOME", &f.home)
        .env("JOBCTL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let err = child.stderr.take().context("server stderr")?;
    let mut lines = BufReader::new(err).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(a) = l.split("serving on http://").nth(1) {
                    break a.trim().to_string();
                }
            }
            _ => bail!("jobctl serve did not start"),
        }
    };
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        base: format!("http://{addr}"),
    })
}

pub(super) fn token(bin: &Path, f: &Fixture) -> Result<String> {
    let out = Command::new(bin)
        .args([
            "--config",
            super::s(&f.config),
            "token",
            "create",
            "--scope",
            "read",
        ])
        .env("JOBCTL_HOME", &f.home)
        .output()?;
    if !out.status.success() {
        bail!("token create: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

pub(super) fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("no VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib / 1024.0)
}

/// An open event stream: its lines, read on a thread of their own.
fn open_stream(base: &str, token: &str, after: Option<i64>) -> Result<Box<dyn BufRead + Send>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut req = agent
        .get(format!("{base}/api/v1/events/stream"))
        .header("Authorization", format!("Bearer {token}"));
    if let Some(a) = after {
        req = req.header("Last-Event-ID", a.to_string());
    }
    let resp = req.call()?;
    Ok(Box::new(BufReader::new(resp.into_body().into_reader())))
}

pub fn measure(bin: &Path, small: &Fixture, big: &Fixture) -> Result<Numbers> {
    // B12: a page of runs from 1,000,000.
    let server = start(bin, big)?;
    let tok = token(bin, big)?;
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let get = |path: &str| -> Result<f64> {
        let t = Instant::now();
        let mut resp = agent
            .get(format!("{}{path}", server.base))
            .header("Authorization", format!("Bearer {tok}"))
            .call()?;
        let body = resp.body_mut().read_to_string()?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if !body.contains("\"run_id\"") {
            bail!("GET {path}: no runs in {body:.200}");
        }
        Ok(ms)
    };
    for _ in 0..5 {
        get("/api/v1/runs?limit=50")?;
    }
    let mut times = Vec::new();
    for _ in 0..super::RUNS {
        times.push(get("/api/v1/runs?limit=50")?);
    }
    let page_median = super::median_of(times);
    drop(server);

    // B11: events made by the CLI, timed from their commit to a client reading them.
    let server = start(bin, small)?;
    let tok = token(bin, small)?;
    // From the end of the log: B3 left events there that are not this measure's.
    let last = {
        use jobctl::store::EventStore;
        jobctl::store::sqlite::SqliteStore::open(&small.home.join("state"))?.last_event_id()?
    };
    let mut stream = open_stream(&server.base, &tok, Some(last))?;
    let rss_idle = rss_mib(server.child.id())?;
    let (tx, rx) = std::sync::mpsc::channel::<(i64, f64)>();
    std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            if stream.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(data) = line.strip_prefix("data:") {
                let now = jiff::Timestamp::now().as_millisecond();
                let v: serde_json::Value = serde_json::from_str(data.trim()).unwrap_or_default();
                let at = v["at"]
                    .as_str()
                    .and_then(|a| a.parse::<jiff::Timestamp>().ok())
                    .map(|t| t.as_millisecond())
                    .unwrap_or(now);
                let _ = tx.send((v["id"].as_i64().unwrap_or(0), (now - at) as f64));
            }
        }
    });
    const EVENTS: usize = 200;
    for i in 0..EVENTS {
        let flag = if i % 2 == 0 { "--pause" } else { "--resume" };
        let st = Command::new(bin)
            .args([
                "--config",
                super::s(&small.config),
                "configure",
                "job",
                "noop",
                flag,
            ])
            .env("JOBCTL_HOME", &small.home)
            .stdout(Stdio::null())
            .status()?;
        if !st.success() {
            bail!("configure job noop {flag} failed");
        }
        // Spread out as events come in life, not all in one follower's poll.
        std::thread::sleep(Duration::from_millis(7));
    }
    let mut latencies = Vec::new();
    while latencies.len() < EVENTS {
        let (_, ms) = rx
            .recv_timeout(Duration::from_secs(10))
            .context("B11: an event never arrived")?;
        latencies.push(ms);
    }
    latencies.sort_by(f64::total_cmp);
    let latency_p50 = latencies[latencies.len() / 2];
    let latency_p95 = latencies[latencies.len() * 95 / 100];

    // B13: 100 streams open, each replaying the whole log, then following it.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    for _ in 0..100 {
        let mut s = open_stream(&server.base, &tok, Some(last))?;
        let done = done_tx.clone();
        std::thread::spawn(move || {
            let (mut line, mut seen) = (String::new(), 0);
            while s.read_line(&mut line).unwrap_or(0) > 0 {
                if line.starts_with("data:") {
                    seen += 1;
                    if seen == EVENTS {
                        let _ = done.send(());
                    }
                }
                line.clear();
            }
        });
    }
    for _ in 0..100 {
        done_rx
            .recv_timeout(Duration::from_secs(30))
            .context("B13: a stream did not replay the log")?;
    }
    let rss_100 = rss_mib(server.child.id())?;
    drop(server);
    Ok(Numbers {
        latency_p50,
        latency_p95,
        events: EVENTS,
        page_median,
        rss_100,
        rss_idle,
    })
}

/// B19: what wrk measured on one path.
pub struct Load {
    pub path: &'static str,
    pub rps: f64,
    pub p99_ms: f64,
    /// Socket errors and answers other than 2xx/3xx.
    pub errors: u64,
}

/// The paths B19 loads, and `/healthz` beside them (the server without a handler's work).
pub const LOADED: &[&str] = &["/api/v1/runs?limit=50", "/api/v1/jobs", "/healthz"];

/// B19: `jobctl serve` under load from wrk (2 threads, 32 connections, 10 s per path), a
/// second process on the same machine, with a read token. wrk must be installed: the load
/// generator is not jobctl's to write, and one in this process would share its cores and
/// its scheduler with what it measures differently from a client elsewhere.
pub fn load(bin: &Path, f: &Fixture) -> Result<Vec<Load>> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("B19 needs wrk (apt-get install wrk)");
    }
    let server = start(bin, f)?;
    let tok = token(bin, f)?;
    let mut out = Vec::new();
    for path in LOADED {
        let wrk = Command::new("wrk")
            .args(["-t2", "-c32", "-d10s", "--latency", "-H"])
            .arg(format!("Authorization: Bearer {tok}"))
            .arg(format!("{}{path}", server.base))
            .output()?;
        let text = String::from_utf8_lossy(&wrk.stdout).into_owned();
        if !wrk.status.success() {
            bail!(
                "wrk on {path}: {text}{}",
                String::from_utf8_lossy(&wrk.stderr)
            );
        }
        out.push(parse_wrk(path, &text).with_context(|| format!("wrk said: {text}"))?);
    }
    drop(server);
    Ok(out)
}

/// Requests/s, the 99th percentile and the errors of wrk's report.
fn parse_wrk(path: &'static str, text: &str) -> Result<Load> {
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
    };
    let rps: f64 = field("Requests/sec:").context("no Requests/sec")?.parse()?;
    let p99 = field("99%").context("no 99% latency (--latency)")?;
    let p99_ms = if let Some(us) = p99.strip_suffix("us") {
        us.parse::<f64>()? / 1000.0
    } else if let Some(ms) = p99.strip_suffix("ms") {
        ms.parse()?
    } else if let Some(s) = p99.strip_suffix('s') {
        s.parse::<f64>()? * 1000.0
    } else {
        bail!("a latency of {p99}")
    };
    let mut errors = field("Non-2xx or 3xx responses:")
        .map(str::parse::<u64>)
        .transpose()?
        .unwrap_or(0);
    // `Socket errors: connect 0, read 0, write 0, timeout 0`
    if let Some(socket) = field("Socket errors:") {
        for part in socket.split(',') {
            errors += part
                .split_whitespace()
                .last()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(Load {
        path,
        rps,
        p99_ms,
        errors,
    })
}
