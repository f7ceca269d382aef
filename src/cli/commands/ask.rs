//! `jobctl ask`: a one-shot agent call without tools, for programs other than the
//! scheduler, sharing the agents, their scopes and their budget. Recorded in history as
//! job `ask`.

use std::io::Read;

use anyhow::Context;

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::{Result, code};
use crate::engine::ask::{self, AskOutcome, AskRequest};
use crate::exec::signal;

pub(crate) struct AskArgs<'a> {
    pub(crate) scope: &'a str,
    pub(crate) agent: Option<&'a str>,
    pub(crate) thinking: &'a str,
    pub(crate) timeout: &'a str,
    pub(crate) prompt: &'a str,
}

pub(crate) fn execute(g: &Global, ui: &Ui, a: AskArgs<'_>) -> Result<u8> {
    let cfg = crate::cli::load_config(g)?;
    let req = AskRequest {
        scope: a.scope,
        agent: a.agent,
        thinking: a.thinking,
        timeout: a.timeout,
    };
    let checked = ask::check(cfg, &req)?;
    let prompt = if a.prompt == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("can't read the prompt from stdin")?;
        s
    } else {
        a.prompt.to_string()
    };
    ask::check_prompt(&prompt)?;
    super::warn_if_root(cfg);
    let mut e = crate::engine::Engine::open(cfg)?;
    match ask::ask(&mut e, &req, checked, &prompt)? {
        AskOutcome::Answered(v) => {
            if ui.json {
                ui.print_view(&v);
            } else {
                ui.print(&v.result);
            }
            Ok(code::OK)
        }
        AskOutcome::Interrupted(sig) => Ok(signal::interrupted_exit(sig)),
    }
}
