//! The transaction coordinator's operations.
//!
//! Owns: every [`TxnMetadata`] (one lock; operations are short and never hold it while
//! writing), the writing of COMMIT/ABORT markers to each partition of a transaction, the
//! application of staged offsets to their groups on commit, and the proactive abort of
//! expired transactions. A transaction being completed is in PrepareCommit/PrepareAbort
//! while its markers are written; requests for it meanwhile answer CONCURRENT_TRANSACTIONS.
//! Every change is recorded in `__transaction_state` (created on first use, compacted)
//! before it is acted on; at start the records are replayed: a transaction caught in
//! PrepareCommit/PrepareAbort is completed, an Ongoing one continues (and times out if its
//! producer is gone). Must not: encode responses (the handlers do).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use krafty_protocol::records::{Compression, RecordBatchBuilder};

use super::state::{GroupOffsets, TxnMetadata, TxnState};
use crate::broker::{now_ms, BrokerState};
use crate::error::code;
use crate::group::offsets::CommittedOffset;
use crate::partition::Partition;

/// The coordinator epoch written in markers (one node, never failed over).
pub const COORDINATOR_EPOCH: i32 = 0;

/// The transaction coordinator.
#[derive(Debug, Default)]
pub struct TxnCoordinator {
    txns: Mutex<HashMap<String, TxnMetadata>>,
    store: OnceLock<Arc<Partition>>,
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

    /// Records `m` in `__transaction_state`; a failed append is COORDINATOR_NOT_AVAILABLE
    /// (NOT_COORDINATOR for a failed disk), and the change must not be applied.
    fn persist(&self, m: &TxnMetadata) -> Result<(), i16> {
        let Some(p) = self.store.get() else {
            return Ok(());
        };
        let (k, v) = super::log::record(m).ok_or(code::COORDINATOR_NOT_AVAILABLE)?;
        let mut b = RecordBatchBuilder::new(Compression::None);
        b.append(now_ms(), Some(k.as_ref()), Some(v.as_ref()))
            .map_err(|_| code::COORDINATOR_NOT_AVAILABLE)?;
        let bytes = b.finish().map_err(|_| code::COORDINATOR_NOT_AVAILABLE)?;
        p.append(vec![bytes.to_vec()]).map(|_| ()).map_err(|c| {
            tracing::error!(code = c, "could not persist transaction state");
            if c == code::KAFKA_STORAGE_ERROR {
                code::NOT_COORDINATOR
            } else {
                code::COORDINATOR_NOT_AVAILABLE
            }
        })
    }

    /// Creates `__transaction_state` (one compacted partition) on first use and attaches it,
    /// as Kafka creates it on the first transactional request.
    pub fn ensure_store(&self, state: &BrokerState) -> Result<(), i16> {
        if self.store.get().is_some() {
            return Ok(());
        }
        let topic = match state.create_topic_with(
            super::log::TXN_TOPIC,
            1,
            false,
            crate::broker::offsets_topic_configs(),
        ) {
            Ok(t) => t,
            Err(code::TOPIC_ALREADY_EXISTS) => state
                .topic(super::log::TXN_TOPIC)
                .ok_or(code::COORDINATOR_NOT_AVAILABLE)?,
            Err(e) => {
                tracing::error!(error = e, "cannot create __transaction_state");
                return Err(code::COORDINATOR_NOT_AVAILABLE);
            }
        };
        let p = topic
            .partitions
            .first()
            .cloned()
            .ok_or(code::COORDINATOR_NOT_AVAILABLE)?;
        if self.store.get().is_none() {
            self.attach_store(p);
        }
        Ok(())
    }

    /// Whether the state is persisted (`__transaction_state` attached).
    pub fn has_store(&self) -> bool {
        self.store.get().is_some()
    }

    /// Replays `__transaction_state` into memory and persists every later change to it.
    /// Returns the transactions caught in PrepareCommit/PrepareAbort, to complete.
    pub fn attach_store(&self, partition: Arc<Partition>) {
        let replayed = {
            let st = partition.lock();
            let mut txns = self.lock();
            crate::log::replay::replay_keyed(&st.log, "__transaction_state", |key, value| {
                match super::log::parse(key, value) {
                    Some((id, Some(m))) => {
                        txns.insert(id, m);
                        true
                    }
                    Some((id, None)) => {
                        txns.remove(&id);
                        false
                    }
                    None => false,
                }
            })
        };
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed __transaction_state");
        }
        let _ = self.store.set(partition);
    }

    /// Completes the transactions that were being completed when the broker stopped
    /// (markers written again where they were already: a second marker ends nothing).
    pub fn complete_pending(&self, state: &BrokerState) -> usize {
        let pending: Vec<Completion> = self
            .lock()
            .values()
            .filter(|m| m.state.is_preparing())
            .map(|m| Completion {
                transactional_id: m.transactional_id.clone(),
                producer_id: m.producer_id,
                producer_epoch: m.producer_epoch,
                commit: m.state == TxnState::PrepareCommit,
                partitions: m.partitions.iter().cloned().collect(),
                offsets: Vec::new(),
            })
            .collect();
        let n = pending.len();
        for c in pending {
            tracing::info!(transactional_id = %c.transactional_id, commit = c.commit, "completing a transaction after restart");
            self.complete(state, c);
        }
        n
    }

    /// Whether `producer_id` holds an Ongoing transaction that includes `topic`-`partition`.
    pub fn holds_open(&self, producer_id: i64, topic: &str, partition: i32) -> bool {
        self.lock().values().any(|m| {
            m.producer_id == producer_id
                && m.state == TxnState::Ongoing
                && m.partitions.contains(&(topic.to_string(), partition))
        })
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
        self.ensure_store(state)?;
        let now = now_ms();
        let completion = {
            let mut txns = self.lock();
            let Some(current) = txns.get_mut(transactional_id) else {
                let pid = state.allocate_producer_id();
                let m = TxnMetadata::new(transactional_id, pid, timeout_ms, now);
                self.persist(&m)?;
                txns.insert(transactional_id.to_string(), m);
                tracing::info!(transactional_id, producer_id = pid, "new transactional id");
                return Ok((pid, 0));
            };
            let mut m = current.clone();
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
            let completion = if was_ongoing {
                tracing::info!(
                    transactional_id,
                    "fencing the previous producer: aborting its transaction"
                );
                Some(Self::prepare(&mut m, false))
            } else {
                m.state = TxnState::Empty;
                None
            };
            self.persist(&m)?;
            *current = m;
            completion
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
        // offsets first: once a marker is visible the transaction's offsets must be too
        for (group, offsets) in c.offsets {
            let e = state.groups.commit_transactional(&group, offsets);
            if e != code::NONE {
                tracing::error!(%group, error = e, "transactional offsets not stored");
            }
        }
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
            // a lost completion record only means the markers are written again at start
            if let Err(e) = self.persist(m) {
                tracing::warn!(transactional_id = %c.transactional_id, error = e, "completion not recorded");
            }
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
        let current = txns
            .get_mut(transactional_id)
            .ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
        current.check_producer(producer_id, epoch, fenced)?;
        if current.state.is_preparing() {
            return Err(code::CONCURRENT_TRANSACTIONS);
        }
        let mut m = current.clone();
        let out = f(&mut m)?;
        if !m.same_record(current) {
            self.persist(&m)?;
        }
        *current = m;
        Ok(out)
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
                    let c = Self::prepare(m, false);
                    if let Err(e) = self.persist(m) {
                        tracing::warn!(transactional_id = %m.transactional_id, error = e, "abort not recorded");
                    }
                    c
                })
                .collect()
        };
        let n = completions.len();
        for c in completions {
            self.complete(state, c);
        }
        n
    }

    /// Whether an open transaction carries an offset of `group` for `topic`-`partition`
    /// (OffsetFetch with `require_stable` answers UNSTABLE_OFFSET_COMMIT then, KIP-447).
    pub fn has_pending_offset(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.lock().values().any(|m| {
            m.pending_offsets
                .get(group)
                .is_some_and(|o| o.iter().any(|(t, p, _)| t == topic && *p == partition))
        })
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

/// Aborts, at start, the transactions left open in partitions that no replayed coordinator
/// state holds (a broker whose `__transaction_state` was lost or never written: data
/// directories from before it existed). Without this their last stable offset would never
/// move. The ABORT markers carry the producer's last epoch. Returns how many.
pub fn abort_orphans(state: &BrokerState) -> usize {
    let mut n = 0;
    for t in state.topics() {
        for p in &t.partitions {
            let open: Vec<(i64, i16)> = {
                let st = p.lock();
                st.txns
                    .ongoing()
                    .into_iter()
                    .filter(|(pid, _)| !state.txns.holds_open(*pid, &t.name, p.index))
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
