//! The transaction manager of one transactional producer: the state machine, the
//! producer id and epoch, the partitions and offsets of the open transaction, and the
//! requests to the transaction coordinator (as Java's `TransactionManager`).
//!
//! Owns: FindCoordinator (key type TRANSACTION) and the coordinator connection,
//! InitProducerId with the transactional id, AddPartitionsToTxn (v0-v3, the client path of
//! KIP-890 part 1: partitions are added before their first batch goes out — the sender asks
//! [`TransactionManager::add_pending_partitions`] and sends only added partitions),
//! AddOffsetsToTxn, TxnOffsetCommit (to the group coordinator, KIP-447 group metadata),
//! EndTxn, the retries of retriable coordinator answers until `max.block.ms`, and the
//! error state ([`TransactionError`]). Must not: touch batches (the producer flushes and
//! aborts them through the accumulator).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use krafty_protocol::generated::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use krafty_protocol::generated::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use krafty_protocol::generated::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest,
    TxnOffsetCommitRequest,
};
use krafty_protocol::wire::StrBytes;

use super::coordinator::{add_partitions_code, txn_offset_commit_code, Coordinators};
use super::error::{TransactionError, TxnErrorClass};
use super::state::TxnState;
use crate::consumer::ConsumerGroupMetadata;
use crate::error::{Error, Result};
use crate::net::Pool;
use crate::types::TopicPartition;

/// Settings the manager needs.
#[derive(Debug, Clone)]
pub(crate) struct TxnSettings {
    /// `transactional.id`.
    pub transactional_id: String,
    /// `transaction.timeout.ms`.
    pub timeout: Duration,
    /// `max.block.ms`: how long one transactional call retries.
    pub max_block: Duration,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
}

/// Mutable state, behind one lock (never held across an await).
#[derive(Debug)]
struct Inner {
    state: TxnState,
    /// Producer id and epoch from InitProducerId.
    producer: Option<(i64, i16)>,
    /// Partitions records were appended to but not yet added to the transaction.
    pending: BTreeSet<TopicPartition>,
    /// Partitions the coordinator has in the transaction.
    added: HashSet<TopicPartition>,
    /// Whether the coordinator knows of this transaction (a partition or offsets added):
    /// only then does ending it need an EndTxn.
    started: bool,
    /// Counts transactions, so an AddPartitionsToTxn answer of an ended one is ignored.
    generation: u64,
    /// The error of the AbortableError / FatalError state.
    error: Option<TransactionError>,
    /// A batch with a sequence number failed or was dropped: the broker's sequences lag
    /// ours, so the abort ends with an epoch bump (KIP-360) that restarts them at 0.
    epoch_bump_needed: bool,
}

/// The transactional side of one producer.
#[derive(Debug)]
pub(crate) struct TransactionManager {
    cfg: TxnSettings,
    inner: Mutex<Inner>,
    /// The requests to the transaction and group coordinators.
    coordinators: Coordinators,
}

impl TransactionManager {
    /// A manager in state `Uninitialized`.
    pub fn new(cfg: TxnSettings, pool: Arc<Pool>) -> Self {
        TransactionManager {
            coordinators: Coordinators::new(
                pool,
                cfg.transactional_id.clone(),
                cfg.max_block,
                cfg.retry_backoff,
            ),
            cfg,
            inner: Mutex::new(Inner {
                state: TxnState::Uninitialized,
                producer: None,
                pending: BTreeSet::new(),
                added: HashSet::new(),
                started: false,
                generation: 0,
                error: None,
                epoch_bump_needed: false,
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `transactional.id`.
    pub fn transactional_id(&self) -> &str {
        &self.cfg.transactional_id
    }

    /// The current state.
    pub fn state(&self) -> TxnState {
        self.inner().state
    }

    /// The producer id and epoch batches carry (none before `init_transactions`).
    pub fn producer(&self) -> Option<(i64, i16)> {
        self.inner().producer
    }

    /// The error of the error states.
    pub fn error(&self) -> Option<TransactionError> {
        self.inner().error.clone()
    }

    /// Moves to `to`, or fails: with the stored error in an error state, else
    /// [`Error::IllegalState`] naming the call.
    fn transition(&self, to: TxnState, call: &str) -> Result<()> {
        let mut inner = self.inner();
        if inner.state.can_move_to(to) {
            tracing::debug!(from = ?inner.state, ?to, txn = %self.cfg.transactional_id, "transaction state");
            inner.state = to;
            return Ok(());
        }
        if let Some(e) = inner.error.clone() {
            return Err(Error::Transaction(e));
        }
        Err(Error::IllegalState(format!(
            "{call} is not allowed in state {:?}",
            inner.state
        )))
    }

    /// Records a failure of the open transaction: fatal and fenced errors make the producer
    /// unusable, anything else makes the transaction abortable. Returns the error as stored.
    pub fn record_failure(&self, error: &Error, doing: &str) -> TransactionError {
        let e = TransactionError::from_error(error, doing);
        let mut inner = self.inner();
        let to = if e.is_fatal() {
            TxnState::FatalError
        } else {
            TxnState::AbortableError
        };
        if inner.state == TxnState::FatalError {
            return inner.error.clone().unwrap_or(e);
        }
        if inner.state.can_move_to(to) {
            tracing::warn!(txn = %self.cfg.transactional_id, error = %e, "transaction failed");
            inner.state = to;
            if inner.error.is_none() || to == TxnState::FatalError {
                inner.error = Some(e.clone());
            }
        }
        e
    }

    /// A batch of the transaction failed (or expired, or was dropped after it had a
    /// sequence number): the transaction is abortable (or fatal, per the error) and its
    /// abort bumps the epoch.
    pub fn record_batch_failure(&self, error: &Error, doing: &str) -> TransactionError {
        self.note_sequence_gap();
        self.record_failure(error, doing)
    }

    /// The broker's sequences may lag ours: the next abort bumps the epoch.
    pub fn note_sequence_gap(&self) {
        self.inner().epoch_bump_needed = true;
    }

    /// `init_transactions`: finds the coordinator and gets the producer id and epoch for
    /// the transactional id (fencing any older producer with the same id and completing
    /// its open transaction on the broker).
    pub async fn init(&self) -> Result<()> {
        self.transition(TxnState::Initializing, "init_transactions")?;
        let req = InitProducerIdRequest {
            transactional_id: Some(StrBytes::from(self.cfg.transactional_id.clone())),
            transaction_timeout_ms: i32::try_from(self.cfg.timeout.as_millis()).unwrap_or(i32::MAX),
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        let resp = match self
            .coordinators
            .to_txn_coordinator(&req, "InitProducerId", |r| r.error_code)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // a timeout leaves Initializing, so init_transactions may be called again
                if !matches!(e, Error::Timeout(_)) {
                    self.record_fatal(&e, "InitProducerId");
                }
                return Err(e);
            }
        };
        {
            let mut inner = self.inner();
            inner.producer = Some((resp.producer_id, resp.producer_epoch));
        }
        tracing::info!(txn = %self.cfg.transactional_id, producer_id = resp.producer_id, epoch = resp.producer_epoch, "transactions initialized");
        self.transition(TxnState::Ready, "init_transactions")
    }

    fn record_fatal(&self, error: &Error, doing: &str) {
        let mut e = TransactionError::from_error(error, doing);
        if !e.is_fatal() {
            e.class = TxnErrorClass::Fatal;
        }
        let mut inner = self.inner();
        inner.state = TxnState::FatalError;
        inner.error = Some(e);
    }

    /// `begin_transaction`: opens a transaction (nothing is sent until the first record or
    /// offsets).
    pub fn begin(&self) -> Result<()> {
        self.transition(TxnState::InTransaction, "begin_transaction")?;
        let mut inner = self.inner();
        inner.generation += 1;
        inner.pending.clear();
        inner.added.clear();
        inner.started = false;
        Ok(())
    }

    /// Called by `send` before a record is appended: the record's partition joins the
    /// transaction (AddPartitionsToTxn is sent by the sender before its first batch).
    pub fn add_partition(&self, tp: &TopicPartition) -> Result<()> {
        let mut inner = self.inner();
        if !inner.state.accepts_sends() {
            if let Some(e) = inner.error.clone() {
                return Err(Error::Transaction(e));
            }
            return Err(Error::IllegalState(format!(
                "cannot send in state {:?}: call begin_transaction first",
                inner.state
            )));
        }
        if !inner.added.contains(tp) {
            inner.pending.insert(tp.clone());
        }
        Ok(())
    }

    /// Whether batches of `tp` may be sent (the coordinator has it in the transaction).
    pub fn is_added(&self, tp: &TopicPartition) -> bool {
        self.inner().added.contains(tp)
    }

    /// Sends AddPartitionsToTxn for the partitions waiting for it (called by the sender
    /// loop). Retriable answers leave them waiting (the next loop retries); any other
    /// error puts the transaction in an error state.
    pub async fn add_pending_partitions(&self) {
        let (partitions, producer, generation) = {
            let inner = self.inner();
            if inner.pending.is_empty()
                || !matches!(inner.state, TxnState::InTransaction | TxnState::Committing)
            {
                return;
            }
            let Some(producer) = inner.producer else {
                return;
            };
            (
                inner.pending.iter().cloned().collect::<Vec<_>>(),
                producer,
                inner.generation,
            )
        };
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in &partitions {
            by_topic.entry(&tp.topic).or_default().push(tp.partition);
        }
        let req = AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: StrBytes::from(self.cfg.transactional_id.clone()),
            v3_and_below_producer_id: producer.0,
            v3_and_below_producer_epoch: producer.1,
            v3_and_below_topics: by_topic
                .into_iter()
                .map(|(t, ps)| AddPartitionsToTxnTopic {
                    name: StrBytes::from(t.to_string()),
                    partitions: ps.into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let result = self
            .coordinators
            .to_txn_coordinator(&req, "AddPartitionsToTxn", add_partitions_code)
            .await;
        let mut inner = self.inner();
        if inner.generation != generation {
            return;
        }
        match result {
            Ok(_) => {
                for tp in partitions {
                    inner.pending.remove(&tp);
                    inner.added.insert(tp);
                }
                inner.started = true;
            }
            Err(e) => {
                drop(inner);
                self.record_failure(&e, "AddPartitionsToTxn");
            }
        }
    }

    /// `send_offsets_to_transaction`: adds the group's offsets commit to the transaction
    /// (AddOffsetsToTxn to the transaction coordinator, then TxnOffsetCommit with the
    /// consumer's group metadata to the group coordinator, KIP-447).
    pub async fn send_offsets(
        &self,
        offsets: &[(TopicPartition, i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let producer = {
            let inner = self.inner();
            if !inner.state.accepts_sends() {
                if let Some(e) = inner.error.clone() {
                    return Err(Error::Transaction(e));
                }
                return Err(Error::IllegalState(format!(
                    "send_offsets_to_transaction in state {:?}: call begin_transaction first",
                    inner.state
                )));
            }
            inner
                .producer
                .ok_or_else(|| Error::IllegalState("no producer id".into()))?
        };
        let add = AddOffsetsToTxnRequest {
            transactional_id: StrBytes::from(self.cfg.transactional_id.clone()),
            producer_id: producer.0,
            producer_epoch: producer.1,
            group_id: StrBytes::from(group.group_id.clone()),
            ..Default::default()
        };
        if let Err(e) = self
            .coordinators
            .to_txn_coordinator(&add, "AddOffsetsToTxn", |r| r.error_code)
            .await
        {
            return Err(Error::Transaction(
                self.record_failure(&e, "AddOffsetsToTxn"),
            ));
        }
        self.inner().started = true;
        let mut by_topic: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, offset) in offsets {
            by_topic
                .entry(&tp.topic)
                .or_default()
                .push(TxnOffsetCommitRequestPartition {
                    partition_index: tp.partition,
                    committed_offset: *offset,
                    committed_leader_epoch: -1,
                    committed_metadata: Some(StrBytes::from_static_str("")),
                    ..Default::default()
                });
        }
        let commit = TxnOffsetCommitRequest {
            transactional_id: StrBytes::from(self.cfg.transactional_id.clone()),
            group_id: StrBytes::from(group.group_id.clone()),
            producer_id: producer.0,
            producer_epoch: producer.1,
            generation_id: group.generation_id,
            member_id: StrBytes::from(group.member_id.clone()),
            group_instance_id: group.group_instance_id.clone().map(StrBytes::from),
            topics: by_topic
                .into_iter()
                .map(|(t, partitions)| TxnOffsetCommitRequestTopic {
                    name: StrBytes::from(t.to_string()),
                    partitions,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let result = self
            .coordinators
            .to_group_coordinator(
                &group.group_id,
                &commit,
                "TxnOffsetCommit",
                txn_offset_commit_code,
            )
            .await;
        if let Err(e) = result {
            return Err(Error::Transaction(
                self.record_failure(&e, "TxnOffsetCommit"),
            ));
        }
        Ok(())
    }

    /// Moves to Committing or Aborting before the producer flushes or drops batches.
    pub fn begin_end(&self, commit: bool) -> Result<()> {
        if commit {
            self.transition(TxnState::Committing, "commit_transaction")
        } else {
            self.transition(TxnState::Aborting, "abort_transaction")
        }
    }

    /// Ends the transaction with EndTxn (commit or abort) once every batch is done, then
    /// moves to Ready. A commit in an error state fails with that error; nothing is sent
    /// when the coordinator never heard of the transaction. An abort after a failed batch
    /// bumps the epoch (InitProducerId with the current id and epoch, KIP-360) and returns
    /// `true`: the caller restarts every partition's sequence at 0.
    pub async fn end(&self, commit: bool) -> Result<bool> {
        let (producer, started) = {
            let inner = self.inner();
            let expected = if commit {
                TxnState::Committing
            } else {
                TxnState::Aborting
            };
            if inner.state != expected {
                if let Some(e) = inner.error.clone() {
                    return Err(Error::Transaction(e));
                }
                return Err(Error::IllegalState(format!(
                    "ending a transaction in state {:?}",
                    inner.state
                )));
            }
            (inner.producer, inner.started)
        };
        if started {
            let Some((id, epoch)) = producer else {
                return Err(Error::IllegalState("no producer id".into()));
            };
            let req = EndTxnRequest {
                transactional_id: StrBytes::from(self.cfg.transactional_id.clone()),
                producer_id: id,
                producer_epoch: epoch,
                committed: commit,
                ..Default::default()
            };
            let what = if commit {
                "EndTxn(commit)"
            } else {
                "EndTxn(abort)"
            };
            if let Err(e) = self
                .coordinators
                .to_txn_coordinator(&req, what, |r| r.error_code)
                .await
            {
                if matches!(e, Error::Timeout(_)) {
                    // Java keeps the state: the same call may be retried
                    return Err(e);
                }
                return Err(Error::Transaction(self.record_failure(&e, what)));
            }
        }
        let bump = !commit && self.inner().epoch_bump_needed;
        if let (true, Some((id, epoch))) = (bump, producer) {
            let req = InitProducerIdRequest {
                transactional_id: Some(StrBytes::from(self.cfg.transactional_id.clone())),
                transaction_timeout_ms: i32::try_from(self.cfg.timeout.as_millis())
                    .unwrap_or(i32::MAX),
                producer_id: id,
                producer_epoch: epoch,
                ..Default::default()
            };
            match self
                .coordinators
                .to_txn_coordinator(&req, "InitProducerId (epoch bump)", |r| r.error_code)
                .await
            {
                Ok(resp) => {
                    tracing::info!(txn = %self.cfg.transactional_id, producer_id = resp.producer_id, epoch = resp.producer_epoch, "epoch bumped after an abort");
                    let mut inner = self.inner();
                    inner.producer = Some((resp.producer_id, resp.producer_epoch));
                    inner.epoch_bump_needed = false;
                }
                Err(Error::Timeout(t)) => return Err(Error::Timeout(t)),
                Err(e) => {
                    self.record_fatal(&e, "InitProducerId (epoch bump)");
                    return Err(Error::Transaction(
                        self.error()
                            .unwrap_or_else(|| TransactionError::from_error(&e, "epoch bump")),
                    ));
                }
            }
        }
        {
            let mut inner = self.inner();
            inner.pending.clear();
            inner.added.clear();
            inner.started = false;
            inner.error = None;
        }
        self.transition(TxnState::Ready, if commit { "commit" } else { "abort" })?;
        Ok(bump)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CommonConfig;
    use crate::error::KafkaCode;

    fn manager() -> TransactionManager {
        let pool = Arc::new(Pool::new(&CommonConfig::default()));
        TransactionManager::new(
            TxnSettings {
                transactional_id: "tx".into(),
                timeout: Duration::from_secs(60),
                max_block: Duration::from_secs(1),
                retry_backoff: Duration::from_millis(10),
            },
            pool,
        )
    }

    #[test]
    fn sends_need_an_open_transaction_and_errors_stick() {
        let m = manager();
        let tp = TopicPartition::new("t", 0);
        assert!(matches!(m.add_partition(&tp), Err(Error::IllegalState(_))));
        assert!(
            matches!(m.begin(), Err(Error::IllegalState(_))),
            "begin before init"
        );
        // pretend init succeeded
        m.inner().state = TxnState::Ready;
        m.inner().producer = Some((7, 0));
        assert!(m.begin().is_ok());
        assert!(m.add_partition(&tp).is_ok());
        assert!(!m.is_added(&tp));
        let e = m.record_failure(&Error::Timeout("batch".into()), "produce");
        assert!(e.is_abortable());
        assert_eq!(m.state(), TxnState::AbortableError);
        assert!(matches!(m.add_partition(&tp), Err(Error::Transaction(ref t)) if t.is_abortable()));
        assert!(
            matches!(m.begin_end(true), Err(Error::Transaction(_))),
            "no commit after an error"
        );
        assert!(m.begin_end(false).is_ok(), "abort is allowed");
        let fenced = Error::broker(KafkaCode::ProducerFenced.code(), "Produce");
        assert!(m.record_failure(&fenced, "produce").is_fenced());
        assert_eq!(m.state(), TxnState::FatalError);
        assert!(matches!(m.begin_end(false), Err(Error::Transaction(ref t)) if t.is_fenced()));
    }

    #[tokio::test]
    async fn ending_a_transaction_the_coordinator_never_saw_sends_nothing() {
        let m = manager();
        m.inner().state = TxnState::Ready;
        m.inner().producer = Some((7, 0));
        assert!(m.begin().is_ok());
        assert!(m.begin_end(true).is_ok());
        assert!(m.end(true).await.is_ok());
        assert_eq!(m.state(), TxnState::Ready);
    }
}
