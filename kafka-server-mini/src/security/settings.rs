//! The `ssl.*` and `sasl.*` settings and their per-listener overrides
//! (`listener.name.<listener>.<setting>`, listener names lower case as in Kafka).

use std::collections::BTreeMap;

use crate::error::{BrokerError, Result};

/// The `ssl.*` and `sasl.*` settings this broker reads (a typo is an unknown key).
pub const KNOWN: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.ca.location",
    "ssl.client.auth",
    "sasl.enabled.mechanisms",
    "sasl.jaas.config",
    // Read per listener only (`listener.name.<l>.connections.max.reauth.ms`); the broker-wide
    // value is BrokerConfig's own setting.
    "connections.max.reauth.ms",
];

/// Whether `key` is a setting this broker reads: one of [`KNOWN`], or one prefixed by
/// `listener.name.<listener>.`, or `listener.name.<listener>.<mechanism>.sasl.jaas.config`.
pub fn known_key(key: &str) -> bool {
    if KNOWN.contains(&key) {
        return true;
    }
    let Some(rest) = key.strip_prefix("listener.name.") else {
        return false;
    };
    let Some((_, setting)) = rest.split_once('.') else {
        return false;
    };
    KNOWN.contains(&setting)
        || setting.split_once('.').is_some_and(|(mech, s)| {
            s == "sasl.jaas.config"
                && SUPPORTED_MECHANISMS
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(mech))
        })
}

/// Raw `ssl.*`, `sasl.*` and `listener.name.*` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecuritySettings {
    values: BTreeMap<String, String>,
}

impl SecuritySettings {
    /// Records one setting.
    pub fn set(&mut self, key: &str, value: &str) {
        self.values
            .insert(key.to_string(), value.trim().to_string());
    }

    /// The raw value of `key`.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// `setting` for `listener`: `listener.name.<listener>.<setting>` first, then `setting`.
    pub fn get(&self, listener: &str, setting: &str) -> Option<&str> {
        let prefixed = format!("listener.name.{}.{setting}", listener.to_ascii_lowercase());
        self.raw(&prefixed)
            .or_else(|| self.raw(setting))
            .filter(|v| !v.is_empty())
    }

    /// The JAAS config of `mechanism` on `listener`:
    /// `listener.name.<l>.<mechanism>.sasl.jaas.config`, then `listener.name.<l>.sasl.jaas.config`,
    /// then `sasl.jaas.config`.
    pub fn jaas(&self, listener: &str, mechanism: &str) -> Option<&str> {
        let l = listener.to_ascii_lowercase();
        let m = mechanism.to_ascii_lowercase();
        self.raw(&format!("listener.name.{l}.{m}.sasl.jaas.config"))
            .or_else(|| self.get(listener, "sasl.jaas.config"))
    }

    /// `sasl.enabled.mechanisms` for `listener` (default `PLAIN` here; Kafka's is GSSAPI,
    /// which this broker does not implement).
    pub fn enabled_mechanisms(&self, listener: &str) -> Result<Vec<String>> {
        let v = self
            .get(listener, "sasl.enabled.mechanisms")
            .unwrap_or("PLAIN");
        let mut out = Vec::new();
        for m in v.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let m = m.to_ascii_uppercase();
            if !SUPPORTED_MECHANISMS.contains(&m.as_str()) {
                return Err(BrokerError::Config(format!(
                    "sasl.enabled.mechanisms: `{m}` is not supported (supported: {})",
                    SUPPORTED_MECHANISMS.join(", ")
                )));
            }
            if !out.contains(&m) {
                out.push(m);
            }
        }
        Ok(out)
    }
}

/// The SASL mechanisms this broker implements.
pub const SUPPORTED_MECHANISMS: &[&str] =
    &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_overrides_win() {
        let mut s = SecuritySettings::default();
        s.set("ssl.keystore.location", "/a");
        s.set("listener.name.client.ssl.keystore.location", "/b");
        s.set("listener.name.client.plain.sasl.jaas.config", "x");
        assert_eq!(s.get("CLIENT", "ssl.keystore.location"), Some("/b"));
        assert_eq!(s.get("OTHER", "ssl.keystore.location"), Some("/a"));
        assert_eq!(s.jaas("CLIENT", "PLAIN"), Some("x"));
        assert_eq!(s.jaas("CLIENT", "SCRAM-SHA-512"), None);
        assert_eq!(s.enabled_mechanisms("X").expect("default"), vec!["PLAIN"]);
        s.set("sasl.enabled.mechanisms", "GSSAPI");
        assert!(s.enabled_mechanisms("X").is_err());
        assert!(known_key(
            "listener.name.client.scram-sha-512.sasl.jaas.config"
        ));
        assert!(known_key("listener.name.client.ssl.client.auth"));
        assert!(!known_key("ssl.keystore.pasword"));
        assert!(!known_key("listener.name.client.gssapi.sasl.jaas.config"));
    }
}
