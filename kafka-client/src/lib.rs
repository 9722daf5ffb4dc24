//! # kafka-client
//!
//! Async (tokio) Kafka client: producer, group-aware consumer and admin client. Filled by
//! the client issue; for now it re-exports the codec it is built on.

pub use kafka_protocol as protocol;
