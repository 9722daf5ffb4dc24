//! The fixed 61-byte header of a v2 record batch, its attributes and its CRC-32C.
//!
//! Owns: [`RecordBatchHeader`] (parse from the first 61 bytes, write them back), the byte
//! positions of every header field, [`BatchAttributes`] and the CRC-32C check. A broker can
//! validate a batch (length, magic, CRC, producer fields) with this module alone, without
//! touching its records. Must not: decode records or decompress.
//!
//! ```text
//! RecordBatch =>
//!   offset  size
//!    0      8   baseOffset            int64   offset of the first record
//!    8      4   batchLength           int32   bytes after this field (total size - 12)
//!   12      4   partitionLeaderEpoch  int32   set by the broker; -1 from producers
//!   16      1   magic                 int8    2
//!   17      4   crc                   uint32  CRC-32C (Castagnoli) of bytes 21..end
//!   21      2   attributes            int16   bits 0-2 compression codec
//!                                             bit 3     timestamp type (1 = LogAppendTime)
//!                                             bit 4     transactional
//!                                             bit 5     control batch
//!                                             bit 6     delete horizon set (baseTimestamp is
//!                                                       the delete horizon)
//!                                             bits 7-15 unused, 0
//!   23      4   lastOffsetDelta       int32   offset of the last record - baseOffset
//!   27      8   baseTimestamp         int64   timestamp of the first record
//!   35      8   maxTimestamp          int64   largest record timestamp
//!   43      8   producerId            int64   -1 when not idempotent
//!   51      2   producerEpoch         int16   -1 when not idempotent
//!   53      4   baseSequence          int32   sequence of the first record, -1 if none
//!   57      4   recordsCount          int32   number of records
//!   61      -   records               [Record] possibly compressed as a whole
//! ```

use super::{Compression, TimestampType, LOG_OVERHEAD, MAGIC_V2};
use crate::error::{Error, ErrorKind, Result};

/// Position of baseOffset.
pub const BASE_OFFSET_OFFSET: usize = 0;
/// Position of batchLength.
pub const LENGTH_OFFSET: usize = 8;
/// Position of partitionLeaderEpoch.
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
/// Position of magic.
pub const MAGIC_OFFSET: usize = 16;
/// Position of crc.
pub const CRC_OFFSET: usize = 17;
/// Position of attributes, where the CRC-covered part starts.
pub const ATTRIBUTES_OFFSET: usize = 21;
/// Position of lastOffsetDelta.
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
/// Position of baseTimestamp.
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
/// Position of maxTimestamp.
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
/// Position of producerId.
pub const PRODUCER_ID_OFFSET: usize = 43;
/// Position of producerEpoch.
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
/// Position of baseSequence.
pub const BASE_SEQUENCE_OFFSET: usize = 53;
/// Position of recordsCount.
pub const RECORDS_COUNT_OFFSET: usize = 57;
/// Position of the first record; also the size of the header.
pub const RECORDS_OFFSET: usize = 61;
/// Smallest legal batchLength: the header after the length field, with no records.
pub const MIN_BATCH_LENGTH: i32 = (RECORDS_OFFSET - LOG_OVERHEAD) as i32;

/// The int16 attributes of a v2 batch, with typed accessors and builders for its bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchAttributes(pub i16);

impl BatchAttributes {
    /// Bits 0-2: compression codec.
    pub const COMPRESSION_MASK: i16 = 0x07;
    /// Bit 3: timestamp type is LogAppendTime.
    pub const TIMESTAMP_TYPE: i16 = 0x08;
    /// Bit 4: the batch is part of a transaction.
    pub const TRANSACTIONAL: i16 = 0x10;
    /// Bit 5: the batch holds control records (transaction markers).
    pub const CONTROL: i16 = 0x20;
    /// Bit 6: baseTimestamp holds the delete horizon (KIP-534).
    pub const DELETE_HORIZON: i16 = 0x40;

    /// Attributes with the given codec and every flag clear.
    pub fn new(compression: Compression) -> Self {
        BatchAttributes(i16::from(compression.id()))
    }

    /// The compression codec; an unknown id is [`ErrorKind::UnknownCompression`].
    pub fn compression(self) -> Result<Compression> {
        Compression::from_attributes(self.0)
    }

    /// The timestamp type.
    pub fn timestamp_type(self) -> TimestampType {
        TimestampType::from_attributes(self.0)
    }

    /// Whether the batch is transactional.
    pub fn is_transactional(self) -> bool {
        self.0 & Self::TRANSACTIONAL != 0
    }

    /// Whether the batch is a control batch.
    pub fn is_control(self) -> bool {
        self.0 & Self::CONTROL != 0
    }

    /// Whether baseTimestamp is the delete horizon.
    pub fn has_delete_horizon(self) -> bool {
        self.0 & Self::DELETE_HORIZON != 0
    }

    /// These attributes with another codec.
    #[must_use]
    pub fn with_compression(self, compression: Compression) -> Self {
        BatchAttributes((self.0 & !Self::COMPRESSION_MASK) | i16::from(compression.id()))
    }

    /// These attributes with another timestamp type.
    #[must_use]
    pub fn with_timestamp_type(self, timestamp_type: TimestampType) -> Self {
        self.with_bit(
            Self::TIMESTAMP_TYPE,
            timestamp_type == TimestampType::LogAppendTime,
        )
    }

    /// These attributes with the transactional bit set or clear.
    #[must_use]
    pub fn with_transactional(self, on: bool) -> Self {
        self.with_bit(Self::TRANSACTIONAL, on)
    }

    /// These attributes with the control bit set or clear.
    #[must_use]
    pub fn with_control(self, on: bool) -> Self {
        self.with_bit(Self::CONTROL, on)
    }

    /// These attributes with the delete-horizon bit set or clear.
    #[must_use]
    pub fn with_delete_horizon(self, on: bool) -> Self {
        self.with_bit(Self::DELETE_HORIZON, on)
    }

    fn with_bit(self, bit: i16, on: bool) -> Self {
        BatchAttributes(if on { self.0 | bit } else { self.0 & !bit })
    }
}

/// The fixed header of a v2 record batch: every field before the records.
///
/// [`RecordBatchHeader::parse`] reads it from the first [`RecordBatchHeader::SIZE`] bytes
/// without looking at the records; [`RecordBatchHeader::verify_crc`] checks the whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordBatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the batchLength field; the batch is `batch_length + 12` bytes.
    pub batch_length: i32,
    /// Leader epoch of the broker that appended the batch; -1 from producers.
    pub partition_leader_epoch: i32,
    /// The magic byte, 2.
    pub magic: i8,
    /// The stored CRC-32C of bytes 21 to the end.
    pub crc: u32,
    /// Compression, timestamp type and flags.
    pub attributes: BatchAttributes,
    /// Offset of the last record minus the base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon, see attributes).
    pub base_timestamp: i64,
    /// Largest timestamp of the batch.
    pub max_timestamp: i64,
    /// Producer id, -1 without idempotence.
    pub producer_id: i64,
    /// Producer epoch, -1 without idempotence.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 without idempotence.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

impl RecordBatchHeader {
    /// Bytes of the header: 61.
    pub const SIZE: usize = RECORDS_OFFSET;

    /// Parses the header from the first 61 bytes of `buf` (more may follow and are not
    /// read). Checks the magic (2), that batchLength is at least the header's 49 bytes and
    /// that recordsCount is not negative; does not check the CRC.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let Some(h) = buf.first_chunk::<{ RECORDS_OFFSET }>() else {
            return Err(Error::new(ErrorKind::Truncated {
                needed: RECORDS_OFFSET,
                remaining: buf.len(),
            })
            .context("RecordBatch", "header", 2));
        };
        let header = RecordBatchHeader {
            base_offset: i64::from_be_bytes(field(h, BASE_OFFSET_OFFSET)),
            batch_length: i32::from_be_bytes(field(h, LENGTH_OFFSET)),
            partition_leader_epoch: i32::from_be_bytes(field(h, PARTITION_LEADER_EPOCH_OFFSET)),
            magic: i8::from_be_bytes(field(h, MAGIC_OFFSET)),
            crc: u32::from_be_bytes(field(h, CRC_OFFSET)),
            attributes: BatchAttributes(i16::from_be_bytes(field(h, ATTRIBUTES_OFFSET))),
            last_offset_delta: i32::from_be_bytes(field(h, LAST_OFFSET_DELTA_OFFSET)),
            base_timestamp: i64::from_be_bytes(field(h, BASE_TIMESTAMP_OFFSET)),
            max_timestamp: i64::from_be_bytes(field(h, MAX_TIMESTAMP_OFFSET)),
            producer_id: i64::from_be_bytes(field(h, PRODUCER_ID_OFFSET)),
            producer_epoch: i16::from_be_bytes(field(h, PRODUCER_EPOCH_OFFSET)),
            base_sequence: i32::from_be_bytes(field(h, BASE_SEQUENCE_OFFSET)),
            records_count: i32::from_be_bytes(field(h, RECORDS_COUNT_OFFSET)),
        };
        if header.magic != MAGIC_V2 {
            return Err(
                Error::new(ErrorKind::InvalidRecords("magic is not 2")).context(
                    "RecordBatch",
                    "magic",
                    2,
                ),
            );
        }
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(Error::new(ErrorKind::InvalidRecords(
                "batchLength smaller than the batch header",
            ))
            .context("RecordBatch", "batchLength", 2));
        }
        if header.records_count < 0 {
            return Err(
                Error::new(ErrorKind::NegativeLength(i64::from(header.records_count))).context(
                    "RecordBatch",
                    "recordsCount",
                    2,
                ),
            );
        }
        Ok(header)
    }

    /// Writes the header into the first 61 bytes of `out` (which must be at least that long;
    /// a shorter `out` is [`ErrorKind::Truncated`]). The CRC written is `self.crc`.
    pub fn write(&self, out: &mut [u8]) -> Result<()> {
        let available = out.len();
        let Some(h) = out.first_chunk_mut::<{ RECORDS_OFFSET }>() else {
            return Err(Error::new(ErrorKind::Truncated {
                needed: RECORDS_OFFSET,
                remaining: available,
            }));
        };
        put(h, BASE_OFFSET_OFFSET, &self.base_offset.to_be_bytes());
        put(h, LENGTH_OFFSET, &self.batch_length.to_be_bytes());
        put(
            h,
            PARTITION_LEADER_EPOCH_OFFSET,
            &self.partition_leader_epoch.to_be_bytes(),
        );
        put(h, MAGIC_OFFSET, &self.magic.to_be_bytes());
        put(h, CRC_OFFSET, &self.crc.to_be_bytes());
        put(h, ATTRIBUTES_OFFSET, &self.attributes.0.to_be_bytes());
        put(
            h,
            LAST_OFFSET_DELTA_OFFSET,
            &self.last_offset_delta.to_be_bytes(),
        );
        put(h, BASE_TIMESTAMP_OFFSET, &self.base_timestamp.to_be_bytes());
        put(h, MAX_TIMESTAMP_OFFSET, &self.max_timestamp.to_be_bytes());
        put(h, PRODUCER_ID_OFFSET, &self.producer_id.to_be_bytes());
        put(h, PRODUCER_EPOCH_OFFSET, &self.producer_epoch.to_be_bytes());
        put(h, BASE_SEQUENCE_OFFSET, &self.base_sequence.to_be_bytes());
        put(h, RECORDS_COUNT_OFFSET, &self.records_count.to_be_bytes());
        Ok(())
    }

    /// Total bytes of the batch, `batchLength + 12`.
    pub fn total_size(&self) -> usize {
        usize::try_from(self.batch_length).unwrap_or(0) + LOG_OVERHEAD
    }

    /// Checks the stored CRC-32C against `batch`, the whole batch (exactly
    /// [`total_size`](Self::total_size) bytes; more or fewer is an error).
    pub fn verify_crc(&self, batch: &[u8]) -> Result<()> {
        if batch.len() != self.total_size() {
            return Err(Error::new(ErrorKind::LengthExceedsInput {
                length: self.total_size() as u64,
                remaining: batch.len(),
            })
            .context("RecordBatch", "batchLength", 2));
        }
        let computed = compute_crc(batch);
        if computed != self.crc {
            return Err(Error::new(ErrorKind::CrcMismatch {
                stored: self.crc,
                computed,
            })
            .context("RecordBatch", "crc", 2));
        }
        Ok(())
    }

    /// The compression codec.
    pub fn compression(&self) -> Result<Compression> {
        self.attributes.compression()
    }

    /// The timestamp type.
    pub fn timestamp_type(&self) -> TimestampType {
        self.attributes.timestamp_type()
    }

    /// Whether the batch is transactional.
    pub fn is_transactional(&self) -> bool {
        self.attributes.is_transactional()
    }

    /// Whether the batch holds control records.
    pub fn is_control(&self) -> bool {
        self.attributes.is_control()
    }

    /// Whether the producer id is set (idempotent or transactional producer).
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// The delete horizon (KIP-534) if the batch carries one.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        self.attributes
            .has_delete_horizon()
            .then_some(self.base_timestamp)
    }

    /// Offset of the last record: `base_offset + last_offset_delta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after the batch: `last_offset() + 1`.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Sequence number of the last record, wrapping at `i32::MAX` as Kafka's does; -1 when
    /// the batch has no base sequence.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return self.base_sequence;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if last > i64::from(i32::MAX) {
            (last - i64::from(i32::MAX) - 1) as i32
        } else {
            last as i32
        }
    }
}

/// CRC-32C of a whole v2 batch `batch`, over bytes 21 (attributes) to the end; `0` if the
/// batch is shorter than its header.
pub fn compute_crc(batch: &[u8]) -> u32 {
    batch.get(ATTRIBUTES_OFFSET..).map_or(0, crc32c::crc32c)
}

/// Rewrites the base offset of the encoded batch `batch` in place (a broker assigning
/// offsets). The CRC does not cover it, so it stays valid.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<()> {
    overwrite(batch, BASE_OFFSET_OFFSET, &base_offset.to_be_bytes())
}

/// Rewrites the partition leader epoch of the encoded batch `batch` in place. The CRC does
/// not cover it, so it stays valid.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<()> {
    overwrite(batch, PARTITION_LEADER_EPOCH_OFFSET, &epoch.to_be_bytes())
}

/// Rewrites the producer id, epoch and base sequence of the encoded batch `batch` in place
/// and recomputes its CRC (they are covered by it): an idempotent producer re-sending a
/// batch under a bumped epoch (KIP-360).
pub fn set_producer(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<()> {
    if batch.len() < RECORDS_OFFSET {
        return Err(Error::new(ErrorKind::Truncated {
            needed: RECORDS_OFFSET,
            remaining: batch.len(),
        }));
    }
    overwrite(batch, PRODUCER_ID_OFFSET, &producer_id.to_be_bytes())?;
    overwrite(batch, PRODUCER_EPOCH_OFFSET, &producer_epoch.to_be_bytes())?;
    overwrite(batch, BASE_SEQUENCE_OFFSET, &base_sequence.to_be_bytes())?;
    let crc = compute_crc(batch);
    overwrite(batch, CRC_OFFSET, &crc.to_be_bytes())
}

fn overwrite(batch: &mut [u8], at: usize, value: &[u8]) -> Result<()> {
    let available = batch.len();
    match batch.get_mut(at..at + value.len()) {
        Some(slot) => {
            slot.copy_from_slice(value);
            Ok(())
        }
        None => Err(Error::new(ErrorKind::Truncated {
            needed: at + value.len(),
            remaining: available,
        })),
    }
}

/// The `N` bytes of the header at `at` (a constant position inside the 61-byte array).
#[inline(always)]
fn field<const N: usize>(h: &[u8; RECORDS_OFFSET], at: usize) -> [u8; N] {
    h.get(at..at + N)
        .and_then(|s| s.first_chunk::<N>())
        .copied()
        .unwrap_or([0; N])
}

#[inline(always)]
fn put(h: &mut [u8; RECORDS_OFFSET], at: usize, value: &[u8]) {
    if let Some(slot) = h.get_mut(at..at + value.len()) {
        slot.copy_from_slice(value);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> RecordBatchHeader {
        RecordBatchHeader {
            base_offset: 42,
            batch_length: MIN_BATCH_LENGTH,
            partition_leader_epoch: 7,
            magic: 2,
            crc: 0,
            attributes: BatchAttributes::new(Compression::Zstd)
                .with_transactional(true)
                .with_timestamp_type(TimestampType::LogAppendTime),
            last_offset_delta: 3,
            base_timestamp: 1_700_000_000_000,
            max_timestamp: 1_700_000_000_500,
            producer_id: 1234,
            producer_epoch: 5,
            base_sequence: i32::MAX - 1,
            records_count: 0,
        }
    }

    #[test]
    fn set_producer_restamps_and_keeps_the_crc_valid() {
        let mut h = sample();
        let mut buf = [0u8; 61];
        h.write(&mut buf).unwrap();
        h.crc = compute_crc(&buf);
        h.write(&mut buf).unwrap();
        set_producer(&mut buf, 99, 6, 0).unwrap();
        let parsed = RecordBatchHeader::parse(&buf).unwrap();
        assert_eq!(
            (
                parsed.producer_id,
                parsed.producer_epoch,
                parsed.base_sequence
            ),
            (99, 6, 0)
        );
        parsed.verify_crc(&buf).unwrap();
        assert!(set_producer(&mut buf[..60], 1, 1, 1).is_err());
    }

    #[test]
    fn write_parse_round_trip_and_accessors() {
        let mut h = sample();
        let mut buf = [0u8; 61];
        h.write(&mut buf).unwrap();
        h.crc = compute_crc(&buf);
        h.write(&mut buf).unwrap();
        let parsed = RecordBatchHeader::parse(&buf).unwrap();
        assert_eq!(parsed, h);
        parsed.verify_crc(&buf).unwrap();
        assert_eq!(parsed.compression().unwrap(), Compression::Zstd);
        assert_eq!(parsed.timestamp_type(), TimestampType::LogAppendTime);
        assert!(parsed.is_transactional());
        assert!(!parsed.is_control());
        assert_eq!(parsed.last_offset(), 45);
        assert_eq!(parsed.next_offset(), 46);
        assert_eq!(parsed.last_sequence(), 1);
        assert_eq!(parsed.total_size(), 61);
        assert_eq!(parsed.delete_horizon_ms(), None);
        // Base offset and leader epoch are outside the CRC.
        set_base_offset(&mut buf, 1000).unwrap();
        set_partition_leader_epoch(&mut buf, 9).unwrap();
        let moved = RecordBatchHeader::parse(&buf).unwrap();
        assert_eq!((moved.base_offset, moved.partition_leader_epoch), (1000, 9));
        moved.verify_crc(&buf).unwrap();
        buf[30] ^= 1;
        assert!(matches!(
            moved.verify_crc(&buf).unwrap_err().kind(),
            ErrorKind::CrcMismatch { .. }
        ));
    }

    #[test]
    fn bad_headers_are_errors() {
        let mut buf = [0u8; 61];
        sample().write(&mut buf).unwrap();
        for len in 0..61 {
            assert!(RecordBatchHeader::parse(&buf[..len]).is_err());
        }
        let mut bad_magic = buf;
        bad_magic[MAGIC_OFFSET] = 1;
        assert!(RecordBatchHeader::parse(&bad_magic).is_err());
        let mut short = buf;
        short[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&48i32.to_be_bytes());
        assert!(RecordBatchHeader::parse(&short).is_err());
        let mut negative = buf;
        negative[RECORDS_COUNT_OFFSET..].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(RecordBatchHeader::parse(&negative).is_err());
    }

    #[test]
    fn attributes_bits() {
        let a = BatchAttributes::new(Compression::Lz4)
            .with_control(true)
            .with_delete_horizon(true);
        assert_eq!(a.0, 3 | 0x20 | 0x40);
        assert_eq!(a.with_compression(Compression::Gzip).0, 1 | 0x20 | 0x40);
        assert!(a.is_control() && a.has_delete_horizon() && !a.is_transactional());
        assert_eq!(
            BatchAttributes(7).compression().unwrap_err().kind(),
            &ErrorKind::UnknownCompression(7)
        );
    }
}
