//! A real agent, end to end and offline: the real claude CLI (`tests/realcli`) runs as an
//! agent job in a workspace, against the loopback model stub (`common/model_stub.rs`)
//! whose tool call makes claude run `echo hi > out.txt` in its working directory. The
//! file lands in the run's worktree, jobctl commits and pushes it, and the branch on the
//! remote holds it; the user's checkout never sees it.
//!
//! Locally, a missing CLI skips the test with one line on stderr; under `CI=true` it fails.

use crate::support::git::Repos;
use crate::support::model_stub::{ModelStub, Script};
use crate::support::*;

#[test]
fn claudes_tool_call_edits_the_worktree_and_the_branch_on_the_remote_holds_it() {
    if !have("claude") {
        return;
    }
    let stub = ModelStub::start(Script::ToolCall);
    let env = Env::new();
    let _s = Sweep::new(&env);
    let repos = Repos::new(env.home());
    let home = env.home();
    let agent_home = home.join("agent-home");
    std::fs::create_dir_all(&agent_home).unwrap();
    std::fs::create_dir_all(home.join("tmp")).unwrap();
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\ngit_author = \"jobctl <jobctl@example.com>\"\n\
         env_remove = [\"ANTHROPIC_API_KEY\", \"IS_SANDBOX\", \"CLAUDE_CODE_OAUTH_TOKEN\"]\n\
         env = {{ PATH = \"{bin}:/usr/local/bin:/usr/bin:/bin\", HOME = \"{ah}\", XDG_CONFIG_HOME = \"{ah}/.config\", \
         NO_COLOR = \"1\", GIT_CONFIG_NOSYSTEM = \"1\", IS_SANDBOX = \"1\", ANTHROPIC_API_KEY = \"sk-ant-dummy\", \
         ANTHROPIC_BASE_URL = \"{url}\", TMPDIR = \"{tmp}\" }}\n\n\
         [agents.claude]\npreset = \"claude\"\ndaily_budget = 10\n\n\
         [jobs.fixer]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"write out.txt\"\ntimeout = \"2m\"\n\n\
         [jobs.fixer.workspace]\nrepo = \"checkout\"\npush = true\n",
        bin = bin_dir().display(),
        ah = agent_home.display(),
        url = stub.url(),
        tmp = home.join("tmp").display(),
    ));
    let before = repos.checkout_state();
    let o = env.run(&["force", "fixer"]);
    ok(&o);
    let run = env.history_json(&["fixer", "-n", "1"]).remove(0);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["agent"], "claude", "{run:#}");
    assert_eq!(
        run["num_turns"], 2,
        "a tool turn and an answer turn: {run:#}"
    );
    let branch = run["workspace"]["branch"].as_str().unwrap();
    assert_eq!(run["workspace"]["pushed"], true, "{run:#}");
    assert_eq!(
        repos.branch_changes(branch),
        [("A".to_string(), "out.txt".to_string())],
        "the remote's branch holds exactly claude's edit"
    );
    assert_eq!(repos.show(branch, "out.txt"), "hi");
    assert_eq!(run["changes"][0]["path"], "out.txt");
    assert_eq!(
        repos.checkout_state(),
        before,
        "the user's checkout is untouched"
    );
    assert!(!repos.checkout.join("out.txt").exists());
    assert!(
        stub.requests()
            .iter()
            .any(|p| p.starts_with("/v1/messages")),
        "{:?}",
        stub.requests()
    );
}
