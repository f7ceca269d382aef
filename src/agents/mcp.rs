//! `mcp = true` (mcp.md, "Inside a run"): jobctl's MCP tools wired into the agent CLI of
//! one run, each CLI the way its own documentation gives a server for one invocation,
//! nothing of the user's configuration written (agents.md, "Presets"):
//!
//! - claude: `--mcp-config JSON --strict-mcp-config --allowedTools mcp__jobctl` (only this
//!   server, its tools allowed; the server gets claude's whole environment);
//! - codex: `-c mcp_servers.jobctl.*` overrides: the command, `env_vars` (codex passes a
//!   server only a short list of variables; these name the run's `JOBCTL_*` marks),
//!   `required` (a server that can't start fails the call instead of going unseen) and
//!   the tools approved;
//! - gemini: no flag exists; `GEMINI_CLI_HOME` points at a directory made for the call,
//!   whose `.gemini/settings.json` is the user's with the server added (`trust`: its
//!   tools offered and run without asking), the user's other `.gemini` entries (its
//!   credentials) linked in. Removed when the call ends.
//!
//! The server is this very binary, `jobctl mcp`, which finds the run by its marks.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::Preset;
use crate::exec::env::{get, set};

/// The server's name in each CLI (the tools are `mcp__jobctl__submit_run`, ...).
pub(crate) const SERVER: &str = "jobctl";

/// The variables `jobctl mcp` needs from the run: its marks and how to reach the same
/// config and state (`engine::env::reach_this_jobctl`).
const PASSED: &[&str] = &[
    "JOBCTL_RUN_ID",
    "JOBCTL_STATE_DIR",
    "JOBCTL_CONFIG",
    "JOBCTL_HOME",
    "JOBCTL_DATABASE_URL",
];

/// What a wired call leaves to undo: the directory made for it.
#[derive(Debug, Default)]
pub(crate) struct Wired {
    dir: Option<PathBuf>,
}

impl Drop for Wired {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take()
            && let Err(e) = std::fs::remove_dir_all(&d)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("can't remove {}: {e}", d.display());
        }
    }
}

/// Wires the tools into `argv` (a preset's, ending `-- PROMPT` for claude and codex) and
/// `env` (the agent process's environment). `program`: the `jobctl` to start.
pub(crate) fn wire(
    preset: Preset,
    program: &Path,
    argv: &mut Vec<String>,
    env: &mut Vec<(String, String)>,
) -> std::io::Result<Wired> {
    let program = program.display().to_string();
    let passed: Vec<&str> = PASSED
        .iter()
        .copied()
        .filter(|k| get(env, k).is_some())
        .collect();
    // Before the `--` that ends the options (the prompt follows it).
    let before_prompt = argv.iter().rposition(|a| a == "--").unwrap_or(argv.len());
    match preset {
        Preset::Claude => {
            let config = json!({"mcpServers": {SERVER: {"command": program, "args": ["mcp"]}}});
            let flags = [
                "--mcp-config".to_string(),
                config.to_string(),
                "--strict-mcp-config".to_string(),
                "--allowedTools".to_string(),
                format!("mcp__{SERVER}"),
            ];
            argv.splice(before_prompt..before_prompt, flags);
            Ok(Wired::default())
        }
        Preset::Codex => {
            let key = |k: &str| format!("mcp_servers.{SERVER}.{k}");
            // TOML values: a JSON string or array of strings is one.
            let values = [
                ("command", json!(program).to_string()),
                ("args", json!(["mcp"]).to_string()),
                ("env_vars", json!(passed).to_string()),
                ("required", "true".to_string()),
                ("default_tools_approval_mode", json!("approve").to_string()),
            ];
            let flags = values
                .iter()
                .flat_map(|(k, v)| ["-c".to_string(), format!("{}={v}", key(k))]);
            argv.splice(before_prompt..before_prompt, flags);
            Ok(Wired::default())
        }
        Preset::Gemini => {
            let Some(state) = get(env, "JOBCTL_STATE_DIR").map(PathBuf::from) else {
                return Ok(Wired::default());
            };
            let run = get(env, "JOBCTL_RUN_ID").unwrap_or("call").to_string();
            let dir = state.join("mcp").join(format!("gemini-{run}"));
            let wired = Wired {
                dir: Some(dir.clone()),
            };
            let user = get(env, "GEMINI_CLI_HOME")
                .or(get(env, "HOME"))
                .map(|h| Path::new(h).join(".gemini"));
            let server: serde_json::Map<String, Value> = passed
                .iter()
                .filter_map(|k| Some((k.to_string(), json!(get(env, k)?))))
                .collect();
            let entry = json!({"command": program, "args": ["mcp"], "env": server, "trust": true});
            gemini_home(&dir, user.as_deref(), entry)?;
            set(env, "GEMINI_CLI_HOME", &dir.display().to_string());
            Ok(wired)
        }
        Preset::Command => Ok(Wired::default()),
    }
}

/// `dir/.gemini`: the user's settings with the server added, and the user's other
/// entries linked in.
fn gemini_home(dir: &Path, user: Option<&Path>, entry: Value) -> std::io::Result<()> {
    let home = dir.join(".gemini");
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(&home)?;
    let mut settings = json!({});
    if let Some(user) = user {
        let text = std::fs::read_to_string(user.join("settings.json")).unwrap_or_default();
        match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => settings = v,
            _ if text.trim().is_empty() => {}
            _ => tracing::warn!(
                "{}: not plain JSON; the run's gemini settings hold only jobctl's server",
                user.join("settings.json").display()
            ),
        }
        if let Ok(entries) = std::fs::read_dir(user) {
            for e in entries.flatten() {
                if e.file_name() != "settings.json" {
                    std::os::unix::fs::symlink(e.path(), home.join(e.file_name()))?;
                }
            }
        }
    }
    if !settings["mcpServers"].is_object() {
        settings["mcpServers"] = json!({});
    }
    settings["mcpServers"][SERVER] = entry;
    std::fs::write(
        home.join("settings.json"),
        serde_json::to_vec_pretty(&settings)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        vec![
            ("JOBCTL_RUN_ID".into(), "7".into()),
            ("JOBCTL_STATE_DIR".into(), "/s".into()),
            ("JOBCTL_CONFIG".into(), "/c.toml".into()),
        ]
    }

    #[test]
    fn claude_and_codex_get_the_server_before_the_prompt() {
        let mut argv: Vec<String> = ["claude", "-p", "--", "hi"].map(String::from).to_vec();
        let mut e = env();
        wire(Preset::Claude, Path::new("/bin/jobctl"), &mut argv, &mut e).unwrap();
        assert_eq!(
            argv,
            [
                "claude",
                "-p",
                "--mcp-config",
                r#"{"mcpServers":{"jobctl":{"args":["mcp"],"command":"/bin/jobctl"}}}"#,
                "--strict-mcp-config",
                "--allowedTools",
                "mcp__jobctl",
                "--",
                "hi"
            ]
        );
        let mut argv: Vec<String> = ["codex", "exec", "--", "-x"].map(String::from).to_vec();
        wire(Preset::Codex, Path::new("/bin/jobctl"), &mut argv, &mut e).unwrap();
        assert_eq!(
            argv[2..argv.len() - 2],
            [
                "-c",
                r#"mcp_servers.jobctl.command="/bin/jobctl""#,
                "-c",
                r#"mcp_servers.jobctl.args=["mcp"]"#,
                "-c",
                r#"mcp_servers.jobctl.env_vars=["JOBCTL_RUN_ID","JOBCTL_STATE_DIR","JOBCTL_CONFIG"]"#,
                "-c",
                "mcp_servers.jobctl.required=true",
                "-c",
                r#"mcp_servers.jobctl.default_tools_approval_mode="approve""#,
            ]
        );
        assert_eq!(argv[argv.len() - 2..], ["--", "-x"]);
    }
}
