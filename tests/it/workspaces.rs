//! Per-run git workspaces (workspaces.md) with the real git CLI: a bare `origin` in the
//! test's temp dir, the user's checkout cloned from it, and a fake agent (a script job)
//! that edits, adds and deletes files, sometimes commits itself, and leaves untracked
//! and ignored files behind. What is asserted is what a user would check: the branch on
//! the remote holds exactly the agent's changes, the user's checkout is untouched, and
//! no work is ever deleted while its commits exist nowhere else.

use crate::support::git::{self, AUTHOR, Repos, pairs, path_of};
use crate::support::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The fake agent: edits `a.txt`, deletes `b.txt`, adds `new/c.txt`; with `commit` it
/// commits that itself; then leaves `d.txt` untracked and `debug.log` (ignored). It
/// checks the included `.env` is there and says where it runs.
const AGENT: &str = r#"#!/bin/sh
set -e
echo "cwd=$(pwd) workspace=$JOBCTL_WORKSPACE branch=$JOBCTL_BRANCH base=$JOBCTL_BASE_COMMIT"
test -f .env || { echo "no .env" >&2; exit 9; }
if [ -e debug.log ] || [ -e d.txt ] || [ -e new ]; then echo "an earlier run's leftovers" >&2; exit 8; fi
[ "$1" = "noop" ] && exit 0
echo "alpha, edited" > a.txt
git rm --quiet b.txt
mkdir -p new && echo charlie > new/c.txt
if [ "$1" = "commit" ]; then
  git add -A && git -c user.name=Agent -c user.email=agent@example.com commit --quiet -m "the agent's own commit"
fi
echo delta > d.txt
echo noise > debug.log
if [ -n "$MARK" ]; then touch "$MARK"; fi
if [ -n "$HOLD" ]; then sleep "$HOLD"; fi
"#;

fn setup() -> (Env, Sweep, Repos) {
    let env = Env::new();
    let sweep = Sweep::new(&env);
    let repos = Repos::new(env.home());
    env.script("bin/agent", AGENT);
    (env, sweep, repos)
}

fn runner(env: &Env, extra: &str) -> String {
    git::runner_toml(env.home(), extra)
}

/// A script job `name` running the fake agent with `arg` in a workspace on the checkout.
fn job(name: &str, arg: &str, workspace_extra: &str) -> String {
    format!(
        "[jobs.{name}]\ntype = \"script\"\ncommand = \"agent {arg}\"\n\n\
         [jobs.{name}.workspace]\nrepo = \"checkout\"\ninclude = [\".env\"]\n{workspace_extra}\n\n"
    )
}

fn workspaces_json(env: &Env) -> Vec<Value> {
    let o = env.run(&["workspaces", "--json"]);
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn the_branch_on_the_remote_holds_exactly_the_agents_changes_and_the_checkout_is_untouched() {
    let (env, _s, repos) = setup();
    env.config(&format!(
        "{}{}",
        runner(&env, AUTHOR),
        job("edit", "commit", "push = true")
    ));
    let before = repos.checkout_state();
    let o = env.run(&["force", "edit"]);
    ok(&o);
    let run = env.last_run("edit");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let branch = "jobctl/edit/1";

    assert_eq!(
        repos.branch_changes(branch),
        pairs(&[
            ("M", "a.txt"),
            ("D", "b.txt"),
            ("A", "new/c.txt"),
            ("A", "d.txt")
        ]),
        "exactly the agent's changes: untracked d.txt in, ignored debug.log and .env out"
    );
    assert_eq!(repos.show(branch, "a.txt"), "alpha, edited");
    let log = repos.git(
        &repos.origin,
        &["log", "--format=%s", &format!("main..{branch}")],
    );
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["jobctl: edit run 1", "the agent's own commit"],
        "the agent's commit, then jobctl's of what it left uncommitted"
    );
    assert_eq!(
        repos.checkout_state(),
        before,
        "the user's checkout: same HEAD, same files, same status"
    );

    let ws = &run["workspace"];
    assert_eq!(ws["branch"], branch);
    assert_eq!(ws["repo"], "checkout");
    assert_eq!(ws["base"], "origin/main");
    assert_eq!(
        ws["base_commit"],
        repos.git(&repos.origin, &["rev-parse", "main"])
    );
    assert_eq!(
        ws["head_commit"],
        repos.git(&repos.origin, &["rev-parse", branch])
    );
    assert_eq!(ws["files_changed"], 4, "{ws:#}");
    assert_eq!(
        (ws["insertions"].as_u64(), ws["deletions"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(
        (ws["pushed"].as_bool(), ws["kept"].as_bool()),
        (Some(true), Some(false))
    );
    let changes: Vec<(String, String)> = run["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = changes.clone();
    sorted.sort();
    assert_eq!(sorted, repos.branch_changes(branch), "{run:#}");

    let dir = path_of(&run);
    assert!(!dir.exists(), "a pushed run's worktree is removed");
    assert!(
        !repos.branches(&repos.checkout).iter().any(|b| b == branch),
        "its local branch too: every commit of it is on the remote"
    );
    assert!(workspaces_json(&env).is_empty());
    let out = log_text(&env, &run);
    assert!(
        out.contains(&format!(
            "cwd={} workspace={} branch={branch} base=",
            dir.display(),
            dir.display()
        )),
        "the job ran at the worktree root with JOBCTL_WORKSPACE and JOBCTL_BRANCH: {out}"
    );
}

fn log_text(env: &Env, run: &Value) -> String {
    let o = env.run(&["logs", &run["run_id"].to_string()]);
    ok(&o);
    stdout(&o)
}

#[test]
fn a_rejected_push_fails_the_run_says_rejected_and_keeps_the_worktree_and_branch() {
    let (env, _s, repos) = setup();
    env.script(
        "origin.git/hooks/pre-receive",
        "#!/bin/sh\necho 'branch is protected' >&2\nexit 1\n",
    );
    env.config(&format!(
        "{}{}",
        runner(&env, AUTHOR),
        job("edit", "", "push = true\nkeep = \"never\"")
    ));
    let o = env.run(&["force", "edit"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let run = env.last_run("edit");
    assert_eq!(run["status"], "failed", "{run:#}");
    let err = run["error"].as_str().unwrap();
    assert!(err.contains("failed (rejected)"), "{err}");
    assert!(
        err.contains("pre-receive hook declined"),
        "git's own words: {err}"
    );
    let ws = &run["workspace"];
    assert_eq!(ws["push_failure"], "rejected", "{ws:#}");
    assert_eq!(
        (ws["pushed"].as_bool(), ws["kept"].as_bool()),
        (Some(false), Some(true)),
        "kept even with keep = never"
    );
    let dir = path_of(&run);
    assert_eq!(
        std::fs::read_to_string(dir.join("a.txt")).unwrap(),
        "alpha, edited\n"
    );
    assert_eq!(
        repos.git(&dir, &["status", "--porcelain"]),
        "",
        "the work is committed in the kept worktree"
    );
    let head = repos.git(&repos.checkout, &["rev-parse", "jobctl/edit/1"]);
    assert_eq!(
        ws["head_commit"], head,
        "the branch is in the user's repository"
    );
    let listed = workspaces_json(&env);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(
        (listed[0]["pushed"].as_bool(), listed[0]["kept"].as_bool()),
        (Some(false), Some(true))
    );
    let table = stdout(&env.run(&["workspaces"]));
    assert!(
        table.contains("RUN") && table.contains("jobctl/edit/1") && table.contains("PUSHED"),
        "{table}"
    );
}

#[test]
fn without_commit_the_work_stays_uncommitted_in_a_kept_worktree_and_is_still_reported() {
    let (env, _s, repos) = setup();
    env.config(&format!(
        "{}{}",
        runner(&env, AUTHOR),
        job("edit", "", "commit = false\nkeep = \"never\"")
    ));
    ok(&env.run(&["force", "edit"]));
    let run = env.last_run("edit");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let mut got: Vec<(String, String)> = run["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap().into(),
                c["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        pairs(&[
            ("M", "a.txt"),
            ("D", "b.txt"),
            ("A", "new/c.txt"),
            ("A", "d.txt")
        ]),
        "untracked files count, ignored ones don't"
    );
    let dir = path_of(&run);
    assert_eq!(
        run["workspace"]["kept"], true,
        "uncommitted work is never removed"
    );
    assert_eq!(
        repos.git(&dir, &["rev-parse", "HEAD"]),
        run["workspace"]["base_commit"].as_str().unwrap(),
        "nothing committed"
    );
    assert_eq!(
        repos.git(&dir, &["diff", "--cached", "--name-only"]),
        "b.txt",
        "the job's index is as it left it (only what it staged itself)"
    );
    assert!(dir.join("d.txt").exists() && dir.join("debug.log").exists());
}

#[test]
fn two_runs_of_different_jobs_on_one_repository_at_once_do_not_interfere() {
    let (env, _s, repos) = setup();
    // Each writes its own file, then waits (up to 30 s) until the other has started.
    let side = |me: &str, other: &str| {
        format!(
            "#!/bin/sh\necho {me} > {me}.txt\ntouch {home}/{me}.started\n\
             i=0; while [ ! -e {home}/{other}.started ]; do i=$((i+1)); [ $i -gt 3000 ] && exit 3; sleep 0.01; done\n",
            home = env.home().display()
        )
    };
    env.script("bin/left", &side("left", "right"));
    env.script("bin/right", &side("right", "left"));
    let jobs: String = ["left", "right"]
        .iter()
        .map(|j| {
            format!(
                "[jobs.{j}]\ntype = \"script\"\ncommand = \"{j}\"\nevery = \"1h\"\n\n\
                 [jobs.{j}.workspace]\nrepo = \"checkout\"\npush = true\n\n"
            )
        })
        .collect();
    env.config(&format!("{}{jobs}", runner(&env, AUTHOR)));
    let o = env.run(&["run", "--wait"]);
    ok(&o);
    for j in ["left", "right"] {
        let run = env.last_run(j);
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let branch = run["workspace"]["branch"].as_str().unwrap().to_string();
        assert_eq!(
            repos.branch_changes(&branch),
            pairs(&[("A", &format!("{j}.txt"))]),
            "{j}'s branch holds only its own file"
        );
    }
    assert_eq!(
        repos.branches(&repos.checkout),
        ["main"],
        "both removed, both pushed"
    );
}

#[test]
fn a_supervisor_killed_mid_run_leaves_a_worktree_that_recovery_keeps_and_cleanup_saves() {
    let (env, _s, repos) = setup();
    let mark = env.home().join("agent.started");
    let hook_out = env.home().join("on-failure.txt");
    env.config(&format!(
        "{}{}[jobs.edit.hooks]\non_failure = \"echo $JOBCTL_STATUS $JOBCTL_WORKSPACE > {}\"\n",
        runner(&env, AUTHOR),
        job("edit", "", ""),
        hook_out.display()
    ));
    let mut force = env
        .cmd(&["force", "edit"])
        .env("MARK", &mark)
        .env("HOLD", "60")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "the agent to make its edits",
        Duration::from_secs(30),
        || mark.exists().then_some(()),
    );
    force.kill().unwrap(); // SIGKILL: no end recorded, the worktree left as it is
    force.wait().unwrap();

    let o = env.run(&["list"]);
    ok(&o);
    let run = env.last_run("edit");
    assert_eq!(run["status"], "lost", "{run:#}");
    let ws = &run["workspace"];
    assert_eq!(ws["kept"], true, "recovery keeps it: {ws:#}");
    let dir = path_of(&run);
    assert_eq!(
        std::fs::read_to_string(dir.join("a.txt")).unwrap(),
        "alpha, edited\n"
    );
    // Run after the answer, by the process the closing command left behind.
    let said = wait_for(
        "on_failure of the lost run",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&hook_out)
                .ok()
                .filter(|s| s.ends_with('\n'))
        },
    );
    assert_eq!(said.trim(), format!("lost {}", dir.display()));
    let listed = workspaces_json(&env);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["kept"], true);

    let o = env.run(&["workspaces", "clean"]);
    ok(&o);
    let said = stdout(&o);
    let branch = "jobctl/rescue/1";
    assert!(
        said.contains(&format!("committed to branch {branch}, pushed to origin")),
        "{said}"
    );
    assert!(!dir.exists(), "removed");
    assert!(workspaces_json(&env).is_empty());
    assert!(
        repos.branches(&repos.checkout).iter().any(|b| b == branch),
        "the rescue branch with the saved work is in the repository"
    );
    assert_eq!(
        repos.show(branch, "a.txt"),
        "alpha, edited",
        "what the agent left uncommitted was committed and pushed before the worktree went"
    );
    let run = env.last_run("edit");
    assert_eq!(run["workspace"]["kept"], false, "{run:#}");
}

#[test]
fn a_crash_before_the_worktree_exists_leaves_nothing_listed() {
    let (env, _s, _repos) = setup();
    env.config(&format!("{}{}", runner(&env, AUTHOR), job("edit", "", "")));
    let o = env
        .cmd(&["force", "edit"])
        .env("JOBCTL_FAULT", jobctl::faults::WORKSPACE_POINTS[0])
        .output()
        .unwrap();
    assert_ne!(code(&o), 0);
    ok(&env.run(&["list"]));
    let run = env.last_run("edit");
    assert_eq!(run["status"], "lost");
    assert_eq!(run["workspace"]["kept"], false, "{run:#}");
    assert!(workspaces_json(&env).is_empty());
    ok(&env.run(&["force", "edit"]));
}

#[test]
fn the_tick_removes_kept_worktrees_by_size_then_age_and_keeps_unpushed_branches() {
    let (env, _s, repos) = setup();
    let cfg = |extra: &str| {
        format!(
            "{}{}{}",
            runner(&env, &format!("{AUTHOR}\n{extra}")),
            job("keep", "", "keep = \"always\""),
            job("idle", "noop", "keep = \"always\"")
        )
    };
    env.config(&cfg(""));
    ok(&env.run(&["force", "keep"])); // run 1
    ok(&env.run(&["force", "keep"])); // run 2
    ok(&env.run(&["force", "idle"])); // run 3: no changes
    let listed = workspaces_json(&env);
    assert_eq!(listed.len(), 3, "{listed:#?}");
    let sizes: Vec<u64> = listed
        .iter()
        .map(|w| w["bytes"].as_u64().unwrap())
        .collect();
    assert!(sizes.iter().all(|b| *b > 0), "{sizes:?}");

    // Room for the newest two: the oldest goes.
    env.config(&cfg(&format!(
        "workspace_max_bytes = {}",
        sizes[1] + sizes[2]
    )));
    ok(&env.run(&["run"]));
    let ids: Vec<i64> = workspaces_json(&env)
        .iter()
        .map(|w| w["run_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 3], "the oldest went first");
    assert!(!Path::new(listed[0]["path"].as_str().unwrap()).exists());

    // A week and a day later, the rest are past workspace_max_age (7d).
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(8 * 24);
    ok(&env.run_at(&later.to_string(), &["run"]));
    assert!(workspaces_json(&env).is_empty());
    for w in &listed {
        assert!(!Path::new(w["path"].as_str().unwrap()).exists());
    }
    let branches = repos.branches(&repos.checkout);
    assert!(
        branches.contains(&"jobctl/keep/1".to_string())
            && branches.contains(&"jobctl/keep/2".to_string()),
        "unpushed branches stay: {branches:?}"
    );
    assert!(
        !branches.contains(&"jobctl/idle/3".to_string()),
        "a branch with nothing on it goes with its worktree: {branches:?}"
    );
    assert_eq!(
        repos.git(&repos.checkout, &["show", "jobctl/keep/2:a.txt"]),
        "alpha, edited"
    );
}

#[test]
fn clean_dry_run_and_older_than_say_and_remove_only_what_they_should() {
    let (env, _s, _repos) = setup();
    env.config(&format!(
        "{}{}",
        runner(&env, AUTHOR),
        job("keep", "", "keep = \"always\"")
    ));
    ok(&env.run(&["force", "keep"]));
    let o = env.run(&["workspaces", "clean", "--dry-run", "--json"]);
    ok(&o);
    let plan: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(workspaces_json(&env).len(), 1, "a dry run removes nothing");
    let o = env.run(&["workspaces", "clean", "--older-than", "1d"]);
    ok(&o);
    assert!(stdout(&o).contains("nothing to remove"), "{}", both(&o));
    let o = env.run(&["workspaces", "clean", "--older-than", "soon"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    ok(&env.run(&["workspaces", "clean"]));
    assert!(workspaces_json(&env).is_empty());
}

#[test]
fn a_missing_git_identity_is_a_clear_error_and_the_work_stays() {
    let (env, _s, _repos) = setup();
    env.write(".gitconfig-strict", "[user]\n\tuseConfigOnly = true\n");
    let home = env.home().display().to_string();
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\
         env = {{ PATH = \"{home}/bin:/usr/bin:/bin\", HOME = \"{home}\", GIT_CONFIG_NOSYSTEM = \"1\", GIT_CONFIG_GLOBAL = \"{home}/.gitconfig-strict\" }}\n\n{}",
        job("edit", "", "keep = \"never\"")
    ));
    let o = env.run(&["force", "edit"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let run = env.last_run("edit");
    assert_eq!(run["status"], "failed");
    let err = run["error"].as_str().unwrap();
    assert!(
        err.contains("user.name")
            && err.contains("user.email")
            && err.contains("runner.git_author"),
        "{err}"
    );
    let dir = path_of(&run);
    assert_eq!(run["workspace"]["kept"], true);
    assert_eq!(
        std::fs::read_to_string(dir.join("a.txt")).unwrap(),
        "alpha, edited\n"
    );
    assert_eq!(
        run["workspace"]["files_changed"], 4,
        "still reported: {run:#}"
    );
}

#[test]
fn a_workspace_that_cannot_be_set_up_fails_the_run_without_starting_the_job() {
    let (env, _s, _repos) = setup();
    let started = env.home().join("started");
    let hook = env.home().join("hook.txt");
    env.config(&format!(
        "{}{}[jobs.edit.hooks]\non_failure = \"echo $JOBCTL_STATUS > {}\"\n",
        runner(&env, AUTHOR),
        job("edit", "", "base = \"no-such-branch\""),
        hook.display()
    ));
    let o = env
        .cmd(&["force", "edit"])
        .env("MARK", &started)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", both(&o));
    let run = env.last_run("edit");
    assert_eq!(run["status"], "failed");
    let err = run["error"].as_str().unwrap();
    assert!(
        err.starts_with("workspace set-up failed") && err.contains("no-such-branch"),
        "{err}"
    );
    assert!(!started.exists(), "the job did not start");
    assert_eq!(std::fs::read_to_string(&hook).unwrap().trim(), "failed");
    assert!(workspaces_json(&env).is_empty());
}

#[test]
fn a_repository_given_by_url_is_worked_on_through_a_mirror_fetched_each_run() {
    let (env, _s, repos) = setup();
    let url = format!("file://{}", repos.origin.display());
    env.config(&format!(
        "{}[jobs.edit]\ntype = \"script\"\ncommand = \"echo more >> a.txt\"\n\n\
         [jobs.edit.workspace]\nrepo = \"{url}\"\nbase = \"main\"\npush = true\n",
        runner(&env, AUTHOR)
    ));
    ok(&env.run(&["force", "edit"]));
    let first = env.last_run("edit");
    assert_eq!(first["status"], "succeeded", "{first:#}");
    assert_eq!(first["workspace"]["base"], "origin/main");
    assert_eq!(repos.show("jobctl/edit/1", "a.txt"), "alpha\nmore");
    let mirrors: Vec<_> = std::fs::read_dir(env.state_dir().join("repos"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".git"))
        .collect();
    assert_eq!(mirrors.len(), 1, "one bare mirror in STATE_DIR/repos");

    // Someone pushes to main; the next run starts from it.
    repos.git(
        &repos.checkout,
        &["commit", "--quiet", "--allow-empty", "-m", "upstream"],
    );
    repos.git(&repos.checkout, &["push", "--quiet", "origin", "main"]);
    ok(&env.run(&["force", "edit"]));
    let second = env.last_run("edit");
    assert_eq!(
        second["workspace"]["base_commit"],
        repos.git(&repos.origin, &["rev-parse", "main"]),
        "fetched before the run"
    );
    assert_eq!(
        repos.branch_changes("jobctl/edit/2"),
        pairs(&[("M", "a.txt")])
    );
}

#[test]
fn workspace_config_errors_are_located_and_exit_78() {
    let env = Env::new();
    let _repos = Repos::new(env.home());
    let cases: &[(&str, &str, &str)] = &[
        (
            "repo = \"nowhere\"",
            "jobs.edit.workspace.repo",
            "does not exist",
        ),
        (
            "repo = \"checkout/keep\"",
            "jobs.edit.workspace.repo",
            "is not a git repository",
        ),
        (
            "repo = \"checkout\"\nbranch = \"bad..{job}\"",
            "jobs.edit.workspace.branch",
            "git refuses",
        ),
        (
            "repo = \"checkout\"\nbranch = \"x/{user}\"",
            "jobs.edit.workspace.branch",
            "{user}",
        ),
        (
            "repo = \"checkout\"\npussh = true",
            "jobs.edit.workspace.pussh",
            "did you mean \"push\"",
        ),
        (
            "repo = \"checkout\"\nkeep = \"sometimes\"",
            "jobs.edit.workspace.keep",
            "\"never\", \"failed\" or \"always\"",
        ),
        (
            "repo = \"https://example.com/r.git\"\ninclude = [\".env\"]",
            "jobs.edit.workspace.include",
            "URL",
        ),
        (
            "repo = \"checkout\"\ninclude = [\"../x\"]",
            "jobs.edit.workspace.include[0]",
            "inside the repository",
        ),
    ];
    for (ws, key, expected) in cases {
        env.config(&format!(
            "[jobs.edit]\ntype = \"script\"\ncommand = \"true\"\n\n[jobs.edit.workspace]\n{ws}\n"
        ));
        let o = env.run(&["check"]);
        assert_eq!(code(&o), 78, "{ws}: {}", both(&o));
        let err = stderr(&o);
        assert!(err.contains(key) && err.contains(expected), "{ws}: {err}");
    }
    let more: &[(&str, &str, &str)] = &[
        (
            "[jobs.edit]\ntype = \"script\"\ncommand = \"true\"\nworkdir = \"checkout\"\n[jobs.edit.workspace]\nrepo = \"checkout\"\n",
            "jobs.edit.workdir",
            "remove workdir",
        ),
        (
            "[runner]\ngit_author = \"nobody\"\n",
            "runner.git_author",
            "Name <email",
        ),
        (
            "[runner]\ngit = \"/no/such/git\"\n[jobs.edit]\ntype = \"script\"\ncommand = \"true\"\n[jobs.edit.workspace]\nrepo = \"checkout\"\n",
            "jobs.edit.workspace.branch",
            "runner.git",
        ),
        (
            "[jobs.edit]\ntype = \"script\"\ncommand = \"true\"\n[jobs.edit.hooks]\non_falure = \"x\"\n",
            "jobs.edit.hooks.on_falure",
            "did you mean \"on_failure\"",
        ),
        (
            "[runner.hooks]\npost_run = []\n",
            "runner.hooks.post_run",
            "non-empty",
        ),
        (
            "[runner]\nworkspace_max_age = \"10s\"\n",
            "runner.workspace_max_age",
            "≥ 1m",
        ),
    ];
    for (toml, key, expected) in more {
        env.config(toml);
        let o = env.run(&["check"]);
        assert_eq!(code(&o), 78, "{toml}: {}", both(&o));
        let err = stderr(&o);
        assert!(err.contains(key) && err.contains(expected), "{toml}: {err}");
    }
    env.config(
        "[runner]\nworkspace_max_age = \"2d\"\nworkspace_max_bytes = \"5GiB\"\ngit = \"git\"\n\n\
         [jobs.edit]\ntype = \"script\"\ncommand = \"true\"\n[jobs.edit.workspace]\nrepo = \"checkout\"\nbase = \"main\"\n\
         branch = \"agents/{job}-{date}-{run_id}\"\nfetch = false\nremote = \"origin\"\ncommit = true\n\
         commit_message = \"{job}: run {run_id}\"\npush = false\nkeep = \"always\"\ninclude = [\".env\"]\n",
    );
    ok(&env.run(&["check"]));
}

#[test]
fn show_reports_the_workspace_the_changed_files_the_hooks_and_the_log_end() {
    let (env, _s, _repos) = setup();
    env.config(&format!(
        "{}[runner.hooks]\npost_run = \"echo finished $JOBCTL_STATUS\"\n\n{}",
        runner(&env, AUTHOR),
        job("edit", "commit", "")
    ));
    ok(&env.run(&["force", "edit"]));
    let o = env.run(&["show", "--job", "edit"]);
    ok(&o);
    let text = stdout(&o);
    for want in [
        "run 1  edit  succeeded",
        "trigger    forced",
        "branch jobctl/edit/1 from origin/main",
        "4 files changed, +3 -2",
        "M a.txt  +1 -1",
        "D b.txt  +0 -1",
        "A d.txt  +1 -0",
        "post_run ok",
        "[hook post_run] finished succeeded",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let o = env.run(&["show", "1", "--json"]);
    ok(&o);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["run_id"], 1);
    assert_eq!(j["trigger"], "forced");
    assert_eq!(j["changes"].as_array().unwrap().len(), 4);
    assert_eq!(j["hooks"][0]["hook"], "post_run");
    assert_eq!(j["hooks"][0]["ok"], true);
    let kinds: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["run_started", "run_ended"], "{j:#}");
    assert!(
        j["log_tail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "[hook post_run] finished succeeded"),
        "{j:#}"
    );
    let o = env.run(&["show", "99"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(stderr(&o).contains("no run 99"));
}

#[test]
fn a_finished_worktree_is_parked_and_the_next_run_takes_it_clean_at_the_new_base() {
    let (env, _s, repos) = setup();
    env.config(&format!(
        "{}{}",
        runner(&env, AUTHOR),
        job("edit", "", "push = true\nkeep = \"never\"")
    ));
    ok(&env.run(&["force", "edit"]));
    let pool = env.state_dir().join("workspaces/.pool");
    let parked = || -> Vec<PathBuf> {
        std::fs::read_dir(&pool)
            .map(|d| {
                d.flatten()
                    .flat_map(|p| {
                        std::fs::read_dir(p.path())
                            .unwrap()
                            .flatten()
                            .map(|e| e.path())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        parked().len(),
        1,
        "the first run's worktree waits for the next"
    );

    // main moves on; the next run starts from there, in the parked worktree.
    std::fs::write(repos.checkout.join("a.txt"), "alpha, upstream\n").unwrap();
    repos.git(&repos.checkout, &["commit", "--quiet", "-am", "upstream"]);
    repos.git(&repos.checkout, &["push", "--quiet", "origin", "main"]);
    let o = env.run(&["force", "edit"]);
    ok(&o);
    let run = env.last_run("edit");
    assert_eq!(
        run["status"], "succeeded",
        "no leftovers of run 1 were found: {run:#}"
    );
    assert_eq!(
        run["workspace"]["base_commit"],
        repos.git(&repos.origin, &["rev-parse", "main"])
    );
    assert_eq!(
        repos.branch_changes("jobctl/edit/2"),
        pairs(&[
            ("M", "a.txt"),
            ("D", "b.txt"),
            ("A", "new/c.txt"),
            ("A", "d.txt")
        ]),
        "exactly run 2's changes against the new main"
    );
    assert_eq!(parked().len(), 1, "taken, and parked again");
    let worktrees = repos.git(&repos.checkout, &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 2, "{worktrees}");

    // A week and a day later the tick lets it go.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(8 * 24);
    ok(&env.run_at(&later.to_string(), &["run"]));
    assert!(parked().is_empty());
    let worktrees = repos.git(&repos.checkout, &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
}

/// The guide's example (docs/coding-agents.md) is a valid config, as written, once its
/// repository and secrets file exist.
#[test]
fn the_coding_agents_guide_example_is_a_valid_config() {
    let env = Env::new();
    let repos = Repos::new(env.home());
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/coding-agents.md"
    ))
    .unwrap();
    let start = doc.find("```toml\n").expect("the example") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let secrets = env.write("secrets.env", "CLAUDE_CODE_OAUTH_TOKEN=x\n");
    std::fs::set_permissions(
        &secrets,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let toml = doc[start..end]
        .replace("~/src/app", repos.checkout.to_str().unwrap())
        .replace("~/.config/jobctl/secrets.env", secrets.to_str().unwrap());
    env.config(&toml);
    let o = env.run(&["check"]);
    ok(&o);
    assert!(
        stdout(&o).starts_with("ok: 1 jobs, 1 agents"),
        "{}",
        both(&o)
    );
}

#[test]
fn a_token_in_a_repository_url_shows_in_no_record_or_message() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    // Nothing listens on port 9: the clone fails, and git names the URL in its answer.
    env.config(&format!(
        "{}[jobs.edit]\ntype = \"script\"\ncommand = \"true\"\n\
         [jobs.edit.workspace]\nrepo = \"http://me:sekrit-token-123@127.0.0.1:9/r.git\"\n",
        runner(&env, AUTHOR)
    ));
    let o = env.run(&["force", "edit"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(!both(&o).contains("sekrit"), "{}", both(&o));
    let run = env.last_run("edit");
    assert_eq!(run["status"], "failed");
    let err = run["error"].as_str().unwrap();
    assert!(
        err.contains("can't make the local mirror of http://***@127.0.0.1:9/r.git"),
        "{err}"
    );
    let all = format!(
        "{}{}",
        stdout(&env.run(&["history", "--json"])),
        log_text(&env, &run)
    );
    assert!(!all.contains("sekrit"), "{all}");
}
