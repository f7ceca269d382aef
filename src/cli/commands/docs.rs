//! `jobctl completions SHELL` and `jobctl man`: generated from the clap definitions (and,
//! for jobctl.toml(5), from docs/configuration.md: the pages are `cli/man/`'s), so they
//! can't drift from the real command line and config reference.
//!
//! Completions are dynamic: the script the shell sources calls jobctl back as you type
//! (clap_complete's `CompleteEnv`, answered at the top of `cli::main`), so job, agent and
//! scope names come from the config of the moment.

use std::io::Write;
use std::path::Path;

use crate::cli::args::CompletionShell;
use crate::core::error::{Error, Result, code};
use anyhow::Context;

pub(crate) fn completions(shell: CompletionShell) -> Result<u8> {
    use clap_complete::env::EnvCompleter;
    let shell: &dyn EnvCompleter = match shell {
        CompletionShell::Bash => &clap_complete::env::Bash,
        CompletionShell::Zsh => &clap_complete::env::Zsh,
        CompletionShell::Fish => &clap_complete::env::Fish,
    };
    // The program the shell calls back: this one, wherever it was started from.
    let me = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .filter(|p| p.components().count() > 1)
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "jobctl".into());
    let mut out = Vec::new();
    shell
        .write_registration("COMPLETE", "jobctl", "jobctl", &me, &mut out)
        .context("can't write the completion script")?;
    let _ = std::io::stdout().write_all(&out);
    Ok(code::OK)
}

/// `man [PAGE]` prints one page; `man --dir DIR` writes them all.
pub(crate) fn man(page: Option<&str>, dir: Option<&Path>) -> Result<u8> {
    if let Some(dir) = dir {
        for p in crate::cli::man::all_pages() {
            let d = dir.join(format!("man{}", p.section));
            std::fs::create_dir_all(&d).with_context(|| format!("can't create {}", d.display()))?;
            let f = d.join(format!("{}.{}", p.name, p.section));
            std::fs::write(&f, p.text).with_context(|| format!("can't write {}", f.display()))?;
        }
        return Ok(code::OK);
    }
    let name = page.unwrap_or("jobctl");
    let Some(p) = crate::cli::man::page(name) else {
        let names = crate::cli::man::page_names();
        let cmd = name.strip_prefix("jobctl-").unwrap_or(name);
        return Err(Error::Usage(format!(
            "no man page '{cmd}'{}; pages: jobctl, {}",
            crate::core::names::hint(cmd, names.iter().map(String::as_str)),
            names.join(", ")
        )));
    };
    let _ = std::io::stdout().write_all(p.text.as_bytes());
    Ok(code::OK)
}
