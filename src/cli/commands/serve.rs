//! `jobctl serve` and `jobctl token`: the control API and the tokens that open it.

use std::net::SocketAddr;
use std::path::Path;

use serde::Serialize;

use crate::cli::args::{Global, LogFormatArg, Token, TokenScope};
use crate::cli::output::Ui;
use crate::core::error::{Error, Result, code};
use crate::core::units::parse_duration;
use crate::engine::Engine;
use crate::http::{self, ServeOptions, auth};

pub(crate) fn serve(
    g: &Global,
    listen: SocketAddr,
    socket: Option<&Path>,
    max_connections: usize,
    schedule: Option<LogFormatArg>,
) -> Result<u8> {
    let config = crate::config::find_config_file(g.config.as_deref())?;
    http::serve(ServeOptions {
        config,
        listen,
        socket: socket.map(Path::to_path_buf),
        max_connections,
        schedule: schedule.map(log),
    })
}

/// `jobctl scheduler`.
pub(crate) fn scheduler(g: &Global, format: LogFormatArg) -> Result<u8> {
    let config = crate::config::find_config_file(g.config.as_deref())?;
    crate::scheduler::run(crate::scheduler::Options {
        config,
        log: log(format),
    })
}

fn log(format: LogFormatArg) -> crate::scheduler::Log {
    crate::scheduler::Log {
        format: match format {
            LogFormatArg::Text => crate::scheduler::LogFormat::Text,
            LogFormatArg::Json => crate::scheduler::LogFormat::Json,
        },
    }
}

#[derive(Serialize)]
struct TokenView {
    token: String,
    sub: String,
    scopes: Vec<&'static str>,
    expires_in_s: u64,
    jobs: Option<Vec<String>>,
}

pub(crate) fn token(g: &Global, ui: &Ui, t: &Token) -> Result<u8> {
    let cfg = crate::cli::load_config(g)?;
    let state_dir = Engine::open(cfg)?.state_dir().to_path_buf();
    match t {
        Token::Create {
            scope,
            sub,
            ttl,
            jobs,
        } => {
            let ttl = parse_duration(ttl).map_err(|e| Error::Usage(format!("--ttl: {e}")))?;
            for j in jobs {
                glob::Pattern::new(j).map_err(|e| {
                    Error::Usage(format!("--jobs {j:?} is not a glob pattern: {e}"))
                })?;
            }
            let scopes = match scope {
                TokenScope::Read => vec![auth::READ],
                TokenScope::Write => vec![auth::WRITE],
            };
            let jobs = (!jobs.is_empty()).then(|| jobs.clone());
            let key = auth::Key::load_or_create(&state_dir)?;
            let token = key.issue(sub, &scopes, ttl, jobs.clone())?;
            if ui.json {
                ui.print_view(&TokenView {
                    token,
                    sub: sub.clone(),
                    scopes,
                    expires_in_s: ttl.as_secs(),
                    jobs,
                });
            } else {
                ui.print(&token);
            }
        }
        Token::Rotate => {
            auth::Key::rotate(&state_dir)?;
            if !ui.quiet {
                ui.print("made a new API key: every token made before this stops working");
            }
        }
    }
    Ok(code::OK)
}
