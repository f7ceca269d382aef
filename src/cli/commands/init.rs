//! `jobctl init`: a commented starter config where jobctl looks for one, never over an
//! existing file. Its `[agents]` are the agent CLIs found on PATH (claude, codex,
//! gemini), and a plain `command` agent so that it works with none of them.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context;

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::{Error, Result, code};

pub(crate) fn execute(g: &Global, ui: &Ui, print: bool) -> Result<u8> {
    let path = std::env::var("PATH").ok();
    let mut found = Vec::new();
    // Where each was found, and jobctl itself: the jobs' PATH must reach them under
    // launchd and systemd, which start jobctl with a bare one.
    let mut dirs = Vec::new();
    for cli in ["claude", "codex", "gemini"] {
        if let Some(p) =
            crate::exec::env::find_program(cli, path.as_deref(), std::path::Path::new("/"))
        {
            found.push(cli);
            dirs.extend(p.parent().map(std::path::Path::to_path_buf));
        }
    }
    dirs.extend(
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf)),
    );
    let text = starter(&found, &jobs_path(&dirs));
    if print {
        ui.print(&text);
        return Ok(code::OK);
    }
    let path = target(g)?;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("can't create {}", dir.display()))?;
    }
    // create_new: an existing config (or anything at the path) is never replaced.
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Conflict(format!(
                "{} exists already; jobctl init never overwrites a config (jobctl edit changes it)",
                path.display()
            )));
        }
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("can't write {}", path.display()))
                .into());
        }
    };
    f.write_all(text.as_bytes())
        .with_context(|| format!("can't write {}", path.display()))?;
    if !ui.quiet {
        let agents = if found.is_empty() {
            "no agent CLI (claude, codex, gemini) is on PATH: the example agent is a plain command"
                .to_string()
        } else {
            format!("agent CLIs found on PATH: {}", found.join(", "))
        };
        ui.print(&format!(
            "wrote {}; {agents}\nnext: jobctl check, then jobctl list; jobctl edit changes it",
            path.display()
        ));
    }
    Ok(code::OK)
}

/// Where `init` writes: `--config`, `$JOBCTL_CONFIG`, else where jobctl looks by default.
fn target(g: &Global) -> Result<PathBuf> {
    if let Some(p) = &g.config {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("JOBCTL_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    crate::config::default_config_file().ok_or_else(|| {
        Error::Usage("no home directory to put the config in; pass --config PATH".into())
    })
}

/// The PATH the starter gives jobs: `dirs` (where the agent CLIs and jobctl are), then the
/// usual places of Homebrew, npm and the system, each once. A directory whose name can't
/// stand in a PATH or a TOML string as written is left out.
pub(crate) fn jobs_path(dirs: &[PathBuf]) -> String {
    let mut out: Vec<String> = Vec::new();
    let given = dirs.iter().filter_map(|d| d.to_str().map(str::to_string));
    let usual = DEFAULT_PATH.split(':').map(str::to_string);
    for d in given.chain(usual) {
        let plain = !d.contains([':', '"', '\\']) && !d.chars().any(char::is_control);
        if plain && !out.contains(&d) {
            out.push(d);
        }
    }
    out.join(":")
}

/// Where agent CLIs and the system's programs usually are, on macOS and Linux.
const DEFAULT_PATH: &str = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin";

/// The starter config: every table explained, the agent CLIs in `found` configured, jobs
/// given `path` as their PATH.
pub(crate) fn starter(found: &[&str], path: &str) -> String {
    let mut s = String::from(
        r#"# jobctl configuration: every key is in `jobctl man jobctl.toml` (docs/configuration.md).
# `jobctl check` validates this file; `jobctl edit` edits it safely; `jobctl list` shows
# what runs when. Relative paths are relative to this file's directory.

[runner]
# timezone = "local"          # "local" or an IANA name, for at/cron and the budget day
# max_running = 4             # runs at once, all jobs together
# default_timeout = "30m"     # for jobs that set no timeout
# kill_grace = "10s"          # SIGTERM, then SIGKILL after this
# log_max_bytes = "10MiB"     # per run; the end of the output is kept
# keep_runs = 200             # history kept per job
# state_dir = "state"         # database, locks, logs (default: ~/.local/state/jobctl)
# env_file = ".env"           # KEY=value secrets for jobs (mode 0600)
# launchd and systemd start jobctl with a bare PATH, where npm- or Homebrew-installed
# agent CLIs are not found: this one has where `jobctl init` found them, and jobctl.
"#,
    );
    s.push_str(&format!("env = {{ PATH = \"{path}\" }}\n\n"));
    for cli in found {
        s.push_str(&format!(
            "[agents.{cli}]\npreset = \"{cli}\"\ndaily_budget = 20        # calls per budget day (cost units), shared by all scopes\n\n"
        ));
    }
    s.push_str(
        r#"# Any program can be an agent: {prompt} is replaced by the prompt (one argument).
[agents.echo]
preset = "command"
daily_budget = 100
command = ["echo", "would ask:", "{prompt}"]

[fallback]
# Tried in order after a job's own `agent` when it is logged out, out of budget or missing.
"#,
    );
    let order: Vec<String> = found
        .iter()
        .map(|c| format!("\"{c}\""))
        .chain(["\"echo\"".to_string()])
        .collect();
    s.push_str(&format!("order = [{}]\n\n", order.join(", ")));
    s.push_str(
        r#"# A script job: a string runs under /bin/sh -c; an array is exec'd as is.
[jobs.hello]
type = "script"
command = "echo hello from jobctl; date"
every = "1h"                  # or: at = ["06:00", "18:30"] (with weekdays = ["mon"]), or cron = "15 3 * * *"
timeout = "1m"

# An agent job: the prompt goes to the first agent that can take it.
[jobs.daily-summary]
type = "agent"
prompt = "Summarise what changed in this directory since yesterday."
"#,
    );
    let first = found.first().copied().unwrap_or("echo");
    s.push_str(&format!(
        "agent = \"{first}\"\nthinking = \"fast\"            # fast | med | slow: picks the model\nat = \"06:00\"\ntimeout = \"15m\"\nenabled = false               # remove when it should run\n"
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_config_is_valid_with_any_agents_found() {
        for found in [&[][..], &["claude"], &["claude", "codex", "gemini"]] {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("jobctl.toml");
            std::fs::write(&p, starter(found, DEFAULT_PATH)).unwrap();
            let cfg =
                crate::config::load_fresh(Some(&p)).unwrap_or_else(|e| panic!("{found:?}: {e}"));
            assert_eq!(cfg.jobs.len(), 2);
            assert_eq!(cfg.agents.len(), found.len() + 1);
        }
    }

    #[test]
    fn the_jobs_path_puts_the_dirs_found_first_each_once() {
        let dirs = [
            PathBuf::from("/home/me/.npm/bin"),
            PathBuf::from("/usr/local/bin"),
            PathBuf::from("/odd:dir"),
            PathBuf::from("/home/me/.npm/bin"),
        ];
        assert_eq!(
            jobs_path(&dirs),
            "/home/me/.npm/bin:/usr/local/bin:/opt/homebrew/bin:/usr/bin:/bin"
        );
        assert_eq!(jobs_path(&[]), DEFAULT_PATH);
    }
}
