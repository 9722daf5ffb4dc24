//! # krafty-server (kafka-server-mini)
//!
//! A small single-node Kafka broker, usable as a library in tests and as a binary.
//!
//! - [`config`]: Kafka's broker config names and defaults.
//! - [`broker`]: [`Broker::start`] / [`BrokerHandle`], topics, startup recovery, shutdown.
//! - [`net`]: listeners (plain TCP and TLS), connection (ordered, pipelined responses), dispatch.
//! - [`security`]: listeners and protocols, SASL sessions, principals, SCRAM credentials.
//! - [`handlers`]: one module per API family.
//! - [`log`]: segments, indexes, recovery, retention, checkpoints.
//! - [`partition`]: per-partition state (log, idempotent producer state).
//! - [`topic_config`]: per-topic config overrides (validation, persistence).
//! - [`group`]: the classic group coordinator (offsets persisted in `__consumer_offsets`).
//!
//! ## Quick start
//!
//! ```no_run
//! # async fn run() -> Result<(), krafty_server::BrokerError> {
//! use krafty_server::{Broker, BrokerConfig};
//! let handle = Broker::start(BrokerConfig::new(([127, 0, 0, 1], 0).into(), "/tmp/data")).await?;
//! println!("listening on {}", handle.local_addr());
//! handle.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! `cli` (on by default) builds the `kafka-server-mini` binary (clap, tracing-subscriber,
//! signal handling); a test that starts the broker in-process can turn it off with
//! `default-features = false`. `gzip`, `snappy`, `lz4`, `zstd` (on by default) are the codecs
//! the broker needs only when it converts between message formats; batches are stored and
//! served as received. The broker always builds only the broker half of the codec.

pub mod authorizer;
pub mod broker;
pub mod config;
pub mod error;
pub mod group;
pub mod handlers;
pub mod log;
pub mod memory;
pub mod net;
pub mod partition;
pub mod security;
pub mod topic_config;
pub mod txn;

pub use broker::{Broker, BrokerHandle};
pub use config::BrokerConfig;
pub use error::BrokerError;
pub use krafty_protocol as protocol;
