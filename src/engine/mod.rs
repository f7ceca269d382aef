//! The engine: jobctl's use-cases, each taking inputs and returning data, for every front
//! end to call. The command line renders what they return; nothing here prints, parses
//! arguments or knows tables.
//!
//! An [`Engine`] is one command's view of the world: the validated config, the store and
//! the coordinator of the state directory. Every use-case that reads runs first closes
//! the runs whose supervisor vanished ([`recovery`]), so nothing is shown `running` for
//! longer than one command after its supervisor died.

pub mod ask;
pub mod budgets;
pub mod cancel;
pub mod control;
pub mod deps;
pub mod env;
pub mod events;
mod execute;
pub mod hooks;
mod job_run;
pub mod jobs;
pub mod launch;
pub mod pipeline;
pub mod plan;
pub mod queue;
pub mod recovery;
pub mod report;
pub mod retry;
pub mod status;
pub mod submit;
pub mod supervise;
pub mod tick;
pub mod tree;
pub mod views;
pub mod workspace;

use std::path::Path;

use crate::config::Config;
use crate::coord::Coordinator;
use crate::coord::flock::FlockCoordinator;
use crate::core::error::Result;
use crate::store::Store;

pub struct Engine<'c> {
    pub cfg: &'c Config,
    pub store: Box<dyn Store>,
    pub coord: Box<dyn Coordinator>,
}

impl<'c> Engine<'c> {
    /// Opens the state of `cfg` (SQLite in its state directory, file locks beside it).
    pub fn open(cfg: &'c Config) -> Result<Engine<'c>> {
        Engine::open_at(cfg, &cfg.runner.state_dir)
    }

    /// Opens the state in `state_dir` for `cfg` (a supervisor is told where its run is).
    pub fn open_at(cfg: &'c Config, state_dir: &Path) -> Result<Engine<'c>> {
        let store = crate::store::open(state_dir)?;
        let coord = Box::new(FlockCoordinator::new(store.dir()));
        Ok(Engine { cfg, store, coord })
    }

    /// The state directory, as the store resolved it (canonical).
    pub fn state_dir(&self) -> &Path {
        self.store.dir()
    }

    /// Closes the runs whose supervisor vanished, and starts the queued runs that have a
    /// free slot; returns the ids of the runs closed.
    pub fn recover(&mut self) -> Result<Vec<i64>> {
        recovery::recover(self)
    }
}
