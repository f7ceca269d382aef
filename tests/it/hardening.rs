//! Hardening (reliability.md, "Bad input gets a clear error, never a panic" and
//! "Security"): the real binary fed mutated configs and agents that print garbage, and the
//! security guarantees checked from outside: file modes, job names that would escape the
//! state dir, secrets that must not show in jobctl's own output or events, `env_remove`,
//! the root warning, and a prompt full of shell metacharacters.
//!
//! Randomness comes from a fixed-seed xorshift generator: every run tests the same inputs,
//! and a failure names the mutant (seed and index) that caused it.

use crate::support::*;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A Monday morning, UTC, in the past of the machine's clock.
const T: &str = "2026-06-01T10:00:00Z";
/// An hour and a minute later: `every = "1h"` jobs are due again.
const T_NEXT: &str = "2026-06-01T11:01:00Z";

const LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// xorshift64*: small, deterministic, good enough to pick offsets and bytes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 24) as u8
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Runs `c` to its exit with a deadline, output through files (a huge output or a
/// detached process can't block the test); kills it if it hangs.
fn run_limited(env: &Env, mut c: Command) -> Output {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = env.home().join("cmd-output");
    std::fs::create_dir_all(&dir).unwrap();
    let (out, err) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
    c.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = c.spawn().expect("start jobctl");
    let status = {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("jobctl did not exit within {LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let o = Output {
        status,
        stdout: std::fs::read(&out).unwrap_or_default(),
        stderr: std::fs::read(&err).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&err);
    o
}

/// `jobctl ARGS` at `now` (if given), to its exit, with a deadline.
fn jobctl(env: &Env, now: Option<&str>, args: &[&str]) -> Output {
    let mut c = env.cmd(args);
    if let Some(now) = now {
        c.env("JOBCTL_NOW", now);
    }
    run_limited(env, c)
}

#[track_caller]
fn assert_no_panic(o: &Output, what: &str) {
    let err = stderr(o);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: jobctl panicked\n{}",
        both(o)
    );
    // A panic exits 101; a crash by signal has no code.
    assert!(
        o.status.code().is_some() && code(o) != 101,
        "{what}: jobctl died: {:?}\n{}",
        o.status,
        both(o)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap(); // keeps the mode (scripts stay executable)
        }
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `history --json` of `job`, newest first.
fn history(env: &Env, job: &str) -> Vec<serde_json::Value> {
    let o = jobctl(env, None, &["history", "--json", job]);
    assert_eq!(code(&o), 0, "history --json {job}\n{}", both(&o));
    serde_json::from_slice(&o.stdout).expect("history --json is JSON")
}

/// A TOML basic string for `s` (JSON's escapes are TOML's).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

// ---------------------------------------------------------------------------------------
// Random and truncated TOML
// ---------------------------------------------------------------------------------------

/// An env holding a copy of the repo's example config and the files it refers to.
fn example_env() -> (Env, Vec<u8>) {
    let env = Env::new();
    let jobs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("jobs");
    for d in ["prompts", "scripts", "agents"] {
        copy_dir(&jobs.join(d), &env.home().join(d));
    }
    let text = std::fs::read(jobs.join("jobctl.toml")).unwrap();
    std::fs::write(env.config_path(), &text).unwrap();
    (env, text)
}

const GARBAGE: &[u8] =
    b"[]{}\"'=.,#\n\r\t\\ -+_:0123456789abcxyzTtrueFALSEnaninf\x00\x01\x7f\x80\xbf\xc3\xe2\xf0\xff";

const VALUES: &[&str] = &[
    "\"1h\"",
    "\"0s\"",
    "-1",
    "0",
    "\"\"",
    "[]",
    "{}",
    "[[]]",
    "true",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "99999999999999999999999999",
    "0x7fffffffffffffff",
    "1979-05-27T07:32:00Z",
    "\"25:99\"",
    "\"* * * * * *\"",
    "\"@never\"",
    "\"Mars/Olympus\"",
    "\"\\u0000\"",
    "'''",
    "\"\"\"",
    "{ a = { b = { c = 1 } } }",
    "[\"../..\", 1, true]",
    "\"/dev/null\"",
    "\"prompts\"",
];

fn lines_of(text: &[u8]) -> Vec<Vec<u8>> {
    text.split_inclusive(|b| *b == b'\n')
        .map(|l| l.to_vec())
        .collect()
}

/// One random change to `text`; returns its description.
fn mutate(rng: &mut Rng, text: &mut Vec<u8>) -> String {
    let len = text.len().max(1);
    match rng.below(8) {
        0 => {
            let at = rng.below(len);
            text.truncate(at);
            format!("truncated at byte {at}")
        }
        1 => {
            let n = 1 + rng.below(4);
            let mut what = Vec::new();
            for _ in 0..n {
                if text.is_empty() {
                    break;
                }
                let at = rng.below(text.len());
                let b = rng.byte();
                what.push(format!("{at}={b:#04x}"));
                text[at] = b;
            }
            format!("bytes flipped: {}", what.join(" "))
        }
        2 => {
            let mut ls = lines_of(text);
            if ls.is_empty() {
                return "nothing to duplicate".into();
            }
            let i = rng.below(ls.len());
            let l = ls[i].clone();
            ls.insert(i + 1, l);
            *text = ls.concat();
            format!("line {} duplicated", i + 1)
        }
        3 => {
            let mut ls = lines_of(text);
            if ls.is_empty() {
                return "nothing to remove".into();
            }
            let i = rng.below(ls.len());
            ls.remove(i);
            *text = ls.concat();
            format!("line {} removed", i + 1)
        }
        4 => {
            let at = rng.below(len + 1).min(text.len());
            let n = 1 + rng.below(40);
            let g: Vec<u8> = (0..n).map(|_| *rng.pick(GARBAGE)).collect();
            text.splice(at..at, g.iter().copied());
            format!(
                "garbage inserted at byte {at}: {:?}",
                String::from_utf8_lossy(&g)
            )
        }
        5 => {
            let mut ls = lines_of(text);
            if ls.len() < 2 {
                return "nothing to swap".into();
            }
            let (i, j) = (rng.below(ls.len()), rng.below(ls.len()));
            ls.swap(i, j);
            *text = ls.concat();
            format!("lines {} and {} swapped", i + 1, j + 1)
        }
        6 => {
            // A value replaced by something of another type or out of range.
            let mut ls = lines_of(text);
            let with_value: Vec<usize> = (0..ls.len())
                .filter(|i| ls[*i].windows(3).any(|w| w == b" = ") && ls[*i][0] != b'#')
                .collect();
            if with_value.is_empty() {
                return "no value to replace".into();
            }
            let i = *rng.pick(&with_value);
            let eq = ls[i].windows(3).position(|w| w == b" = ").unwrap();
            let v = *rng.pick(VALUES);
            let mut l = ls[i][..eq + 3].to_vec();
            l.extend_from_slice(v.as_bytes());
            l.push(b'\n');
            ls[i] = l;
            *text = ls.concat();
            format!("line {} value replaced by {v}", i + 1)
        }
        _ => {
            // Random bytes, raw, anywhere: non-UTF-8 most of the time.
            let at = rng.below(len + 1).min(text.len());
            let n = 1 + rng.below(16);
            let g = rng.bytes(n);
            text.splice(at..at, g.iter().copied());
            format!("random bytes inserted at byte {at}: {g:02x?}")
        }
    }
}

/// Asserts the shape of a failed validation on stderr: `jobctl: invalid config (N
/// errors):`, then N lines, each `PATH:LINE:COL: ...` (a location in the file) or `PATH:
/// ...` (the file as a whole).
#[track_caller]
fn assert_config_error_lines(env: &Env, file_lines: usize, err: &str, what: &str) {
    let path = env.config_path().display().to_string();
    let lines: Vec<&str> = err.lines().filter(|l| !l.is_empty()).collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("jobctl: invalid config ("))
        .unwrap_or_else(|| panic!("{what}: no `invalid config` header:\n{err}"));
    let n: usize = lines[header]["jobctl: invalid config (".len()..]
        .split(' ')
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no error count in {:?}", lines[header]));
    let issues = &lines[header + 1..];
    assert_eq!(
        issues.len(),
        n,
        "{what}: the header announces {n} errors, one line each:\n{err}"
    );
    for l in issues {
        let Some(rest) = l.strip_prefix(&format!("{path}:")) else {
            panic!(
                "{what}: an error line that doesn't start with the config path {path}: {l:?}\n{err}"
            );
        };
        if rest.starts_with(' ') {
            continue; // the whole file
        }
        let mut parts = rest.splitn(3, ':');
        let line: Option<usize> = parts.next().and_then(|x| x.parse().ok());
        let col: Option<usize> = parts.next().and_then(|x| x.parse().ok());
        let tail = parts.next().unwrap_or("");
        let (Some(line), Some(col)) = (line, col) else {
            panic!("{what}: an error line without LINE:COL: {l:?}\n{err}");
        };
        assert!(
            tail.starts_with(' ') && tail.len() > 1,
            "{what}: nothing after the location: {l:?}"
        );
        assert!(
            line >= 1 && line <= file_lines + 1 && col >= 1,
            "{what}: location {line}:{col} is outside the file ({file_lines} lines): {l:?}"
        );
    }
}

#[test]
fn random_and_truncated_configs_give_78_with_located_errors_never_a_panic() {
    let (env, original) = example_env();
    let o = jobctl(&env, None, &["check"]);
    assert_eq!(code(&o), 0, "the example config is valid\n{}", both(&o));

    const SEED: u64 = 0x5eed_cafe_f00d_0001;
    let mut rng = Rng::new(SEED);
    let (mut valid, mut invalid, mut listed) = (0, 0, 0);
    for i in 0..150 {
        let mut text = original.clone();
        let steps = if i % 5 == 4 { 2 + rng.below(3) } else { 1 };
        let desc: Vec<String> = (0..steps).map(|_| mutate(&mut rng, &mut text)).collect();
        let what = format!("mutant {i} (seed {SEED:#x}): {}", desc.join("; "));
        std::fs::write(env.config_path(), &text).unwrap();
        let file_lines = text.iter().filter(|b| **b == b'\n').count() + 1;

        let o = jobctl(&env, None, &["check"]);
        assert_no_panic(&o, &what);
        match code(&o) {
            0 => {
                valid += 1;
                assert!(stdout(&o).starts_with("ok: "), "{what}\n{}", both(&o));
            }
            78 => {
                invalid += 1;
                assert_eq!(stdout(&o), "", "{what}: nothing on stdout");
                assert_config_error_lines(&env, file_lines, &stderr(&o), &what);
            }
            c => panic!("{what}: check exited {c}, expected 0 or 78\n{}", both(&o)),
        }

        // `list` on some of them, while the state dir stays inside the temp dir.
        let state_intact = text
            .split(|b| *b == b'\n')
            .any(|l| l == b"state_dir = \"state\"");
        if i % 10 == 0 && state_intact {
            listed += 1;
            let o = jobctl(&env, Some(T), &["list"]);
            assert_no_panic(&o, &what);
            assert!(
                [0, 78].contains(&code(&o)),
                "{what}: list exited {}, expected 0 or 78\n{}",
                code(&o),
                both(&o)
            );
            if code(&o) == 78 {
                assert_config_error_lines(&env, file_lines, &stderr(&o), &what);
            }
        }
    }
    eprintln!("{valid} valid, {invalid} invalid mutants, {listed} listed");
    assert!(invalid >= 75, "most mutants should be invalid: {invalid}");
    assert!(listed >= 5, "list ran on a few mutants: {listed}");
}

#[test]
fn non_utf8_and_binary_configs_give_78_never_a_panic() {
    let (env, original) = example_env();
    let mut rng = Rng::new(0xbad_c0de);
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("only a NUL".into(), vec![0]),
        ("random binary".into(), rng.bytes(4096)),
        (
            "a UTF-8 BOM".into(),
            [b"\xef\xbb\xbf".as_slice(), &original].concat(),
        ),
        (
            "a UTF-16 BOM".into(),
            [b"\xff\xfe".as_slice(), &original].concat(),
        ),
        (
            "a lone continuation byte at the end".into(),
            [original.as_slice(), b"\x80"].concat(),
        ),
        (
            "a cut multi-byte char".into(),
            [original.as_slice(), b"# \xe2\x82"].concat(),
        ),
        (
            "deeply nested arrays".into(),
            format!("x = {}", "[".repeat(100_000)).into_bytes(),
        ),
        (
            "deeply nested inline tables".into(),
            format!("x = {}", "{a=".repeat(50_000)).into_bytes(),
        ),
        (
            "deeply nested, closed".into(),
            format!("x = {}{}\n", "[".repeat(20_000), "]".repeat(20_000)).into_bytes(),
        ),
        (
            "a 1 MiB key".into(),
            format!("{} = 1\n", "k".repeat(1 << 20)).into_bytes(),
        ),
        (
            "a 1 MiB string value".into(),
            format!("[runner]\nscope = \"{}\"\n", "s".repeat(1 << 20)).into_bytes(),
        ),
        (
            "2,000 unknown tables".into(),
            (0..2_000)
                .map(|i| format!("[t{i}]\n"))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "CRLF line ends".into(),
            String::from_utf8_lossy(&original)
                .replace('\n', "\r\n")
                .into_bytes(),
        ),
        (
            "CR only".into(),
            String::from_utf8_lossy(&original)
                .replace('\n', "\r")
                .into_bytes(),
        ),
    ];
    for (what, text) in cases {
        std::fs::write(env.config_path(), &text).unwrap();
        let file_lines = text.iter().filter(|b| **b == b'\n').count() + 1;
        let start = std::time::Instant::now();
        let o = jobctl(&env, None, &["check"]);
        eprintln!("{what}: exit {} in {:?}", code(&o), start.elapsed());
        assert_no_panic(&o, &what);
        match code(&o) {
            0 => assert!(stdout(&o).starts_with("ok: "), "{what}\n{}", both(&o)),
            78 => assert_config_error_lines(&env, file_lines, &stderr(&o), &what),
            c => panic!("{what}: check exited {c}, expected 0 or 78\n{}", both(&o)),
        }
    }
}

/// A file well under the size limit (4 MiB) with 50,000 errors (600 KB of unknown
/// tables): validation must stay fast, not take minutes. (Locating each error by scanning
/// the text from its start once made the time grow with errors × file size.)
#[test]
fn a_config_with_tens_of_thousands_of_errors_is_checked_in_seconds() {
    let env = Env::new();
    let text: String = (0..50_000).map(|i| format!("[t{i}]\n")).collect();
    std::fs::write(env.config_path(), &text).unwrap();
    let start = std::time::Instant::now();
    let o = jobctl(&env, None, &["check"]);
    let took = start.elapsed();
    assert_no_panic(&o, "50k unknown tables");
    assert_eq!(code(&o), 78, "{}", stderr(&o).lines().next().unwrap_or(""));
    assert!(took < Duration::from_secs(10), "check took {took:?}");
}

// ---------------------------------------------------------------------------------------
// Agents printing garbage
// ---------------------------------------------------------------------------------------

const CLAUDE_OK: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"claude says hi","total_cost_usd":0.01,"usage":{"input_tokens":5,"output_tokens":7},"num_turns":2}"#;

/// (name, what the fake agent prints on stdout, its exit code).
fn garbage_outputs() -> Vec<(String, Vec<u8>, i32)> {
    let mut rng = Rng::new(0x0a9e_47ba_d0c0_ffee);
    let mut v: Vec<(String, Vec<u8>, i32)> = vec![
        ("random bytes, exit 0".into(), rng.bytes(64 << 10), 0),
        ("random bytes, exit 1".into(), rng.bytes(64 << 10), 1),
        ("random bytes, no newline, exit 3".into(), rng.bytes(333), 3),
        ("nothing at all".into(), Vec::new(), 0),
        ("NUL bytes".into(), vec![0; 10_000], 0),
        ("JSON arrays 100k deep".into(), "[".repeat(100_000).into_bytes(), 0),
        (
            "JSON arrays 100k deep, closed".into(),
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            0,
        ),
        ("JSON objects 100k deep".into(), "{\"a\":".repeat(100_000).into_bytes(), 0),
        (
            "a last line of JSON 100k deep".into(),
            format!("answer\n{}\n", "{\"usage\":".repeat(100_000)).into_bytes(),
            0,
        ),
        (
            "a huge single line (12 MiB, no newline)".into(),
            vec![b'a'; 12 << 20],
            0,
        ),
        (
            "a huge JSON string (9 MiB)".into(),
            format!("{{\"type\":\"result\",\"is_error\":false,\"result\":\"{}\"}}\n", "x".repeat(9 << 20))
                .into_bytes(),
            0,
        ),
        (
            "JSON of the wrong types and out-of-range numbers".into(),
            br#"{"type":"result","is_error":"no","result":12,"total_cost_usd":1e999,"usage":{"input_tokens":-5,"output_tokens":1.5e300},"num_turns":18446744073709551616}"#.to_vec(),
            0,
        ),
        (
            "a command agent's cost line with wrong types".into(),
            b"done\n{\"cost\": \"NaN\", \"usage\": {\"input_tokens\": \"many\", \"num_turns\": [1]}}\n".to_vec(),
            0,
        ),
        (
            "a command agent's cost line with huge numbers".into(),
            b"done\n{\"cost\": 1e308, \"usage\": {\"input_tokens\": 1e30, \"output_tokens\": -9223372036854775809}}\n".to_vec(),
            0,
        ),
        (
            "invalid UTF-8 inside a JSON string".into(),
            b"{\"type\":\"result\",\"is_error\":false,\"result\":\"\xff\xfe\x00\xc3\"}\n".to_vec(),
            0,
        ),
        (
            "JSON lines, 20k of them".into(),
            (0..20_000)
                .map(|i| format!("{{\"type\":\"item.completed\",\"n\":{i}}}\n"))
                .collect::<String>()
                .into_bytes(),
            0,
        ),
    ];
    for cut in [1, 17, CLAUDE_OK.len() / 2, CLAUDE_OK.len() - 1] {
        v.push((
            format!("claude's JSON cut at byte {cut}"),
            CLAUDE_OK.as_bytes()[..cut].to_vec(),
            0,
        ));
    }
    v
}

#[test]
fn agents_printing_garbage_end_in_a_recorded_run_never_a_panic() {
    let mut failures = Vec::new();
    for (what, out, exit) in garbage_outputs() {
        // A fresh env for each output: a scope disabled by one (a stray "429" in random
        // bytes) doesn't turn the next into a skip.
        let env = Env::new();
        let out_file = env.home().join("agent.out");
        std::fs::write(&out_file, &out).unwrap();
        let fake = env.script(
            "bin/fake-agent",
            &format!("#!/bin/sh\ncat '{}'\nexit {exit}\n", out_file.display()),
        );
        env.config(&format!(
            "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n\
             [agents.cmd]\npreset = \"command\"\ndaily_budget = 100\ncommand = ['{f}', \"{{prompt}}\"]\n\n\
             [agents.claude]\npreset = \"claude\"\ndaily_budget = 100\ncommand = '{f}'\n\n\
             [jobs.cmd-job]\ntype = \"agent\"\nagent = \"cmd\"\nprompt = \"hi\"\ntimeout = \"1m\"\n\n\
             [jobs.claude-job]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"hi\"\ntimeout = \"1m\"\n",
            f = fake.display()
        ));
        for job in ["cmd-job", "claude-job"] {
            let what = format!("{job}, {what}");
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let o = jobctl(&env, None, &["force", job]);
                assert_no_panic(&o, &what);
                // 0 or 1; a failed run passes the agent's own exit code (1..=125) through.
                assert!(
                    [0, 1, exit].contains(&code(&o)),
                    "{what}: force exited {}, expected 0, 1 or {exit}\n{}",
                    code(&o),
                    String::from_utf8_lossy(&o.stderr)
                );
                let h = history(&env, job);
                assert_eq!(h.len(), 1, "{what}: one run recorded: {h:?}");
                let status = h[0]["status"].as_str().unwrap_or("");
                assert!(
                    ["succeeded", "failed", "skipped"].contains(&status),
                    "{what}: the run has a final status: {}",
                    h[0]
                );
                assert_eq!(
                    code(&o) == 0,
                    status == "succeeded",
                    "{what}: exit {} for a {status} run",
                    code(&o)
                );
                if status == "failed" {
                    let e = h[0]["error"].as_str().unwrap_or("");
                    assert!(
                        !e.is_empty() && !e.contains('\n') && e.len() <= 1000,
                        "{what}: a failed run says why, in one line: {e:?}"
                    );
                }
            }));
            if let Err(e) = r {
                failures.push(
                    e.downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| what.clone()),
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------
// Security
// ---------------------------------------------------------------------------------------

/// `jobctl ARGS` under `umask 000`, so every mode jobctl creates must be explicit.
fn jobctl_umask0(env: &Env, now: Option<&str>, args: &[&str]) -> Output {
    let base = env.cmd(args);
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .current_dir(env.home())
        .stdin(std::process::Stdio::null());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(now) = now {
        c.env("JOBCTL_NOW", now);
    }
    run_limited(env, c)
}

#[test]
fn state_logs_and_locks_are_private_after_a_run_also_under_umask_000() {
    let env = Env::new();
    let job = env.script("bin/job.sh", "#!/bin/sh\necho some output\necho more >&2\n");
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\n\n[jobs.private]\ntype = \"script\"\ncommand = ['{}']\nevery = \"1h\"\n",
        job.display()
    ));
    let o = jobctl_umask0(&env, Some(T), &["run", "--wait"]);
    assert_eq!(code(&o), 0, "run --wait\n{}", both(&o));
    let o = jobctl_umask0(&env, Some(T), &["force", "private"]);
    assert_eq!(code(&o), 0, "force\n{}", both(&o));

    let state = env.state_dir();
    let h = history(&env, "private");
    assert_eq!(h.len(), 2, "{h:?}");
    let mut checked = vec![
        (state.clone(), 0o700),
        (state.join("logs"), 0o700),
        (state.join("jobctl.db"), 0o600),
        (state.join("jobctl.lock"), 0o600),
        (state.join("locks").join("private.lock"), 0o600),
    ];
    for r in &h {
        let log = PathBuf::from(r["log_path"].as_str().expect("a log path"));
        assert!(
            log.starts_with(&state),
            "the log is in the state dir: {}",
            log.display()
        );
        checked.push((log, 0o600));
    }
    for extra in ["jobctl.db-wal", "jobctl.db-shm", "supervisors.log"] {
        let p = state.join(extra);
        if p.exists() {
            checked.push((p, 0o600));
        }
    }
    let mut wrong = Vec::new();
    for (p, want) in &checked {
        let m = mode(p);
        if m != *want {
            wrong.push(format!("{}: {m:o}, want {want:o}", p.display()));
        }
    }
    // Nothing under the state dir is readable or writable by others.
    fn walk(p: &Path, wrong: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let m = e.metadata().unwrap().permissions().mode() & 0o777;
            if m & 0o077 != 0 {
                wrong.push(format!(
                    "{}: {m:o}, open to group/others",
                    e.path().display()
                ));
            }
            if e.path().is_dir() {
                walk(&e.path(), wrong);
            }
        }
    }
    walk(&state, &mut wrong);
    wrong.dedup();
    assert!(wrong.is_empty(), "wrong modes:\n{}", wrong.join("\n"));
}

#[test]
fn job_names_that_could_escape_the_state_dir_are_config_errors() {
    let names = [
        "../x",
        "..",
        ".",
        "a/b",
        "/etc/x",
        "a\\b",
        "x/../../y",
        ".hidden",
        "a\nb",
        "a\u{0}b",
        "-rf",
        "UPPER",
        "é",
        "x.lock",
        "",
    ];
    for name in names {
        let env = Env::with_config(&format!(
            "[jobs.{}]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n",
            toml_str(name)
        ));
        let before: Vec<_> = std::fs::read_dir(env.home())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        let mut commands = vec![vec!["check"], vec!["run"], vec!["list"]];
        if !name.contains('\0') {
            commands.push(vec!["force", "--", name]); // an argv string can't hold a NUL
        }
        for args in commands {
            let o = jobctl(&env, Some(T), &args);
            assert_no_panic(&o, &format!("{name:?} {args:?}"));
            assert_eq!(code(&o), 78, "job name {name:?}, {args:?}\n{}", both(&o));
            assert!(
                stderr(&o).contains("^[a-z0-9][a-z0-9_-]{0,63}$"),
                "job name {name:?}, {args:?}: the error gives the rule\n{}",
                both(&o)
            );
        }
        let mut after: Vec<_> = std::fs::read_dir(env.home())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != "cmd-output")
            .collect();
        after.sort();
        assert_eq!(after, before, "job name {name:?}: nothing was created");
        assert!(!env.home().parent().unwrap().join("x").exists());
    }
}

const SECRETS: &[&str] = &[
    "sk-supersecret-1",
    "pw-supersecret-2",
    "ghp-supersecret-3",
    "rm-supersecret-4",
    "st-supersecret-5",
];

#[test]
fn secrets_reach_jobs_but_never_jobctls_output_events_or_json() {
    let env = Env::new();
    let report = env.home().join("report");
    // Reports which variables it got, never their values.
    let check = format!(
        "r='{r}'\n\
         [ -n \"$MY_API_KEY\" ] && echo api=set >> \"$r\"\n\
         [ -n \"$DB_PASSWORD\" ] && echo db=set >> \"$r\"\n\
         [ -n \"$STRIPE_SECRET\" ] && echo file=set >> \"$r\"\n\
         [ -n \"$GITHUB_TOKEN\" ] || [ \"$JOBCTL_JOB_NAME\" = ask ] && echo gh=set >> \"$r\"\n\
         [ -z \"${{REMOVE_ME_KEY+x}}\" ] && echo removed=yes >> \"$r\"\n\
         [ -n \"$MY_API_KEY\" ] && [ -n \"$DB_PASSWORD\" ] && [ -n \"$STRIPE_SECRET\" ] && {{ [ -n \"$GITHUB_TOKEN\" ] || [ \"$JOBCTL_JOB_NAME\" = ask ]; }} && [ -z \"${{REMOVE_ME_KEY+x}}\" ] || {{ echo 'missing or leaked variables' >&2; exit 3; }}\n",
        r = report.display()
    );
    let job = env.script(
        "bin/job.sh",
        &format!(
            "#!/bin/sh\necho \"job $JOBCTL_JOB_NAME\" >> '{r}'\n{check}echo job ok\n",
            r = report.display()
        ),
    );
    let agent = env.script(
        "bin/agent.sh",
        &format!(
            "#!/bin/sh\necho \"agent $JOBCTL_JOB_NAME\" >> '{r}'\n{check}echo 'the answer'\n",
            r = report.display()
        ),
    );
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\
         env = {{ MY_API_KEY = \"sk-supersecret-1\", DB_PASSWORD = \"pw-supersecret-2\" }}\n\
         env_remove = [\"REMOVE_ME_KEY\"]\nenv_file = \"secrets.env\"\n\n\
         [agents.fake]\npreset = \"command\"\ndaily_budget = 100\ncommand = ['{a}', \"{{prompt}}\"]\n\n\
         [jobs.secret-script]\ntype = \"script\"\ncommand = ['{j}']\nevery = \"1h\"\n\
         env = {{ GITHUB_TOKEN = \"ghp-supersecret-3\" }}\n\n\
         [jobs.secret-agent]\ntype = \"agent\"\nagent = \"fake\"\nprompt = \"hello\"\nevery = \"1h\"\n\
         env = {{ GITHUB_TOKEN = \"ghp-supersecret-3\" }}\n",
        a = agent.display(),
        j = job.display()
    ));

    let f = env.write(
        "secrets.env",
        "# from a file\nSTRIPE_SECRET=st-supersecret-5\n",
    );
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut go = |now: Option<&str>, args: &[&str], log: Option<&str>| {
        let mut c = env.cmd(args);
        c.env("REMOVE_ME_KEY", "rm-supersecret-4");
        if let Some(now) = now {
            c.env("JOBCTL_NOW", now);
        }
        if let Some(l) = log {
            c.env("JOBCTL_LOG", l); // supervisors inherit it: their log goes to supervisors.log
        }
        let o = run_limited(&env, c);
        outputs.push((format!("{args:?} (JOBCTL_LOG {log:?})"), o));
    };
    go(Some(T), &["run", "--wait"], None);
    go(Some(T_NEXT), &["-vv", "run", "--wait"], Some("trace"));
    go(None, &["force", "secret-script"], None);
    go(None, &["-vv", "force", "secret-script"], None);
    go(None, &["-vv", "force", "secret-agent"], Some("trace"));
    go(None, &["--json", "force", "secret-agent"], None);
    go(None, &["-vv", "ask", "--agent", "fake", "hello"], None);
    go(None, &["--json", "ask", "--agent", "fake", "hello"], None);
    for args in [
        &["list", "--json"][..],
        &["history", "--json"],
        &["status", "--json"],
        &["list"],
        &["history"],
        &["status"],
        &["check"],
        &["run", "--dry-run"],
        &["logs", "--job", "secret-agent"],
        &["logs", "--job", "secret-script"],
    ] {
        go(Some(T_NEXT), args, None);
        let mut vv = vec!["-vv"];
        vv.extend_from_slice(args);
        go(Some(T_NEXT), &vv, Some("trace"));
    }
    // A failing command too: its error must not quote the environment either.
    go(None, &["force", "no-such-job"], None);

    // The variables reached every run; REMOVE_ME_KEY never did.
    let runs = raw_runs(&env);
    let rep = std::fs::read_to_string(&report).unwrap_or_default();
    let mut problems = Vec::new();
    for (id, job, status) in &runs {
        if *status != "succeeded" {
            problems.push(format!("run {id} ({job}) is {status}; the job saw:\n{rep}"));
        }
    }
    assert!(runs.len() >= 8, "runs: {runs:?}");
    for w in ["api=set", "db=set", "file=set", "gh=set", "removed=yes"] {
        let starts = rep
            .lines()
            .filter(|l| l.starts_with("job ") || l.starts_with("agent "))
            .count();
        let n = rep.lines().filter(|l| *l == w).count();
        if n != starts {
            problems.push(format!("{w}: {n} of {starts} starts"));
        }
    }

    // jobctl's own output.
    for (what, o) in &outputs {
        assert_no_panic(o, what);
        for s in SECRETS {
            for (stream, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
                if String::from_utf8_lossy(text).contains(s) {
                    problems.push(format!(
                        "{what}: {stream} contains {s}:\n{}",
                        String::from_utf8_lossy(text)
                    ));
                }
            }
        }
    }
    // The supervisors' own log, the events, the run logs (the jobs print no secret, so
    // anything there came from jobctl).
    let mut files = vec![env.state_dir().join("supervisors.log")];
    for e in std::fs::read_dir(env.state_dir().join("logs"))
        .unwrap()
        .flatten()
    {
        files.push(e.path());
    }
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()).into_owned();
        for s in SECRETS {
            if text.contains(s) {
                problems.push(format!("{} contains {s}", f.display()));
            }
        }
    }
    let details: Vec<(String, String)> = {
        let c = env.db();
        let mut st = c.prepare("SELECT kind, detail FROM events").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    for (kind, d) in &details {
        for s in SECRETS {
            if d.contains(s) {
                problems.push(format!("event {kind} contains {s}: {d}"));
            }
        }
    }
    // Any other text the db keeps about runs (errors, attempts).
    {
        let c = env.db();
        let mut st = c
            .prepare("SELECT id, COALESCE(error, '') || ' ' || COALESCE(attempts, '') FROM runs")
            .unwrap();
        let rows: Vec<(i64, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for (id, t) in rows {
            for s in SECRETS {
                if t.contains(s) {
                    problems.push(format!("run {id}'s record contains {s}: {t}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn config_errors_next_to_secrets_do_not_quote_them() {
    let env = Env::new();
    let f = env.write(
        "secrets.env",
        "STRIPE_SECRET=st-supersecret-5\nMY_API_KEY sk-supersecret-1\n",
    );
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    let configs = [
        // Errors beside the secrets: a wrong type in the same table, a bad env_file line.
        "[runner]\nenv = { MY_API_KEY = \"sk-supersecret-1\", DB_PASSWORD = \"pw-supersecret-2\", N = 5 }\n\
         env_file = \"secrets.env\"\n[jobs.a]\ntype = \"script\"\ncommand = \"true\"\n\
         env = { GITHUB_TOKEN = \"ghp-supersecret-3\", X = [\"y\"] }\n",
        // A secret where a table is expected, and as an unknown key.
        "[runner]\nMY_API_KEY = \"sk-supersecret-1\"\nenv = \"pw-supersecret-2\"\n",
        // A syntax error on the secret's own line.
        "[runner]\nenv = { GITHUB_TOKEN = \"ghp-supersecret-3\", GITHUB_TOKEN = \"ghp-supersecret-3\" }\n",
        "[runner]\nenv = { DB_PASSWORD = \"pw-supersecret-2 }\n",
    ];
    for (i, toml) in configs.iter().enumerate() {
        env.config(toml);
        for args in [
            &["check"][..],
            &["--json", "check"],
            &["-vv", "run"],
            &["--json", "list"],
        ] {
            let o = jobctl(&env, Some(T), args);
            assert_no_panic(&o, &format!("config {i} {args:?}"));
            assert_eq!(code(&o), 78, "config {i} {args:?}\n{}", both(&o));
            let text = format!("{}{}", stdout(&o), stderr(&o));
            for s in SECRETS {
                assert!(
                    !text.contains(s),
                    "config {i} {args:?}: the error quotes {s}\n{}",
                    both(&o)
                );
            }
        }
    }
}

#[test]
fn running_as_root_is_warned_about() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: nothing to check");
        return;
    }
    let env = Env::new();
    let fake = env.script(
        "bin/fake-agent",
        &format!("#!/bin/sh\ncat <<'EOF'\n{CLAUDE_OK}\nEOF\n"),
    );
    // The warning matters (and is given) where a claude agent is configured: claude
    // refuses to run unattended as root.
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\n\n[agents.fake]\npreset = \"command\"\ndaily_budget = 10\ncommand = ['{}', \"{{prompt}}\"]\n\n\
         [agents.claude]\npreset = \"claude\"\ndaily_budget = 1\n\n\
         [jobs.j]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n",
        fake.display()
    ));
    for (now, args) in [
        (Some(T), &["run", "--wait"][..]),
        (Some(T_NEXT), &["run"]),
        (None, &["force", "j"]),
        (None, &["ask", "--agent", "fake", "hi"]),
    ] {
        // The run the plain tick started ends before the next command.
        wait_for("no run running", LIMIT, || {
            if !env.state_dir().join("jobctl.db").exists() {
                return Some(());
            }
            let c = env.db();
            let n: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM runs WHERE status = 'running'",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(0);
            (n == 0).then_some(())
        });
        let o = jobctl(&env, now, args);
        assert_eq!(code(&o), 0, "{args:?}\n{}", both(&o));
        assert_eq!(
            stderr(&o).matches("running as root").count(),
            1,
            "{args:?} warns when run as root, once\n{}",
            both(&o)
        );
    }
}

#[test]
fn a_prompt_full_of_shell_metacharacters_is_one_literal_argument() {
    let env = Env::new();
    let h = env.home().display().to_string();
    let prompt = format!(
        "$(touch {h}/pwned-1); rm -rf x; `touch {h}/pwned-2` && touch {h}/pwned-3 | cat; \
         echo \"$HOME\" '{{model}}' {{prompt}} * > {h}/pwned-4\n--second line; exit 1 #"
    );
    std::fs::create_dir_all(env.home().join("x")).unwrap();
    std::fs::write(env.home().join("x/keep"), "").unwrap();
    let rec = env.home().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let cmd = env.script(
        "bin/cmd-agent",
        &format!(
            "#!/bin/sh\nprintf '%s\\0' \"$@\" > '{}/cmd.argv'\necho answer\n",
            rec.display()
        ),
    );
    let claude = env.script(
        "bin/claude",
        &format!(
            "#!/bin/sh\nprintf '%s\\0' \"$@\" > '{}/claude.argv'\ncat <<'EOF'\n{CLAUDE_OK}\nEOF\n",
            rec.display()
        ),
    );
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n\
         [agents.cmd]\npreset = \"command\"\ndaily_budget = 100\ncommand = ['{c}', \"--prompt\", \"{{prompt}}\", \"--model\", \"{{model}}\"]\n\n\
         [agents.claude]\npreset = \"claude\"\ndaily_budget = 100\ncommand = '{cl}'\n\n\
         [jobs.cmd-job]\ntype = \"agent\"\nagent = \"cmd\"\nprompt = {p}\ntimeout = \"1m\"\n\n\
         [jobs.claude-job]\ntype = \"agent\"\nagent = \"claude\"\nprompt = {p}\ntimeout = \"1m\"\n",
        c = cmd.display(),
        cl = claude.display(),
        p = toml_str(&prompt)
    ));
    let argv = |name: &str| -> Vec<String> {
        let b = std::fs::read(rec.join(format!("{name}.argv"))).unwrap_or_default();
        b.split(|c| *c == 0)
            .filter(|x| !x.is_empty())
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect()
    };
    let pwned = |what: &str| {
        for i in 1..=4 {
            assert!(
                !env.home().join(format!("pwned-{i}")).exists(),
                "{what}: the prompt was run by a shell (pwned-{i} exists)"
            );
        }
        assert!(env.home().join("x/keep").exists(), "{what}: `rm -rf x` ran");
    };

    let o = jobctl(&env, None, &["force", "cmd-job"]);
    assert_eq!(code(&o), 0, "force cmd-job\n{}", both(&o));
    pwned("command preset");
    let a = argv("cmd");
    assert_eq!(a.len(), 4, "command preset argv: {a:?}");
    assert_eq!(a[0], "--prompt");
    assert_eq!(a[1], prompt, "the prompt is one argument, unchanged");
    assert_eq!(a[2], "--model");
    assert_ne!(a[3], "", "the model");

    let o = jobctl(&env, None, &["force", "claude-job"]);
    assert_eq!(code(&o), 0, "force claude-job\n{}", both(&o));
    pwned("claude preset");
    let a = argv("claude");
    assert_eq!(
        a[a.len() - 2..],
        ["--".to_string(), prompt.clone()],
        "claude gets the prompt as one argument, after --: {a:?}"
    );

    std::fs::remove_file(rec.join("cmd.argv")).unwrap();
    let o = jobctl(&env, None, &["ask", "--agent", "cmd", &prompt]);
    assert_eq!(code(&o), 0, "ask\n{}", both(&o));
    pwned("ask");
    let a = argv("cmd");
    assert_eq!(
        a.get(1),
        Some(&prompt),
        "ask passes the prompt as one argument: {a:?}"
    );
}

#[test]
fn a_run_whose_log_cannot_be_written_is_recorded_failed_with_the_reason() {
    let env = Env::with_config("[jobs.blocked]\ntype = \"script\"\ncommand = \"echo hi\"\n");
    // The job's log directory is a plain file: the log can't be created.
    std::fs::create_dir_all(env.state_dir().join("logs")).unwrap();
    std::fs::write(env.state_dir().join("logs/blocked"), "not a directory").unwrap();
    let out = env.run(&["force", "blocked"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let runs = env.history_json(&["blocked"]);
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0]["status"], "failed",
        "closed with the reason, not left running or lost: {runs:#?}"
    );
    let error = runs[0]["error"].as_str().unwrap_or("");
    assert!(error.contains("can't create the log directory"), "{error}");
    // And the job can run again once the path is fixed.
    std::fs::remove_file(env.state_dir().join("logs/blocked")).unwrap();
    let out = env.run(&["force", "blocked"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
