//! TLS for `security.protocol=SSL` and `SASL_SSL`: the rustls client configuration built
//! from the `ssl.*` settings, and the handshake over a TCP stream.
//!
//! Owns: reading the PEM trust anchors (`ssl.ca.location`, `ssl.truststore.*`, else the
//! system store), the client certificate and key for mutual TLS (`ssl.certificate.location`
//! with `ssl.key.location`, or `ssl.keystore.*`), host-name verification
//! (`ssl.endpoint.identification.algorithm`), and mapping handshake failures to
//! [`AuthError`]. Must not: speak Kafka.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::TlsSettings;
use crate::error::{AuthError, Error, Result};

fn cfg_err(why: impl Into<String>) -> Error {
    Error::Authentication(AuthError::TlsConfig(why.into()))
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| cfg_err(format!("cannot read {what} {}: {e}", path.display())))
}

fn certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| cfg_err(format!("{what}: malformed PEM: {e}")))?;
    if certs.is_empty() {
        return Err(cfg_err(format!("{what}: no CERTIFICATE in the PEM")));
    }
    Ok(certs)
}

fn key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(cfg_err(format!(
            "{what} is encrypted; this client cannot decrypt private keys (ssl.key.password): \
             provide an unencrypted PKCS#8, PKCS#1 or SEC1 key"
        )));
    }
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| cfg_err(format!("{what}: no usable private key in the PEM: {e}")))
}

/// The trust anchors: the configured PEM certificates, else the system store.
fn roots(s: &TlsSettings) -> Result<RootCertStore> {
    let mut pems: Vec<(Vec<u8>, &str)> = Vec::new();
    if let Some(p) = &s.ca_location {
        pems.push((read_pem(p, "ssl.ca.location")?, "ssl.ca.location"));
    }
    if let Some(p) = &s.truststore_location {
        pems.push((
            read_pem(p, "ssl.truststore.location")?,
            "ssl.truststore.location",
        ));
    }
    if let Some(inline) = &s.truststore_certificates {
        pems.push((inline.as_bytes().to_vec(), "ssl.truststore.certificates"));
    }
    let mut store = RootCertStore::empty();
    if pems.is_empty() {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "system trust store");
        }
        let (added, _ignored) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(cfg_err(
                "no CA configured (ssl.ca.location / ssl.truststore.*) and the system trust \
                 store has no certificates",
            ));
        }
        return Ok(store);
    }
    for (pem, what) in pems {
        for c in certs(&pem, what)? {
            store
                .add(c)
                .map_err(|e| cfg_err(format!("{what}: not a usable CA certificate: {e}")))?;
        }
    }
    Ok(store)
}

type ClientAuth = Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>;

/// The client certificate chain and key for mutual TLS, if configured.
fn client_auth(s: &TlsSettings) -> Result<ClientAuth> {
    match (&s.certificate_location, &s.key_location) {
        (Some(c), Some(k)) => {
            let chain = certs(
                &read_pem(c, "ssl.certificate.location")?,
                "ssl.certificate.location",
            )?;
            let key = key(&read_pem(k, "ssl.key.location")?, "ssl.key.location")?;
            return Ok(Some((chain, key)));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(cfg_err(
                "ssl.certificate.location and ssl.key.location go together",
            ))
        }
        (None, None) => {}
    }
    if let Some(p) = &s.keystore_location {
        let pem = read_pem(p, "ssl.keystore.location")?;
        return Ok(Some((
            certs(&pem, "ssl.keystore.location")?,
            key(&pem, "ssl.keystore.location")?,
        )));
    }
    match (&s.keystore_certificate_chain, &s.keystore_key) {
        (Some(c), Some(k)) => Ok(Some((
            certs(c.as_bytes(), "ssl.keystore.certificate.chain")?,
            key(k.expose().as_bytes(), "ssl.keystore.key")?,
        ))),
        (None, None) => Ok(None),
        _ => Err(cfg_err(
            "ssl.keystore.certificate.chain and ssl.keystore.key go together",
        )),
    }
}

/// Verifies the chain as WebPKI does but accepts a certificate that does not name the
/// host (`ssl.endpoint.identification.algorithm=`, as Java).
#[derive(Debug)]
struct NoHostnameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for NoHostnameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Builds the rustls client configuration (ring provider, TLS 1.2 and 1.3) from the
/// settings; reads the PEM files now.
pub fn client_config(s: &TlsSettings) -> Result<Arc<ClientConfig>> {
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots(s)?);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| cfg_err(e.to_string()))?;
    let builder = if s.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| cfg_err(e.to_string()))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoHostnameVerifier(inner)))
    };
    let config = match client_auth(s)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| cfg_err(format!("client certificate and key: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Runs the TLS handshake over `tcp` for `host` (a DNS name or an IP address, checked
/// against the certificate's subject alternative names unless verification is off).
pub async fn handshake(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| cfg_err(format!("`{host}` is not a valid TLS server name: {e}")))?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let tls = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            let step = match tls {
                Some(rustls::Error::InvalidCertificate(c)) => {
                    AuthError::CertificateVerification(format!("{host}: {c:?}"))
                }
                Some(other) => AuthError::TlsHandshake(format!("{host}: {other}")),
                None => AuthError::TlsHandshake(format!("{host}: {e}")),
            };
            Error::Authentication(step)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn err_text(r: Result<Arc<ClientConfig>>) -> String {
        match r {
            Err(Error::Authentication(AuthError::TlsConfig(why))) => why,
            Err(e) => panic!("not a TlsConfig error: {e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    const CA: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ1c=\n-----END CERTIFICATE-----\n";

    #[test]
    fn encrypted_keys_and_half_pairs_are_refused() {
        let s = TlsSettings {
            truststore_certificates: Some("no pem here".into()),
            ..TlsSettings::default()
        };
        assert!(err_text(client_config(&s)).contains("no CERTIFICATE"));
        let s = TlsSettings {
            certificate_location: Some("/nonexistent/client.pem".into()),
            ..TlsSettings::default()
        };
        assert!(err_text(client_config(&s)).contains("go together"));
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = key(encrypted.as_bytes(), "ssl.keystore.key");
        assert!(
            matches!(e, Err(Error::Authentication(AuthError::TlsConfig(ref w))) if w.contains("encrypted")),
            "{e:?}"
        );
        let s = TlsSettings {
            keystore_key: Some(Secret::new(encrypted)),
            ..TlsSettings::default()
        };
        assert!(err_text(client_config(&s)).contains("go together"));
        let s = TlsSettings {
            ca_location: Some("/nonexistent/ca.pem".into()),
            ..TlsSettings::default()
        };
        assert!(err_text(client_config(&s)).contains("cannot read ssl.ca.location"));
        // A PEM block that is not a certificate DER is refused as a CA.
        let s = TlsSettings {
            truststore_certificates: Some(CA.into()),
            ..TlsSettings::default()
        };
        let _ = err_text(client_config(&s));
    }
}
