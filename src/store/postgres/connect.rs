//! Opening a connection: the URL's settings with jobctl's timeouts and application name,
//! a password from the environment or the password file as libpq finds one, TLS, and a
//! deadline on the whole of it, blocking or on a runtime.

use std::path::PathBuf;
use std::time::Duration;

use postgres::{Client, NoTls};

use super::url::{driver_config, location};
use super::{describe, tls};
use crate::core::error::{Error, Result};

/// How long a command waits to reach the database (and for its first answer) before
/// giving up (exit 74), unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How jobctl connects to `url`: the URL's settings, with a connect timeout, a TCP user
/// timeout (a connection whose packets go unanswered that long is dead, not waited on)
/// and the application name where it sets none, and a password from the environment
/// when it has none; and the time a connection may take to give its first answer.
fn settings(url: &str) -> Result<(tokio_postgres::Config, tls::Tls, Duration)> {
    let (mut config, tls) =
        driver_config(url).map_err(|e| Error::State(format!("the state URL is not valid: {e}")))?;
    let limit = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    config.connect_timeout(limit);
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(limit);
    }
    if config.get_application_name().is_none() {
        config.application_name("jobctl");
    }
    // A password from PGPASSWORD or the password file, as libpq would, when the URL has none.
    if config.get_password().is_none()
        && let Some(pw) = password_from_env(&config)
    {
        config.password(pw);
    }
    Ok((config, tls, limit))
}

/// The error of a database this host can't reach; names the host and the database,
/// never the password.
pub(super) fn unreachable(url: &str, host: &str, why: &str) -> Error {
    Error::Unreachable(format!(
        "host {host} can't reach the state database {}: {why}",
        location(url)
    ))
}

/// Opens one connection to `url`. `host` names this host in the error: "can't reach".
/// The whole of it (TCP, TLS, start-up and a first answer) takes at most the connect
/// timeout: a pooler whose database is down accepts a connection and then answers
/// nothing, so it runs on a thread of its own that is left behind when it overruns.
pub(crate) fn connect(url: &str, host: &str) -> Result<Client> {
    let (config, tls, limit) = settings(url)?;
    let config = postgres::Config::from(config);
    let connector = match config.get_ssl_mode() {
        postgres::config::SslMode::Disable => None,
        _ => Some(tls::connector(&tls).map_err(|why| unreachable(url, host, &why))?),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let connected = match connector {
            None => config.connect(NoTls),
            Some(c) => config.connect(c),
        }
        .and_then(|mut client| client.is_valid(limit).map(|()| client));
        let _ = tx.send(connected);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(unreachable(url, host, &describe(&e))),
        Err(_) => Err(unreachable(
            url,
            host,
            &format!("no answer within {} s", limit.as_secs_f64()),
        )),
    }
}

/// Opens one connection to `url` for a task of a runtime (a lease's keeper), taking at
/// most `limit` in all, with TCP's user timeout at `limit` too: the keeper must notice an
/// outage within a fraction of its lease. Its connection is driven by the runtime.
pub(crate) async fn connect_async(
    url: &str,
    host: &str,
    limit: Duration,
) -> Result<tokio_postgres::Client> {
    let (mut config, tls, _) = settings(url)?;
    config.connect_timeout(limit);
    config.tcp_user_timeout(limit);
    let connect = async {
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            return Ok(client);
        }
        let connector = tls::connector(&tls).map_err(|why| unreachable(url, host, &why))?;
        let (client, connection) = config.connect(connector).await?;
        tokio::spawn(connection);
        Ok::<_, Error>(client)
    };
    match tokio::time::timeout(limit, connect).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(Error::Unreachable(why) | Error::State(why))) => Err(unreachable(url, host, &why)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(unreachable(
            url,
            host,
            &format!("no answer within {} s", limit.as_secs_f64()),
        )),
    }
}

/// `PGPASSWORD`, else the matching line of `PGPASSFILE` (default `~/.pgpass`), which like
/// libpq's is used only when no one else can read it.
fn password_from_env(c: &tokio_postgres::Config) -> Option<String> {
    if let Ok(pw) = std::env::var("PGPASSWORD") {
        return Some(pw);
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&file).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            "ignoring {}: others can read it (chmod 600)",
            file.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(&file).ok()?;
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = c.get_user().unwrap_or("").to_string();
    let db = c.get_dbname().unwrap_or(&user).to_string();
    pgpass_lookup(&text, &host, &port, &db, &user)
}

/// The password of the first `host:port:db:user:password` line that matches (`*` matches
/// anything; `\:` and `\\` are escapes).
fn pgpass_lookup(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => cur.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() != 5 {
            continue;
        }
        let want = [host, port, db, user];
        if fields[..4]
            .iter()
            .zip(want)
            .all(|(f, w)| f == "*" || f == w)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:*:u:no\nh:*:d:u:pa\\:ss\n";
        assert_eq!(
            pgpass_lookup(text, "h", "5432", "d", "u").as_deref(),
            Some("pa:ss")
        );
        assert_eq!(pgpass_lookup(text, "x", "5432", "d", "u"), None);
    }
}
