//! The names a shell completes as you type (`jobctl completions`): jobs, agents and
//! scopes of the config the command line names, each with a word of help. A config that
//! can't be loaded completes nothing; completion never prints an error.

use std::path::PathBuf;

use crate::config::Config;

/// The `--config PATH` of the command line being completed, if it has one.
fn config_arg() -> Option<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

fn config() -> Option<Config> {
    crate::config::load(config_arg().as_deref()).ok()
}

/// Job names, with their schedule.
pub(crate) fn jobs() -> Vec<(String, String)> {
    let Some(cfg) = config() else {
        return Vec::new();
    };
    cfg.jobs
        .values()
        .map(|j| {
            let schedule = j
                .schedule
                .as_ref()
                .map(|s| s.describe())
                .unwrap_or_else(|| "manual".into());
            (j.name.clone(), format!("{} job, {schedule}", j.type_name()))
        })
        .collect()
}

/// Agent names, with their preset.
pub(crate) fn agents() -> Vec<(String, String)> {
    let Some(cfg) = config() else {
        return Vec::new();
    };
    cfg.agents
        .values()
        .map(|a| (a.name.clone(), format!("{} agent", a.preset.as_str())))
        .collect()
}

/// The budget scopes.
pub(crate) fn scopes() -> Vec<(String, String)> {
    let Some(cfg) = config() else {
        return Vec::new();
    };
    cfg.budget
        .scopes
        .iter()
        .map(|s| (s.clone(), "budget scope".to_string()))
        .collect()
}
