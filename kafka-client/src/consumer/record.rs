//! What the consumer hands to the application, and decoding of fetched `records` bytes.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::{BatchIter, DecodeOptions, RawBatch, RecordHeader, TimestampType};

use crate::error::Result;

/// A consumed record. Keys, values and header values are slices of the fetched (or
/// decompressed) buffer, not copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp (ms), -1 when the record has none.
    pub timestamp: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The key.
    pub key: Option<Bytes>,
    /// The value.
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<RecordHeader>,
}

/// The records of one fetched partition from `from_offset` on, and the offset to fetch
/// next (`None` when no complete batch was in the data).
pub(crate) fn decode_records(
    topic: &Arc<str>,
    partition: i32,
    records: Bytes,
    from_offset: i64,
    opts: &DecodeOptions,
    out: &mut Vec<ConsumerRecord>,
) -> Result<Option<i64>> {
    let mut next = None;
    for entry in BatchIter::new(records, *opts) {
        match entry? {
            RawBatch::V2(batch) => {
                let h = *batch.header();
                next = Some(next.unwrap_or(from_offset).max(h.last_offset() + 1));
                if h.is_control() || h.last_offset() < from_offset {
                    continue;
                }
                let ts_type = h.timestamp_type();
                for record in batch.records(opts)? {
                    let record = record?;
                    let offset = h.base_offset + i64::from(record.offset_delta);
                    if offset < from_offset {
                        continue;
                    }
                    let timestamp = match ts_type {
                        TimestampType::LogAppendTime => h.max_timestamp,
                        TimestampType::CreateTime => {
                            h.base_timestamp.wrapping_add(record.timestamp_delta)
                        }
                    };
                    out.push(ConsumerRecord {
                        topic: topic.clone(),
                        partition,
                        offset,
                        timestamp,
                        timestamp_type: ts_type,
                        key: record.key,
                        value: record.value,
                        headers: record.headers,
                    });
                }
            }
            RawBatch::Legacy(message) => {
                let inner = if message.is_wrapper() {
                    message.inner_messages(opts)?
                } else {
                    vec![message]
                };
                for m in inner {
                    next = Some(next.unwrap_or(from_offset).max(m.offset + 1));
                    if m.offset < from_offset {
                        continue;
                    }
                    out.push(ConsumerRecord {
                        topic: topic.clone(),
                        partition,
                        offset: m.offset,
                        timestamp: m.timestamp,
                        timestamp_type: m.timestamp_type(),
                        key: m.key,
                        value: m.value,
                        headers: Vec::new(),
                    });
                }
            }
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{Compression, RecordBatchBuilder};

    #[test]
    fn decodes_every_codec_and_skips_earlier_offsets() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut data = Vec::new();
            for base in [10i64, 13] {
                let mut b = RecordBatchBuilder::new(codec).base_offset(base);
                for i in 0..3 {
                    let v = format!("v{}", base + i);
                    assert!(b.append(1000 + i, Some(b"k"), Some(v.as_bytes())).is_ok());
                }
                data.extend_from_slice(&b.finish().unwrap_or_default());
            }
            let topic: Arc<str> = Arc::from("t");
            let mut out = Vec::new();
            let next = decode_records(
                &topic,
                0,
                Bytes::from(data),
                11,
                &DecodeOptions::default(),
                &mut out,
            );
            assert_eq!(next.ok(), Some(Some(16)), "{codec:?}");
            let offsets: Vec<i64> = out.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, vec![11, 12, 13, 14, 15]);
            assert_eq!(out[0].value.as_deref(), Some(&b"v11"[..]));
            assert_eq!(out[0].timestamp, 1001);
        }
    }
}
