//! job-finder's `ai-settings` JSON: agents (`claude.cli`, `codex.cli`, ... with a shared
//! `dailyBudget`, per-scope `runtimeState`, `authRequirements`), `taskFallbacks` per task
//! type and `modelRates`. CLI agents become `[agents.*]`; the scopes of their runtime
//! states `budget.scopes`; the fallback chains one `[fallback] order`. What is state
//! rather than config (a scope disabled with a reason, today's usage) is said as the
//! commands that set it.

use serde_json::Value;

use super::Imported;
use super::toml_out::{array, key, number, string};

pub(crate) fn from_ai_settings(text: &str) -> Result<Imported, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    // The settings themselves, or a stored record holding them.
    let s = ["payload", "value", "settings", "aiSettings"]
        .iter()
        .find_map(|k| v.get(k).filter(|x| x.get("agents").is_some()))
        .unwrap_or(&v);
    let Some(agents) = s.get("agents").and_then(Value::as_object) else {
        return Err("no \"agents\" object: not an ai-settings document".into());
    };
    let mut out = Imported::default();
    let mut names: Vec<(String, String)> = Vec::new(); // (id, jobctl name)
    let mut scopes: Vec<String> = Vec::new();
    let mut toml = String::new();
    let mut commands = Vec::new();
    let rates: Vec<(String, f64)> = s
        .get("modelRates")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_f64().map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default();
    for (id, a) in agents {
        let provider = a
            .get("provider")
            .and_then(Value::as_str)
            .or_else(|| id.split('.').next())
            .unwrap_or("");
        let interface = a
            .get("interface")
            .and_then(Value::as_str)
            .or_else(|| id.split('.').nth(1))
            .unwrap_or("cli");
        if interface != "cli" {
            out.notes.push(format!(
                "agent {id:?}: the {interface} interface (jobctl runs agent CLIs: claude, codex, gemini, or any command)"
            ));
            continue;
        }
        if !matches!(provider, "claude" | "codex" | "gemini") {
            out.notes.push(format!(
                "agent {id:?}: provider {provider:?} has no jobctl preset (use preset = \"command\")"
            ));
            continue;
        }
        let taken: Vec<String> = names.iter().map(|(_, n)| n.clone()).collect();
        let name = super::name_from(provider, provider, &taken);
        names.push((id.clone(), name.clone()));
        let budget = a.get("dailyBudget").and_then(Value::as_f64).unwrap_or(0.0);
        toml.push_str(&format!(
            "[agents.{name}]\npreset = \"{provider}\"\ndaily_budget = {}\n",
            number(budget)
        ));
        if let Some(m) = a.get("defaultModel").and_then(Value::as_str) {
            toml.push_str(&format!(
                "models = {{ fast = {m}, med = {m}, slow = {m} }}\n",
                m = string(m)
            ));
        }
        if !rates.is_empty() {
            let pairs: Vec<String> = rates
                .iter()
                .map(|(m, r)| format!("{} = {}", key(m), number(*r)))
                .collect();
            toml.push_str(&format!("rates = {{ {} }}\n", pairs.join(", ")));
        }
        if let Some(auth) = a.get("authRequirements") {
            let list = |k: &str| -> Vec<String> {
                auth.get(k)
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (env, files) = (list("requiredEnv"), list("requiredFiles"));
            if !env.is_empty() || !files.is_empty() {
                toml.push_str(&format!(
                    "auth = {{ env = {}, files = {} }}\n",
                    array(&env),
                    array(&files)
                ));
            }
        }
        toml.push('\n');
        if let Some(u) = a
            .get("dailyUsage")
            .and_then(Value::as_f64)
            .filter(|u| *u > 0.0)
        {
            out.notes.push(format!(
                "agent {id:?}: today's usage ({}) starts again from 0 in jobctl",
                number(u)
            ));
        }
        if let Some(states) = a.get("runtimeState").and_then(Value::as_object) {
            for (scope, st) in states {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
                let enabled = st.get("enabled").and_then(Value::as_bool).unwrap_or(true);
                if !enabled {
                    let reason = st
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or("imported as disabled");
                    commands.push(format!(
                        "jobctl configure agent {name} --scope {scope} --disable --reason {}",
                        shell_quote(reason)
                    ));
                }
            }
        }
    }
    let mut head = String::new();
    scopes.retain(|s| crate::core::units::is_valid_scope(s));
    // jobctl's own order first (worker, backend), then the rest.
    scopes.sort_by_key(|s| (s != "worker", s != "backend", s.clone()));
    if !scopes.is_empty() {
        head.push_str(&format!("[budget]\nscopes = {}\n\n", array(&scopes)));
    }
    head.push_str(&toml);
    // One fallback order: the chains of every task type, each agent where it first comes.
    let mut order: Vec<String> = Vec::new();
    let mut chains = Vec::new();
    if let Some(tf) = s.get("taskFallbacks").and_then(Value::as_object) {
        for (task, chain) in tf {
            let ids: Vec<&str> = chain
                .as_array()
                .map(|l| l.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            chains.push(format!("{task}: {}", ids.join(", ")));
            for id in ids {
                if let Some((_, n)) = names.iter().find(|(i, _)| i == id)
                    && !order.contains(n)
                {
                    order.push(n.clone());
                }
            }
        }
    }
    if !order.is_empty() {
        head.push_str(&format!("[fallback]\norder = {}\n", array(&order)));
        if chains.len() > 1 {
            out.notes.push(format!(
                "fallback chains per task type ({}): jobctl has one [fallback] order, made of them in turn",
                chains.join("; ")
            ));
        }
    }
    if !commands.is_empty() {
        out.notes.push(format!(
            "disabled scopes are state, not config; once the config is in place:\n{}",
            commands.join("\n")
        ));
    }
    if s.get("options")
        .and_then(Value::as_array)
        .is_some_and(|o| !o.is_empty())
    {
        out.notes
            .push("\"options\" (the model choices of job-finder's UI)".into());
    }
    out.toml = head;
    Ok(out)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ai_settings_become_agents_scopes_and_a_fallback_order() {
        let json = r#"{
          "agents": {
            "gemini.api": {"provider": "gemini", "interface": "api", "defaultModel": "gemini-2.0-flash", "dailyBudget": 100, "dailyUsage": 0,
              "runtimeState": {"worker": {"enabled": true, "reason": null}, "backend": {"enabled": true, "reason": null}},
              "authRequirements": {"type": "api", "requiredEnv": ["GEMINI_API_KEY"]}},
            "claude.cli": {"provider": "claude", "interface": "cli", "defaultModel": "sonnet", "dailyBudget": 40, "dailyUsage": 12,
              "runtimeState": {"worker": {"enabled": true, "reason": null}, "backend": {"enabled": false, "reason": "auth_failed: not logged in"}},
              "authRequirements": {"type": "cli", "requiredEnv": ["CLAUDE_CODE_OAUTH_TOKEN"], "requiredFiles": ["~/.claude/.credentials.json"]}},
            "codex.cli": {"provider": "codex", "interface": "cli", "dailyBudget": 20.5,
              "runtimeState": {"worker": {"enabled": true, "reason": null}}}
          },
          "taskFallbacks": {"extraction": ["gemini.api", "codex.cli", "claude.cli"], "document": ["claude.cli", "codex.cli"]},
          "modelRates": {"sonnet": 1.5, "gemini-2.0-flash": 0.5},
          "options": [{"provider": "claude"}]
        }"#;
        let out = from_ai_settings(json).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jobctl.toml");
        std::fs::write(&p, out.text("ai-settings")).unwrap();
        let cfg =
            crate::config::load_fresh(Some(&p)).unwrap_or_else(|e| panic!("{e}\n{}", out.toml));
        assert_eq!(cfg.agents.keys().collect::<Vec<_>>(), ["claude", "codex"]);
        assert_eq!(cfg.agents["claude"].daily_budget_milli, 40_000);
        assert_eq!(cfg.agents["codex"].daily_budget_milli, 20_500);
        assert_eq!(cfg.agents["claude"].rates["sonnet"], 1_500);
        // The chains in turn (by task name: document, extraction), each agent once.
        assert_eq!(cfg.fallback, ["claude", "codex"]);
        assert_eq!(cfg.budget.scopes, ["worker", "backend"]);
        let notes = out.notes.join("\n");
        for want in [
            "gemini.api",
            "usage (12)",
            "jobctl configure agent claude --scope backend --disable --reason 'auth_failed: not logged in'",
            "per task type",
            "options",
        ] {
            assert!(notes.contains(want), "{want}: {notes}");
        }
    }
}
