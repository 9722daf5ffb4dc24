//! One connection to one broker (plain TCP or TLS over TCP): pipelined requests matched to
//! responses by correlation id.
//!
//! Owns: the stream (TCP, or TLS from `net::tls`), split into a writer task (frames are queued and written in queue
//! order, so callers that enqueue in order get their requests on the wire in order) and a
//! reader task (frames are split off the stream with the size limit checked before any
//! allocation and handed to the waiter registered under their correlation id), the
//! negotiated [`ApiVersions`], and `request.timeout.ms`. A request that times out closes
//! the connection (as the Java client does), failing every other in-flight request with
//! [`Error::Disconnected`]. With SASL the connection is authenticated (`net::sasl`) before
//! [`Connection::connect`] hands it out, and it reports when the broker's session lifetime
//! is 85-95% spent ([`Connection::needs_reauthentication`]), so the pool replaces it.
//! Must not: retry, reconnect or know about topics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use krafty_protocol::frame::{decode_typed_response, split_frame, write_typed_request};
use krafty_protocol::generated::ApiKey;
use krafty_protocol::message::{ClientRequest, Decode};
use krafty_protocol::wire::StrBytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::versions::{negotiate, ApiVersions};
use crate::config::SaslCredentials;
use crate::error::{Error, Result};

/// Largest response frame accepted: Kafka's `socket.request.max.bytes` default (100 MiB).
pub const MAX_RESPONSE_SIZE: usize = krafty_protocol::frame::DEFAULT_MAX_FRAME_SIZE;

type Waiter = oneshot::Sender<Result<Bytes>>;

/// A request frame for the writer, with whom to tell once it is written to the socket
/// (requests that get no response: Produce with acks=0).
type Outgoing = (Bytes, Option<oneshot::Sender<()>>);

/// State shared by the handle, the writer and the reader.
struct Shared {
    addr: String,
    pending: Mutex<HashMap<i32, Waiter>>,
    closed: AtomicBool,
}

impl Shared {
    /// Marks the connection closed and fails every waiter.
    fn close(&self, why: &str) {
        let waiters: Vec<Waiter> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if self.closed.swap(true, Ordering::SeqCst) && pending.is_empty() {
                return;
            }
            pending.drain().map(|(_, w)| w).collect()
        };
        if !waiters.is_empty() {
            tracing::debug!(addr = %self.addr, why, n = waiters.len(), "connection closed");
        }
        for w in waiters {
            let _ = w.send(Err(Error::Disconnected(format!("{}: {why}", self.addr))));
        }
    }
}

struct Inner {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Outgoing>,
    next_id: AtomicI32,
    client_id: Option<StrBytes>,
    request_timeout: Duration,
    versions: OnceLock<ApiVersions>,
    /// When the SASL session should be renewed (85-95% of the lifetime the broker granted).
    reauth_at: OnceLock<Instant>,
    reader: AbortHandle,
    writer: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close("connection dropped");
        self.reader.abort();
        self.writer.abort();
    }
}

/// A connection to one broker; cheap to clone (clones share the socket).
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection({})", self.inner.shared.addr)
    }
}

/// A response not yet received; see [`Connection::enqueue`].
#[derive(Debug)]
pub struct PendingResponse<R> {
    rx: oneshot::Receiver<Result<Bytes>>,
    version: i16,
    correlation_id: i32,
    conn: Connection,
    _marker: std::marker::PhantomData<fn() -> R>,
}

impl<R: krafty_protocol::message::Message> PendingResponse<R> {
    /// The raw response frame (header included), within `request.timeout.ms`.
    pub async fn wait_bytes(self) -> Result<Bytes> {
        let timeout = self.conn.inner.request_timeout;
        match tokio::time::timeout(timeout, self.rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Disconnected(self.conn.addr().to_string())),
            Err(_) => {
                self.conn.forget(self.correlation_id);
                self.conn.close("request timed out");
                Err(Error::Timeout(format!(
                    "no response from {} within request.timeout.ms ({} ms)",
                    self.conn.addr(),
                    timeout.as_millis()
                )))
            }
        }
    }
}

impl<R: krafty_protocol::message::Response + Decode> PendingResponse<R> {
    /// The decoded response.
    pub async fn wait(self) -> Result<R> {
        let version = self.version;
        let bytes = self.wait_bytes().await?;
        Connection::decode::<R>(bytes, version)
    }
}

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// `client.id`.
    pub client_id: String,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `socket.connection.setup.timeout.ms` (TCP connect, TLS handshake, ApiVersions and
    /// SASL authentication).
    pub setup_timeout: Duration,
    /// The TLS configuration, for `SSL` and `SASL_SSL`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The SASL credentials, for `SASL_PLAINTEXT` and `SASL_SSL`.
    pub sasl: Option<SaslCredentials>,
}

/// A random factor in `0.85..0.95`: when to re-authenticate within the session lifetime
/// (Java's jitter, so connections opened together do not renew together).
fn reauth_factor() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    0.85 + (h.finish() % 10_000) as f64 / 100_000.0
}

impl Connection {
    /// Connects to `host:port`, runs the TLS handshake when configured, negotiates API
    /// versions and authenticates with SASL when configured, all within the setup timeout.
    pub async fn connect(host: &str, port: u16, cfg: &ConnectionConfig) -> Result<Connection> {
        let addr = format!("{host}:{port}");
        let setup = async {
            let stream = TcpStream::connect((host, port)).await?;
            stream.set_nodelay(true)?;
            let conn = match &cfg.tls {
                None => {
                    let (r, w) = stream.into_split();
                    Connection::from_halves(r, w, addr.clone(), cfg)
                }
                Some(tls) => {
                    let stream = super::tls::handshake(tls.clone(), host, stream).await?;
                    let (r, w) = tokio::io::split(stream);
                    Connection::from_halves(r, w, addr.clone(), cfg)
                }
            };
            let versions = negotiate(&conn).await?;
            let _ = conn.inner.versions.set(versions);
            if let Some(creds) = &cfg.sasl {
                let started = Instant::now();
                if let Some(lifetime) = super::sasl::authenticate(&conn, creds).await? {
                    let _ = conn
                        .inner
                        .reauth_at
                        .set(started + lifetime.mul_f64(reauth_factor()));
                }
            }
            Ok::<_, Error>(conn)
        };
        match tokio::time::timeout(cfg.setup_timeout, setup).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout(format!(
                "connecting to {addr} (socket.connection.setup.timeout.ms)"
            ))),
        }
    }

    fn from_halves<R, W>(read: R, write: W, addr: String, cfg: &ConnectionConfig) -> Connection
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared {
            addr,
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(write, rx, shared.clone())).abort_handle();
        let reader = tokio::spawn(read_loop(read, shared.clone())).abort_handle();
        Connection {
            inner: Arc::new(Inner {
                shared,
                tx,
                next_id: AtomicI32::new(0),
                client_id: Some(StrBytes::from(cfg.client_id.clone())),
                request_timeout: cfg.request_timeout,
                versions: OnceLock::new(),
                reauth_at: OnceLock::new(),
                reader,
                writer,
            }),
        }
    }

    /// Whether the SASL session is 85-95% through the lifetime the broker granted: new
    /// requests should go to a freshly authenticated connection (in-flight ones finish
    /// here).
    pub fn needs_reauthentication(&self) -> bool {
        self.inner
            .reauth_at
            .get()
            .is_some_and(|at| Instant::now() >= *at)
    }

    /// `host:port` of the broker.
    pub fn addr(&self) -> &str {
        &self.inner.shared.addr
    }

    /// Whether the connection is closed (then every request fails).
    pub fn is_closed(&self) -> bool {
        self.inner.shared.closed.load(Ordering::SeqCst)
    }

    /// Closes the connection, failing in-flight requests.
    pub fn close(&self, why: &str) {
        self.inner.shared.close(why);
        self.inner.writer.abort();
        self.inner.reader.abort();
    }

    fn forget(&self, correlation_id: i32) {
        if let Ok(mut p) = self.inner.shared.pending.lock() {
            p.remove(&correlation_id);
        }
    }

    /// The negotiated versions (empty before the handshake finished).
    pub fn api_versions(&self) -> Option<&ApiVersions> {
        self.inner.versions.get()
    }

    /// The version of `api` to use with this broker.
    pub fn version(&self, api: ApiKey) -> Result<i16> {
        self.api_versions()
            .ok_or(Error::UnsupportedApi(api.name()))?
            .pick(api)
    }

    /// Decodes a response frame (header included) of `version`.
    pub fn decode<R: krafty_protocol::message::Response + Decode>(
        frame: Bytes,
        version: i16,
    ) -> Result<R> {
        Ok(decode_typed_response::<R>(frame, version)?.1)
    }

    fn encode<R: ClientRequest>(&self, version: i16, body: &R) -> Result<(i32, Bytes)> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let mut out = BytesMut::with_capacity(64 + body.encoded_len(version));
        write_typed_request(&mut out, id, self.inner.client_id.as_ref(), version, body)?;
        Ok((id, out.freeze()))
    }

    /// Queues a request at `version` for writing (requests queued one after the other are
    /// written in that order) and returns its pending response.
    pub fn enqueue_raw<R: ClientRequest>(
        &self,
        version: i16,
        body: &R,
    ) -> Result<PendingResponse<R::Response>> {
        let (id, frame) = self.encode(version, body)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self
                .inner
                .shared
                .pending
                .lock()
                .map_err(|_| Error::Disconnected(self.addr().to_string()))?;
            if self.is_closed() {
                return Err(Error::Disconnected(self.addr().to_string()));
            }
            pending.insert(id, tx);
        }
        if self.inner.tx.send((frame, None)).is_err() {
            self.forget(id);
            return Err(Error::Disconnected(self.addr().to_string()));
        }
        Ok(PendingResponse {
            rx,
            version,
            correlation_id: id,
            conn: self.clone(),
            _marker: std::marker::PhantomData,
        })
    }

    /// Queues a request at the negotiated version; see [`enqueue_raw`](Self::enqueue_raw).
    pub fn enqueue<R: ClientRequest>(&self, body: &R) -> Result<PendingResponse<R::Response>> {
        let version = self.version(R::API_KEY)?;
        self.enqueue_raw(version, body)
    }

    /// Queues a request that gets no response (Produce with acks=0). The receiver resolves
    /// once the request is written to the socket (as Java completes an acks=0 send), or
    /// fails if the connection closes before that.
    pub fn send_oneway<R: ClientRequest>(
        &self,
        version: i16,
        body: &R,
    ) -> Result<oneshot::Receiver<()>> {
        if self.is_closed() {
            return Err(Error::Disconnected(self.addr().to_string()));
        }
        let (_, frame) = self.encode(version, body)?;
        let (written, rx) = oneshot::channel();
        self.inner
            .tx
            .send((frame, Some(written)))
            .map_err(|_| Error::Disconnected(self.addr().to_string()))?;
        Ok(rx)
    }

    /// Sends a request at the negotiated version and waits for its response.
    pub async fn send<R: ClientRequest>(&self, body: &R) -> Result<R::Response> {
        self.enqueue(body)?.wait().await
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let mut buf = BytesMut::new();
    let mut notify = Vec::new();
    while let Some((frame, written)) = rx.recv().await {
        buf.clear();
        buf.extend_from_slice(&frame);
        notify.extend(written);
        // Coalesce what is already queued into one write.
        while buf.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok((more, written)) => {
                    buf.extend_from_slice(&more);
                    notify.extend(written);
                }
                Err(_) => break,
            }
        }
        if let Err(e) = w.write_all(&buf).await {
            shared.close(&format!("write failed: {e}"));
            return;
        }
        for n in notify.drain(..) {
            let _ = n.send(());
        }
    }
    let _ = w.shutdown().await;
}

async fn read_loop<R: AsyncRead + Unpin>(mut r: R, shared: Arc<Shared>) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        loop {
            match split_frame(&mut buf, MAX_RESPONSE_SIZE) {
                Ok(Some(frame)) => {
                    let Some(id) = frame.first_chunk::<4>().map(|b| i32::from_be_bytes(*b)) else {
                        shared.close("response frame shorter than its header");
                        return;
                    };
                    let waiter = shared.pending.lock().ok().and_then(|mut p| p.remove(&id));
                    match waiter {
                        Some(w) => {
                            let _ = w.send(Ok(frame.freeze()));
                        }
                        None => tracing::debug!(addr = %shared.addr, id, "response without waiter"),
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // A TLS record (alert 0x15 or handshake 0x16, version 3.x) where a Kafka
                    // frame was expected: a plaintext client on a TLS listener.
                    let why = if matches!(buf.first_chunk::<2>(), Some([0x15 | 0x16, 0x03])) {
                        "the broker answered with TLS: this listener needs \
                         security.protocol=SSL or SASL_SSL"
                            .to_string()
                    } else {
                        format!("bad frame: {e}")
                    };
                    shared.close(&why);
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < 8192 {
            buf.reserve(64 * 1024);
        }
        match r.read_buf(&mut buf).await {
            Ok(0) => {
                shared.close("closed by broker");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                shared.close(&format!("read failed: {e}"));
                return;
            }
        }
    }
}
