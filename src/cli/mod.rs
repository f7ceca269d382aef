//! The command line on top of the engine: from argv to exit code. Parse the arguments,
//! set up logging and output, dispatch to one thin command (parse → engine → render), and
//! print an error once, with its whole context, at the top.

pub mod args;
pub mod commands;
pub mod output;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use serde::Serialize;

use crate::config::Config;
use crate::core::error::{ConfigIssue, Error, Result, code};
use args::{Cli, Command, Configure, Global, Reset};
use output::Ui;

/// The config of this command. A command is one short process: its config lives until it
/// exits and is never freed (freeing a 1,000-job config one allocation at a time was 7% of
/// an idle tick). The library's `config::load` returns an owned config a server can drop.
pub(crate) fn load_config(g: &Global) -> Result<&'static Config> {
    Ok(Box::leak(Box::new(crate::config::load(
        g.config.as_deref(),
    )?)))
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                code::USAGE
            } else {
                code::OK
            });
        }
    };
    let ui = Ui::new(&cli.global);
    // The server says what it does (each write, with who made it) by default.
    let serving = matches!(cli.command, args::Command::Serve { .. });
    init_logging(cli.global.verbose + u8::from(serving), cli.global.quiet);
    match dispatch(&cli, &ui) {
        Ok(c) => ExitCode::from(c),
        Err(err) => {
            let c = err.exit_code();
            report(&ui, &err, c);
            ExitCode::from(c)
        }
    }
}

fn dispatch(cli: &Cli, ui: &Ui) -> Result<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::Check => commands::check::execute(g, ui),
        Command::Next { name, n, from } => {
            commands::next::execute(g, ui, name, *n as usize, from.as_deref())
        }
        Command::List => commands::list::execute(g, ui),
        Command::History { name, n } => commands::history::execute(g, ui, name.as_deref(), *n),
        Command::Logs {
            run_id,
            job,
            follow,
        } => commands::logs::execute(g, ui, *run_id, job.as_deref(), *follow),
        Command::Run {
            job,
            force,
            dry_run,
            wait,
        } => commands::run::execute(g, ui, job.as_deref(), *force, *dry_run, *wait),
        Command::Force { name } => commands::force::execute(g, ui, name),
        Command::Cancel { run_id, job } => {
            commands::cancel::execute(g, ui, *run_id, job.as_deref())
        }
        Command::Configure(Configure::Job { name, pause, .. }) => {
            commands::configure::job(g, ui, name, *pause)
        }
        Command::Reset(Reset::Job { name }) => commands::reset::job(g, ui, name),
        Command::Reset(Reset::Budgets { agent }) => {
            commands::reset::budgets(g, ui, agent.as_deref())
        }
        Command::Configure(Configure::Agent {
            name,
            scope,
            enable,
            reason,
            ..
        }) => commands::configure::agent(g, ui, name, scope.as_deref(), *enable, reason.as_deref()),
        Command::Status => commands::status::execute(g, ui),
        Command::Completions { shell } => commands::docs::completions(*shell),
        Command::Man => commands::docs::man(),
        Command::Serve { listen, socket } => commands::serve::serve(g, *listen, socket.as_deref()),
        Command::Token(t) => commands::serve::token(g, ui, t),
        Command::Ask {
            scope,
            agent,
            thinking,
            timeout,
            prompt,
        } => commands::ask::execute(
            g,
            ui,
            commands::ask::AskArgs {
                scope,
                agent: agent.as_deref(),
                thinking,
                timeout,
                prompt,
            },
        ),
        Command::Supervise {
            run_id,
            lock_fd,
            state_dir,
        } => commands::supervise::execute(g, *run_id, *lock_fd, state_dir),
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = std::env::var("JOBCTL_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("jobctl={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}

/// The `--json` error document.
#[derive(Serialize)]
struct ErrorDoc<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    exit_code: u8,
    message: &'a str,
    errors: &'a [ConfigIssue],
}

/// Prints an error: the human line(s) on stderr, and with `--json` the error document on
/// stdout.
fn report(ui: &Ui, err: &Error, c: u8) {
    let message = err.to_string();
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "jobctl: {message}");
    if ui.json {
        ui.print_view(&ErrorDoc {
            error: ErrorBody {
                exit_code: c,
                message: &message,
                errors: err.config_issues(),
            },
        });
    }
}
