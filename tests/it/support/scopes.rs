//! An agent's scopes as `jobctl status --json` shows them: a row per agent × scope, with
//! whether it is enabled and, when not, why.

use serde_json::Value;

use super::{Env, both, ok};

impl Env {
    /// `jobctl status --json`.
    pub fn status_json(&self) -> Value {
        let o = self.run(&["status", "--json"]);
        ok(&o);
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("status --json is not JSON: {e}\n{}", both(&o)))
    }
}

/// The `agents` row of a `status --json` for agent × scope.
pub fn scope_row(st: &Value, agent: &str, scope: &str) -> Value {
    st["agents"]
        .as_array()
        .unwrap_or_else(|| panic!("no agents array in {st}"))
        .iter()
        .find(|r| r["agent"] == agent && r["scope"] == scope)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {agent} × {scope} in {st:#}"))
}

/// Asserts agent × scope is enabled, with no reason.
#[track_caller]
pub fn assert_enabled(st: &Value, agent: &str, scope: &str) {
    let r = scope_row(st, agent, scope);
    assert!(
        r["enabled"] == true && r["reason"].is_null(),
        "{agent} × {scope} must be enabled with no reason: {r}\n{st:#}"
    );
}

/// Asserts agent × scope is disabled; its reason.
#[track_caller]
pub fn assert_disabled(st: &Value, agent: &str, scope: &str) -> String {
    let r = scope_row(st, agent, scope);
    assert_eq!(
        r["enabled"], false,
        "{agent} × {scope} must be disabled: {r}\n{st:#}"
    );
    r["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("a disabled scope has a reason: {r}"))
        .to_string()
}
