//! The web console in a real headless Chromium, driven over WebDriver (chromedriver): sign
//! in with a token, the jobs table against `list --json`, "Run now" followed live from
//! running to succeeded without a reload, a long run paused, resumed and cancelled from its
//! page (and no process left), job and agent buttons, a read-only token that sees no buttons, a 360 px
//! wide window without sideways scrolling, and no errors in the browser's console.
//! Screenshots are saved under the test target directory (`console/`); with
//! `JOBCTL_DOCS_SCREENSHOTS=1` they are also written to `docs/` for the console guide.
//!
//! Chromium and chromedriver come from Debian (`chromium`, `chromium-driver`); `.ci/run`
//! installs them. Without them the test says so and passes, except under `CI=true`, where
//! it fails.

use crate::support::*;

use crate::support::browser::browser;
use crate::support::git::Repos;
use crate::support::server::{Server, token};

use std::time::Duration;

use serde_json::json;

fn config(env: &Env) -> String {
    let home = env.home().display();
    format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\ngit_author = \"jobctl <jobctl@example.com>\"\n\
         env = {{ PATH = \"{home}/bin:/usr/bin:/bin\", HOME = \"{home}\", GIT_CONFIG_NOSYSTEM = \"1\" }}\n\n\
         [jobs.edit]\ntype = \"script\"\ncommand = \"echo 'a note' > note.txt; echo edited >> a.txt\"\nevery = \"1d\"\n\n\
         [jobs.edit.workspace]\nrepo = \"checkout\"\n\n\
         [agents.claude]\npreset = \"claude\"\ndaily_budget = 5\n\n\
         [jobs.hello]\ntype = \"script\"\ncommand = \"echo start; sleep 2; echo done\"\nevery = \"1d\"\n\n\
         [jobs.long]\ntype = \"script\"\ncommand = \"echo working; sleep 300\"\nevery = \"1d\"\n\n\
         [jobs.review]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"review\"\ncron = \"0 9 * * 1-5\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_chromium() {
    let Some(mut b) = browser().await else { return };
    let env = Env::new();
    let _repos = Repos::new(env.home());
    env.config(&config(&env));
    let _sweep = Sweep::new(&env);
    let write = token(&env, &["--scope", "write", "--sub", "operator"]);
    let read = token(&env, &["--scope", "read", "--sub", "viewer"]);
    let s = Server::start(&env);
    let session = b.c().session_id().await.unwrap().unwrap();

    // Sign in; the jobs table is `list --json`.
    b.sign_in(&s.base, &write).await;
    let rows = b
        .js(
            "return [...document.querySelectorAll('#jobs tbody tr')].map(tr => \
             [tr.dataset.job, ...[...tr.cells].map(td => td.innerText.trim())])",
        )
        .await;
    let list = env.list_json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), list.len(), "{rows:?}");
    for (row, job) in rows.iter().zip(&list) {
        assert_eq!(row[0], job["name"], "{row:?}");
        assert_eq!(row[1], job["name"], "{row:?}");
        assert_eq!(row[2], job["type"], "{row:?}");
        assert_eq!(row[3], job["schedule"], "{row:?}");
        let last = job["last_status"].as_str().unwrap_or("-");
        assert_eq!(row[6], last, "{row:?}");
    }
    assert!(
        b.js("return document.querySelector('#who').innerText")
            .await
            .as_str()
            .unwrap()
            .contains("operator")
    );

    // Run now: running, then succeeded, live, without a reload.
    b.js("window.__stay = 1; return true").await;
    b.click("tr[data-job=hello] button[data-act=run]").await;
    b.until(
        "hello to show running",
        Duration::from_secs(15),
        "return document.querySelector('tr[data-job=hello]').cells[3].innerText.startsWith('running')",
    )
    .await;
    b.screenshot("jobs").await;
    b.until(
        "hello to show succeeded",
        Duration::from_secs(20),
        "const tr = document.querySelector('tr[data-job=hello]'); \
         return !tr.cells[3].innerText.startsWith('running') && tr.querySelector('.last-status').innerText === 'succeeded'",
    )
    .await;
    assert_eq!(
        b.js("return window.__stay").await,
        json!(1),
        "the page was reloaded"
    );
    let hist = env.history_json(&["hello"]);
    assert_eq!(hist[0]["status"], "succeeded");

    // Its page: status, the event timeline, the log.
    let hello_run = hist[0]["run_id"].as_i64().unwrap();
    b.c()
        .goto(&format!("{}/#/run/{hello_run}", s.base))
        .await
        .unwrap();
    b.until(
        "the log",
        Duration::from_secs(15),
        "return [...document.querySelectorAll('#log .log-lines div')].map((d) => d.textContent).join('\\n') === 'start\\ndone'",
    )
    .await;
    b.until(
        "the event timeline",
        Duration::from_secs(15),
        "const t = document.querySelector('#timeline')?.innerText || ''; \
         return t.includes('run_started') && t.includes('run_ended')",
    )
    .await;

    // A run in a git workspace: its branch and the files it changed.
    b.c().goto(&format!("{}/#/jobs", s.base)).await.unwrap();
    b.click("tr[data-job=edit] button[data-act=run]").await;
    b.until(
        "edit to succeed",
        Duration::from_secs(30),
        "return document.querySelector('tr[data-job=edit] .last-status')?.innerText === 'succeeded'",
    )
    .await;
    let edit_run = env.history_json(&["edit"])[0]["run_id"].as_i64().unwrap();
    b.c()
        .goto(&format!("{}/#/run/{edit_run}", s.base))
        .await
        .unwrap();
    let changes = b
        .until(
            "the changes table",
            Duration::from_secs(15),
            "const t = document.querySelector('table.changes'); return t && t.innerText",
        )
        .await;
    let changes = changes.as_str().unwrap();
    assert!(
        changes.contains("note.txt") && changes.contains("a.txt"),
        "{changes}"
    );
    let ws = b
        .js("return document.querySelector('#run .kv').innerText")
        .await;
    assert!(
        ws.as_str()
            .unwrap()
            .contains(&format!("jobctl/edit/{edit_run}")),
        "{ws}"
    );
    b.screenshot("run-workspace").await;

    // A long run cancelled from its page: the page shows cancelled, no process is left.
    b.c().goto(&format!("{}/#/jobs", s.base)).await.unwrap();
    b.click("tr[data-job=long] button[data-act=run]").await;
    b.until(
        "the link to the long run",
        Duration::from_secs(15),
        "return document.querySelector('tr[data-job=long] td a[href^=\"#/run/\"]')?.innerText.startsWith('running')",
    )
    .await;
    b.click("tr[data-job=long] td a[href^=\"#/run/\"]").await;
    b.until(
        "the live log",
        Duration::from_secs(15),
        "return document.querySelector('#log .log-lines div')?.textContent === 'working'",
    )
    .await;
    b.screenshot("run").await;
    let long_run = env.history_json(&["long"])[0]["run_id"].as_i64().unwrap();
    // Paused from its page: every process stopped; resumed: none stopped.
    let stopped = |want: bool| {
        let (live, _) = run_processes(&env.state_dir(), long_run);
        let all = !live.is_empty()
            && live.iter().all(|p| {
                let st = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                let state = st.rfind(')').and_then(|i| st[i + 2..].chars().next());
                (state == Some('T')) == want
            });
        all.then_some(())
    };
    b.click("#run button[data-act=pause]").await;
    b.until(
        "paused, with a resume button",
        Duration::from_secs(20),
        "return document.querySelector('#run h1 .status')?.innerText === 'paused' && !!document.querySelector('#run button[data-act=resume]')",
    )
    .await;
    wait_for(
        "the run's processes stopped",
        Duration::from_secs(10),
        || stopped(true),
    );
    b.until(
        "the pause in the timeline, by the token's subject",
        Duration::from_secs(10),
        "return [...document.querySelectorAll('#timeline li')].some((li) => li.innerText.includes('run_paused') && li.innerText.includes('api:'))",
    )
    .await;
    b.click("#run button[data-act=resume]").await;
    b.until(
        "running again",
        Duration::from_secs(20),
        "return document.querySelector('#run h1 .status')?.innerText === 'running' && !!document.querySelector('#run button[data-act=pause]')",
    )
    .await;
    wait_for(
        "the run's processes continued",
        Duration::from_secs(10),
        || stopped(false),
    );
    b.click("#run button[data-act=cancel]").await;
    b.until(
        "cancelled",
        Duration::from_secs(20),
        "return document.querySelector('#run h1 .status')?.innerText === 'cancelled'",
    )
    .await;
    wait_for(
        "the long run's processes to go",
        Duration::from_secs(20),
        || {
            run_processes(&env.state_dir(), long_run)
                .0
                .is_empty()
                .then_some(())
        },
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#run button')].map((b) => b.dataset.act)")
            .await,
        json!(["rerun"]),
        "an ended run can only be made again"
    );

    // Pause and resume a job; disable and enable an agent scope.
    b.c().goto(&format!("{}/#/jobs", s.base)).await.unwrap();
    b.click("tr[data-job=hello] button[data-act=pause]").await;
    b.until(
        "hello paused",
        Duration::from_secs(15),
        "return document.querySelector('tr[data-job=hello]').cells[3].innerText === 'paused'",
    )
    .await;
    assert_eq!(
        env.list_json()
            .iter()
            .find(|j| j["name"] == "hello")
            .unwrap()["paused"],
        true
    );
    b.click("tr[data-job=hello] button[data-act=resume]").await;
    b.until(
        "hello resumed",
        Duration::from_secs(15),
        "return document.querySelector('tr[data-job=hello] button[data-act=pause]') !== null",
    )
    .await;
    b.c().goto(&format!("{}/#/agents", s.base)).await.unwrap();
    // The view draws once its request answers: not at once under load.
    b.until(
        "the agents view",
        Duration::from_secs(15),
        "return document.querySelector('tr[data-agent=claude] input.reason') !== null",
    )
    .await;
    b.js("document.querySelector('tr[data-agent=claude] input.reason').value = 'over budget in review'; return true")
        .await;
    b.click("tr[data-agent=claude] button[data-act=disable]")
        .await;
    b.until(
        "claude disabled, with the reason given",
        Duration::from_secs(15),
        "const tr = document.querySelector('tr[data-agent=claude]'); \
         return !!tr.querySelector('button[data-act=enable]') && tr.innerText.includes('over budget in review')",
    )
    .await;
    b.screenshot("agents").await;
    b.click("tr[data-agent=claude] button[data-act=enable]")
        .await;
    b.until(
        "claude enabled",
        Duration::from_secs(15),
        "return document.querySelector('tr[data-agent=claude] button[data-act=disable]') !== null",
    )
    .await;

    // Runs and the tree render.
    b.c().goto(&format!("{}/#/runs", s.base)).await.unwrap();
    b.until(
        "the runs table",
        Duration::from_secs(15),
        &format!("return document.querySelector('#runs a[href=\"#/run/{long_run}\"]') !== null"),
    )
    .await;
    b.c().goto(&format!("{}/#/tree", s.base)).await.unwrap();
    b.until(
        "the tree",
        Duration::from_secs(15),
        &format!("return document.querySelector('#tree a[href=\"#/run/{hello_run}\"]') !== null"),
    )
    .await;

    // 360 px wide: nothing scrolls sideways but the tables' own boxes.
    b.c().set_window_size(360, 740).await.unwrap();
    for view in ["jobs", "runs", "agents", &format!("run/{hello_run}")] {
        b.c().goto(&format!("{}/#/{view}", s.base)).await.unwrap();
        b.until(
            view,
            Duration::from_secs(15),
            "return document.querySelector('main h1') !== null",
        )
        .await;
        b.fits(view).await;
    }
    b.c().set_window_size(1280, 900).await.unwrap();

    // A read-only token: the same views, no buttons.
    b.click("#signout").await;
    b.sign_in(&s.base, &read).await;
    assert!(
        b.js("return document.querySelector('#who').innerText")
            .await
            .as_str()
            .unwrap()
            .contains("read only")
    );
    for view in ["jobs", "agents", &format!("run/{long_run}"), "runs"] {
        b.c().goto(&format!("{}/#/{view}", s.base)).await.unwrap();
        b.until(
            view,
            Duration::from_secs(15),
            "return document.querySelector('main h1') !== null",
        )
        .await;
        let buttons = b
            .js("return document.querySelectorAll('main button[data-act]').length")
            .await;
        assert_eq!(buttons, json!(0), "buttons for a read-only token on {view}");
    }

    let errors = b.console_errors(&session);
    assert!(
        errors.is_empty(),
        "errors in the browser console: {errors:#?}"
    );
    b.client.take().unwrap().close().await.unwrap();
}
