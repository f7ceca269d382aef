//! The man pages: jobctl(1), jobctl-COMMAND(1) from the clap definitions (so they can't
//! drift from the real command line), and jobctl.toml(5) from docs/configuration.md.
//!
//! Every page is built as one `roff::Roff`, which escapes text so roff reads none of it as
//! markup; clap_mangen supplies the name, description, options and command list.
//! What clap_mangen renders without what the reader needs is written here: the synopsis
//! (each option with its value, `--config PATH`), and the help's examples as EXAMPLES
//! (clap_mangen calls the after-help text "EXTRA"). Sections every page shares (EXIT
//! STATUS, ENVIRONMENT, FILES) are Markdown, rendered like the config reference.

mod markdown;

use clap::{Arg, ArgAction, CommandFactory};
use roff::{Inline, Roff, bold, italic, roman};

use crate::cli::args::Cli;

/// A page: its name (`jobctl-run`), section and roff text.
pub(crate) struct Page {
    pub(crate) name: String,
    pub(crate) section: u8,
    pub(crate) text: String,
}

/// The names `jobctl man PAGE` takes, besides `jobctl`: each visible command, and
/// `jobctl.toml`.
pub(crate) fn page_names() -> Vec<String> {
    commands()
        .map(|c| c.get_name().to_string())
        .chain(["jobctl.toml".to_string()])
        .collect()
}

/// The page `name` (`jobctl`, `jobctl.toml` or `config`, a command with or without its
/// `jobctl-`), or `None`.
pub(crate) fn page(name: &str) -> Option<Page> {
    match name {
        "jobctl" => Some(main_page()),
        "jobctl.toml" | "config" => Some(config_page()),
        _ => {
            let cmd = name.strip_prefix("jobctl-").unwrap_or(name);
            commands()
                .find(|s| s.get_name() == cmd)
                .map(|sub| command_page(&sub))
        }
    }
}

/// Every page.
pub(crate) fn all_pages() -> Vec<Page> {
    let mut pages = vec![main_page(), config_page()];
    pages.extend(commands().map(|sub| command_page(&sub)));
    pages
}

fn commands() -> impl Iterator<Item = clap::Command> {
    Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect::<Vec<_>>()
        .into_iter()
}

/// jobctl(1).
fn main_page() -> Page {
    let mut cmd = Cli::command();
    cmd.build();
    let mut text = clap_sections(&cmd, "JOBCTL");
    text.push_str(&common_sections(None).render());
    finish("jobctl", 1, &text)
}

/// jobctl-COMMAND(1).
fn command_page(sub: &clap::Command) -> Page {
    // clap takes static names; a process renders each page at most once.
    let name: &'static str = Box::leak(format!("jobctl-{}", sub.get_name()).into_boxed_str());
    let bin: &'static str = Box::leak(format!("jobctl {}", sub.get_name()).into_boxed_str());
    let mut cmd = sub.clone().name(name).bin_name(bin);
    cmd.build();
    let mut text = clap_sections(&cmd, &name.to_uppercase());
    text.push_str(&common_sections(Some(sub.get_name())).render());
    finish(name, 1, &text)
}

/// jobctl.toml(5): docs/configuration.md.
fn config_page() -> Page {
    let mut page = Roff::new();
    page.control("TH", ["JOBCTL.TOML", "5", "", "jobctl", "File Formats"])
        .control("SH", ["NAME"])
        .text([roman("jobctl.toml - the configuration of jobctl")])
        .control("SH", ["DESCRIPTION"]);
    markdown::render(include_str!("../../../docs/configuration.md"), &mut page);
    page.control("SH", ["SEE ALSO"]);
    page.text(see_also(&["jobctl", "jobctl-check", "jobctl-edit"]));
    finish("jobctl.toml", 5, &page.render())
}

/// Title, NAME, SYNOPSIS, DESCRIPTION, OPTIONS, COMMANDS and EXAMPLES of `cmd`, as roff.
fn clap_sections(cmd: &clap::Command, title: &str) -> String {
    let mut head = Roff::new();
    head.control("TH", [title, "1", "", "jobctl", "General Commands Manual"]);
    head.control("SH", ["NAME"]);
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    head.text([roman(format!("{} - {about}", cmd.get_name()))]);
    head.control("SH", ["SYNOPSIS"]);
    head.text(synopsis(cmd));
    let mut text = head.render().into_bytes();
    let man = clap_mangen::Man::new(cmd.clone()).title(title);
    // Writing to a Vec can't fail.
    let _ = man.render_description_section(&mut text);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = man.render_options_section(&mut text);
    }
    if cmd.has_subcommands() {
        let _ = man.render_subcommands_section(&mut text);
    }
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        let mut tail = Roff::new();
        after_help(&mut tail, &after.to_string());
        let _ = tail.to_writer(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// `jobctl [--config PATH] [--json] [-v|--verbose]... COMMAND`: every visible option with
/// its value, then the arguments, then the command.
fn synopsis(cmd: &clap::Command) -> Vec<Inline> {
    let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
    let mut line = vec![bold(name)];
    let visible = |a: &&Arg| !a.is_hide_set();
    for arg in cmd
        .get_arguments()
        .filter(visible)
        .filter(|a| !a.is_positional())
    {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => vec![bold(format!("-{s}")), roman("|"), bold(format!("--{l}"))],
            (Some(s), None) => vec![bold(format!("-{s}"))],
            (None, Some(l)) => vec![bold(format!("--{l}"))],
            (None, None) => continue,
        };
        line.push(roman(if arg.is_required_set() { " " } else { " [" }));
        line.extend(flag);
        if takes_value(arg) {
            line.push(roman(" "));
            line.push(italic(value_name(arg)));
        }
        if !arg.is_required_set() {
            line.push(roman("]"));
        }
        if matches!(arg.get_action(), ArgAction::Count | ArgAction::Append) {
            line.push(roman("..."));
        }
    }
    for arg in cmd.get_positionals().filter(visible) {
        let value = value_name(arg);
        line.push(roman(" "));
        if arg.is_required_set() {
            line.push(italic(value));
        } else {
            line.extend([roman("["), italic(value), roman("]")]);
        }
        if matches!(arg.get_action(), ArgAction::Append) {
            line.push(roman("..."));
        }
    }
    if cmd.has_subcommands() {
        line.push(roman(" "));
        line.push(italic("COMMAND"));
    }
    line
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.takes_values())
}

fn value_name(arg: &Arg) -> String {
    arg.get_value_names()
        .map(|v| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase())
}

/// The help's text after the options: `Examples:` and its indented lines become
/// EXAMPLES, shown as written; the root's `Environment:` line is left to ENVIRONMENT; any
/// other paragraph is a NOTES paragraph.
fn after_help(page: &mut Roff, text: &str) {
    let mut notes = Vec::new();
    for para in text.split("\n\n") {
        let (head, body) = para.split_once('\n').unwrap_or((para, ""));
        if matches!(head.trim(), "Examples:" | "Example:") {
            page.control("SH", ["EXAMPLES"]).control("nf", []);
            for line in body.lines() {
                page.text([roman(line)]);
            }
            page.control("fi", []);
        } else if !para.starts_with("Environment:") {
            notes.push(para.replace('\n', " "));
        }
    }
    if !notes.is_empty() {
        page.control("SH", ["NOTES"]);
        for n in notes {
            page.control("PP", []).text([roman(n)]);
        }
    }
}

/// EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO, the same on every command's page.
fn common_sections(command: Option<&str>) -> Roff {
    let mut page = Roff::new();
    markdown::render(COMMON, &mut page);
    page.control("SH", ["SEE ALSO"]);
    let mut also: Vec<String> = Vec::new();
    if command.is_some() {
        also.push("jobctl".into());
    }
    also.push("jobctl.toml".into());
    if command.is_none() {
        also.extend(commands().map(|c| format!("jobctl-{}", c.get_name())));
    }
    let also: Vec<&str> = also.iter().map(String::as_str).collect();
    page.text(see_also(&also));
    page
}

const COMMON: &str = r#"
## Exit status

| code | meaning |
|---|---|
| `0` | success; nothing due; a tick that found another tick holding the lock |
| `1` | a run this command waited for failed, timed out, was cancelled, lost or skipped; an unknown job, agent or run; other errors |
| `1-127` | `force`: the job's own exit code (126: not executable, 127: not found) |
| `2` | wrong command line |
| `69` | `ask`: no agent available |
| `74` | the state directory, database or a lock file can't be used, or is unsafe |
| `75` | `force`: the job is already running |
| `78` | the configuration is invalid (nothing ran, nothing changed) |
| `124` | `force` or `ask`: the run timed out |
| `128+N` | `force`: the job was killed by signal N |
| `129`, `130`, `143` | interrupted by SIGHUP, SIGINT, SIGTERM after stopping its runs |

## Environment

| variable | meaning |
|---|---|
| `JOBCTL_CONFIG` | the config file (else `$JOBCTL_HOME/jobctl.toml`, else `$XDG_CONFIG_HOME/jobctl/jobctl.toml`) |
| `JOBCTL_HOME` | moves config, state and caches under one directory |
| `JOBCTL_NOW` | an RFC 3339 time taken as "now" for schedules, due checks and the budget day (what-if checks) |
| `JOBCTL_LOG`, `RUST_LOG` | a log filter such as `jobctl=debug` (replaces `-v`/`-q`) |
| `NO_COLOR` | no colour |
| `VISUAL`, `EDITOR` | the editor of `jobctl edit` |
| `COLUMNS` | the terminal width tables fit |
| `XDG_CONFIG_HOME`, `XDG_STATE_HOME`, `XDG_CACHE_HOME` | where config, state and caches go without `JOBCTL_HOME` |

## Files

| file | meaning |
|---|---|
| `~/.config/jobctl/jobctl.toml` | the config (see **jobctl.toml**(5)) |
| `~/.local/state/jobctl/` | the state directory (or `runner.state_dir`, or `$JOBCTL_HOME/state`): `jobctl.db` (SQLite), `jobctl.lock` (the tick lock), `locks/`, `logs/JOB/RUN.log`, `supervisors.log` |
| `~/.cache/jobctl/` | config snapshots (under `STATE_DIR/cache` when the config names a state directory) |
"#;

/// `jobctl(1), jobctl.toml(5), ...`: each page in bold with its section.
fn see_also(pages: &[&str]) -> Vec<Inline> {
    let mut line = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        let section = if p.ends_with(".toml") { "(5)" } else { "(1)" };
        line.extend([bold(*p), roman(section)]);
    }
    line
}

/// The page's text from its parts: the apostrophe preamble the roff crate writes before
/// each part kept once, left aligned (no "cannot adjust" in a narrow terminal) and
/// never hyphenated (a path or a key cut in two reads as another), every
/// character outside ASCII as a groff escape (a page read without `preconv` shows it all
/// the same).
fn finish(name: &str, section: u8, parts: &str) -> Page {
    let mut text = String::with_capacity(parts.len() + parts.len() / 8);
    let mut preamble = 0;
    for line in parts.lines() {
        if line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq") {
            preamble += 1;
            if preamble > 2 {
                continue;
            }
        }
        push_ascii(&mut text, line);
        if line.starts_with(".TH ") {
            text.push_str(".ad l\n.nh\n");
        }
    }
    Page {
        name: name.to_string(),
        section,
        text,
    }
}

fn push_ascii(out: &mut String, line: &str) {
    for c in line.chars() {
        if c == markdown::BREAK {
            out.push_str("\\:");
        } else if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    out.push('\n');
}
