//! TLS for the LDAP and PostgreSQL sources: rustls with the system CA store,
//! as ureq does for an https OTRS (the same `/etc/ssl/certs` an admin puts
//! a company CA into), plus an optional PEM file of the source's own.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// A client config trusting the system store and `extra_ca_file`. Fails
/// when nothing at all can be trusted or the extra file is unusable: a
/// TLS source without trust would only ever fail its handshakes.
pub(super) fn client_config(extra_ca_file: Option<&str>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    // Unreadable single certificates in the system store are skipped, as
    // browsers and ureq do; only an empty store is an error.
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read tls_ca_file {path}: {e}"))?;
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls_ca_file {path} is not a PEM certificate file: {e}"))?;
        if certs.is_empty() {
            return Err(format!("tls_ca_file {path} holds no certificate"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("tls_ca_file {path}: unusable certificate: {e}"))?;
        }
    }
    if roots.is_empty() {
        return Err("no trusted CA certificates: the system store (/etc/ssl/certs) is empty and no tls_ca_file is set".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
