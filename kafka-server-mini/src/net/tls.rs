//! TLS for `SSL` and `SASL_SSL` listeners: the rustls server config from Kafka's PEM
//! settings.
//!
//! - server identity: `ssl.keystore.type=PEM` with `ssl.keystore.location` (one file holding
//!   the private key and the certificate chain) or `ssl.keystore.certificate.chain` +
//!   `ssl.keystore.key` (PEM text inline), or librdkafka's `ssl.certificate.location` +
//!   `ssl.key.location`. An encrypted key (`ssl.key.password`) is refused as a typed error.
//! - client certificates: `ssl.truststore.type=PEM` with `ssl.truststore.location` or
//!   `ssl.truststore.certificates` (inline), and `ssl.client.auth` = `none` | `requested` |
//!   `required`.
//!
//! Every setting is read per listener (`listener.name.<name>.ssl.*` first).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::error::{BrokerError, Result};
use crate::security::settings::SecuritySettings;

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    None,
    /// A client certificate is asked for; one that is sent must be trusted.
    Requested,
    /// A trusted client certificate is required.
    Required,
}

fn cfg_err(listener: &str, why: impl std::fmt::Display) -> BrokerError {
    BrokerError::Config(format!("listener {listener}: {why}"))
}

fn read_file(listener: &str, key: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| cfg_err(listener, format!("{key} `{path}`: {e}")))
}

fn certs(listener: &str, what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| cfg_err(listener, format!("{what}: bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(cfg_err(listener, format!("{what}: no PEM certificate")));
    }
    Ok(certs)
}

fn key(listener: &str, what: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    if String::from_utf8_lossy(pem).contains("ENCRYPTED PRIVATE KEY") {
        return Err(cfg_err(
            listener,
            format!("{what}: encrypted private keys (ssl.key.password) are not supported"),
        ));
    }
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| cfg_err(listener, format!("{what}: no PEM private key: {e}")))
}

/// `ssl.client.auth` of `listener`.
pub fn client_auth(s: &SecuritySettings, listener: &str) -> Result<ClientAuth> {
    match s
        .get(listener, "ssl.client.auth")
        .unwrap_or("none")
        .to_ascii_lowercase()
        .as_str()
    {
        "none" => Ok(ClientAuth::None),
        "requested" => Ok(ClientAuth::Requested),
        "required" => Ok(ClientAuth::Required),
        other => Err(cfg_err(
            listener,
            format!("ssl.client.auth must be none, requested or required, got `{other}`"),
        )),
    }
}

fn check_type(s: &SecuritySettings, listener: &str, key: &str) -> Result<()> {
    match s.get(listener, key) {
        None => Ok(()),
        Some(t) if t.eq_ignore_ascii_case("PEM") => Ok(()),
        Some(t) => Err(cfg_err(
            listener,
            format!("{key}={t}: only PEM is supported"),
        )),
    }
}

/// The TLS acceptor of `listener` from its settings.
pub fn acceptor(s: &SecuritySettings, listener: &str) -> Result<TlsAcceptor> {
    check_type(s, listener, "ssl.keystore.type")?;
    check_type(s, listener, "ssl.truststore.type")?;
    let (chain, private) = if let Some(path) = s.get(listener, "ssl.keystore.location") {
        let pem = read_file(listener, "ssl.keystore.location", path)?;
        (
            certs(listener, "ssl.keystore.location", &pem)?,
            key(listener, "ssl.keystore.location", &pem)?,
        )
    } else if let (Some(chain), Some(k)) = (
        s.get(listener, "ssl.keystore.certificate.chain"),
        s.get(listener, "ssl.keystore.key"),
    ) {
        (
            certs(listener, "ssl.keystore.certificate.chain", chain.as_bytes())?,
            key(listener, "ssl.keystore.key", k.as_bytes())?,
        )
    } else if let (Some(c), Some(k)) = (
        s.get(listener, "ssl.certificate.location"),
        s.get(listener, "ssl.key.location"),
    ) {
        (
            certs(
                listener,
                "ssl.certificate.location",
                &read_file(listener, "ssl.certificate.location", c)?,
            )?,
            key(
                listener,
                "ssl.key.location",
                &read_file(listener, "ssl.key.location", k)?,
            )?,
        )
    } else {
        return Err(cfg_err(
            listener,
            "TLS needs ssl.keystore.location, ssl.keystore.certificate.chain + ssl.keystore.key, or ssl.certificate.location + ssl.key.location",
        ));
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| cfg_err(listener, e))?;
    let auth = client_auth(s, listener)?;
    let builder = if auth == ClientAuth::None {
        builder.with_no_client_auth()
    } else {
        let trusted = if let Some(path) = s.get(listener, "ssl.truststore.location") {
            certs(
                listener,
                "ssl.truststore.location",
                &read_file(listener, "ssl.truststore.location", path)?,
            )?
        } else if let Some(pem) = s.get(listener, "ssl.truststore.certificates") {
            certs(listener, "ssl.truststore.certificates", pem.as_bytes())?
        } else if let Some(path) = s.get(listener, "ssl.ca.location") {
            certs(
                listener,
                "ssl.ca.location",
                &read_file(listener, "ssl.ca.location", path)?,
            )?
        } else {
            return Err(cfg_err(
                listener,
                "ssl.client.auth needs ssl.truststore.location or ssl.truststore.certificates",
            ));
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in trusted {
            roots
                .add(c)
                .map_err(|e| cfg_err(listener, format!("truststore certificate: {e}")))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if auth == ClientAuth::Requested {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        builder.with_client_cert_verifier(
            verifier
                .build()
                .map_err(|e| cfg_err(listener, format!("client verifier: {e}")))?,
        )
    };
    let config = builder
        .with_single_cert(chain, private)
        .map_err(|e| cfg_err(listener, format!("server certificate/key: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
