//! `jobctl import FORMAT FILE`: another scheduler's jobs as jobctl TOML on stdout, and on
//! stderr what could not be carried over (also in the TOML, as comments). `--append` adds
//! them to the config file instead, as `edit` saves: only a valid result is written
//! (renamed into place), and a job name the config has already is named.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

use crate::cli::args::{Global, ImportFormat};
use crate::cli::output::Ui;
use crate::core::error::{Error, Result, code};
use crate::import;

pub(crate) fn execute(
    g: &Global,
    ui: &Ui,
    format: ImportFormat,
    file: &Path,
    append: bool,
) -> Result<u8> {
    let (text, source, dir) = if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("can't read stdin")?;
        let dir = std::env::current_dir().context("no current directory")?;
        (s, "stdin".to_string(), dir)
    } else {
        let s = std::fs::read_to_string(file)
            .with_context(|| format!("can't read {}", file.display()))?;
        let abs = crate::config::absolute_path(file);
        let dir = abs.parent().unwrap_or(Path::new("/")).to_path_buf();
        (s, file.display().to_string(), dir)
    };
    let bad = |what: &str, e: String| Error::Usage(format!("{source} is not {what}: {e}"));
    let out = match format {
        ImportFormat::Crontab => import::from_crontab(&text),
        ImportFormat::Teleclaude => import::from_teleclaude(&text, &dir)
            .map_err(|e| bad("a teleclaude.yml with a jobs section", e))?,
        ImportFormat::AiSettings => {
            import::from_ai_settings(&text).map_err(|e| bad("a job-finder ai-settings JSON", e))?
        }
    };
    let text = out.text(&source);
    if append {
        let (config, jobs) = append_to_config(g, &text)?;
        if !ui.quiet {
            ui.print(&format!(
                "ok: {} added to {}",
                crate::cli::output::count(jobs as i64, "job"),
                config.display()
            ));
        }
    } else {
        ui.print(&text);
    }
    if !ui.quiet {
        let mut err = std::io::stderr().lock();
        for n in &out.notes {
            let _ = writeln!(err, "jobctl: not carried over: {n}");
        }
    }
    Ok(code::OK)
}

/// Adds `imported` to the end of the config file when the result is valid; returns the
/// file and how many jobs were added.
fn append_to_config(g: &Global, imported: &str) -> Result<(std::path::PathBuf, usize)> {
    let path = crate::config::find_config_file(g.config.as_deref())?;
    let current =
        std::fs::read_to_string(&path).with_context(|| format!("can't read {}", path.display()))?;
    let names = |text: &str| -> Vec<String> {
        text.parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("jobs").and_then(|j| j.as_table()).cloned())
            .map(|j| j.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (have, adding) = (names(&current), names(imported));
    let clash: Vec<&String> = adding.iter().filter(|n| have.contains(n)).collect();
    if !clash.is_empty() {
        let list: Vec<String> = clash.iter().map(|n| format!("jobs.{n}")).collect();
        return Err(crate::config::whole_file(
            &path,
            format!(
                "already has {} that the import adds: rename them in the import (or remove them from the config) and import again; nothing was written",
                list.join(", ")
            ),
        )
        .into());
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(imported);
    crate::config::load_text(&path, &text)?;
    let tmp = path.with_file_name(format!(
        ".{}.import-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mode = std::fs::metadata(&path)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
        .unwrap_or(0o600);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e)
            .context(format!("can't write {}", path.display()))
            .into());
    }
    Ok((path, adding.len()))
}
