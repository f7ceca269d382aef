//! `jobctl cancel`: stop a running run the way a timeout does and record it `cancelled`.

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::{Result, code};
use crate::core::run::Actor;
use crate::engine::cancel::{self, Target};
use crate::engine::views::RunView;

pub(crate) fn execute(g: &Global, ui: &Ui, run_id: Option<i64>, job: Option<&str>) -> Result<u8> {
    let mut e = super::engine(g)?;
    let target = match (run_id, job) {
        (Some(id), _) => Target::Run(id),
        (None, Some(j)) => Target::Job(j),
        (None, None) => crate::fail!(Usage, "give a RUN_ID or --job NAME"),
    };
    let r = cancel::cancel(&mut e, target, &Actor::Cli)?;
    if ui.json {
        ui.print_view(&RunView::from(&r));
    } else {
        ui.print(&format!(
            "cancelled run {} of {}: {}",
            r.id, r.job, r.status
        ));
    }
    Ok(code::OK)
}
