//! One client connection.
//!
//! Owns: reading size-prefixed frames (checked against `socket.request.max.bytes` before any
//! allocation; the buffer grows only as bytes arrive, never to a size the peer merely
//! claims), closing a connection without a complete request for `connections.max.idle.ms`
//! (an idle one, or one whose request trickles in), handing each frame to dispatch **in order**, and writing responses in request
//! order even when a handler waits (a per-connection queue of pending responses, drained by
//! a writer task that batches socket writes). The stream is plain TCP or TLS alike. On a
//! SASL listener, frames are limited to `sasl.server.max.receive.size` and the whole
//! authentication to `connections.max.idle.ms` from the accept (requests do not extend
//! it), until the connection has authenticated. Must not: interpret request bodies.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use krafty_protocol::frame::split_frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

/// Whether `buf` starts with a whole frame, or with a size prefix `split_frame` rejects
/// (so the caller lets it report the error). A partial frame is `false` without reserving
/// the size it claims.
fn frame_complete(buf: &[u8], max: usize) -> bool {
    let Some(prefix) = buf.get(..4) else {
        return false;
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    match usize::try_from(size) {
        Ok(size) if size <= max => buf.len() >= 4 + size,
        _ => true,
    }
}

use crate::broker::BrokerState;
use crate::security::session::ConnSecurity;

/// What a handler produced for one request.
#[derive(Debug)]
pub enum Reply {
    /// A whole response frame (size prefix included).
    Frame(BytesMut),
    /// No response (Produce with acks=0).
    Nothing,
    /// Close the connection (after the responses before this one).
    Close,
    /// Write this frame, then close the connection (a refused authentication).
    FrameThenClose(BytesMut),
}

/// A response that is ready or still being computed (long-poll fetch, join group).
pub enum Pending {
    /// Ready now.
    Ready(Reply),
    /// Ready when the future completes.
    Later(Pin<Box<dyn Future<Output = Reply> + Send>>),
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pending::Ready(r) => f.debug_tuple("Ready").field(r).finish(),
            Pending::Later(_) => f.write_str("Later(..)"),
        }
    }
}

/// Pending responses queued per connection before the reader waits for the writer.
const MAX_IN_FLIGHT: usize = 128;

/// Serves one connection until the peer closes it, it misbehaves or the broker stops.
pub async fn serve<S>(stream: S, mut conn: ConnSecurity, state: Arc<BrokerState>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let peer: SocketAddr = conn.peer;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Pending>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(async move {
        let mut out = BytesMut::with_capacity(64 * 1024);
        while let Some(p) = rx.recv().await {
            let reply = match p {
                Pending::Ready(r) => r,
                Pending::Later(f) => f.await,
            };
            match reply {
                Reply::Frame(b) => out.extend_from_slice(&b),
                Reply::Nothing => {}
                Reply::Close => break,
                Reply::FrameThenClose(b) => {
                    out.extend_from_slice(&b);
                    break;
                }
            }
            // batch: only hit the socket when nothing else is queued
            if rx.is_empty() && !out.is_empty() {
                if let Err(e) = wr.write_all(&out).await {
                    tracing::debug!(%peer, error = %e, "write failed");
                    return;
                }
                out.clear();
            }
        }
        if !out.is_empty() {
            let _ = wr.write_all(&out).await;
        }
        let _ = wr.shutdown().await;
    });
    let full_max = state.config.socket_request_max_bytes;
    let auth_max = state.config.sasl_server_max_receive_size.min(full_max);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut shutdown = state.shutdown.clone();
    let idle = Duration::from_millis(state.config.connections_max_idle_ms);
    let mut deadline = Instant::now() + idle;
    let auth_deadline = Instant::now() + idle;
    'conn: loop {
        loop {
            let authenticated = conn.authenticated();
            let max = if authenticated { full_max } else { auth_max };
            if !frame_complete(&buf, max) {
                break;
            }
            deadline = Instant::now() + idle;
            match split_frame(&mut buf, max) {
                Ok(Some(frame)) => {
                    let pending = super::dispatch::dispatch_conn(&state, frame.freeze(), &mut conn);
                    let close = matches!(
                        pending,
                        Pending::Ready(Reply::Close | Reply::FrameThenClose(_))
                    );
                    if tx.send(pending).await.is_err() || close {
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = ?e.kind(), "rejecting frame; closing connection");
                    let _ = tx.send(Pending::Ready(Reply::Close)).await;
                    break 'conn;
                }
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        let wake = if conn.authenticated() {
            deadline
        } else {
            deadline.min(auth_deadline)
        };
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tokio::time::sleep_until(wake) => {
                if !conn.authenticated() {
                    tracing::info!(%peer, listener = %conn.listener.name, "not authenticated within connections.max.idle.ms; closing");
                    break;
                }
                tracing::info!(%peer, buffered = buf.len(), "no complete request within connections.max.idle.ms; closing");
                break;
            }
            n = rd.read_buf(&mut buf) => match n {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "read failed");
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
    tracing::debug!(%peer, "connection closed");
}
