//! Per-partition state: the log, the producer state and the high watermark.
//!
//! Owns: serializing appends (one lock per partition), the sequence checks before them and
//! waking long-polling fetchers afterwards. With a single replica the high watermark is the
//! log end offset; followers would move it later. Must not: parse requests.

pub mod producer_state;
pub mod transactions;

use std::sync::{Mutex, MutexGuard};

use krafty_protocol::records::{ControlRecordType, EndTxnMarker, RecordBatchHeader};

use crate::log::txn_index::{self, TxnIndexEntry};
use crate::log::Log;
use producer_state::{ProducerStateMap, SequenceCheck};
use transactions::PartitionTxns;

/// State guarded by the partition lock.
#[derive(Debug)]
pub struct PartitionState {
    /// The log.
    pub log: Log,
    /// Idempotent producers' sequence state.
    pub producers: ProducerStateMap,
    /// Open and aborted transactions (the last stable offset follows from them).
    pub txns: PartitionTxns,
}

impl PartitionState {
    /// The high watermark: the log end offset while there are no followers.
    pub fn high_watermark(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// The last stable offset: below it every transaction is decided.
    pub fn last_stable_offset(&self) -> i64 {
        self.txns.last_stable_offset(self.high_watermark())
    }
}

/// One partition of a topic.
#[derive(Debug)]
pub struct Partition {
    /// The topic name.
    pub topic: String,
    /// The partition index.
    pub index: i32,
    state: Mutex<PartitionState>,
}

/// The outcome of appending one produce request's batches to a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The base offset of the first batch (for a duplicate, its original offset).
    pub base_offset: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// The broker's append time with LogAppendTime, else -1.
    pub log_append_time: i64,
}

impl Partition {
    /// A partition over an opened log; producer state is rebuilt from the stored headers.
    pub fn new(topic: String, index: i32, log: Log) -> Self {
        let mut producers = ProducerStateMap::default();
        let headers = match log.batch_headers() {
            Ok(headers) => headers,
            Err(e) => {
                tracing::warn!(%topic, index, error = %e, "could not rebuild producer state");
                Vec::new()
            }
        };
        headers.iter().for_each(|h| producers.record(h));
        let txns = PartitionTxns::rebuild(&log, &headers, &topic, index);
        Partition {
            topic,
            index,
            state: Mutex::new(PartitionState {
                log,
                producers,
                txns,
            }),
        }
    }

    /// Locks the partition state (a poisoned lock is recovered: state stays consistent
    /// because every mutation is applied only after its checks).
    pub fn lock(&self) -> MutexGuard<'_, PartitionState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends validated v2 batches (each a whole batch) as one unit, as Kafka appends a
    /// Produce request's records for a partition: every batch passes the sequence checks
    /// first (the first rejection answers for the whole request and nothing is appended),
    /// then all new batches are written together or not at all. A storage failure answers
    /// KAFKA_STORAGE_ERROR and stores nothing. Duplicates of batches already appended are
    /// answered with their original offset.
    pub fn append(&self, batches: Vec<Vec<u8>>) -> Result<AppendOutcome, i16> {
        let mut st = self.lock();
        st.log.check_online().map_err(|e| e.code())?;
        let now = crate::broker::now_ms();
        let mut scratch: Option<ProducerStateMap> = None;
        let mut first_duplicate: Option<i64> = None;
        let several = batches.len() > 1;
        let mut fresh = Vec::with_capacity(batches.len());
        for batch in batches {
            let h = RecordBatchHeader::parse(&batch)
                .map_err(|_| crate::error::code::CORRUPT_MESSAGE)?;
            let producers = scratch.as_ref().unwrap_or(&st.producers);
            match producers.check(&h) {
                SequenceCheck::Reject(code) => return Err(code),
                SequenceCheck::Duplicate(offset) => {
                    if fresh.is_empty() {
                        first_duplicate.get_or_insert(offset);
                    }
                }
                SequenceCheck::Append => {
                    // later batches of the same request are checked as if this one was
                    // stored (a copy of the state only when there are later batches)
                    if several && h.has_producer_id() {
                        scratch
                            .get_or_insert_with(|| st.producers.clone())
                            .record(&h);
                    }
                    fresh.push(batch);
                }
            }
        }
        let mut first = first_duplicate;
        if !fresh.is_empty() {
            let stored = st.log.append_batches(&mut fresh, now).map_err(|e| {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed; nothing stored");
                e.code()
            })?;
            for h in &stored {
                st.producers.record(h);
                st.txns.on_data(h);
            }
            if first.is_none() {
                first = stored.first().map(|h| h.base_offset);
            }
        }
        Ok(AppendOutcome {
            base_offset: first.unwrap_or(-1),
            log_start_offset: st.log.log_start_offset(),
            log_append_time: if st.log.log_append_time() { now } else { -1 },
        })
    }

    /// Appends a transaction marker (a control batch with one COMMIT or ABORT record) for
    /// `producer_id` at `producer_epoch`, as the transaction coordinator writes it, and ends
    /// the producer's open transaction here. Returns the marker's offset.
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Result<i64, i16> {
        let marker = EndTxnMarker {
            control_type: if commit {
                ControlRecordType::Commit
            } else {
                ControlRecordType::Abort
            },
            coordinator_epoch,
        };
        let now = crate::broker::now_ms();
        let bytes = marker
            .to_batch(producer_id, producer_epoch, now, 0)
            .to_bytes()
            .map_err(|e| {
                tracing::error!(error = ?e, "could not encode a transaction marker");
                crate::error::code::UNKNOWN_SERVER_ERROR
            })?;
        let mut st = self.lock();
        st.log.check_online().map_err(|e| e.code())?;
        let mut batches = vec![bytes.to_vec()];
        let stored = st.log.append_batches(&mut batches, now).map_err(|e| {
            tracing::error!(topic = %self.topic, partition = self.index, error = %e, "marker append failed");
            e.code()
        })?;
        let offset = stored.first().map_or(-1, |h| h.base_offset);
        for h in &stored {
            st.producers.record(h);
            let first = st.txns.first_offset_of(producer_id);
            st.txns.on_marker(producer_id, h.base_offset, commit);
            if let (false, Some(first)) = (commit, first) {
                let entry = TxnIndexEntry {
                    producer_id,
                    first_offset: first,
                    last_offset: h.base_offset,
                    last_stable_offset: st.txns.last_stable_offset(h.base_offset + 1),
                };
                let base = st
                    .log
                    .segments()
                    .rev()
                    .find(|s| s.base_offset() <= h.base_offset)
                    .map_or(0, |s| s.base_offset());
                let dir = st.log.dir().to_path_buf();
                if let Err(e) = txn_index::append(st.log.disk(), &dir, base, &entry) {
                    // a missing index is rebuilt at the next start; a partial one must go
                    tracing::error!(topic = %self.topic, partition = self.index, error = %e, "aborted-transaction index not written");
                    let _ = txn_index::delete(&dir, base);
                }
            }
        }
        Ok(offset)
    }
}
