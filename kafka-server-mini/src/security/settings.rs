//! The `ssl.*` and `sasl.*` settings and their per-listener overrides
//! (`listener.name.<listener>.<setting>`, listener names lower case as in Kafka).

use std::collections::BTreeMap;

use crate::error::{BrokerError, Result};

/// Whether `key` is a security setting kept as text in [`SecuritySettings`].
pub fn is_security_key(key: &str) -> bool {
    key.starts_with("ssl.") || key.starts_with("sasl.") || key.starts_with("listener.name.")
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
    }
}
