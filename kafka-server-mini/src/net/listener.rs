//! The accept loop: one task per connection until shutdown.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::broker::BrokerState;

/// Accepts connections until the broker shuts down.
pub async fn accept_loop(listener: TcpListener, state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(super::connection::serve(stream, peer, state.clone()));
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
