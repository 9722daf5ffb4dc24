//! Typed configuration with Java-client key names.
//!
//! Owns: [`ProducerConfig`], [`ConsumerConfig`], [`AdminConfig`] and their shared
//! [`CommonConfig`]; string keys as the Java client spells them (`set("batch.size",
//! "16384")`), a defaults table per client, and typed errors for unknown keys and malformed
//! values. Must not: open connections or read the environment.

mod common;
mod consumer;
mod jaas;
mod parse;
mod producer;
mod security;

pub use common::{CommonConfig, COMMON_DEFAULTS};
pub use consumer::{ConsumerConfig, IsolationLevel, OffsetReset, CONSUMER_DEFAULTS};
pub use jaas::{JaasConfig, LoginModule};
pub use producer::{Acks, ProducerConfig, PRODUCER_DEFAULTS};
pub use security::{
    OAuthToken, SaslCredentials, SaslMechanism, SaslSettings, Secret, SecurityConfig,
    SecurityProtocol, TlsSettings, TokenProvider, SECURITY_DEFAULTS,
};

use crate::error::ConfigError;

/// Admin client configuration: the common settings only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminConfig {
    /// Settings shared by every client.
    pub common: CommonConfig,
}

impl AdminConfig {
    /// A default configuration with `bootstrap.servers` set.
    pub fn new(bootstrap_servers: &str) -> Result<Self, ConfigError> {
        let mut c = AdminConfig::default();
        c.set("bootstrap.servers", bootstrap_servers)?;
        Ok(c)
    }

    /// Sets a key by its Java-client name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, ConfigError> {
        if self.common.set(key, value)? {
            Ok(self)
        } else {
            Err(ConfigError::UnknownKey(key.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_table_matches_default_values() {
        let mut p = ProducerConfig::default();
        for (k, v) in COMMON_DEFAULTS.iter().chain(PRODUCER_DEFAULTS) {
            p.set(k, v)
                .map_err(|e| e.to_string())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        p.idempotence_explicit = false;
        assert_eq!(p, ProducerConfig::default());
        let mut c = ConsumerConfig::default();
        for (k, v) in COMMON_DEFAULTS.iter().chain(CONSUMER_DEFAULTS) {
            c.set(k, v)
                .map_err(|e| e.to_string())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(c, ConsumerConfig::default());
    }

    #[test]
    fn typed_values_and_errors() {
        let mut p = ProducerConfig::default();
        assert!(p.set("batch.size", "1000").is_ok());
        assert_eq!(p.batch_size, 1000);
        assert!(p.set("compression.type", "ZSTD").is_ok());
        assert_eq!(p.compression, krafty_protocol::records::Compression::Zstd);
        assert!(p.set("bootstrap.servers", "a:1, b:2").is_ok());
        assert_eq!(p.common.bootstrap_servers.len(), 2);
        assert_eq!(
            p.set("no.such.key", "1").err(),
            Some(ConfigError::UnknownKey("no.such.key".into()))
        );
        assert!(matches!(
            p.set("batch.size", "big"),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            p.set("acks", "2"),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            p.set("linger.ms", "-1"),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            p.set("bootstrap.servers", "nohost"),
            Err(ConfigError::InvalidValue { .. })
        ));
        let mut c = ConsumerConfig::default();
        assert!(c.set("auto.offset.reset", "earliest").is_ok());
        assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
        assert!(c.set("batch.size", "1").is_err());
    }

    #[test]
    fn idempotence_conflicts() {
        let p = ProducerConfig::default().with("acks", "1").ok();
        let effective = p.as_ref().map(|p| p.validate());
        assert!(matches!(effective, Some(Ok(ref c)) if !c.enable_idempotence));
        let p = ProducerConfig::default()
            .with("acks", "1")
            .and_then(|p| p.with("enable.idempotence", "true"));
        assert!(matches!(
            p.map(|p| p.validate()),
            Ok(Err(ConfigError::Conflict(_)))
        ));
        assert!(ProducerConfig::default()
            .validate()
            .is_ok_and(|c| c.enable_idempotence));
    }

    #[test]
    fn transactional_id_implies_idempotence_and_needs_acks_all() {
        let p = ProducerConfig::default().with("transactional.id", "tx-1");
        let effective = p.map(|p| p.validate());
        assert!(matches!(effective, Ok(Ok(ref c))
            if c.enable_idempotence && c.transactional_id.as_deref() == Some("tx-1")
                && c.transaction_timeout == std::time::Duration::from_secs(60)));
        let p = ProducerConfig::default()
            .with("transactional.id", "tx-1")
            .and_then(|p| p.with("acks", "1"));
        assert!(matches!(
            p.map(|p| p.validate()),
            Ok(Err(ConfigError::Conflict(_)))
        ));
        let p = ProducerConfig::default()
            .with("transactional.id", "tx-1")
            .and_then(|p| p.with("enable.idempotence", "false"));
        assert!(matches!(
            p.map(|p| p.validate()),
            Ok(Err(ConfigError::Conflict(_)))
        ));
        assert!(ProducerConfig::default()
            .with("transactional.id", "")
            .is_err());
    }
}
