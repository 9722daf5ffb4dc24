//! # krafty-protocol
//!
//! The Kafka wire codec: no I/O, no async.
//!
//! - [`wire`]: primitives (integers, varints, compact and nullable strings/bytes/arrays,
//!   UUIDs, tagged fields) with bounds checks that make hostile input a typed error.
//! - [`generated`]: one Rust type per request, response, header and data schema of every
//!   Kafka API and version, **generated** from Apache Kafka's JSON message specs by the
//!   `krafty-codegen` crate; never edited by hand.
//! - [`message`]: the [`Message`](message::Message), [`Encode`](message::Encode) and
//!   [`Decode`](message::Decode) traits.
//! - [`frame`]: the 4-byte size prefix, request and response headers and the header-version
//!   rules, and helpers that frame and unframe whole requests and responses.
//! - [`records`]: record batches (v2) and legacy message sets (magic 0 and 1) with CRCs and
//!   gzip, snappy, lz4 and zstd compression.
//! - [`error`]: the one error type; decoding never panics and never allocates more than the
//!   input can justify.
//!
//! ## Quick start
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use krafty_protocol::frame::{decode_request, write_typed_request};
//! use krafty_protocol::generated::MetadataRequest;
//!
//! let mut out = BytesMut::new();
//! let req = MetadataRequest { topics: None, ..Default::default() };
//! write_typed_request(&mut out, /* correlation id */ 1, None, /* version */ 12, &req)?;
//! // `out` holds a size-prefixed frame; a broker decodes it without the prefix.
//! let frame = decode_request(Bytes::copy_from_slice(&out[4..]))?;
//! assert_eq!(frame.header.correlation_id, 1);
//! # Ok::<(), krafty_protocol::Error>(())
//! ```
//!
//! ## Features
//!
//! All on by default except `serde` and `testing`:
//!
//! - `client`: encode requests and decode responses; `broker`: decode requests and encode
//!   responses. A type without the feature for a direction has no impl for it, so a client
//!   built with `default-features = false, features = ["client"]` compiles about half the
//!   generated codec. Headers and data schemas always have both.
//! - `gzip`, `snappy`, `lz4`, `zstd`: compression codecs (only `zstd` builds C code). A codec
//!   left out is [`ErrorKind::CompressionDisabled`], never a panic
//!   ([`records::Compression::is_enabled`] tells beforehand).
//! - `serde`: `serde::Serialize` for every message; `testing`: random valid messages.

pub mod error;
pub mod frame;
pub mod generated;
pub mod message;
pub mod records;
#[cfg(feature = "sasl")]
pub mod sasl;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

pub use error::{Error, ErrorKind, Result};
