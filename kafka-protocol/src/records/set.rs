//! Walking a `records` field: zero or more batches or legacy messages back to back.
//!
//! Owns: [`BatchIter`], which splits the `records` bytes of a Produce request, a Fetch
//! response or a log segment into [`RawBatch`]es by their length fields and magic byte,
//! without decoding records, and the policy for a truncated last batch
//! ([`TruncatedTail`]). Must not: decode records (each batch does that when asked).
//!
//! ```text
//! records => [entry]
//! entry   => offset int64, length int32, 4 bytes, magic int8 (at byte 16), ...
//!            magic 2:    a v2 record batch, length = batchLength
//!            magic 0, 1: a legacy message (possibly a compressed wrapper), length = messageSize
//! ```

use bytes::Bytes;

use super::batch::RawRecordBatch;
use super::legacy::{LegacyMessage, MESSAGE_OVERHEAD_V0};
use super::{
    DecodeOptions, TruncatedTail, LOG_OVERHEAD, MAGIC_OFFSET, MAGIC_V0, MAGIC_V1, MAGIC_V2,
};
use crate::error::{Error, ErrorKind, Result};

/// One entry of a `records` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawBatch {
    /// A v2 record batch (magic 2), records not yet decoded.
    V2(RawRecordBatch),
    /// A legacy message (magic 0 or 1): an ordinary message, or a compressed wrapper whose
    /// inner messages [`LegacyMessage::inner_messages`] gives.
    Legacy(LegacyMessage),
}

impl RawBatch {
    /// The magic byte: 0, 1 or 2.
    pub fn magic(&self) -> i8 {
        match self {
            RawBatch::V2(b) => b.header().magic,
            RawBatch::Legacy(m) => m.magic,
        }
    }

    /// The offset of the last record (a legacy entry's own offset, which for a wrapper is
    /// its last inner message's).
    pub fn last_offset(&self) -> i64 {
        match self {
            RawBatch::V2(b) => b.header().last_offset(),
            RawBatch::Legacy(m) => m.offset,
        }
    }
}

/// Iterates over the entries of a `records` field; see the [module docs](self).
///
/// Yields `Err` once and then ends when an entry is malformed. A last entry cut short is,
/// per [`DecodeOptions::truncated_tail`], either the end of iteration (then
/// [`truncated_tail`](Self::truncated_tail) tells how many bytes were skipped) or an error.
/// Legacy CRCs are checked here when [`DecodeOptions::verify_crc`] is set; v2 CRCs when a
/// batch's records are read (or by [`RawRecordBatch::validate`]).
#[derive(Debug, Clone)]
pub struct BatchIter {
    buf: Bytes,
    opts: DecodeOptions,
    truncated_tail: Option<usize>,
    done: bool,
}

impl BatchIter {
    /// An iterator over the entries of `records`.
    pub fn new(records: Bytes, opts: DecodeOptions) -> Self {
        BatchIter {
            buf: records,
            opts,
            truncated_tail: None,
            done: false,
        }
    }

    /// Bytes of a truncated last entry that iteration stopped at ([`TruncatedTail::Stop`]),
    /// or `None` if there was none (or it has not been reached yet).
    pub fn truncated_tail(&self) -> Option<usize> {
        self.truncated_tail
    }

    /// The bytes not yet iterated over.
    pub fn remaining(&self) -> &Bytes {
        &self.buf
    }

    /// Ends iteration at a truncated last entry needing `needed` bytes, per the policy.
    fn truncated(&mut self, needed: usize) -> Option<Result<RawBatch>> {
        self.done = true;
        match self.opts.truncated_tail {
            TruncatedTail::Stop => {
                self.truncated_tail = Some(self.buf.len());
                None
            }
            TruncatedTail::Error => Some(Err(Error::new(ErrorKind::Truncated {
                needed,
                remaining: self.buf.len(),
            })
            .context("Records", "batchLength", -1))),
        }
    }

    fn fail(&mut self, e: Error) -> Option<Result<RawBatch>> {
        self.done = true;
        Some(Err(e))
    }
}

impl Iterator for BatchIter {
    type Item = Result<RawBatch>;

    fn next(&mut self) -> Option<Result<RawBatch>> {
        if self.done || self.buf.is_empty() {
            return None;
        }
        let Some(length) = self
            .buf
            .get(8..LOG_OVERHEAD)
            .and_then(|b| b.first_chunk::<4>())
            .map(|b| i32::from_be_bytes(*b))
        else {
            return self.truncated(LOG_OVERHEAD);
        };
        // As Kafka's log input stream: a length below the smallest message is corruption,
        // a length beyond the input a truncated tail.
        let Ok(length) = usize::try_from(length) else {
            return self.fail(
                Error::new(ErrorKind::NegativeLength(i64::from(length))).context(
                    "Records",
                    "batchLength",
                    -1,
                ),
            );
        };
        if length < MESSAGE_OVERHEAD_V0 {
            return self.fail(
                Error::new(ErrorKind::InvalidRecords(
                    "entry smaller than any batch or message",
                ))
                .context("Records", "batchLength", -1),
            );
        }
        let total = length + LOG_OVERHEAD;
        if total > self.buf.len() {
            return self.truncated(total);
        }
        let mut entry = self.buf.split_to(total);
        let magic = entry.get(MAGIC_OFFSET).map_or(-1, |&m| m as i8);
        let result = match magic {
            MAGIC_V2 => RawRecordBatch::new(entry).map(RawBatch::V2),
            MAGIC_V0 | MAGIC_V1 => {
                LegacyMessage::decode(&mut entry, self.opts.verify_crc).map(RawBatch::Legacy)
            }
            _ => Err(Error::new(ErrorKind::InvalidRecords("unknown magic byte"))
                .context("Records", "magic", -1)),
        };
        match result {
            Ok(batch) => Some(Ok(batch)),
            Err(e) => self.fail(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::records::{write_message_set, Compression, RecordBatchBuilder};

    fn two_batches_and_legacy() -> (Bytes, usize) {
        let mut out = Vec::new();
        for base in [0i64, 3] {
            let mut b = RecordBatchBuilder::new(Compression::None).base_offset(base);
            for i in 0..3 {
                b.append(i, Some(b"k"), Some(b"v")).unwrap();
            }
            out.extend_from_slice(&b.finish().unwrap());
        }
        let v2_len = out.len();
        let msgs = vec![LegacyMessage::new(
            1,
            6,
            0,
            None,
            Some(Bytes::from_static(b"old")),
        )];
        write_message_set(&mut out, 1, Compression::Gzip, &msgs).unwrap();
        (Bytes::from(out), v2_len)
    }

    #[test]
    fn yields_each_entry() {
        let (records, _) = two_batches_and_legacy();
        let mut iter = BatchIter::new(records, DecodeOptions::default());
        let entries: Vec<RawBatch> = iter.by_ref().map(Result::unwrap).collect();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].magic(), 2);
        assert_eq!(entries[1].last_offset(), 5);
        assert_eq!(entries[2].magic(), 1);
        assert_eq!(iter.truncated_tail(), None);
        assert!(iter.remaining().is_empty());
    }

    #[test]
    fn truncated_tail_stops_or_errors_by_policy() {
        let (records, v2_len) = two_batches_and_legacy();
        // Cut inside the second batch.
        let cut = records.slice(..v2_len - 5);
        let mut stop = BatchIter::new(cut.clone(), DecodeOptions::default());
        assert_eq!(stop.by_ref().filter(Result::is_ok).count(), 1);
        assert_eq!(stop.truncated_tail(), Some(v2_len / 2 - 5));
        let strict = DecodeOptions::default().with_truncated_tail(TruncatedTail::Error);
        let results: Vec<_> = BatchIter::new(cut, strict).collect();
        assert_eq!(results.len(), 2);
        assert!(matches!(
            results[1].as_ref().unwrap_err().kind(),
            ErrorKind::Truncated { .. }
        ));
    }

    #[test]
    fn every_cut_is_handled_without_panic() {
        let (records, _) = two_batches_and_legacy();
        let strict = DecodeOptions::default().with_truncated_tail(TruncatedTail::Error);
        let mut boundaries = vec![0usize];
        let mut iter = BatchIter::new(records.clone(), DecodeOptions::default());
        while iter.next().is_some() {
            boundaries.push(records.len() - iter.remaining().len());
        }
        for cut in 0..records.len() {
            let part = records.slice(..cut);
            let mut lenient = BatchIter::new(part.clone(), DecodeOptions::default());
            assert!(lenient.by_ref().all(|r| r.is_ok()), "cut {cut}");
            let at_boundary = boundaries.contains(&cut);
            assert_eq!(lenient.truncated_tail().is_none(), at_boundary, "cut {cut}");
            let strict: Vec<_> = BatchIter::new(part, strict).collect();
            assert_eq!(strict.iter().all(Result::is_ok), at_boundary, "cut {cut}");
        }
    }

    #[test]
    fn corrupt_lengths_and_magic_are_errors() {
        let (records, _) = two_batches_and_legacy();
        let mut bad = records.to_vec();
        bad[8..12].copy_from_slice(&(-1i32).to_be_bytes());
        let mut iter = BatchIter::new(Bytes::from(bad.clone()), DecodeOptions::default());
        assert!(iter.next().unwrap().is_err());
        assert!(iter.next().is_none());
        bad[8..12].copy_from_slice(&3i32.to_be_bytes());
        assert!(
            BatchIter::new(Bytes::from(bad.clone()), DecodeOptions::default())
                .next()
                .unwrap()
                .is_err()
        );
        let mut bad = records.to_vec();
        bad[16] = 7;
        assert!(BatchIter::new(Bytes::from(bad), DecodeOptions::default())
            .next()
            .unwrap()
            .is_err());
    }
}
