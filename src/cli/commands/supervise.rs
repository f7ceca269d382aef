//! `jobctl supervise RUN_ID --lock-fd N` (internal): the detached process the tick starts
//! for each run. It inherits the job's lease on fd N and supervises the run to its end.
//!
//! It starts with SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 blocked (the tick set the
//! mask before exec); `Signals::register` unblocks them once they are handled, so a
//! `cancel` or a `run --wait` interrupt that comes while it starts is not its death.

use std::path::Path;

use crate::cli::args::Global;
use crate::core::error::Result;
use crate::core::run::RunStatus;
use crate::engine::supervise::{self, Detached};
use crate::exec::process;

pub fn execute(g: &Global, run_id: i64, lock_fd: i32, state_dir: &Path) -> Result<u8> {
    let cfg = crate::cli::load_config(g);
    // SAFETY: the tick passed this descriptor to this process alone.
    let done = unsafe { supervise::detached(cfg.as_deref(), run_id, lock_fd, state_dir)? };
    Ok(match done {
        Detached::NotStarted => 1,
        Detached::Supervised(d) => match d.interrupted {
            Some(sig) => process::interrupted_exit(sig),
            None => u8::from(d.record.status != RunStatus::Succeeded),
        },
    })
}
