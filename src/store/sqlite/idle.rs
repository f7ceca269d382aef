//! SQLite connections a long-lived process keeps open between its uses of the state: the
//! server opens an engine per request, and opening the database is far more than a file
//! open. It resolves the state directory (a canonicalize and its checks), opens the file,
//! sets the pragmas, asks for WAL, reads the schema version and, as the connection's first
//! read, checksums the whole WAL; and SQLite's global mutex serializes the opens of
//! concurrent requests. A kept connection skips all of that, and its prepared statements
//! stay cached. Measured with wrk (B19, docs/benchmarks.md): a page of runs went from
//! about 1,300 requests/s per open to several thousand.
//!
//! A connection goes back only when its holder lets go of it normally: one dropped by a
//! panic may have been mid-transaction and is closed. SQLite sees the writes of other
//! processes on a kept connection as on a new one (each transaction reads the WAL index),
//! and a schema another process migrated is re-read by SQLite itself.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// At most this many idle connections are kept: a few pages of cache each, and more
/// requests than this at once are rarer than the cores that serve them.
const KEEP: usize = 16;
/// An idle connection unused for this long is closed: a quiet server keeps no file open
/// beyond what it needs.
const IDLE_FOR: Duration = Duration::from_secs(60);

/// Prepared statements a kept connection caches: every statement the API's requests run,
/// so none is finalized and prepared again as requests of different kinds alternate
/// (rusqlite keeps 16 by default).
const STATEMENTS: usize = 128;

/// The idle connections to the database of one state directory.
pub struct Idle {
    /// The directory as the config names it.
    dir: PathBuf,
    /// The canonical directory the store resolved on the first open.
    resolved: Mutex<Option<PathBuf>>,
    kept: Mutex<Vec<(Instant, Connection)>>,
}

impl Idle {
    pub fn new(dir: &Path) -> Arc<Idle> {
        Arc::new(Idle {
            dir: dir.to_path_buf(),
            resolved: Mutex::new(None),
            kept: Mutex::new(Vec::new()),
        })
    }

    /// Whether these are connections to the state in `dir`.
    pub fn serves(&self, dir: &Path) -> bool {
        self.dir == dir
    }

    /// The idle connections kept now.
    pub fn len(&self) -> usize {
        self.kept.lock().map(|k| k.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most recently used idle connection and the canonical state directory, if one is
    /// kept.
    pub(super) fn take(self: &Arc<Self>) -> Option<(Conn, PathBuf)> {
        let dir = self.resolved.lock().ok()?.clone()?;
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|(at, _)| at.elapsed() < IDLE_FOR);
        let (_, conn) = kept.pop()?;
        Some((
            Conn {
                conn: Some(conn),
                home: Some(Arc::clone(self)),
            },
            dir,
        ))
    }

    fn give_back(&self, conn: Connection) {
        // Never one inside a transaction: a holder that left it open is not reused.
        if !conn.is_autocommit() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < KEEP {
            kept.push((Instant::now(), conn));
        }
    }
}

/// A connection to the state database: a command's own, or one kept in [`Idle`] and given
/// back when dropped.
pub struct Conn {
    /// `None` only while being dropped.
    conn: Option<Connection>,
    home: Option<Arc<Idle>>,
}

impl Conn {
    /// A connection of its own, closed when dropped.
    pub fn own(conn: Connection) -> Conn {
        Conn {
            conn: Some(conn),
            home: None,
        }
    }

    /// This connection, just opened on the canonical state directory `dir`, goes to
    /// `idle` when let go.
    pub(super) fn keep_in(&mut self, idle: &Arc<Idle>, dir: &Path) {
        if let Ok(mut r) = idle.resolved.lock() {
            *r = Some(dir.to_path_buf());
        }
        if let Some(c) = &self.conn {
            c.set_prepared_statement_cache_capacity(STATEMENTS);
        }
        self.home = Some(Arc::clone(idle));
    }
}

impl Deref for Conn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a connection in use")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("a connection in use")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let (Some(home), Some(conn)) = (self.home.take(), self.conn.take()) {
            home.give_back(conn);
        }
    }
}
