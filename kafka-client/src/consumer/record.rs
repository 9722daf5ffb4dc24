//! What the consumer hands to the application, and decoding of fetched `records` bytes.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use krafty_protocol::records::{
    BatchIter, ControlRecordType, DecodeOptions, RawBatch, RecordHeader, TimestampType,
};

use crate::error::{Error, Result};

/// `a + b` for offsets taken from a broker's response: an overflow is a malformed response
/// (an error for that partition), never a panic or a wrapped offset.
fn offset_add(a: i64, b: i64, what: &str) -> Result<i64> {
    a.checked_add(b)
        .ok_or_else(|| Error::InvalidResponse(format!("fetched {what} overflows: {a} + {b}")))
}

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

/// `read_committed` filtering of one fetched partition: the aborted transactions the
/// broker listed with the data (producer id, first offset), applied as the Java consumer
/// does. Before each batch of a producer, the transactions that started at or before the
/// batch's last offset become "open aborted" for their producer; a transactional batch of
/// an open-aborted producer is skipped; that producer's ABORT marker closes it.
#[derive(Debug, Default)]
pub(crate) struct AbortedFilter {
    /// Aborted transactions not yet reached, sorted by first offset (ascending).
    pending: Vec<(i64, i64)>,
    /// Producers whose aborted transaction is in progress at the current batch.
    open: HashSet<i64>,
}

impl AbortedFilter {
    /// A filter over `(producer_id, first_offset)` pairs from a Fetch response.
    pub fn new(aborted: impl IntoIterator<Item = (i64, i64)>) -> Self {
        let mut pending: Vec<(i64, i64)> = aborted.into_iter().collect();
        // sorted descending so the earliest is popped from the end
        pending.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        AbortedFilter {
            pending,
            open: HashSet::new(),
        }
    }

    /// Whether the batch (already known to carry a producer id) is to be skipped.
    /// `abort_marker`: the batch is a control batch holding an ABORT marker.
    fn skip(
        &mut self,
        producer_id: i64,
        last_offset: i64,
        transactional: bool,
        abort_marker: bool,
    ) -> bool {
        while self
            .pending
            .last()
            .is_some_and(|&(_, first)| first <= last_offset)
        {
            if let Some((pid, _)) = self.pending.pop() {
                self.open.insert(pid);
            }
        }
        if abort_marker {
            self.open.remove(&producer_id);
            return false;
        }
        transactional && self.open.contains(&producer_id)
    }
}

/// Decodes one partition of a Fetch response as the consumer does: the records from
/// `from_offset` on and the offset to fetch next; with `aborted` (the response's aborted
/// transactions, for `read_committed`) records of aborted transactions are dropped. Bad
/// data (lengths, CRCs, offsets that overflow, compression bombs past `opts`) is an error,
/// never a panic. Public for the fetch-response fuzz target.
pub fn decode_fetched_partition(
    topic: &str,
    partition: i32,
    records: Bytes,
    from_offset: i64,
    aborted: Option<Vec<(i64, i64)>>,
    opts: &DecodeOptions,
) -> Result<(Vec<ConsumerRecord>, Option<i64>)> {
    let topic: Arc<str> = Arc::from(topic);
    let mut filter = aborted.map(AbortedFilter::new);
    let mut out = Vec::new();
    let next = decode_records(
        &topic,
        partition,
        records,
        from_offset,
        opts,
        filter.as_mut(),
        &mut out,
    )?;
    Ok((out, next))
}

/// The records of one fetched partition from `from_offset` on, and the offset to fetch
/// next (`None` when no complete batch was in the data). With `aborted` (read_committed),
/// records of aborted transactions are dropped. Control batches never reach the
/// application.
pub(crate) fn decode_records(
    topic: &Arc<str>,
    partition: i32,
    records: Bytes,
    from_offset: i64,
    opts: &DecodeOptions,
    mut aborted: Option<&mut AbortedFilter>,
    out: &mut Vec<ConsumerRecord>,
) -> Result<Option<i64>> {
    let mut next = None;
    for entry in BatchIter::new(records, *opts) {
        match entry? {
            RawBatch::V2(batch) => {
                let h = *batch.header();
                if h.base_offset < 0 || h.last_offset_delta < 0 {
                    return Err(Error::InvalidResponse(format!(
                        "fetched batch with base offset {} and last offset delta {}",
                        h.base_offset, h.last_offset_delta
                    )));
                }
                let last = offset_add(h.base_offset, i64::from(h.last_offset_delta), "batch")?;
                let after = offset_add(last, 1, "batch")?;
                next = Some(next.unwrap_or(from_offset).max(after));
                if let Some(filter) = aborted.as_deref_mut().filter(|_| h.producer_id >= 0) {
                    let abort_marker = h.is_control()
                        && match batch.records(opts)?.next() {
                            Some(first) => matches!(
                                ControlRecordType::parse_key(first?.key.as_deref()),
                                Ok(ControlRecordType::Abort)
                            ),
                            None => false,
                        };
                    if filter.skip(h.producer_id, last, h.is_transactional(), abort_marker) {
                        continue;
                    }
                }
                if h.is_control() || last < from_offset {
                    continue;
                }
                let ts_type = h.timestamp_type();
                for record in batch.records(opts)? {
                    let record = record?;
                    let offset =
                        offset_add(h.base_offset, i64::from(record.offset_delta), "record")?;
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
                    if m.offset < 0 {
                        return Err(Error::InvalidResponse(format!(
                            "fetched message with offset {}",
                            m.offset
                        )));
                    }
                    let after = offset_add(m.offset, 1, "message")?;
                    next = Some(next.unwrap_or(from_offset).max(after));
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
    use krafty_protocol::records::{Compression, RecordBatchBuilder};

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
                None,
                &mut out,
            );
            assert_eq!(next.ok(), Some(Some(16)), "{codec:?}");
            let offsets: Vec<i64> = out.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, vec![11, 12, 13, 14, 15]);
            assert_eq!(out[0].value.as_deref(), Some(&b"v11"[..]));
            assert_eq!(out[0].timestamp, 1001);
        }
    }

    fn txn_batch(base: i64, pid: i64, values: &[&str]) -> Vec<u8> {
        let mut b = RecordBatchBuilder::new(Compression::None)
            .base_offset(base)
            .producer(pid, 0, 0)
            .transactional(true);
        for v in values {
            assert!(b.append(1, None, Some(v.as_bytes())).is_ok());
        }
        b.finish().map(|b| b.to_vec()).unwrap_or_default()
    }

    fn marker(base: i64, pid: i64, kind: ControlRecordType) -> Vec<u8> {
        let m = krafty_protocol::records::EndTxnMarker {
            control_type: kind,
            coordinator_epoch: 0,
        };
        let mut batch = m.to_batch(pid, 0, 1, -1);
        batch.base_offset = base;
        let mut out = Vec::new();
        assert!(batch.encode(&mut out).is_ok());
        out
    }

    #[test]
    fn read_committed_drops_aborted_transactions_only() {
        // producer 7: "a0","a1" committed; producer 8: "b0","b1" aborted, interleaved;
        // then producer 8 again, committed this time.
        let mut data = Vec::new();
        data.extend(txn_batch(0, 7, &["a0"]));
        data.extend(txn_batch(1, 8, &["b0"]));
        data.extend(txn_batch(2, 7, &["a1"]));
        data.extend(txn_batch(3, 8, &["b1"]));
        data.extend(marker(4, 8, ControlRecordType::Abort));
        data.extend(marker(5, 7, ControlRecordType::Commit));
        data.extend(txn_batch(6, 8, &["b2"]));
        data.extend(marker(7, 8, ControlRecordType::Commit));
        let topic: Arc<str> = Arc::from("t");
        let values = |out: &[ConsumerRecord]| -> Vec<String> {
            out.iter()
                .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into())
                .collect()
        };
        let bytes = Bytes::from(data);
        let mut filter = AbortedFilter::new([(8, 1)]);
        let mut out = Vec::new();
        let next = decode_records(
            &topic,
            0,
            bytes.clone(),
            0,
            &DecodeOptions::default(),
            Some(&mut filter),
            &mut out,
        );
        assert_eq!(next.ok(), Some(Some(8)));
        assert_eq!(values(&out), ["a0", "a1", "b2"]);
        let mut out = Vec::new();
        assert!(decode_records(
            &topic,
            0,
            bytes,
            0,
            &DecodeOptions::default(),
            None,
            &mut out
        )
        .is_ok());
        assert_eq!(
            values(&out),
            ["a0", "b0", "a1", "b1", "b2"],
            "read_uncommitted"
        );
    }

    #[test]
    fn hostile_offsets_are_errors_not_panics() {
        let topic: Arc<str> = Arc::from("t");
        let opts = DecodeOptions::default();
        for (base, delta) in [
            (i64::MAX, 0i32),
            (i64::MAX - 1, 5),
            (-7, 0),
            (i64::MAX - 3, 2),
        ] {
            let mut b = RecordBatchBuilder::new(Compression::None).base_offset(base);
            for i in 0..3 {
                assert!(b.append(1000 + i, Some(b"k"), Some(b"v")).is_ok());
            }
            let mut raw = match b.finish() {
                Ok(b) => b.to_vec(),
                Err(e) => panic!("building base {base}: {e:?}"),
            };
            // a hostile last offset delta (not covered by the CRC check here)
            raw[23..27].copy_from_slice(&(2 + delta).to_be_bytes());
            let mut out = Vec::new();
            let r = decode_records(
                &topic,
                0,
                Bytes::from(raw),
                0,
                &opts.with_verify_crc(false),
                None,
                &mut out,
            );
            assert!(r.is_err(), "base {base} delta {delta}: {r:?}");
        }
    }
}
