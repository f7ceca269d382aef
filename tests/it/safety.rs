//! Hostile surroundings: a state directory or config another user can write, symlinks
//! planted where jobctl writes, a record naming a file outside the state directory, one
//! state directory spelled two ways, and numbers past any sane limit. Each is refused with
//! one clear line, or handled, never followed blindly.

use crate::support::*;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(p: &Path, uid: u32) {
    nix::unistd::chown(p, Some(nix::unistd::Uid::from_raw(uid)), None).unwrap();
}

fn simple(env: &Env, extra_runner: &str) {
    env.config(&format!(
        "{}\n[jobs.j]\ntype = \"script\"\ncommand = \"echo hi\"\n",
        runner(env, extra_runner)
    ));
}

/// Exit 74 with one line on stderr that says `what`.
#[track_caller]
fn refused(o: &std::process::Output, what: &str) {
    assert_eq!(code(o), 74, "{}", both(o));
    let err = stderr(o);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("jobctl:")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{err}");
    assert!(errors[0].contains(what), "{what:?} in:\n{err}");
}

#[test]
fn a_state_directory_others_can_write_is_refused() {
    let env = Env::new();
    simple(&env, "");
    let state = env.state_dir();
    std::fs::create_dir(&state).unwrap();
    chmod(&state, 0o777);
    for args in [&["list"][..], &["run"], &["force", "j"], &["status"]] {
        refused(&env.run(args), "writable by every user");
    }
    assert!(
        !state.join("jobctl.db").exists(),
        "nothing was written there"
    );
    chmod(&state, 0o700);
    ok(&env.run(&["force", "j"]));
}

#[test]
fn a_state_directory_of_another_user_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to give the state directory to another user");
        return;
    }
    let env = Env::new();
    simple(&env, "");
    let state = env.state_dir();
    std::fs::create_dir(&state).unwrap();
    chmod(&state, 0o700);
    chown(&state, 65534);
    refused(&env.run(&["list"]), "belongs to uid 65534");
}

#[test]
fn a_config_others_can_write_is_refused() {
    let env = Env::new();
    simple(&env, "");
    chmod(&env.config_path(), 0o666);
    refused(&env.run(&["run"]), "writable by every user");
    refused(&env.run(&["check"]), "writable by every user");
    chmod(&env.config_path(), 0o644);
    ok(&env.run(&["check"]));
    if is_root() {
        chown(&env.config_path(), 65534);
        refused(&env.run(&["run"]), "belongs to uid 65534");
    }
}

#[test]
fn symlinks_planted_in_the_state_directory_are_never_followed() {
    let env = Env::new();
    simple(&env, "");
    ok(&env.run(&["force", "j"]));
    let victim = env.write("victim", "precious\n");
    let lock = env.state_dir().join("locks/j.lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let o = env.run(&["force", "j"]);
    refused(&o, "j.lock");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");

    let env = Env::new();
    simple(&env, "");
    std::fs::create_dir(env.state_dir()).unwrap();
    chmod(&env.state_dir(), 0o700);
    std::os::unix::fs::symlink(&victim, env.state_dir().join("jobctl.db")).unwrap();
    refused(&env.run(&["list"]), "symlink");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn pruning_deletes_only_run_logs_of_the_state_directory() {
    let env = Env::new();
    simple(&env, "keep_runs = 1");
    let victim = env.write("elsewhere/victim.log", "not a run log\n");
    let mut store = env.store();
    store
        .import_runs([jobctl::store::RunRecord {
            job: "j".into(),
            status: jobctl::core::run::RunStatus::Succeeded,
            scheduled_for: 1,
            started_at: 1,
            ended_at: Some(2),
            log_path: Some(victim.display().to_string()),
            ..Default::default()
        }])
        .unwrap();
    drop(store);
    ok(&env.run(&["force", "j"]));
    assert_eq!(
        env.history_json(&["j"]).len(),
        1,
        "the old record was pruned"
    );
    assert!(
        victim.exists(),
        "but the file it named outside the state dir was not deleted"
    );
}

#[test]
fn one_state_directory_spelled_two_ways_is_one() {
    // A run started through a symlink to the state directory, its supervisor killed; a
    // command through the real path must still find and stop what is left of it.
    let env = Env::new();
    let real = env.home().join("real-state");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o700);
    let link = env.home().join("state-link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let job = "[jobs.long]\ntype = \"script\"\ncommand = \"sleep 300\"\n";
    let via_link = env.write(
        "via-link.toml",
        &format!(
            "{}state_dir = \"{}\"\n{job}",
            runner(&env, ""),
            link.display()
        ),
    );
    let via_real = env.write(
        "via-real.toml",
        &format!(
            "{}state_dir = \"{}\"\n{job}",
            runner(&env, ""),
            real.display()
        ),
    );
    let _s = Sweep::new(&env);
    let mut force = env
        .cmd(&["--config", via_link.to_str().unwrap(), "force", "long"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let canonical = real.canonicalize().unwrap();
    let pid = wait_for("the job to run", Duration::from_secs(10), || {
        run_processes(&canonical, 1).0.first().copied()
    });
    force.kill().unwrap();
    force.wait().unwrap();
    assert!(
        !run_processes(&canonical, 1).0.is_empty(),
        "the job outlived its supervisor"
    );
    ok(&env.run(&["--config", via_real.to_str().unwrap(), "list"]));
    wait_for(
        "the leftover to be stopped",
        Duration::from_secs(10),
        || run_processes(&canonical, 1).0.is_empty().then_some(()),
    );
    let _ = pid;
    let o = env.run(&["--config", via_real.to_str().unwrap(), "history", "--json"]);
    assert!(stdout(&o).contains("\"lost\""), "{}", both(&o));
}

#[test]
fn numbers_past_any_limit_are_clear_errors() {
    let env = Env::new();
    env.config(&format!(
        "{}\n[jobs.j]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n",
        runner(&env, "")
    ));
    for n in ["100000000000", "18446744073709551615", "10001", "0"] {
        let o = env.run(&["next", "j", "-n", n]);
        assert_eq!(code(&o), 2, "{}", both(&o));
        assert!(stderr(&o).contains("1..=10000"), "{}", both(&o));
    }
    ok(&env.run(&["next", "j", "-n", "10000"]));
    env.config(&format!(
        "{}\n[jobs.j]\ntype = \"script\"\ncommand = \"true\"\nevery = \"9999999999999999999ms\"\n",
        runner(&env, "")
    ));
    let o = env.run(&["check"]);
    assert_eq!(code(&o), 78, "{}", both(&o));
    assert!(stderr(&o).contains("longest duration"), "{}", both(&o));
}
