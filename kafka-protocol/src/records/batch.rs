//! A whole v2 record batch: raw (records decoded lazily) or decoded, and its encoder.
//!
//! Owns: [`RawRecordBatch`] (one batch's bytes plus its parsed header, validated on demand),
//! [`RecordIter`] (the lazy record decoder over one batch) and [`RecordBatch`] (header fields
//! plus decoded records, which encodes back to bytes computing lengths, CRC and compression).
//! The header layout is documented in [`super::header`], records in [`super::record`].
//! Must not: walk several batches (see [`super::set`]) or build batches incrementally (see
//! [`super::builder`]).
//!
//! The records of an uncompressed batch are sliced straight from the batch's bytes; those of
//! a compressed batch are decompressed once, within [`DecodeOptions::max_decompressed_bytes`],
//! and sliced from the result.

use bytes::Bytes;

use super::compression;
use super::header::{compute_crc, BatchAttributes, RecordBatchHeader, CRC_OFFSET, RECORDS_OFFSET};
use super::record::{Record, MIN_RECORD_SIZE};
use super::{
    Compression, DecodeOptions, TimestampType, LOG_OVERHEAD, MAGIC_V2, NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};
use crate::error::{Error, ErrorKind, Result};

/// One encoded v2 batch and its parsed header; records are decoded only when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecordBatch {
    header: RecordBatchHeader,
    bytes: Bytes,
}

impl RawRecordBatch {
    /// Wraps `bytes`, which must be exactly one batch: the header must parse and its
    /// batchLength must account for every byte. The CRC is not checked (see
    /// [`validate`](Self::validate)).
    pub fn new(bytes: Bytes) -> Result<Self> {
        let header = RecordBatchHeader::parse(&bytes)?;
        if header.total_size() != bytes.len() {
            return Err(Error::new(ErrorKind::InvalidRecords(
                "batchLength does not match the batch's bytes",
            ))
            .context("RecordBatch", "batchLength", 2));
        }
        Ok(RawRecordBatch { header, bytes })
    }

    /// Takes one batch off the front of `buf` (which may hold more batches after it). A batch
    /// longer than `buf` is [`ErrorKind::Truncated`] and leaves `buf` untouched.
    pub fn split_from(buf: &mut Bytes) -> Result<Self> {
        let header = RecordBatchHeader::parse(buf)?;
        let size = header.total_size();
        if size > buf.len() {
            return Err(Error::new(ErrorKind::Truncated {
                needed: size,
                remaining: buf.len(),
            })
            .context("RecordBatch", "records", 2));
        }
        Ok(RawRecordBatch {
            header,
            bytes: buf.split_to(size),
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &RecordBatchHeader {
        &self.header
    }

    /// The whole encoded batch.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Consumes the batch, returning its bytes.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Checks the CRC-32C, without decoding records.
    pub fn validate(&self) -> Result<()> {
        self.header.verify_crc(&self.bytes)
    }

    /// The records section as stored: compressed when the batch is.
    pub fn records_payload(&self) -> Bytes {
        self.bytes.slice(RECORDS_OFFSET.min(self.bytes.len())..)
    }

    /// A lazy iterator over the records: checks the CRC first when `opts.verify_crc`, and
    /// decompresses a compressed batch once, within `opts.max_decompressed_bytes`.
    pub fn records(&self, opts: &DecodeOptions) -> Result<RecordIter> {
        if opts.verify_crc {
            self.validate()?;
        }
        let compression = self
            .header
            .compression()
            .map_err(|e| e.context("RecordBatch", "attributes", 2))?;
        let count = self.header.records_count;
        let payload = self.records_payload();
        let records = if count == 0 {
            // Nothing to decode (compaction can empty a batch; its payload is then ignored,
            // as Kafka does).
            Bytes::new()
        } else if compression == Compression::None {
            payload
        } else {
            compression::decompress(compression, &payload, opts.max_decompressed_bytes)
                .map_err(|e| e.context("RecordBatch", "records", 2))?
        };
        Ok(RecordIter::new(records, count))
    }

    /// Decodes every record into a [`RecordBatch`].
    pub fn decode(&self, opts: &DecodeOptions) -> Result<RecordBatch> {
        let iter = self.records(opts)?;
        let mut records = Vec::with_capacity(iter.size_hint().0);
        for record in iter {
            records.push(record?);
        }
        Ok(RecordBatch::from_header(&self.header, records))
    }
}

/// Decodes the records of one batch one at a time, slicing keys and values from the
/// (decompressed) records section.
///
/// Yields exactly recordsCount records; fewer records in the input is an error, and so are
/// bytes left over after the last one (Kafka's "records still remaining"). After an error
/// the iterator ends.
#[derive(Debug, Clone)]
pub struct RecordIter {
    buf: Bytes,
    left: u32,
    done: bool,
}

impl RecordIter {
    /// An iterator over `count` records encoded back to back in `records`.
    pub fn new(records: Bytes, count: i32) -> Self {
        RecordIter {
            buf: records,
            left: u32::try_from(count).unwrap_or(0),
            done: false,
        }
    }

    /// Records not yet yielded.
    pub fn remaining_records(&self) -> usize {
        self.left as usize
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        if self.left == 0 {
            self.done = true;
            if self.buf.is_empty() {
                return None;
            }
            return Some(Err(Error::new(ErrorKind::TrailingBytes(self.buf.len()))
                .context("RecordBatch", "recordsCount", 2)));
        }
        self.left -= 1;
        match Record::decode(&mut self.buf) {
            Ok(record) => Some(Ok(record)),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        // The lower bound sizes allocations: never more records than the bytes can hold.
        let possible = (self.left as usize).min(self.buf.len() / MIN_RECORD_SIZE);
        (possible, Some(self.left as usize + 1))
    }
}

/// A decoded v2 batch: the header fields (lengths, count and CRC are derived when encoding)
/// and the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Leader epoch of the broker that appended the batch; -1 from producers.
    pub partition_leader_epoch: i32,
    /// Compression, timestamp type and flags.
    pub attributes: BatchAttributes,
    /// Offset delta of the last record (kept as stored: compaction may remove records
    /// without changing it).
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon).
    pub base_timestamp: i64,
    /// Largest timestamp of the batch.
    pub max_timestamp: i64,
    /// Producer id, -1 without idempotence.
    pub producer_id: i64,
    /// Producer epoch, -1 without idempotence.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 without idempotence.
    pub base_sequence: i32,
    /// The records.
    pub records: Vec<Record>,
}

impl RecordBatch {
    /// An empty batch with this codec: base offset 0, CreateTime, no producer id, no
    /// partition leader epoch, timestamps -1.
    pub fn new(compression: Compression) -> Self {
        RecordBatch {
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            attributes: BatchAttributes::new(compression),
            last_offset_delta: 0,
            base_timestamp: -1,
            max_timestamp: -1,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            records: Vec::new(),
        }
    }

    /// A batch with the header's fields and these records.
    pub fn from_header(header: &RecordBatchHeader, records: Vec<Record>) -> Self {
        RecordBatch {
            base_offset: header.base_offset,
            partition_leader_epoch: header.partition_leader_epoch,
            attributes: header.attributes,
            last_offset_delta: header.last_offset_delta,
            base_timestamp: header.base_timestamp,
            max_timestamp: header.max_timestamp,
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            base_sequence: header.base_sequence,
            records,
        }
    }

    /// Decodes one batch from the front of `buf`, advancing it past the batch.
    pub fn decode(buf: &mut Bytes, opts: &DecodeOptions) -> Result<Self> {
        RawRecordBatch::split_from(buf)?.decode(opts)
    }

    /// Sets `last_offset_delta` and `max_timestamp` from the records (the largest offset
    /// delta, and base timestamp plus the largest timestamp delta). Call after changing the
    /// records of a batch meant for encoding; leaves the fields alone when there are none.
    pub fn update_from_records(&mut self) {
        if let Some(last) = self.records.iter().map(|r| r.offset_delta).max() {
            self.last_offset_delta = last;
        }
        if let Some(delta) = self.records.iter().map(|r| r.timestamp_delta).max() {
            self.max_timestamp = self.base_timestamp.saturating_add(delta);
        }
    }

    /// Appends the encoded batch to `out`: records written (and compressed with the batch's
    /// codec), then batchLength, recordsCount and the CRC-32C filled in.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let compression = self
            .attributes
            .compression()
            .map_err(|e| e.context("RecordBatch", "attributes", 2))?;
        let start = out.len();
        let records_len: usize = self.records.iter().map(Record::encoded_len).sum();
        out.reserve(RECORDS_OFFSET + records_len);
        out.resize(start + RECORDS_OFFSET, 0);
        if compression == Compression::None {
            for record in &self.records {
                record.encode(out)?;
            }
        } else {
            let mut plain = Vec::with_capacity(records_len);
            for record in &self.records {
                record.encode(&mut plain)?;
            }
            let packed = compression::compress(compression, &plain)?;
            out.extend_from_slice(&packed);
        }
        let batch = out.get_mut(start..).unwrap_or_default();
        let batch_length = i32::try_from(batch.len() - LOG_OVERHEAD).map_err(|_| {
            Error::new(ErrorKind::ValueTooLarge(batch.len() as u64)).context(
                "RecordBatch",
                "batchLength",
                2,
            )
        })?;
        let records_count = i32::try_from(self.records.len()).map_err(|_| {
            Error::new(ErrorKind::ValueTooLarge(self.records.len() as u64)).context(
                "RecordBatch",
                "recordsCount",
                2,
            )
        })?;
        let header = RecordBatchHeader {
            batch_length,
            magic: MAGIC_V2,
            crc: 0,
            records_count,
            ..self.header_fields()
        };
        header.write(batch)?;
        let crc = compute_crc(batch);
        if let Some(slot) = batch.get_mut(CRC_OFFSET..CRC_OFFSET + 4) {
            slot.copy_from_slice(&crc.to_be_bytes());
        }
        Ok(())
    }

    /// The encoded batch.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(Bytes::from(out))
    }

    /// The header fields of this batch; batchLength, crc and recordsCount are 0 (they are
    /// only known once encoded), magic is 2.
    fn header_fields(&self) -> RecordBatchHeader {
        RecordBatchHeader {
            base_offset: self.base_offset,
            batch_length: 0,
            partition_leader_epoch: self.partition_leader_epoch,
            magic: MAGIC_V2,
            crc: 0,
            attributes: self.attributes,
            last_offset_delta: self.last_offset_delta,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            records_count: 0,
        }
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

    /// Offset of the last record: `base_offset + last_offset_delta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The absolute offset of `record`.
    pub fn offset_of(&self, record: &Record) -> i64 {
        self.base_offset
            .saturating_add(i64::from(record.offset_delta))
    }

    /// The timestamp of `record`: base timestamp plus its delta for CreateTime, the batch's
    /// max timestamp for LogAppendTime.
    pub fn timestamp_of(&self, record: &Record) -> i64 {
        match self.timestamp_type() {
            TimestampType::CreateTime => self.base_timestamp.saturating_add(record.timestamp_delta),
            TimestampType::LogAppendTime => self.max_timestamp,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::records::control::{ControlRecordType, EndTxnMarker};
    use crate::records::RecordHeader;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample(compression: Compression) -> RecordBatch {
        let mut batch = RecordBatch::new(compression);
        batch.base_offset = 100;
        batch.base_timestamp = 1_700_000_000_000;
        batch.producer_id = 77;
        batch.producer_epoch = 3;
        batch.base_sequence = 10;
        batch.attributes = batch.attributes.with_transactional(true);
        for i in 0..20i32 {
            batch.records.push(Record {
                attributes: 0,
                timestamp_delta: i64::from(i) * 3,
                offset_delta: i,
                key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
                value: (i % 5 != 0).then(|| Bytes::from(vec![i as u8; 100 + i as usize])),
                headers: vec![
                    RecordHeader::new("h", Some(Bytes::from_static(b"1"))),
                    RecordHeader::new("h", None),
                    RecordHeader::new("smoke-seq", Some(Bytes::from(i.to_string()))),
                ],
            });
        }
        batch.update_from_records();
        batch
    }

    #[test]
    fn round_trip_every_codec() {
        let opts = DecodeOptions::default();
        for codec in CODECS {
            let batch = sample(codec);
            let bytes = batch.to_bytes().unwrap();
            let raw = RawRecordBatch::new(bytes.clone()).unwrap();
            raw.validate().unwrap();
            let h = raw.header();
            assert_eq!(h.compression().unwrap(), codec);
            assert!(h.is_transactional() && !h.is_control());
            assert_eq!(h.records_count, 20);
            assert_eq!(h.last_offset_delta, 19);
            assert_eq!(h.last_offset(), 119);
            assert_eq!(h.max_timestamp, 1_700_000_000_000 + 57);
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (77, 3, 10)
            );
            let back = raw.decode(&opts).unwrap();
            assert_eq!(back, batch, "{codec:?}");
            assert_eq!(back.offset_of(&back.records[5]), 105);
            assert_eq!(back.timestamp_of(&back.records[5]), 1_700_000_000_015);
            // Re-encoding reproduces the bytes.
            assert_eq!(back.to_bytes().unwrap(), bytes, "{codec:?}");
        }
    }

    #[test]
    fn uncompressed_records_are_slices_of_the_batch() {
        let bytes = sample(Compression::None).to_bytes().unwrap();
        let range = bytes.as_ptr_range();
        let raw = RawRecordBatch::new(bytes.clone()).unwrap();
        for record in raw.records(&DecodeOptions::default()).unwrap() {
            if let Some(value) = record.unwrap().value {
                assert!(range.contains(&value.as_ptr()));
            }
        }
    }

    #[test]
    fn log_append_time_uses_max_timestamp() {
        let mut batch = sample(Compression::None);
        batch.attributes = batch
            .attributes
            .with_timestamp_type(TimestampType::LogAppendTime);
        batch.max_timestamp = 42;
        let back =
            RecordBatch::decode(&mut batch.to_bytes().unwrap(), &DecodeOptions::default()).unwrap();
        assert_eq!(back.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(back.timestamp_of(&back.records[3]), 42);
    }

    #[test]
    fn control_batch_round_trip() {
        let marker = EndTxnMarker {
            control_type: ControlRecordType::Abort,
            coordinator_epoch: 9,
        };
        let batch = marker.to_batch(1000, 2, 1_700_000_000_000, 4);
        let bytes = batch.to_bytes().unwrap();
        let raw = RawRecordBatch::new(bytes).unwrap();
        assert!(raw.header().is_control() && raw.header().is_transactional());
        let back = raw.decode(&DecodeOptions::default()).unwrap();
        assert_eq!(back.records.len(), 1);
        assert_eq!(EndTxnMarker::from_record(&back.records[0]).unwrap(), marker);
        assert_eq!(back.partition_leader_epoch, 4);
    }

    #[test]
    fn crc_mismatch_is_detected_and_can_be_skipped() {
        let mut bytes = sample(Compression::None).to_bytes().unwrap().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let raw = RawRecordBatch::new(Bytes::from(bytes)).unwrap();
        let err = raw.decode(&DecodeOptions::default()).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::CrcMismatch { .. }), "{err}");
        let unchecked = DecodeOptions::default().with_verify_crc(false);
        assert_eq!(raw.decode(&unchecked).unwrap().records.len(), 20);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let opts = DecodeOptions::default();
        for codec in [Compression::None, Compression::Gzip] {
            let mut batch = sample(codec);
            batch.records.truncate(3);
            let bytes = batch.to_bytes().unwrap();
            for cut in 0..bytes.len() {
                let mut buf = bytes.slice(..cut);
                assert!(RecordBatch::decode(&mut buf, &opts).is_err(), "cut {cut}");
                assert!(RawRecordBatch::new(bytes.slice(..cut)).is_err());
            }
        }
    }

    /// Corrupting any single byte never panics (with CRC checks off, so the corruption
    /// reaches the record decoder).
    #[test]
    fn corruption_anywhere_never_panics() {
        let opts = DecodeOptions::default().with_verify_crc(false);
        for codec in [Compression::None, Compression::Snappy, Compression::Lz4] {
            let mut batch = sample(codec);
            batch.records.truncate(3);
            let bytes = batch.to_bytes().unwrap().to_vec();
            for at in 0..bytes.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = bytes.clone();
                    bad[at] ^= flip;
                    let _ = RecordBatch::decode(&mut Bytes::from(bad), &opts);
                }
            }
        }
    }

    #[test]
    fn count_mismatches_are_errors() {
        let batch = sample(Compression::None);
        let mut bytes = batch.to_bytes().unwrap().to_vec();
        let opts = DecodeOptions::default().with_verify_crc(false);
        // One record fewer declared: trailing bytes.
        bytes[57..61].copy_from_slice(&19i32.to_be_bytes());
        let err = RecordBatch::decode(&mut Bytes::from(bytes.clone()), &opts).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::TrailingBytes(_)), "{err}");
        // More declared than present: truncated.
        bytes[57..61].copy_from_slice(&21i32.to_be_bytes());
        assert!(RecordBatch::decode(&mut Bytes::from(bytes.clone()), &opts).is_err());
        // A huge count does not allocate.
        bytes[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(RecordBatch::decode(&mut Bytes::from(bytes), &opts).is_err());
    }

    #[test]
    fn compressed_bomb_batch_is_refused() {
        let mut batch = RecordBatch::new(Compression::Zstd);
        batch
            .records
            .push(Record::new(None, Some(Bytes::from(vec![0u8; 4 << 20]))));
        let bytes = batch.to_bytes().unwrap();
        let opts = DecodeOptions::default().with_max_decompressed_bytes(1 << 20);
        let err = RecordBatch::decode(&mut bytes.clone(), &opts).unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::DecompressedTooLarge { limit: 1 << 20 }
        );
    }

    #[test]
    fn empty_compressed_batch_has_no_records() {
        let batch = RecordBatch::new(Compression::Gzip);
        let bytes = batch.to_bytes().unwrap();
        let raw = RawRecordBatch::new(bytes).unwrap();
        assert!(!raw.records_payload().is_empty());
        assert_eq!(raw.decode(&DecodeOptions::default()).unwrap(), batch);
    }

    #[test]
    fn unknown_codec_is_an_error() {
        let mut batch = sample(Compression::None);
        batch.attributes = BatchAttributes(6);
        assert_eq!(
            batch.to_bytes().unwrap_err().kind(),
            &ErrorKind::UnknownCompression(6)
        );
    }
}
