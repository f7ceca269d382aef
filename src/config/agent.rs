//! What an agent is once loaded (`[agents.*]`): its preset, models per thinking level,
//! rates and credentials. `sections.rs` reads the tables; `agents/` calls the CLIs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Preset {
    Claude,
    Codex,
    Gemini,
    Command,
}

impl Preset {
    pub(crate) fn parse(s: &str) -> Option<Preset> {
        Some(match s {
            "claude" => Preset::Claude,
            "codex" => Preset::Codex,
            "gemini" => Preset::Gemini,
            "command" => Preset::Command,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Preset::Claude => "claude",
            Preset::Codex => "codex",
            Preset::Gemini => "gemini",
            Preset::Command => "command",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Thinking {
    Fast,
    Med,
    Slow,
}

impl Thinking {
    pub(crate) fn parse(s: &str) -> Option<Thinking> {
        Some(match s {
            "fast" => Thinking::Fast,
            "med" => Thinking::Med,
            "slow" => Thinking::Slow,
            _ => return None,
        })
    }
}

/// Model names per thinking level, as the file names them; `None`: the preset's default
/// (`agents::presets::model_for`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Models {
    pub(crate) fast: Option<String>,
    pub(crate) med: Option<String>,
    pub(crate) slow: Option<String>,
}

impl Models {
    pub(crate) fn get(&self, t: Thinking) -> Option<&str> {
        match t {
            Thinking::Fast => self.fast.as_deref(),
            Thinking::Med => self.med.as_deref(),
            Thinking::Slow => self.slow.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Auth {
    pub(crate) env: Vec<String>,
    pub(crate) files: Vec<PathBuf>,
    /// The paths as written, for messages.
    pub(crate) files_display: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Agent {
    pub(crate) name: String,
    pub(crate) preset: Preset,
    /// Cost units per budget day, in thousandths.
    pub(crate) daily_budget_milli: i64,
    /// For presets: the binary. For `command`: the argv template.
    pub(crate) command: Vec<String>,
    pub(crate) models: Models,
    /// Cost per call by model, in thousandths.
    pub(crate) rates: BTreeMap<String, i64>,
    pub(crate) auth: Option<Auth>,
    pub(crate) args: Vec<String>,
    /// `agent_stall`: how long output that shows only the provider being unreachable may
    /// go on before the call is stopped and the next agent tried.
    pub(crate) stall: Duration,
    /// `mcp = true`: jobctl's MCP tools are wired into this CLI for every job run.
    pub(crate) mcp: bool,
}

impl Agent {
    /// What one call with `model` costs the budget, in thousandths (1.0 when unlisted).
    pub(crate) fn rate_milli(&self, model: Option<&str>) -> i64 {
        model
            .and_then(|m| self.rates.get(m))
            .copied()
            .unwrap_or(1000)
    }
}
