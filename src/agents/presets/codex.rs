//! codex: one JSON event per line on stdout (`thread.started`, `turn.completed`,
//! `item.completed`, `error`). `-p` means profile, so the prompt is positional.
use serde_json::Value;

use super::Driver;
use crate::agents::parse::{Failure, Parsed, add, classify, count, meaningful_line};
use crate::agents::presets::Mode;
use crate::config::{Agent, Thinking};

pub(super) struct Codex;

impl Driver for Codex {
    fn default_model(&self, t: Thinking) -> Option<&'static str> {
        // No default model: codex renames its models faster than a default here could
        // follow (0.171 no longer knows `gpt-5.4`).
        let _ = t;
        None
    }

    fn argv(
        &self,
        agent: &Agent,
        mode: Mode,
        prompt: &str,
        model: Option<&str>,
        thinking: Thinking,
        extra: &[String],
    ) -> Vec<String> {
        let s = |x: &str| x.to_string();
        let mut v = vec![agent.command[0].clone()];
        v.extend(["exec", "--json"].map(s));
        match mode {
            Mode::Job => v.push(s("--dangerously-bypass-approvals-and-sandbox")),
            // codex refuses the bypass flag together with --sandbox.
            Mode::Ask => v.extend(["--sandbox", "read-only"].map(s)),
        }
        v.push(s("--skip-git-repo-check"));
        if let Some(m) = model {
            v.extend([s("-m"), s(m)]);
        }
        // `ask --thinking` picks the effort too: the same preset, only without tools.
        v.push(s("-c"));
        v.push(format!("model_reasoning_effort={}", effort(thinking)));
        v.extend(extra.iter().cloned());
        // `-p` means profile in codex: the prompt is positional.
        v.extend([s("--"), s(prompt)]);
        v
    }

    fn read(&self, out: &str, _err: &str, _truncated: bool) -> Parsed {
        parse_codex(out)
    }
}

/// Item types of codex's JSON events that are tool calls.
const CODEX_TOOL_ITEMS: &[&str] = &[
    "command_execution",
    "file_change",
    "mcp_tool_call",
    "web_search",
];

fn parse_codex(out: &str) -> Parsed {
    let mut p = Parsed::default();
    let mut errors: Vec<String> = Vec::new();
    let mut failed = None;
    let mut turns: i64 = 0;
    let mut tools: i64 = 0;
    for line in out.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        match v.get("type").and_then(Value::as_str) {
            Some("turn.completed") => {
                turns += 1;
                p.reached_service = true;
                if let Some(u) = v.get("usage") {
                    add(&mut p.input_tokens, count(u, "input_tokens"));
                    add(&mut p.output_tokens, count(u, "output_tokens"));
                }
            }
            Some("item.started") | Some("item.updated") => p.reached_service = true,
            Some("item.completed") => {
                p.reached_service = true;
                let item = v.get("item").unwrap_or(&Value::Null);
                let kind = item
                    .get("type")
                    .or(item.get("item_type"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match kind {
                    "agent_message" | "assistant_message" => {
                        if let Some(t) = item.get("text").and_then(Value::as_str) {
                            p.answer = Some(t.to_string());
                        }
                    }
                    "error" => {
                        if let Some(m) = item.get("message").and_then(Value::as_str) {
                            errors.push(m.to_string());
                        }
                    }
                    k if CODEX_TOOL_ITEMS.contains(&k) => tools += 1,
                    _ => {}
                }
            }
            Some("error") => {
                if let Some(m) = v.get("message").and_then(Value::as_str) {
                    errors.push(m.to_string());
                }
            }
            Some("turn.failed") => {
                let m = v
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("turn failed");
                failed = Some(m.to_string());
            }
            _ => {}
        }
    }
    if turns > 0 {
        p.num_turns = Some(turns);
    }
    if p.reached_service {
        p.tool_calls = Some(tools);
    }
    // Error notices (reconnects, a model without metadata) are the failure only when the
    // turn produced no answer.
    let failure = failed.or_else(|| {
        if p.answer.is_none() {
            errors.last().cloned()
        } else {
            None
        }
    });
    if let Some(m) = failure {
        p.failure = Some(Failure {
            kind: classify(&m),
            message: meaningful_line(&m, 300),
        });
    }
    p
}

fn effort(t: Thinking) -> &'static str {
    match t {
        Thinking::Fast => "medium",
        Thinking::Med => "high",
        Thinking::Slow => "xhigh",
    }
}
