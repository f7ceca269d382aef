//! `jobctl import FORMAT FILE`: another scheduler's jobs as jobctl TOML on stdout, and on
//! stderr what could not be carried over (also in the TOML, as comments).

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;

use crate::cli::args::ImportFormat;
use crate::cli::output::Ui;
use crate::core::error::{Error, Result, code};
use crate::import;

pub(crate) fn execute(ui: &Ui, format: ImportFormat, file: &Path) -> Result<u8> {
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
    ui.print(&out.text(&source));
    if !ui.quiet {
        let mut err = std::io::stderr().lock();
        for n in &out.notes {
            let _ = writeln!(err, "jobctl: not carried over: {n}");
        }
    }
    Ok(code::OK)
}
