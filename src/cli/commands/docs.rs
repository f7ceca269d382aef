//! `jobctl completions SHELL` and `jobctl man`: generated from the clap definitions (and,
//! for jobctl.toml(5), from docs/configuration.md), so they can't drift from the real
//! command line and config reference.
//!
//! Completions are dynamic: the script the shell sources calls jobctl back as you type
//! (clap_complete's `CompleteEnv`, answered at the top of `cli::main`), so job, agent and
//! scope names come from the config of the moment.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::args::{Cli, CompletionShell};
use crate::core::error::{Error, Result, code};

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
        for (name, section, text) in all_pages()? {
            let d = dir.join(format!("man{section}"));
            std::fs::create_dir_all(&d).with_context(|| format!("can't create {}", d.display()))?;
            let f = d.join(format!("{name}.{section}"));
            std::fs::write(&f, text).with_context(|| format!("can't write {}", f.display()))?;
        }
        return Ok(code::OK);
    }
    let text = match page {
        None | Some("jobctl") => main_page()?,
        Some("jobctl.toml") | Some("config") => config_page(),
        Some(cmd) => {
            let cmd = cmd.strip_prefix("jobctl-").unwrap_or(cmd);
            let root = Cli::command();
            let Some(sub) = root
                .get_subcommands()
                .find(|s| s.get_name() == cmd && !s.is_hide_set())
            else {
                let names: Vec<&str> = root
                    .get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .map(|s| s.get_name())
                    .chain(["jobctl.toml"])
                    .collect();
                return Err(Error::Usage(format!(
                    "no man page '{cmd}'{}; pages: jobctl, {}",
                    crate::core::names::hint(cmd, names.iter().copied()),
                    names.join(", ")
                )));
            };
            command_page(sub)?
        }
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(code::OK)
}

/// Every page: `(name, section, roff)`.
fn all_pages() -> Result<Vec<(String, u8, String)>> {
    let mut pages = vec![
        ("jobctl".to_string(), 1, main_page()?),
        ("jobctl.toml".to_string(), 5, config_page()),
    ];
    for sub in Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
    {
        pages.push((format!("jobctl-{}", sub.get_name()), 1, command_page(sub)?));
    }
    Ok(pages)
}

fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<String> {
    let mut out = Vec::new();
    f(&mut out).context("can't render the man page")?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// jobctl(1): the synopsis, options and commands, then what every command shares.
fn main_page() -> Result<String> {
    let mut text = render(|out| clap_mangen::Man::new(Cli::command()).render(out))?;
    text.push_str(&common_sections(None));
    Ok(text)
}

/// jobctl-COMMAND(1).
fn command_page(sub: &clap::Command) -> Result<String> {
    // Names live as long as the process: one page is rendered per command.
    let name: &'static str = Box::leak(format!("jobctl-{}", sub.get_name()).into_boxed_str());
    let bin: &'static str = Box::leak(format!("jobctl {}", sub.get_name()).into_boxed_str());
    let cmd = sub.clone().name(name).bin_name(bin);
    let mut text = render(|out| {
        clap_mangen::Man::new(cmd)
            .title(name.to_uppercase())
            .render(out)
    })?;
    text.push_str(&common_sections(Some(sub.get_name())));
    Ok(text)
}

/// EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO, the same on every page.
fn common_sections(command: Option<&str>) -> String {
    let mut s = String::from(
        r#".SH "EXIT STATUS"
.TP
\fB0\fR
success; nothing due; a tick that found another tick holding the lock
.TP
\fB1\fR
a run this command waited for failed, timed out, was cancelled, lost or skipped; an unknown job, agent or run; other errors
.TP
\fB1\-127\fR
\fBforce\fR: the job's own exit code (126: not executable, 127: not found)
.TP
\fB2\fR
wrong command line
.TP
\fB69\fR
\fBask\fR: no agent available
.TP
\fB74\fR
the state directory, database or a lock file can't be used, or is unsafe
.TP
\fB75\fR
\fBforce\fR: the job is already running
.TP
\fB78\fR
the configuration is invalid (nothing ran, nothing changed)
.TP
\fB124\fR
\fBforce\fR or \fBask\fR: the run timed out
.TP
\fB128+N\fR
\fBforce\fR: the job was killed by signal N
.TP
\fB129\fR, \fB130\fR, \fB143\fR
interrupted by SIGHUP, SIGINT, SIGTERM after stopping its runs
.SH ENVIRONMENT
.TP
\fBJOBCTL_CONFIG\fR
the config file (else \fB$JOBCTL_HOME/jobctl.toml\fR, else \fB$XDG_CONFIG_HOME/jobctl/jobctl.toml\fR)
.TP
\fBJOBCTL_HOME\fR
moves config, state and caches under one directory
.TP
\fBJOBCTL_NOW\fR
an RFC 3339 time taken as "now" for schedules, due checks and the budget day (what\-if checks)
.TP
\fBJOBCTL_LOG\fR, \fBRUST_LOG\fR
a log filter such as \fBjobctl=debug\fR (replaces \fB\-v\fR/\fB\-q\fR)
.TP
\fBNO_COLOR\fR
no colour
.TP
\fBVISUAL\fR, \fBEDITOR\fR
the editor of \fBjobctl edit\fR
.TP
\fBCOLUMNS\fR
the terminal width tables fit
.TP
\fBXDG_CONFIG_HOME\fR, \fBXDG_STATE_HOME\fR, \fBXDG_CACHE_HOME\fR
where config, state and caches go without \fBJOBCTL_HOME\fR
.SH FILES
.TP
\fB~/.config/jobctl/jobctl.toml\fR
the config (see \fBjobctl.toml\fR(5))
.TP
\fB~/.local/state/jobctl/\fR
the state directory (or \fBrunner.state_dir\fR, or \fB$JOBCTL_HOME/state\fR): \fBjobctl.db\fR (SQLite), \fBjobctl.lock\fR (the tick lock), \fBlocks/\fR, \fBlogs/JOB/RUN.log\fR, \fBsupervisors.log\fR
.TP
\fB~/.cache/jobctl/\fR
config snapshots (under \fBSTATE_DIR/cache\fR when the config names a state directory)
.SH "SEE ALSO"
"#,
    );
    let mut also: Vec<String> = vec!["\\fBjobctl.toml\\fR(5)".into()];
    if command.is_some() {
        also.insert(0, "\\fBjobctl\\fR(1)".into());
    } else {
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            also.push(format!("\\fBjobctl\\-{}\\fR(1)", sub.get_name()));
        }
    }
    s.push_str(&also.join(", "));
    s.push('\n');
    s
}

/// jobctl.toml(5): docs/configuration.md, turned into roff.
pub(crate) fn config_page() -> String {
    let mut s = String::from(
        ".TH JOBCTL.TOML 5 \"\" \"jobctl\" \"File Formats\"\n.SH NAME\njobctl.toml \\- the configuration of jobctl\n",
    );
    s.push_str(&markdown_to_roff(include_str!(
        "../../../docs/configuration.md"
    )));
    s.push_str(".SH \"SEE ALSO\"\n\\fBjobctl\\fR(1), \\fBjobctl\\-check\\fR(1), \\fBjobctl\\-edit\\fR(1)\n");
    s
}

/// The little Markdown the docs use (headings, paragraphs, lists, tables, code blocks,
/// inline code, bold, links) as roff.
fn markdown_to_roff(md: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for line in md.lines() {
        if line.starts_with("```") {
            out.push_str(if in_code {
                ".fi\n.RE\n"
            } else {
                ".RS 2\n.nf\n"
            });
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push_str(&escape_line(line));
            out.push('\n');
            continue;
        }
        let t = line.trim_end();
        if t.is_empty() {
            out.push_str(".PP\n");
        } else if let Some(h) = t.strip_prefix("# ") {
            let _ = h; // the page's title is its NAME
        } else if let Some(h) = t.strip_prefix("## ") {
            out.push_str(&format!(
                ".SH \"{}\"\n",
                plain(h).to_uppercase().replace('"', "")
            ));
        } else if let Some(h) = t.strip_prefix("### ") {
            out.push_str(&format!(".SS \"{}\"\n", plain(h).replace('"', "")));
        } else if t.starts_with('|') {
            let cells: Vec<&str> = t.trim_matches('|').split('|').map(str::trim).collect();
            if cells
                .iter()
                .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
            {
                continue;
            }
            out.push_str(".TP\n");
            out.push_str(&escape_line(&inline(cells[0])));
            out.push('\n');
            let rest: Vec<String> = cells[1..]
                .iter()
                .filter(|c| !c.is_empty())
                .map(|c| inline(c))
                .collect();
            out.push_str(&escape_line(&rest.join(" \u{2014} ")));
            out.push('\n');
        } else if let Some(item) = t.strip_prefix("- ") {
            out.push_str(".IP \\(bu 2\n");
            out.push_str(&escape_line(&inline(item)));
            out.push('\n');
        } else {
            out.push_str(&escape_line(&inline(t.trim_start())));
            out.push('\n');
        }
    }
    out
}

/// Inline Markdown as roff fonts: `code` and **bold** bold, [text](link) as its text.
fn inline(s: &str) -> String {
    let s = s.replace('\\', "\\e");
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find(['`', '[', '*']) {
        out.push_str(&rest[..i]);
        let r = &rest[i..];
        if let Some(body) = r.strip_prefix('`')
            && let Some(end) = body.find('`')
        {
            out.push_str(&format!("\\fB{}\\fR", &body[..end]));
            rest = &body[end + 1..];
        } else if let Some(body) = r.strip_prefix("**")
            && let Some(end) = body.find("**")
        {
            out.push_str(&format!("\\fB{}\\fR", &body[..end]));
            rest = &body[end + 2..];
        } else if let Some(body) = r.strip_prefix('[')
            && let Some(end) = body.find("](")
            && let Some(close) = body[end..].find(')')
        {
            out.push_str(&body[..end]);
            rest = &body[end + close + 1..];
        } else {
            out.push_str(&r[..1]);
            rest = &r[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Text without its Markdown.
fn plain(s: &str) -> String {
    s.replace(['`', '*'], "")
}

/// A line roff won't read as a request.
fn escape_line(s: &str) -> String {
    let s = s.replace('-', "\\-");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_roff() {
        let r = markdown_to_roff(
            "# T\n\n## Keys\n\n| key | type |\n|---|---|\n| `scope` | string |\n\n- one `x`\n\n```toml\n.dot = 1\n```\n",
        );
        assert!(r.contains(".SH \"KEYS\""), "{r}");
        assert!(r.contains(".TP\n\\fBscope\\fR\nstring"), "{r}");
        assert!(r.contains(".IP \\(bu 2\none \\fBx\\fR"), "{r}");
        assert!(r.contains(".nf\n\\&.dot = 1\n.fi"), "{r}");
        assert!(!r.contains("|---"), "{r}");
    }
}
