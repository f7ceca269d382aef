//! The engine: jobctl's use-cases, each taking inputs and returning data, for every front
//! end to call. The command line renders what they return; nothing here prints, parses
//! arguments or knows tables.
//!
//! An [`Engine`] is one command's view of the world: the validated config, the store and
//! the coordinator of the state directory. Every use-case that reads runs first closes
//! the runs whose supervisor vanished ([`recovery`]), so nothing is shown `running` for
//! longer than one command after its supervisor died.

pub mod after_lost;
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
pub mod logfollow;
pub mod logship;
pub mod next_slots;
pub mod pipeline;
pub mod plan;
pub mod presence;
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
pub mod wait;
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
        self.open_reusing(&Connections::default())
    }

    /// [`StateTarget::open`] on a connection kept in `conns`, if it has one for this state.
    pub fn open_reusing(&self, conns: &Connections) -> Result<Opened> {
        #[cfg(not(feature = "postgres"))]
        let _ = conns;
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
                let store = match &conns.idle {
                    Some(idle) if idle.serves(url, host) => {
                        crate::store::postgres::PgStore::reusing(idle, url, host, dir)?
                    }
                    _ => crate::store::postgres::PgStore::open(url, host, dir)?,
                };
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

/// What a long-lived process keeps open between the engines it opens: idle connections
/// to a PostgreSQL state (the server opens an engine per request). Nothing for SQLite,
/// whose open is a file open.
#[derive(Clone, Default)]
pub struct Connections {
    #[cfg(feature = "postgres")]
    idle: Option<std::sync::Arc<crate::store::postgres::Idle>>,
}

impl Connections {
    /// Connections for the state of `cfg`. Open one engine on the state first (with
    /// [`Engine::open`]): that brings the database's schema up to date, which these
    /// connections then take as done.
    pub fn for_config(cfg: &Config) -> Connections {
        #[cfg(feature = "postgres")]
        return Connections {
            idle: cfg
                .state
                .as_ref()
                .map(|s| crate::store::postgres::Idle::new(&s.url, &s.host_name())),
        };
        #[cfg(not(feature = "postgres"))]
        {
            let _ = cfg;
            Connections::default()
        }
    }

    /// Idle connections kept now.
    pub fn idle(&self) -> usize {
        #[cfg(feature = "postgres")]
        return self.idle.as_ref().map_or(0, |i| i.len());
        #[cfg(not(feature = "postgres"))]
        0
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

    /// [`Engine::open`] on a connection kept in `conns` (see [`Connections`]).
    pub fn open_reusing(cfg: &'c Config, conns: &Connections) -> Result<Engine<'c>> {
        let target = StateTarget::of(cfg, &cfg.runner.state_dir);
        Ok(Engine::of(cfg, target.open_reusing(conns)?))
    }

    pub fn open_target(cfg: &'c Config, target: &StateTarget) -> Result<Engine<'c>> {
        Ok(Engine::of(cfg, target.open()?))
    }

    fn of(cfg: &'c Config, (store, coord, host): Opened) -> Engine<'c> {
        Engine {
            cfg,
            store,
            coord,
            host,
        }
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
