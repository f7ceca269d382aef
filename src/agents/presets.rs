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

/// The model a call uses: the job's `model`, else the agent's `models[thinking]`.
pub fn model_for(agent: &Agent, thinking: Thinking, model_override: Option<&str>) -> String {
    model_override
        .map(str::to_string)
        .unwrap_or_else(|| agent.models.get(thinking).to_string())
}

fn codex_effort(t: Thinking) -> &'static str {
    match t {
        Thinking::Fast => "medium",
        Thinking::Med => "high",
        Thinking::Slow => "xhigh",
    }
}

/// The whole argv: program first, then the preset's flags, `args` of the agent and of the
/// job appended.
pub fn argv(
    agent: &Agent,
    mode: Mode,
    prompt: &str,
    model: &str,
    thinking: Thinking,
    job_args: &[String],
) -> Vec<String> {
    let s = |x: &str| x.to_string();
    let mut v: Vec<String> = Vec::new();
    match agent.preset {
        Preset::Claude => {
            v.push(agent.command[0].clone());
            // `-p=PROMPT` keeps a prompt starting with "-" from being read as a flag.
            v.push(format!("--print={prompt}"));
            v.extend(["--output-format", "json"].map(s));
            if mode == Mode::Job {
                v.push(s("--dangerously-skip-permissions"));
            }
            v.extend(["--no-session-persistence", "--no-chrome", "--model"].map(s));
            v.push(s(model));
            if mode == Mode::Ask {
                v.extend(["--tools", ""].map(s));
            }
        }
        Preset::Codex => {
            v.push(agent.command[0].clone());
            v.extend(["exec", "--json"].map(s));
            match mode {
                Mode::Job => v.push(s("--dangerously-bypass-approvals-and-sandbox")),
                Mode::Ask => v.extend(["--sandbox", "read-only"].map(s)),
            }
            v.extend(["--skip-git-repo-check", "-m"].map(s));
            v.push(s(model));
            v.push(s("-c"));
            v.push(format!("model_reasoning_effort={}", codex_effort(thinking)));
        }
        Preset::Gemini => {
            v.push(agent.command[0].clone());
            v.push(format!("--prompt={prompt}"));
            v.extend(["--output-format", "json"].map(s));
            match mode {
                Mode::Job => v.push(s("--yolo")),
                Mode::Ask => v.extend(["--approval-mode", "plan"].map(s)),
            }
            v.push(s("-m"));
            v.push(s(model));
        }
        Preset::Command => {
            for a in &agent.command {
                v.push(match a.as_str() {
                    "{prompt}" => s(prompt),
                    "{model}" => s(model),
                    _ => a.clone(),
                });
            }
        }
    }
    v.extend(agent.args.iter().cloned());
    v.extend(job_args.iter().cloned());
    if agent.preset == Preset::Codex {
        // The prompt is positional (`-p` means profile); after `--` nothing reads it as a flag.
        v.push(s("--"));
        v.push(s(prompt));
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
        }
    }

    #[test]
    fn claude_job_and_ask() {
        let a = agent(Preset::Claude, &["claude"]);
        let m = model_for(&a, Thinking::Slow, None);
        assert_eq!(m, "opus");
        let v = argv(
            &a,
            Mode::Job,
            "---\nfront",
            &m,
            Thinking::Slow,
            &["--job-arg".into()],
        );
        assert_eq!(
            v,
            [
                "claude",
                "--print=---\nfront",
                "--output-format",
                "json",
                "--dangerously-skip-permissions",
                "--no-session-persistence",
                "--no-chrome",
                "--model",
                "opus",
                "--extra",
                "--job-arg"
            ]
        );
        let v = argv(&a, Mode::Ask, "hi", "haiku", Thinking::Fast, &[]);
        assert!(v.windows(2).any(|w| w == ["--tools", ""]));
        assert!(!v.contains(&"--dangerously-skip-permissions".to_string()));
    }

    #[test]
    fn codex_prompt_is_positional_and_last() {
        let a = agent(Preset::Codex, &["codex"]);
        let v = argv(&a, Mode::Job, "-x", "gpt-5.4", Thinking::Med, &[]);
        assert_eq!(&v[..3], ["codex", "exec", "--json"]);
        assert!(v.contains(&"model_reasoning_effort=high".to_string()));
        assert_eq!(&v[v.len() - 2..], ["--", "-x"]);
        let v = argv(&a, Mode::Ask, "q", "gpt-5.4", Thinking::Fast, &[]);
        assert!(v.windows(2).any(|w| w == ["--sandbox", "read-only"]));
        assert!(!v.contains(&"--dangerously-bypass-approvals-and-sandbox".to_string()));
    }

    #[test]
    fn gemini_and_command() {
        let a = agent(Preset::Gemini, &["gemini"]);
        let v = argv(
            &a,
            Mode::Ask,
            "q",
            "gemini-2.5-flash-lite",
            Thinking::Fast,
            &[],
        );
        assert!(v.windows(2).any(|w| w == ["--approval-mode", "plan"]));
        let mut c = agent(Preset::Command, &["./x", "--model", "{model}", "{prompt}"]);
        c.models = Models {
            fast: "small".into(),
            med: "small".into(),
            slow: "large".into(),
        };
        let m = model_for(&c, Thinking::Slow, None);
        let v = argv(&c, Mode::Job, "a b; rm -rf /", &m, Thinking::Slow, &[]);
        assert_eq!(v, ["./x", "--model", "large", "a b; rm -rf /", "--extra"]);
    }
}
