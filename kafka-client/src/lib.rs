//! # krafty-client
//!
//! An async (tokio) Kafka client built on the [`krafty_protocol`] codec.
//!
//! - [`config`]: typed configuration with the Java client's key names
//!   (`cfg.set("linger.ms", "10")`) and its defaults.
//! - [`net`]: one [`net::Connection`] per broker (pipelined requests matched by correlation
//!   id, ApiVersions negotiation), a [`net::Pool`] that reconnects with backoff, and the
//!   [`net::Metadata`] cache.
//! - [`producer`]: [`Producer`] — murmur2 and sticky partitioning, a per-partition
//!   accumulator of record batches, a sender task, idempotence on by default.
//! - [`consumer`]: [`Consumer`] — `assign` or group `subscribe` (classic protocol, range and
//!   roundrobin assignors), background prefetch, seek/position, commits and auto-commit.
//! - [`admin`]: [`Admin`] — create/delete/list/describe topics, create partitions, describe
//!   cluster; describe/alter configs; list/describe/delete groups; list/alter/delete group
//!   offsets; list offsets and delete records.
//! - [`error`]: [`Error`] and [`KafkaCode`], every Kafka error code with its retriable flag.
//!
//! ## Quick start
//!
//! ```no_run
//! # async fn demo() -> krafty_client::Result<()> {
//! use krafty_client::{Producer, ProducerConfig, ProducerRecord};
//! let producer = Producer::new(ProducerConfig::new("localhost:9092")?)?;
//! let meta = producer.send(ProducerRecord::new("t").key("k").value("v")).await?.await?;
//! println!("written at {}:{}", meta.partition, meta.offset);
//! producer.close().await?;
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! `gzip`, `snappy`, `lz4`, `zstd` (all on by default): the compression codecs, each the
//! `krafty-protocol` feature of the same name; only `zstd` builds C code. With a codec left
//! out, `compression.type` naming it is a [`ConfigError::InvalidValue`] and a fetched batch
//! compressed with it is an [`Error`] carrying
//! [`ErrorKind::CompressionDisabled`](krafty_protocol::ErrorKind::CompressionDisabled). The
//! client always builds only the client half of the codec.

pub mod admin;
pub mod config;
pub mod consumer;
pub mod error;
pub mod net;
pub mod producer;
mod types;

pub use admin::{Admin, NewTopic};
pub use config::{AdminConfig, ConsumerConfig, ProducerConfig};
pub use consumer::{
    Consumer, ConsumerGroupMetadata, ConsumerRecord, OffsetAndTimestamp, RebalanceListener,
    TopicPartition,
};
pub use error::{AuthError, ConfigError, Error, KafkaCode, Result};
pub use krafty_protocol as protocol;
pub use producer::transaction::{TransactionError, TxnErrorClass, TxnState};
pub use producer::{DeliveryFuture, Producer, ProducerRecord, RecordMetadata};
