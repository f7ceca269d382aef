//! Config validation as a user meets it (config.md, "Validation"): every error class exits
//! 78 and names the file, line:column, key path and what was expected; several errors are
//! all reported, in file order; nothing is created when the config is invalid.

use crate::support::*;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `jobctl check` on `toml`: asserts exit 78 and an empty stdout, returns the env and stderr.
fn check_fails(toml: &str) -> (Env, String) {
    let env = Env::with_config(toml);
    let err = check_fails_in(&env);
    (env, err)
}

fn check_fails_in(env: &Env) -> String {
    let out = env.run(&["check"]);
    assert_eq!(
        code(&out),
        78,
        "expected exit 78\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "nothing on stdout without --json");
    stderr(&out)
}

/// Asserts that `err` has a line `PATH:LINE:COL: KEY: ...` for the config of `env`, and that
/// this line mentions every one of `expected`.
fn assert_issue(env: &Env, err: &str, line: usize, col: usize, key: &str, expected: &[&str]) {
    assert_issue_in(&env.config_path(), err, line, &[col], key, expected)
}

fn assert_issue_in(
    path: &Path,
    err: &str,
    line: usize,
    cols: &[usize],
    key: &str,
    expected: &[&str],
) {
    let heads: Vec<String> = cols
        .iter()
        .map(|c| format!("{}:{line}:{c}: {key}:", path.display()))
        .collect();
    let found = err
        .lines()
        .find(|l| heads.iter().any(|h| l.contains(h.as_str())));
    let Some(found) = found else {
        panic!("no line starting with one of {heads:?} in stderr:\n{err}");
    };
    for e in expected {
        assert!(
            found.contains(e),
            "the error line should mention {e:?}: {found}"
        );
    }
}

/// The number of error lines (each names the config file) in `err`.
fn issue_lines<'a>(env: &Env, err: &'a str) -> Vec<&'a str> {
    let prefix = format!("{}:", env.config_path().display());
    err.lines().filter(|l| l.contains(&prefix)).collect()
}

const SCRIPT: &str = "type = \"script\"\ncommand = \"true\"\n";

// ---------------------------------------------------------------------------------------
// Unknown keys

#[test]
fn unknown_top_level_key() {
    let (env, err) = check_fails("[runer]\nmax_running = 2\n");
    assert_issue(
        &env,
        &err,
        1,
        2,
        "runer",
        &["unknown key", "did you mean \"runner\""],
    );
}

#[test]
fn unknown_top_level_scalar_key() {
    let (env, err) = check_fails("verbose = true\n");
    assert_issue(&env, &err, 1, 1, "verbose", &["unknown key"]);
}

#[test]
fn unknown_key_in_runner() {
    let (env, err) = check_fails("[runner]\nmax_runing = 2\n");
    assert_issue(
        &env,
        &err,
        2,
        1,
        "runner.max_runing",
        &["unknown key", "did you mean \"max_running\""],
    );
}

#[test]
fn unknown_key_in_job_suggests_the_right_one() {
    let (env, err) = check_fails(&format!(
        "[jobs.a]\n{SCRIPT}every = \"1h\"\ntimout = \"5m\"\n"
    ));
    assert_issue(
        &env,
        &err,
        5,
        1,
        "jobs.a.timout",
        &["unknown key", "did you mean \"timeout\""],
    );
    assert_eq!(
        issue_lines(&env, &err).len(),
        1,
        "exactly one error:\n{err}"
    );
}

#[test]
fn unknown_key_without_a_close_match_lists_the_allowed_keys() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}colour = \"red\"\n"));
    assert_issue(
        &env,
        &err,
        4,
        1,
        "jobs.a.colour",
        &["unknown key", "command", "timeout"],
    );
    assert!(
        !err.contains("did you mean"),
        "no suggestion for a key far from every allowed one:\n{err}"
    );
}

#[test]
fn agent_key_in_a_script_job_is_unknown() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}prompt = \"hi\"\n"));
    assert_issue(&env, &err, 4, 1, "jobs.a.prompt", &["unknown key"]);
}

#[test]
fn unknown_key_in_agent() {
    let (env, err) =
        check_fails("[agents.x]\npreset = \"claude\"\ndaily_budget = 1\nmodel = \"opus\"\n");
    assert_issue(
        &env,
        &err,
        4,
        1,
        "agents.x.model",
        &["unknown key", "did you mean \"models\""],
    );
}

#[test]
fn unknown_key_in_inline_table() {
    let (env, err) = check_fails(
        "[agents.x]\npreset = \"claude\"\ndaily_budget = 1\nmodels = { fast = \"haiku\", medium = \"sonnet\" }\n",
    );
    assert_issue(
        &env,
        &err,
        4,
        28,
        "agents.x.models.medium",
        &["unknown key", "fast, med, slow"],
    );
}

#[test]
fn unknown_keys_in_daemon_budget_fallback_and_auth() {
    let (env, err) = check_fails(
        "[daemon]\nsocket = \"/tmp/x.sock\"\nhealthpath = \"/h\"\n\n[budget]\nscope = [\"worker\"]\n\n\
         [agents.x]\npreset = \"claude\"\ndaily_budget = 1\nauth = { envs = [\"T\"] }\n\n[fallback]\norderr = [\"x\"]\n",
    );
    assert_issue(
        &env,
        &err,
        3,
        1,
        "daemon.healthpath",
        &["unknown key", "did you mean \"health_path\""],
    );
    assert_issue(
        &env,
        &err,
        6,
        1,
        "budget.scope",
        &["unknown key", "did you mean \"scopes\""],
    );
    assert_issue(
        &env,
        &err,
        11,
        10,
        "agents.x.auth.envs",
        &["unknown key", "did you mean \"env\""],
    );
    assert_issue(
        &env,
        &err,
        14,
        1,
        "fallback.orderr",
        &["unknown key", "did you mean \"order\""],
    );
    assert_eq!(issue_lines(&env, &err).len(), 4, "{err}");
}

#[test]
fn daemon_without_socket() {
    let (env, err) = check_fails("[daemon]\ntimeout = \"1s\"\n");
    assert_issue(&env, &err, 1, 2, "daemon.socket", &["missing required key"]);
}

// ---------------------------------------------------------------------------------------
// Missing required keys

#[test]
fn job_without_type() {
    let (env, err) = check_fails("[jobs.a]\ncommand = \"true\"\n");
    assert_issue(
        &env,
        &err,
        1,
        7,
        "jobs.a.type",
        &["missing required key", "script", "agent"],
    );
}

#[test]
fn script_job_without_command() {
    let (env, err) = check_fails("[jobs.a]\ntype = \"script\"\nevery = \"1h\"\n");
    assert_issue(
        &env,
        &err,
        1,
        7,
        "jobs.a.command",
        &["missing required key"],
    );
}

#[test]
fn agent_without_preset() {
    let (env, err) = check_fails("[agents.x]\ndaily_budget = 1\n");
    assert_issue(
        &env,
        &err,
        1,
        9,
        "agents.x.preset",
        &[
            "missing required key",
            "claude",
            "codex",
            "gemini",
            "command",
        ],
    );
}

#[test]
fn agent_without_daily_budget() {
    let (env, err) = check_fails("[agents.x]\npreset = \"claude\"\n");
    assert_issue(
        &env,
        &err,
        1,
        9,
        "agents.x.daily_budget",
        &["missing required key", "number"],
    );
}

#[test]
fn agent_job_without_prompt() {
    let (env, err) = check_fails(
        "[agents.x]\npreset = \"claude\"\ndaily_budget = 1\n\n[jobs.a]\ntype = \"agent\"\nagent = \"x\"\n",
    );
    assert_issue(
        &env,
        &err,
        5,
        7,
        "jobs.a.prompt",
        &["missing required key", "prompt_file"],
    );
}

#[test]
fn command_agent_without_command() {
    let (env, err) = check_fails("[agents.l]\npreset = \"command\"\ndaily_budget = 1\n");
    assert_issue(&env, &err, 1, 9, "agents.l.command", &["{prompt}"]);
}

// ---------------------------------------------------------------------------------------
// Wrong types, out of range

#[test]
fn max_running_as_a_string() {
    let (env, err) = check_fails("[runner]\nmax_running = \"4\"\n");
    assert_issue(
        &env,
        &err,
        2,
        15,
        "runner.max_running",
        &["integer", "found a string"],
    );
}

#[test]
fn enabled_as_a_string() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}enabled = \"yes\"\n"));
    assert_issue(
        &env,
        &err,
        4,
        11,
        "jobs.a.enabled",
        &["true or false", "found a string"],
    );
}

#[test]
fn command_as_a_number() {
    let (env, err) = check_fails("[jobs.a]\ntype = \"script\"\ncommand = 42\n");
    assert_issue(
        &env,
        &err,
        3,
        11,
        "jobs.a.command",
        &["string", "array", "found an integer"],
    );
}

#[test]
fn runner_as_a_string() {
    let (env, err) = check_fails("runner = \"fast\"\n");
    assert_issue(&env, &err, 1, 10, "runner", &["a table", "found a string"]);
}

#[test]
fn max_running_zero() {
    let (env, err) = check_fails("[runner]\nmax_running = 0\n");
    assert_issue(&env, &err, 2, 15, "runner.max_running", &["≥ 1", "found 0"]);
}

#[test]
fn keep_runs_zero() {
    let (env, err) = check_fails("[runner]\nkeep_runs = 0\n");
    assert_issue(&env, &err, 2, 13, "runner.keep_runs", &["≥ 1", "found 0"]);
}

#[test]
fn negative_daily_budget() {
    let (env, err) = check_fails("[agents.x]\npreset = \"claude\"\ndaily_budget = -5\n");
    assert_issue(&env, &err, 3, 16, "agents.x.daily_budget", &["≥ 0", "-5"]);
}

#[test]
fn unknown_preset_and_thinking_values() {
    let (env, err) = check_fails(
        "[agents.x]\npreset = \"copilot\"\ndaily_budget = 1\n\n[jobs.a]\ntype = \"agent\"\nprompt = \"hi\"\nagent = \"x\"\nthinking = \"deep\"\n",
    );
    assert_issue(
        &env,
        &err,
        2,
        10,
        "agents.x.preset",
        &["claude, codex, gemini or command", "\"copilot\""],
    );
    // The job names an agent whose definition is broken: only the thinking level is its own error.
    assert_issue(
        &env,
        &err,
        9,
        12,
        "jobs.a.thinking",
        &["fast, med or slow", "\"deep\""],
    );
}

#[test]
fn unknown_job_type() {
    let (env, err) = check_fails("[jobs.a]\ntype = \"shell\"\ncommand = \"true\"\n");
    assert_issue(
        &env,
        &err,
        2,
        8,
        "jobs.a.type",
        &["\"script\" or \"agent\"", "\"shell\""],
    );
}

// ---------------------------------------------------------------------------------------
// Schedules

#[test]
fn two_schedule_keys_on_one_job() {
    let (env, err) = check_fails(&format!(
        "[jobs.a]\n{SCRIPT}every = \"1h\"\ncron = \"15 3 * * *\"\n"
    ));
    assert_issue(
        &env,
        &err,
        5,
        8,
        "jobs.a.cron",
        &["at most one of every, at, cron", "every and cron"],
    );
}

#[test]
fn weekdays_without_at() {
    let (env, err) = check_fails(&format!(
        "[jobs.a]\n{SCRIPT}every = \"1h\"\nweekdays = [\"mon\"]\n"
    ));
    assert_issue(&env, &err, 5, 12, "jobs.a.weekdays", &["only goes with at"]);
}

#[test]
fn weekdays_on_a_manual_job() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}weekdays = [\"mon\"]\n"));
    assert_issue(&env, &err, 4, 12, "jobs.a.weekdays", &["only goes with at"]);
}

#[test]
fn bad_weekday_name() {
    let (env, err) = check_fails(&format!(
        "[jobs.a]\n{SCRIPT}at = \"06:00\"\nweekdays = [\"mon\", \"funday\"]\n"
    ));
    // The array or the bad entry in it.
    assert_issue_in(
        &env.config_path(),
        &err,
        5,
        &[12, 20],
        "jobs.a.weekdays",
        &["mon, tue, wed, thu, fri, sat or sun", "\"funday\""],
    );
}

#[test]
fn bad_at_time() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}at = [\"06:00\", \"25:00\"]\n"));
    assert_issue_in(
        &env.config_path(),
        &err,
        4,
        &[6, 16],
        "jobs.a.at",
        &["\"25:00\"", "HH:MM"],
    );
}

#[test]
fn unparsable_cron() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}cron = \"every day at noon\"\n"));
    assert_issue(
        &env,
        &err,
        4,
        8,
        "jobs.a.cron",
        &["5-field cron expression", "every day at noon"],
    );
}

#[test]
fn cron_with_six_fields_is_refused() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}cron = \"0 15 3 * * *\"\n"));
    assert_issue(
        &env,
        &err,
        4,
        8,
        "jobs.a.cron",
        &["5-field cron expression"],
    );
}

#[test]
fn cron_out_of_range_field() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}cron = \"61 3 * * *\"\n"));
    assert_issue(
        &env,
        &err,
        4,
        8,
        "jobs.a.cron",
        &["5-field cron expression"],
    );
}

#[test]
fn cron_macros_are_accepted() {
    let env = Env::with_config(&format!(
        "[jobs.a]\n{SCRIPT}cron = \"@hourly\"\n[jobs.b]\n{SCRIPT}cron = \"@daily\"\n[jobs.c]\n{SCRIPT}cron = \"@weekly\"\n\
         [jobs.d]\n{SCRIPT}cron = \"@monthly\"\n[jobs.e]\n{SCRIPT}cron = \"@yearly\"\n[jobs.f]\n{SCRIPT}cron = \"*/15 9-17 * * mon-fri\"\n"
    ));
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("ok: 6 jobs, 0 agents"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unknown_timezone_in_runner() {
    let (env, err) = check_fails("[runner]\ntimezone = \"Mars/Olympus_Mons\"\n");
    assert_issue(
        &env,
        &err,
        2,
        12,
        "runner.timezone",
        &["IANA", "\"Mars/Olympus_Mons\""],
    );
}

#[test]
fn unknown_timezone_in_job() {
    let (env, err) = check_fails(&format!(
        "[jobs.a]\n{SCRIPT}at = \"06:00\"\ntimezone = \"Europe/Amsterdamm\"\n"
    ));
    assert_issue(
        &env,
        &err,
        5,
        12,
        "jobs.a.timezone",
        &["IANA", "\"Europe/Amsterdamm\""],
    );
}

#[test]
fn every_below_one_minute() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}every = \"30s\"\n"));
    assert_issue(&env, &err, 4, 9, "jobs.a.every", &["≥ 1m", "\"30s\""]);
}

#[test]
fn timeout_below_one_second() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}timeout = \"500ms\"\n"));
    assert_issue(&env, &err, 4, 11, "jobs.a.timeout", &["≥ 1s", "\"500ms\""]);
}

#[test]
fn deadline_below_its_minimum() {
    let (env, err) = check_fails(&format!(
        "[jobs.a]\n{SCRIPT}every = \"1h\"\ndeadline = \"1m\"\n"
    ));
    assert_issue(&env, &err, 5, 12, "jobs.a.deadline", &["≥", "\"1m\""]);
}

#[test]
fn bare_number_duration() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}timeout = 30\n"));
    assert_issue(
        &env,
        &err,
        4,
        11,
        "jobs.a.timeout",
        &["duration", "unit", "found an integer"],
    );
}

#[test]
fn bare_number_in_a_duration_string() {
    let (env, err) = check_fails("[runner]\ndefault_timeout = \"30\"\n");
    assert_issue(
        &env,
        &err,
        2,
        19,
        "runner.default_timeout",
        &["duration", "no unit"],
    );
}

#[test]
fn unknown_duration_unit() {
    let (env, err) = check_fails("[runner]\nkill_grace = \"10sec\"\n");
    assert_issue(
        &env,
        &err,
        2,
        14,
        "runner.kill_grace",
        &["duration", "unknown unit"],
    );
}

// ---------------------------------------------------------------------------------------
// Agents, scopes, fallback

const CLAUDE: &str = "[agents.claude]\npreset = \"claude\"\ndaily_budget = 10\n\n";

#[test]
fn agent_job_that_can_name_no_agent() {
    let (env, err) = check_fails(&format!(
        "{CLAUDE}[jobs.a]\ntype = \"agent\"\nprompt = \"hi\"\n"
    ));
    assert_issue(
        &env,
        &err,
        5,
        7,
        "jobs.a.agent",
        &["can name no agent", "fallback"],
    );
}

#[test]
fn agent_job_with_only_a_fallback_is_fine() {
    let env = Env::with_config(&format!(
        "{CLAUDE}[fallback]\norder = [\"claude\"]\n\n[jobs.a]\ntype = \"agent\"\nprompt = \"hi\"\n"
    ));
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn agent_job_naming_an_undefined_agent() {
    let (env, err) = check_fails(&format!(
        "{CLAUDE}[jobs.a]\ntype = \"agent\"\nprompt = \"hi\"\nagent = \"codex\"\n"
    ));
    assert_issue(
        &env,
        &err,
        8,
        9,
        "jobs.a.agent",
        &["\"codex\"", "not an agent defined"],
    );
}

#[test]
fn job_scope_not_in_budget_scopes() {
    let (env, err) = check_fails(&format!(
        "{CLAUDE}[jobs.a]\ntype = \"agent\"\nprompt = \"hi\"\nagent = \"claude\"\nscope = \"frontend\"\n"
    ));
    assert_issue(
        &env,
        &err,
        9,
        9,
        "jobs.a.scope",
        &["\"frontend\"", "budget.scopes", "worker, backend"],
    );
}

#[test]
fn runner_scope_not_in_budget_scopes() {
    let (env, err) =
        check_fails("[budget]\nscopes = [\"backend\"]\n\n[runner]\nscope = \"worker\"\n");
    assert_issue(
        &env,
        &err,
        5,
        9,
        "runner.scope",
        &["\"worker\"", "budget.scopes"],
    );
}

#[test]
fn fallback_entry_that_is_not_an_agent() {
    let (env, err) = check_fails(&format!(
        "{CLAUDE}[fallback]\norder = [\"claude\", \"ghost\"]\n"
    ));
    // The array or the bad entry in it.
    assert_issue_in(
        &env.config_path(),
        &err,
        6,
        &[9, 20],
        "fallback.order[1]",
        &["\"ghost\"", "not an agent"],
    );
    assert_eq!(
        issue_lines(&env, &err).len(),
        1,
        "only the bad entry is an error:\n{err}"
    );
}

#[test]
fn prompt_file_that_does_not_exist() {
    let (env, err) = check_fails(&format!(
        "{CLAUDE}[jobs.a]\ntype = \"agent\"\nagent = \"claude\"\nprompt_file = \"prompts/missing.md\"\n"
    ));
    let full = env.home().join("prompts/missing.md");
    assert_issue(
        &env,
        &err,
        8,
        15,
        "jobs.a.prompt_file",
        &[&full.display().to_string()],
    );
}

#[test]
fn prompt_file_that_is_a_directory() {
    let env = Env::with_config(&format!(
        "{CLAUDE}[jobs.a]\ntype = \"agent\"\nagent = \"claude\"\nprompt_file = \"prompts\"\n"
    ));
    std::fs::create_dir(env.home().join("prompts")).unwrap();
    let err = check_fails_in(&env);
    assert_issue(&env, &err, 8, 15, "jobs.a.prompt_file", &["directory"]);
}

#[test]
fn prompt_and_prompt_file_together() {
    let env = Env::with_config(&format!(
        "{CLAUDE}[jobs.a]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"hi\"\nprompt_file = \"p.md\"\n"
    ));
    env.write("p.md", "hello");
    let err = check_fails_in(&env);
    assert_issue(
        &env,
        &err,
        9,
        15,
        "jobs.a.prompt_file",
        &["exactly one of prompt, prompt_file"],
    );
}

#[test]
fn command_template_without_prompt() {
    let (env, err) = check_fails(
        "[agents.local]\npreset = \"command\"\ndaily_budget = 1\ncommand = [\"./agent.sh\", \"--model\", \"{model}\"]\n",
    );
    assert_issue(&env, &err, 4, 11, "agents.local.command", &["{prompt}"]);
}

#[test]
fn invalid_agent_name() {
    let (env, err) = check_fails("[agents.Claude]\npreset = \"claude\"\ndaily_budget = 1\n");
    assert_issue(
        &env,
        &err,
        1,
        9,
        "agents.Claude",
        &["^[a-z0-9][a-z0-9_-]{0,63}$"],
    );
}

// ---------------------------------------------------------------------------------------
// The file itself

#[test]
fn malformed_toml() {
    let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}every = 1h\n"));
    let lines = issue_lines(&env, &err);
    assert!(!lines.is_empty(), "{err}");
    let head = format!("{}:4:9:", env.config_path().display());
    assert!(
        lines[0].contains(&head),
        "the syntax error is located at 4:9 (the bare 1h): {err}"
    );
    assert!(
        lines[0].contains("TOML"),
        "it says the TOML is invalid: {err}"
    );
}

#[test]
fn unterminated_table_header() {
    let (env, err) = check_fails("[jobs.a\ntype = \"script\"\n");
    let head = format!("{}:1:", env.config_path().display());
    assert!(err.contains(&head) && err.contains("TOML"), "{err}");
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let (env, err) = check_fails(&format!(
        "[jobs.a]\n{SCRIPT}every = \"1h\"\nevery = \"2h\"\n"
    ));
    let head = format!("{}:5:", env.config_path().display());
    assert!(err.contains(&head), "{err}");
}

#[test]
fn non_utf8_bytes() {
    let env = Env::new();
    std::fs::write(
        env.config_path(),
        b"[jobs.a]\ntype = \"scr\xffipt\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let err = check_fails_in(&env);
    let head = format!("{}:2:12:", env.config_path().display());
    assert!(
        err.contains(&head),
        "the bad byte is located at 2:12: {err}"
    );
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn file_over_the_size_limit() {
    let env = Env::new();
    let line = format!("# {}\n", "x".repeat(1021)); // 1 KiB a line
    let big = line.repeat(4 * 1024 + 1); // just over 4 MiB
    std::fs::write(env.config_path(), format!("{big}[runner]\n")).unwrap();
    let err = check_fails_in(&env);
    assert!(
        err.contains(&env.config_path().display().to_string()),
        "names the file: {err}"
    );
    assert!(
        err.contains("at most") && err.contains("bytes"),
        "says what the limit is: {err}"
    );
}

#[test]
fn invalid_job_name() {
    let (env, err) = check_fails(&format!("[jobs.\"Bad.Name\"]\n{SCRIPT}"));
    assert_issue(
        &env,
        &err,
        1,
        7,
        "jobs.Bad.Name",
        &["^[a-z0-9][a-z0-9_-]{0,63}$"],
    );
}

#[test]
fn job_name_that_is_a_path() {
    let (env, err) = check_fails(&format!("[jobs.\"../etc\"]\n{SCRIPT}"));
    assert_issue(
        &env,
        &err,
        1,
        7,
        "jobs.../etc",
        &["^[a-z0-9][a-z0-9_-]{0,63}$"],
    );
}

#[test]
fn env_file_readable_by_others() {
    let env = Env::with_config("[runner]\nenv_file = \"secrets.env\"\n");
    let p = env.write("secrets.env", "TOKEN=abc\n");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = check_fails_in(&env);
    assert_issue(&env, &err, 2, 12, "runner.env_file", &["0600", "644"]);

    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 0, "0600 is fine: {}", stderr(&out));
}

#[test]
fn env_file_missing() {
    let (env, err) = check_fails("[runner]\nenv_file = \"nope.env\"\n");
    assert_issue(&env, &err, 2, 12, "runner.env_file", &["nope.env"]);
}

// ---------------------------------------------------------------------------------------
// All errors, in file order; JSON

const SEVERAL: &str = r#"[runner]
max_running = 0
timezone = "Nowhere/Land"

[jobs.b]
type = "script"
command = "true"
every = "30s"
timout = "5m"

[jobs.a]
type = "agent"
prompt = "hi"
agent = "ghost"
"#;

#[test]
fn several_errors_are_all_reported_in_file_order() {
    let (env, err) = check_fails(SEVERAL);
    let lines = issue_lines(&env, &err);
    assert_eq!(lines.len(), 5, "five errors, one line each:\n{err}");
    let p = env.config_path().display().to_string();
    let expected = [
        format!("{p}:2:15: runner.max_running:"),
        format!("{p}:3:12: runner.timezone:"),
        format!("{p}:8:9: jobs.b.every:"),
        format!("{p}:9:1: jobs.b.timout:"),
        format!("{p}:14:9: jobs.a.agent:"),
    ];
    for (line, want) in lines.iter().zip(&expected) {
        assert!(
            line.contains(want.as_str()),
            "expected {want:?} in file order, got {line:?}\n{err}"
        );
    }
    assert!(err.contains("5 errors"), "says how many: {err}");
}

#[test]
fn json_error_document() {
    let env = Env::with_config(SEVERAL);
    let out = env.run(&["check", "--json"]);
    assert_eq!(code(&out), 78);
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON document on stdout");
    let obj = doc.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["error"]);
    let e = &doc["error"];
    assert_eq!(e["exit_code"], 78);
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("jobs.b.timout")),
        "{e}"
    );
    let errors = e["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 5);
    for item in errors {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["column", "expected", "file", "key", "line"],
            "{item}"
        );
        assert_eq!(item["file"], env.config_path().display().to_string());
        assert!(item["expected"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let got: Vec<(u64, u64, &str)> = errors
        .iter()
        .map(|i| {
            (
                i["line"].as_u64().unwrap(),
                i["column"].as_u64().unwrap(),
                i["key"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, 15, "runner.max_running"),
            (3, 12, "runner.timezone"),
            (8, 9, "jobs.b.every"),
            (9, 1, "jobs.b.timout"),
            (14, 9, "jobs.a.agent"),
        ]
    );
    assert!(
        errors[3]["expected"]
            .as_str()
            .unwrap()
            .contains("did you mean \"timeout\"")
    );
    // The human lines still go to stderr.
    assert!(stderr(&out).contains("jobs.b.timout"), "{}", stderr(&out));
}

#[test]
fn json_flag_after_or_before_the_subcommand() {
    let env = Env::with_config("[runner]\nmax_running = 0\n");
    for args in [&["--json", "check"][..], &["check", "--json"][..]] {
        let out = env.run(args);
        assert_eq!(code(&out), 78);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(doc["error"]["errors"][0]["key"], "runner.max_running");
    }
}

#[test]
fn the_same_validation_for_every_command() {
    let env = Env::with_config(&format!("[jobs.a]\n{SCRIPT}timout = \"5m\"\n"));
    for args in [
        &["list"][..],
        &["run"],
        &["history"],
        &["next", "a"],
        &["force", "a"],
        &["run", "--dry-run"],
    ] {
        let out = env.run(args);
        assert_eq!(code(&out), 78, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("jobs.a.timout"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Finding the file

#[test]
fn no_config_file_at_all() {
    let env = Env::new();
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let looked = env.home().join("jobctl.toml");
    assert!(
        stderr(&out).contains(&looked.display().to_string()),
        "names where it looked: {}",
        stderr(&out)
    );
    assert!(!env.state_dir().exists());
}

#[test]
fn no_config_file_via_xdg() {
    let env = Env::new();
    let xdg = env.home().join("xdg");
    let out = env
        .cmd(&["check"])
        .env_remove("JOBCTL_HOME")
        .env("XDG_CONFIG_HOME", &xdg)
        .output()
        .unwrap();
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let looked = xdg.join("jobctl/jobctl.toml");
    assert!(
        stderr(&out).contains(&looked.display().to_string()),
        "names where it looked: {}",
        stderr(&out)
    );
}

#[test]
fn explicit_config_that_does_not_exist() {
    let env = Env::new();
    let missing = env.home().join("elsewhere/jobs.toml");
    let out = env.run(&["--config", missing.to_str().unwrap(), "check"]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&missing.display().to_string()),
        "{}",
        stderr(&out)
    );
}

#[test]
fn jobctl_config_variable_is_used() {
    let env = Env::new();
    let p = env.write("other/conf.toml", &format!("[jobs.a]\n{SCRIPT}"));
    let out = env
        .cmd(&["check"])
        .env("JOBCTL_CONFIG", &p)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("ok: 1 jobs, 0 agents ({})", p.display())
    );
}

#[test]
fn check_the_example_config_of_the_repo() {
    let env = Env::new();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("jobs/jobctl.toml");
    let out = env.run(&["--config", example.to_str().unwrap(), "check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("ok: 4 jobs, 3 agents ({})", example.display())
    );
}

#[test]
fn check_json_on_success() {
    let env = Env::with_config(&format!("[jobs.a]\n{SCRIPT}"));
    let out = env.run(&["check", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["jobs"], 1);
    assert_eq!(doc["agents"], 0);
}

// ---------------------------------------------------------------------------------------
// Paths

/// A config in `HOME/conf/` with a prompt file and a workdir next to it, and a current
/// directory that has neither.
fn config_elsewhere() -> (Env, PathBuf, PathBuf) {
    let env = Env::new();
    let conf = env.write(
        "conf/jobctl.toml",
        &format!(
            "{CLAUDE}[jobs.greet]\ntype = \"agent\"\nagent = \"claude\"\nprompt_file = \"prompts/p.md\"\n\n\
             [jobs.where]\ntype = \"script\"\ncommand = \"pwd -P\"\nworkdir = \"work\"\n"
        ),
    );
    env.write("conf/prompts/p.md", "say hi");
    std::fs::create_dir_all(env.home().join("conf/work")).unwrap();
    let cwd = env.home().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    (env, conf, cwd)
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let (env, conf, cwd) = config_elsewhere();
    let out = env
        .cmd(&["--config", conf.to_str().unwrap(), "check"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert_eq!(
        code(&out),
        0,
        "prompt_file found next to the config: {}",
        stderr(&out)
    );

    let out: Output = env
        .cmd(&["--config", conf.to_str().unwrap(), "force", "where"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let work = env.home().join("conf/work").canonicalize().unwrap();
    assert_eq!(
        stdout(&out).lines().next().unwrap_or(""),
        work.display().to_string(),
        "workdir is conf/work"
    );
}

#[test]
fn relative_config_path_is_relative_to_the_current_directory() {
    let (env, _conf, _cwd) = config_elsewhere();
    // From HOME, "conf/jobctl.toml"; the prompt is still found next to the config.
    let out = env.run(&["--config", "conf/jobctl.toml", "check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let abs = env.home().join("conf/jobctl.toml");
    assert!(
        stdout(&out).contains(&abs.display().to_string()),
        "prints the absolute path: {}",
        stdout(&out)
    );
}

#[test]
fn relative_prompt_file_missing_next_to_the_config_even_if_present_in_cwd() {
    let (env, conf, cwd) = config_elsewhere();
    std::fs::remove_file(env.home().join("conf/prompts/p.md")).unwrap();
    std::fs::create_dir_all(cwd.join("prompts")).unwrap();
    std::fs::write(cwd.join("prompts/p.md"), "decoy").unwrap();
    let out = env
        .cmd(&["--config", conf.to_str().unwrap(), "check"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let want = env.home().join("conf/prompts/p.md");
    assert!(
        stderr(&out).contains(&want.display().to_string()),
        "{}",
        stderr(&out)
    );
}

#[test]
fn variables_and_tilde_are_expanded_in_paths() {
    let env = Env::with_config("[runner]\nstate_dir = \"$JOBCTL_TEST_BASE/x\"\n");
    let base = env.home().join("base");
    let out = env
        .cmd(&["list"])
        .env("JOBCTL_TEST_BASE", &base)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        base.join("x/jobctl.db").is_file(),
        "state in $JOBCTL_TEST_BASE/x"
    );

    let env = Env::with_config("[runner]\nstate_dir = \"${JOBCTL_TEST_BASE}/y\"\n");
    let out = env
        .cmd(&["list"])
        .env("JOBCTL_TEST_BASE", &base)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        base.join("y/jobctl.db").is_file(),
        "state in ${{JOBCTL_TEST_BASE}}/y"
    );

    let env = Env::with_config("[runner]\nstate_dir = \"~/st\"\n");
    let fake_home = env.home().join("h");
    let out = env.cmd(&["list"]).env("HOME", &fake_home).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(fake_home.join("st/jobctl.db").is_file(), "state in ~/st");
}

#[test]
fn variable_in_prompt_file_path() {
    let env = Env::with_config(&format!(
        "{CLAUDE}[jobs.a]\ntype = \"agent\"\nagent = \"claude\"\nprompt_file = \"$JOBCTL_TEST_PROMPTS/p.md\"\n"
    ));
    env.write("pr/p.md", "hi");
    let out = env
        .cmd(&["check"])
        .env("JOBCTL_TEST_PROMPTS", env.home().join("pr"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn unset_variable_in_a_path() {
    let env = Env::with_config("[runner]\nstate_dir = \"$JOBCTL_TEST_SURELY_UNSET/x\"\n");
    let out = env
        .cmd(&["check"])
        .env_remove("JOBCTL_TEST_SURELY_UNSET")
        .output()
        .unwrap();
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert_issue(
        &env,
        &stderr(&out),
        2,
        13,
        "runner.state_dir",
        &["JOBCTL_TEST_SURELY_UNSET", "not set"],
    );
}

// ---------------------------------------------------------------------------------------
// Nothing happens on an invalid config

#[test]
fn invalid_config_creates_no_state() {
    let env = Env::with_config(&format!(
        "[jobs.a]\n{SCRIPT}every = \"1m\"\ntimout = \"5m\"\n"
    ));
    for args in [
        &["check"][..],
        &["run"],
        &["list"],
        &["force", "a"],
        &["history"],
    ] {
        let out = env.run(args);
        assert_eq!(code(&out), 78, "{args:?}");
        assert!(!env.state_dir().exists(), "{args:?} created the state dir");
    }
}

#[test]
fn check_of_a_valid_config_creates_no_state() {
    let env = Env::with_config(&format!("[jobs.a]\n{SCRIPT}every = \"1m\"\n"));
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("ok: 1 jobs, 0 agents ({})", env.config_path().display())
    );
    assert!(!env.state_dir().exists(), "check only validates");
}

#[test]
fn invalid_config_leaves_an_existing_state_untouched() {
    let env = Env::with_config(&format!("[jobs.a]\n{SCRIPT}every = \"1m\"\n"));
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let db = env.state_dir().join("jobctl.db");
    let before = std::fs::read(&db).unwrap();
    env.config(&format!(
        "[jobs.a]\n{SCRIPT}every = \"1m\"\ntimout = \"5m\"\n"
    ));
    let out = env.run(&["run"]);
    assert_eq!(code(&out), 78);
    assert_eq!(std::fs::read(&db).unwrap(), before, "the db is unchanged");
    assert!(!env.state_dir().join("logs").exists(), "no run started");
}

#[test]
fn ask_is_a_reserved_job_name() {
    let env = Env::with_config("[jobs.ask]\ntype = \"script\"\ncommand = \"true\"\n");
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("jobctl.toml:1:7: jobs.ask: \"ask\" is reserved"),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------------------
// Every error of a schedule, values with a suggestion, cron fields, times, dotenv

#[test]
fn every_bad_time_and_day_of_a_schedule_is_reported() {
    let (env, err) = check_fails(&format!(
        "[jobs.a]\n{SCRIPT}at = [\"6:00\", \"25:00\", \"7:5\"]\nweekdays = [\"monday\", \"fri\"]\n"
    ));
    assert_issue(&env, &err, 4, 15, "jobs.a.at", &["\"25:00\"", "HH:MM"]);
    assert_issue(&env, &err, 4, 24, "jobs.a.at", &["\"7:5\""]);
    assert_issue(
        &env,
        &err,
        5,
        13,
        "jobs.a.weekdays",
        &["\"monday\"", "did you mean \"mon\"?"],
    );
    assert!(
        err.starts_with("jobctl: invalid config (3 errors)"),
        "{err}"
    );
    assert!(!err.contains("\"6:00\""), "6:00 is a time: {err}");
}

#[test]
fn a_one_digit_hour_is_a_time() {
    let env = Env::with_config(&format!(
        "[runner]\ntimezone = \"UTC\"\n[jobs.a]\n{SCRIPT}at = \"6:00\"\n\n[budget]\nday_starts = \"4:30\"\n"
    ));
    let out = env.run_at("2026-03-28T05:00:00Z", &["next", "a", "-n", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "2026-03-28 06:00:00 +00:00\n");
}

#[test]
fn values_get_did_you_mean_like_keys() {
    let (env, err) = check_fails(
        "[runner]\ntimezone = \"Europe/Amsterdm\"\n\n[agents.other]\npreset = \"cladue\"\ndaily_budget = 1\n\n\
         [agents.claude]\npreset = \"claude\"\ndaily_budget = 1\n\n\
         [jobs.a]\ntype = \"scrpit\"\ncommand = \"true\"\n\n\
         [jobs.b]\ntype = \"agent\"\nprompt = \"x\"\nagent = \"claud\"\nthinking = \"fsat\"\n",
    );
    assert_issue(
        &env,
        &err,
        2,
        12,
        "runner.timezone",
        &["did you mean \"Europe/Amsterdam\"?"],
    );
    assert_issue(
        &env,
        &err,
        5,
        10,
        "agents.other.preset",
        &["did you mean \"claude\"?"],
    );
    assert_issue(
        &env,
        &err,
        13,
        8,
        "jobs.a.type",
        &["did you mean \"script\"?"],
    );
    assert_issue(
        &env,
        &err,
        19,
        9,
        "jobs.b.agent",
        &["did you mean \"claude\"?"],
    );
    assert_issue(
        &env,
        &err,
        20,
        12,
        "jobs.b.thinking",
        &["did you mean \"fast\"?"],
    );
}

#[test]
fn cron_errors_name_the_field() {
    for (expr, want) in [
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 0 32 * *", "day of month 32 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 9", "day of week 9 is out of range 0-7"),
        ("0 0 * * mnday", "day of week \"mnday\" is not"),
        ("@dayly", "did you mean '@daily'?"),
    ] {
        let (env, err) = check_fails(&format!("[jobs.a]\n{SCRIPT}cron = \"{expr}\"\n"));
        assert_issue(&env, &err, 4, 8, "jobs.a.cron", &[want]);
    }
}

#[test]
fn the_env_file_is_read_as_dotenv_and_an_empty_key_is_an_error() {
    let env = Env::new();
    let f = env.write(
        "secrets.env",
        "# tokens\nexport API_TOKEN=\"abc def\" # inline comment\nPLAIN=one # too\nQUOTED='$NOT_EXPANDED'\nESCAPED=\"a\\nb\"\n",
    );
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.config(
        "[runner]\nenv_file = \"secrets.env\"\n[jobs.show]\ntype = \"script\"\n\
         command = \"printf '%s|%s|%s|%s' \\\"$API_TOKEN\\\" \\\"$PLAIN\\\" \\\"$QUOTED\\\" \\\"$ESCAPED\\\"\"\n",
    );
    let out = env.run(&["force", "show"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "abc def|one|$NOT_EXPANDED|a\nb");
    std::fs::write(&f, "GOOD=1\n=no-key-secret\n").unwrap();
    let err = check_fails_in(&env);
    assert_issue(
        &env,
        &err,
        2,
        12,
        "runner.env_file",
        &["line 2: expected KEY=value"],
    );
    assert!(!err.contains("no-key-secret"), "never quoted: {err}");
}
