//! The environment a run's processes get: jobctl's own, less `runner.env_remove`, plus
//! `runner.env` (and `env_file`), the job's `env`, and the `JOBCTL_*` variables, two of
//! which mark every process of the run so none survives it.

use std::path::Path;

use crate::config::{Config, Job};
use crate::core::clock::rfc3339;
use crate::core::run::RunRecord;
use crate::exec::env::set;

/// jobctl's environment less `env_remove` and its own `JOBCTL_*` knobs, plus `runner.env`.
pub(crate) fn base_env_plain(cfg: &Config) -> Vec<(String, String)> {
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
pub(crate) fn base_env(cfg: &Config, job: &Job) -> Vec<(String, String)> {
    let mut env = base_env_plain(cfg);
    for (k, v) in &job.env {
        set(&mut env, k, v);
    }
    env
}

/// The full environment of a run's process; `role` is set for agent jobs.
pub(crate) fn job_env(
    cfg: &Config,
    job: &Job,
    run: &RunRecord,
    role: Option<&str>,
    state_dir: &Path,
) -> Vec<(String, String)> {
    let mut env = base_env(cfg, job);
    // What `submit --env` gave this run.
    for (k, v) in &run.env {
        set(&mut env, k, v);
    }
    if let Some(m) = &run.metadata {
        // A map of JSON values always serializes.
        let text = serde_json::to_string(m).unwrap_or_default();
        set(&mut env, "JOBCTL_RUN_METADATA", &text);
    }
    let scheduled_for = rfc3339(run.scheduled_for);
    let mut meta = serde_json::json!({
        "job": job.name,
        "run_id": run.id,
        "scheduled_for": scheduled_for,
        "forced": run.forced,
        "trigger": run.trigger,
        "parent_run_id": run.parent_run_id,
        "depth": run.depth,
        "attempt": run.attempt,
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
    reach_this_jobctl(cfg, &mut env);
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

/// `JOBCTL_CONFIG` (the config this supervisor loaded), and `JOBCTL_HOME` and
/// `JOBCTL_DATABASE_URL` (as the supervisor has them, if set): a `jobctl` started inside
/// the run (`submit`, `ask`) reaches the same config and state as its supervisor.
pub(crate) fn reach_this_jobctl(cfg: &Config, env: &mut Vec<(String, String)>) {
    set(env, "JOBCTL_CONFIG", &cfg.path.display().to_string());
    for var in ["JOBCTL_HOME", crate::config::state::URL_VAR] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            set(env, var, &v.to_string_lossy());
        }
    }
}

/// The run this process belongs to, when it was started inside a run of the state
/// directory `state_dir` (its marks say so): what `submit` and `mcp` act as.
pub(crate) fn calling_run(state_dir: &Path) -> Option<i64> {
    let id = std::env::var("JOBCTL_RUN_ID").ok()?.parse().ok()?;
    let dir = std::env::var_os("JOBCTL_STATE_DIR")?;
    let dir = Path::new(&dir).canonicalize().ok()?;
    (dir == state_dir).then_some(id)
}

/// The environment entries that mark a run's processes: `JOBCTL_RUN_ID` and
/// `JOBCTL_STATE_DIR` (a run id is unique only within one state directory).
pub(crate) fn run_marks(state_dir: &Path, run_id: i64) -> Vec<String> {
    vec![
        format!("JOBCTL_RUN_ID={run_id}"),
        format!("JOBCTL_STATE_DIR={}", state_dir.display()),
    ]
}
