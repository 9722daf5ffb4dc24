//! # kafka-server-mini
//!
//! A Kafka broker usable as a library in tests. Filled by the broker issue; for now it
//! re-exports the codec it is built on.

pub use kafka_protocol as protocol;
