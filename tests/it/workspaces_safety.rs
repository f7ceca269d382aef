//! Workspaces never lose an agent's work (workspaces.md, "Never lose an agent's work"),
//! tried the way an unlucky operator or an attacker would, with the real git CLI: a bare
//! `origin` in the test's temp dir and the user's checkout cloned from it.
//!
//! - `workspaces clean` (and the tick's cleanup) commits what a kept worktree holds
//!   uncommitted to `jobctl/rescue/RUN_ID`, pushes it and names it; `--discard` says
//!   what it threw away.
//! - A value git would read as an option is a config error, and never reaches git.
//! - Credentials in a repository URL show in no output, record, log or API answer.
//! - A job that deletes or moves its own branch does not lose its commits.
//! - A set-up that fails (disk full, stopped at the deadline, a bad base, an unreachable
//!   URL) leaves no branch, worktree or lock.
//! - A `pre_run` hook that outlives the job's timeout ends the run `timed_out`.

use crate::support::git::{self, AUTHOR, Repos, pairs, path_of};
use crate::support::tmpfs;
use crate::support::*;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The fake agent: edits `a.txt`, deletes `b.txt`, adds `new/c.txt` and `d.txt`, leaves
/// an ignored `debug.log`, and commits nothing.
const EDIT: &str = "#!/bin/sh\nset -e\necho 'alpha, edited' > a.txt\nrm b.txt\n\
                    mkdir -p new && echo charlie > new/c.txt\necho delta > d.txt\necho noise > debug.log\n";

fn setup() -> (Env, Sweep, Repos) {
    let env = Env::new();
    let sweep = Sweep::new(&env);
    let repos = Repos::new(env.home());
    env.script("bin/edit", EDIT);
    (env, sweep, repos)
}

fn runner(env: &Env, extra: &str) -> String {
    git::runner_toml(env.home(), extra)
}

/// A script job `name` running `command` in a workspace on the checkout.
fn job(name: &str, command: &str, workspace_extra: &str) -> String {
    format!(
        "[jobs.{name}]\ntype = \"script\"\ncommand = \"{command}\"\n\n\
         [jobs.{name}.workspace]\nrepo = \"checkout\"\n{workspace_extra}\n\n"
    )
}

/// What [`EDIT`] changes, as `diff --name-status` says it.
fn edits() -> Vec<(String, String)> {
    pairs(&[
        ("M", "a.txt"),
        ("D", "b.txt"),
        ("A", "d.txt"),
        ("A", "new/c.txt"),
    ])
}

/// A `commit = false` run of [`EDIT`] whose uncommitted work is left in a kept worktree.
fn a_kept_uncommitted_run(env: &Env) -> PathBuf {
    env.config(&format!(
        "{}{}",
        runner(env, AUTHOR),
        job("edit", "edit", "commit = false\nkeep = \"never\"")
    ));
    ok(&env.run(&["force", "edit"]));
    let run = env.last_run("edit");
    assert_eq!(run["workspace"]["kept"], true, "{run:#}");
    path_of(&run)
}

#[test]
fn clean_commits_uncommitted_work_to_a_rescue_branch_pushes_it_and_names_it() {
    let (env, _s, repos) = setup();
    let dir = a_kept_uncommitted_run(&env);

    let o = env.run(&["workspaces", "clean"]);
    ok(&o);
    let said = stdout(&o);
    assert!(
        said.contains("jobctl/rescue/1") && said.contains("pushed"),
        "{said}"
    );
    assert!(!dir.exists(), "removed once its work was saved");
    assert_eq!(
        repos.branch_changes("jobctl/rescue/1"),
        edits(),
        "on the remote: every change, untracked files in, ignored ones out"
    );
    assert_eq!(repos.show("jobctl/rescue/1", "a.txt"), "alpha, edited");
    assert!(
        repos
            .branches(&repos.checkout)
            .contains(&"jobctl/rescue/1".to_string()),
        "and in the repository"
    );
    let events = stdout(&env.run(&["events", "--json", "--run", "1"]));
    assert!(events.contains("jobctl/rescue/1"), "{events}");
    let shown = stdout(&env.run(&["show", "1"]));
    assert!(
        shown.contains("uncommitted work committed to jobctl/rescue/1"),
        "{shown}"
    );
}

#[test]
fn clean_discard_throws_the_uncommitted_work_away_and_says_what() {
    let (env, _s, repos) = setup();
    let dir = a_kept_uncommitted_run(&env);

    let o = env.run(&["workspaces", "clean", "--discard", "--dry-run"]);
    ok(&o);
    assert!(dir.exists(), "a dry run removes nothing: {}", both(&o));

    let o = env.run(&["workspaces", "clean", "--discard", "--json"]);
    ok(&o);
    let done: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let mut thrown: Vec<&str> = done[0]["uncommitted"]
        .as_array()
        .unwrap_or_else(|| panic!("{done:#?}"))
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    thrown.sort();
    assert_eq!(
        thrown,
        ["a.txt", "b.txt", "d.txt", "new/c.txt"],
        "{done:#?}"
    );
    assert_eq!(done[0]["discarded"], true, "{done:#?}");
    assert!(done[0]["rescue_branch"].is_null(), "{done:#?}");
    assert!(!dir.exists());
    assert_eq!(
        repos.branches(&repos.checkout),
        ["main"],
        "no rescue branch"
    );

    // In words: how many files, and which.
    let dir = a_kept_uncommitted_run(&env);
    let o = env.run(&["workspaces", "clean", "--discard"]);
    ok(&o);
    let said = stdout(&o);
    assert!(
        said.contains("discarded uncommitted changes to 4 files")
            && said.contains("new/c.txt")
            && !said.contains("debug.log"),
        "{said}"
    );
    assert!(!dir.exists());
}

#[test]
fn the_ticks_age_cleanup_rescues_uncommitted_work_too() {
    let (env, _s, repos) = setup();
    let dir = a_kept_uncommitted_run(&env);
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(8 * 24);
    ok(&env.run_at(&later.to_string(), &["run"]));
    assert!(!dir.exists(), "past workspace_max_age");
    assert_eq!(repos.branch_changes("jobctl/rescue/1"), edits());
}

#[test]
fn a_value_git_would_read_as_an_option_is_a_config_error_and_never_reaches_git() {
    let (env, _s, _repos) = setup();
    let mark = env.home().join("injected");
    let inject = format!("--upload-pack=touch {};git-upload-pack", mark.display());
    let cases: Vec<(String, &str)> = vec![
        (format!("base = \"{inject}\""), "jobs.edit.workspace.base"),
        ("base = \"-main\"".into(), "jobs.edit.workspace.base"),
        ("base = \"main..x\"".into(), "jobs.edit.workspace.base"),
        (
            "remote = \"--receive-pack=evil\"".into(),
            "jobs.edit.workspace.remote",
        ),
        ("branch = \"-{job}\"".into(), "jobs.edit.workspace.branch"),
    ];
    for (line, key) in &cases {
        env.config(&format!(
            "{}{}",
            runner(&env, AUTHOR),
            job("edit", "true", line)
        ));
        let o = env.run(&["check"]);
        assert_eq!(code(&o), 78, "{line}: {}", both(&o));
        let err = stderr(&o);
        assert!(err.contains(key), "{line}: {err}");
        let o = env.run(&["force", "edit"]);
        assert_eq!(code(&o), 78, "{line}: rejected at load too: {}", both(&o));
        assert!(!mark.exists(), "{line}: git ran the injected command");
    }
    let urls = [
        "ssh://-oProxyCommand=touch%20injected/r.git",
        "ext::sh -c touch% injected",
        "-u/r.git",
    ];
    for url in urls {
        env.config(&format!(
            "{}[jobs.edit]\ntype = \"script\"\ncommand = \"true\"\n[jobs.edit.workspace]\nrepo = \"{url}\"\n",
            runner(&env, AUTHOR)
        ));
        let o = env.run(&["check"]);
        assert_eq!(code(&o), 78, "{url}: {}", both(&o));
        assert!(
            stderr(&o).contains("jobs.edit.workspace.repo"),
            "{url}: {}",
            both(&o)
        );
    }
    assert!(!env.home().join("injected").exists());
}

/// Every file under `dir` (its relative path) holding `needle`, except under `skip`.
fn files_holding(dir: &Path, needle: &str, skip: &[&Path]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if skip.iter().any(|s| p.starts_with(s)) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                hits.push(p);
            }
        }
    }
    hits
}

#[test]
fn credentials_in_a_repository_url_show_in_no_output_record_log_or_answer() {
    let (env, _s, repos) = setup();
    let http = git::DumbHttp::serve(&repos.home, &repos.origin);
    let at = format!("127.0.0.1:{}", http.port);
    // Each URL form carries a secret; the last cannot be reached (git's error names it).
    let urls = [
        format!("http://SECRET1:x-oauth-basic@{at}/r.git"),
        format!("http://SECRET2@{at}/r.git"),
        format!("http://{at}/r.git?access_token=SECRET3"),
        "http://SECRET4:x-oauth-basic@127.0.0.1:9/r.git?private_token=SECRET5&x=1".to_string(),
    ];
    let mut toml = runner(&env, AUTHOR);
    for (i, url) in urls.iter().enumerate() {
        toml += &format!(
            "[jobs.j{i}]\ntype = \"script\"\ncommand = \"echo more >> a.txt\"\n\
             [jobs.j{i}.workspace]\nrepo = \"{url}\"\nbase = \"main\"\nkeep = \"always\"\n\n"
        );
    }
    env.config(&toml);
    for i in 0..urls.len() {
        let o = env.run(&["force", &format!("j{i}")]);
        assert!(!both(&o).contains("SECRET"), "{}", both(&o));
        let run = env.last_run(&format!("j{i}"));
        let want = if i < 3 { "succeeded" } else { "failed" };
        assert_eq!(run["status"], want, "{run:#}");
    }
    let run = env.last_run("j0");
    assert_eq!(
        run["workspace"]["repo"],
        format!("http://***@{at}/r.git"),
        "{run:#}"
    );
    let run = env.last_run("j2");
    assert_eq!(
        run["workspace"]["repo"],
        format!("http://{at}/r.git?access_token=***"),
        "{run:#}"
    );

    let mut outputs = String::new();
    let mut read = |args: &[&str]| {
        let o = env.run(args);
        ok(&o);
        outputs += &both(&o);
    };
    for id in ["1", "2", "3", "4"] {
        read(&["show", id]);
        read(&["show", id, "--json"]);
        read(&["logs", id]);
    }
    read(&["history", "--json"]);
    read(&["events", "--json", "-n", "500"]);
    read(&["workspaces", "--json"]);
    read(&["list", "--json"]);
    read(&["status", "--json"]);
    assert!(outputs.contains("cloned http://***@"), "{outputs}");
    for s in ["SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5"] {
        assert!(!outputs.contains(s), "{s} in:\n{outputs}");
    }

    let server = server::Server::start(&env);
    let token = server::token(&env, &["--scope", "read"]);
    let mut answers = String::new();
    for path in [
        "/api/v1/runs",
        "/api/v1/runs/1",
        "/api/v1/runs/3",
        "/api/v1/runs/4",
        "/api/v1/runs/1/events",
        "/api/v1/runs/1/log",
        "/api/v1/runs/4/log",
        "/api/v1/jobs",
        "/api/v1/jobs/j0",
    ] {
        let r = server.get(path, Some(&token));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        answers += &r.body;
    }
    drop(server);
    assert!(!answers.contains("SECRET"), "{answers}");

    // On disk: the database and every file of the state but the mirrors (whose git config
    // holds the URL git fetches with) and a cached copy of the config file.
    let state = env.state_dir();
    let hits = files_holding(
        &state,
        "SECRET",
        &[&state.join("repos"), &state.join("cache")],
    );
    assert!(hits.is_empty(), "{hits:?}");
}

/// `git branch --contains COMMIT` in the user's repository.
fn branches_holding(repos: &Repos, commit: &str) -> Vec<String> {
    repos
        .git(
            &repos.checkout,
            &["branch", "--format=%(refname:short)", "--contains", commit],
        )
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_job_that_deletes_or_moves_its_own_branch_does_not_lose_its_commit() {
    let (env, _s, repos) = setup();
    // Each run's commit is its own (the same change in the same second would be one).
    let commit = "echo mine $JOBCTL_RUN_ID > mine.txt && git add -A && \
                  git -c user.name=Agent -c user.email=a@example.com commit --quiet -m mine && \
                  git checkout --quiet --detach";
    env.script(
        "bin/drop",
        &format!("#!/bin/sh\nset -e\n{commit}\ngit branch --quiet -D \"$JOBCTL_BRANCH\"\n"),
    );
    env.script(
        "bin/move",
        &format!(
            "#!/bin/sh\nset -e\n{commit}\ngit branch --quiet -f \"$JOBCTL_BRANCH\" \"$JOBCTL_BASE_COMMIT\"\n"
        ),
    );
    env.config(&format!(
        "{}{}{}",
        runner(&env, AUTHOR),
        job("drop", "drop", "keep = \"never\""),
        job("move", "move", "keep = \"never\"\npush = true")
    ));
    ok(&env.run(&["force", "drop"])); // run 1
    ok(&env.run(&["force", "move"])); // run 2
    // Both worktrees are reused: what the runs left is only what refs hold.
    ok(&env.run(&["force", "drop"])); // run 3
    ok(&env.run(&["force", "move"])); // run 4

    for (id, job) in [(1, "drop"), (2, "move"), (3, "drop"), (4, "move")] {
        let run = &env
            .history_json(&[])
            .into_iter()
            .find(|r| r["run_id"] == id)
            .unwrap();
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let head = run["workspace"]["head_commit"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(head, run["workspace"]["base_commit"].as_str().unwrap());
        let branch = format!("jobctl/{job}/{id}");
        if job == "drop" {
            assert_eq!(
                branches_holding(&repos, &head),
                std::slice::from_ref(&branch),
                "run {id}: its branch is restored at its commit"
            );
        } else {
            assert_eq!(
                repos.git(&repos.origin, &["rev-parse", &branch]),
                head,
                "run {id}: the branch pushed is the one with its commit"
            );
            assert_eq!(repos.show(&branch, "mine.txt"), format!("mine {id}"));
        }
    }
}

/// No branch but `main`, no worktree but the checkout, no lock git left: what a set-up
/// that failed must leave.
#[track_caller]
fn nothing_left(repos: &Repos, workspace_dir: &Path, what: &str) {
    assert_eq!(repos.branches(&repos.checkout), ["main"], "{what}");
    let list = repos.git(&repos.checkout, &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{what}: {list}");
    let admin = repos.checkout.join(".git/worktrees");
    let left: Vec<_> = std::fs::read_dir(&admin)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "{what}: git's records of worktrees: {left:?}"
    );
    let git_dir = repos.checkout.join(".git");
    let locks = files_named(&git_dir, |n| n.ends_with(".lock") || n == "locked");
    assert!(locks.is_empty(), "{what}: {locks:?}");
    let runs = files_named(workspace_dir, |_| true);
    assert!(
        runs.is_empty(),
        "{what}: left in the workspace dir: {runs:?}"
    );
}

/// Files under `dir` whose name `pick` takes.
fn files_named(dir: &Path, pick: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(&pick) {
                out.push(p);
            }
        }
    }
    out
}

/// Adds `big.bin` (`mib` MiB) to `main` on the origin, with `.gitattributes` giving it
/// the `slow` filter (a no-op unless a repository configures one).
fn a_big_file_on_main(repos: &Repos, mib: usize) {
    std::fs::write(repos.checkout.join("big.bin"), vec![b'x'; mib << 20]).unwrap();
    std::fs::write(
        repos.checkout.join(".gitattributes"),
        "big.bin filter=slow\n",
    )
    .unwrap();
    repos.git(&repos.checkout, &["add", "big.bin", ".gitattributes"]);
    repos.git(&repos.checkout, &["commit", "--quiet", "-m", "big"]);
    repos.git(&repos.checkout, &["push", "--quiet", "origin", "main"]);
}

#[test]
fn a_set_up_that_fails_on_a_full_disk_leaves_no_branch_worktree_or_lock() {
    let test = "a_set_up_that_fails_on_a_full_disk_leaves_no_branch_worktree_or_lock";
    if !tmpfs::may_mount(module_path!(), test) {
        return;
    }
    let (env, _s, repos) = setup();
    a_big_file_on_main(&repos, 4);
    let disk = env.home().join("wsdisk");
    let _fs = tmpfs::Tmpfs::mount(&disk, "1M").expect("a tmpfs for the worktrees");
    let started = env.home().join("started");
    env.config(&format!(
        "{}{}",
        runner(
            &env,
            &format!("{AUTHOR}\nworkspace_dir = \"{}\"", disk.display())
        ),
        job("setup", &format!("touch {}", started.display()), "")
    ));
    for _ in 0..2 {
        let o = env.run(&["force", "setup"]);
        assert_eq!(code(&o), 1, "{}", both(&o));
        let run = env.last_run("setup");
        let err = run["error"].as_str().unwrap();
        assert!(
            err.starts_with("workspace set-up failed") && err.contains("big.bin"),
            "{err}"
        );
        assert_eq!(run["workspace"]["kept"], false, "{run:#}");
    }
    assert!(!started.exists());
    nothing_left(&repos, &disk, "two set-ups on a full disk");
}

#[test]
fn a_set_up_stopped_at_its_deadline_or_failing_leaves_no_branch_worktree_or_lock() {
    let (env, _s, repos) = setup();
    a_big_file_on_main(&repos, 1);
    // Checking big.bin out takes a minute: the run's 2 s deadline stops git mid-checkout.
    repos.git(
        &repos.checkout,
        &["config", "filter.slow.smudge", "sleep 60; cat"],
    );
    let workspaces = env.state_dir().join("workspaces");
    let started = env.home().join("started");
    let touch = format!("touch {}", started.display());
    env.config(&format!(
        "{}[jobs.slow]\ntype = \"script\"\ncommand = \"{touch}\"\ntimeout = \"2s\"\n\
         [jobs.slow.workspace]\nrepo = \"checkout\"\n\n{}\
         [jobs.far]\ntype = \"script\"\ncommand = \"{touch}\"\n\
         [jobs.far.workspace]\nrepo = \"http://127.0.0.1:9/r.git\"\n",
        runner(&env, AUTHOR),
        job("badbase", &touch, "base = \"no-such-branch\""),
    ));
    let t0 = Instant::now();
    let o = env.run(&["force", "slow"]);
    assert_ne!(code(&o), 0, "{}", both(&o));
    assert!(t0.elapsed() < Duration::from_secs(40), "{:?}", t0.elapsed());
    let run = env.last_run("slow");
    assert!(
        run["error"].as_str().unwrap().contains("deadline"),
        "{run:#}"
    );
    nothing_left(&repos, &workspaces, "a set-up stopped mid-checkout");

    for j in ["badbase", "far"] {
        let o = env.run(&["force", j]);
        assert_eq!(code(&o), 1, "{}", both(&o));
        nothing_left(&repos, &workspaces, j);
    }
    let repos_dir = env.state_dir().join("repos");
    let half_made = files_named(&repos_dir, |_| true)
        .into_iter()
        .filter(|p| !p.starts_with(repos_dir.join("locks")))
        .collect::<Vec<_>>();
    assert!(half_made.is_empty(), "no half-made mirror: {half_made:?}");
    assert!(!started.exists());

    // Once it can, it works: nothing in the way (with time to spare on a busy machine).
    repos.git(&repos.checkout, &["config", "filter.slow.smudge", "cat"]);
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    env.config(&config.replace("timeout = \"2s\"", "timeout = \"5m\""));
    ok(&env.run(&["force", "slow"]));
    assert!(started.exists());
}

#[test]
fn a_pre_run_hook_past_the_jobs_timeout_ends_the_run_timed_out_saying_so() {
    let env = Env::new();
    let _s = Sweep::new(&env);
    let started = env.home().join("started");
    env.config(&format!(
        "{}[jobs.x]\ntype = \"script\"\ncommand = \"touch {started}\"\ntimeout = \"2s\"\n\
         [jobs.x.hooks]\npre_run = \"sleep 30\"\n\n\
         [jobs.y]\ntype = \"script\"\ncommand = \"touch {started}; sleep 30\"\ntimeout = \"5s\"\n\
         [jobs.y.hooks]\npre_run = \"sleep 3\"\n",
        runner(&env, ""),
        started = started.display()
    ));
    let t0 = Instant::now();
    let o = env.run(&["force", "x"]);
    assert_eq!(code(&o), 124, "{}", both(&o));
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    let run = env.last_run("x");
    assert_eq!(run["status"], "timed_out", "{run:#}");
    let err = run["error"].as_str().unwrap();
    assert!(
        err.starts_with("timed out after 2s") && err.contains("pre_run"),
        "{err}"
    );
    assert!(!started.exists(), "the job did not start");

    // 3 s of hook, then the job has the 2 s left of its 5 s (not 5 s more: 8 s).
    let t0 = Instant::now();
    let o = env.run(&["force", "y"]);
    assert_eq!(code(&o), 124, "{}", both(&o));
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert!(started.exists());
    let run = env.last_run("y");
    assert_eq!(run["status"], "timed_out", "{run:#}");
    let took = run["duration_ms"].as_i64().unwrap_or_default();
    assert!((4_900..7_500).contains(&took), "{run:#}");
}
