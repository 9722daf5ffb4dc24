//! Listeners: binding each of `listeners`, the TLS handshake on SSL listeners, and the
//! accept loop (one task per connection until shutdown, within the connection limits).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::broker::BrokerState;
use crate::security::principal::{certificate_subject, Principal};
use crate::security::sasl::SaslConfig;
use crate::security::session::ConnSecurity;
use crate::security::SecurityProtocol;

/// One bound listener.
pub struct ListenerInfo {
    /// The listener name (`PLAINTEXT`, `CLIENT`).
    pub name: String,
    /// Its security protocol.
    pub protocol: SecurityProtocol,
    /// The bound address.
    pub local_addr: SocketAddr,
    /// The host and port Metadata and FindCoordinator give clients of this listener.
    pub advertised: (String, i32),
    /// The TLS acceptor (SSL and SASL_SSL).
    pub tls: Option<TlsAcceptor>,
    /// The SASL settings (SASL_PLAINTEXT and SASL_SSL).
    pub sasl: Option<Arc<SaslConfig>>,
}

impl std::fmt::Debug for ListenerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerInfo")
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("local_addr", &self.local_addr)
            .field("advertised", &self.advertised)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl ListenerInfo {
    /// A PLAINTEXT listener with no socket (in-process dispatch, fuzzing).
    pub fn plaintext(local_addr: SocketAddr, advertised: (String, i32)) -> Self {
        ListenerInfo {
            name: "PLAINTEXT".into(),
            protocol: SecurityProtocol::Plaintext,
            local_addr,
            advertised,
            tls: None,
            sasl: None,
        }
    }
}

/// Accepts connections on `listener` until the broker shuts down.
pub async fn accept_loop(listener: TcpListener, info: Arc<ListenerInfo>, state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(admitted) = state.connection_limits.admit(peer.ip()) else {
                        tracing::info!(%peer, open = state.connection_limits.open(), "connection limit reached; closing the new connection");
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    let info = info.clone();
                    tokio::spawn(async move {
                        start_connection(stream, peer, info, state).await;
                        drop(admitted);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
    tracing::debug!(listener = %info.name, "listener stopped");
}

async fn start_connection(
    stream: TcpStream,
    peer: SocketAddr,
    info: Arc<ListenerInfo>,
    state: Arc<BrokerState>,
) {
    let Some(acceptor) = info.tls.clone() else {
        let conn = ConnSecurity::new(info, peer, Principal::anonymous());
        super::connection::serve(stream, conn, state).await;
        return;
    };
    // the handshake counts against the authentication limit (connections.max.idle.ms)
    let limit = std::time::Duration::from_millis(state.config.connections_max_idle_ms);
    let tls = match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, listener = %info.name, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, listener = %info.name, "no TLS handshake within connections.max.idle.ms; closing");
            return;
        }
    };
    let principal = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| certificate_subject(c))
        .map_or_else(Principal::anonymous, |s| Principal::user(&s));
    tracing::debug!(%peer, listener = %info.name, %principal, "TLS connection");
    let conn = ConnSecurity::new(info, peer, principal);
    super::connection::serve(tls, conn, state).await;
}
