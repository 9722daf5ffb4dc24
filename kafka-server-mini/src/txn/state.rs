//! One transactional id's metadata and the state machine of its transactions, as Kafka's
//! `TransactionMetadata`: Empty -> Ongoing -> PrepareCommit / PrepareAbort ->
//! CompleteCommit / CompleteAbort -> Ongoing (next transaction) ...
//!
//! Owns: [`TxnState`], [`TxnMetadata`] and the epoch checks of requests against it. Must
//! not: write to logs (the coordinator does).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::code;
use crate::group::offsets::CommittedOffset;

/// The state of a transactional id's current transaction (Kafka's names and wire ids, as
/// DescribeTransactions / ListTransactions report them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction yet (after InitProducerId).
    Empty,
    /// Partitions or offsets have been added.
    Ongoing,
    /// EndTxn(commit) accepted; markers being written.
    PrepareCommit,
    /// EndTxn(abort) or a timeout accepted; markers being written.
    PrepareAbort,
    /// Markers written: committed.
    CompleteCommit,
    /// Markers written: aborted.
    CompleteAbort,
}

impl TxnState {
    /// Kafka's state name (`Ongoing`, `PrepareCommit`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }

    /// Markers are being written: every other operation answers CONCURRENT_TRANSACTIONS.
    pub fn is_preparing(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// Offsets of one group a transaction carries: (topic, partition, offset).
pub type GroupOffsets = Vec<(String, i32, CommittedOffset)>;

/// What the coordinator knows of one transactional id.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnMetadata {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id it holds.
    pub producer_id: i64,
    /// The current producer epoch.
    pub producer_epoch: i16,
    /// The epoch before the last bump by the coordinator (a timeout abort), -1 if none:
    /// a producer presenting it may re-initialize (KIP-360).
    pub last_producer_epoch: i16,
    /// `transaction.timeout.ms` as the producer asked.
    pub timeout_ms: i32,
    /// The state.
    pub state: TxnState,
    /// Partitions of the current transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Groups whose offsets the current transaction carries (AddOffsetsToTxn).
    pub groups: BTreeSet<String>,
    /// Offsets staged by TxnOffsetCommit, applied to each group when the transaction commits.
    pub pending_offsets: BTreeMap<String, GroupOffsets>,
    /// When the current transaction started (ms since the epoch), -1 outside one.
    pub start_ms: i64,
    /// When the metadata last changed.
    pub last_update_ms: i64,
}

impl TxnMetadata {
    /// Fresh metadata for a new transactional id.
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now: i64) -> Self {
        TxnMetadata {
            transactional_id: transactional_id.to_string(),
            producer_id,
            producer_epoch: 0,
            last_producer_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            pending_offsets: BTreeMap::new(),
            start_ms: -1,
            last_update_ms: now,
        }
    }

    /// Checks a request's producer id and epoch: INVALID_PRODUCER_ID_MAPPING for another
    /// producer id, the fencing error for another epoch.
    pub fn check_producer(&self, producer_id: i64, epoch: i16, fenced: i16) -> Result<(), i16> {
        if producer_id != self.producer_id {
            return Err(code::INVALID_PRODUCER_ID_MAPPING);
        }
        if epoch != self.producer_epoch {
            return Err(fenced);
        }
        Ok(())
    }

    /// Whether what `__transaction_state` records of `self` and `other` is the same (the
    /// groups and staged offsets are not recorded there).
    pub fn same_record(&self, other: &TxnMetadata) -> bool {
        self.producer_id == other.producer_id
            && self.producer_epoch == other.producer_epoch
            && self.timeout_ms == other.timeout_ms
            && self.state == other.state
            && self.partitions == other.partitions
            && self.start_ms == other.start_ms
    }

    /// Starts (or continues) a transaction.
    pub fn begin(&mut self, now: i64) {
        if self.state != TxnState::Ongoing {
            self.state = TxnState::Ongoing;
            self.start_ms = now;
            self.partitions.clear();
            self.groups.clear();
            self.pending_offsets.clear();
        }
        self.last_update_ms = now;
    }

    /// Whether the current transaction has outlived its timeout at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.state == TxnState::Ongoing
            && self.start_ms >= 0
            && now.saturating_sub(self.start_ms) > i64::from(self.timeout_ms)
    }

    /// Bumps the epoch (fencing whoever holds the current one); `false` when the epoch is
    /// exhausted and a new producer id is needed.
    pub fn bump_epoch(&mut self) -> bool {
        if self.producer_epoch >= i16::MAX - 1 {
            return false;
        }
        self.last_producer_epoch = self.producer_epoch;
        self.producer_epoch += 1;
        true
    }
}

/// The fencing error of a request at `version`, as Kafka answers (KIP-588): PRODUCER_FENCED
/// from the version that introduced it, INVALID_PRODUCER_EPOCH before.
pub fn fenced_code(version: i16, first_version_with_fenced: i16) -> i16 {
    if version >= first_version_with_fenced {
        code::PRODUCER_FENCED
    } else {
        code::INVALID_PRODUCER_EPOCH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_and_expiry() {
        let mut m = TxnMetadata::new("t", 5, 1000, 0);
        assert_eq!(m.check_producer(5, 0, 90), Ok(()));
        assert_eq!(m.check_producer(6, 0, 90), Err(49));
        m.begin(10);
        assert!(!m.expired(1000));
        assert!(m.expired(1011));
        assert!(m.bump_epoch());
        assert_eq!(m.check_producer(5, 0, 47), Err(47));
        assert_eq!(m.last_producer_epoch, 0);
        m.producer_epoch = i16::MAX - 1;
        assert!(!m.bump_epoch());
        assert_eq!(fenced_code(3, 4), 47);
        assert_eq!(fenced_code(4, 4), 90);
    }
}
