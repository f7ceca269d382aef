//! The agent presets (agents.md, "Presets"): how each CLI is called and how its output is
//! read, one module per CLI behind one [`Driver`] registry. The prompt is always one
//! argument, never re-parsed by a shell, and placed where the CLI can't mistake a leading
//! `-` (front matter `---`) for a flag.

mod claude;
mod codex;
mod command;
mod gemini;

use super::parse::Parsed;
use crate::config::{Agent, Preset, Thinking};

/// Whether a call may use tools (a job) or not (`ask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Job,
    Ask,
}

/// One agent CLI: its argv and how to read what it printed.
pub(crate) trait Driver: Sync {
    /// The model a thinking level uses when the config names none; `None` passes no model
    /// and leaves the choice to the CLI.
    fn default_model(&self, t: Thinking) -> Option<&'static str>;
    /// The whole argv: program first, then the preset's flags, `extra` (the agent's `args`,
    /// then the job's) and the prompt.
    fn argv(
        &self,
        agent: &Agent,
        mode: Mode,
        prompt: &str,
        model: Option<&str>,
        thinking: Thinking,
        extra: &[String],
    ) -> Vec<String>;
    /// Reads a finished call's stdout (`out`) and stderr; `truncated`: stdout was cut at
    /// the capture limit.
    fn read(&self, out: &str, err: &str, truncated: bool) -> Parsed;
}

/// The driver of a preset.
pub(crate) fn driver(p: Preset) -> &'static dyn Driver {
    match p {
        Preset::Claude => &claude::Claude,
        Preset::Codex => &codex::Codex,
        Preset::Gemini => &gemini::Gemini,
        Preset::Command => &command::Command,
    }
}

/// The model a call uses: the job's `model`, else the agent's `models[thinking]`, else
/// the preset's default; `None` passes no model and leaves the choice to the CLI.
pub(crate) fn model_for(
    agent: &Agent,
    thinking: Thinking,
    model_override: Option<&str>,
) -> Option<String> {
    // A command agent that takes no `{model}` and names none has no model at all.
    if agent.preset == crate::config::Preset::Command
        && model_override.is_none()
        && agent.models.get(thinking).is_none()
        && !agent.command.iter().any(|a| a == "{model}")
    {
        return None;
    }
    model_override
        .or_else(|| agent.models.get(thinking))
        .or_else(|| driver(agent.preset).default_model(thinking))
        .map(str::to_string)
}

/// The argv of a call.
pub(crate) fn argv(
    agent: &Agent,
    mode: Mode,
    prompt: &str,
    model: Option<&str>,
    thinking: Thinking,
    job_args: &[String],
) -> Vec<String> {
    let extra: Vec<String> = agent.args.iter().chain(job_args).cloned().collect();
    driver(agent.preset).argv(agent, mode, prompt, model, thinking, &extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Models;

    fn agent(preset: Preset, command: &[&str]) -> Agent {
        Agent {
            name: "a".into(),
            preset,
            daily_budget_milli: 1000,
            command: command.iter().map(|s| s.to_string()).collect(),
            models: Default::default(),
            rates: Default::default(),
            auth: None,
            args: vec!["--extra".into()],
            stall: std::time::Duration::from_secs(120),
            mcp: false,
        }
    }

    #[test]
    fn claude_takes_the_prompt_after_double_dash() {
        let a = agent(Preset::Claude, &["claude"]);
        let m = model_for(&a, Thinking::Slow, None);
        assert_eq!(m.as_deref(), Some("opus"));
        let v = argv(
            &a,
            Mode::Job,
            "---\nfront",
            m.as_deref(),
            Thinking::Slow,
            &["--job-arg".into()],
        );
        assert_eq!(
            v,
            [
                "claude",
                "-p",
                "--output-format",
                "json",
                "--dangerously-skip-permissions",
                "--no-session-persistence",
                "--no-chrome",
                "--model",
                "opus",
                "--extra",
                "--job-arg",
                "--",
                "---\nfront",
            ]
        );
        let v = argv(&a, Mode::Ask, "hi", Some("haiku"), Thinking::Fast, &[]);
        assert_eq!(&v[v.len() - 4..], ["--tools", "", "--", "hi"]);
        assert!(!v.contains(&"--dangerously-skip-permissions".to_string()));
    }

    #[test]
    fn codex_has_no_model_unless_one_is_named() {
        let a = agent(Preset::Codex, &["codex"]);
        let m = model_for(&a, Thinking::Med, None);
        assert_eq!(m, None, "codex has no default model");
        let v = argv(&a, Mode::Job, "-x", m.as_deref(), Thinking::Med, &[]);
        assert_eq!(
            v,
            [
                "codex",
                "exec",
                "--json",
                "--dangerously-bypass-approvals-and-sandbox",
                "--skip-git-repo-check",
                "-c",
                "model_reasoning_effort=high",
                "--extra",
                "--",
                "-x"
            ]
        );
        let v = argv(&a, Mode::Ask, "q", Some("o4"), Thinking::Fast, &[]);
        assert_eq!(
            v,
            [
                "codex",
                "exec",
                "--json",
                "--sandbox",
                "read-only",
                "--skip-git-repo-check",
                "-m",
                "o4",
                "-c",
                "model_reasoning_effort=medium",
                "--extra",
                "--",
                "q"
            ]
        );
    }

    #[test]
    fn gemini_skips_trust_and_command_substitutes() {
        let a = agent(Preset::Gemini, &["gemini"]);
        let v = argv(&a, Mode::Job, "-q", None, Thinking::Fast, &[]);
        assert_eq!(
            v,
            [
                "gemini",
                "--prompt=-q",
                "--output-format",
                "json",
                "--yolo",
                "--skip-trust",
                "--extra"
            ]
        );
        let v = argv(&a, Mode::Ask, "q", Some("g"), Thinking::Fast, &[]);
        assert_eq!(
            &v[3..],
            [
                "json",
                "--approval-mode",
                "plan",
                "--skip-trust",
                "-m",
                "g",
                "--extra"
            ]
        );
        let mut c = agent(Preset::Command, &["./x", "--model", "{model}", "{prompt}"]);
        c.models = Models {
            fast: Some("small".into()),
            med: Some("small".into()),
            slow: Some("large".into()),
        };
        let m = model_for(&c, Thinking::Slow, None);
        let v = argv(
            &c,
            Mode::Job,
            "a b; rm -rf /",
            m.as_deref(),
            Thinking::Slow,
            &[],
        );
        assert_eq!(v, ["./x", "--model", "large", "a b; rm -rf /", "--extra"]);
    }
}
