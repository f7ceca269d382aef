//! A line-by-line MCP client over stdio for the tests: `jobctl mcp` started as an agent CLI
//! starts it, JSON-RPC requests written one per line, answers read with a deadline.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct McpClient {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    next: i64,
}

/// What a tool call answered.
#[derive(Debug)]
pub struct ToolAnswer {
    pub is_error: bool,
    /// The text the model reads.
    pub text: String,
    /// The answer's JSON (`structuredContent`), `Null` for an error.
    pub json: Value,
}

impl McpClient {
    /// Starts `cmd` (a `jobctl mcp`) and initializes the session.
    pub fn start(mut cmd: Command) -> McpClient {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("start jobctl mcp");
        let stdin = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut c = McpClient {
            child,
            stdin,
            lines,
            next: 1,
        };
        let init = c.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "jobctl-tests", "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "jobctl", "{init}");
        c.send_line(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string());
        c
    }

    pub fn send_line(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to jobctl mcp");
        self.stdin.flush().unwrap();
    }

    /// The next line the server writes, within `limit`.
    pub fn read_line(&self, limit: Duration) -> Value {
        let line = self
            .lines
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("no answer from jobctl mcp within {limit:?}: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends a request and returns the whole answer (`result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(&req.to_string());
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.read_line(left);
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    /// Calls a tool.
    pub fn call(&mut self, tool: &str, args: Value) -> ToolAnswer {
        let v = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let r = &v["result"];
        assert!(r.is_object(), "{tool}: not a tool result: {v}");
        ToolAnswer {
            is_error: r["isError"] == json!(true),
            text: r["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            json: r["structuredContent"].clone(),
        }
    }

    /// Calls a tool that must succeed, and returns its JSON.
    #[track_caller]
    pub fn ok(&mut self, tool: &str, args: Value) -> Value {
        let a = self.call(tool, args);
        assert!(!a.is_error, "{tool} failed: {}", a.text);
        a.json
    }

    /// Calls a tool that must fail, and returns the message the model reads.
    #[track_caller]
    pub fn err(&mut self, tool: &str, args: Value) -> String {
        let a = self.call(tool, args);
        assert!(a.is_error, "{tool} should have failed: {}", a.text);
        a.text
    }

    /// The names of the tools listed.
    pub fn tool_names(&mut self) -> Vec<String> {
        let v = self.request("tools/list", json!({}));
        v["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("no tools: {v}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
