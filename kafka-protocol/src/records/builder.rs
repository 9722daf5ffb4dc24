//! The producer's batch writer: append records into one buffer, finish into a v2 batch.
//!
//! Owns: [`RecordBatchBuilder`], the hot path of producing. Records are written straight
//! into one preallocated buffer behind a 61-byte header placeholder (one length computation
//! and a handful of varint writes per record, no per-record allocation); [`finish`] fills in
//! the header (batchLength, lastOffsetDelta, maxTimestamp, recordsCount), compresses the
//! records section with the batch's codec and computes the CRC-32C. Must not: decide when a
//! batch is full (an accumulator asks [`has_room_for`] and [`estimated_size`]).
//!
//! [`finish`]: RecordBatchBuilder::finish
//! [`has_room_for`]: RecordBatchBuilder::has_room_for
//! [`estimated_size`]: RecordBatchBuilder::estimated_size

use bytes::Bytes;

use super::compression;
use super::header::{compute_crc, BatchAttributes, RecordBatchHeader, CRC_OFFSET, RECORDS_OFFSET};
use super::record::{body_len, write_record, AsRecordHeader};
use super::{
    Compression, TimestampType, LOG_OVERHEAD, MAGIC_V2, NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};
use crate::error::{Error, ErrorKind, Result};
use crate::wire::varint_len;

/// Builds one v2 record batch by appending records; see the [module docs](self).
///
/// ```
/// use krafty_protocol::records::{Compression, RecordBatchBuilder};
///
/// let mut builder = RecordBatchBuilder::with_capacity(Compression::None, 16 * 1024);
/// builder.append(1_700_000_000_000, Some(b"key-1"), Some(b"value"))?;
/// builder.append_with_headers(1_700_000_000_001, None, Some(b"v2"), &[("trace", &b"x"[..])])?;
/// let batch = builder.finish()?;
/// assert_eq!(batch.len(), 61 + 17 + 17); // header + two 17-byte records
/// # Ok::<(), krafty_protocol::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    buf: Vec<u8>,
    compression: Compression,
    attributes: BatchAttributes,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    count: i32,
}

impl RecordBatchBuilder {
    /// The default buffer capacity: 16 KiB, Kafka's default `batch.size`.
    pub const DEFAULT_CAPACITY: usize = 16 * 1024;

    /// A builder for a batch with this codec and a [`DEFAULT_CAPACITY`] buffer.
    ///
    /// [`DEFAULT_CAPACITY`]: Self::DEFAULT_CAPACITY
    pub fn new(compression: Compression) -> Self {
        Self::with_capacity(compression, Self::DEFAULT_CAPACITY)
    }

    /// A builder whose buffer holds `capacity` bytes (header included) before growing: pass
    /// the batch size the accumulator aims for.
    pub fn with_capacity(compression: Compression, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(RECORDS_OFFSET));
        buf.resize(RECORDS_OFFSET, 0);
        RecordBatchBuilder {
            buf,
            compression,
            attributes: BatchAttributes::new(compression),
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            base_timestamp: -1,
            max_timestamp: -1,
            count: 0,
        }
    }

    /// Sets the base offset (producers leave it 0; the broker assigns offsets).
    #[must_use]
    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    /// Sets the partition leader epoch (producers leave it -1).
    #[must_use]
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Sets the idempotent producer's id, epoch and the sequence of the first record.
    #[must_use]
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch transactional.
    #[must_use]
    pub fn transactional(mut self, on: bool) -> Self {
        self.attributes = self.attributes.with_transactional(on);
        self
    }

    /// Marks the batch as a control batch.
    #[must_use]
    pub fn control(mut self, on: bool) -> Self {
        self.attributes = self.attributes.with_control(on);
        self
    }

    /// Sets the timestamp type (producers write CreateTime).
    #[must_use]
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.attributes = self.attributes.with_timestamp_type(timestamp_type);
        self
    }

    /// Appends a record without headers; returns its offset delta.
    #[inline]
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<i32> {
        self.append_with_headers::<(&str, &[u8])>(timestamp, key, value, &[])
    }

    /// Appends a record with headers (kept in order, duplicates allowed); returns its offset
    /// delta. The first record's timestamp becomes the base timestamp.
    #[inline(always)]
    pub fn append_with_headers<H: AsRecordHeader>(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Result<i32> {
        let offset_delta = self.count;
        let next = offset_delta.checked_add(1).ok_or_else(|| {
            Error::new(ErrorKind::ValueTooLarge(u64::from(i32::MAX as u32))).context(
                "RecordBatch",
                "recordsCount",
                2,
            )
        })?;
        let base_timestamp = if offset_delta == 0 {
            timestamp
        } else {
            self.base_timestamp
        };
        write_record(
            &mut self.buf,
            0,
            timestamp.wrapping_sub(base_timestamp),
            offset_delta,
            key,
            value,
            headers,
        )?;
        if offset_delta == 0 || timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        self.base_timestamp = base_timestamp;
        self.count = next;
        Ok(offset_delta)
    }

    /// Records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes written so far, header included, before compression: exactly the size of the
    /// finished batch when uncompressed.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Estimated size of the finished batch. Uncompressed this is exact; compressed it is
    /// the uncompressed size (Kafka's initial estimate, an upper bound for compressible data
    /// with a few bytes of codec framing aside).
    pub fn estimated_size(&self) -> usize {
        self.size_in_bytes()
    }

    /// Bytes a record with these fields would add to this batch.
    pub fn record_size<H: AsRecordHeader>(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> usize {
        let timestamp_delta = if self.count == 0 {
            0
        } else {
            timestamp.wrapping_sub(self.base_timestamp)
        };
        let body = body_len(timestamp_delta, self.count, key, value, headers);
        varint_len(i32::try_from(body).unwrap_or(i32::MAX)) + body
    }

    /// Whether a record with these fields fits within `batch_size` bytes (as Kafka's
    /// `hasRoomFor`: the first record always fits, so an oversized record gets a batch of
    /// its own).
    pub fn has_room_for<H: AsRecordHeader>(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
        batch_size: usize,
    ) -> bool {
        self.count == 0
            || self.estimated_size() + self.record_size(timestamp, key, value, headers)
                <= batch_size
    }

    /// Finishes the batch: compresses the records with the batch's codec, fills in the header
    /// and the CRC-32C. A builder without records gives empty bytes (no batch), as Kafka's
    /// `MemoryRecordsBuilder` does.
    pub fn finish(self) -> Result<Bytes> {
        if self.count == 0 {
            return Ok(Bytes::new());
        }
        let mut buf = self.buf;
        if self.compression != Compression::None {
            let plain = buf.get(RECORDS_OFFSET..).unwrap_or_default();
            let packed = compression::compress(self.compression, plain)?;
            buf.truncate(RECORDS_OFFSET);
            buf.extend_from_slice(&packed);
        }
        let batch_length = i32::try_from(buf.len() - LOG_OVERHEAD).map_err(|_| {
            Error::new(ErrorKind::ValueTooLarge(buf.len() as u64)).context(
                "RecordBatch",
                "batchLength",
                2,
            )
        })?;
        let header = RecordBatchHeader {
            base_offset: self.base_offset,
            batch_length,
            partition_leader_epoch: self.partition_leader_epoch,
            magic: MAGIC_V2,
            crc: 0,
            attributes: self.attributes,
            last_offset_delta: self.count - 1,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            records_count: self.count,
        };
        header.write(&mut buf)?;
        let crc = compute_crc(&buf);
        if let Some(slot) = buf.get_mut(CRC_OFFSET..CRC_OFFSET + 4) {
            slot.copy_from_slice(&crc.to_be_bytes());
        }
        Ok(Bytes::from(buf))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::records::{DecodeOptions, RawRecordBatch, Record, RecordBatch, RecordHeader};

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn builder_matches_the_batch_encoder() {
        for codec in CODECS {
            let mut builder = RecordBatchBuilder::with_capacity(codec, 4096)
                .producer(5, 1, 100)
                .transactional(true);
            let mut expected = RecordBatch::new(codec);
            expected.producer_id = 5;
            expected.producer_epoch = 1;
            expected.base_sequence = 100;
            expected.attributes = expected.attributes.with_transactional(true);
            expected.base_timestamp = 1000;
            let headers = [("a", Some(&b"1"[..])), ("a", None), ("b", Some(&b""[..]))];
            for i in 0..50i32 {
                let ts = 1000 + i64::from(i % 7) * 10 - 20;
                let key = format!("key-{i}");
                let value = vec![b'v'; i as usize * 3];
                let key_opt = (i % 4 != 0).then_some(key.as_bytes());
                let value_opt = (i % 6 != 0).then_some(&value[..]);
                let hs = if i % 2 == 0 {
                    &headers[..]
                } else {
                    &headers[..0]
                };
                let size_before = builder.size_in_bytes();
                let predicted = builder.record_size(ts, key_opt, value_opt, hs);
                assert_eq!(
                    builder
                        .append_with_headers(ts, key_opt, value_opt, hs)
                        .unwrap(),
                    i
                );
                assert_eq!(builder.size_in_bytes() - size_before, predicted);
                let base = if i == 0 { ts } else { expected.base_timestamp };
                expected.base_timestamp = base;
                expected.records.push(Record {
                    attributes: 0,
                    timestamp_delta: ts - base,
                    offset_delta: i,
                    key: key_opt.map(Bytes::copy_from_slice),
                    value: value_opt.map(Bytes::copy_from_slice),
                    headers: hs
                        .iter()
                        .map(|(k, v)| {
                            RecordHeader::new(k.to_string(), v.map(Bytes::copy_from_slice))
                        })
                        .collect(),
                });
            }
            expected.update_from_records();
            let built = builder.finish().unwrap();
            let raw = RawRecordBatch::new(built.clone()).unwrap();
            raw.validate().unwrap();
            assert_eq!(raw.header().max_timestamp, 1040);
            assert_eq!(raw.header().last_offset_delta, 49);
            let decoded = raw.decode(&DecodeOptions::default()).unwrap();
            assert_eq!(decoded, expected, "{codec:?}");
            if codec == Compression::None {
                assert_eq!(built, expected.to_bytes().unwrap());
            }
        }
    }

    #[test]
    fn room_and_empty_batches() {
        let mut builder = RecordBatchBuilder::new(Compression::None);
        assert!(builder.is_empty());
        let value = [0u8; 100];
        assert!(builder.has_room_for::<(&str, &[u8])>(0, None, Some(&value), &[], 10));
        builder.append(0, None, Some(&value)).unwrap();
        assert!(!builder.has_room_for::<(&str, &[u8])>(0, None, Some(&value), &[], 200));
        assert!(builder.has_room_for::<(&str, &[u8])>(0, None, Some(&value), &[], 400));
        assert_eq!(builder.len(), 1);
        assert!(RecordBatchBuilder::new(Compression::Gzip)
            .finish()
            .unwrap()
            .is_empty());
    }

    /// Throughput check for the producer hot path: 1 MiB of 100-byte uncompressed records,
    /// CRC included, against a plain copy of the same bytes. Reports both wall-clock and
    /// thread CPU time (from /proc, so a loaded machine does not skew it). Run with
    /// `cargo test --release -p krafty-protocol builder_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn builder_throughput() {
        fn cpu_seconds() -> f64 {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
                f.iter().map(|t| t.parse::<f64>().unwrap_or(0.0)).sum()
            });
            ticks / 100.0
        }
        fn measure(name: &str, bytes: usize, mut f: impl FnMut()) {
            let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
            f();
            let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
            eprintln!(
                "{name}: {:.2} GB/s wall, {:.2} GB/s cpu",
                bytes as f64 / wall / 1e9,
                bytes as f64 / cpu.max(0.01) / 1e9
            );
        }
        let value = [7u8; 100];
        let per_batch = (1 << 20) / 108;
        let rounds = 5000;
        let size = RecordBatchBuilder::with_capacity(Compression::None, 1 << 21).size_in_bytes()
            + per_batch * 110;
        measure("builder incl. crc", rounds * size, || {
            for _ in 0..rounds {
                let mut builder = RecordBatchBuilder::with_capacity(Compression::None, 1 << 21);
                for i in 0..per_batch {
                    let value = std::hint::black_box(&value[..]);
                    builder
                        .append(1_700_000_000_000 + i as i64, None, Some(value))
                        .unwrap();
                }
                std::hint::black_box(builder.finish().unwrap());
            }
        });
        let data = vec![1u8; size];
        measure("crc32c alone", rounds * size, || {
            for _ in 0..rounds {
                std::hint::black_box(crc32c::crc32c(std::hint::black_box(&data)));
            }
        });
        let record = [3u8; 110];
        measure("plain copy", rounds * size, || {
            for _ in 0..rounds {
                let mut v = Vec::<u8>::with_capacity(1 << 21);
                for _ in 0..per_batch {
                    v.extend_from_slice(std::hint::black_box(&record));
                }
                std::hint::black_box(&v);
            }
        });
    }
}
