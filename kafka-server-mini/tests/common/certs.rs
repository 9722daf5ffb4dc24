//! Certificates made at test time with rcgen (never committed): a CA, a server certificate
//! for `localhost` and `127.0.0.1`, client certificates, and a second, untrusted CA.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// PEM files written into one folder.
pub struct TestPki {
    /// The trusted CA certificate.
    pub ca: PathBuf,
    /// The server's private key followed by its certificate (an `ssl.keystore.location`).
    pub server_keystore: PathBuf,
    /// The server certificate alone.
    pub server_cert: PathBuf,
    /// The server key alone.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA (`CN=client,O=krafty`).
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// A client certificate signed by another CA.
    pub rogue_cert: PathBuf,
    /// Its key.
    pub rogue_key: PathBuf,
    /// The CA's PEM text.
    pub ca_pem: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(p, KeyPair::generate().expect("key")).expect("ca")
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    sans: &[&str],
    cn: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "krafty");
    p.extended_key_usages = vec![usage];
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let key = KeyPair::generate().expect("key");
    let cert = p.signed_by(&key, issuer).expect("sign");
    (cert.pem(), key.serialize_pem())
}

/// Makes the PKI in `dir`.
pub fn make(dir: &Path) -> TestPki {
    let ca_issuer = ca("krafty test CA");
    let rogue_ca = ca("rogue CA");
    let (srv, srv_key) = leaf(
        &ca_issuer,
        &["localhost", "127.0.0.1"],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (cli, cli_key) = leaf(
        &ca_issuer,
        &[],
        "client",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (rogue, rogue_key) = leaf(&rogue_ca, &[], "rogue", ExtendedKeyUsagePurpose::ClientAuth);
    let w = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write pem");
        p
    };
    TestPki {
        ca: w("ca.pem", &ca_issuer.pem()),
        server_keystore: w("server-keystore.pem", &format!("{srv_key}{srv}")),
        server_cert: w("server.pem", &srv),
        server_key: w("server.key", &srv_key),
        client_cert: w("client.pem", &cli),
        client_key: w("client.key", &cli_key),
        rogue_cert: w("rogue.pem", &rogue),
        rogue_key: w("rogue.key", &rogue_key),
        ca_pem: ca_issuer.pem(),
    }
}
