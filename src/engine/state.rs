//! Moving the state: this host's SQLite state copied into an empty PostgreSQL database,
//! for several hosts to share.

use serde::Serialize;

use crate::config::Config;
use crate::core::error::{Error, Result};

/// What `state migrate` copied, and where to.
#[derive(Debug, Serialize)]
pub(crate) struct MigrateView {
    pub(crate) runs: usize,
    pub(crate) events: usize,
    pub(crate) jobs: usize,
    pub(crate) agent_scopes: usize,
    pub(crate) agent_usage: usize,
    pub(crate) meta: usize,
    /// Run logs copied into the database (any host reads them there).
    pub(crate) logs: usize,
    /// The database, without its password.
    pub(crate) to: String,
}

/// Copies the SQLite state of `cfg`'s state directory into the empty database at `url`.
#[cfg(feature = "postgres")]
pub(crate) fn migrate(cfg: &Config, url: &str) -> Result<MigrateView> {
    use crate::store::postgres::url::{check_url, location};
    use crate::store::postgres::{PgStore, migrate};
    check_url(url).map_err(|why| Error::Usage(format!("--to: {why}")))?;
    let sqlite = crate::store::sqlite::SqliteStore::open(&cfg.runner.state_dir)?;
    let host = cfg
        .state
        .as_ref()
        .map(|s| s.host_name())
        .unwrap_or_else(crate::config::StateConfig::default_host);
    let mut pg = PgStore::open(url, &host, &cfg.runner.state_dir)?;
    let c = migrate::sqlite_to_postgres(&sqlite, &mut pg)?;
    let logs = copy_logs(cfg, &sqlite, &pg)?;
    Ok(MigrateView {
        runs: c.runs,
        events: c.events,
        jobs: c.jobs,
        agent_scopes: c.agent_scopes,
        agent_usage: c.agent_usage,
        meta: c.meta,
        logs,
        to: location(url),
    })
}

/// Copies the log files of the runs copied into the database's log keeping: on a shared
/// state every host, and this one too, reads a run's output from there.
#[cfg(feature = "postgres")]
fn copy_logs(
    cfg: &Config,
    from: &crate::store::sqlite::SqliteStore,
    to: &crate::store::postgres::PgStore,
) -> Result<usize> {
    use crate::store::{RunQuery, RunStore};
    let Some(mut writer) = crate::store::LogStore::log_writer(to)? else {
        return Ok(0);
    };
    let mut copied = 0;
    let mut before = None;
    loop {
        // A page at a time: the history may hold a million runs.
        let page = from.find_runs(&RunQuery {
            job: None,
            status: None,
            parent: None,
            before,
            limit: 500,
            ..RunQuery::default()
        })?;
        let Some(last) = page.last() else {
            return Ok(copied);
        };
        before = Some(last.id);
        for run in &page {
            let Some(path) = run.log_path.as_deref() else {
                continue;
            };
            let path = std::path::Path::new(path);
            match super::logship::copy_ended(&mut *writer, run.id, path, cfg.runner.log_max_bytes) {
                Ok(true) => copied += 1,
                Ok(false) => {}
                Err(e) => {
                    return Err(Error::State(format!(
                        "the runs are copied, but the log of run {} ({}) could not be: {e}; \
                         it and the logs not yet copied stay files on this host",
                        run.id,
                        path.display()
                    )));
                }
            }
        }
    }
}

#[cfg(not(feature = "postgres"))]
pub(crate) fn migrate(_cfg: &Config, _url: &str) -> Result<MigrateView> {
    Err(Error::Usage(
        "this jobctl was built without PostgreSQL support".into(),
    ))
}
