//! claude (Claude Code): one JSON result object on stdout; its usage and root errors
//! on stderr. The prompt is the positional argument after `--`.
use serde_json::Value;

use super::Driver;
use crate::agents::parse::{
    Failure, Parsed, classify, count, dollars, last_json_object, meaningful_line, not_json,
};
use crate::agents::presets::Mode;
use crate::config::{Agent, Thinking};

pub(super) struct Claude;

impl Driver for Claude {
    fn default_model(&self, t: Thinking) -> Option<&'static str> {
        Some(match t {
            Thinking::Fast => "haiku",
            Thinking::Med => "sonnet",
            Thinking::Slow => "opus",
        })
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
        // `-p` is a switch in claude; `--print=PROMPT` is rejected as an unknown option.
        v.extend(["-p", "--output-format", "json"].map(s));
        if mode == Mode::Job {
            v.push(s("--dangerously-skip-permissions"));
        }
        v.extend(["--no-session-persistence", "--no-chrome"].map(s));
        if let Some(m) = model {
            v.extend([s("--model"), s(m)]);
        }
        v.extend(extra.iter().cloned());
        if mode == Mode::Ask {
            v.extend(["--tools", ""].map(s));
        }
        v.extend([s("--"), s(prompt)]);
        let _ = thinking;
        v
    }

    fn read(&self, out: &str, _err: &str, truncated: bool) -> Parsed {
        parse_claude(out, truncated)
    }
}

fn parse_claude(out: &str, truncated: bool) -> Parsed {
    // A result cut at the capture limit could parse from whatever fit: never trust it.
    let found = if truncated {
        None
    } else {
        last_json_object(out)
    };
    let Some(v) = found else {
        return not_json("claude", out, truncated);
    };
    let result = v.get("result").and_then(Value::as_str).map(str::to_string);
    let usage = v.get("usage").cloned().unwrap_or(Value::Null);
    let input = count(&usage, "input_tokens");
    let output = count(&usage, "output_tokens");
    let mut p = Parsed {
        answer: result.clone(),
        cost_usd: dollars(v.get("total_cost_usd")),
        input_tokens: input,
        output_tokens: output,
        num_turns: count(&v, "num_turns"),
        tool_calls: None,
        reached_service: input.unwrap_or(0) + output.unwrap_or(0) > 0
            || count(&v, "duration_api_ms").unwrap_or(0) > 0,
        failure: None,
        answer_is_output: false,
    };
    if v.get("is_error").and_then(Value::as_bool) == Some(true)
        || v.get("subtype").and_then(Value::as_str) == Some("error_during_execution")
    {
        let msg = result.unwrap_or_else(|| "claude reported an error".into());
        p.failure = Some(Failure {
            kind: classify(&msg),
            message: meaningful_line(&msg, 300),
        });
    }
    p
}
