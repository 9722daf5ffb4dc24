//! What one connection knows about its peer: the listener it came in on, the TLS
//! principal and, on SASL listeners, the SASL session.
//!
//! Invariant: before a SASL connection has authenticated, nothing but ApiVersions,
//! SaslHandshake and SaslAuthenticate is served ([`ConnSecurity::allows`]).

use std::net::SocketAddr;
use std::sync::Arc;

use krafty_protocol::generated::ApiKey;

use super::principal::Principal;
use super::sasl::SaslSession;
use crate::net::listener::ListenerInfo;

/// The security state of one connection.
#[derive(Debug)]
pub struct ConnSecurity {
    /// The listener the connection came in on (its advertised address goes into Metadata).
    pub listener: Arc<ListenerInfo>,
    /// The peer address.
    pub peer: SocketAddr,
    tls_principal: Principal,
    /// The SASL session (SASL listeners only).
    pub sasl: Option<SaslSession>,
}

impl ConnSecurity {
    /// A connection on `listener`; `tls_principal` is the client certificate's principal
    /// (or `User:ANONYMOUS`).
    pub fn new(listener: Arc<ListenerInfo>, peer: SocketAddr, tls_principal: Principal) -> Self {
        let sasl = listener.sasl.clone().map(SaslSession::new);
        ConnSecurity {
            listener,
            peer,
            tls_principal,
            sasl,
        }
    }

    /// The connection's principal: the SASL one on SASL listeners (`User:ANONYMOUS` until
    /// authenticated), otherwise the TLS one.
    pub fn principal(&self) -> Principal {
        match &self.sasl {
            Some(s) => s.principal().cloned().unwrap_or_else(Principal::anonymous),
            None => self.tls_principal.clone(),
        }
    }

    /// Whether the connection may send requests other than the SASL ones.
    pub fn authenticated(&self) -> bool {
        self.sasl.as_ref().is_none_or(SaslSession::authenticated)
    }

    /// Whether `api` may be served now.
    pub fn allows(&self, api: ApiKey) -> bool {
        self.authenticated()
            || matches!(
                api,
                ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
            )
    }
}
