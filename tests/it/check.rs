//! `jobctl check`'s warnings (cli.md): what a valid config does other than it seems to
//! say, on stderr, the exit code that of a valid config. A schedule finer than the
//! 5-minute timer while no `jobctl scheduler` keeps the state; a script whose program is
//! not on the job's `PATH`. And the run of such a string command saying "command not
//! found", as the array form's does.

use crate::support::*;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LONG: Duration = Duration::from_secs(30);

fn warnings(o: &std::process::Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(String::from)
        .collect()
}

#[test]
fn a_schedule_finer_than_the_timer_is_warned_of_until_a_scheduler_keeps_the_state() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\n\n\
         [jobs.each-minute]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1m\"\n\n\
         [jobs.cron-minute]\ntype = \"script\"\ncommand = \"true\"\ncron = \"* * * * *\"\n\n\
         [jobs.five]\ntype = \"script\"\ncommand = \"true\"\nevery = \"5m\"\n\n\
         [jobs.ten]\ntype = \"script\"\ncommand = \"true\"\ncron = \"*/10 * * * *\"\n",
    );
    let _sweep = Sweep::new(&env);
    let o = env.run(&["check"]);
    ok(&o);
    assert!(stdout(&o).starts_with("ok: 4 jobs"), "{}", both(&o));
    let w = warnings(&o);
    assert_eq!(w.len(), 2, "{}", both(&o));
    for job in ["each-minute", "cron-minute"] {
        assert!(
            w.iter()
                .any(|l| l.starts_with(&format!("warning: job {job}: "))
                    && l.contains(
                        "runs at most every 5 min; `jobctl scheduler` runs it on the minute"
                    )),
            "{job}\n{}",
            both(&o)
        );
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&env.run(&["check", "--json"]).stdout).unwrap();
    assert_eq!(doc["warnings"].as_array().map(Vec::len), Some(2), "{doc:#}");

    // With a scheduler keeping the state, the minute is kept: nothing to warn of.
    let mut s = spawn(&env, &["scheduler", "--log-format", "json"], None);
    wait_for("the scheduler in status", LONG, || {
        let o = env.run(&["status", "--json"]);
        let st: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        (st["schedulers"].as_array()?.len() == 1).then_some(())
    });
    let o = env.run(&["check"]);
    ok(&o);
    assert!(warnings(&o).is_empty(), "{}", both(&o));
    kill(Pid::from_raw(s.pid()), Signal::SIGTERM).unwrap();
    s.wait(LONG);
}

#[test]
fn a_program_not_on_the_jobs_path_is_warned_of_and_a_string_command_says_command_not_found() {
    let env = Env::new();
    let bin = env.home().join("tools");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("my-tool");
    std::fs::write(&tool, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write(
        "jobctl.toml",
        &format!(
            "[runner]\ntimezone = \"UTC\"\n\n\
             [jobs.missing-string]\ntype = \"script\"\ncommand = \"no-such-tool-zq --all\"\n\n\
             [jobs.missing-array]\ntype = \"script\"\ncommand = [\"no-such-tool-zq\", \"--all\"]\n\n\
             [jobs.on-its-path]\ntype = \"script\"\ncommand = \"LANG=C my-tool x\"\nenv = {{ PATH = \"{}:/usr/bin:/bin\" }}\n\n\
             [jobs.not-on-default-path]\ntype = \"script\"\ncommand = \"my-tool x\"\n\n\
             [jobs.shell-decides]\ntype = \"script\"\ncommand = \"cd /tmp && no-such-tool-zq\"\n",
            bin.display()
        ),
    );
    let _sweep = Sweep::new(&env);
    let o = env.run(&["check"]);
    ok(&o);
    let w = warnings(&o);
    for job in ["missing-string", "missing-array"] {
        assert!(
            w.iter().any(|l| l.starts_with(&format!(
                "warning: job {job}: its command's program 'no-such-tool-zq' is not found on its PATH ("
            ))),
            "{job}\n{}",
            both(&o)
        );
    }
    assert!(
        w.iter()
            .any(|l| l
                .starts_with("warning: job not-on-default-path: its command's program 'my-tool'")),
        "{}",
        both(&o)
    );
    assert_eq!(w.len(), 3, "{}", both(&o));

    // At run time the string form ends as the array form does.
    for job in ["missing-array", "missing-string"] {
        assert_eq!(code(&env.run(&["force", job])), 127, "{job}");
        let run = &env.history_json(&[job])[0];
        assert_eq!(
            run["error"], "command not found: no-such-tool-zq (not on PATH or no such file)",
            "{job}: {run:#}"
        );
        assert_eq!(run["exit_code"], 127, "{run:#}");
    }
    ok(&env.run(&["force", "on-its-path"]));
}
