//! Reading what an agent CLI printed: the answer, what it cost and used, and whether it
//! failed, and how: an auth failure and a quota failure move on to the next agent; any
//! other failure ends the run. The shapes are those of agents.md ("What the real CLIs do
//! when things go wrong"). Garbage in any form is a plain failure, never a panic.

use serde_json::Value;

use crate::config::Preset;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Not logged in, invalid key, 401.
    Auth,
    /// Rate limit, 429, exhausted quota.
    Quota,
    /// Anything else (including claude refusing to run as root).
    Other,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub answer: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub num_turns: Option<i64>,
    /// `None`: the call succeeded.
    pub failure: Option<(FailureKind, String)>,
}

/// Classifies an error message from a CLI.
pub fn classify(message: &str) -> FailureKind {
    let m = message.to_lowercase();
    const AUTH: &[&str] = &[
        "not logged in",
        "please run /login",
        "invalid api key",
        "invalid x-api-key",
        "401",
        "unauthorized",
        "authentication",
        "auth method",
        "oauth token has expired",
        "credentials",
    ];
    const QUOTA: &[&str] = &[
        "429",
        "rate limit",
        "rate_limit",
        "ratelimit",
        "quota",
        "exhausted your daily",
        "insufficient_quota",
        "usage limit",
        "too many requests",
    ];
    if QUOTA.iter().any(|p| m.contains(p)) {
        FailureKind::Quota
    } else if AUTH.iter().any(|p| m.contains(p)) {
        FailureKind::Auth
    } else {
        FailureKind::Other
    }
}

const ROOT_REFUSAL: &str = "cannot be used with root/sudo privileges";

fn first_line(s: &str, max: usize) -> String {
    let line = s
        .trim()
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// Parses a finished call. `exit_code` is the CLI's exit status (None: killed by a
/// signal), `truncated` says the captured stdout was cut at the capture limit.
pub fn parse(
    preset: Preset,
    exit_code: Option<i32>,
    stdout: &[u8],
    truncated: bool,
    stderr_tail: &[u8],
) -> Parsed {
    let out = String::from_utf8_lossy(stdout);
    let err = String::from_utf8_lossy(stderr_tail);
    if err.contains(ROOT_REFUSAL) || out.contains(ROOT_REFUSAL) {
        return Parsed {
            failure: Some((
                FailureKind::Other,
                "claude refuses --dangerously-skip-permissions when run as root: run jobctl as a normal user".into(),
            )),
            ..Default::default()
        };
    }
    let mut p = match preset {
        Preset::Claude => parse_claude(&out, truncated),
        Preset::Codex => parse_codex(&out),
        Preset::Gemini => parse_gemini(&out, truncated),
        Preset::Command => parse_command(&out),
    };
    if p.failure.is_none() && exit_code != Some(0) {
        let msg = [first_line(&err, 300), first_line(&out, 300)]
            .into_iter()
            .find(|m| !m.is_empty())
            .unwrap_or_default();
        let what = match exit_code {
            Some(c) => format!("exited with code {c}"),
            None => "was killed by a signal".into(),
        };
        let msg = if msg.is_empty() {
            what
        } else {
            format!("{what}: {msg}")
        };
        p.failure = Some((classify(&msg), msg));
    }
    p
}

fn not_json(what: &str, out: &str, truncated: bool) -> Parsed {
    let msg = if truncated {
        format!("{what} printed more output than jobctl parses (over 8 MiB); see the run log")
    } else if out.trim().is_empty() {
        format!("{what} printed nothing on stdout")
    } else {
        format!(
            "{what} printed output that is not the expected JSON: {}",
            first_line(out, 200)
        )
    };
    Parsed {
        failure: Some((FailureKind::Other, msg)),
        ..Default::default()
    }
}

/// The last line of `out` that parses as a JSON object.
fn last_json_object(out: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(out.trim())
        && v.is_object()
    {
        return Some(v);
    }
    out.lines().rev().find_map(|l| {
        serde_json::from_str::<Value>(l.trim())
            .ok()
            .filter(Value::is_object)
    })
}

fn parse_claude(out: &str, truncated: bool) -> Parsed {
    let Some(v) = last_json_object(out) else {
        return not_json("claude", out, truncated);
    };
    let result = v.get("result").and_then(Value::as_str).map(str::to_string);
    let usage = v.get("usage").cloned().unwrap_or(Value::Null);
    let mut p = Parsed {
        answer: result.clone(),
        cost_usd: v.get("total_cost_usd").and_then(Value::as_f64),
        input_tokens: int(&usage, "input_tokens"),
        output_tokens: int(&usage, "output_tokens"),
        num_turns: int(&v, "num_turns"),
        failure: None,
    };
    if v.get("is_error").and_then(Value::as_bool) == Some(true) {
        let msg = result.unwrap_or_else(|| "claude reported an error".into());
        p.failure = Some((classify(&msg), first_line(&msg, 300)));
    }
    p
}

fn parse_codex(out: &str) -> Parsed {
    let mut p = Parsed::default();
    let mut errors: Vec<String> = Vec::new();
    let mut failed = None;
    let mut turns = 0;
    for line in out.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        match v.get("type").and_then(Value::as_str) {
            Some("turn.completed") => {
                turns += 1;
                if let Some(u) = v.get("usage") {
                    p.input_tokens =
                        Some(p.input_tokens.unwrap_or(0) + int(u, "input_tokens").unwrap_or(0));
                    p.output_tokens =
                        Some(p.output_tokens.unwrap_or(0) + int(u, "output_tokens").unwrap_or(0));
                }
            }
            Some("item.completed") => {
                let item = v.get("item").unwrap_or(&Value::Null);
                let kind = item
                    .get("type")
                    .or(item.get("item_type"))
                    .and_then(Value::as_str);
                if matches!(kind, Some("agent_message") | Some("assistant_message"))
                    && let Some(t) = item.get("text").and_then(Value::as_str)
                {
                    p.answer = Some(t.to_string());
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
    // Reconnect notices are errors only when nothing else happened.
    let failure = failed.or_else(|| {
        if p.answer.is_none() {
            errors.last().cloned()
        } else {
            None
        }
    });
    if let Some(m) = failure {
        p.failure = Some((classify(&m), first_line(&m, 300)));
    }
    p
}

fn parse_gemini(out: &str, truncated: bool) -> Parsed {
    let Some(v) = last_json_object(out) else {
        return not_json("gemini", out, truncated);
    };
    let mut p = Parsed {
        answer: v
            .get("response")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Default::default()
    };
    if let Some(models) = v.pointer("/stats/models").and_then(Value::as_object) {
        let (mut input, mut output) = (0, 0);
        for m in models.values() {
            input += m
                .pointer("/tokens/prompt")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            output += m
                .pointer("/tokens/candidates")
                .and_then(Value::as_i64)
                .unwrap_or(0);
        }
        p.input_tokens = Some(input);
        p.output_tokens = Some(output);
    }
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        let msg = e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("gemini reported an error")
            .to_string();
        let code = e.get("code").and_then(Value::as_i64);
        let kind = if code == Some(41) {
            FailureKind::Auth
        } else {
            classify(&format!("{msg} {}", code.unwrap_or(0)))
        };
        p.failure = Some((kind, first_line(&msg, 300)));
    }
    p
}

fn parse_command(out: &str) -> Parsed {
    let mut p = Parsed {
        answer: Some(out.to_string()),
        ..Default::default()
    };
    let last = out.trim_end().lines().last().unwrap_or("");
    if let Ok(v) = serde_json::from_str::<Value>(last.trim())
        && v.is_object()
    {
        p.cost_usd = v
            .get("cost")
            .and_then(Value::as_f64)
            .or(v.pointer("/usage/cost_usd").and_then(Value::as_f64));
        if let Some(u) = v.get("usage") {
            p.input_tokens = int(u, "input_tokens");
            p.output_tokens = int(u, "output_tokens");
            p.num_turns = int(u, "num_turns");
        }
        let body = out.trim_end();
        p.answer = Some(body[..body.len() - last.len()].trim_end().to_string());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_success_and_not_logged_in() {
        let ok = br#"{"type":"result","is_error":false,"result":"done","total_cost_usd":0.12,"usage":{"input_tokens":10,"output_tokens":5},"num_turns":3}"#;
        let p = parse(Preset::Claude, Some(0), ok, false, b"");
        assert_eq!(p.failure, None);
        assert_eq!(p.answer.as_deref(), Some("done"));
        assert_eq!(
            (p.input_tokens, p.output_tokens, p.num_turns),
            (Some(10), Some(5), Some(3))
        );
        let bad = br#"{"type":"result","is_error":true,"result":"Not logged in \u00b7 Please run /login"}"#;
        let p = parse(Preset::Claude, Some(1), bad, false, b"");
        assert_eq!(p.failure.unwrap().0, FailureKind::Auth);
    }

    #[test]
    fn claude_root_refusal_is_not_auth() {
        let err = b"--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n";
        let p = parse(Preset::Claude, Some(1), b"", false, err);
        let (kind, msg) = p.failure.unwrap();
        assert_eq!(kind, FailureKind::Other);
        assert!(msg.contains("root"), "{msg}");
    }

    #[test]
    fn gemini_exit_41_is_auth() {
        let out = br#"{"error": {"type": "Error", "message": "Please set an Auth method in your settings", "code": 41}}"#;
        let p = parse(Preset::Gemini, Some(41), out, false, b"");
        assert_eq!(p.failure.unwrap().0, FailureKind::Auth);
        let ok =
            br#"{"response":"hi","stats":{"models":{"m":{"tokens":{"prompt":7,"candidates":2}}}}}"#;
        let p = parse(Preset::Gemini, Some(0), ok, false, b"");
        assert_eq!((p.answer.as_deref(), p.input_tokens), (Some("hi"), Some(7)));
    }

    #[test]
    fn codex_events() {
        let out = b"{\"type\":\"thread.started\"}\n{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"fixed\"}}\n{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":100,\"output_tokens\":20}}\n";
        let p = parse(Preset::Codex, Some(0), out, false, b"");
        assert_eq!(
            (p.answer.as_deref(), p.input_tokens, p.failure),
            (Some("fixed"), Some(100), None)
        );
        let quota = b"{\"type\":\"error\",\"message\":\"You exceeded your current quota (insufficient_quota)\"}\n";
        let p = parse(Preset::Codex, Some(1), quota, false, b"");
        assert_eq!(p.failure.unwrap().0, FailureKind::Quota);
        let reconnect = b"{\"type\":\"error\",\"message\":\"Reconnecting... 2/5 stream error\"}\n";
        let p = parse(Preset::Codex, Some(1), reconnect, false, b"");
        assert_eq!(p.failure.unwrap().0, FailureKind::Other);
    }

    #[test]
    fn garbage_never_panics() {
        for out in [&b"{not json"[..], b"", b"\xff\xfe\x00", b"[1,2,3]", b"null"] {
            for preset in [
                Preset::Claude,
                Preset::Codex,
                Preset::Gemini,
                Preset::Command,
            ] {
                let p = parse(preset, Some(0), out, false, b"");
                if matches!(preset, Preset::Claude | Preset::Gemini) {
                    assert!(p.failure.is_some());
                }
            }
        }
        let p = parse(Preset::Claude, Some(0), b"{\"result\": \"x", true, b"");
        assert!(p.failure.unwrap().1.contains("more output"));
    }

    #[test]
    fn command_reads_a_final_json_line() {
        let p = parse(
            Preset::Command,
            Some(0),
            b"line one\nline two\n{\"cost\": 0.5, \"usage\": {\"input_tokens\": 3}}\n",
            false,
            b"",
        );
        assert_eq!(p.answer.as_deref(), Some("line one\nline two"));
        assert_eq!((p.cost_usd, p.input_tokens), (Some(0.5), Some(3)));
        let p = parse(
            Preset::Command,
            Some(2),
            b"boom\n",
            false,
            b"rate limit hit\n",
        );
        assert_eq!(p.failure.unwrap().0, FailureKind::Quota);
    }
}
