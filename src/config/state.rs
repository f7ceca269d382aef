//! `[state]`: where the state is kept. Absent (and no `JOBCTL_DATABASE_URL`): SQLite in
//! the state directory. With a PostgreSQL URL: one database several hosts share, this host
//! named `host` in it, and its claims on runs living `lease` without a heartbeat.
//!
//! The URL's form is checked here, without connecting (`jobctl check` never connects).

use std::time::Duration;

use super::StateConfig;
use super::walk::{Ctx, Table};

const STATE_KEYS: &[&str] = &["url", "host", "lease"];

/// The environment variable that names the database (and wins over `[state] url`).
pub const URL_VAR: &str = "JOBCTL_DATABASE_URL";

/// The lease when `[state]` sets none.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Whether a host name is acceptable: 1 to 64 printable characters without spaces.
pub(crate) fn is_valid_host(h: &str) -> bool {
    !h.is_empty() && h.len() <= 64 && h.chars().all(|c| c.is_ascii_graphic())
}

pub(super) fn state_section(ctx: &mut Ctx<'_>, t: Option<&Table<'_, '_>>) -> Option<StateConfig> {
    if let Some(t) = t {
        t.check_keys(ctx, STATE_KEYS, "[state]");
    }
    let from_env = ctx.inputs.var(URL_VAR).filter(|v| !v.is_empty());
    let from_file = t.and_then(|t| t.str(ctx, "url"));
    let span = t
        .and_then(|t| t.get("url").map(|v| v.span()))
        .unwrap_or(0..0);
    let host = t.and_then(|t| t.str(ctx, "host"));
    if let (Some(h), Some(t)) = (&host, t)
        && !is_valid_host(h)
    {
        ctx.err(
            t.get("host").map(|v| v.span()).unwrap_or(0..0),
            "state.host",
            "expected a host name: 1 to 64 printable characters, no spaces",
        );
    }
    let lease = t
        .and_then(|t| t.duration(ctx, "lease", Duration::from_secs(1)))
        .unwrap_or(DEFAULT_LEASE);
    let (url, key) = match (from_env, from_file) {
        (Some(u), _) => (u, URL_VAR.to_string()),
        (None, Some(u)) => (u, "state.url".to_string()),
        (None, None) => {
            if let Some(t) = t
                && (t.get("host").is_some() || t.get("lease").is_some())
            {
                ctx.err(
                    t.span.clone(),
                    "state.url",
                    format!("host and lease go with a PostgreSQL url (set url, or {URL_VAR})"),
                );
            }
            return None;
        }
    };
    if let Err(why) = check_url(&url) {
        ctx.err(span, &key, why);
        return None;
    }
    Some(StateConfig { url, host, lease })
}

#[cfg(feature = "postgres")]
fn check_url(url: &str) -> Result<(), String> {
    crate::store::postgres::url::check_url(url)
}

#[cfg(not(feature = "postgres"))]
fn check_url(_url: &str) -> Result<(), String> {
    Err("this jobctl was built without PostgreSQL support (cargo feature \"postgres\")".into())
}
