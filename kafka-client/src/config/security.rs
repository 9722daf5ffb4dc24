//! Security settings: `security.protocol`, the `ssl.*` (TLS) and `sasl.*` keys with the
//! Java client's and librdkafka's names, and what they resolve to.
//!
//! Owns: [`SecurityConfig`] ([`TlsSettings`], [`SaslSettings`]), [`Secret`] (a string
//! whose `Debug` never shows it), the OAUTHBEARER token callback ([`TokenProvider`]) and
//! [`SaslSettings::credentials`], which turns the keys into one mechanism's credentials.
//! Must not: read files or open connections (`net::tls` and `net::sasl` do).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::jaas::{JaasConfig, LoginModule};
use super::parse;
use crate::error::ConfigError;

/// A secret string (password, private key, token): compared and cloned as usual, shown by
/// `Debug` as `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// No TLS, no SASL (the default).
    #[default]
    Plaintext,
    /// TLS, no SASL.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether the connection runs TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether the connection authenticates with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaslMechanism {
    /// `PLAIN` (the default, as Java's `sasl.mechanism`).
    #[default]
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER`.
    OAuthBearer,
}

impl SaslMechanism {
    /// The mechanism's name as sent in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// A bearer token and how long it stays valid, as the OAUTHBEARER token callback returns it.
#[derive(Debug, Clone)]
pub struct OAuthToken {
    /// The token (a JWT, for Kafka's validators).
    pub token: Secret,
    /// How long from now the token is valid; the client asks for a new one after 80% of it.
    pub lifetime: Duration,
}

type TokenFn = dyn Fn() -> Result<OAuthToken, String> + Send + Sync;

/// The OAUTHBEARER token callback: called for a new token when a connection authenticates
/// and the last token is past 80% of its lifetime (Java's refresh window factor).
#[derive(Clone)]
pub struct TokenProvider {
    f: Arc<TokenFn>,
    cached: Arc<Mutex<Option<(OAuthToken, Instant)>>>,
}

impl TokenProvider {
    /// A provider calling `f`; `f` returns the token or why it could not get one.
    pub fn new(f: impl Fn() -> Result<OAuthToken, String> + Send + Sync + 'static) -> Self {
        TokenProvider {
            f: Arc::new(f),
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// A valid token: the cached one while within 80% of its lifetime, else a new one.
    pub fn token(&self) -> Result<OAuthToken, String> {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((t, got)) = cached.as_ref() {
            if got.elapsed() < t.lifetime.mul_f64(0.8) {
                return Ok(t.clone());
            }
        }
        let t = (self.f)()?;
        *cached = Some((t.clone(), Instant::now()));
        Ok(t)
    }
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenProvider(..)")
    }
}

impl PartialEq for TokenProvider {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.f, &other.f)
    }
}

impl Eq for TokenProvider {}

/// TLS settings (`ssl.*`). PEM only: `ssl.truststore.type` and `ssl.keystore.type` must be
/// `PEM` when set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl.ca.location` (librdkafka): a PEM file of CA certificates to trust.
    pub ca_location: Option<PathBuf>,
    /// `ssl.truststore.location` (Java, with `ssl.truststore.type=PEM`): a PEM file of CA
    /// certificates.
    pub truststore_location: Option<PathBuf>,
    /// `ssl.truststore.certificates` (Java): CA certificates as inline PEM.
    pub truststore_certificates: Option<String>,
    /// `ssl.certificate.location` (librdkafka): the client certificate chain (PEM file).
    pub certificate_location: Option<PathBuf>,
    /// `ssl.key.location` (librdkafka): the client's private key (PEM file).
    pub key_location: Option<PathBuf>,
    /// `ssl.key.password`: accepted, but encrypted keys are refused (rustls reads only
    /// unencrypted PKCS#8, PKCS#1 and SEC1 keys).
    pub key_password: Option<Secret>,
    /// `ssl.keystore.location` (Java, with `ssl.keystore.type=PEM`): one PEM file with the
    /// private key and the certificate chain.
    pub keystore_location: Option<PathBuf>,
    /// `ssl.keystore.certificate.chain` (Java): the client certificate chain, inline PEM.
    pub keystore_certificate_chain: Option<String>,
    /// `ssl.keystore.key` (Java): the client's private key, inline PEM.
    pub keystore_key: Option<Secret>,
    /// `ssl.endpoint.identification.algorithm`: `https` (default) checks that the broker's
    /// certificate names the host connected to; empty skips that check (the chain is still
    /// verified), as Java.
    pub verify_hostname: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca_location: None,
            truststore_location: None,
            truststore_certificates: None,
            certificate_location: None,
            key_location: None,
            key_password: None,
            keystore_location: None,
            keystore_certificate_chain: None,
            keystore_key: None,
            verify_hostname: true,
        }
    }
}

/// SASL settings (`sasl.*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslSettings {
    /// `sasl.mechanism` (librdkafka also spells it `sasl.mechanisms`).
    pub mechanism: SaslMechanism,
    /// `sasl.username` (librdkafka).
    pub username: Option<String>,
    /// `sasl.password` (librdkafka).
    pub password: Option<Secret>,
    /// `sasl.jaas.config` (Java), parsed.
    pub jaas: Option<JaasConfig>,
    /// `enable.sasl.oauthbearer.unsecure.jwt` (librdkafka): make unsecured JWTs from
    /// `sasl.oauthbearer.config`.
    pub oauthbearer_unsecure_jwt: bool,
    /// `sasl.oauthbearer.config` (librdkafka): `principal=alice [scope=a,b]
    /// [lifeSeconds=3600] [extension_NAME=value ...]`.
    pub oauthbearer_config: Option<String>,
    /// The OAUTHBEARER token callback set through the API; wins over the unsecured forms.
    pub token_provider: Option<TokenProvider>,
}

/// Every security setting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityConfig {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// TLS settings, used with `SSL` and `SASL_SSL`.
    pub tls: TlsSettings,
    /// SASL settings, used with `SASL_PLAINTEXT` and `SASL_SSL`.
    pub sasl: SaslSettings,
}

/// The defaults of the security keys, as Kafka spells them.
pub const SECURITY_DEFAULTS: &[(&str, &str)] = &[
    ("security.protocol", "PLAINTEXT"),
    ("ssl.endpoint.identification.algorithm", "https"),
    ("sasl.mechanism", "PLAIN"),
    ("enable.sasl.oauthbearer.unsecure.jwt", "false"),
];

/// What one SASL mechanism authenticates with, resolved from the settings.
#[derive(Debug, Clone)]
pub enum SaslCredentials {
    /// PLAIN or SCRAM: a user name and password.
    Password {
        /// The mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512).
        mechanism: SaslMechanism,
        /// The user.
        username: String,
        /// The password.
        password: Secret,
    },
    /// OAUTHBEARER: where tokens come from, and the SASL extensions to send.
    OAuthBearer {
        /// The token source.
        provider: TokenProvider,
        /// `auth` excluded; sent with every token.
        extensions: BTreeMap<String, String>,
    },
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn secret_invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    invalid(key, "<redacted>", reason)
}

fn path(value: &str) -> Option<PathBuf> {
    let v = value.trim();
    (!v.is_empty()).then(|| PathBuf::from(v))
}

fn text(value: &str) -> Option<String> {
    (!value.trim().is_empty()).then(|| value.to_string())
}

impl SecurityConfig {
    /// Sets a security key; `Ok(false)` when the key is not a security one.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let tls = &mut self.tls;
        let sasl = &mut self.sasl;
        match key {
            "security.protocol" => {
                self.protocol = match parse::choice(
                    key,
                    value,
                    &["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"],
                )? {
                    0 => SecurityProtocol::Plaintext,
                    1 => SecurityProtocol::Ssl,
                    2 => SecurityProtocol::SaslPlaintext,
                    _ => SecurityProtocol::SaslSsl,
                }
            }
            "ssl.ca.location" => tls.ca_location = path(value),
            "ssl.truststore.type" | "ssl.keystore.type" => {
                if !value.trim().eq_ignore_ascii_case("PEM") {
                    return Err(invalid(
                        key,
                        value,
                        "only PEM is supported (JKS and PKCS12 stores are not)",
                    ));
                }
            }
            "ssl.truststore.location" => tls.truststore_location = path(value),
            "ssl.truststore.certificates" => tls.truststore_certificates = text(value),
            "ssl.certificate.location" => tls.certificate_location = path(value),
            "ssl.key.location" => tls.key_location = path(value),
            "ssl.key.password" => {
                tls.key_password = (!value.is_empty()).then(|| Secret::new(value))
            }
            "ssl.keystore.location" => tls.keystore_location = path(value),
            "ssl.keystore.certificate.chain" => tls.keystore_certificate_chain = text(value),
            "ssl.keystore.key" => tls.keystore_key = text(value).map(Secret),
            "ssl.endpoint.identification.algorithm" => {
                tls.verify_hostname = match value.trim().to_ascii_lowercase().as_str() {
                    "https" => true,
                    "" | "none" => false,
                    _ => {
                        return Err(invalid(
                            key,
                            value,
                            "expected https or an empty value (none, as librdkafka)",
                        ))
                    }
                }
            }
            "sasl.mechanism" | "sasl.mechanisms" => {
                sasl.mechanism = match value.trim().to_ascii_uppercase().as_str() {
                    "PLAIN" => SaslMechanism::Plain,
                    "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
                    "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
                    "OAUTHBEARER" => SaslMechanism::OAuthBearer,
                    _ => {
                        return Err(invalid(
                            key,
                            value,
                            "expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER \
                             (GSSAPI is not supported)",
                        ))
                    }
                }
            }
            "sasl.username" => sasl.username = Some(value.to_string()),
            "sasl.password" => sasl.password = Some(Secret::new(value)),
            "sasl.jaas.config" => {
                sasl.jaas = if value.trim().is_empty() {
                    None
                } else {
                    Some(JaasConfig::parse(value)?)
                }
            }
            "enable.sasl.oauthbearer.unsecure.jwt" => {
                sasl.oauthbearer_unsecure_jwt = parse::boolean(key, value)?
            }
            "sasl.oauthbearer.config" => {
                if !value.trim().is_empty() {
                    parse_oauthbearer_config(value)?;
                }
                sasl.oauthbearer_config = text(value);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// librdkafka's `sasl.oauthbearer.config`: `principal=`, `scope=` (comma-separated),
/// `lifeSeconds=`, `extension_NAME=`; space-separated.
struct UnsecuredLogin {
    principal: String,
    scope: Vec<String>,
    lifetime_secs: u64,
    extensions: BTreeMap<String, String>,
}

fn parse_oauthbearer_config(value: &str) -> Result<UnsecuredLogin, ConfigError> {
    const KEY: &str = "sasl.oauthbearer.config";
    let mut login = UnsecuredLogin {
        principal: String::new(),
        scope: Vec::new(),
        lifetime_secs: 3600,
        extensions: BTreeMap::new(),
    };
    for item in value.split_whitespace() {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| invalid(KEY, value, format!("`{item}` is not key=value")))?;
        match k {
            "principal" => login.principal = v.to_string(),
            "scope" => login.scope = v.split(',').map(str::to_string).collect(),
            "lifeSeconds" => {
                login.lifetime_secs = parse::int(KEY, v, 1, i64::from(i32::MAX))?.unsigned_abs()
            }
            _ => match k.strip_prefix("extension_") {
                Some(name) if !name.is_empty() => {
                    login.extensions.insert(name.to_string(), v.to_string());
                }
                _ => return Err(invalid(KEY, value, format!("unknown attribute `{k}`"))),
            },
        }
    }
    if login.principal.is_empty() {
        return Err(invalid(KEY, value, "principal=NAME is required"));
    }
    Ok(login)
}

/// Kafka's unsecured login options (`unsecuredLogin*` of `OAuthBearerLoginModule`).
fn jaas_unsecured_login(jaas: &JaasConfig) -> Result<UnsecuredLogin, ConfigError> {
    const KEY: &str = "sasl.jaas.config";
    let principal_claim = jaas
        .option("unsecuredLoginPrincipalClaimName")
        .unwrap_or("sub");
    let principal = jaas
        .option(&format!("unsecuredLoginStringClaim_{principal_claim}"))
        .ok_or_else(|| {
            secret_invalid(
                KEY,
                format!("OAuthBearerLoginModule needs unsecuredLoginStringClaim_{principal_claim}"),
            )
        })?
        .to_string();
    let lifetime_secs = match jaas.option("unsecuredLoginLifetimeSeconds") {
        Some(v) => parse::int(KEY, v, 1, i64::from(i32::MAX))?.unsigned_abs(),
        None => 3600,
    };
    let scope_claim = jaas
        .option("unsecuredLoginScopeClaimName")
        .unwrap_or("scope");
    let scope = jaas
        .option(&format!("unsecuredLoginListClaim_{scope_claim}"))
        .map(|v| {
            // Kafka's list claims: the first character is the separator.
            let mut chars = v.chars();
            match chars.next() {
                Some(sep) => chars
                    .as_str()
                    .split(sep)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                None => Vec::new(),
            }
        })
        .unwrap_or_default();
    let extensions = jaas
        .options
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("unsecuredLoginExtension_")
                .map(|n| (n.to_string(), v.clone()))
        })
        .collect();
    Ok(UnsecuredLogin {
        principal,
        scope,
        lifetime_secs,
        extensions,
    })
}

fn unsecured_provider(login: UnsecuredLogin) -> (TokenProvider, BTreeMap<String, String>) {
    let UnsecuredLogin {
        principal,
        scope,
        lifetime_secs,
        extensions,
    } = login;
    let provider = TokenProvider::new(move || {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| format!("system clock before 1970: {e}"))?
            .as_secs();
        let scope: Vec<&str> = scope.iter().map(String::as_str).collect();
        Ok(OAuthToken {
            token: Secret::new(krafty_protocol::sasl::oauthbearer::unsecured_jwt(
                &principal,
                now,
                lifetime_secs,
                &scope,
            )),
            lifetime: Duration::from_secs(lifetime_secs),
        })
    });
    (provider, extensions)
}

impl SaslSettings {
    /// The credentials of the configured mechanism: `sasl.username`/`sasl.password` win
    /// over `sasl.jaas.config` (whose module must fit the mechanism); for OAUTHBEARER the
    /// token callback wins over `sasl.jaas.config`'s unsecured login and librdkafka's
    /// `enable.sasl.oauthbearer.unsecure.jwt`.
    pub fn credentials(&self) -> Result<SaslCredentials, ConfigError> {
        let mech = self.mechanism;
        if mech == SaslMechanism::OAuthBearer {
            if let Some(p) = &self.token_provider {
                return Ok(SaslCredentials::OAuthBearer {
                    provider: p.clone(),
                    extensions: BTreeMap::new(),
                });
            }
            if let Some(jaas) = &self.jaas {
                if jaas.module != LoginModule::OAuthBearer {
                    return Err(ConfigError::Conflict(format!(
                        "sasl.mechanism=OAUTHBEARER but sasl.jaas.config names {:?}",
                        jaas.module
                    )));
                }
                let (provider, extensions) = unsecured_provider(jaas_unsecured_login(jaas)?);
                return Ok(SaslCredentials::OAuthBearer {
                    provider,
                    extensions,
                });
            }
            if self.oauthbearer_unsecure_jwt {
                let cfg = self.oauthbearer_config.as_deref().unwrap_or("");
                let (provider, extensions) = unsecured_provider(parse_oauthbearer_config(cfg)?);
                return Ok(SaslCredentials::OAuthBearer {
                    provider,
                    extensions,
                });
            }
            return Err(ConfigError::Conflict(
                "sasl.mechanism=OAUTHBEARER needs a token callback, sasl.jaas.config with \
                 OAuthBearerLoginModule, or enable.sasl.oauthbearer.unsecure.jwt=true"
                    .to_string(),
            ));
        }
        let (username, password) = match (&self.username, &self.password, &self.jaas) {
            (Some(u), Some(p), _) => (u.clone(), p.clone()),
            (_, _, Some(jaas)) => {
                let fits = match mech {
                    SaslMechanism::Plain => jaas.module == LoginModule::Plain,
                    _ => jaas.module == LoginModule::Scram,
                };
                if !fits {
                    return Err(ConfigError::Conflict(format!(
                        "sasl.mechanism={} but sasl.jaas.config names {:?}",
                        mech.name(),
                        jaas.module
                    )));
                }
                match (jaas.option("username"), jaas.option("password")) {
                    (Some(u), Some(p)) => (u.to_string(), Secret::new(p)),
                    _ => {
                        return Err(secret_invalid(
                            "sasl.jaas.config",
                            "the login module needs username and password options",
                        ))
                    }
                }
            }
            _ => {
                return Err(ConfigError::Conflict(format!(
                    "sasl.mechanism={} needs sasl.username and sasl.password, or sasl.jaas.config",
                    mech.name()
                )))
            }
        };
        Ok(SaslCredentials::Password {
            mechanism: mech,
            username,
            password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<SecurityConfig, ConfigError> {
        let mut c = SecurityConfig::default();
        for (k, v) in pairs {
            assert!(c.set(k, v)?, "{k} not a security key");
        }
        Ok(c)
    }

    #[test]
    fn defaults_match_java() {
        let c = SecurityConfig::default();
        assert_eq!(c.protocol, SecurityProtocol::Plaintext);
        assert_eq!(c.sasl.mechanism, SaslMechanism::Plain);
        assert!(c.tls.verify_hostname);
        let from_table = cfg(SECURITY_DEFAULTS);
        assert_eq!(from_table, Ok(c));
    }

    #[test]
    fn protocols_mechanisms_and_bad_values() {
        let c = cfg(&[
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
        ]);
        assert!(
            matches!(c, Ok(ref c) if c.protocol == SecurityProtocol::SaslSsl
            && c.sasl.mechanism == SaslMechanism::ScramSha512)
        );
        for (k, v) in [
            ("security.protocol", "TLS"),
            ("sasl.mechanism", "GSSAPI"),
            ("ssl.truststore.type", "JKS"),
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.endpoint.identification.algorithm", "ldap"),
            ("enable.sasl.oauthbearer.unsecure.jwt", "yes"),
            ("sasl.oauthbearer.config", "scope=a"),
            ("sasl.oauthbearer.config", "principal=a bogus"),
        ] {
            assert!(
                matches!(cfg(&[(k, v)]), Err(ConfigError::InvalidValue { .. })),
                "{k}={v}"
            );
        }
        let c = cfg(&[("ssl.endpoint.identification.algorithm", "")]);
        assert!(matches!(c, Ok(ref c) if !c.tls.verify_hostname));
    }

    #[test]
    fn credentials_from_librdkafka_and_jaas_keys() {
        let c = cfg(&[
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ]);
        let creds = c.and_then(|c| c.sasl.credentials());
        assert!(
            matches!(creds, Ok(SaslCredentials::Password { ref username, ref password, mechanism: SaslMechanism::ScramSha256 })
            if username == "alice" && password.expose() == "alice-secret")
        );
        let c = cfg(&[(
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="b";"#,
        )]);
        let creds = c.and_then(|c| c.sasl.credentials());
        assert!(
            matches!(creds, Ok(SaslCredentials::Password { ref username, mechanism: SaslMechanism::Plain, .. }) if username == "bob")
        );
        // A Plain module with a SCRAM mechanism is a conflict, as is no credential at all.
        let c = cfg(&[
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="b";"#,
            ),
        ]);
        assert!(matches!(
            c.and_then(|c| c.sasl.credentials()),
            Err(ConfigError::Conflict(_))
        ));
        let c = cfg(&[("sasl.mechanism", "PLAIN")]);
        assert!(matches!(
            c.and_then(|c| c.sasl.credentials()),
            Err(ConfigError::Conflict(_))
        ));
        let c = cfg(&[("sasl.mechanism", "OAUTHBEARER")]);
        assert!(matches!(
            c.and_then(|c| c.sasl.credentials()),
            Err(ConfigError::Conflict(_))
        ));
    }

    #[test]
    fn unsecured_oauthbearer_tokens_name_the_principal() {
        for pairs in [
            vec![
                ("sasl.mechanism", "OAUTHBEARER"),
                (
                    "sasl.jaas.config",
                    r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";"#,
                ),
            ],
            vec![
                ("sasl.mechanism", "OAUTHBEARER"),
                ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
                ("sasl.oauthbearer.config", "principal=alice lifeSeconds=60"),
            ],
        ] {
            let creds = cfg(&pairs).and_then(|c| c.sasl.credentials());
            let Ok(SaslCredentials::OAuthBearer { provider, .. }) = creds else {
                panic!("{pairs:?}: {creds:?}");
            };
            let token = provider.token();
            let Ok(token) = token else {
                panic!("{token:?}");
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            let claims = krafty_protocol::sasl::oauthbearer::validate_unsecured_jwt(
                token.token.expose(),
                now,
                0.0,
                &[],
            );
            assert!(
                matches!(claims, Ok(ref c) if c.subject == "alice"),
                "{claims:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = cfg(&[
            ("sasl.password", "topsecret1"),
            ("ssl.keystore.key", "-----BEGIN PRIVATE KEY----- topsecret2"),
            ("ssl.key.password", "topsecret3"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="topsecret4";"#,
            ),
        ]);
        let shown = format!("{c:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("bob"), "{shown}");
        // The resolved credentials too (what the connection settings carry).
        let creds = format!("{:?}", c.map(|c| c.sasl.credentials()));
        assert!(creds.contains("Password"), "{creds}");
        assert!(!creds.contains("topsecret"), "{creds}");
    }
}
