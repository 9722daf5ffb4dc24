//! The transaction coordinator's operations.
//!
//! Owns: every [`TxnMetadata`] (one lock; operations are short and never hold it while
//! writing), the writing of COMMIT/ABORT markers to each partition of a transaction, the
//! application of staged offsets to their groups on commit, and the proactive abort of
//! expired transactions. A transaction being completed is in PrepareCommit/PrepareAbort
//! while its markers are written; requests for it meanwhile answer CONCURRENT_TRANSACTIONS.
//! Must not: encode responses (the handlers do).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::state::{GroupOffsets, TxnMetadata, TxnState};
use crate::broker::{now_ms, BrokerState};
use crate::error::code;
use crate::group::offsets::CommittedOffset;

/// The coordinator epoch written in markers (one node, never failed over).
pub const COORDINATOR_EPOCH: i32 = 0;

/// The transaction coordinator.
#[derive(Debug, Default)]
pub struct TxnCoordinator {
    txns: Mutex<HashMap<String, TxnMetadata>>,
}

/// A transaction taken into a Prepare state, to be completed outside the lock.
struct Completion {
    transactional_id: String,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    partitions: Vec<(String, i32)>,
    offsets: Vec<(String, GroupOffsets)>,
}

impl TxnCoordinator {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, TxnMetadata>> {
        self.txns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// InitProducerId with a transactional id: a new producer id at epoch 0 for a new id,
    /// else the next epoch of the id's producer (aborting its open transaction, whose
    /// markers carry the new epoch so the previous producer is fenced everywhere). A
    /// request with a producer id and epoch (KIP-360, v3+) must present the current or the
    /// previous epoch. Errors: INVALID_TRANSACTION_TIMEOUT, CONCURRENT_TRANSACTIONS, the
    /// fencing error `fenced`.
    pub fn init_producer_id(
        &self,
        state: &BrokerState,
        transactional_id: &str,
        timeout_ms: i32,
        presented: Option<(i64, i16)>,
        fenced: i16,
    ) -> Result<(i64, i16), i16> {
        if timeout_ms <= 0 || timeout_ms > state.config.transaction_max_timeout_ms {
            return Err(code::INVALID_TRANSACTION_TIMEOUT);
        }
        let now = now_ms();
        let completion = {
            let mut txns = self.lock();
            let Some(m) = txns.get_mut(transactional_id) else {
                let pid = state.allocate_producer_id();
                txns.insert(
                    transactional_id.to_string(),
                    TxnMetadata::new(transactional_id, pid, timeout_ms, now),
                );
                tracing::info!(transactional_id, producer_id = pid, "new transactional id");
                return Ok((pid, 0));
            };
            if let Some((pid, epoch)) = presented {
                let known = pid == m.producer_id
                    && (epoch == m.producer_epoch || epoch == m.last_producer_epoch);
                if !known {
                    return Err(fenced);
                }
            }
            if m.state.is_preparing() {
                return Err(code::CONCURRENT_TRANSACTIONS);
            }
            m.timeout_ms = timeout_ms;
            let was_ongoing = m.state == TxnState::Ongoing;
            if !m.bump_epoch() {
                m.producer_id = state.allocate_producer_id();
                m.producer_epoch = 0;
                m.last_producer_epoch = -1;
            }
            m.last_update_ms = now;
            if was_ongoing {
                tracing::info!(
                    transactional_id,
                    "fencing the previous producer: aborting its transaction"
                );
                Some(Self::prepare(m, false))
            } else {
                m.state = TxnState::Empty;
                None
            }
        };
        if let Some(c) = completion {
            self.complete(state, c);
        }
        let txns = self.lock();
        let m = txns
            .get(transactional_id)
            .ok_or(code::COORDINATOR_NOT_AVAILABLE)?;
        Ok((m.producer_id, m.producer_epoch))
    }

    /// Moves `m` to PrepareCommit/PrepareAbort and takes what completing needs.
    fn prepare(m: &mut TxnMetadata, commit: bool) -> Completion {
        m.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        let offsets = std::mem::take(&mut m.pending_offsets);
        Completion {
            transactional_id: m.transactional_id.clone(),
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            commit,
            partitions: m.partitions.iter().cloned().collect(),
            offsets: if commit {
                offsets.into_iter().collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Writes the markers and (on commit) the offsets, then moves to CompleteCommit /
    /// CompleteAbort. A partition deleted meanwhile is skipped; a failed marker write is
    /// logged (the partition is offline and its log refuses everything anyway).
    fn complete(&self, state: &BrokerState, c: Completion) {
        for (topic, index) in &c.partitions {
            let Some(p) = state.partition(topic, *index) else {
                tracing::warn!(%topic, index, "partition of a transaction is gone; no marker");
                continue;
            };
            if let Err(e) =
                p.append_marker(c.producer_id, c.producer_epoch, c.commit, COORDINATOR_EPOCH)
            {
                tracing::error!(%topic, index, error = e, "transaction marker not written");
            }
        }
        for (group, offsets) in c.offsets {
            let e = state.groups.commit_transactional(&group, offsets);
            if e != code::NONE {
                tracing::error!(%group, error = e, "transactional offsets not stored");
            }
        }
        if !c.partitions.is_empty() {
            state.data_arrived.notify_waiters();
        }
        let mut txns = self.lock();
        if let Some(m) = txns.get_mut(&c.transactional_id) {
            m.state = if c.commit {
                TxnState::CompleteCommit
            } else {
                TxnState::CompleteAbort
            };
            m.partitions.clear();
            m.groups.clear();
            m.start_ms = -1;
            m.last_update_ms = now_ms();
        }
        tracing::debug!(transactional_id = %c.transactional_id, commit = c.commit, "transaction completed");
    }

    /// Runs `f` on the metadata of `transactional_id` after the producer checks; unknown ids
    /// answer INVALID_PRODUCER_ID_MAPPING, a completing transaction CONCURRENT_TRANSACTIONS.
    fn with_producer<T>(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        fenced: i16,
        f: impl FnOnce(&mut TxnMetadata) -> Result<T, i16>,
    ) -> Result<T, i16> {
        let mut txns = self.lock();
        let m = txns
            .get_mut(transactional_id)
            .ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
        m.check_producer(producer_id, epoch, fenced)?;
        if m.state.is_preparing() {
            return Err(code::CONCURRENT_TRANSACTIONS);
        }
        f(m)
    }

    /// AddPartitionsToTxn: adds (already validated) partitions to the transaction, starting
    /// it if needed.
    pub fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        fenced: i16,
    ) -> Result<(), i16> {
        self.with_producer(transactional_id, producer_id, epoch, fenced, |m| {
            m.begin(now_ms());
            m.partitions.extend(partitions.iter().cloned());
            Ok(())
        })
    }

    /// AddPartitionsToTxn v4+ `verify_only`: whether each partition is in the ongoing
    /// transaction (NONE) or not (INVALID_TXN_STATE).
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        fenced: i16,
    ) -> Result<Vec<i16>, i16> {
        self.with_producer(transactional_id, producer_id, epoch, fenced, |m| {
            Ok(partitions
                .iter()
                .map(|p| {
                    if m.state == TxnState::Ongoing && m.partitions.contains(p) {
                        code::NONE
                    } else {
                        code::INVALID_TXN_STATE
                    }
                })
                .collect())
        })
    }

    /// AddOffsetsToTxn: the transaction will carry offsets of `group`.
    pub fn add_offsets(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
        fenced: i16,
    ) -> Result<(), i16> {
        self.with_producer(transactional_id, producer_id, epoch, fenced, |m| {
            m.begin(now_ms());
            m.groups.insert(group.to_string());
            Ok(())
        })
    }

    /// TxnOffsetCommit: stages offsets of `group` in the ongoing transaction (after
    /// AddOffsetsToTxn for that group, else INVALID_TXN_STATE); they reach the group when
    /// the transaction commits and are dropped when it aborts.
    pub fn stage_offsets(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
        offsets: Vec<(String, i32, CommittedOffset)>,
        fenced: i16,
    ) -> Result<(), i16> {
        self.with_producer(transactional_id, producer_id, epoch, fenced, |m| {
            if m.state != TxnState::Ongoing || !m.groups.contains(group) {
                return Err(code::INVALID_TXN_STATE);
            }
            let staged = m.pending_offsets.entry(group.to_string()).or_default();
            for (t, p, o) in offsets {
                staged.retain(|(st, sp, _)| !(st == &t && *sp == p));
                staged.push((t, p, o));
            }
            m.last_update_ms = now_ms();
            Ok(())
        })
    }

    /// EndTxn: commits or aborts the ongoing transaction (markers to every partition, the
    /// staged offsets to their groups on commit). A retried EndTxn of the transaction that
    /// just completed the same way succeeds; anything else out of order is
    /// INVALID_TXN_STATE.
    pub fn end_txn(
        &self,
        state: &BrokerState,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        fenced: i16,
    ) -> Result<(), i16> {
        let completion = self.with_producer(transactional_id, producer_id, epoch, fenced, |m| {
            match (m.state, commit) {
                (TxnState::Ongoing, _) => Ok(Some(Self::prepare(m, commit))),
                (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(None),
                _ => Err(code::INVALID_TXN_STATE),
            }
        })?;
        if let Some(c) = completion {
            self.complete(state, c);
        }
        Ok(())
    }

    /// Runs `append` for a transactional Produce to `topic`-`partition` once checked: the
    /// batch's producer must hold the transactional id at this epoch (else
    /// INVALID_PRODUCER_EPOCH, or INVALID_PRODUCER_ID_MAPPING for another id) and the
    /// partition must have been added to its ongoing transaction (else INVALID_TXN_STATE),
    /// so a fenced or finished producer's late writes are never stored. The append runs
    /// under the coordinator's lock, so no transaction completes between the check and the
    /// write (its markers always follow its data).
    pub fn append_verified<T>(
        &self,
        transactional_id: &str,
        producers: &[(i64, i16)],
        topic: &str,
        partition: i32,
        append: impl FnOnce() -> Result<T, i16>,
    ) -> Result<T, i16> {
        let txns = self.lock();
        let m = txns
            .get(transactional_id)
            .ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
        for &(producer_id, epoch) in producers {
            m.check_producer(producer_id, epoch, code::INVALID_PRODUCER_EPOCH)?;
        }
        if m.state != TxnState::Ongoing || !m.partitions.contains(&(topic.to_string(), partition)) {
            return Err(code::INVALID_TXN_STATE);
        }
        append()
    }

    /// Aborts every transaction open longer than its timeout, bumping the epoch first so
    /// the producer that let it expire is fenced (as Kafka does). Returns how many.
    pub fn abort_expired(&self, state: &BrokerState, now: i64) -> usize {
        let completions: Vec<Completion> = {
            let mut txns = self.lock();
            txns.values_mut()
                .filter(|m| m.expired(now))
                .map(|m| {
                    if !m.bump_epoch() {
                        // no epoch left to fence with: abort at the current one
                        tracing::warn!(transactional_id = %m.transactional_id, "epoch exhausted");
                    }
                    tracing::info!(transactional_id = %m.transactional_id, timeout_ms = m.timeout_ms, "aborting expired transaction");
                    Self::prepare(m, false)
                })
                .collect()
        };
        let n = completions.len();
        for c in completions {
            self.complete(state, c);
        }
        n
    }

    /// A copy of one transactional id's metadata.
    pub fn describe(&self, transactional_id: &str) -> Option<TxnMetadata> {
        self.lock().get(transactional_id).cloned()
    }

    /// Copies of every transactional id's metadata.
    pub fn all(&self) -> Vec<TxnMetadata> {
        let mut v: Vec<TxnMetadata> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        v
    }
}

/// Aborts, at start, the transactions left open in partitions that no coordinator state
/// knows (transaction state is kept in memory: after a restart every open transaction is
/// an orphan whose producer must re-initialize). Without this their last stable offset
/// would never move. The ABORT markers carry the producer's last epoch. Returns how many.
pub fn abort_orphans(state: &BrokerState) -> usize {
    let mut n = 0;
    for t in state.topics() {
        for p in &t.partitions {
            let open: Vec<(i64, i16)> = {
                let st = p.lock();
                st.txns
                    .ongoing()
                    .into_iter()
                    .map(|(pid, _)| (pid, st.producers.epoch(pid).unwrap_or(0)))
                    .collect()
            };
            for (pid, epoch) in open {
                tracing::info!(topic = %t.name, partition = p.index, producer_id = pid, "aborting a transaction left open at restart");
                match p.append_marker(pid, epoch, false, COORDINATOR_EPOCH) {
                    Ok(_) => n += 1,
                    Err(e) => {
                        tracing::error!(topic = %t.name, partition = p.index, error = e, "orphan abort marker not written")
                    }
                }
            }
        }
    }
    n
}

/// The periodic task aborting expired transactions every
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
pub async fn expirer(state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let every = Duration::from_millis(state.config.transaction_abort_interval_ms.max(1));
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || s.txns.abort_expired(&s, now_ms())).await;
            }
        }
    }
}
