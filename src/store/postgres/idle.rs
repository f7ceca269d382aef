//! Connections a long-lived process keeps open between its uses of the state: the server
//! opens an engine per request, and a new PostgreSQL connection costs the database a
//! backend process (3 to 8 ms on two cores), far more than the request itself.
//!
//! A connection taken from here is checked with an empty query (one round trip) before it
//! is used, so one the database or a pooler closed meanwhile is replaced, not handed out.
//! When none is idle a new one is opened at once: a request never waits for another's
//! connection, and an unreachable database fails the request with the same one-line error
//! as a command's. Why not r2d2: it bounds the pool by making callers wait, and retries a
//! failed connect in the background until a timeout; here the blocking threads already
//! bound how many are in use, and a request should hear at once that the database is gone.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::Client;

use crate::core::error::Result;

/// At most this many idle connections are kept.
const KEEP: usize = 4;
/// An idle connection unused for this long is closed: the database's backends are a
/// shared resource, and a quiet server needs none.
const IDLE_FOR: Duration = Duration::from_secs(60);

/// The idle connections to one database as one host.
pub(crate) struct Idle {
    url: String,
    host: String,
    kept: Mutex<Vec<(Instant, Client)>>,
}

impl Idle {
    pub(crate) fn new(url: &str, host: &str) -> Arc<Idle> {
        Arc::new(Idle {
            url: url.to_string(),
            host: host.to_string(),
            kept: Mutex::new(Vec::new()),
        })
    }

    /// Whether these are connections to `url` as `host`.
    pub(crate) fn serves(&self, url: &str, host: &str) -> bool {
        self.url == url && self.host == host
    }

    /// A connection that works: the most recently used idle one, else a new one. It goes
    /// back when the last holder of the returned [`Conn`] lets go.
    pub(crate) fn take(self: &Arc<Self>) -> Result<Conn> {
        loop {
            let found = {
                let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
                kept.retain(|(at, _)| at.elapsed() < IDLE_FOR);
                kept.pop()
            };
            let Some((_, mut client)) = found else {
                break;
            };
            if client.simple_query("").is_ok() {
                return Ok(Conn {
                    client: Some(client),
                    home: Some(Arc::clone(self)),
                });
            }
        }
        Ok(Conn {
            client: Some(super::connect(&self.url, &self.host)?),
            home: Some(Arc::clone(self)),
        })
    }

    fn give_back(&self, client: Client) {
        if client.is_closed() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < KEEP {
            kept.push((Instant::now(), client));
        }
    }
}

/// A connection to the state database: a command's own, or one taken from [`Idle`] and
/// given back when dropped.
pub struct Conn {
    /// `None` only while being dropped.
    client: Option<Client>,
    home: Option<Arc<Idle>>,
}

impl Conn {
    /// A connection of its own, closed when dropped.
    pub(crate) fn own(client: Client) -> Conn {
        Conn {
            client: Some(client),
            home: None,
        }
    }
}

impl Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("a connection in use")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("a connection in use")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A connection dropped by a panic may have been mid-statement: closed, not reused.
        if std::thread::panicking() {
            return;
        }
        if let (Some(home), Some(client)) = (self.home.take(), self.client.take()) {
            home.give_back(client);
        }
    }
}
