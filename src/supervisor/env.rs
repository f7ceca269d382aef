//! The environment a job's process gets: jobctl's own, less `runner.env_remove`, plus
//! `runner.env` (and `env_file`), the job's `env`, and the `JOBCTL_*` variables.

use std::path::Path;

use crate::config::{Config, Job};
use crate::output::rfc3339;
use crate::store::RunRecord;

/// jobctl's environment less `env_remove` and its own `JOBCTL_*` knobs, plus `runner.env`.
pub fn base_env_plain(cfg: &Config) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| !cfg.runner.env_remove.iter().any(|r| r == k))
        // jobctl's own knobs describe this jobctl, not the job's world.
        .filter(|(k, _)| !k.starts_with("JOBCTL_"))
        .collect();
    for (k, v) in cfg.runner.env_vars() {
        set(&mut env, k, v);
    }
    env
}

/// The environment before the `JOBCTL_*` variables: what credentials are checked against.
pub fn base_env(cfg: &Config, job: &Job) -> Vec<(String, String)> {
    let mut env = base_env_plain(cfg);
    for (k, v) in &job.env {
        set(&mut env, k, v);
    }
    env
}

pub fn set(env: &mut Vec<(String, String)>, k: &str, v: &str) {
    match env.iter_mut().find(|(ek, _)| ek == k) {
        Some(e) => e.1 = v.to_string(),
        None => env.push((k.to_string(), v.to_string())),
    }
}

/// The full environment of a run's process; `role` is set for agent jobs.
pub fn job_env(
    cfg: &Config,
    job: &Job,
    run: &RunRecord,
    role: Option<&str>,
    state_dir: &Path,
) -> Vec<(String, String)> {
    let mut env = base_env(cfg, job);
    let scheduled_for = rfc3339(run.scheduled_for);
    let mut meta = serde_json::json!({
        "job": job.name,
        "run_id": run.id,
        "scheduled_for": scheduled_for,
        "forced": run.forced,
    });
    set(&mut env, "JOBCTL_JOB_NAME", &job.name);
    set(&mut env, "JOBCTL_RUN_ID", &run.id.to_string());
    set(&mut env, "JOBCTL_SCHEDULED_FOR", &scheduled_for);
    // Together with JOBCTL_RUN_ID this marks the run's processes (also ones that left
    // the process group) so none survives the run.
    set(
        &mut env,
        "JOBCTL_STATE_DIR",
        &state_dir.display().to_string(),
    );
    if let Some(role) = role {
        meta["role"] = serde_json::json!(role);
        set(&mut env, "JOBCTL_JOB_ROLE", role);
        for name in &cfg.runner.role_env {
            set(&mut env, name, role);
        }
    }
    set(&mut env, "JOBCTL_JOB_METADATA", &meta.to_string());
    env
}

/// Whether a variable's value is a secret: never shown in jobctl's output, records or logs.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|w| n.contains(w))
}

/// The values of the secret variables of `env`, longest first (so a secret that contains
/// another is hidden whole).
pub fn secret_values(env: &[(String, String)]) -> Vec<String> {
    let mut v: Vec<String> = env
        .iter()
        .filter(|(k, v)| is_secret_name(k) && v.len() >= 4)
        .map(|(_, v)| v.clone())
        .collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v.dedup();
    v
}

/// `text` with every secret value replaced by `***`: a CLI that repeats the key it was
/// given in its error ("invalid api key sk-...") must not put it in a record.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}
