//! Conversion between legacy messages (magic 0 and 1) and v2 record batches.
//!
//! Owns: up-conversion (a broker receiving magic 0/1 Produce data from an old client stores
//! v2 batches: [`legacy_to_batch`], [`up_convert`]) and down-conversion (a broker answering
//! an old Fetch version sends magic 0/1 message sets: [`batch_to_legacy`],
//! [`down_convert`]). Must not: assign offsets or timestamps (the broker's log does that).
//!
//! What is lost or made up, as in Apache Kafka:
//! - up: records get no headers; magic 0 messages get timestamp -1 (`NO_TIMESTAMP`); the
//!   batch gets no producer id, epoch or sequence.
//! - down: headers are dropped; magic 0 drops timestamps; control batches (transaction
//!   markers) are skipped, old clients have no use for them; zstd batches cannot be
//!   expressed (magic 0/1 has no zstd) and are an error.

use bytes::Bytes;

use super::set::{BatchIter, RawBatch};
use super::{
    legacy::write_message_set, BatchAttributes, Compression, DecodeOptions, LegacyMessage, Record,
    RecordBatch, TimestampType, MAGIC_V0, MAGIC_V1, NO_TIMESTAMP,
};
use crate::error::{Error, ErrorKind, Result};

/// One v2 batch holding `messages` (uncompressed legacy messages with absolute offsets, as
/// [`LegacyMessage::inner_messages`] gives), to be compressed with `compression`. The base
/// offset is the first message's; every offset must be within `i32` of it, in any order.
pub fn legacy_to_batch(
    messages: &[LegacyMessage],
    compression: Compression,
) -> Result<RecordBatch> {
    let mut batch = RecordBatch::new(compression);
    let Some(first) = messages.first() else {
        return Ok(batch);
    };
    batch.base_offset = first.offset;
    batch.base_timestamp = first.timestamp;
    batch.max_timestamp = first.timestamp;
    batch.attributes =
        BatchAttributes::new(compression).with_timestamp_type(first.timestamp_type());
    batch.records.reserve(messages.len());
    for m in messages {
        if m.is_wrapper() {
            return Err(invalid("unwrap compressed messages before converting them"));
        }
        let offset_delta = m
            .offset
            .checked_sub(batch.base_offset)
            .and_then(|d| i32::try_from(d).ok())
            .filter(|d| *d >= 0)
            .ok_or_else(|| invalid("message offsets do not fit one batch"))?;
        let timestamp = if m.magic == MAGIC_V0 {
            NO_TIMESTAMP
        } else {
            m.timestamp
        };
        let timestamp_delta = timestamp
            .checked_sub(batch.base_timestamp)
            .ok_or_else(|| invalid("message timestamps do not fit one batch"))?;
        batch.max_timestamp = batch.max_timestamp.max(timestamp);
        batch.last_offset_delta = batch.last_offset_delta.max(offset_delta);
        batch.records.push(Record {
            attributes: 0,
            timestamp_delta,
            offset_delta,
            key: m.key.clone(),
            value: m.value.clone(),
            headers: Vec::new(),
        });
    }
    Ok(batch)
}

/// Up-converts a legacy message set (the `records` of an old client's Produce request) into
/// one v2 batch compressed with `compression`: every entry is unwrapped (checking CRCs and
/// bounding decompression per `opts`) and converted by [`legacy_to_batch`]. A v2 batch in
/// `records` is an error.
pub fn up_convert(
    records: &Bytes,
    compression: Compression,
    opts: &DecodeOptions,
) -> Result<RecordBatch> {
    let mut messages = Vec::new();
    for entry in BatchIter::new(records.clone(), *opts) {
        match entry? {
            RawBatch::Legacy(m) => messages.extend(m.inner_messages(opts)?),
            RawBatch::V2(_) => return Err(invalid("v2 batch in a legacy message set")),
        }
    }
    legacy_to_batch(&messages, compression)
}

/// The records of `batch` as uncompressed legacy messages of `magic` (0 or 1) with absolute
/// offsets and (magic 1) absolute timestamps; a control batch gives none. Write them with
/// [`write_message_set`].
pub fn batch_to_legacy(batch: &RecordBatch, magic: i8) -> Result<Vec<LegacyMessage>> {
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(invalid("legacy magic must be 0 or 1"));
    }
    if batch.is_control() {
        return Ok(Vec::new());
    }
    let log_append_time =
        magic == MAGIC_V1 && batch.timestamp_type() == TimestampType::LogAppendTime;
    Ok(batch
        .records
        .iter()
        .map(|record| {
            let mut m = LegacyMessage::new(
                magic,
                batch.offset_of(record),
                batch.timestamp_of(record),
                record.key.clone(),
                record.value.clone(),
            );
            if log_append_time {
                m.attributes |= TimestampType::ATTRIBUTE_BIT as i8;
            }
            m
        })
        .collect())
}

/// Down-converts a `records` field to a magic 0 or 1 message set, as a broker answering an
/// old Fetch version does: each v2 batch becomes one wrapper (or plain messages when
/// uncompressed) with the batch's codec; control batches are skipped; legacy entries of a
/// higher magic are rewritten, others kept. Stops at a truncated last batch per `opts`.
pub fn down_convert(records: &Bytes, magic: i8, opts: &DecodeOptions) -> Result<Bytes> {
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(invalid("legacy magic must be 0 or 1"));
    }
    let mut out = Vec::with_capacity(records.len());
    for entry in BatchIter::new(records.clone(), *opts) {
        match entry? {
            RawBatch::V2(raw) => {
                if raw.header().is_control() {
                    continue;
                }
                let batch = raw.decode(opts)?;
                let codec = batch.compression()?;
                if codec == Compression::Zstd {
                    return Err(invalid(
                        "zstd batches cannot be down-converted to magic 0/1",
                    ));
                }
                write_message_set(&mut out, magic, codec, &batch_to_legacy(&batch, magic)?)?;
            }
            RawBatch::Legacy(m) if m.magic <= magic => m.encode(&mut out)?,
            RawBatch::Legacy(m) => {
                let codec = m.compression()?;
                write_message_set(&mut out, magic, codec, &m.inner_messages(opts)?)?;
            }
        }
    }
    Ok(Bytes::from(out))
}

#[cold]
fn invalid(why: &'static str) -> Error {
    Error::new(ErrorKind::InvalidRecords(why)).context("Records", "conversion", -1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::records::{ControlRecordType, EndTxnMarker, RecordBatchBuilder, RecordHeader};

    fn v2_records(codec: Compression) -> Bytes {
        let mut b = RecordBatchBuilder::new(codec).base_offset(40);
        for i in 0..4i64 {
            let key = format!("key-{i}");
            b.append_with_headers(
                1_000 + i,
                Some(key.as_bytes()),
                Some(b"value"),
                &[("h", &b"x"[..])],
            )
            .unwrap();
        }
        b.finish().unwrap()
    }

    #[test]
    fn down_then_up_keeps_offsets_keys_values_and_timestamps() {
        let opts = DecodeOptions::default();
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            let mut records = v2_records(codec).to_vec();
            // A control batch, which down-conversion skips.
            EndTxnMarker {
                control_type: ControlRecordType::Commit,
                coordinator_epoch: 0,
            }
            .to_batch(1, 0, 5, 0)
            .encode(&mut records)
            .unwrap();
            let records = Bytes::from(records);
            for magic in [MAGIC_V0, MAGIC_V1] {
                let old = down_convert(&records, magic, &opts).unwrap();
                let entries: Vec<_> = BatchIter::new(old.clone(), opts)
                    .map(Result::unwrap)
                    .collect();
                let expected_entries = if codec == Compression::None { 4 } else { 1 };
                assert_eq!(entries.len(), expected_entries, "{codec:?} magic {magic}");
                let batch = up_convert(&old, Compression::Lz4, &opts).unwrap();
                assert_eq!(batch.base_offset, 40);
                assert_eq!(batch.records.len(), 4);
                assert_eq!(batch.last_offset_delta, 3);
                for (i, r) in batch.records.iter().enumerate() {
                    assert_eq!(r.key.as_deref(), Some(format!("key-{i}").as_bytes()));
                    assert_eq!(r.value.as_deref(), Some(&b"value"[..]));
                    assert!(r.headers.is_empty(), "headers are dropped");
                    let ts = batch.timestamp_of(r);
                    assert_eq!(ts, if magic == 0 { -1 } else { 1_000 + i as i64 });
                }
                // And the result encodes and decodes as a v2 batch.
                let v2 = batch.to_bytes().unwrap();
                assert_eq!(RecordBatch::decode(&mut v2.clone(), &opts).unwrap(), batch);
            }
        }
    }

    #[test]
    fn magic_1_to_0_and_passthrough() {
        let opts = DecodeOptions::default();
        let msgs: Vec<_> = (0..3)
            .map(|i| LegacyMessage::new(1, 10 + i, 500 + i, None, Some(Bytes::from_static(b"v"))))
            .collect();
        let mut set = Vec::new();
        write_message_set(&mut set, 1, Compression::Gzip, &msgs).unwrap();
        let set = Bytes::from(set);
        assert_eq!(
            down_convert(&set, 1, &opts).unwrap(),
            set,
            "same magic is kept as is"
        );
        let v0 = down_convert(&set, 0, &opts).unwrap();
        let batch = up_convert(&v0, Compression::None, &opts).unwrap();
        assert_eq!(batch.base_offset, 10);
        assert_eq!(batch.max_timestamp, -1);
    }

    #[test]
    fn conversion_errors() {
        let opts = DecodeOptions::default();
        assert!(down_convert(&v2_records(Compression::Zstd), 1, &opts).is_err());
        assert!(down_convert(&v2_records(Compression::None), 2, &opts).is_err());
        assert!(up_convert(&v2_records(Compression::None), Compression::None, &opts).is_err());
        let far = [
            LegacyMessage::new(1, 0, 0, None, None),
            LegacyMessage::new(1, 1 << 40, 0, None, None),
        ];
        assert!(legacy_to_batch(&far, Compression::None).is_err());
        let mut batch = RecordBatch::new(Compression::None);
        batch.records.push(Record {
            headers: vec![RecordHeader::new("h", None)],
            ..Record::default()
        });
        assert!(batch_to_legacy(&batch, 2).is_err());
        assert_eq!(batch_to_legacy(&batch, 1).unwrap().len(), 1);
        assert!(legacy_to_batch(&[], Compression::None)
            .unwrap()
            .records
            .is_empty());
    }
}
