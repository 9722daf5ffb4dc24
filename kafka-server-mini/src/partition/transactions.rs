//! Transactions as one partition sees them: the open ones (producer id -> first offset), the
//! aborted ones (producer id, first offset, last offset = the ABORT marker's offset) and the
//! last stable offset that follows from them.
//!
//! Owns: [`PartitionTxns`], fed by every appended batch, and its rebuild at open from the
//! batch headers and the segments' `.txnindex` files (which it repairs). Must not: decide transaction outcomes (the coordinator in `crate::txn` does) or
//! append anything.

use std::collections::HashMap;

use krafty_protocol::records::{
    BatchIter, ControlRecordType, DecodeOptions, RawBatch, RecordBatchHeader,
};

use crate::log::txn_index::{self, TxnIndexEntry};
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
        // markers are appended in offset order: skip those wholly before `from`
        let start = self.aborted.partition_point(|a| a.last_offset < from);
        let mut out: Vec<(i64, i64)> = self.aborted[start..]
            .iter()
            .filter(|a| a.first_offset < to)
            .map(|a| (a.producer_id, a.first_offset))
            .collect();
        out.sort_by_key(|&(_, first)| first);
        out
    }

    /// Forgets aborted transactions wholly below `log_start` (their segments are gone).
    pub fn prune_below(&mut self, log_start: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start);
    }

    /// The first offset of `producer_id`'s open transaction here, if any.
    pub fn first_offset_of(&self, producer_id: i64) -> Option<i64> {
        self.ongoing.get(&producer_id).copied()
    }

    /// The open transactions: (producer id, first offset).
    pub fn ongoing(&self) -> Vec<(i64, i64)> {
        let mut v: Vec<(i64, i64)> = self.ongoing.iter().map(|(p, f)| (*p, *f)).collect();
        v.sort_unstable();
        v
    }

    /// Rebuilds the state at open from the stored batch headers and the segments'
    /// `.txnindex` files: a transactional data batch opens its producer's transaction, a
    /// control batch ends it, and it was an ABORT when an index says so. Recovery: the
    /// control batches of the last segment (where a crash can leave a marker without its
    /// index entry) and of any segment whose index is missing or torn are decoded instead,
    /// and those indexes are rewritten; index files of segments that no longer exist (the
    /// cleaner merged them) are folded into the segment holding their markers, then
    /// removed. A batch that does not decode is skipped, never fatal.
    pub fn rebuild(log: &Log, headers: &[RecordBatchHeader], topic: &str, index: i32) -> Self {
        let dir = log.dir();
        let bases: Vec<(i64, i64)> = log
            .segments()
            .map(|s| (s.base_offset(), s.next_offset()))
            .collect();
        // every entry any index file holds, by marker offset
        let mut known: HashMap<i64, AbortedTxn> = HashMap::new();
        let mut intact: HashMap<i64, bool> = HashMap::new();
        let mut orphans = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let Some(base) = name
                    .strip_suffix(".txnindex")
                    .and_then(|b| b.parse::<i64>().ok())
                else {
                    continue;
                };
                let read = txn_index::read(&entry.path());
                if !bases.iter().any(|(b, _)| *b == base) {
                    orphans.push(base);
                }
                intact.insert(base, read.is_some());
                for e in read.unwrap_or_default() {
                    known.insert(
                        e.last_offset,
                        AbortedTxn {
                            producer_id: e.producer_id,
                            first_offset: e.first_offset,
                            last_offset: e.last_offset,
                        },
                    );
                }
            }
        }
        let last_base = bases.last().map_or(0, |(b, _)| *b);
        let segment_of = |offset: i64| {
            bases
                .iter()
                .rev()
                .find(|(b, _)| *b <= offset)
                .map_or(0, |(b, _)| *b)
        };
        let opts = DecodeOptions::default();
        let mut txns = PartitionTxns::default();
        let mut per_segment: HashMap<i64, Vec<TxnIndexEntry>> = HashMap::new();
        let mut with_markers: Vec<i64> = Vec::new();
        for h in headers {
            if !h.is_control() {
                txns.on_data(h);
                continue;
            }
            if !h.has_producer_id() {
                continue;
            }
            let seg = segment_of(h.base_offset);
            if !with_markers.contains(&seg) {
                with_markers.push(seg);
            }
            let trusted = seg != last_base && intact.get(&seg).copied().unwrap_or(false);
            let abort = if known.contains_key(&h.base_offset) {
                true
            } else if trusted {
                false
            } else {
                control_is_abort(log, h.base_offset, &opts).unwrap_or(false)
            };
            let first = txns.ongoing.get(&h.producer_id).copied();
            txns.on_marker(h.producer_id, h.base_offset, !abort);
            if let (true, Some(first)) = (abort, first) {
                per_segment.entry(seg).or_default().push(TxnIndexEntry {
                    producer_id: h.producer_id,
                    first_offset: first,
                    last_offset: h.base_offset,
                    last_stable_offset: txns.last_stable_offset(h.base_offset + 1),
                });
            }
        }
        // bring the index files in line with what the log holds
        for (base, _) in &bases {
            let want = per_segment.remove(base).unwrap_or_default();
            let path = txn_index::path(dir, *base);
            let have = txn_index::read(&path);
            let needs = if with_markers.contains(base) {
                have.as_deref() != Some(want.as_slice())
            } else {
                path.exists()
            };
            if needs {
                tracing::info!(%topic, index, segment = base, "rebuilding the aborted-transaction index");
                let result = if with_markers.contains(base) {
                    txn_index::rewrite(log.disk(), dir, *base, &want)
                } else {
                    txn_index::delete(dir, *base)
                };
                if let Err(e) = result {
                    tracing::warn!(%topic, index, error = %e, "could not rewrite a .txnindex");
                }
            }
        }
        for base in orphans {
            if let Err(e) = txn_index::delete(dir, base) {
                tracing::warn!(%topic, index, error = %e, "could not delete a stale .txnindex");
            }
        }
        txns.prune_below(log.log_start_offset());
        txns
    }
}

/// Whether the control batch at `offset` is an ABORT marker (`None`: it does not decode).
fn control_is_abort(log: &Log, offset: i64, opts: &DecodeOptions) -> Option<bool> {
    let bytes = log.read(offset, 1024, true).ok()??;
    let entry = BatchIter::new(bytes, *opts).next()?;
    let RawBatch::V2(raw) = entry.ok()? else {
        return None;
    };
    if raw.header().base_offset != offset || !raw.header().is_control() {
        return None;
    }
    let batch = raw.decode(opts).ok()?;
    let r = batch.records.first()?;
    Some(ControlRecordType::of(r).ok()? == ControlRecordType::Abort)
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
