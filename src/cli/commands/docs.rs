//! `jobctl completions SHELL` and `jobctl man`: generated from the clap definitions, so
//! they can't drift from the real command line.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::args::{Cli, CompletionShell};
use crate::core::error::Result;

pub fn completions(shell: CompletionShell) -> Result<u8> {
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "jobctl", &mut out);
    let _ = std::io::stdout().write_all(&out);
    Ok(0)
}

pub fn man() -> Result<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("can't render the man page")?;
    // Subcommands get sections of their own, so `man jobctl` documents every command.
    for sub in Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
    {
        let name = sub.get_name().to_string();
        out.extend_from_slice(format!(".SH \"JOBCTL {}\"\n", name.to_uppercase()).as_bytes());
        let page = clap_mangen::Man::new(sub.clone());
        page.render_description_section(&mut out)?;
        page.render_options_section(&mut out)?;
        if sub.get_after_help().is_some() {
            page.render_extra_section(&mut out)?;
        }
    }
    let _ = std::io::stdout().write_all(&out);
    Ok(0)
}
