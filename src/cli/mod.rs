//! The command line on top of the engine: from argv to exit code. Parse the arguments,
//! set up logging and output, dispatch to one thin command (parse → engine → render), and
//! print an error once, with its whole context, at the top.

pub(crate) mod args;
pub(crate) mod commands;
pub(crate) mod complete;
pub(crate) mod json_text;
mod man;
pub(crate) mod output;
pub(crate) mod table;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use serde::Serialize;

use crate::config::Config;
use crate::core::error::{ConfigIssue, Error, Result, code};
use args::{Cli, Command, Configure, Global, Reset, StateCommand, WorkspacesAction};
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
    // A shell asking for completions (COMPLETE=bash ...) is answered here and exits;
    // otherwise this only looks at one environment variable.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command).complete();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let ui = Ui::new(&cli.global);
    // The server says what it does (each write, with who made it) by default.
    let serving = matches!(cli.command, args::Command::Serve(_));
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
        Command::Next(a) => {
            commands::next::execute(g, ui, &a.name, a.n as usize, a.from.as_deref())
        }
        Command::List(a) => commands::list::execute(g, ui, a.wide),
        Command::History(a) => commands::history::execute(g, ui, a),
        Command::Pause(a) => commands::pause::execute(g, ui, a.run_id, a.job.as_deref(), true),
        Command::Resume(a) => commands::pause::execute(g, ui, a.run_id, a.job.as_deref(), false),
        Command::Submit(a) => {
            commands::submit::execute(g, ui, &a.name, a.wait, a.prompt.as_deref(), &a.env)
        }
        Command::Rerun(a) => commands::rerun::execute(g, ui, a.run_id, a.wait),
        Command::Wait(a) => commands::wait::execute(g, ui, &a.run_ids),
        Command::Events(a) => commands::events::execute(g, ui, a.run, a.follow, a.n),
        Command::Logs(a) => commands::logs::execute(
            g,
            ui,
            commands::logs::LogsArgs {
                run_id: a.run_id,
                job: a.job.as_deref(),
                follow: a.follow,
                tail: a.tail,
                timestamps: a.timestamps,
            },
        ),
        Command::Show(a) => commands::show::execute(g, ui, a.run_id, a.job.as_deref()),
        Command::Workspaces { action } => match action {
            None => commands::workspaces::list(g, ui),
            Some(WorkspacesAction::Clean {
                older_than,
                dry_run,
                discard,
            }) => commands::workspaces::clean(g, ui, older_than.as_deref(), *dry_run, *discard),
        },
        Command::Run(a) => {
            commands::run::execute(g, ui, a.job.as_deref(), a.force, a.dry_run, a.wait)
        }
        Command::Force(a) => commands::force::execute(g, ui, &a.name),
        Command::Cancel(a) => commands::cancel::execute(g, ui, a.run_id, a.job.as_deref()),
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
        Command::Init { print } => commands::init::execute(g, ui, *print),
        Command::Edit => commands::edit::execute(g, ui),
        Command::Import(a) => commands::import::execute(g, ui, a.format, &a.file, a.append),
        Command::State(StateCommand::Migrate { to }) => commands::state::migrate(g, ui, to),
        Command::Completions { shell } => commands::docs::completions(*shell),
        Command::Man(a) => commands::docs::man(a.page.as_deref(), a.dir.as_deref()),
        Command::Serve(a) => commands::serve::serve(
            g,
            a.listen,
            a.socket.as_deref(),
            a.max_connections as usize,
            a.schedule.then_some(a.log_format),
        ),
        Command::Scheduler { log_format } => commands::serve::scheduler(g, *log_format),
        Command::Token(t) => commands::serve::token(g, ui, t),
        Command::Mcp => crate::mcp::serve_stdio(crate::config::load(g.config.as_deref())?),
        Command::Ask(a) => commands::ask::execute(
            g,
            ui,
            commands::ask::AskArgs {
                scope: &a.scope,
                agent: a.agent.as_deref(),
                thinking: &a.thinking,
                timeout: &a.timeout,
                prompt: &a.prompt,
            },
        ),
        Command::AfterLost { run_id, state_dir } => {
            commands::supervise::after_lost(g, *run_id, state_dir)
        }
        Command::Supervise(a) => commands::supervise::execute(
            g,
            a.run_id,
            commands::supervise::Handed {
                lock_fd: a.lock_fd,
                lease_epoch: a.lease_epoch,
                host: a.host.as_deref(),
                state_dir: &a.state_dir,
            },
        ),
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

/// A command line clap refused (or `--help`/`--version`, which are not errors): its text
/// on stderr (help on stdout), and with `--json` the error document on stdout.
fn usage_error(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    if !e.use_stderr() {
        return ExitCode::from(code::OK);
    }
    let wants_json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    if wants_json {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or("").trim();
        let message = first.strip_prefix("error: ").unwrap_or(first);
        let doc = ErrorDoc {
            error: ErrorBody {
                exit_code: code::USAGE,
                message,
                errors: &[],
            },
        };
        let v = serde_json::to_value(&doc).unwrap_or(serde_json::Value::Null);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        );
    }
    ExitCode::from(code::USAGE)
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
