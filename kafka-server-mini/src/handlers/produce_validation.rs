//! Validation of one partition's Produce records, as Kafka's LogValidator does it, within
//! the broker's memory pool.
//!
//! Owns: splitting a `records` field into batches, checking every batch (size against
//! `max.message.bytes`, CRC, compression codec, no control batches, record count matching
//! the last offset delta) and every record inside it (decoded one at a time from the
//! batch's records section: relative offsets 0, 1, 2..., count matching the header, a key
//! on compacted topics, CreateTime timestamps within `log.message.timestamp.before/after
//! .max.ms`), and up-converting magic 0/1 message sets to one v2 batch. What is
//! decompressed or converted is reserved from the [`MemoryPool`] before it is allocated.
//! Nothing is appended here: either every batch passes and all are returned, or the first
//! failure's Kafka error code is. Must not: assign offsets or touch the log.

use std::sync::Arc;

use bytes::Bytes;
use krafty_protocol::records::{
    compression, legacy_to_batch, BatchIter, Compression, DecodeOptions, LegacyMessage, RawBatch,
    RawRecordBatch, RecordBatchHeader, RecordIter, TimestampType, TruncatedTail, MAGIC_OFFSET,
    MAGIC_V0, MAGIC_V2, NO_TIMESTAMP,
};
use krafty_protocol::ErrorKind;

use crate::error::code;
use crate::memory::{MemoryPool, Reservation};

/// Kafka's UNSUPPORTED_COMPRESSION_TYPE.
pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;

/// What the records of one partition are checked against.
#[derive(Debug, Clone)]
pub struct Rules {
    /// `max.message.bytes` (topic) or `message.max.bytes` (broker): the largest stored batch.
    pub max_batch: usize,
    /// `cleanup.policy` includes `compact`: every record needs a key.
    pub compacted: bool,
    /// `log.message.timestamp.before.max.ms`.
    pub timestamp_before_max_ms: i64,
    /// `log.message.timestamp.after.max.ms`.
    pub timestamp_after_max_ms: i64,
    /// The log stamps LogAppendTime (client timestamps are not checked).
    pub log_append_time: bool,
    /// The broker's clock.
    pub now_ms: i64,
}

impl Rules {
    fn check_timestamp(&self, batch_type: TimestampType, ts: i64) -> Result<(), i16> {
        if self.log_append_time || batch_type != TimestampType::CreateTime || ts == NO_TIMESTAMP {
            return Ok(());
        }
        let too_old = ts < self.now_ms.saturating_sub(self.timestamp_before_max_ms);
        let too_new = ts > self.now_ms.saturating_add(self.timestamp_after_max_ms);
        if too_old || too_new {
            return Err(code::INVALID_TIMESTAMP);
        }
        Ok(())
    }
}

/// Batches that passed validation, ready to append, with the memory their conversion holds.
#[derive(Debug)]
pub struct Validated {
    /// Whole v2 batches.
    pub batches: Vec<Vec<u8>>,
    /// Bytes of the pool held by up-converted data until it is appended.
    pub held: Option<Reservation>,
}

/// Validates a partition's `records` field: v2 batches, or one magic 0/1 message set
/// up-converted to one v2 batch (offsets 0..n, the broker assigns the real ones).
pub fn validate(records: &Bytes, rules: &Rules, pool: &Arc<MemoryPool>) -> Result<Validated, i16> {
    let magic = *records.get(MAGIC_OFFSET).ok_or(code::CORRUPT_MESSAGE)? as i8;
    if magic < MAGIC_V2 {
        return validate_legacy(records, rules, pool);
    }
    let opts = DecodeOptions::default().with_truncated_tail(TruncatedTail::Error);
    let mut out = Vec::new();
    for entry in BatchIter::new(records.clone(), opts) {
        let raw = match entry {
            Ok(RawBatch::V2(raw)) => raw,
            Ok(RawBatch::Legacy(_)) => return Err(code::INVALID_RECORD),
            Err(e) => {
                tracing::info!(error = ?e, "invalid record batch");
                return Err(code::CORRUPT_MESSAGE);
            }
        };
        validate_batch(&raw, rules, pool)?;
        out.push(raw.as_bytes().to_vec());
    }
    if out.is_empty() {
        return Err(code::INVALID_RECORD);
    }
    Ok(Validated {
        batches: out,
        held: None,
    })
}

fn too_large(e: &krafty_protocol::Error) -> i16 {
    if matches!(e.kind(), ErrorKind::DecompressedTooLarge { .. }) {
        code::RECORD_LIST_TOO_LARGE
    } else {
        code::CORRUPT_MESSAGE
    }
}

/// Checks one v2 batch and every record in it.
fn validate_batch(raw: &RawRecordBatch, rules: &Rules, pool: &Arc<MemoryPool>) -> Result<(), i16> {
    let h = raw.header();
    if h.total_size() > rules.max_batch {
        return Err(code::MESSAGE_TOO_LARGE);
    }
    if raw.validate().is_err() {
        return Err(code::CORRUPT_MESSAGE);
    }
    let compression = h.compression().map_err(|_| UNSUPPORTED_COMPRESSION_TYPE)?;
    if h.is_control()
        || h.records_count <= 0
        || h.records_count != h.last_offset_delta.saturating_add(1)
    {
        return Err(code::INVALID_RECORD);
    }
    let payload = raw.records_payload();
    let mut _held = None;
    let data = if compression == Compression::None {
        payload
    } else {
        // reserve before decompressing: the decompressor stops at the reservation
        let mut r = pool.reserve_up_to(pool.capacity());
        if r.bytes() == 0 {
            return Err(code::RECORD_LIST_TOO_LARGE);
        }
        let d = compression::decompress(compression, &payload, r.bytes()).map_err(|e| {
            tracing::info!(error = ?e, "records of a compressed batch refused");
            too_large(&e)
        })?;
        r.shrink_to(d.len());
        _held = Some(r);
        d
    };
    check_records(h, data, rules)
}

/// Decodes the records one at a time and checks each (Kafka's validateRecord plus the
/// compressed path's inner offset and count checks).
fn check_records(h: &RecordBatchHeader, data: Bytes, rules: &Rules) -> Result<(), i16> {
    let ts_type = h.timestamp_type();
    let mut expected: i32 = 0;
    for record in RecordIter::new(data, h.records_count) {
        let r = record.map_err(|e| {
            tracing::info!(error = ?e, "undecodable record");
            code::INVALID_RECORD
        })?;
        if r.offset_delta != expected {
            return Err(code::INVALID_RECORD);
        }
        if rules.compacted && r.key.is_none() {
            return Err(code::INVALID_RECORD);
        }
        let ts = h.base_timestamp.saturating_add(r.timestamp_delta);
        rules.check_timestamp(ts_type, ts)?;
        expected = expected.checked_add(1).ok_or(code::INVALID_RECORD)?;
    }
    if expected != h.records_count {
        return Err(code::INVALID_RECORD);
    }
    Ok(())
}

/// Unwraps and up-converts a magic 0/1 message set to one v2 batch. Every wrapper's
/// decompressed data and the converted batch are reserved from the pool first, so a set of
/// compression bombs stops at the budget, not at the machine's memory.
fn validate_legacy(
    records: &Bytes,
    rules: &Rules,
    pool: &Arc<MemoryPool>,
) -> Result<Validated, i16> {
    let opts = DecodeOptions::default().with_truncated_tail(TruncatedTail::Error);
    let mut held = pool.reserve_up_to(0);
    let mut messages: Vec<LegacyMessage> = Vec::new();
    let mut payload_bytes: usize = 0;
    for entry in BatchIter::new(records.clone(), opts) {
        let m = match entry {
            Ok(RawBatch::Legacy(m)) => m,
            Ok(RawBatch::V2(_)) => return Err(code::INVALID_RECORD),
            Err(e) => {
                tracing::info!(error = ?e, "invalid legacy message set");
                return Err(code::CORRUPT_MESSAGE);
            }
        };
        let inner = if m.is_wrapper() {
            let mut r = pool.reserve_up_to(pool.capacity());
            if r.bytes() == 0 {
                return Err(code::RECORD_LIST_TOO_LARGE);
            }
            let inner = m
                .inner_messages(&opts.with_max_decompressed_bytes(r.bytes()))
                .map_err(|e| {
                    tracing::info!(error = ?e, "legacy wrapper refused");
                    too_large(&e)
                })?;
            r.shrink_to(inner.iter().map(LegacyMessage::encoded_len).sum());
            held.absorb(r);
            inner
        } else {
            vec![m]
        };
        for m in inner {
            if rules.compacted && m.key.is_none() {
                return Err(code::INVALID_RECORD);
            }
            if m.magic > MAGIC_V0 {
                rules.check_timestamp(m.timestamp_type(), m.timestamp)?;
            }
            payload_bytes = payload_bytes
                .saturating_add(m.key.as_ref().map_or(0, Bytes::len))
                .saturating_add(m.value.as_ref().map_or(0, Bytes::len));
            // the stored batch holds at least every key and value
            if payload_bytes > rules.max_batch {
                return Err(code::MESSAGE_TOO_LARGE);
            }
            messages.push(m);
        }
    }
    if messages.is_empty() {
        return Err(code::INVALID_RECORD);
    }
    // the converted batch: keys, values and at most ~40 bytes of framing per record
    let estimate = payload_bytes.saturating_add(messages.len().saturating_mul(40) + 128);
    let converted = pool
        .try_reserve(estimate.saturating_mul(2))
        .ok_or(code::RECORD_LIST_TOO_LARGE)?;
    let mut batch = legacy_to_batch(&messages, Compression::None).map_err(|e| {
        tracing::info!(error = ?e, "legacy messages cannot be converted");
        code::CORRUPT_MESSAGE
    })?;
    drop(messages);
    // Producers write arbitrary offsets in legacy sets (uncompressed: usually all 0); the
    // broker assigns them, so the records get consecutive deltas here.
    batch.base_offset = 0;
    for (i, r) in batch.records.iter_mut().enumerate() {
        r.offset_delta = i32::try_from(i).map_err(|_| code::INVALID_RECORD)?;
    }
    batch.update_from_records();
    let bytes = batch.to_bytes().map_err(|_| code::CORRUPT_MESSAGE)?;
    drop(batch);
    let h = RecordBatchHeader::parse(&bytes).map_err(|_| code::CORRUPT_MESSAGE)?;
    if h.records_count != h.last_offset_delta.saturating_add(1) {
        return Err(code::INVALID_RECORD);
    }
    if bytes.len() > rules.max_batch {
        return Err(code::MESSAGE_TOO_LARGE);
    }
    held.absorb(converted);
    held.shrink_to(bytes.len());
    Ok(Validated {
        batches: vec![bytes.to_vec()],
        held: Some(held),
    })
}
