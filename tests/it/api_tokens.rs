//! API tokens against a JWT implementation nobody here wrote: Python's standard library
//! (hmac, hashlib, base64, json) signs tokens with the server's key that `jobctl serve`
//! must accept, or refuse for the reason it gives its own; and verifies the tokens
//! `jobctl token create` makes.

use crate::support::*;

use crate::support::server::{Server, token};

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// HS256 by the letter of RFC 7515/7519, in Python. `sign HEADER_JSON CLAIMS_JSON` prints a
/// token; `verify TOKEN` prints its claims when the signature is the key's, else fails.
/// The key is read from the file named by `KEY`.
const PY_JWT: &str = r#"
import base64, hashlib, hmac, json, os, sys
key = open(os.environ["KEY"], "rb").read()
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def unb64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def mac(msg): return hmac.new(key, msg.encode(), hashlib.sha256).digest()
if sys.argv[1] == "sign":
    signing = b64(sys.argv[2].encode()) + "." + b64(sys.argv[3].encode())
    print(signing + "." + b64(mac(signing)))
else:
    head, body, sig = sys.argv[2].split(".")
    assert json.loads(unb64(head))["alg"] == "HS256", "not HS256"
    assert hmac.compare_digest(mac(head + "." + body), unb64(sig)), "bad signature"
    print(json.dumps(json.loads(unb64(body))))
"#;

fn python(env: &Env, args: &[&str]) -> std::process::Output {
    let mut child = Command::new("python3")
        .arg("-")
        .args(args)
        .env("KEY", env.state_dir().join("api.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (the tokens are checked against its standard library)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(PY_JWT.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn py_sign(env: &Env, header: &str, claims: &Value) -> String {
    let out = python(env, &["sign", header, &claims.to_string()]);
    assert!(out.status.success(), "python sign: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn tokens_agree_with_an_independent_hs256_implementation() {
    let env = Env::new();
    env.config(&format!(
        "{}\n[jobs.hello]\ntype = \"script\"\ncommand = \"echo hello\"\nevery = \"1d\"\n",
        runner(&env, "")
    ));
    let ours = token(
        &env,
        &["--scope", "read", "--sub", "viewer", "--jobs", "hel*"],
    );
    let s = Server::start(&env);

    // jobctl's token, verified by Python with the key file.
    let out = python(&env, &["verify", &ours]);
    assert!(out.status.success(), "python verify: {}", stderr(&out));
    let claims: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(claims["sub"], "viewer");
    assert_eq!(claims["scopes"], json!(["supervisor:read"]));
    assert_eq!(claims["jobs"], json!(["hel*"]));
    assert!(claims["exp"].as_u64().unwrap() > now());

    // Python's tokens, accepted with their scopes and jobs.
    let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
    let later = now() + 600;
    let write = py_sign(
        &env,
        hs256,
        &json!({"sub": "py", "scopes": ["supervisor:write"], "exp": later}),
    );
    let jobs = s.get("/api/v1/jobs", Some(&write));
    assert_eq!(jobs.status, 200, "{}", jobs.body);
    assert_eq!(jobs.json()[0]["name"], "hello");
    let read_other = py_sign(
        &env,
        r#"{"typ":"JWT","alg":"HS256"}"#,
        &json!({"sub": "py", "scopes": ["supervisor:read"], "exp": later, "jobs": ["other-*"]}),
    );
    let none_seen = s.get("/api/v1/jobs", Some(&read_other));
    assert_eq!(none_seen.status, 200, "{}", none_seen.body);
    assert_eq!(none_seen.json(), json!([]));
    assert_eq!(
        s.post("/api/v1/jobs/hello/run", Some(&read_other), None)
            .status,
        403
    );

    // Refused, each for its reason.
    let refused = |token: &str, why: &str| {
        let r = s.get("/api/v1/jobs", Some(token));
        assert_eq!(
            (r.status, r.error_code()),
            (401, "UNAUTHORIZED".into()),
            "{why}: {}",
            r.body
        );
        r.body
    };
    let expired = py_sign(
        &env,
        hs256,
        &json!({"sub": "py", "scopes": ["supervisor:read"], "exp": now() - 5}),
    );
    assert!(refused(&expired, "expired").contains("the token has expired"));
    let claims = json!({"sub": "py", "scopes": ["supervisor:read"], "exp": later});
    for header in [
        r#"{"alg":"HS512","typ":"JWT"}"#,
        r#"{"alg":"none","typ":"JWT"}"#,
    ] {
        let t = py_sign(&env, header, &claims);
        assert!(refused(&t, header).contains("not a valid jobctl token"));
    }
    // `alg: none` with the signature left off, as RFC 7519's unsecured JWT.
    let good = py_sign(&env, hs256, &claims);
    let body = good.split('.').nth(1).unwrap();
    let none_header = py_sign(&env, r#"{"alg":"none"}"#, &claims);
    let unsecured = format!("{}.{body}.", none_header.split('.').next().unwrap());
    assert!(refused(&unsecured, "unsecured").contains("not a valid jobctl token"));
    let no_exp = py_sign(
        &env,
        hs256,
        &json!({"sub": "py", "scopes": ["supervisor:read"]}),
    );
    refused(&no_exp, "no exp");
    let no_sub = py_sign(
        &env,
        hs256,
        &json!({"scopes": ["supervisor:read"], "exp": later}),
    );
    refused(&no_sub, "no sub");

    // Signed with another key: Python with a key file of its own.
    let other_key = env.home().join("other.key");
    std::fs::write(&other_key, [7u8; 32]).unwrap();
    let out = Command::new("python3")
        .args(["-", "sign", hs256, &claims.to_string()])
        .env("KEY", &other_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(PY_JWT.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let foreign = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(refused(&foreign, "other key").contains("not signed by this server's key"));
}
