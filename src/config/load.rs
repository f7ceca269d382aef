//! Loading a config file: finding it, refusing one that is too big, not UTF-8 or not
//! safely owned, and taking the snapshot when nothing it read has changed since.

use std::path::Path;

use super::{
    Config, ConfigErrors, ConfigIssue, MAX_CONFIG_BYTES, errors, find_config_file, parse, paths,
    safety, snapshot,
};
use crate::core::error::{Error, Result};

#[cfg(feature = "postgres")]
fn state_url_has_password(url: &str) -> bool {
    crate::store::postgres::url::url_has_password(url)
}

#[cfg(not(feature = "postgres"))]
fn state_url_has_password(_url: &str) -> bool {
    false
}

/// Finds and loads the config file (`--config` first, then the lookup order of config.md).
pub(crate) fn load(explicit: Option<&Path>) -> Result<Config> {
    let path = find_config_file(explicit)?;
    load_file(&path)
}

/// Like [`load`], but always parses and validates the file, and neither reads nor writes
/// a snapshot: `jobctl check` looks at the file itself and changes nothing.
pub(crate) fn load_fresh(explicit: Option<&Path>) -> Result<Config> {
    let path = find_config_file(explicit)?;
    load_path(&path, false)
}

/// Validates `text` as the config file at `path` would be (relative paths from its
/// directory), without reading the file or touching a snapshot: `jobctl edit` checks an
/// edited copy before it replaces the file.
pub(crate) fn load_text(path: &Path, text: &str) -> Result<Config> {
    let path = paths::absolute(path);
    if text.len() > MAX_CONFIG_BYTES {
        return Err(errors::whole_file(
            &path,
            format!(
                "is {} bytes; a config file may be at most {MAX_CONFIG_BYTES} bytes",
                text.len()
            ),
        )
        .into());
    }
    Ok(parse::parse_config(&path, text)?.0)
}

/// Reads, parses and validates one config file, or takes its snapshot when the file and
/// everything it refers to are unchanged since the snapshot was made.
pub fn load_file(path: &Path) -> Result<Config> {
    load_path(path, true)
}

fn load_path(path: &Path, use_snapshot: bool) -> Result<Config> {
    let path = paths::absolute(path);
    let display = path.display().to_string();
    let meta = std::fs::metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => paths::no_config(&path),
        _ => errors::whole_file(&path, format!("can't read the config file: {e}")),
    })?;
    if meta.is_dir() {
        return Err(errors::whole_file(&path, "is a directory, not a config file".into()).into());
    }
    if let Err(why) = safety::trusted_config(&meta) {
        return Err(Error::State(format!(
            "refusing the config {}: {why}",
            path.display()
        )));
    }
    if meta.len() as usize > MAX_CONFIG_BYTES {
        return Err(errors::whole_file(
            &path,
            format!(
                "is {} bytes; a config file may be at most {} bytes",
                meta.len(),
                MAX_CONFIG_BYTES
            ),
        )
        .into());
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| errors::whole_file(&path, format!("can't read the config file: {e}")))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let valid = std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or("");
            let (line, column) = errors::line_col(valid, at);
            return Err(ConfigErrors {
                issues: vec![ConfigIssue {
                    file: display,
                    line,
                    column,
                    key: String::new(),
                    expected: "UTF-8 text (found a byte sequence that is not UTF-8)".into(),
                }],
            }
            .into());
        }
    };
    if use_snapshot && let Some(config) = snapshot::read(&path, &text) {
        return Ok(config);
    }
    let (mut config, inputs) = parse::parse_config(&path, &text)?;
    config.read_files = inputs.read_paths();
    // A password in the state URL is never written to disk by jobctl.
    let secret = config
        .state
        .as_ref()
        .is_some_and(|s| state_url_has_password(&s.url));
    if use_snapshot && !secret {
        snapshot::write(&path, &text, &inputs, &config);
    }
    Ok(config)
}
