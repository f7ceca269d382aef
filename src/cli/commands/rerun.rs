//! `jobctl rerun RUN_ID`: make an ended run again (`engine::rerun`): the same job, prompt,
//! environment and metadata. Prints the new run's id, or with `--wait` waits and exits
//! with its result, as `force` does.

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::Result;
use crate::core::run::Actor;
use crate::engine::rerun;

pub(crate) fn execute(g: &Global, ui: &Ui, run_id: i64, wait: bool) -> Result<u8> {
    let mut e = super::engine(g)?;
    let run = rerun::rerun(&mut e, run_id, wait, &Actor::Cli)?;
    super::submit::answer(&mut e, ui, &run, wait)
}
