//! Unit tests of reading the agent CLIs' output: the pure rules, on the shapes the real CLIs print.

use super::*;

fn kind(p: &Parsed) -> FailureKind {
    p.failure.as_ref().expect("a failure").kind
}

#[test]
fn claude_success_and_not_logged_in() {
    let ok = br#"{"type":"result","is_error":false,"result":"done","total_cost_usd":0.12,"usage":{"input_tokens":10,"output_tokens":5},"num_turns":3}"#;
    let p = parse(Preset::Claude, Some(0), ok, false, b"");
    assert_eq!(p.failure, None);
    assert!(p.reached_service);
    assert_eq!(p.answer.as_deref(), Some("done"));
    assert_eq!(
        (p.input_tokens, p.output_tokens, p.num_turns),
        (Some(10), Some(5), Some(3))
    );
    let bad = br#"{"type":"result","is_error":true,"duration_api_ms":0,"result":"Not logged in \u00b7 Please run /login","usage":{"input_tokens":0,"output_tokens":0}}"#;
    let p = parse(Preset::Claude, Some(1), bad, false, b"");
    assert_eq!(kind(&p), FailureKind::Auth);
    assert!(!p.reached_service);
}

#[test]
fn claude_usage_error_and_root_refusal_are_rejected_with_their_words() {
    let p = parse(
        Preset::Claude,
        Some(1),
        b"",
        false,
        b"error: unknown option '--print=hi'\n(Did you mean --print?)\n",
    );
    let f = p.failure.unwrap();
    assert_eq!(f.kind, FailureKind::Rejected);
    assert_eq!(
        f.message,
        "exited with code 1: error: unknown option '--print=hi'"
    );
    let err = b"--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n";
    let f = parse(Preset::Claude, Some(1), b"", false, err)
        .failure
        .unwrap();
    assert_eq!(f.kind, FailureKind::Rejected);
    assert!(f.message.contains("root"), "{}", f.message);
}

#[test]
fn nothing_printed_says_so_and_a_signal_too() {
    let f = parse(Preset::Claude, Some(1), b"", false, b"")
        .failure
        .unwrap();
    assert_eq!(f.message, "exited with code 1 and printed nothing");
    let f = parse(Preset::Codex, None, b"", false, b"").failure.unwrap();
    assert_eq!(f.message, "was killed by a signal and printed nothing");
}

#[test]
fn gemini_error_document_on_stderr() {
    let err = b"(node:12) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.\n(Use `node --trace-deprecation ...` to show where the warning was created)\n{\n  \"session_id\": \"s\",\n  \"error\": {\n    \"type\": \"Error\",\n    \"message\": \"Please set an Auth method in your settings\",\n    \"code\": 41\n  }\n}\n";
    let p = parse(Preset::Gemini, Some(41), b"", false, err);
    let f = p.failure.unwrap();
    assert_eq!(f.kind, FailureKind::Auth);
    assert_eq!(f.message, "Please set an Auth method in your settings");
    let ok = br#"{"response":"hi","stats":{"models":{"m":{"api":{"totalRequests":2},"tokens":{"prompt":7,"candidates":2}}},"tools":{"totalCalls":3}}}"#;
    let p = parse(Preset::Gemini, Some(0), ok, false, b"");
    assert_eq!(
        (
            p.answer.as_deref(),
            p.input_tokens,
            p.num_turns,
            p.tool_calls
        ),
        (Some("hi"), Some(7), Some(2), Some(3))
    );
    let p = parse(
        Preset::Gemini,
        Some(55),
        b"",
        false,
        b"not running in a trusted directory\n",
    );
    assert_eq!(kind(&p), FailureKind::Rejected);
}

#[test]
fn codex_events() {
    let out = b"{\"type\":\"thread.started\"}\n{\"type\":\"item.completed\",\"item\":{\"type\":\"command_execution\",\"command\":\"ls\"}}\n{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"fixed\"}}\n{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":100,\"output_tokens\":20}}\n";
    let p = parse(Preset::Codex, Some(0), out, false, b"");
    assert_eq!(
        (p.answer.as_deref(), p.input_tokens, p.tool_calls, p.failure),
        (Some("fixed"), Some(100), Some(1), None)
    );
    let quota = b"{\"type\":\"error\",\"message\":\"You exceeded your current quota (insufficient_quota)\"}\n";
    let p = parse(Preset::Codex, Some(1), quota, false, b"");
    assert_eq!(kind(&p), FailureKind::Quota);
    let reconnect = b"{\"type\":\"error\",\"message\":\"Reconnecting... 2/5 (stream disconnected before completion)\"}\n";
    let p = parse(Preset::Codex, Some(1), reconnect, false, b"");
    assert_eq!(kind(&p), FailureKind::Unavailable);
}

#[test]
fn counts_never_wrap_and_costs_are_never_negative() {
    let big = i64::MAX;
    let out = format!(
        "{{\"type\":\"turn.completed\",\"usage\":{{\"input_tokens\":{big},\"output_tokens\":-5}}}}\n{{\"type\":\"turn.completed\",\"usage\":{{\"input_tokens\":{big},\"output_tokens\":1}}}}\n{{\"type\":\"item.completed\",\"item\":{{\"type\":\"agent_message\",\"text\":\"x\"}}}}\n"
    );
    let p = parse(Preset::Codex, Some(0), out.as_bytes(), false, b"");
    assert_eq!((p.input_tokens, p.output_tokens), (Some(i64::MAX), Some(1)));
    let p = parse(
        Preset::Claude,
        Some(0),
        br#"{"result":"x","total_cost_usd":-3.5}"#,
        false,
        b"",
    );
    assert_eq!(p.cost_usd, None);
}

#[test]
fn lines_of_a_provider_that_cant_be_reached() {
    let notice = |l: &str| match read_line(l) {
        Line::Notice(m) => m,
        other => panic!("{l:?} is a notice, not {other:?}"),
    };
    // codex 0.171 with no network, stdout and stderr.
    assert!(notice(r#"{"type":"error","message":"Reconnecting... 2/5 (stream disconnected before completion: failed to lookup address information: Name does not resolve)"}"#).starts_with("Reconnecting... 2/5"));
    notice(
        r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Falling back from WebSockets to HTTPS transport. stream disconnected before completion"}}"#,
    );
    notice(
        r#"{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}"#,
    );
    notice(
        "2026-11-27T06:37:52.937163Z ERROR codex_api::endpoint::responses_websocket: failed to connect to Responses WebSocket stage=Unknown",
    );
    // gemini 0.61 retrying, with its stack trace.
    notice(
        "Attempt 1 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request",
    );
    assert_eq!(
        read_line("    at async Models.generateContent (file:///x.js:1:2)"),
        Line::Neutral
    );
    assert_eq!(read_line(""), Line::Neutral);
    assert_eq!(
        read_line("YOLO mode is enabled. All tool calls will be automatically approved."),
        Line::Neutral
    );
    assert_eq!(read_line(r#"{"type":"turn.started"}"#), Line::Progress);
    assert_eq!(
        read_line(
            r#"{"type":"item.completed","item":{"type":"agent_message","text":"connection refused is a fine topic"}}"#
        ),
        Line::Progress
    );
    assert_eq!(read_line("working..."), Line::Progress);
}

#[test]
fn garbage_never_panics() {
    for out in [
        &b"{not json"[..],
        b"",
        b"\xff\xfe\x00",
        b"[1,2,3]",
        b"null",
        b"{\n",
    ] {
        for preset in [
            Preset::Claude,
            Preset::Codex,
            Preset::Gemini,
            Preset::Command,
        ] {
            let p = parse(preset, Some(0), out, false, out);
            if matches!(preset, Preset::Claude | Preset::Gemini) {
                assert!(p.failure.is_some());
            }
            let _ = meaningful_line(&String::from_utf8_lossy(out), 10);
        }
    }
    // A result cut at the capture limit is never read from whatever fit.
    let p = parse(Preset::Claude, Some(0), b"{\"result\": \"x\"}\n", true, b"");
    assert!(p.failure.unwrap().message.contains("more output"));
}

#[test]
fn command_reads_a_final_json_line() {
    let p = parse(
        Preset::Command,
        Some(0),
        b"line one\nline two\n{\"cost\": 0.5, \"usage\": {\"input_tokens\": 3, \"tool_calls\": 2}}\n",
        false,
        b"",
    );
    assert_eq!(p.answer.as_deref(), Some("line one\nline two"));
    assert_eq!(
        (p.cost_usd, p.input_tokens, p.tool_calls),
        (Some(0.5), Some(3), Some(2))
    );
    let p = parse(
        Preset::Command,
        Some(2),
        b"boom\n",
        false,
        b"rate limit hit\n",
    );
    assert_eq!(kind(&p), FailureKind::Quota);
}
