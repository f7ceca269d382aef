//! `jobctl edit`: the config in `$VISUAL` or `$EDITOR`, like `crontab -e`. The editor
//! works on a private copy beside the file; the copy replaces the config (renamed into
//! place, so no reader ever sees half of it) only once it validates. An invalid copy is
//! offered for editing again when there is a terminal to ask on; otherwise (or when the
//! answer is no) it is dropped and the config stays as it was. No config yet: the copy
//! starts as `jobctl init`'s starter.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::{Error, Result, code};

pub(crate) fn execute(g: &Global, ui: &Ui) -> Result<u8> {
    let path = target(g)?;
    let original = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("can't read {}", path.display()))
                .into());
        }
    };
    let start = original
        .clone()
        .unwrap_or_else(|| super::init::starter(&[], &super::init::jobs_path(&[])));
    let copy = Copy::new(&path, &start)?;
    loop {
        run_editor(&copy.path)?;
        let text = std::fs::read_to_string(&copy.path)
            .with_context(|| format!("can't read the edited copy {}", copy.path.display()))?;
        if original.as_deref() == Some(text.as_str()) {
            if !ui.quiet {
                ui.print(&format!("{}: no changes", path.display()));
            }
            return Ok(code::OK);
        }
        // Errors name the file the edit is kept in when it is not saved, so their lines
        // can be looked up there.
        let rejected = rejected_path(&path);
        match crate::config::load_text(&rejected, &text) {
            Ok(cfg) => {
                copy.install(&path)?;
                if !ui.quiet {
                    ui.print(&format!(
                        "ok: {}, {} ({})",
                        crate::cli::output::count(cfg.jobs.len() as i64, "job"),
                        crate::cli::output::count(cfg.agents.len() as i64, "agent"),
                        path.display()
                    ));
                }
                return Ok(code::OK);
            }
            Err(err) => {
                // With a terminal: the errors, then the question; without one the errors
                // are this command's error, said once.
                let interactive = std::io::stdin().is_terminal();
                if interactive {
                    let _ = writeln!(std::io::stderr(), "jobctl: {err}");
                    if ask_again()? {
                        continue;
                    }
                }
                copy.keep_as(&rejected)?;
                let _ = writeln!(
                    std::io::stderr(),
                    "jobctl: the edit was not saved; {} is unchanged; the edit is kept in {}",
                    path.display(),
                    rejected.display()
                );
                // Said already on the terminal: only the exit code is left to give.
                return if interactive {
                    Ok(code::CONFIG)
                } else {
                    Err(err)
                };
            }
        }
    }
}

fn target(g: &Global) -> Result<PathBuf> {
    match crate::config::find_config_file(g.config.as_deref()) {
        Ok(p) => Ok(p),
        // Nothing there yet: edit a new one where it would be looked for.
        Err(_) => match &g.config {
            Some(p) => Ok(p.clone()),
            None => std::env::var_os("JOBCTL_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(crate::config::default_config_file)
                .ok_or_else(|| Error::Usage("no home directory; pass --config PATH".into())),
        },
    }
}

/// `jobctl.toml.rejected` beside `config`: where an edit that was not saved is kept.
pub(crate) fn rejected_path(config: &Path) -> PathBuf {
    let mut name = config
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "jobctl.toml".into());
    name.push(".rejected");
    config.with_file_name(name)
}

/// "Edit again?" on the terminal, when there is one to ask on; no terminal: no.
fn ask_again() -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    eprint!("jobctl: edit again? [Y/n] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    let a = answer.trim().to_lowercase();
    Ok(a.is_empty() || a == "y" || a == "yes")
}

/// `$VISUAL`, else `$EDITOR`, else `vi`; a value with arguments (`code --wait`) is split
/// at whitespace.
fn run_editor(file: &Path) -> Result<()> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    let status = Command::new(program)
        .args(words)
        .arg(file)
        .status()
        .map_err(|e| Error::Failed(format!("can't start the editor {editor:?}: {e}")))?;
    if !status.success() {
        return Err(Error::Failed(format!(
            "the editor {editor:?} failed ({status}); the config is unchanged"
        )));
    }
    Ok(())
}

/// The copy the editor works on: `.jobctl.toml.edit-PID` beside the config, 0600,
/// removed unless it was installed.
struct Copy {
    path: PathBuf,
}

impl Copy {
    fn new(config: &Path, text: &str) -> Result<Copy> {
        let dir = config
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("can't create {}", dir.display()))?;
        let name = config
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "jobctl.toml".into());
        let path = dir.join(format!(".{name}.edit-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("can't create {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("can't write {}", path.display()))?;
        Ok(Copy { path })
    }

    /// Keeps the copy as `to` (replacing an earlier one) instead of removing it.
    fn keep_as(&self, to: &Path) -> Result<()> {
        std::fs::rename(&self.path, to)
            .with_context(|| format!("can't keep the edit as {}", to.display()))?;
        Ok(())
    }

    /// Renames the copy over the config: readers see the old file or the new one.
    fn install(&self, config: &Path) -> Result<()> {
        std::fs::rename(&self.path, config)
            .with_context(|| format!("can't replace {}", config.display()))?;
        Ok(())
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
