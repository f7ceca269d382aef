//! `command`: any program, from an argv template with `{prompt}` and `{model}`; free text
//! out, with an optional last line of JSON usage.
use serde_json::Value;

use super::Driver;
use crate::agents::parse::{Parsed, count, dollars};
use crate::agents::presets::Mode;
use crate::config::{Agent, Thinking};

pub(super) struct Command;

impl Driver for Command {
    fn default_model(&self, t: Thinking) -> Option<&'static str> {
        Some(match t {
            Thinking::Fast => "fast",
            Thinking::Med => "med",
            Thinking::Slow => "slow",
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
        let mut v: Vec<String> = agent
            .command
            .iter()
            .map(|a| match a.as_str() {
                "{prompt}" => prompt.to_string(),
                "{model}" => model.unwrap_or("").to_string(),
                _ => a.clone(),
            })
            .collect();
        v.extend(extra.iter().cloned());
        let _ = (mode, thinking);
        v
    }

    fn read(&self, out: &str, _err: &str, _truncated: bool) -> Parsed {
        parse_command(out)
    }
}

fn parse_command(out: &str) -> Parsed {
    let mut p = Parsed {
        answer: Some(out.to_string()),
        answer_is_output: true,
        reached_service: true,
        ..Default::default()
    };
    let last = out.trim_end().lines().last().unwrap_or("");
    if let Ok(v) = serde_json::from_str::<Value>(last.trim())
        && v.is_object()
    {
        p.cost_usd = dollars(v.get("cost")).or(dollars(v.pointer("/usage/cost_usd")));
        if let Some(u) = v.get("usage") {
            p.input_tokens = count(u, "input_tokens");
            p.output_tokens = count(u, "output_tokens");
            p.num_turns = count(u, "num_turns");
            p.tool_calls = count(u, "tool_calls");
        }
        let body = out.trim_end();
        p.answer = Some(body[..body.len() - last.len()].trim_end().to_string());
    }
    p
}
