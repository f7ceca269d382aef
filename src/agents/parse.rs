//! Reading what an agent CLI printed, on both of its streams: the answer, what it cost and
//! used, and whether it failed, and how. An auth, quota or unreachable-provider failure
//! moves on to the next agent; a call the CLI rejected before it used the service gives
//! its budget reservation back; any other failure ends the run. The shapes are those the
//! real CLIs print (agents.md, "What the real CLIs do when things go wrong"); garbage in
//! any form is a plain failure, never a panic.

use serde_json::Value;

use crate::config::Preset;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// Not logged in, invalid key, 401.
    Auth,
    /// Rate limit, 429, exhausted quota.
    Quota,
    /// The provider can't be reached (no network, connection refused, retries given up).
    Unavailable,
    /// The CLI refused the call before it used the service: a usage error, claude under
    /// root, an untrusted folder. Nothing was spent.
    Rejected,
    /// Anything else.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) kind: FailureKind,
    /// The CLI's own words: its first meaningful line.
    pub(crate) message: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Parsed {
    pub(crate) answer: Option<String>,
    pub(crate) cost_usd: Option<f64>,
    pub(crate) input_tokens: Option<i64>,
    pub(crate) output_tokens: Option<i64>,
    pub(crate) num_turns: Option<i64>,
    pub(crate) tool_calls: Option<i64>,
    /// The output shows the service answered (a result, usage, an event of a turn): the
    /// call ran, and is charged unless it failed for auth, quota or reachability.
    pub(crate) reached_service: bool,
    /// `None`: the call succeeded.
    pub(crate) failure: Option<Failure>,
    /// The answer is the output itself (a `command` agent's text), which the run's log
    /// has already: it is not written there again.
    pub(crate) answer_is_output: bool,
}

/// Classifies an error message from a CLI.
pub(crate) fn classify(message: &str) -> FailureKind {
    let m = message.to_lowercase();
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
    const AUTH: &[&str] = &[
        "not logged in",
        "please run /login",
        "invalid api key",
        "invalid x-api-key",
        "incorrect api key",
        "401",
        "unauthorized",
        "authentication",
        "auth method",
        "oauth token has expired",
        "credentials",
    ];
    const REJECTED: &[&str] = &[
        ROOT_REFUSAL,
        "unknown option",
        "unexpected argument",
        "unknown argument",
        "not running in a trusted directory",
        "current folder is not trusted",
    ];
    if REJECTED.iter().any(|p| m.contains(p)) {
        FailureKind::Rejected
    } else if QUOTA.iter().any(|p| m.contains(p)) {
        FailureKind::Quota
    } else if AUTH.iter().any(|p| m.contains(p)) {
        FailureKind::Auth
    } else if unreachable_words(&m) {
        FailureKind::Unavailable
    } else {
        FailureKind::Other
    }
}

/// Words of a provider that can't be reached (lower-cased input).
pub(crate) fn unreachable_words(m: &str) -> bool {
    const WORDS: &[&str] = &[
        "reconnecting",
        "waiting for network",
        "connection error",
        "connection refused",
        "error sending request",
        "stream disconnected",
        "failed to connect",
        "could not resolve host",
        "dns error",
        "network is unreachable",
        "fetch failed",
        "unable to connect",
        "connectionrefused",
        "econnrefused",
        "enotfound",
        "etimedout",
        "eai_again",
    ];
    WORDS.iter().any(|w| m.contains(w))
}

/// What one line of a running CLI's output says about its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// Only that the provider can't be reached (a retry or reconnect notice): the message.
    Notice(String),
    /// Anything else the CLI did.
    Progress,
    /// Nothing either way: blank, a stack trace's continuation, a runtime's warning.
    Neutral,
}

/// Reads one output line of a running call, to stop a call that only ever retries to
/// reach its provider (`agent_stall`).
pub(crate) fn read_line(line: &str) -> Line {
    let t = line.trim();
    if is_noise(line) || t.starts_with("at ") || t == "}" || t == "{" {
        return Line::Neutral;
    }
    let text = match serde_json::from_str::<Value>(t) {
        Ok(v) if v.is_object() => {
            // Only an error event can be a notice: codex `error` and error items, claude's
            // `api_retry`.
            let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
            let sub = v.get("subtype").and_then(Value::as_str).unwrap_or("");
            let item = v
                .pointer("/item/type")
                .and_then(Value::as_str)
                .unwrap_or("");
            if kind != "error" && sub != "api_retry" && item != "error" {
                return Line::Progress;
            }
            v.pointer("/item/message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| message_of(&v))
                .unwrap_or_else(|| t.to_string())
        }
        _ => t.to_string(),
    };
    if unreachable_words(&text.to_lowercase()) {
        Line::Notice(clip(&text, 300))
    } else {
        Line::Progress
    }
}

pub(crate) const ROOT_REFUSAL: &str = "cannot be used with root/sudo privileges";

pub(crate) fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Lines that say nothing about how a call went: Node's deprecation warnings, and the
/// banners the CLIs print on every start.
pub(crate) fn is_noise(line: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "(node:",
        "(Use `node --trace",
        "Loaded cached credentials",
        "YOLO mode is enabled",
        "Warning: 256-color support",
        "Ripgrep is not available",
        "WARNING: proceeding, even though we could not create PATH aliases",
        "Reading additional input from stdin",
        "Reading prompt from stdin",
    ];
    let l = line.trim();
    l.is_empty() || PREFIXES.iter().any(|p| l.starts_with(p))
}

/// The message of an error document, in any of the CLIs' shapes.
pub(crate) fn message_of(v: &Value) -> Option<String> {
    for p in ["/error/message", "/message", "/result", "/error"] {
        if let Some(m) = v.pointer(p).and_then(Value::as_str)
            && !m.trim().is_empty()
        {
            return Some(m.to_string());
        }
    }
    None
}

/// The first line of `text` that says something: a JSON document's message, else the
/// line itself, at most `max` characters.
pub(crate) fn meaningful_line(text: &str, max: usize) -> String {
    for line in text.lines() {
        if is_noise(line) {
            continue;
        }
        let l = line.trim();
        if l.starts_with('{') {
            if let Some(v) = json_from(text, line)
                && let Some(m) = message_of(&v)
            {
                return clip(m.lines().find(|x| !x.trim().is_empty()).unwrap_or(""), max);
            }
            if l == "{" {
                continue;
            }
        }
        return clip(l, max);
    }
    String::new()
}

/// The JSON document that starts at `line` (a line of `text`), possibly spanning lines.
pub(crate) fn json_from(text: &str, line: &str) -> Option<Value> {
    let at = line.as_ptr() as usize - text.as_ptr() as usize;
    let mut de = serde_json::Deserializer::from_str(&text[at..]).into_iter::<Value>();
    de.next()?.ok().filter(Value::is_object)
}

/// A non-negative count: a CLI's number that is negative or not an integer is no count.
pub(crate) fn count(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64).filter(|n| *n >= 0)
}

pub(crate) fn add(total: &mut Option<i64>, n: Option<i64>) {
    if let Some(n) = n {
        *total = Some(total.unwrap_or(0).saturating_add(n));
    }
}

/// A cost in dollars: finite and not negative, else unknown.
pub(crate) fn dollars(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
        .filter(|c| c.is_finite() && *c >= 0.0)
}

/// The last JSON object in `text`: the whole text, else the last line that starts one
/// (it may span several lines, as a pretty-printed error document does).
pub(crate) fn last_json_object(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(text.trim())
        && v.is_object()
    {
        return Some(v);
    }
    text.lines()
        .rev()
        .filter(|l| l.trim_start().starts_with('{'))
        .find_map(|l| json_from(text, l))
}

/// Parses a finished call. `exit_code` is the CLI's exit status (None: killed by a
/// signal); `truncated` says the captured stdout was cut at the capture limit; `stderr`
/// is what the CLI printed on its other stream (its start and end).
pub(crate) fn parse(
    preset: Preset,
    exit_code: Option<i32>,
    stdout: &[u8],
    truncated: bool,
    stderr: &[u8],
) -> Parsed {
    let out = String::from_utf8_lossy(stdout);
    let err = String::from_utf8_lossy(stderr);
    if err.contains(ROOT_REFUSAL) || out.contains(ROOT_REFUSAL) {
        return Parsed {
            failure: Some(Failure {
                kind: FailureKind::Rejected,
                message: "claude refuses --dangerously-skip-permissions when run as root: run jobctl as a normal user (or set IS_SANDBOX=1 in a container)".into(),
            }),
            ..Default::default()
        };
    }
    let mut p = super::presets::driver(preset).read(&out, &err, truncated);
    if let Some(f) = &mut p.failure
        && f.message.is_empty()
    {
        f.message = describe_exit(exit_code, &err, &out);
        f.kind = classify(&f.message);
    }
    if p.failure.is_none() && exit_code != Some(0) {
        let message = describe_exit(exit_code, &err, &out);
        p.failure = Some(Failure {
            kind: classify(&message),
            message,
        });
    }
    // Exit 2 with no sign of the service is a usage error; gemini exits 55 in a folder it
    // doesn't trust. Either way the CLI refused before doing anything.
    if let Some(f) = &mut p.failure
        && f.kind == FailureKind::Other
        && (exit_code == Some(55) || (exit_code == Some(2) && !p.reached_service))
    {
        f.kind = FailureKind::Rejected;
    }
    p
}

/// "exited with code N: <the CLI's first meaningful line>", stderr first.
fn describe_exit(exit_code: Option<i32>, err: &str, out: &str) -> String {
    let what = match exit_code {
        Some(c) => format!("exited with code {c}"),
        None => "was killed by a signal".into(),
    };
    let said = [meaningful_line(err, 300), meaningful_line(out, 300)]
        .into_iter()
        .find(|m| !m.is_empty());
    match said {
        Some(m) => format!("{what}: {m}"),
        None => format!("{what} and printed nothing"),
    }
}

/// The output was not the JSON the preset prints: say so with what it did print. The
/// message is left empty for [`parse`] to fill from both streams when stdout is empty.
pub(crate) fn not_json(what: &str, out: &str, truncated: bool) -> Parsed {
    let message = if truncated {
        format!("{what} printed more output than jobctl parses (over 8 MiB); see the run log")
    } else if out.trim().is_empty() {
        String::new()
    } else {
        format!(
            "{what} printed output that is not the expected JSON: {}",
            meaningful_line(out, 200)
        )
    };
    Parsed {
        failure: Some(Failure {
            kind: FailureKind::Other,
            message,
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
