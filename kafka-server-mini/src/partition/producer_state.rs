//! Idempotent producer state of one partition.
//!
//! Owns: per producer id the current epoch and the last 5 appended batches' sequence ranges
//! and offsets, and the sequence checks Kafka makes before an append (duplicate, gap, stale
//! epoch). Must not: append anything.

use std::collections::{HashMap, VecDeque};

use krafty_protocol::records::RecordBatchHeader;

use crate::error::code;

/// Batches remembered per producer (Kafka's `max.in.flight.requests.per.connection` cap).
pub const BATCHES_KEPT: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
    last_timestamp: i64,
}

/// One producer as DescribeProducers reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveProducer {
    /// The producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub epoch: i16,
    /// The last sequence number appended (-1 if none in this epoch).
    pub last_sequence: i32,
    /// The max timestamp of its last batch (-1 if unknown).
    pub last_timestamp: i64,
}

/// What to do with an incoming batch of an idempotent producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// It was appended before at this base offset: answer success without appending.
    Duplicate(i64),
    /// Reject with this Kafka error code.
    Reject(i16),
}

/// The producer state map of a partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerStateMap {
    producers: HashMap<i64, Entry>,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

impl ProducerStateMap {
    /// Checks a batch against the producer's state. Batches without a producer id always
    /// append.
    pub fn check(&self, h: &RecordBatchHeader) -> SequenceCheck {
        if !h.has_producer_id() || h.base_sequence < 0 {
            return SequenceCheck::Append;
        }
        let Some(e) = self.producers.get(&h.producer_id) else {
            return if h.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Reject(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
            };
        };
        if h.producer_epoch < e.epoch {
            return SequenceCheck::Reject(code::INVALID_PRODUCER_EPOCH);
        }
        if h.producer_epoch > e.epoch {
            return if h.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Reject(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
            };
        }
        let last = h.last_sequence();
        if let Some(b) = e
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last)
        {
            return SequenceCheck::Duplicate(b.base_offset);
        }
        match e.batches.back() {
            Some(b) if h.base_sequence == next_seq(b.last_seq) => SequenceCheck::Append,
            None => SequenceCheck::Append,
            Some(_) => SequenceCheck::Reject(code::OUT_OF_ORDER_SEQUENCE_NUMBER),
        }
    }

    /// Records an appended batch (header with its assigned base offset).
    pub fn record(&mut self, h: &RecordBatchHeader) {
        if h.is_control() && h.has_producer_id() {
            // a transaction marker: a newer epoch (a fenced or timed-out producer) replaces
            // the producer's state, so batches of older epochs are refused from now on
            let e = self.producers.entry(h.producer_id).or_default();
            if h.producer_epoch > e.epoch {
                e.epoch = h.producer_epoch;
                e.batches.clear();
            }
            e.last_timestamp = h.max_timestamp;
            return;
        }
        if !h.has_producer_id() || h.base_sequence < 0 {
            return;
        }
        let e = self.producers.entry(h.producer_id).or_default();
        if h.producer_epoch != e.epoch {
            e.epoch = h.producer_epoch;
            e.batches.clear();
        }
        e.last_timestamp = h.max_timestamp;
        e.batches.push_back(BatchMeta {
            first_seq: h.base_sequence,
            last_seq: h.last_sequence(),
            base_offset: h.base_offset,
        });
        while e.batches.len() > BATCHES_KEPT {
            e.batches.pop_front();
        }
    }

    /// The current epoch of `producer_id`, if it ever wrote here.
    pub fn epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    /// Every producer known here, by producer id.
    pub fn active(&self) -> Vec<ActiveProducer> {
        let mut v: Vec<ActiveProducer> = self
            .producers
            .iter()
            .map(|(pid, e)| ActiveProducer {
                producer_id: *pid,
                epoch: e.epoch,
                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                last_timestamp: e.last_timestamp,
            })
            .collect();
        v.sort_by_key(|p| p.producer_id);
        v
    }

    /// The largest producer id seen.
    pub fn max_producer_id(&self) -> i64 {
        self.producers.keys().copied().max().unwrap_or(-1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use krafty_protocol::records::{BatchAttributes, Compression};

    fn h(pid: i64, epoch: i16, seq: i32, n: i32, base: i64) -> RecordBatchHeader {
        RecordBatchHeader {
            base_offset: base,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: BatchAttributes::new(Compression::None),
            last_offset_delta: n - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: n,
        }
    }

    #[test]
    fn duplicates_gaps_and_epochs() {
        let mut m = ProducerStateMap::default();
        assert_eq!(m.check(&h(7, 0, 3, 1, 0)), SequenceCheck::Reject(45));
        assert_eq!(m.check(&h(7, 0, 0, 2, 0)), SequenceCheck::Append);
        m.record(&h(7, 0, 0, 2, 10));
        assert_eq!(m.check(&h(7, 0, 0, 2, 0)), SequenceCheck::Duplicate(10));
        assert_eq!(m.check(&h(7, 0, 3, 1, 0)), SequenceCheck::Reject(45));
        assert_eq!(m.check(&h(7, 0, 2, 1, 0)), SequenceCheck::Append);
        m.record(&h(7, 0, 2, 1, 12));
        for i in 0..6 {
            m.record(&h(7, 0, 3 + i, 1, 13 + i64::from(i)));
        }
        // the first batches fell out of the window of 5
        assert_eq!(m.check(&h(7, 0, 0, 2, 0)), SequenceCheck::Reject(45));
        assert_eq!(m.check(&h(7, 0, 8, 1, 0)), SequenceCheck::Duplicate(18));
        // a new epoch restarts at 0; an old epoch is fenced
        assert_eq!(m.check(&h(7, 1, 0, 1, 0)), SequenceCheck::Append);
        m.record(&h(7, 1, 0, 1, 30));
        assert_eq!(m.check(&h(7, 0, 9, 1, 0)), SequenceCheck::Reject(47));
        assert_eq!(m.check(&h(-1, -1, -1, 1, 0)), SequenceCheck::Append);
    }
}
