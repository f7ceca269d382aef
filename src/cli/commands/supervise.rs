//! `jobctl supervise RUN_ID --lock-fd N` (internal): the detached process the tick starts
//! for each run. It inherits the job's lease on fd N and supervises the run to its end.
//! And `jobctl after-lost RUN_ID` (internal): the detached process that finishes a run
//! another command recorded `lost` (`engine::after_lost`).
//!
//! It starts with SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 blocked (the tick set the
//! mask before exec); its handlers (`exec::signal`) unblock them once they are in place, so a
//! `cancel` or a `run --wait` interrupt that comes while it starts is not its death.

use std::path::Path;

use crate::cli::args::Global;
use crate::coord::Handover;
use crate::core::error::{Error, Result};
use crate::core::run::RunStatus;
use crate::engine::StateTarget;
use crate::engine::supervise::{self, Detached};
use crate::exec::signal;

/// How the lease was handed over, and where the state is.
pub(crate) struct Handed<'a> {
    pub(crate) lock_fd: Option<i32>,
    pub(crate) lease_epoch: Option<i64>,
    pub(crate) host: Option<&'a str>,
    pub(crate) state_dir: &'a Path,
}

pub(crate) fn execute(g: &Global, run_id: i64, h: Handed<'_>) -> Result<u8> {
    let cfg = crate::cli::load_config(g);
    let (handover, target) = match (h.lock_fd, h.lease_epoch, h.host) {
        (Some(fd), None, None) => (Handover::Fd(fd), StateTarget::Local(h.state_dir.into())),
        (None, Some(epoch), Some(host)) => {
            // The URL comes by environment, never on a command line others can read.
            let url = std::env::var(crate::engine::tick::SUPERVISOR_URL_VAR).map_err(|_| {
                Error::Usage(format!(
                    "--lease-epoch needs {} set",
                    crate::engine::tick::SUPERVISOR_URL_VAR
                ))
            })?;
            let lease = cfg
                .as_ref()
                .ok()
                .and_then(|c| c.state.as_ref().map(|s| s.lease))
                .unwrap_or(crate::config::state::DEFAULT_LEASE);
            let target = StateTarget::Shared {
                url,
                host: host.to_string(),
                lease,
                dir: h.state_dir.into(),
            };
            (Handover::Epoch(epoch), target)
        }
        _ => {
            return Err(Error::Usage(
                "supervise takes --lock-fd, or --lease-epoch with --host".into(),
            ));
        }
    };
    // SAFETY: the tick passed this descriptor (if any) to this process alone.
    let done = unsafe { supervise::detached(cfg.as_deref(), run_id, handover, &target)? };
    Ok(match done {
        Detached::NotStarted => 1,
        Detached::Supervised(d) => match d.interrupted {
            Some(sig) => signal::interrupted_exit(sig),
            None => u8::from(d.record.status != RunStatus::Succeeded),
        },
    })
}

/// `jobctl after-lost RUN_ID --state-dir DIR`.
pub(crate) fn after_lost(g: &Global, run_id: i64, state_dir: &Path) -> Result<u8> {
    let cfg = crate::cli::load_config(g)?;
    let mut e = crate::engine::Engine::open_at(cfg, state_dir)?;
    crate::engine::after_lost::finish(&mut e, run_id)?;
    Ok(crate::core::error::code::OK)
}
