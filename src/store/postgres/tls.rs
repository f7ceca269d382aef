//! TLS to the PostgreSQL state, as the URL's `sslmode` says, with libpq's meanings:
//! `disable` (never), `prefer` (the default: TLS when the server offers it), `require`
//! (TLS, the certificate not checked), `verify-ca` and `verify-full` (TLS, the certificate
//! checked against the roots of `sslrootcert`: a PEM file, or `system` for the system's
//! store; without it `~/.postgresql/root.crt`, else the system's store; both also check
//! the host name). rustls with ring: nothing to link against on the host, and no root
//! table built in (read only when a certificate is checked).
//!
//! The driver knows only `disable`, `prefer` and `require`, and no `sslrootcert`: the URL is
//! split here into what the driver reads and what the TLS set-up reads.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the URL asks of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tls {
    /// Check the server's certificate (`verify-ca`, `verify-full`).
    pub(crate) verify: bool,
    /// `sslrootcert`: more trusted roots (PEM).
    pub(crate) root_cert: Option<PathBuf>,
}

/// Splits `url` into the URL the driver reads (`sslmode` one it knows, no `sslrootcert`)
/// and what TLS needs.
pub(crate) fn split(url: &str) -> Result<(String, Tls), String> {
    let mut tls = Tls {
        verify: false,
        root_cert: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), tls));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => {
                let driver = match v {
                    "disable" | "allow" | "prefer" | "require" => v,
                    "verify-ca" | "verify-full" => {
                        tls.verify = true;
                        "require"
                    }
                    other => {
                        return Err(format!(
                            "sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not {other:?}"
                        ));
                    }
                };
                let driver = if driver == "allow" { "prefer" } else { driver };
                kept.push(format!("sslmode={driver}"));
            }
            "sslrootcert" => tls.root_cert = Some(PathBuf::from(percent_decode(v))),
            _ => kept.push(pair.to_string()),
        }
    }
    let driver = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((driver, tls))
}

/// `%XX` escapes decoded (a path in a URL: `/etc/ssl/db.pem` may come as `%2Fetc...`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The connector for what the URL asks. Used only when `sslmode` is not `disable`.
pub(crate) fn connector(tls: &Tls) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?;
    let config = if tls.verify {
        builder
            .with_root_certificates(roots(tls)?)
            .with_no_client_auth()
    } else {
        // libpq's `require` and `prefer`: encrypted, the certificate not checked (the
        // handshake's signatures still are).
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
            .with_no_client_auth()
    };
    Ok(MakeRustlsConnect::new(config))
}

/// The roots a checked certificate must chain to (see the module's doc).
fn roots(tls: &Tls) -> Result<RootCertStore, String> {
    let default = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
        .filter(|p| p.is_file());
    let file = match &tls.root_cert {
        Some(p) if p.as_os_str() == "system" => None,
        Some(p) => Some(p.clone()),
        None => default,
    };
    let mut roots = RootCertStore::empty();
    match file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("can't read sslrootcert {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                ));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(
                    "no trusted root certificates found on this system (set sslrootcert)".into(),
                );
            }
        }
    }
    Ok(roots)
}

/// Accepts any certificate, checking only that the server holds its key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_split_into_the_drivers_and_the_tls_part() {
        let (u, t) = split("postgres://u@h/d").unwrap();
        assert_eq!((u.as_str(), t.verify), ("postgres://u@h/d", false));
        let (u, t) = split(
            "postgres://u@h/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fdb.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(u, "postgres://u@h/d?sslmode=require&application_name=x");
        assert!(t.verify);
        assert_eq!(t.root_cert, Some(PathBuf::from("/etc/db.pem")));
        let (u, t) = split("postgres://u@h/d?sslmode=allow").unwrap();
        assert_eq!(
            (u.as_str(), t.verify),
            ("postgres://u@h/d?sslmode=prefer", false)
        );
        assert!(split("postgres://h/d?sslmode=sometimes").is_err());
    }
}
