//! Transactions as one partition sees them: the open ones (producer id -> first offset), the
//! aborted ones (producer id, first offset, last offset = the ABORT marker's offset) and the
//! last stable offset that follows from them.
//!
//! Owns: [`PartitionTxns`], fed by every appended batch, and its rebuild from the stored log
//! at open. Must not: decide transaction outcomes (the coordinator in `crate::txn` does) or
//! append anything.

use std::collections::HashMap;

use krafty_protocol::records::{
    BatchIter, ControlRecordType, DecodeOptions, RawBatch, RecordBatchHeader,
};

use crate::log::Log;

/// A transaction that ended with an ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer id.
    pub producer_id: i64,
    /// The offset of the transaction's first batch in this partition.
    pub first_offset: i64,
    /// The offset of the ABORT marker.
    pub last_offset: i64,
}

/// The open and aborted transactions of one partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionTxns {
    ongoing: HashMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
}

impl PartitionTxns {
    /// Records an appended batch: a transactional data batch opens (or continues) its
    /// producer's transaction; other batches change nothing (markers go through
    /// [`Self::on_marker`], whose type the header alone does not tell).
    pub fn on_data(&mut self, h: &RecordBatchHeader) {
        if h.is_transactional() && !h.is_control() && h.has_producer_id() {
            self.ongoing.entry(h.producer_id).or_insert(h.base_offset);
        }
    }

    /// Records a COMMIT or ABORT marker of `producer_id` stored at `offset`. A marker for a
    /// producer with nothing open here (the coordinator writes markers to every partition it
    /// added, written to or not) ends nothing.
    pub fn on_marker(&mut self, producer_id: i64, offset: i64, commit: bool) {
        if let Some(first) = self.ongoing.remove(&producer_id) {
            if !commit {
                self.aborted.push(AbortedTxn {
                    producer_id,
                    first_offset: first,
                    last_offset: offset,
                });
            }
        }
    }

    /// The first offset of the oldest open transaction, if any.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.values().copied().min()
    }

    /// The last stable offset: the first offset of the oldest open transaction, or the high
    /// watermark when none is open (never above the high watermark).
    pub fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        self.first_unstable_offset()
            .map_or(high_watermark, |f| f.min(high_watermark))
    }

    /// The aborted transactions that overlap `[from, to)`, as Fetch reports them:
    /// (producer id, first offset), ordered by first offset.
    pub fn aborted_overlapping(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = self
            .aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .map(|a| (a.producer_id, a.first_offset))
            .collect();
        out.sort_by_key(|&(_, first)| first);
        out
    }

    /// Forgets aborted transactions wholly below `log_start` (their segments are gone).
    pub fn prune_below(&mut self, log_start: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start);
    }

    /// The open transactions: (producer id, first offset).
    pub fn ongoing(&self) -> Vec<(i64, i64)> {
        let mut v: Vec<(i64, i64)> = self.ongoing.iter().map(|(p, f)| (*p, *f)).collect();
        v.sort_unstable();
        v
    }

    /// Rebuilds the state by reading the stored log (data batch headers and the type of
    /// each control record). A batch that does not decode is skipped, never fatal: the log
    /// was validated when it was written and recovery cut any torn tail.
    pub fn rebuild(log: &Log, topic: &str, index: i32) -> Self {
        let mut txns = PartitionTxns::default();
        let opts = DecodeOptions::default();
        let mut offset = log.log_start_offset();
        let end = log.log_end_offset();
        while offset < end {
            let bytes = match log.read(offset, 1 << 20, true) {
                Ok(Some(b)) if !b.is_empty() => b,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(%topic, index, error = %e, "transaction state rebuild stopped");
                    break;
                }
            };
            let mut progressed = false;
            for entry in BatchIter::new(bytes, opts) {
                let Ok(RawBatch::V2(raw)) = entry else {
                    break;
                };
                let h = *raw.header();
                let next = h.next_offset();
                if next <= offset {
                    continue;
                }
                if h.is_control() {
                    if let Ok(batch) = raw.decode(&opts) {
                        for r in &batch.records {
                            match ControlRecordType::of(r) {
                                Ok(ControlRecordType::Commit) => {
                                    txns.on_marker(h.producer_id, h.base_offset, true);
                                }
                                Ok(ControlRecordType::Abort) => {
                                    txns.on_marker(h.producer_id, h.base_offset, false);
                                }
                                _ => {}
                            }
                        }
                    }
                } else {
                    txns.on_data(&h);
                }
                offset = next;
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        txns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lso_and_aborted_ranges() {
        let mut t = PartitionTxns::default();
        assert_eq!(t.last_stable_offset(10), 10);
        t.ongoing.insert(7, 3);
        t.ongoing.insert(8, 5);
        assert_eq!(t.last_stable_offset(10), 3);
        t.on_marker(7, 6, false);
        assert_eq!(t.last_stable_offset(10), 5);
        t.on_marker(8, 7, true);
        assert_eq!(t.last_stable_offset(10), 10);
        assert_eq!(t.aborted_overlapping(0, 10), vec![(7, 3)]);
        assert_eq!(t.aborted_overlapping(7, 10), Vec::<(i64, i64)>::new());
        assert_eq!(t.aborted_overlapping(0, 3), Vec::<(i64, i64)>::new());
        t.on_marker(9, 8, false);
        assert_eq!(t.aborted_overlapping(0, 10).len(), 1);
        t.prune_below(7);
        assert!(t.aborted_overlapping(0, 10).is_empty());
    }
}
