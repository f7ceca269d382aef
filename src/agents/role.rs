//! The role an agent job gets: the job's `role` (or `runner.default_role`) when the daemon
//! answers its health check, else `admin`, silently: without the daemon its tools are
//! simply absent. The check is an HTTP/1.1 GET over the daemon's unix socket; any 2xx
//! status within the timeout means present, anything else (no socket, refused, slow,
//! non-2xx, garbage) means absent.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::config::{AgentJob, Config, Daemon};

pub(crate) const FALLBACK_ROLE: &str = "admin";

/// Whether the daemon is present, and why not when it isn't.
pub(crate) fn daemon_present(d: &Daemon) -> Result<(), String> {
    let deadline = Instant::now() + d.timeout;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let mut s = UnixStream::connect(&d.socket)
        .map_err(|e| format!("can't connect to {}: {e}", d.socket.display()))?;
    s.set_write_timeout(Some(left())).ok();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: jobctl\r\nConnection: close\r\n\r\n",
        d.health_path
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("can't send the health check: {e}"))?;
    // Only the status line matters; read until it is complete, within the deadline.
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        if Instant::now() >= deadline {
            return Err(format!("no answer within {:?}", d.timeout));
        }
        s.set_read_timeout(Some(left())).ok();
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("no answer: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&buf);
    let line = line.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (proto, status) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match status.parse::<u16>() {
        Ok(code) if proto.starts_with("HTTP/1.") && (200..300).contains(&code) => Ok(()),
        Ok(code) if proto.starts_with("HTTP/1.") => Err(format!("health check answered {code}")),
        _ => Err(format!(
            "not an HTTP answer: {:?}",
            line.chars().take(80).collect::<String>()
        )),
    }
}

/// The daemon's state for `status`: `Some(Ok)` present, `Some(Err(why))` absent, `None` not
/// configured.
pub(crate) fn daemon_state(cfg: &Config) -> Option<Result<(), String>> {
    cfg.daemon.as_ref().map(daemon_present)
}

/// The role for an agent call, given the daemon state.
pub(crate) fn role_for(
    cfg: &Config,
    job: Option<&AgentJob>,
    daemon: &Option<Result<(), String>>,
) -> String {
    match daemon {
        Some(Ok(())) => job
            .and_then(|j| j.role.clone())
            .unwrap_or_else(|| cfg.runner.default_role.clone()),
        Some(Err(why)) => {
            tracing::debug!("daemon absent ({why}): role {FALLBACK_ROLE}");
            FALLBACK_ROLE.into()
        }
        None => FALLBACK_ROLE.into(),
    }
}
