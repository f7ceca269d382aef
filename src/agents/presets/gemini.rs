//! gemini: one JSON object on stdout on success; since 0.61 its error document on
//! stderr. The prompt is glued to `--prompt=`.
use serde_json::Value;

use super::Driver;
use crate::agents::parse::{
    Failure, FailureKind, Parsed, add, classify, count, last_json_object, meaningful_line,
    message_of, not_json,
};
use crate::agents::presets::Mode;
use crate::config::{Agent, Thinking};

pub(super) struct Gemini;

impl Driver for Gemini {
    fn default_model(&self, t: Thinking) -> Option<&'static str> {
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
        v.push(format!("--prompt={prompt}"));
        v.extend(["--output-format", "json"].map(s));
        match mode {
            Mode::Job => v.push(s("--yolo")),
            Mode::Ask => v.extend(["--approval-mode", "plan"].map(s)),
        }
        // Without it gemini downgrades --yolo in a folder it was never told to trust,
        // or exits 55.
        v.push(s("--skip-trust"));
        if let Some(m) = model {
            v.extend([s("-m"), s(m)]);
        }
        v.extend(extra.iter().cloned());
        let _ = thinking;
        v
    }

    fn read(&self, out: &str, err: &str, truncated: bool) -> Parsed {
        parse_gemini(out, err, truncated)
    }
}

fn parse_gemini(out: &str, err: &str, truncated: bool) -> Parsed {
    // gemini prints its result on stdout and, since 0.61, its error document on stderr.
    let found = if truncated {
        None
    } else {
        last_json_object(out)
    };
    let err_doc = last_json_object(err).filter(|v| v.get("error").is_some_and(|e| !e.is_null()));
    let v = match (found, err_doc) {
        (Some(v), _) if v.get("error").is_none_or(Value::is_null) => v,
        (_, Some(e)) => e,
        (Some(v), None) => v,
        (None, None) => return not_json("gemini", out, truncated),
    };
    let mut p = Parsed {
        answer: v
            .get("response")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Default::default()
    };
    if let Some(models) = v.pointer("/stats/models").and_then(Value::as_object) {
        for m in models.values() {
            let tokens = m.get("tokens").unwrap_or(&Value::Null);
            add(
                &mut p.input_tokens,
                count(tokens, "prompt").or(count(tokens, "input")),
            );
            add(&mut p.output_tokens, count(tokens, "candidates"));
            // Turns are the main model's requests; gemini also counts its router's.
            add(
                &mut p.num_turns,
                m.pointer("/roles/main/totalRequests")
                    .or(m.pointer("/api/totalRequests"))
                    .and_then(Value::as_i64)
                    .filter(|n| *n >= 0),
            );
        }
    }
    if let Some(t) = v.pointer("/stats/tools") {
        p.tool_calls = count(t, "totalCalls");
    }
    p.reached_service =
        p.answer.is_some() || p.input_tokens.unwrap_or(0) + p.output_tokens.unwrap_or(0) > 0;
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        let msg = message_of(&serde_json::json!({ "error": e }))
            .unwrap_or_else(|| "gemini reported an error".into());
        let code = e.get("code").and_then(Value::as_i64);
        let kind = match code {
            Some(41) => FailureKind::Auth,
            Some(55) => FailureKind::Rejected,
            _ => classify(&format!("{msg} {}", code.unwrap_or(0))),
        };
        p.failure = Some(Failure {
            kind,
            message: meaningful_line(&msg, 300),
        });
    }
    p
}
