//! Record batches (v2) and legacy message sets (magic 0 and 1), with compression.
//!
//! Owns: everything inside a `records` field of Produce and Fetch (and the log segments a
//! broker stores): the v2 [`RecordBatch`] and its [`Record`]s, the legacy magic 0/1
//! [`LegacyMessage`] sets, control records, CRCs, compression codecs and conversion between
//! the two generations. Must not: know the request/response messages around the field, or do
//! any I/O.
//!
//! Modules, one job each:
//!
//! - [`compression`]: gzip, snappy (raw and xerial-framed), lz4 (Kafka's frame, including
//!   the old header-checksum quirk) and zstd, every decompressor bounded by a limit.
//! - [`header`]: the fixed 61-byte v2 batch header ([`RecordBatchHeader`]), its
//!   [`BatchAttributes`] and the CRC-32C check, cheap enough for a broker that validates
//!   batches without decoding their records.
//! - [`record`]: one v2 [`Record`] and its [`RecordHeader`]s, decoded without copying keys
//!   and values.
//! - [`control`]: the key and value of control records (transaction markers).
//! - [`batch`]: a whole v2 batch, raw ([`RawRecordBatch`], records decoded lazily by a
//!   [`RecordIter`]) or decoded ([`RecordBatch`]), and its encoder.
//! - [`builder`]: [`RecordBatchBuilder`], the producer's fast append-only batch writer.
//! - [`set`]: [`BatchIter`], walking the concatenated batches of a `records` field.
//! - [`legacy`]: magic 0 and 1 messages, including compressed wrapper messages.
//! - [`convert`]: up-conversion of legacy messages to a v2 batch and down-conversion back.
//!
//! Decoding never panics, never copies keys or values out of a [`bytes::Bytes`] input, and
//! never allocates more than the input (or, after decompression, [`DecodeOptions`]) allows.

pub mod batch;
pub mod builder;
pub mod compression;
pub mod control;
pub mod convert;
pub mod header;
pub mod legacy;
pub mod record;
pub mod set;

#[cfg(test)]
mod golden_tests;

pub use self::batch::{RawRecordBatch, RecordBatch, RecordIter};
pub use self::builder::RecordBatchBuilder;
pub use self::control::{ControlRecordType, EndTxnMarker};
pub use self::convert::{batch_to_legacy, down_convert, legacy_to_batch, up_convert};
pub use self::header::{BatchAttributes, RecordBatchHeader};
pub use self::legacy::{write_message_set, LegacyMessage};
pub use self::record::{Record, RecordHeader};
pub use self::set::{BatchIter, RawBatch};

use crate::error::{Error, ErrorKind, Result};

/// The magic byte of legacy messages without timestamps (Kafka < 0.10).
pub const MAGIC_V0: i8 = 0;
/// The magic byte of legacy messages with a timestamp (Kafka 0.10).
pub const MAGIC_V1: i8 = 1;
/// The magic byte of v2 record batches (Kafka >= 0.11).
pub const MAGIC_V2: i8 = 2;
/// Where the magic byte sits in every batch or legacy message: after the offset (int64), the
/// length (int32) and, for both generations, a 4-byte field (leader epoch or CRC).
pub const MAGIC_OFFSET: usize = 16;
/// Bytes before a batch's or legacy message's length-counted part: offset int64 + length int32.
pub const LOG_OVERHEAD: usize = 12;
/// The `-1` producer id, epoch and sequence of batches written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;
/// The `-1` producer epoch of batches written without idempotence.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// The `-1` base sequence of batches written without idempotence.
pub const NO_SEQUENCE: i32 = -1;
/// The `-1` timestamp of records without one (all magic 0 messages).
pub const NO_TIMESTAMP: i64 = -1;
/// The `-1` partition leader epoch a producer writes (the broker fills it in).
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;

/// A compression codec, as stored in the low 3 bits of batch and message attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Uncompressed (id 0).
    #[default]
    None,
    /// gzip (id 1).
    Gzip,
    /// snappy (id 2), xerial-framed as the Java client writes it.
    Snappy,
    /// lz4 (id 3), the LZ4 frame format.
    Lz4,
    /// zstd (id 4), v2 batches only.
    Zstd,
}

impl Compression {
    /// Mask of the compression codec bits in batch and message attributes.
    pub const ATTRIBUTE_MASK: u8 = 0x07;

    /// The codec with wire id `id`; an unknown id is [`ErrorKind::UnknownCompression`].
    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(Error::new(ErrorKind::UnknownCompression(other))),
        }
    }

    /// The codec in the low 3 bits of batch (int16) or message (int8) attributes.
    pub fn from_attributes(attributes: i16) -> Result<Self> {
        Self::from_id((attributes as u8) & Self::ATTRIBUTE_MASK)
    }

    /// The wire id (0 to 4).
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Kafka's name for the codec (`compression.type`): none, gzip, snappy, lz4, zstd.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// Whether this build can compress and decompress with the codec: each codec is behind
    /// the crate feature of its name (`gzip`, `snappy`, `lz4`, `zstd`; all on by default).
    /// A batch with a codec left out decodes its header but its records are
    /// [`ErrorKind::CompressionDisabled`].
    pub fn is_enabled(self) -> bool {
        match self {
            Compression::None => true,
            Compression::Gzip => cfg!(feature = "gzip"),
            Compression::Snappy => cfg!(feature = "snappy"),
            Compression::Lz4 => cfg!(feature = "lz4"),
            Compression::Zstd => cfg!(feature = "zstd"),
        }
    }
}

/// What a batch's or message's timestamps mean (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer when the record was created (bit 3 clear).
    #[default]
    CreateTime,
    /// Set by the broker when it appended the batch (bit 3 set); for v2 batches every
    /// record's timestamp is then the batch's max timestamp.
    LogAppendTime,
}

impl TimestampType {
    /// The timestamp type bit (bit 3) of batch and message attributes.
    pub const ATTRIBUTE_BIT: u8 = 0x08;

    /// The type given by bit 3 of `attributes`.
    pub fn from_attributes(attributes: i16) -> Self {
        if (attributes as u8) & Self::ATTRIBUTE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
}

/// Limits and checks applied while decoding records.
///
/// `Default` is: CRCs verified, at most 64 MiB ([`DecodeOptions::DEFAULT_MAX_DECOMPRESSED_BYTES`])
/// of decompressed data per batch or wrapper message, and a truncated final batch ends
/// iteration quietly ([`TruncatedTail::Stop`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Upper bound on the decompressed size of one compressed batch or wrapper message;
    /// more is [`ErrorKind::DecompressedTooLarge`] (a compression bomb), found while
    /// decompressing in chunks, never by trusting a length field.
    pub max_decompressed_bytes: usize,
    /// Check the CRC-32C of v2 batches and the CRC-32 of legacy messages.
    pub verify_crc: bool,
    /// What [`BatchIter`] does when the last batch of a `records` field is cut short.
    pub truncated_tail: TruncatedTail,
}

impl DecodeOptions {
    /// The default decompression limit: 64 MiB, above any sane `message.max.bytes` (1 MiB by
    /// default) times a typical compression ratio, far below memory exhaustion.
    pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

    /// These options with another decompression limit.
    #[must_use]
    pub fn with_max_decompressed_bytes(mut self, limit: usize) -> Self {
        self.max_decompressed_bytes = limit;
        self
    }

    /// These options with CRC checking on or off.
    #[must_use]
    pub fn with_verify_crc(mut self, verify: bool) -> Self {
        self.verify_crc = verify;
        self
    }

    /// These options with another policy for a truncated final batch.
    #[must_use]
    pub fn with_truncated_tail(mut self, policy: TruncatedTail) -> Self {
        self.truncated_tail = policy;
        self
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_decompressed_bytes: Self::DEFAULT_MAX_DECOMPRESSED_BYTES,
            verify_crc: true,
            truncated_tail: TruncatedTail::Stop,
        }
    }
}

/// What to do with a partial batch at the end of a `records` field.
///
/// A broker answering Fetch cuts the data at `max_bytes`, so the last batch of a Fetch
/// response may be incomplete; Kafka's consumers skip it (and fetch it whole next time).
/// A Produce request or a log segment should hold complete batches only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TruncatedTail {
    /// Stop iterating without an error; [`BatchIter::truncated_tail`] then reports how many
    /// bytes were left over.
    #[default]
    Stop,
    /// Yield an [`ErrorKind::Truncated`] error.
    Error,
}
