//! The config snapshot (docs/design.md): a load that finds the file and everything it
//! refers to unchanged reuses the validated config; any change is seen at once, as if
//! there were no snapshot. A snapshot that is corrupt, foreign or unwritable only costs
//! speed.

use crate::support::*;

use std::time::Duration;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The snapshot files in the env's cache directory.
fn snapshots(env: &Env) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(env.home().join("cache")) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = dir
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    v.sort();
    v
}

fn only_snapshot(env: &Env) -> PathBuf {
    let s = snapshots(env);
    assert_eq!(s.len(), 1, "{s:?}");
    s[0].clone()
}

/// Runs `jobctl -vv ARGS` and says whether it used a snapshot.
fn used_snapshot(env: &Env, args: &[&str]) -> bool {
    let mut a = vec!["-vv"];
    a.extend_from_slice(args);
    let out = env.run(&a);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stderr(&out).contains("using snapshot")
}

#[track_caller]
fn ok_stdout(out: std::process::Output) -> String {
    ok(&out);
    stdout(&out)
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

const TWO_JOBS: &str = r#"
[runner]
timezone = "UTC"

[jobs.alpha]
type = "script"
command = ["true"]
every = "1h"

[jobs.beta]
type = "script"
command = ["true"]
cron = "5 3 * * *"
"#;

#[test]
fn a_second_load_uses_the_snapshot_and_shows_the_same() {
    let env = Env::with_config(TWO_JOBS);
    assert!(!used_snapshot(&env, &["list"]), "nothing to use yet");
    let file = only_snapshot(&env);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let dir_mode = std::fs::metadata(file.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "{dir_mode:o}");

    std::fs::remove_file(&file).unwrap();
    let now = "2026-06-15T12:00:00Z";
    let fresh = ok_stdout(env.run_at(now, &["list", "--json"]));
    std::fs::remove_file(&file).unwrap();
    let next_fresh = ok_stdout(env.run_at(now, &["next", "beta", "--json"]));
    assert!(used_snapshot(&env, &["list"]));
    assert_eq!(ok_stdout(env.run_at(now, &["list", "--json"])), fresh);
    assert_eq!(
        ok_stdout(env.run_at(now, &["next", "beta", "--json"])),
        next_fresh
    );
}

#[test]
fn check_reads_the_file_itself_and_writes_nothing() {
    let env = Env::with_config(TWO_JOBS);
    assert!(!used_snapshot(&env, &["check"]));
    assert!(snapshots(&env).is_empty(), "check wrote a snapshot");
    assert!(!used_snapshot(&env, &["list"]));
    let before = std::fs::read(only_snapshot(&env)).unwrap();
    assert!(!used_snapshot(&env, &["check"]));
    assert_eq!(std::fs::read(only_snapshot(&env)).unwrap(), before);
}

#[test]
fn an_edit_is_seen_at_once_even_with_the_same_size_and_time() {
    let env = Env::with_config(TWO_JOBS);
    ok_stdout(env.run(&["list"]));
    let modified = std::fs::metadata(env.config_path())
        .unwrap()
        .modified()
        .unwrap();
    // Same length, same mtime: only the content tells.
    env.config(&TWO_JOBS.replace("alpha", "gamma"));
    std::fs::File::options()
        .write(true)
        .open(env.config_path())
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let names: Vec<String> = env
        .list_json()
        .iter()
        .map(|j| j["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["beta", "gamma"]);

    // A mistake is reported, not hidden behind the last good snapshot.
    env.config(&TWO_JOBS.replace("every = \"1h\"", "evry = \"1h\""));
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did you mean \"every\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_changed_variable_in_a_path_is_seen() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\nstate_dir = \"$SNAP_TEST_STATE/state\"\n\n\
         [jobs.a]\ntype = \"script\"\ncommand = [\"true\"]\nevery = \"1h\"\n",
    );
    let (one, two) = (env.home().join("one"), env.home().join("two"));
    for dir in [&one, &two] {
        let out = env
            .cmd(&["run"])
            .env("SNAP_TEST_STATE", dir)
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            dir.join("state/jobctl.db").exists(),
            "no db under {}",
            dir.display()
        );
    }
    // And an unset one is the error it always was.
    let out = env
        .cmd(&["run"])
        .env_remove("SNAP_TEST_STATE")
        .output()
        .unwrap();
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(stderr(&out).contains("SNAP_TEST_STATE"), "{}", stderr(&out));
}

#[test]
fn a_changed_prompt_file_is_seen() {
    let env = Env::new();
    let agent = env.script("agent.sh", "#!/bin/sh\necho \"prompt: $1\"\n");
    env.write("prompt.md", "first words");
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\n\n[agents.local]\npreset = \"command\"\ndaily_budget = 100\n\
         command = [\"{}\", \"{{prompt}}\"]\n\n[jobs.review]\ntype = \"agent\"\nagent = \"local\"\nprompt_file = \"prompt.md\"\n",
        agent.display()
    ));
    assert!(ok_stdout(env.run(&["force", "review"])).contains("prompt: first words"));
    env.write("prompt.md", "second words");
    let out = ok_stdout(env.run(&["force", "review"]));
    assert!(out.contains("prompt: second words"), "{out}");

    // A prompt file turned into a directory is the config error it would be without a
    // snapshot.
    std::fs::remove_file(env.home().join("prompt.md")).unwrap();
    std::fs::create_dir(env.home().join("prompt.md")).unwrap();
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

#[test]
fn the_env_file_is_read_every_time_and_never_stored() {
    let env = Env::new();
    let secrets = env.write("secrets.env", "SNAP_TOKEN=tok-first-3f9a\n");
    set_mode(&secrets, 0o600);
    env.config(
        "[runner]\ntimezone = \"UTC\"\nenv_file = \"secrets.env\"\n\n\
         [jobs.show]\ntype = \"script\"\ncommand = \"echo token=$SNAP_TOKEN\"\n",
    );
    assert!(ok_stdout(env.run(&["force", "show"])).contains("token=tok-first-3f9a"));
    let snapshot = std::fs::read(only_snapshot(&env)).unwrap();
    assert!(
        !snapshot.windows(14).any(|w| w == b"tok-first-3f9a"),
        "the env file's secret is in the snapshot"
    );

    std::fs::write(&secrets, "SNAP_TOKEN=tok-second-77c1\n").unwrap();
    let out = ok_stdout(env.run(&["force", "show"]));
    assert!(out.contains("token=tok-second-77c1"), "{out}");

    set_mode(&secrets, 0o644);
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(stderr(&out).contains("0600"), "{}", stderr(&out));
}

#[test]
fn zones_follow_tz_through_a_snapshot() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"local\"\n\n[jobs.a]\ntype = \"script\"\ncommand = [\"true\"]\nat = \"09:00\"\n",
    );
    let slot = |tz: &str| -> jiff::Timestamp {
        let out = env
            .cmd(&["next", "a", "-n", "1", "--json"])
            .env("TZ", tz)
            .env("JOBCTL_NOW", "2026-06-15T12:00:00Z")
            .output()
            .unwrap();
        let v: Vec<String> = serde_json::from_str(&ok_stdout(out)).unwrap();
        v[0].parse().unwrap()
    };
    let utc = slot("UTC");
    let tokyo = slot("Asia/Tokyo");
    assert_eq!(utc.to_string(), "2026-06-16T09:00:00Z");
    assert_eq!(tokyo.to_string(), "2026-06-16T00:00:00Z");
    assert_eq!(slot("UTC"), utc);
}

#[test]
fn a_corrupt_foreign_or_shared_snapshot_is_not_used() {
    let env = Env::with_config(TWO_JOBS);
    ok_stdout(env.run(&["list"]));
    let file = only_snapshot(&env);
    let good = std::fs::read(&file).unwrap();

    let damaged: [(&str, Vec<u8>); 5] = [
        ("empty", Vec::new()),
        ("garbage", b"not a snapshot at all".repeat(100)),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("one byte flipped near the end", {
            let mut b = good.clone();
            let i = b.len() - 3;
            b[i] ^= 0xff;
            b
        }),
        ("a command changed on disk", {
            // The last "true" is a job's stored command (the first ones are in the
            // file's text): damage that would still decode, as "trve".
            let mut b = good.clone();
            let i = b.windows(4).rposition(|w| w == b"true").unwrap();
            b[i + 2] = b'v';
            b
        }),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&file, &bytes).unwrap();
        set_mode(&file, 0o600);
        let out = env.run(&["list", "--json"]);
        assert_eq!(code(&out), 0, "{what}: {}", stderr(&out));
        let jobs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(jobs.len(), 2, "{what}");
        // Not used, but replaced by a full load's (which is the same every time).
        assert!(
            std::fs::read(&file).unwrap() == good,
            "{what}: not rewritten"
        );
        assert!(used_snapshot(&env, &["list"]), "{what}");
    }

    // Writable by others: whoever could write it could choose the commands jobctl runs.
    set_mode(&file, 0o666);
    assert!(!used_snapshot(&env, &["list"]));

    // Written by another jobctl binary: its layout may differ.
    let other = env.home().join("jobctl-copy");
    std::fs::copy(BIN, &other).unwrap();
    // Another test thread forking while the copy was open for writing leaves the child a
    // moment with it open: exec fails with "text file busy" until that child has exec'd.
    let out = wait_for("the copy to be executable", Duration::from_secs(10), || {
        match std::process::Command::new(&other)
            .args(["list"])
            .env("JOBCTL_HOME", env.home())
            .env("TZ", "UTC")
            .output()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => None,
            r => Some(r.unwrap()),
        }
    });
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!used_snapshot(&env, &["list"]), "used the copy's snapshot");
}

#[test]
fn a_cache_that_cannot_be_written_costs_nothing_but_speed() {
    let env = Env::with_config(TWO_JOBS);
    // `cache` is a file, so no snapshot can be made under it.
    env.write("cache", "in the way");
    for _ in 0..2 {
        assert!(!used_snapshot(&env, &["list"]));
        ok_stdout(env.run(&["run"]));
    }
}
