//! The sender task: drains ready batches from the accumulator into Produce requests, up to
//! `max.in.flight.requests.per.connection` requests per leader (and, with idempotence, up
//! to that many batches per partition), and handles the responses (complete, retry or fail
//! each batch).
//!
//! Owns: the idempotent producer id and epoch (InitProducerId; after a batch failed for good
//! or the broker rejected a sequence, an epoch bump — KIP-360 — so later sequences start
//! again at 0 and rejected batches are resent under the new epoch), `acks`, `retries`,
//! `retry.backoff.ms`, the task that expires batches at `delivery.timeout.ms`, `max.request.size` per
//! request, and metadata refreshes on leadership errors and disconnects. With a
//! `transactional.id` the producer id comes from the transaction manager instead, the
//! partitions of the open transaction are added (AddPartitionsToTxn) before their first
//! batch is sent, Produce carries the transactional id, and a failed batch or a fencing
//! answer puts the transaction in its error state (never an epoch bump of its own).
//! Must not: touch batch contents (the accumulator encodes them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use krafty_protocol::generated::produce_request::{PartitionProduceData, TopicProduceData};
use krafty_protocol::generated::{InitProducerIdRequest, ProduceRequest, ProduceResponse};
use krafty_protocol::wire::StrBytes;
use tokio::time::Instant;

use super::accumulator::{Accumulator, ProducerBatch};
use super::record::BatchResult;
use super::transaction::TransactionManager;
use crate::config::{Acks, ProducerConfig};
use crate::error::{Error, KafkaCode, Result};
use crate::net::{Connection, Metadata};

/// Error code, base offset, log append time and error message of one partition.
type PartitionResult = (i16, i64, i64, Option<String>);

/// State shared between the sender loop and its response handlers.
pub(crate) struct Sender {
    pub acc: Arc<Accumulator>,
    pub metadata: Arc<Metadata>,
    pub cfg: ProducerConfig,
    in_flight: Mutex<HashMap<i32, usize>>,
    producer_id: Mutex<Option<(i64, i16)>>,
    need_new_pid: AtomicBool,
    pub stop: AtomicBool,
    /// The transaction manager of a transactional producer.
    pub txn: Option<Arc<TransactionManager>>,
}

impl Sender {
    pub fn new(
        acc: Arc<Accumulator>,
        metadata: Arc<Metadata>,
        cfg: ProducerConfig,
        txn: Option<Arc<TransactionManager>>,
    ) -> Arc<Self> {
        Arc::new(Sender {
            acc,
            metadata,
            cfg,
            in_flight: Mutex::new(HashMap::new()),
            producer_id: Mutex::new(None),
            need_new_pid: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            txn,
        })
    }

    fn total_in_flight(&self) -> usize {
        self.in_flight.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    fn node_in_flight(&self, node: i32) -> usize {
        self.in_flight
            .lock()
            .map(|m| m.get(&node).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn add_in_flight(&self, node: i32, delta: isize) {
        if let Ok(mut m) = self.in_flight.lock() {
            let e = m.entry(node).or_insert(0);
            *e = e.saturating_add_signed(delta);
        }
    }

    /// The idempotent producer id, fetching one when needed. `Ok(None)` without idempotence.
    async fn producer_id(&self) -> Result<Option<(i64, i16)>> {
        if !self.cfg.enable_idempotence {
            return Ok(None);
        }
        if let Some(txn) = &self.txn {
            // init_transactions owns the id and epoch
            return Ok(txn.producer());
        }
        let current = *self.producer_id.lock().map_err(|_| Error::Closed)?;
        if let (Some(pid), false) = (current, self.need_new_pid.load(Ordering::SeqCst)) {
            return Ok(Some(pid));
        }
        if self.total_in_flight() > 0 {
            // Wait for in-flight batches of the old id before starting a new one.
            return Ok(None);
        }
        let conn = self.metadata.pool().any().await?;
        // KIP-360: with InitProducerId v3+, an existing id is kept and its epoch bumped
        // (the broker fences the old epoch); older brokers hand out a new id.
        let bump = current.filter(|_| {
            conn.version(krafty_protocol::generated::ApiKey::InitProducerId)
                .is_ok_and(|v| v >= 3)
        });
        let req = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: i32::MAX,
            producer_id: bump.map_or(-1, |(id, _)| id),
            producer_epoch: bump.map_or(-1, |(_, epoch)| epoch),
            ..Default::default()
        };
        let mut resp = conn.send(&req).await?;
        if bump.is_some() && resp.error_code != 0 {
            // the broker refused the bump (e.g. it lost the producer's state): start over
            tracing::debug!(
                code = resp.error_code,
                "epoch bump refused, asking for a new id"
            );
            let fresh = InitProducerIdRequest {
                producer_id: -1,
                producer_epoch: -1,
                ..req
            };
            resp = conn.send(&fresh).await?;
        }
        if resp.error_code != 0 {
            return Err(Error::broker(resp.error_code, "InitProducerId"));
        }
        let pid = (resp.producer_id, resp.producer_epoch);
        tracing::debug!(
            producer_id = pid.0,
            epoch = pid.1,
            bumped = bump.is_some(),
            "got producer id"
        );
        *self.producer_id.lock().map_err(|_| Error::Closed)? = Some(pid);
        self.need_new_pid.store(false, Ordering::SeqCst);
        self.acc.reset_sequences();
        Ok(Some(pid))
    }

    /// The expiry task: fails batches as their `delivery.timeout.ms` runs out, on its own
    /// timer so a sender loop waiting on a dead broker (connecting, metadata, producer id)
    /// never delays the report. A record's failure is reported at most a scheduling slack
    /// (the tokio timer's millisecond resolution plus the task's wake-up) after
    /// `delivery.timeout.ms`.
    pub async fn run_expiry(self: Arc<Self>) {
        loop {
            let now = Instant::now();
            let expired = self.acc.expire(now);
            if let (true, Some(txn)) = (expired.any, &self.txn) {
                // records of the open transaction are lost: it must not commit
                txn.record_batch_failure(
                    &Error::Timeout("a batch expired after delivery.timeout.ms".into()),
                    "produce",
                );
            } else if expired.sequenced {
                // sequences of this producer id now have a gap: start a new epoch (KIP-360)
                self.need_new_pid.store(true, Ordering::SeqCst);
                self.acc.wake.notify_one();
            }
            // a batch created after this point expires later than now + delivery.timeout.ms
            let next = expired.next.map_or(now + self.cfg.delivery_timeout, |n| {
                n.min(now + self.cfg.delivery_timeout)
            });
            tokio::time::sleep_until(next).await;
        }
    }

    /// The sender loop; returns when stopped and everything is drained.
    pub async fn run(self: Arc<Self>) {
        loop {
            if self.stop.load(Ordering::SeqCst) && self.acc.is_empty() {
                break;
            }
            if self.metadata.needs_refresh() {
                if let Err(e) = self.metadata.refresh().await {
                    tracing::debug!(error = %e, "metadata refresh failed");
                }
            }
            let pid = match self.producer_id().await {
                Ok(Some(pid)) => Some(pid),
                Ok(None) if !self.cfg.enable_idempotence => None,
                Ok(None) => {
                    self.wait(Some(Instant::now() + Duration::from_millis(50)))
                        .await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "InitProducerId failed");
                    // as Java's producer: a refused authorization fails the waiting records
                    // at once instead of retrying until delivery.timeout.ms
                    let refused = matches!(
                        e.kafka_code(),
                        Some(
                            crate::error::KafkaCode::ClusterAuthorizationFailed
                                | crate::error::KafkaCode::TransactionalIdAuthorizationFailed
                        )
                    );
                    if refused || (!e.is_retriable() && !matches!(e, Error::Broker { .. })) {
                        self.acc.abort_all(&e);
                    }
                    tokio::time::sleep(self.cfg.common.retry_backoff).await;
                    continue;
                }
            };
            if let Some(txn) = &self.txn {
                txn.add_pending_partitions().await;
                if let Some(e) = txn.error() {
                    // a transaction in an error state sends nothing more (Java aborts the
                    // undrained batches)
                    if self.acc.abort_all(&Error::Transaction(e)) {
                        txn.note_sequence_gap();
                    }
                }
            }
            let snapshot = self.metadata.snapshot();
            let mut ready = self.acc.ready(Instant::now(), |tp| {
                snapshot.leader(&tp.topic, tp.partition)
            });
            if let Some(txn) = &self.txn {
                let mut waiting = false;
                for tps in ready.by_leader.values_mut() {
                    tps.retain(|tp| {
                        let added = txn.is_added(tp);
                        waiting |= !added;
                        added
                    });
                }
                if waiting {
                    // AddPartitionsToTxn is retried on the next round
                    let soon = Instant::now() + self.cfg.common.retry_backoff;
                    ready.next_check = Some(ready.next_check.map_or(soon, |n| n.min(soon)));
                }
            }
            if ready.unknown_leader {
                self.metadata.request_update();
            }
            for (node, tps) in ready.by_leader {
                if self.node_in_flight(node) >= self.cfg.max_in_flight {
                    continue;
                }
                let conn = match self.metadata.pool().get(node).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(node, error = %e, "cannot reach leader");
                        self.metadata.request_update();
                        continue;
                    }
                };
                let mut batches = Vec::new();
                let mut size = 0usize;
                for tp in tps {
                    let room = self.cfg.max_request_size.saturating_sub(size);
                    match self.acc.take(&tp, pid, room, batches.is_empty()) {
                        Some(Ok(b)) => {
                            size += b.encoded.as_ref().map_or(0, |e| e.len()) + tp.topic.len() + 16;
                            batches.push(b);
                        }
                        Some(Err(e)) => tracing::warn!(error = %e, "dropping batch"),
                        None => {}
                    }
                }
                if !batches.is_empty() {
                    self.send(node, conn, batches);
                }
            }
            let next = ready
                .next_check
                .unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
            self.wait(Some(next)).await;
        }
    }

    async fn wait(&self, until: Option<Instant>) {
        let until = until.unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
        tokio::select! {
            _ = self.acc.wake.notified() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }

    fn send(self: &Arc<Self>, node: i32, conn: Connection, mut batches: Vec<ProducerBatch>) {
        let mut by_topic: HashMap<std::sync::Arc<str>, Vec<PartitionProduceData>> = HashMap::new();
        for b in &mut batches {
            b.attempts += 1;
            by_topic
                .entry(b.tp.topic.clone())
                .or_default()
                .push(PartitionProduceData {
                    index: b.tp.partition,
                    records: b.encoded.clone(),
                    ..Default::default()
                });
        }
        let req = ProduceRequest {
            transactional_id: self
                .txn
                .as_ref()
                .map(|t| StrBytes::from(t.transactional_id().to_string())),
            acks: self.cfg.acks.wire(),
            timeout_ms: i32::try_from(self.cfg.common.request_timeout.as_millis())
                .unwrap_or(i32::MAX),
            topic_data: by_topic
                .into_iter()
                .map(|(name, partition_data)| TopicProduceData {
                    name: StrBytes::from(name.to_string()),
                    partition_data,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let version = match conn.version(krafty_protocol::generated::ApiKey::Produce) {
            Ok(v) => v,
            Err(e) => {
                for b in batches {
                    self.acc.complete(b, Err(e.clone()));
                }
                return;
            }
        };
        if self.cfg.acks == Acks::None {
            // Done once written to the socket (Java's rule for acks=0), not when queued: a
            // close right after must not drop requests still waiting for the writer.
            match conn.send_oneway(version, &req) {
                Ok(written) => {
                    let this = self.clone();
                    let addr = conn.addr().to_string();
                    tokio::spawn(async move {
                        let outcome = written.await;
                        for b in batches {
                            match outcome {
                                Ok(()) => this.acc.complete(
                                    b,
                                    Ok(BatchResult {
                                        base_offset: -1,
                                        log_append_time: -1,
                                    }),
                                ),
                                Err(_) => this.retry_or_fail(
                                    b,
                                    Error::Disconnected(format!(
                                        "{addr}: closed before the request was written"
                                    )),
                                ),
                            }
                        }
                    });
                }
                Err(e) => {
                    for b in batches {
                        self.retry_or_fail(b, e.clone());
                    }
                }
            }
            return;
        }
        let pending = match conn.enqueue_raw(version, &req) {
            Ok(p) => p,
            Err(e) => {
                self.metadata.request_update();
                for b in batches {
                    self.retry_or_fail(b, e.clone());
                }
                return;
            }
        };
        self.add_in_flight(node, 1);
        let this = self.clone();
        tokio::spawn(async move {
            let result = pending.wait().await;
            this.add_in_flight(node, -1);
            match result {
                Ok(resp) => this.handle_response(resp, batches),
                Err(e) => {
                    tracing::debug!(node, error = %e, "produce request failed");
                    this.metadata.request_update();
                    for b in batches {
                        this.retry_or_fail(b, e.clone());
                    }
                }
            }
            this.acc.wake.notify_one();
        });
    }

    fn handle_response(&self, resp: ProduceResponse, batches: Vec<ProducerBatch>) {
        let mut results: HashMap<(String, i32), PartitionResult> = HashMap::new();
        for t in resp.responses {
            for p in t.partition_responses {
                results.insert(
                    (t.name.to_string(), p.index),
                    (
                        p.error_code,
                        p.base_offset,
                        p.log_append_time_ms,
                        p.error_message.map(|m| m.to_string()),
                    ),
                );
            }
        }
        for b in batches {
            let key = (b.tp.topic.to_string(), b.tp.partition);
            let Some((code, base_offset, append_time, message)) = results.remove(&key) else {
                let e = Error::InvalidResponse(format!("no produce result for {}", b.tp));
                self.fail(b, e);
                continue;
            };
            tracing::trace!(tp = %b.tp, code, base_offset, "produce result");
            match KafkaCode::from_code(code) {
                KafkaCode::None | KafkaCode::DuplicateSequenceNumber => self.acc.complete(
                    b,
                    Ok(BatchResult {
                        base_offset,
                        log_append_time: append_time,
                    }),
                ),
                KafkaCode::OutOfOrderSequenceNumber
                    if b.base_sequence
                        .is_some_and(|seq| self.acc.has_earlier_unresolved(&b.tp, seq))
                        && Instant::now() < b.created + self.cfg.delivery_timeout =>
                {
                    // An earlier batch of this partition is being retried: this one was
                    // rejected only because of the gap; resend it after that one.
                    tracing::debug!(tp = %b.tp, "out of order behind a retried batch: resending");
                    self.acc.requeue(b, self.cfg.common.retry_backoff);
                }
                KafkaCode::OutOfOrderSequenceNumber | KafkaCode::UnknownProducerId
                    if self.txn.is_none()
                        && b.base_sequence.is_some()
                        && Instant::now() < b.created + self.cfg.delivery_timeout =>
                {
                    // The broker did not write this batch and its sequence state for us is
                    // off (a lost earlier batch, a broker that lost producer state): bump the
                    // epoch, which restarts every sequence at 0, and resend (KIP-360).
                    tracing::info!(tp = %b.tp, code, "sequence rejected: bumping the producer epoch and resending");
                    self.need_new_pid.store(true, Ordering::SeqCst);
                    self.acc.requeue(b, self.cfg.common.retry_backoff);
                }
                kc => {
                    if matches!(
                        kc,
                        KafkaCode::NotLeaderOrFollower
                            | KafkaCode::UnknownTopicOrPartition
                            | KafkaCode::LeaderNotAvailable
                            | KafkaCode::FencedLeaderEpoch
                    ) {
                        self.metadata.request_update();
                    }
                    let context = format!(
                        "produce to {}{}",
                        b.tp,
                        message.map(|m| format!(": {m}")).unwrap_or_default()
                    );
                    self.retry_or_fail(b, Error::Broker { code: kc, context });
                }
            }
        }
    }

    fn retry_or_fail(&self, batch: ProducerBatch, error: Error) {
        let expired = Instant::now() >= batch.created + self.cfg.delivery_timeout;
        if error.is_retriable() && batch.attempts <= self.cfg.retries && !expired {
            tracing::debug!(tp = %batch.tp, attempt = batch.attempts, error = %error, "retrying batch");
            self.acc.requeue(batch, self.cfg.common.retry_backoff);
        } else if expired && error.is_retriable() {
            let e = Error::Timeout(format!(
                "{} not delivered within delivery.timeout.ms: {error}",
                batch.tp
            ));
            self.fail(batch, e);
        } else {
            self.fail(batch, error);
        }
    }

    fn fail(&self, batch: ProducerBatch, error: Error) {
        if let Some(txn) = &self.txn {
            // the transaction cannot commit without this batch (fenced: nothing can)
            let e = txn.record_batch_failure(&error, &format!("produce to {}", batch.tp));
            tracing::warn!(tp = %batch.tp, error = %error, class = ?e.class, "transactional batch failed");
            self.acc.complete(batch, Err(error));
            return;
        }
        if batch.base_sequence.is_some() {
            // The broker's sequence for this partition may now lag ours: start a new id.
            self.need_new_pid.store(true, Ordering::SeqCst);
        }
        tracing::warn!(tp = %batch.tp, error = %error, "batch failed");
        self.acc.complete(batch, Err(error));
    }
}
