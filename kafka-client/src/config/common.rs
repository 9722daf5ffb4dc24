//! Settings every client (producer, consumer, admin) shares: bootstrap, client id,
//! timeouts, reconnect backoff and metadata age.

use std::time::Duration;

use super::parse;
use super::security::{SecurityConfig, TokenProvider};
use crate::error::ConfigError;

/// Settings shared by every client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonConfig {
    /// `bootstrap.servers`: `host:port` addresses to fetch the first metadata from.
    pub bootstrap_servers: Vec<(String, u16)>,
    /// `client.id`: sent in every request header.
    pub client_id: String,
    /// `request.timeout.ms`: how long to wait for a response before failing the request
    /// and closing the connection.
    pub request_timeout: Duration,
    /// `socket.connection.setup.timeout.ms`: how long a TCP connect plus the ApiVersions
    /// exchange may take.
    pub connection_setup_timeout: Duration,
    /// `reconnect.backoff.ms`: the first wait before reconnecting to a broker.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`: the cap of the exponential reconnect backoff.
    pub reconnect_backoff_max: Duration,
    /// `retry.backoff.ms`: the wait before retrying a failed request.
    pub retry_backoff: Duration,
    /// `metadata.max.age.ms`: metadata older than this is refreshed.
    pub metadata_max_age: Duration,
    /// `security.protocol`, `ssl.*` and `sasl.*`.
    pub security: SecurityConfig,
}

impl Default for CommonConfig {
    fn default() -> Self {
        CommonConfig {
            bootstrap_servers: vec![("localhost".to_string(), 9092)],
            client_id: String::new(),
            request_timeout: Duration::from_millis(30_000),
            connection_setup_timeout: Duration::from_millis(10_000),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1000),
            retry_backoff: Duration::from_millis(100),
            metadata_max_age: Duration::from_millis(300_000),
            security: SecurityConfig::default(),
        }
    }
}

/// The defaults of the common keys, as Kafka spells them.
pub const COMMON_DEFAULTS: &[(&str, &str)] = &[
    ("bootstrap.servers", "localhost:9092"),
    ("client.id", ""),
    ("request.timeout.ms", "30000"),
    ("socket.connection.setup.timeout.ms", "10000"),
    ("reconnect.backoff.ms", "50"),
    ("reconnect.backoff.max.ms", "1000"),
    ("retry.backoff.ms", "100"),
    ("metadata.max.age.ms", "300000"),
    ("security.protocol", "PLAINTEXT"),
    ("ssl.endpoint.identification.algorithm", "https"),
    ("sasl.mechanism", "PLAIN"),
    ("enable.sasl.oauthbearer.unsecure.jwt", "false"),
];

const INT_MAX: i64 = i32::MAX as i64;

impl CommonConfig {
    /// Sets a common key; `Ok(false)` when the key is not a common one.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "bootstrap.servers" => {
                self.bootstrap_servers = parse::list(key, value)?
                    .iter()
                    .map(|s| parse::host_port(key, s))
                    .collect::<Result<_, _>>()?;
            }
            "client.id" => self.client_id = value.to_string(),
            "request.timeout.ms" => self.request_timeout = parse::millis(key, value, INT_MAX)?,
            "socket.connection.setup.timeout.ms" => {
                self.connection_setup_timeout = parse::millis(key, value, i64::MAX)?;
            }
            "reconnect.backoff.ms" => self.reconnect_backoff = parse::millis(key, value, i64::MAX)?,
            "reconnect.backoff.max.ms" => {
                self.reconnect_backoff_max = parse::millis(key, value, i64::MAX)?;
            }
            "retry.backoff.ms" => self.retry_backoff = parse::millis(key, value, i64::MAX)?,
            "metadata.max.age.ms" => self.metadata_max_age = parse::millis(key, value, i64::MAX)?,
            _ => return self.security.set(key, value),
        }
        Ok(true)
    }

    /// Sets the OAUTHBEARER token callback (`sasl.mechanism=OAUTHBEARER`): `f` returns a
    /// token and its lifetime, or why it has none. It is called when a connection
    /// authenticates and the last token is past 80% of its lifetime; it wins over the
    /// unsecured-JWT settings.
    pub fn set_oauthbearer_token_callback(
        &mut self,
        f: impl Fn() -> Result<super::OAuthToken, String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.security.sasl.token_provider = Some(TokenProvider::new(f));
        self
    }
}
