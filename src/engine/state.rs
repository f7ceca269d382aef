//! Moving the state: this host's SQLite state copied into an empty PostgreSQL database,
//! for several hosts to share.

use serde::Serialize;

use crate::config::Config;
use crate::core::error::{Error, Result};

/// What `state migrate` copied, and where to.
#[derive(Debug, Serialize)]
pub struct MigrateView {
    pub runs: usize,
    pub events: usize,
    pub jobs: usize,
    pub agent_scopes: usize,
    pub agent_usage: usize,
    pub meta: usize,
    /// The database, without its password.
    pub to: String,
}

/// Copies the SQLite state of `cfg`'s state directory into the empty database at `url`.
#[cfg(feature = "postgres")]
pub fn migrate(cfg: &Config, url: &str) -> Result<MigrateView> {
    use crate::store::postgres::{PgStore, check_url, location, migrate};
    check_url(url).map_err(|why| Error::Usage(format!("--to: {why}")))?;
    let sqlite = crate::store::sqlite::SqliteStore::open(&cfg.runner.state_dir)?;
    let host = cfg
        .state
        .as_ref()
        .map(|s| s.host_name())
        .unwrap_or_else(crate::config::StateConfig::default_host);
    let mut pg = PgStore::open(url, &host, &cfg.runner.state_dir)?;
    let c = migrate::sqlite_to_postgres(&sqlite, &mut pg)?;
    Ok(MigrateView {
        runs: c.runs,
        events: c.events,
        jobs: c.jobs,
        agent_scopes: c.agent_scopes,
        agent_usage: c.agent_usage,
        meta: c.meta,
        to: location(url),
    })
}

#[cfg(not(feature = "postgres"))]
pub fn migrate(_cfg: &Config, _url: &str) -> Result<MigrateView> {
    Err(Error::Usage(
        "this jobctl was built without PostgreSQL support".into(),
    ))
}
