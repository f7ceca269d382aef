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
pub mod logship;
pub mod pipeline;
pub mod plan;
pub mod queue;
pub mod recovery;
pub mod report;
pub mod retry;
pub mod state;
pub mod status;
pub mod submit;
pub mod supervise;
pub mod tick;
pub mod tree;
pub mod views;
pub mod workspace;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::coord::Coordinator;
use crate::coord::flock::FlockCoordinator;
use crate::core::error::Result;
use crate::store::Store;

pub struct Engine<'c> {
    pub cfg: &'c Config,
    pub store: Box<dyn Store>,
    pub coord: Box<dyn Coordinator>,
    /// This host's name where several hosts share the state; `None`: one host (SQLite).
    pub host: Option<String>,
}

/// A state opened: its store, its coordinator, and this host's name in it (shared only).
pub type Opened = (Box<dyn Store>, Box<dyn Coordinator>, Option<String>);

/// Where a command's state is.
#[derive(Clone)]
pub enum StateTarget {
    /// SQLite and file locks in the state directory.
    Local(PathBuf),
    /// A PostgreSQL database several hosts share; run logs are also written under `dir`.
    Shared {
        url: String,
        host: String,
        lease: Duration,
        dir: PathBuf,
    },
}

impl StateTarget {
    /// The state of `cfg`, with its run files under `state_dir`.
    pub fn of(cfg: &Config, state_dir: &Path) -> StateTarget {
        match &cfg.state {
            Some(s) => StateTarget::Shared {
                url: s.url.clone(),
                host: s.host_name(),
                lease: s.lease,
                dir: state_dir.to_path_buf(),
            },
            None => StateTarget::Local(state_dir.to_path_buf()),
        }
    }

    /// Opens the store and the coordinator. Nothing of PostgreSQL is touched for a local
    /// state.
    pub fn open(&self) -> Result<Opened> {
        match self {
            StateTarget::Local(dir) => {
                let store = crate::store::open(dir)?;
                let coord = Box::new(FlockCoordinator::new(store.dir()));
                Ok((store, coord, None))
            }
            #[cfg(feature = "postgres")]
            StateTarget::Shared {
                url,
                host,
                lease,
                dir,
            } => {
                let store = crate::store::postgres::PgStore::open(url, host, dir)?;
                let coord = Box::new(crate::coord::pg::PgCoordinator::new(
                    store.connection(),
                    url,
                    host,
                    *lease,
                    store.dir(),
                ));
                Ok((Box::new(store), coord, Some(host.clone())))
            }
            #[cfg(not(feature = "postgres"))]
            StateTarget::Shared { .. } => Err(crate::core::error::Error::State(
                "this jobctl was built without PostgreSQL support".into(),
            )),
        }
    }
}

impl<'c> Engine<'c> {
    /// Opens the state of `cfg` (SQLite in its state directory with file locks beside
    /// it, or the PostgreSQL state of `[state]`).
    pub fn open(cfg: &'c Config) -> Result<Engine<'c>> {
        Engine::open_at(cfg, &cfg.runner.state_dir)
    }

    /// Opens the state of `cfg` with its files in `state_dir` (a supervisor is told
    /// where its run is).
    pub fn open_at(cfg: &'c Config, state_dir: &Path) -> Result<Engine<'c>> {
        Engine::open_target(cfg, &StateTarget::of(cfg, state_dir))
    }

    pub fn open_target(cfg: &'c Config, target: &StateTarget) -> Result<Engine<'c>> {
        let (store, coord, host) = target.open()?;
        Ok(Engine {
            cfg,
            store,
            coord,
            host,
        })
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
