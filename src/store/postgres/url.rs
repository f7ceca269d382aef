//! A state URL read without connecting: its form checked, where it points for messages,
//! whether it carries a password. Pure text work through the driver's own parser, so
//! the config's validation can use it (the one call from `config` into the store).

use std::str::FromStr;

use super::tls;

/// The driver's view of a state URL (TLS options apart, see `tls`).
pub(super) fn driver_config(
    url: &str,
) -> std::result::Result<(tokio_postgres::Config, tls::Tls), String> {
    let (driver, tls) = tls::split(url)?;
    let config = tokio_postgres::Config::from_str(&driver).map_err(|e| e.to_string())?;
    Ok((config, tls))
}

/// Where a URL points, for messages: `HOST:PORT/DB`, never its user's password.
pub(crate) fn location(url: &str) -> String {
    let Ok((c, _)) = driver_config(url) else {
        return "the configured database".into();
    };
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let db = c.get_dbname().or(c.get_user()).unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// Checks a state URL's form without connecting: `postgres://` or `postgresql://`, and
/// parsable. The error never repeats the URL.
pub(crate) fn check_url(url: &str) -> std::result::Result<(), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("expected a postgres:// or postgresql:// URL".into());
    }
    driver_config(url)
        .map(|_| ())
        .map_err(|e| format!("not a valid PostgreSQL URL ({e})"))
}

/// Whether the URL carries a password (a config holding one is never written to disk by
/// jobctl: the snapshot is skipped).
pub(crate) fn url_has_password(url: &str) -> bool {
    driver_config(url).is_ok_and(|(c, _)| c.get_password().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_without_connecting() {
        assert!(check_url("postgres://jobctl@db.internal/jobctl").is_ok());
        assert!(check_url("postgresql://u:secret@h:5433/d?sslmode=disable").is_ok());
        assert!(check_url("mysql://h/d").is_err());
        let bad = check_url("postgres://u:secret@h:notaport/d").unwrap_err();
        assert!(!bad.contains("secret"), "{bad}");
        assert_eq!(location("postgres://u:secret@h:5433/d"), "h:5433/d");
        assert!(url_has_password("postgres://u:secret@h/d"));
        assert!(!url_has_password("postgres://u@h/d"));
    }
}
