//! Connections per broker, opened lazily and reopened with exponential backoff.
//!
//! Owns: the map from broker address to its [`Connection`], the broker id to address map
//! (filled from metadata), the bootstrap list, `reconnect.backoff.ms` /
//! `reconnect.backoff.max.ms`, the security settings resolved once (TLS configuration, SASL
//! credentials), and KIP-368 re-authentication: a connection whose SASL session is 85-95%
//! spent is retired (its in-flight requests finish on it) and a freshly authenticated one
//! takes its place. Must not: decide what to send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::connection::{Connection, ConnectionConfig};
use crate::config::CommonConfig;
use crate::error::{Error, Result};

type SharedSlot = Arc<tokio::sync::Mutex<Slot>>;
/// A broker address (`host`, `port`).
type Addr = (String, u16);

#[derive(Default)]
struct Slot {
    conn: Option<Connection>,
    backoff: Duration,
    next_attempt: Option<Instant>,
}

/// The connection settings of `cfg`: reads the TLS files and resolves the SASL credentials.
fn connection_config(cfg: &CommonConfig) -> Result<ConnectionConfig> {
    let sec = &cfg.security;
    let tls = if sec.protocol.uses_tls() {
        Some(super::tls::client_config(&sec.tls)?)
    } else {
        None
    };
    let sasl = if sec.protocol.uses_sasl() {
        Some(sec.sasl.credentials()?)
    } else {
        None
    };
    Ok(ConnectionConfig {
        client_id: cfg.client_id.clone(),
        request_timeout: cfg.request_timeout,
        setup_timeout: cfg.connection_setup_timeout,
        tls,
        sasl,
    })
}

/// Connections to the brokers of one cluster.
pub struct Pool {
    cfg: CommonConfig,
    /// The connection settings, or why the security settings are unusable (returned by
    /// every connect).
    conn_cfg: std::result::Result<ConnectionConfig, Error>,
    brokers: Mutex<HashMap<i32, (String, u16)>>,
    /// Per address and lane: the data lane (produce, fetch, metadata) and the coordinator
    /// lane, so group requests never queue behind a long-polling fetch on the same socket
    /// (Java also talks to its coordinator over a separate connection).
    slots: Mutex<HashMap<(Addr, Lane), SharedSlot>>,
}

/// Which connection to a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Lane {
    Data,
    Coordinator,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({:?})", self.cfg.bootstrap_servers)
    }
}

impl Pool {
    /// A pool for the cluster `cfg` bootstraps from; connects nothing yet.
    pub fn new(cfg: &CommonConfig) -> Pool {
        Pool {
            conn_cfg: connection_config(cfg),
            cfg: cfg.clone(),
            brokers: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The error that makes the security settings unusable (unreadable PEM, missing SASL
    /// credentials), if any; clients call this when they are built.
    pub fn check(&self) -> Result<()> {
        self.conn_cfg.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Replaces the broker id to address map (from a Metadata response).
    pub fn set_brokers(&self, brokers: HashMap<i32, (String, u16)>) {
        if let Ok(mut b) = self.brokers.lock() {
            *b = brokers;
        }
    }

    /// The address of broker `node_id`, if metadata named it.
    pub fn broker_addr(&self, node_id: i32) -> Option<(String, u16)> {
        self.brokers.lock().ok()?.get(&node_id).cloned()
    }

    fn slot(&self, addr: &(String, u16), lane: Lane) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry((addr.clone(), lane)).or_default().clone()
    }

    /// The open connection to `host:port`, connecting (after any backoff left from the last
    /// failure) when there is none.
    pub async fn get_addr(&self, addr: &(String, u16)) -> Result<Connection> {
        self.get_lane(addr, Lane::Data).await
    }

    /// The connection for group-coordinator requests to `host:port`: separate from the
    /// data connection, so JoinGroup/SyncGroup/Heartbeat/OffsetCommit are answered without
    /// waiting for a fetch's `fetch.max.wait.ms`.
    pub async fn get_coordinator_addr(&self, addr: &(String, u16)) -> Result<Connection> {
        self.get_lane(addr, Lane::Coordinator).await
    }

    async fn get_lane(&self, addr: &(String, u16), lane: Lane) -> Result<Connection> {
        let slot = self.slot(addr, lane);
        let mut slot = slot.lock().await;
        if let Some(conn) = &slot.conn {
            if !conn.is_closed() {
                if !conn.needs_reauthentication() {
                    return Ok(conn.clone());
                }
                tracing::debug!(addr = %conn.addr(), "SASL session ending: re-authenticating on a new connection");
                super::sasl::count_reauthentication();
            }
        }
        slot.conn = None;
        if let Some(at) = slot.next_attempt {
            tokio::time::sleep_until(at).await;
        }
        let conn_cfg = self.conn_cfg.as_ref().map_err(Clone::clone)?;
        match Connection::connect(&addr.0, addr.1, conn_cfg).await {
            Ok(conn) => {
                tracing::debug!(addr = %conn.addr(), "connected");
                slot.conn = Some(conn.clone());
                slot.backoff = Duration::ZERO;
                slot.next_attempt = None;
                Ok(conn)
            }
            Err(e) => {
                slot.backoff = if slot.backoff.is_zero() {
                    self.cfg.reconnect_backoff
                } else {
                    (slot.backoff * 2).min(self.cfg.reconnect_backoff_max)
                };
                slot.next_attempt = Some(Instant::now() + slot.backoff);
                tracing::debug!(addr = %format!("{}:{}", addr.0, addr.1), error = %e, "connect failed");
                Err(e)
            }
        }
    }

    /// The connection to broker `node_id`.
    pub async fn get(&self, node_id: i32) -> Result<Connection> {
        let addr = self.broker_addr(node_id).ok_or_else(|| {
            Error::NoBrokerAvailable(format!("broker {node_id} is not in metadata"))
        })?;
        self.get_addr(&addr).await
    }

    /// Any reachable broker: an open connection if there is one, else the known brokers,
    /// else the bootstrap servers, in order.
    pub async fn any(&self) -> Result<Connection> {
        let open: Vec<Arc<tokio::sync::Mutex<Slot>>> = self
            .slots
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        for slot in open {
            if let Ok(slot) = slot.try_lock() {
                if let Some(c) = slot
                    .conn
                    .as_ref()
                    .filter(|c| !c.is_closed() && !c.needs_reauthentication())
                {
                    return Ok(c.clone());
                }
            }
        }
        let mut candidates: Vec<(String, u16)> = self
            .brokers
            .lock()
            .map(|b| b.values().cloned().collect())
            .unwrap_or_default();
        candidates.extend(self.cfg.bootstrap_servers.iter().cloned());
        let mut last = Error::NoBrokerAvailable("no bootstrap servers".to_string());
        for addr in candidates {
            match self.get_addr(&addr).await {
                Ok(c) => return Ok(c),
                // A refused authentication is final (as Java's AuthenticationException):
                // report it as it is.
                Err(e @ Error::Authentication(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(Error::NoBrokerAvailable(last.to_string()))
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        let slots: Vec<Arc<tokio::sync::Mutex<Slot>>> = self
            .slots
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        for slot in slots {
            if let Ok(mut s) = slot.try_lock() {
                if let Some(c) = s.conn.take() {
                    c.close("client closed");
                }
            }
        }
    }
}
