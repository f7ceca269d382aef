//! A loopback model-API stub that lets the real agent CLIs (claude, codex, gemini) finish
//! a turn offline. std only: one thread per connection, HTTP/1.1 with keep-alive,
//! Content-Length or chunked request bodies. It speaks just enough of three APIs:
//!
//! - Anthropic Messages: `POST /v1/messages` (SSE when `"stream":true`, else JSON),
//!   `POST /v1/messages/count_tokens`.
//! - OpenAI Responses: `POST /v1/responses` (SSE).
//! - Gemini: `POST /v1beta/models/M:streamGenerateContent?alt=sse` (SSE),
//!   `:generateContent` (JSON; also the CLI's router / JSON side calls), `:countTokens`.
//!
//! Anything else gets a 404 with a JSON error body. Every request is recorded.
//!
//! [`Script::ToolCall`]: a model call that offers the CLI's shell tool and carries no tool
//! result yet is answered with a shell call running [`TOOL_COMMAND`]; every other call
//! (the follow-up carrying the result, side calls without tools) gets the text [`ANSWER`].
//! The decision is made from the request body alone, so retries and side calls are safe.
//!
//! Pointing the CLIs at it (PORT = `stub.port()`, each run with an empty HOME):
//! - claude: `IS_SANDBOX=1 ANTHROPIC_API_KEY=dummy ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`.
//! - codex: `OPENAI_API_KEY=dummy` and `-c model_provider=stub -c 'model_providers.stub={name="stub",
//!   base_url="http://127.0.0.1:PORT/v1",env_key="OPENAI_API_KEY",wire_api="responses"}'`.
//! - gemini: `GEMINI_API_KEY=dummy GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT` and
//!   `$HOME/.gemini/settings.json` = `{"security":{"auth":{"selectedType":"gemini-api-key"}}}`.
//!
//! `MODEL_STUB_LOG=FILE` in the environment appends every request (line, headers with
//! keys redacted, body) to FILE.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What the stub answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// Every model call answers with the text [`ANSWER`]. (No test asks for it today: the
    /// agent tests all go through a tool call; kept as the stub's plain mode.)
    #[allow(dead_code)]
    Answer,
    /// The first model call (one offering the shell tool) answers with a shell tool call
    /// running [`TOOL_COMMAND`]; the call that brings its result back gets [`ANSWER`].
    ToolCall,
    /// The first model call offering jobctl's MCP tool `tool` (as the CLI names it:
    /// `mcp__jobctl__T` for claude, namespace `mcp__jobctl` for codex, `mcp_jobctl_T` for
    /// gemini) answers with a call of it with `args` (JSON); the call that brings its
    /// result back gets [`ANSWER`].
    Mcp {
        tool: &'static str,
        args: &'static str,
    },
}

pub const ANSWER: &str = "hi from the stub";
/// Run through the CLI's shell tool in the working dir: `out.txt` appears there.
pub const TOOL_COMMAND: &str = "echo hi > out.txt";
pub const INPUT_TOKENS: u64 = 11;
pub const OUTPUT_TOKENS: u64 = 7;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path with query string, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running stub on 127.0.0.1; stopped on drop.
pub struct ModelStub {
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Request>>>,
    accept: Option<JoinHandle<()>>,
}

impl ModelStub {
    /// Binds 127.0.0.1:0 and serves in a background thread.
    pub fn start(script: Script) -> ModelStub {
        ModelStub::start_on(0, script)
    }

    pub fn start_on(port: u16, script: Script) -> ModelStub {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind model stub");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (seen, stop) = (seen2.clone(), stop2.clone());
                thread::spawn(move || serve(conn, script, &seen, &stop));
            }
        });
        ModelStub {
            port,
            stop,
            seen,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Bodies of the requests seen so far, in arrival order.
    pub fn bodies(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// Paths (with query) of the requests seen so far, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.path.clone())
            .collect()
    }
}

impl Drop for ModelStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes accept()
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// One connection: requests until EOF, `Connection: close`, an error or the stub stops.
fn serve(conn: TcpStream, script: Script, seen: &Mutex<Vec<Request>>, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
    let mut out = match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut rd = BufReader::new(conn);
    while !stop.load(Ordering::SeqCst) {
        let Some(req) = read_request(&mut rd, &mut out) else {
            return;
        };
        if let Ok(path) = std::env::var("MODEL_STUB_LOG") {
            log_to_file(&path, &req);
        }
        seen.lock().unwrap().push(req.clone());
        let (status, ctype, body) = route(&req, script);
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\ncache-control: no-cache\r\nrequest-id: req_stub\r\nx-request-id: req_stub\r\nconnection: {}\r\n\r\n",
            body.len(),
            if close { "close" } else { "keep-alive" }
        );
        let body = if req.method == "HEAD" { "" } else { &body }; // HEAD: headers only
        if out
            .write_all(head.as_bytes())
            .and_then(|_| out.write_all(body.as_bytes()))
            .and_then(|_| out.flush())
            .is_err()
            || close
        {
            return;
        }
    }
}

fn read_request(rd: &mut BufReader<TcpStream>, out: &mut TcpStream) -> Option<Request> {
    let mut line = String::new();
    if rd.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if rd.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size = String::new();
            rd.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            if n == 0 {
                // Trailers (none expected) end with an empty line.
                loop {
                    let mut t = String::new();
                    if rd.read_line(&mut t).ok()? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; n + 2]; // data + CRLF
            rd.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        rd.read_exact(&mut body).ok()?;
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn log_to_file(path: &str, r: &Request) {
    let mut s = format!(">>> {} {}\n", r.method, r.path);
    for (k, v) in &r.headers {
        let v = if k == "authorization" || k.contains("api-key") {
            "<redacted>"
        } else {
            v.as_str()
        };
        s += &format!("{k}: {v}\n");
    }
    s += &format!("\n{}\n\n", r.body);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(s.as_bytes());
    }
}

type Reply = (&'static str, &'static str, String);

fn route(r: &Request, script: Script) -> Reply {
    let path = r.path.split('?').next().unwrap_or("");
    let b = r.body.as_str();
    let tool = script == Script::ToolCall;
    if let Script::Mcp { tool, args } = script
        && let Some(reply) = mcp_call(path, b, tool, args)
    {
        return reply;
    }
    match (r.method.as_str(), path) {
        ("POST", "/v1/messages/count_tokens") => {
            json(format!("{{\"input_tokens\":{INPUT_TOKENS}}}"))
        }
        ("POST", "/v1/messages") => anthropic(
            b,
            (tool && has(b, "\"name\":\"Bash\"") && !has(b, "\"tool_result\""))
                .then(|| ("Bash".to_string(), shell_input())),
        ),
        ("POST", p) if p.ends_with("/responses") => {
            // Classic function tools (e.g. `-m gpt-5.4`) or the default model's code-mode
            // custom tool `exec` (JavaScript calling `tools.exec_command`).
            let shell = ["exec_command", "shell_command", "shell", "exec"]
                .into_iter()
                .find(|n| has(b, &format!("\"name\":\"{n}\"")));
            let done = has(b, "\"function_call_output\"") || has(b, "\"custom_tool_call_output\"");
            openai(if tool && !done { shell } else { None })
        }
        ("POST", p) if p.ends_with(":streamGenerateContent") || p.ends_with(":generateContent") => {
            let call =
                tool && has(b, "\"name\":\"run_shell_command\"") && !has(b, "\"functionResponse\"");
            gemini(b, call, p.ends_with(":streamGenerateContent"))
        }
        ("POST", p) if p.ends_with(":countTokens") => {
            json(format!("{{\"totalTokens\":{INPUT_TOKENS}}}"))
        }
        _ => (
            "404 Not Found",
            "application/json",
            "{\"error\":{\"type\":\"not_found_error\",\"message\":\"model stub: no such route\"}}"
                .into(),
        ),
    }
}

/// A call of jobctl's MCP tool `tool`, when `body` offers it and carries no tool result
/// yet (looked for in the request's structure, not its text: codex's own tool
/// descriptions name the result item types).
fn mcp_call(path: &str, body: &str, tool: &str, args: &str) -> Option<Reply> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if path == "/v1/messages" {
        let name = format!("mcp__jobctl__{tool}");
        let offered = v["tools"].as_array()?.iter().any(|t| t["name"] == name);
        let answered = v["messages"].as_array()?.iter().any(|m| {
            m["content"]
                .as_array()
                .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
        });
        return (offered && !answered).then(|| anthropic(body, Some((name, args.to_string()))));
    }
    if path.ends_with("/responses") {
        let offered = has(body, "mcp__jobctl");
        let answered = v["input"]
            .as_array()?
            .iter()
            .any(|i| i["type"].as_str().is_some_and(|t| t.ends_with("_output")));
        if !offered || answered {
            return None;
        }
        let item = format!(
            "{{\"type\":\"function_call\",\"id\":\"fc_stub_1\",\"call_id\":\"call_stub_1\",\"namespace\":\"mcp__jobctl\",\"name\":\"{tool}\",\"arguments\":{}}}",
            q(args)
        );
        return Some(openai_item(item));
    }
    if path.ends_with(":streamGenerateContent") || path.ends_with(":generateContent") {
        let name = format!("mcp_jobctl_{tool}");
        let offered = v["tools"].as_array()?.iter().any(|t| {
            t["functionDeclarations"]
                .as_array()
                .is_some_and(|d| d.iter().any(|f| f["name"] == name))
        });
        let answered = v["contents"].as_array()?.iter().any(|c| {
            c["parts"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p.get("functionResponse").is_some()))
        });
        if !offered || answered {
            return None;
        }
        let part = format!("{{\"functionCall\":{{\"name\":\"{name}\",\"args\":{args}}}}}");
        return Some(gemini_part(&part, path.ends_with(":streamGenerateContent")));
    }
    None
}

fn has(body: &str, needle: &str) -> bool {
    body.contains(needle)
}

fn json(body: String) -> Reply {
    ("200 OK", "application/json", body)
}

fn sse(events: &[(&str, String)]) -> Reply {
    let mut s = String::new();
    for (name, data) in events {
        if !name.is_empty() {
            s += &format!("event: {name}\n");
        }
        s += &format!("data: {data}\n\n");
    }
    ("200 OK", "text/event-stream", s)
}

/// A JSON string literal.
fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o += "\\\"",
            '\\' => o += "\\\\",
            '\n' => o += "\\n",
            '\r' => o += "\\r",
            '\t' => o += "\\t",
            c if (c as u32) < 0x20 => o += &format!("\\u{:04x}", c as u32),
            c => o.push(c),
        }
    }
    o + "\""
}

/// The shell tool call's input (claude's Bash).
fn shell_input() -> String {
    format!(
        "{{\"command\":{},\"description\":\"Write out.txt\"}}",
        q(TOOL_COMMAND)
    )
}

/// `call`: the tool to call and its input (JSON), when a call is due.
fn anthropic(body: &str, call: Option<(String, String)>) -> Reply {
    let usage = format!(
        "{{\"input_tokens\":{INPUT_TOKENS},\"output_tokens\":{OUTPUT_TOKENS},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}"
    );
    let tool_call = call.is_some();
    let (name, input) = call.unwrap_or_default();
    let (block, stop) = if tool_call {
        (
            format!(
                "{{\"type\":\"tool_use\",\"id\":\"toolu_stub_1\",\"name\":\"{name}\",\"input\":{{}}}}"
            ),
            "tool_use",
        )
    } else {
        ("{\"type\":\"text\",\"text\":\"\"}".to_string(), "end_turn")
    };
    if !has(body, "\"stream\":true") {
        let content = if tool_call {
            block.replace("\"input\":{}", &format!("\"input\":{input}"))
        } else {
            format!("{{\"type\":\"text\",\"text\":{}}}", q(ANSWER))
        };
        return json(format!(
            "{{\"id\":\"msg_stub\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-stub\",\"content\":[{content}],\"stop_reason\":\"{stop}\",\"stop_sequence\":null,\"usage\":{usage}}}"
        ));
    }
    let delta = if tool_call {
        format!(
            "{{\"type\":\"input_json_delta\",\"partial_json\":{}}}",
            q(&input)
        )
    } else {
        format!("{{\"type\":\"text_delta\",\"text\":{}}}", q(ANSWER))
    };
    sse(&[
        (
            "message_start",
            format!(
                "{{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_stub\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-stub\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{INPUT_TOKENS},\"output_tokens\":1,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}}}}}"
            ),
        ),
        (
            "content_block_start",
            format!("{{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{block}}}"),
        ),
        (
            "content_block_delta",
            format!("{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{delta}}}"),
        ),
        (
            "content_block_stop",
            "{\"type\":\"content_block_stop\",\"index\":0}".into(),
        ),
        (
            "message_delta",
            format!(
                "{{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{stop}\",\"stop_sequence\":null}},\"usage\":{usage}}}"
            ),
        ),
        ("message_stop", "{\"type\":\"message_stop\"}".into()),
    ])
}

/// `shell`: the name of the shell tool the request offered, when a call is due.
fn openai(shell: Option<&str>) -> Reply {
    let item = match shell {
        Some("exec") => {
            let js = format!(
                "const r = await tools.exec_command({{cmd: {}}});\ntext(r.output);",
                q(TOOL_COMMAND)
            );
            format!(
                "{{\"type\":\"custom_tool_call\",\"id\":\"ctc_stub_1\",\"call_id\":\"call_stub_1\",\"name\":\"exec\",\"input\":{}}}",
                q(&js)
            )
        }
        Some(name) => {
            let args = match name {
                "exec_command" => format!("{{\"cmd\":{}}}", q(TOOL_COMMAND)),
                "shell_command" => format!("{{\"command\":{}}}", q(TOOL_COMMAND)),
                _ => format!("{{\"command\":[\"bash\",\"-lc\",{}]}}", q(TOOL_COMMAND)),
            };
            format!(
                "{{\"type\":\"function_call\",\"id\":\"fc_stub_1\",\"call_id\":\"call_stub_1\",\"name\":\"{name}\",\"arguments\":{}}}",
                q(&args)
            )
        }
        None => format!(
            "{{\"type\":\"message\",\"id\":\"msg_stub\",\"role\":\"assistant\",\"status\":\"completed\",\"content\":[{{\"type\":\"output_text\",\"text\":{},\"annotations\":[]}}]}}",
            q(ANSWER)
        ),
    };
    openai_item(item)
}

/// A Responses stream whose one output item is `item`.
fn openai_item(item: String) -> Reply {
    let usage = format!(
        "{{\"input_tokens\":{INPUT_TOKENS},\"input_tokens_details\":{{\"cached_tokens\":0}},\"output_tokens\":{OUTPUT_TOKENS},\"output_tokens_details\":{{\"reasoning_tokens\":0}},\"total_tokens\":{}}}",
        INPUT_TOKENS + OUTPUT_TOKENS
    );
    sse(&[
        (
            "response.created",
            "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_stub\"}}".into(),
        ),
        (
            "response.output_item.done",
            format!(
                "{{\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{item}}}"
            ),
        ),
        (
            "response.completed",
            format!(
                "{{\"type\":\"response.completed\",\"response\":{{\"id\":\"resp_stub\",\"usage\":{usage}}}}}"
            ),
        ),
    ])
}

fn gemini(body: &str, call: bool, stream: bool) -> Reply {
    // The CLI's JSON side calls (model router, next-speaker check) get the JSON they want.
    let text = if has(body, "complexity_score") {
        "{\"complexity_reasoning\":\"stub\",\"complexity_score\":10}"
    } else if has(body, "model_choice") {
        "{\"reasoning\":\"stub\",\"model_choice\":\"flash\"}"
    } else if has(body, "next_speaker") {
        "{\"reasoning\":\"stub\",\"next_speaker\":\"user\"}"
    } else if has(body, "\"responseMimeType\":\"application/json\"") {
        "{}"
    } else {
        ANSWER
    };
    let part = if call {
        format!(
            "{{\"functionCall\":{{\"name\":\"run_shell_command\",\"args\":{{\"command\":{},\"description\":\"Write out.txt\"}}}}}}",
            q(TOOL_COMMAND)
        )
    } else {
        format!("{{\"text\":{}}}", q(text))
    };
    gemini_part(&part, stream)
}

/// A Gemini answer whose one part is `part`.
fn gemini_part(part: &str, stream: bool) -> Reply {
    let out = format!(
        "{{\"candidates\":[{{\"content\":{{\"role\":\"model\",\"parts\":[{part}]}},\"finishReason\":\"STOP\",\"index\":0}}],\"usageMetadata\":{{\"promptTokenCount\":{INPUT_TOKENS},\"candidatesTokenCount\":{OUTPUT_TOKENS},\"totalTokenCount\":{}}},\"modelVersion\":\"gemini-stub\"}}",
        INPUT_TOKENS + OUTPUT_TOKENS
    );
    if stream { sse(&[("", out)]) } else { json(out) }
}
