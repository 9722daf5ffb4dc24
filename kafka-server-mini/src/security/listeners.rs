//! `listeners`, `advertised.listeners` and `listener.security.protocol.map` as Kafka
//! writes them: `NAME://host:port,...` and `NAME:PROTOCOL,...`.

use std::collections::BTreeMap;

use crate::error::{BrokerError, Result};

/// The security protocol of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecurityProtocol {
    /// No TLS, no authentication (principal `User:ANONYMOUS`).
    Plaintext,
    /// TLS; the principal is the client certificate's subject or `User:ANONYMOUS`.
    Ssl,
    /// SASL without TLS.
    SaslPlaintext,
    /// SASL inside TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// The protocol named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    /// Whether connections start with a TLS handshake.
    pub fn tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections must authenticate with SASL before anything else.
    pub fn sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// One entry of `listeners` or `advertised.listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The listener name, upper case (`PLAINTEXT`, `SASL_SSL`, `CLIENT`).
    pub name: String,
    /// The host (empty binds every interface, as in Kafka).
    pub host: String,
    /// The port (0 picks a free port when binding).
    pub port: u16,
}

/// Parses `NAME://host:port,NAME2://[::1]:port`; names must be unique.
pub fn parse_listeners(key: &str, v: &str) -> Result<Vec<ListenerSpec>> {
    let mut out: Vec<ListenerSpec> = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, addr) = entry.split_once("://").ok_or_else(|| {
            BrokerError::Config(format!("`{key}` entry `{entry}` is not NAME://host:port"))
        })?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| BrokerError::Config(format!("`{key}` entry `{entry}` lacks a port")))?;
        let port: u16 = port
            .parse()
            .map_err(|_| BrokerError::Config(format!("`{key}` entry `{entry}`: bad port")))?;
        let name = name.trim().to_ascii_uppercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(BrokerError::Config(format!(
                "`{key}` entry `{entry}`: bad listener name"
            )));
        }
        if out.iter().any(|l| l.name == name) {
            return Err(BrokerError::Config(format!(
                "`{key}` names listener `{name}` twice"
            )));
        }
        out.push(ListenerSpec {
            name,
            host: host.trim_matches(['[', ']']).to_string(),
            port,
        });
    }
    Ok(out)
}

/// Parses `listener.security.protocol.map` (`CLIENT:SASL_SSL,INTERNAL:PLAINTEXT`).
pub fn parse_protocol_map(v: &str) -> Result<BTreeMap<String, SecurityProtocol>> {
    let mut map = BTreeMap::new();
    for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, proto) = entry.split_once(':').ok_or_else(|| {
            BrokerError::Config(format!(
                "`listener.security.protocol.map` entry `{entry}` is not NAME:PROTOCOL"
            ))
        })?;
        let proto = SecurityProtocol::from_name(proto).ok_or_else(|| {
            BrokerError::Config(format!(
                "`listener.security.protocol.map`: unknown security protocol `{proto}`"
            ))
        })?;
        map.insert(name.trim().to_ascii_uppercase(), proto);
    }
    Ok(map)
}

/// Kafka's default map: each protocol's own name maps to it.
pub fn default_protocol_map() -> BTreeMap<String, SecurityProtocol> {
    [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ]
    .into_iter()
    .map(|p| (p.name().to_string(), p))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_and_map() {
        let l = parse_listeners("listeners", "PLAINTEXT://127.0.0.1:9092, client://[::1]:0")
            .expect("parse");
        assert_eq!(l[1].name, "CLIENT");
        assert_eq!(l[1].host, "::1");
        assert!(parse_listeners("listeners", "A://h:1,a://h:2").is_err());
        assert!(parse_listeners("listeners", "h:1").is_err());
        let m = parse_protocol_map("CLIENT:sasl_ssl").expect("map");
        assert_eq!(m.get("CLIENT"), Some(&SecurityProtocol::SaslSsl));
        assert!(parse_protocol_map("X:TLS").is_err());
    }
}
