//! The state in SQLite: one database file in the state directory, opened in one place with
//! WAL, a busy timeout and numbered migrations. Several jobctl processes use it at once;
//! every change is a transaction begun as a writer, so a process killed at any instant
//! leaves it consistent and a writer waits for another instead of failing.
//!
//! This module knows tables and rows, not schedules, locks or processes.

mod budget;
mod events;
pub mod idle;
mod jobs;
pub(crate) mod migrations;
mod queue;
mod rows;
mod runs;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use super::rows::AnswerCol;
use super::sql::{cat_into, const_text};
use super::{MetaStore, Store};
use crate::core::error::{Error, Result};

pub(crate) const DB_FILE: &str = "jobctl.db";

/// How long a command waits for another process's write transaction.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database this process opened, for naming it in a lock-timeout error.
static OPENED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Every database error makes the state unusable for the command: exit 74, with the
/// database's own words (or, for a lock held past the busy timeout, who holds it).
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        Error::State(
            busy.then(busy_message)
                .flatten()
                .unwrap_or_else(|| e.to_string()),
        )
    }
}

/// The error line for a database that stayed locked past the busy timeout, naming it and,
/// where `/proc` says, the other processes that have it open.
fn busy_message() -> Option<String> {
    let path = OPENED.get()?;
    let holders = processes_with_open(path);
    let who = if holders.is_empty() {
        String::new()
    } else {
        format!("; open in {}", holders.join(", "))
    };
    Some(format!(
        "the state database {} stayed locked by another process for over {}s{who}; try again",
        path.display(),
        BUSY_TIMEOUT.as_secs()
    ))
}

/// `pid N (command)` of every other process with `path` (or its -wal/-shm) open.
fn processes_with_open(path: &Path) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let db = path.to_string_lossy();
        let has = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|t| t.to_string_lossy().starts_with(db.as_ref()))
        });
        if has {
            let comm = std::fs::read_to_string(p.path().join("cmdline"))
                .unwrap_or_default()
                .replace('\0', " ");
            out.push(format!("pid {pid} ({})", comm.trim()));
        }
    }
    out
}

/// The state in one SQLite database.
pub struct SqliteStore {
    pub(crate) conn: idle::Conn,
    dir: PathBuf,
}

fn state_error(msg: String) -> Error {
    Error::State(msg)
}

/// Creates the state directory (0700) if needed, and returns its one canonical path: a
/// symlink and its target are one state directory, and everything that names it (run
/// logs, the marks that find a run's processes) must spell it the same way.
pub(crate) fn ensure_state_dir(dir: &Path) -> Result<PathBuf> {
    // Made here, or by another command racing this one (four ticks on a fresh state):
    // creating one that exists is no error, only something else in its place is.
    if !dir.is_dir() {
        let made = DirBuilder::new().recursive(true).mode(0o700).create(dir);
        if !dir.is_dir() {
            return Err(state_error(match made {
                Err(e) if !dir.exists() => {
                    format!("can't create the state directory {}: {e}", dir.display())
                }
                _ => format!(
                    "state directory {} exists but is not a directory",
                    dir.display()
                ),
            }));
        }
    }
    let canonical = dir.canonicalize().map_err(|e| {
        state_error(format!(
            "can't resolve the state directory {}: {e}",
            dir.display()
        ))
    })?;
    let meta = std::fs::metadata(&canonical).map_err(|e| {
        state_error(format!(
            "can't read the state directory {}: {e}",
            dir.display()
        ))
    })?;
    if let Err(why) = crate::config::safety::private_to_me(&meta) {
        return Err(state_error(format!(
            "refusing the state directory {}: {why}",
            canonical.display()
        )));
    }
    Ok(canonical)
}

impl SqliteStore {
    /// Opens (creating on first use) the database in `dir` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        let dir = &ensure_state_dir(dir)?;
        let path = dir.join(DB_FILE);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(state_error(format!(
                "state database {} is a symlink; jobctl opens nothing in its state directory through a symlink",
                path.display()
            )));
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                return Err(state_error(format!(
                    "state database {} is a directory",
                    path.display()
                )));
            }
            // Checked on the mode bits, not access(2), so a read-only db is refused the same
            // way for root: writes would fail later, half-way through a tick.
            Ok(m) if m.permissions().mode() & 0o200 == 0 => {
                return Err(state_error(format!(
                    "state database {} is read-only; jobctl must write it (chmod 600 {})",
                    path.display(),
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Created here, 0600, so SQLite's -wal and -shm files inherit the same mode.
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(|e| {
                        state_error(format!(
                            "can't create the state database {}: {e}",
                            path.display()
                        ))
                    })?;
            }
            Err(e) => {
                return Err(state_error(format!(
                    "can't open the state database {}: {e}",
                    path.display()
                )));
            }
        }
        let conn = Connection::open(&path).map_err(|e| {
            state_error(format!(
                "can't open the state database {}: {e}",
                path.display()
            ))
        })?;
        let _ = OPENED.set(path.clone());
        let mut store = SqliteStore {
            conn: idle::Conn::own(conn),
            dir: dir.to_path_buf(),
        };
        store.init().map_err(|e| {
            let msg = match e {
                Error::State(m) => m,
                other => other.to_string(),
            };
            state_error(format!("state database {}: {msg}", path.display()))
        })?;
        Ok(store)
    }

    /// [`SqliteStore::open`] on a connection kept in `idle`, or on a new one that goes
    /// there when this store is dropped.
    pub fn reusing(idle: &std::sync::Arc<idle::Idle>, dir: &Path) -> Result<SqliteStore> {
        if let Some((conn, dir)) = idle.take() {
            return Ok(SqliteStore { conn, dir });
        }
        let mut store = SqliteStore::open(dir)?;
        store.conn.keep_in(idle, &store.dir);
        Ok(store)
    }

    fn init(&mut self) -> Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // Every transaction here reads, then writes. Begun as a reader (DEFERRED), it can't
        // wait for another writer: SQLite answers BUSY at once when it tries to upgrade,
        // whatever the busy timeout. Begun as a writer, it waits its turn.
        self.conn
            .set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        // Every jobctl command is a short process: checkpointing the WAL (two fsyncs) each
        // time one exits would cost more than the command. SQLite's autocheckpoint still
        // runs as the WAL grows, every 100 pages rather than the default 1,000: each
        // command is the db's first connection, which must read and checksum every frame
        // in the WAL before its first query, so a long WAL taxes every command (1,000
        // frames is more than an idle tick's other work), while a tick writes a few pages.
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        self.conn
            .execute_batch(
                "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 100;",
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase) => Error::State("is not an SQLite database (another kind of file?); move it away and jobctl starts a new one".into()),
                _ => Error::from(e),
            })?;
        // Switching a new db to WAL needs it to itself, and SQLite answers BUSY at once
        // rather than waiting: many processes opening a fresh state dir together retry.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let attempt = self
                .conn
                .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
                .and_then(|mode| {
                    if mode.eq_ignore_ascii_case("wal") {
                        Ok(mode)
                    } else {
                        self.conn
                            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
                    }
                });
            match attempt {
                Ok(_) => break,
                Err(e)
                    if matches!(
                        e.sqlite_error_code(),
                        Some(
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        )
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
        migrations::apply(&mut self.conn)
    }
}

impl MetaStore for SqliteStore {
    fn get_meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }
}

impl super::HostStore for SqliteStore {}

impl super::LogStore for SqliteStore {}
impl crate::store::IdempotencyStore for SqliteStore {
    fn answer(&self, key: &str, since: i64) -> Result<Option<crate::store::StoredAnswer>> {
        const ANSWER: &str = const_text!(
            cat_into,
            &[
                "SELECT ",
                AnswerCol::LIST,
                " FROM idempotency WHERE key = ?1 AND at >= ?2"
            ]
        );
        Ok(self
            .conn
            .query_row(ANSWER, rusqlite::params![key, since], |r| {
                super::rows::answer_of(r)
            })
            .optional()?)
    }

    fn keep_answer(
        &mut self,
        key: &str,
        a: &crate::store::StoredAnswer,
        forget_before: i64,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM idempotency WHERE at < ?1", [forget_before])?;
        tx.execute(
            "INSERT OR IGNORE INTO idempotency (key, request, status, location, body, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![key, a.request, a.status, a.location, a.body, a.at],
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn dir(&self) -> &Path {
        &self.dir
    }
}
