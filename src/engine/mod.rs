//! The engine: jobctl's use-cases, each taking inputs and returning data, for every front
//! end to call. The command line renders what they return; nothing here prints, parses
//! arguments or knows tables.
//!
//! An [`Engine`] is one command's view of the world: the validated config, the store and
//! the coordinator of the state directory. Every use-case that reads runs first closes
//! the runs whose supervisor vanished ([`recovery`]), so nothing is shown `running` for
//! longer than one command after its supervisor died.

pub(crate) mod after_lost;
pub(crate) mod ask;
pub(crate) mod budgets;
pub(crate) mod cancel;
pub(crate) mod control;
pub(crate) mod deps;
pub(crate) mod env;
pub(crate) mod events;
mod execute;
pub(crate) mod hooks;
mod job_run;
pub(crate) mod jobs;
pub(crate) mod launch;
pub(crate) mod lint;
pub(crate) mod logfollow;
pub(crate) mod logship;
pub(crate) mod next_slots;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod presence;
pub(crate) mod queue;
pub(crate) mod recovery;
pub(crate) mod report;
pub(crate) mod rerun;
pub(crate) mod retry;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod submit;
pub(crate) mod supervise;
pub(crate) mod tick;
pub(crate) mod tree;
pub(crate) mod views;
pub(crate) mod wait;
pub mod workspace;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::coord::Coordinator;
use crate::coord::flock::FlockCoordinator;
use crate::core::error::Result;
use crate::store::Store;

pub(crate) struct Engine<'c> {
    pub(crate) cfg: &'c Config,
    pub(crate) store: Box<dyn Store>,
    pub(crate) coord: Box<dyn Coordinator>,
    /// This host's name where several hosts share the state; `None`: one host (SQLite).
    pub(crate) host: Option<String>,
}

/// A state opened: its store, its coordinator, and this host's name in it (shared only).
pub(crate) type Opened = (Box<dyn Store>, Box<dyn Coordinator>, Option<String>);

/// Where a command's state is.
#[derive(Clone)]
pub(crate) enum StateTarget {
    /// SQLite and file locks in the state directory.
    Local(PathBuf),
    /// A PostgreSQL database several hosts share; run logs are also written under `dir`.
    /// Without the `postgres` feature it is only ever refused, its fields unread.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Shared {
        url: String,
        host: String,
        lease: Duration,
        dir: PathBuf,
    },
}

impl StateTarget {
    /// The state of `cfg`, with its run files under `state_dir`.
    pub(crate) fn of(cfg: &Config, state_dir: &Path) -> StateTarget {
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
    pub(crate) fn open(&self) -> Result<Opened> {
        self.open_reusing(&Connections::default())
    }

    /// [`StateTarget::open`] on a connection kept in `conns`, if it has one for this state.
    pub(crate) fn open_reusing(&self, conns: &Connections) -> Result<Opened> {
        #[cfg(not(feature = "postgres"))]
        let _ = conns;
        match self {
            StateTarget::Local(dir) => {
                let store: Box<dyn crate::store::Store> = match &conns.sqlite {
                    Some(idle) if idle.serves(dir) => {
                        Box::new(crate::store::sqlite::SqliteStore::reusing(idle, dir)?)
                    }
                    _ => crate::store::open(dir)?,
                };
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
/// to its state, SQLite or PostgreSQL (the server opens an engine per request).
#[derive(Clone, Default)]
pub(crate) struct Connections {
    sqlite: Option<std::sync::Arc<crate::store::sqlite::idle::Idle>>,
    #[cfg(feature = "postgres")]
    idle: Option<std::sync::Arc<crate::store::postgres::Idle>>,
}

impl Connections {
    /// Connections for the state of `cfg`. Open one engine on the state first (with
    /// [`Engine::open`]): that brings the database's schema up to date, which these
    /// connections then take as done.
    pub(crate) fn for_config(cfg: &Config) -> Connections {
        let sqlite = cfg
            .state
            .is_none()
            .then(|| crate::store::sqlite::idle::Idle::new(&cfg.runner.state_dir));
        #[cfg(feature = "postgres")]
        return Connections {
            sqlite,
            idle: cfg
                .state
                .as_ref()
                .map(|s| crate::store::postgres::Idle::new(&s.url, &s.host_name())),
        };
        #[cfg(not(feature = "postgres"))]
        Connections { sqlite }
    }
}

impl<'c> Engine<'c> {
    /// Opens the state of `cfg` (SQLite in its state directory with file locks beside
    /// it, or the PostgreSQL state of `[state]`).
    pub(crate) fn open(cfg: &'c Config) -> Result<Engine<'c>> {
        Engine::open_at(cfg, &cfg.runner.state_dir)
    }

    /// Opens the state of `cfg` with its files in `state_dir` (a supervisor is told
    /// where its run is).
    pub(crate) fn open_at(cfg: &'c Config, state_dir: &Path) -> Result<Engine<'c>> {
        Engine::open_target(cfg, &StateTarget::of(cfg, state_dir))
    }

    /// [`Engine::open`] on a connection kept in `conns` (see [`Connections`]).
    pub(crate) fn open_reusing(cfg: &'c Config, conns: &Connections) -> Result<Engine<'c>> {
        let target = StateTarget::of(cfg, &cfg.runner.state_dir);
        Ok(Engine::of(cfg, target.open_reusing(conns)?))
    }

    pub(crate) fn open_target(cfg: &'c Config, target: &StateTarget) -> Result<Engine<'c>> {
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
    pub(crate) fn state_dir(&self) -> &Path {
        self.store.dir()
    }

    /// Closes the runs whose supervisor vanished, and starts the queued runs that have a
    /// free slot; returns the ids of the runs closed.
    pub(crate) fn recover(&mut self) -> Result<Vec<i64>> {
        recovery::recover(self)
    }
}
