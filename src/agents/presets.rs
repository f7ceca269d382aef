//! The argv of each agent preset (agents.md, "Presets"), for scheduled jobs and for `ask`
//! (no tools). The prompt is always one argument, never re-parsed by a shell, and placed
//! where the CLI can't mistake a leading `-` (front matter `---`) for a flag.

use crate::config::{Agent, Preset, Thinking};

/// Whether a call may use tools (a job) or not (`ask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Job,
    Ask,
}

/// The model a call uses: the job's `model`, else the agent's `models[thinking]`; `None`
/// passes no model and leaves the choice to the CLI.
pub fn model_for(
    agent: &Agent,
    thinking: Thinking,
    model_override: Option<&str>,
) -> Option<String> {
    model_override
        .or_else(|| agent.models.get(thinking))
        .map(str::to_string)
}

fn codex_effort(t: Thinking) -> &'static str {
    match t {
        Thinking::Fast => "medium",
        Thinking::Med => "high",
        Thinking::Slow => "xhigh",
    }
}

/// The whole argv: program first, then the preset's flags, `args` of the agent and of the
/// job, and the prompt (agents.md, "Presets").
///
/// claude and codex take the prompt as the positional argument after `--`, so a prompt
/// starting with `-` (front matter `---`) is never read as a flag; gemini takes it glued
/// to `--prompt=`, which its parser can't split either.
pub fn argv(
    agent: &Agent,
    mode: Mode,
    prompt: &str,
    model: Option<&str>,
    thinking: Thinking,
    job_args: &[String],
) -> Vec<String> {
    let s = |x: &str| x.to_string();
    let mut v: Vec<String> = vec![agent.command[0].clone()];
    let extra = agent.args.iter().chain(job_args).cloned();
    match agent.preset {
        Preset::Claude => {
            // `-p` is a switch in claude; `--print=PROMPT` is rejected as an unknown option.
            v.extend(["-p", "--output-format", "json"].map(s));
            if mode == Mode::Job {
                v.push(s("--dangerously-skip-permissions"));
            }
            v.extend(["--no-session-persistence", "--no-chrome"].map(s));
            if let Some(m) = model {
                v.extend([s("--model"), s(m)]);
            }
            v.extend(extra);
            if mode == Mode::Ask {
                v.extend(["--tools", ""].map(s));
            }
            v.extend([s("--"), s(prompt)]);
        }
        Preset::Codex => {
            v.extend(["exec", "--json"].map(s));
            match mode {
                Mode::Job => v.push(s("--dangerously-bypass-approvals-and-sandbox")),
                // codex refuses the bypass flag together with --sandbox.
                Mode::Ask => v.extend(["--sandbox", "read-only"].map(s)),
            }
            v.push(s("--skip-git-repo-check"));
            if let Some(m) = model {
                v.extend([s("-m"), s(m)]);
            }
            // `ask --thinking` picks the effort too: the same preset, only without tools.
            v.push(s("-c"));
            v.push(format!("model_reasoning_effort={}", codex_effort(thinking)));
            v.extend(extra);
            // `-p` means profile in codex: the prompt is positional.
            v.extend([s("--"), s(prompt)]);
        }
        Preset::Gemini => {
            v.push(format!("--prompt={prompt}"));
            v.extend(["--output-format", "json"].map(s));
            match mode {
                Mode::Job => v.push(s("--yolo")),
                Mode::Ask => v.extend(["--approval-mode", "plan"].map(s)),
            }
            // Without it gemini downgrades --yolo in a folder it was never told to trust,
            // or exits 55.
            v.push(s("--skip-trust"));
            if let Some(m) = model {
                v.extend([s("-m"), s(m)]);
            }
            v.extend(extra);
        }
        Preset::Command => {
            v.clear();
            for a in &agent.command {
                v.push(match a.as_str() {
                    "{prompt}" => s(prompt),
                    "{model}" => s(model.unwrap_or("")),
                    _ => a.clone(),
                });
            }
            v.extend(extra);
        }
    }
    v
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
            models: crate::config::preset_models(preset),
            rates: Default::default(),
            auth: None,
            args: vec!["--extra".into()],
            stall: std::time::Duration::from_secs(120),
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
