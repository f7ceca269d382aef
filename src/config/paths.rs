//! Where the config and state live, and `~`/`$VAR` expansion of path values.

use std::path::{Path, PathBuf};

use super::errors::whole_file;
use super::inputs::Inputs;

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The XDG base directories (`XDG_CONFIG_HOME`, `XDG_STATE_HOME`, `XDG_CACHE_HOME`, each
/// else its default under the home directory), on macOS too, as the docs promise.
fn xdg() -> Option<etcetera::base_strategy::Xdg> {
    etcetera::base_strategy::Xdg::new().ok()
}

/// The config file: `--config`, else `$JOBCTL_CONFIG`, else `$JOBCTL_HOME/jobctl.toml`, else
/// `$XDG_CONFIG_HOME/jobctl/jobctl.toml` (`~/.config/jobctl/jobctl.toml`).
pub(crate) fn find_config_file(explicit: Option<&Path>) -> crate::core::error::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = env_nonempty("JOBCTL_CONFIG") {
        return Ok(PathBuf::from(p));
    }
    let Some(candidate) = default_config_file() else {
        return Err(whole_file(
            Path::new("jobctl.toml"),
            "no config file: no home directory; pass --config PATH or set JOBCTL_HOME".into(),
        )
        .into());
    };
    if !candidate.exists() {
        return Err(no_config(&candidate).into());
    }
    Ok(candidate)
}

/// Where the config file is looked for when neither `--config` nor `$JOBCTL_CONFIG` names
/// one (and where `jobctl init` writes it).
pub(crate) fn default_config_file() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    if let Some(h) = env_nonempty("JOBCTL_HOME") {
        return Some(PathBuf::from(h).join("jobctl.toml"));
    }
    Some(xdg()?.config_dir().join("jobctl/jobctl.toml"))
}

/// The error for a config file that is not there: where it was looked for, and how to
/// make one.
pub(crate) fn no_config(path: &Path) -> crate::core::error::ConfigErrors {
    whole_file(
        path,
        format!(
            "no config at {} — create one with jobctl init (or pass --config PATH, or set JOBCTL_CONFIG / JOBCTL_HOME)",
            path.display()
        ),
    )
}

/// The state directory when the config sets none: `$JOBCTL_HOME/state`, else
/// `$XDG_STATE_HOME/jobctl` (`~/.local/state/jobctl`). The variables it depends on are
/// asked through `inputs`, so a snapshot notices when one changes.
pub(super) fn state_dir_default(inputs: &mut Inputs) -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    if let Some(h) = inputs.var("JOBCTL_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(h).join("state"));
    }
    inputs.var("XDG_STATE_HOME");
    inputs.var("HOME");
    xdg()?.state_dir().map(|d| d.join("jobctl"))
}

/// Where config snapshots go when the config names no state directory:
/// `$JOBCTL_HOME/cache`, else `$XDG_CACHE_HOME/jobctl` (`~/.cache/jobctl`).
pub(crate) fn cache_dir_default() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    if let Some(h) = env_nonempty("JOBCTL_HOME") {
        return Some(PathBuf::from(h).join("cache"));
    }
    Some(xdg()?.cache_dir().join("jobctl"))
}

pub(crate) fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Expands a leading `~` and every `$VAR` / `${VAR}`, then anchors a relative result at
/// `base` (the config file's directory, never the current directory).
pub(super) fn expand_path(raw: &str, base: &Path, inputs: &mut Inputs) -> Result<PathBuf, String> {
    let expanded = expand_vars(raw, inputs)?;
    let expanded = if expanded == "~" || expanded.starts_with("~/") {
        let h = inputs
            .var("HOME")
            .filter(|v| !v.is_empty())
            .ok_or("uses ~ but HOME is not set")?;
        format!("{h}{}", &expanded[1..])
    } else {
        expanded
    };
    let p = PathBuf::from(expanded);
    Ok(if p.is_absolute() { p } else { base.join(p) })
}

fn expand_vars(raw: &str, inputs: &mut Inputs) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let (name, after) = if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| format!("{raw:?} has an unclosed ${{"))?;
            (&r[..end], &r[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        if name.is_empty() {
            out.push('$');
        } else {
            let v = inputs
                .var(name)
                .ok_or_else(|| format!("{raw:?} uses ${name}, which is not set"))?;
            out.push_str(&v);
        }
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let base = Path::new("/cfg");
        let expand_path = |raw: &str, base: &Path| expand_path(raw, base, &mut Inputs::default());
        assert_eq!(
            expand_path("data/x", base).unwrap(),
            PathBuf::from("/cfg/data/x")
        );
        assert_eq!(expand_path("/abs", base).unwrap(), PathBuf::from("/abs"));
        let home = std::env::var("HOME").unwrap();
        assert_eq!(
            expand_path("~/a", base).unwrap(),
            PathBuf::from(format!("{home}/a"))
        );
        assert_eq!(
            expand_path("${HOME}/b", base).unwrap(),
            PathBuf::from(format!("{home}/b"))
        );
        assert!(
            expand_path("$JOBCTL_SURELY_UNSET_VAR/x", base)
                .unwrap_err()
                .contains("not set")
        );
    }
}
