//! `jobctl serve` for the tests: the real binary on a free loopback port, its tokens, and
//! plain HTTP to it. The server is stopped with SIGTERM when dropped (SIGKILL if it does not
//! stop in time), and its stderr is kept for assertion messages.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Env, RunSource, code, status_of, stderr};

pub struct Server {
    child: Child,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
    agent: ureq::Agent,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error.code` of an error document.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error document: {} {}", self.status, self.body))
            .to_string()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

impl Server {
    /// Starts `jobctl serve --listen 127.0.0.1:0` in `env` and waits until it listens.
    pub fn start(env: &Env) -> Server {
        Server::start_with(env, &[])
    }

    pub fn start_with(env: &Env, extra: &[&str]) -> Server {
        Server::spawn(Server::command(env, extra))
    }

    /// `jobctl serve --listen 127.0.0.1:0 EXTRA` in `env`, for a test to add what it needs
    /// (an environment variable, a resource limit) before `spawn`.
    pub fn command(env: &Env, extra: &[&str]) -> Command {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        env.cmd(&args)
    }

    /// Starts a `command` and waits until it listens.
    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .env("JOBCTL_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start jobctl serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("serving on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
                keep.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "jobctl serve did not start:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Server {
            child,
            base: format!("http://{addr}"),
            log,
            agent: agent(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request("GET", path, token, None, &[])
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        self.request("POST", path, token, body, &[])
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req.body(body.unwrap_or("").to_string()).unwrap();
        let mut resp = self
            .agent
            .run(req)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\nserver log:\n{}", self.log()));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut body = String::new();
        resp.body_mut()
            .as_reader()
            .read_to_string(&mut body)
            .unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn stop(mut self) -> i32 {
        self.terminate()
    }

    fn terminate(&mut self) -> i32 {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return -1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// Runs as the API serves them (`GET /api/v1/runs/ID`) to a holder of `token`.
pub struct Api<'a> {
    pub server: &'a Server,
    pub token: &'a str,
}

impl Server {
    /// This server's runs as `token` reads them.
    pub fn api<'a>(&'a self, token: &'a str) -> Api<'a> {
        Api {
            server: self,
            token,
        }
    }
}

impl RunSource for Api<'_> {
    type Doc = serde_json::Value;
    fn doc(&self, id: i64) -> serde_json::Value {
        let r = self
            .server
            .get(&format!("/api/v1/runs/{id}"), Some(self.token));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }
    fn status(doc: &serde_json::Value) -> jobctl::core::run::RunStatus {
        status_of(doc)
    }
}

/// `jobctl token create ARGS` in `env`: the token.
pub fn token(env: &Env, args: &[&str]) -> String {
    let mut a = vec!["token", "create"];
    a.extend_from_slice(args);
    let out = env.run(&a);
    assert_eq!(code(&out), 0, "token create: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// One event read from an SSE stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: i64,
    pub event: String,
    pub data: serde_json::Value,
}

/// One event as sent, with or without an `id` (an entry of the event log has one).
#[derive(Debug, Clone, PartialEq)]
pub struct SseFrame {
    pub id: Option<i64>,
    pub event: String,
    pub data: serde_json::Value,
}

/// An open `text/event-stream`, read event by event.
pub struct SseStream {
    lines: Box<dyn BufRead + Send>,
    /// Comment lines (keep-alives) seen so far.
    pub comments: usize,
    /// The answer's headers.
    pub headers: Vec<(String, String)>,
}

impl SseStream {
    /// `GET path` with `token` (and `Last-Event-ID` when given); panics unless 200 and
    /// `text/event-stream`. Reads time out after `idle`.
    pub fn open(
        base: &str,
        path: &str,
        token: &str,
        last_event_id: Option<i64>,
        idle: Duration,
    ) -> SseStream {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_per_read(Some(idle))
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        // Asking for compression: an event stream must never be compressed (buffering).
        let mut req = agent
            .get(format!("{base}{path}"))
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept-Encoding", "gzip, br");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.call().expect("open the event stream");
        assert_eq!(resp.status().as_u16(), 200, "event stream status");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(ct.starts_with("text/event-stream"), "content type {ct}");
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        SseStream {
            lines: Box::new(BufReader::new(resp.into_body().into_reader())),
            comments: 0,
            headers,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads until a comment line (a keep-alive); `false` if an event or the end came first.
    pub fn next_is_comment(&mut self) -> bool {
        loop {
            let mut line = String::new();
            if self
                .lines
                .read_line(&mut line)
                .expect("read the event stream")
                == 0
            {
                return false;
            }
            if line.starts_with(':') {
                self.comments += 1;
                return true;
            }
            if !line.trim().is_empty() {
                return false;
            }
        }
    }

    /// The next event of the event log; `None` when the server ended the stream.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let f = self.next_frame()?;
            if let Some(id) = f.id {
                return Some(SseEvent {
                    id,
                    event: f.event,
                    data: f.data,
                });
            }
        }
    }

    /// The next event, whether it has an id or not; `None` when the server ended the
    /// stream.
    pub fn next_frame(&mut self) -> Option<SseFrame> {
        let (mut id, mut event, mut data) = (None, String::new(), String::new());
        loop {
            let mut line = String::new();
            let n = self
                .lines
                .read_line(&mut line)
                .expect("read the event stream");
            if n == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !event.is_empty() || !data.is_empty() {
                    return Some(SseFrame {
                        id,
                        event,
                        data: serde_json::from_str(&data).expect("event data is JSON"),
                    });
                }
                continue;
            }
            if line.starts_with(':') {
                self.comments += 1;
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().parse().expect("numeric id"));
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
    }
}
