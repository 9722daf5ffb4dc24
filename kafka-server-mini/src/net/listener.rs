//! The accept loop: one task per connection until shutdown, within the connection limits.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::broker::BrokerState;

/// Accepts connections until the broker shuts down.
pub async fn accept_loop(listener: TcpListener, state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let limits = super::limits::ConnectionLimits::new(
        state.config.max_connections,
        state.config.max_connections_per_ip,
    );
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(admitted) = limits.admit(peer.ip()) else {
                        tracing::info!(%peer, open = limits.open(), "connection limit reached; closing the new connection");
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    tokio::spawn(async move {
                        super::connection::serve(stream, peer, state).await;
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
    tracing::debug!("listener stopped");
}
