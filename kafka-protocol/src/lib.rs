//! # kafka-protocol
//!
//! The Kafka wire codec: no I/O, no async.
//!
//! - [`wire`]: primitives (integers, varints, compact and nullable strings/bytes/arrays,
//!   UUIDs, tagged fields) with bounds checks that make hostile input a typed error.
//! - [`messages`]: one Rust type per request, response, header and data schema of every
//!   Kafka API and version, **generated** from Apache Kafka's JSON message specs by the
//!   `krafty-codegen` crate; never edited by hand.
//! - [`frame`]: the 4-byte size prefix, request and response headers and the header-version
//!   rules, and helpers that frame and unframe whole requests and responses.
//! - [`records`]: record batches (v2) and legacy message sets (magic 0 and 1) with CRCs and
//!   gzip, snappy, lz4 and zstd compression.
//! - [`error`]: the one error type; decoding never panics and never allocates more than the
//!   input can justify.

pub mod error;
pub mod frame;
pub mod generated;
pub mod message;
pub mod records;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

pub use error::{Error, ErrorKind, Result};
