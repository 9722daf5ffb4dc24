//! The record accumulator: per-partition queues of record batches waiting to be sent.
//!
//! Owns: appending records into the open batch of their partition (a
//! [`RecordBatchBuilder`], so records are encoded once, straight into the batch buffer),
//! `batch.size` and `linger.ms` (when a batch is ready), `buffer.memory` with backpressure
//! (appends wait up to `max.block.ms` for memory, freed when batches complete),
//! `delivery.timeout.ms` for batches queued and in flight (`Accumulator::expire`, run on
//! time by the sender's expiry task), and per-partition ordering: at most one
//! batch per partition is in flight, and a batch to retry goes back to the front of its
//! queue with its sequence number, so retries neither reorder nor duplicate. Idempotent
//! sequence numbers are assigned when a batch is first drained. Must not: do I/O.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use krafty_protocol::records::{self, Compression, RecordBatchBuilder};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

use super::record::{BatchOutcome, BatchResult, DeliveryFuture};
use crate::error::{Error, Result};
use crate::types::TopicPartition;

/// Bytes of a v2 batch header.
const BATCH_OVERHEAD: usize = 61;

/// An upper bound of the bytes a record adds to a batch (the varints at their widest).
pub(crate) fn record_size_upper_bound(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(String, Option<Bytes>)],
) -> usize {
    let headers: usize = headers
        .iter()
        .map(|(k, v)| 10 + k.len() + v.as_ref().map_or(0, |v| v.len()))
        .sum();
    // length, attributes, timestamp delta, offset delta, key len, value len, header count
    5 + 1 + 10 + 5 + 5 + 5 + 5 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len) + headers
}

/// Settings the accumulator needs.
#[derive(Debug, Clone)]
pub struct AccumulatorConfig {
    /// `batch.size`.
    pub batch_size: usize,
    /// `linger.ms`.
    pub linger: Duration,
    /// `buffer.memory`.
    pub buffer_memory: usize,
    /// `max.request.size`.
    pub max_request_size: usize,
    /// `compression.type`.
    pub compression: Compression,
    /// `delivery.timeout.ms`.
    pub delivery_timeout: Duration,
    /// Batches of one partition that may be in flight at once: up to 5 with idempotence
    /// (the broker orders them by sequence and rejects gaps), else 1 so retries cannot
    /// reorder records.
    pub max_in_flight_per_partition: usize,
    /// Batches are flagged transactional (`transactional.id` is set).
    pub transactional: bool,
}

/// One batch of one partition.
#[derive(Debug)]
pub(crate) struct ProducerBatch {
    pub tp: TopicPartition,
    builder: Option<RecordBatchBuilder>,
    /// The encoded batch, set when first drained and resent unchanged on retries.
    pub encoded: Option<Bytes>,
    pub records: i32,
    pub created: Instant,
    completion: Arc<watch::Sender<BatchOutcome>>,
    memory: usize,
    /// Attempts made so far.
    pub attempts: u32,
    /// Base sequence, once assigned (idempotent producer).
    pub base_sequence: Option<i32>,
    /// The producer id and epoch the encoded batch carries (idempotent producer).
    pub producer: Option<(i64, i16)>,
    /// Earliest time of the next attempt (retry backoff).
    pub retry_at: Option<Instant>,
}

impl ProducerBatch {
    fn size(&self) -> usize {
        self.builder.as_ref().map_or_else(
            || self.encoded.as_ref().map_or(0, Bytes::len),
            |b| b.estimated_size(),
        )
    }
}

/// A batch on the wire: its completion and base sequence (idempotent producer).
#[derive(Debug)]
struct InFlight {
    completion: watch::Receiver<BatchOutcome>,
    base_sequence: Option<i32>,
    /// The batch's completion, so [`Accumulator::expire`] can report it failed while the
    /// request is still out.
    reporter: Arc<watch::Sender<BatchOutcome>>,
    /// When `delivery.timeout.ms` runs out for this batch.
    expires: Instant,
    records: i32,
}

#[derive(Debug, Default)]
struct PartitionQueue {
    batches: VecDeque<ProducerBatch>,
    /// Batches in flight, oldest first.
    in_flight: VecDeque<InFlight>,
    next_sequence: i32,
}

impl PartitionQueue {
    /// Whether the front batch may go out now: there is room in flight, and a retried
    /// batch (already carrying a sequence) is only resent once nothing older is in
    /// flight, so resends happen in sequence order.
    fn can_send(&self, limit: usize) -> bool {
        if self.in_flight.len() >= limit.max(1) {
            return false;
        }
        match self.batches.front() {
            Some(b) if b.encoded.is_some() => self.in_flight.is_empty(),
            _ => true,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    parts: HashMap<TopicPartition, PartitionQueue>,
    flushing: usize,
    closing: bool,
}

/// What [`Accumulator::ready`] found.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    /// Partitions with a sendable batch, by leader.
    pub by_leader: HashMap<i32, Vec<TopicPartition>>,
    /// When to look again (the earliest linger or backoff expiry).
    pub next_check: Option<Instant>,
    /// Some ready partition has no known leader.
    pub unknown_leader: bool,
}

/// What [`Accumulator::expire`] found.
#[derive(Debug, Default)]
pub(crate) struct Expired {
    /// Some expired batch carried a sequence number (idempotent producer).
    pub sequenced: bool,
    /// Some batch expired (a transaction it belonged to can no longer commit).
    pub any: bool,
    /// When the next batch reaches `delivery.timeout.ms` (none: nothing is pending).
    pub next: Option<Instant>,
}

/// The per-partition batch queues of one producer.
#[derive(Debug)]
pub struct Accumulator {
    cfg: AccumulatorConfig,
    state: Mutex<State>,
    memory: Semaphore,
    /// Woken when a batch fills up, a new batch starts, or on flush/close.
    pub(crate) wake: Notify,
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new(cfg: AccumulatorConfig) -> Self {
        Accumulator {
            memory: Semaphore::new(cfg.buffer_memory.min(Semaphore::MAX_PERMITS)),
            cfg,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes of `buffer.memory` currently free.
    pub fn available_memory(&self) -> usize {
        self.memory.available_permits()
    }

    /// Appends a record to its partition's open batch (starting a new one when it is full),
    /// waiting until `deadline` for buffer memory.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn append(
        &self,
        tp: &TopicPartition,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(String, Option<Bytes>)],
        deadline: Instant,
    ) -> Result<DeliveryFuture> {
        let size = record_size_upper_bound(key, value, headers);
        let limit = self.cfg.max_request_size.min(self.cfg.buffer_memory);
        if size + BATCH_OVERHEAD > limit {
            return Err(Error::RecordTooLarge {
                size: size + BATCH_OVERHEAD,
                limit,
            });
        }
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        match self.memory.try_acquire_many(permits) {
            Ok(p) => p.forget(),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(Error::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.wake.notify_one();
                match tokio::time::timeout_at(deadline, self.memory.acquire_many(permits)).await {
                    Ok(Ok(p)) => p.forget(),
                    Ok(Err(_)) => return Err(Error::Closed),
                    Err(_) => {
                        return Err(Error::Timeout(format!(
                            "waiting for {size} bytes of buffer.memory (max.block.ms)"
                        )))
                    }
                }
            }
        }
        let hdrs: Vec<(&str, Option<&[u8]>)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let mut state = self.state();
        if state.closing {
            drop(state);
            self.memory.add_permits(size);
            return Err(Error::Closed);
        }
        let queue = state.parts.entry(tp.clone()).or_default();
        let open = queue.batches.back_mut().filter(|b| {
            b.builder.as_ref().is_some_and(|builder| {
                builder.has_room_for(timestamp, key, value, &hdrs, self.cfg.batch_size)
                    && builder.estimated_size() + size <= self.cfg.max_request_size
            })
        });
        let mut wake = false;
        let batch = match open {
            Some(b) => b,
            None => {
                wake = !queue.batches.is_empty();
                let (tx, _) = watch::channel(None);
                let capacity = self.cfg.batch_size.max(size + BATCH_OVERHEAD);
                queue.batches.push_back(ProducerBatch {
                    tp: tp.clone(),
                    builder: Some(RecordBatchBuilder::with_capacity(
                        self.cfg.compression,
                        capacity,
                    )),
                    encoded: None,
                    records: 0,
                    created: Instant::now(),
                    completion: Arc::new(tx),
                    memory: 0,
                    attempts: 0,
                    base_sequence: None,
                    producer: None,
                    retry_at: None,
                });
                wake |= queue.batches.len() == 1;
                match queue.batches.back_mut() {
                    Some(b) => b,
                    None => return Err(Error::IllegalState("batch vanished".into())),
                }
            }
        };
        let Some(builder) = batch.builder.as_mut() else {
            return Err(Error::IllegalState("appending to a drained batch".into()));
        };
        let offset_delta = match builder.append_with_headers(timestamp, key, value, &hdrs) {
            Ok(d) => d,
            Err(e) => {
                drop(state);
                self.memory.add_permits(size);
                return Err(e.into());
            }
        };
        batch.records += 1;
        batch.memory += size;
        if builder.estimated_size() >= self.cfg.batch_size {
            wake = true;
        }
        let fut = DeliveryFuture {
            rx: batch.completion.subscribe(),
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset_delta,
            timestamp,
        };
        drop(state);
        if wake {
            self.wake.notify_one();
        }
        Ok(fut)
    }

    /// Partitions whose first batch may be sent now, grouped by leader (from `leader_of`),
    /// and when to look again. Batches queued past `delivery.timeout.ms` fail here.
    pub(crate) fn ready(
        &self,
        now: Instant,
        leader_of: impl Fn(&TopicPartition) -> Option<i32>,
    ) -> Ready {
        let mut ready = Ready::default();
        {
            let mut state = self.state();
            let drain_all = state.flushing > 0 || state.closing;
            let limit = self.cfg.max_in_flight_per_partition;
            for (tp, q) in state.parts.iter_mut() {
                if !q.can_send(limit) {
                    continue;
                }
                let Some(front) = q.batches.front() else {
                    continue;
                };
                let mut at = front.created + self.cfg.linger;
                if let Some(r) = front.retry_at {
                    at = r;
                }
                let full = q.batches.len() > 1 || front.size() >= self.cfg.batch_size;
                let sendable = match front.retry_at {
                    Some(r) => now >= r,
                    None => drain_all || full || now >= at,
                };
                if !sendable {
                    ready.next_check = Some(ready.next_check.map_or(at, |n: Instant| n.min(at)));
                    continue;
                }
                match leader_of(tp) {
                    Some(leader) => ready.by_leader.entry(leader).or_default().push(tp.clone()),
                    None => ready.unknown_leader = true,
                }
            }
        }
        ready
    }

    /// Fails every batch whose `delivery.timeout.ms` has run out at `now`, as Java's
    /// `RecordAccumulator.expiredBatches` and `Sender.getExpiredInflightBatches` do:
    /// queued batches (new or waiting for a retry) are removed and completed with
    /// [`Error::Timeout`]; batches in flight are reported failed at once, and their late
    /// answer is then ignored (the record may still have been written, as in Java).
    /// Returns whether an expired batch carried a sequence (the idempotent producer then
    /// needs a new epoch) and when the next batch expires.
    pub(crate) fn expire(&self, now: Instant) -> Expired {
        let timeout = self.cfg.delivery_timeout;
        let mut out = Expired::default();
        let mut queued = Vec::new();
        {
            let mut state = self.state();
            for q in state.parts.values_mut() {
                let mut kept = VecDeque::with_capacity(q.batches.len());
                for b in q.batches.drain(..) {
                    if now >= b.created + timeout {
                        queued.push(b);
                    } else {
                        out.next =
                            Some(out.next.map_or(b.created + timeout, |n: Instant| {
                                n.min(b.created + timeout)
                            }));
                        kept.push_back(b);
                    }
                }
                q.batches = kept;
                for f in &q.in_flight {
                    if f.completion.borrow().is_some() {
                        continue;
                    }
                    if now >= f.expires {
                        let why = format!(
                            "{} record(s) expired after delivery.timeout.ms while in flight",
                            f.records
                        );
                        f.reporter.send_if_modified(|v| {
                            let unset = v.is_none();
                            if unset {
                                *v = Some(Err(Error::Timeout(why)));
                            }
                            unset
                        });
                        out.sequenced |= f.base_sequence.is_some();
                        out.any = true;
                    } else {
                        out.next = Some(out.next.map_or(f.expires, |n| n.min(f.expires)));
                    }
                }
            }
        }
        for b in queued {
            out.sequenced |= b.base_sequence.is_some();
            out.any = true;
            let why = format!(
                "{} record(s) for {} expired after delivery.timeout.ms in the accumulator",
                b.records, b.tp
            );
            tracing::warn!(tp = %b.tp, "batch expired (delivery.timeout.ms)");
            self.complete(b, Err(Error::Timeout(why)));
        }
        out
    }

    /// Takes the first batch of `tp` for sending (the partition is then muted until
    /// [`requeue`](Self::requeue) or [`complete`](Self::complete)), encoding it once and
    /// assigning its sequence when `producer` (id, epoch) is given. Returns `None` if the
    /// batch would make the request exceed `room` bytes (unless `room_is_empty`).
    pub(crate) fn take(
        &self,
        tp: &TopicPartition,
        producer: Option<(i64, i16)>,
        room: usize,
        room_is_empty: bool,
    ) -> Option<Result<ProducerBatch>> {
        let mut state = self.state();
        let q = state.parts.get_mut(tp)?;
        if !q.can_send(self.cfg.max_in_flight_per_partition) {
            return None;
        }
        let front = q.batches.front()?;
        if !room_is_empty && front.size() > room {
            return None;
        }
        let mut batch = q.batches.pop_front()?;
        if let (Some((pid, epoch)), Some(encoded)) = (producer, &batch.encoded) {
            if batch.producer != producer {
                // KIP-360: a retry after an epoch bump is re-stamped with the new epoch and
                // the partition's next sequence (the encoded bytes are copied once here).
                let seq = q.next_sequence;
                let mut bytes = encoded.to_vec();
                match records::header::set_producer(&mut bytes, pid, epoch, seq) {
                    Ok(()) => {
                        q.next_sequence = next_sequence(seq, batch.records);
                        batch.base_sequence = Some(seq);
                        batch.producer = producer;
                        batch.encoded = Some(Bytes::from(bytes));
                    }
                    Err(e) => {
                        drop(state);
                        self.complete(batch, Err(e.into()));
                        return Some(Err(Error::IllegalState("batch re-stamp failed".into())));
                    }
                }
            }
        }
        if let Some(builder) = batch.builder.take() {
            let builder = match producer {
                Some((pid, epoch)) => {
                    let seq = q.next_sequence;
                    q.next_sequence = next_sequence(seq, batch.records);
                    batch.base_sequence = Some(seq);
                    batch.producer = producer;
                    builder
                        .producer(pid, epoch, seq)
                        .transactional(self.cfg.transactional)
                }
                None => builder,
            };
            match builder.finish() {
                Ok(bytes) => batch.encoded = Some(bytes),
                Err(e) => {
                    drop(state);
                    self.complete(batch, Err(e.into()));
                    return Some(Err(Error::IllegalState("batch encoding failed".into())));
                }
            }
        }
        q.in_flight.push_back(InFlight {
            completion: batch.completion.subscribe(),
            base_sequence: batch.base_sequence,
            reporter: batch.completion.clone(),
            expires: batch.created + self.cfg.delivery_timeout,
            records: batch.records,
        });
        Some(Ok(batch))
    }

    /// Puts a batch back at the front of its queue to retry after `backoff`. Batches
    /// already sent keep their order: a requeued batch goes after requeued batches with a
    /// lower sequence (several can come back when several were in flight).
    pub(crate) fn requeue(&self, mut batch: ProducerBatch, backoff: Duration) {
        batch.retry_at = Some(Instant::now() + backoff);
        let mut state = self.state();
        let q = state.parts.entry(batch.tp.clone()).or_default();
        let rx = batch.completion.subscribe();
        q.in_flight.retain(|f| !f.completion.same_channel(&rx));
        let at = q
            .batches
            .iter()
            .take_while(|b| {
                b.encoded.is_some()
                    && matches!(
                        (b.base_sequence, batch.base_sequence),
                        (Some(theirs), Some(ours)) if theirs < ours
                    )
            })
            .count();
        q.batches.insert(at, batch);
        drop(state);
        self.wake.notify_one();
    }

    /// Whether a batch of `tp` sent before the one with `base_sequence` is still
    /// unresolved (in flight or waiting to be resent): then an OUT_OF_ORDER_SEQUENCE_NUMBER
    /// for it only means the earlier one is missing, and a plain resend fixes it.
    pub(crate) fn has_earlier_unresolved(&self, tp: &TopicPartition, base_sequence: i32) -> bool {
        let state = self.state();
        let Some(q) = state.parts.get(tp) else {
            return false;
        };
        q.in_flight
            .iter()
            .filter_map(|f| f.base_sequence)
            .chain(q.batches.iter().filter_map(|b| b.base_sequence))
            .any(|s| s < base_sequence)
    }

    /// Completes a batch: wakes its delivery futures and frees its memory.
    pub(crate) fn complete(
        &self,
        batch: ProducerBatch,
        result: std::result::Result<BatchResult, Error>,
    ) {
        {
            let mut state = self.state();
            if let Some(q) = state.parts.get_mut(&batch.tp) {
                let rx = batch.completion.subscribe();
                q.in_flight.retain(|f| !f.completion.same_channel(&rx));
            }
        }
        // a batch already reported expired keeps that outcome
        batch.completion.send_if_modified(|v| {
            let unset = v.is_none();
            if unset {
                *v = Some(result);
            }
            unset
        });
        self.memory.add_permits(batch.memory);
        self.wake.notify_one();
    }

    /// Resets every partition's next sequence to 0 (after a new producer id).
    pub(crate) fn reset_sequences(&self) {
        let mut state = self.state();
        for q in state.parts.values_mut() {
            q.next_sequence = 0;
        }
    }

    /// Whether nothing is queued or in flight.
    pub fn is_empty(&self) -> bool {
        let state = self.state();
        state
            .parts
            .values()
            .all(|q| q.batches.is_empty() && q.in_flight.is_empty())
    }

    /// Completion receivers of every queued and in-flight batch (what a flush waits for),
    /// and marks a flush in progress (every batch is ready regardless of linger).
    pub(crate) fn begin_flush(&self) -> Vec<watch::Receiver<BatchOutcome>> {
        let mut state = self.state();
        state.flushing += 1;
        let mut out = Vec::new();
        for q in state.parts.values() {
            out.extend(q.in_flight.iter().map(|f| f.completion.clone()));
            out.extend(q.batches.iter().map(|b| b.completion.subscribe()));
        }
        drop(state);
        self.wake.notify_one();
        out
    }

    /// Ends a flush started by [`begin_flush`](Self::begin_flush).
    pub(crate) fn end_flush(&self) {
        let mut state = self.state();
        state.flushing = state.flushing.saturating_sub(1);
    }

    /// Refuses further appends; queued batches are all ready.
    pub(crate) fn close(&self) {
        self.state().closing = true;
        self.wake.notify_one();
    }

    /// Fails every queued batch (when the sender stops for good, or a transaction is
    /// aborted). Returns whether one of them already carried a sequence number (a retry):
    /// the broker's sequence for its partition then lags ours.
    pub(crate) fn abort_all(&self, error: &Error) -> bool {
        let batches: Vec<ProducerBatch> = {
            let mut state = self.state();
            state
                .parts
                .values_mut()
                .flat_map(|q| q.batches.drain(..))
                .collect()
        };
        let sequenced = batches.iter().any(|b| b.base_sequence.is_some());
        for b in batches {
            self.complete(b, Err(error.clone()));
        }
        sequenced
    }
}

/// The sequence after a batch of `records` starting at `seq` (wrapping to 0 past i32::MAX).
pub(crate) fn next_sequence(seq: i32, records: i32) -> i32 {
    let next = i64::from(seq) + i64::from(records);
    if next > i64::from(i32::MAX) {
        (next - i64::from(i32::MAX) - 1) as i32
    } else {
        next as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krafty_protocol::records::{DecodeOptions, RawRecordBatch};
    use std::future::IntoFuture;

    fn cfg(batch_size: usize, linger_ms: u64, memory: usize) -> AccumulatorConfig {
        AccumulatorConfig {
            batch_size,
            linger: Duration::from_millis(linger_ms),
            buffer_memory: memory,
            max_request_size: 1 << 20,
            compression: Compression::None,
            delivery_timeout: Duration::from_secs(120),
            max_in_flight_per_partition: 1,
            transactional: false,
        }
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn batches_fill_to_batch_size() {
        let acc = Accumulator::new(cfg(1024, 1000, 1 << 20));
        let tp = TopicPartition::new("t", 0);
        let value = [7u8; 100];
        for _ in 0..30 {
            acc.append(&tp, 1, Some(b"k"), Some(&value), &[], far())
                .await
                .map(drop)
                .ok();
        }
        let ready = acc.ready(Instant::now(), |_| Some(1));
        assert_eq!(
            ready.by_leader.get(&1).map(Vec::len),
            Some(1),
            "full batch is ready"
        );
        let batch = acc.take(&tp, Some((7, 0)), 1 << 20, true);
        let Some(Ok(batch)) = batch else {
            panic!("no batch")
        };
        let raw = RawRecordBatch::new(batch.encoded.clone().unwrap_or_default());
        let Ok(raw) = raw else { panic!("bad batch") };
        assert!(raw.as_bytes().len() <= 1024);
        assert_eq!(raw.header().producer_id, 7);
        assert_eq!(raw.header().base_sequence, 0);
        let n = raw.header().records_count;
        assert!(n > 5 && n < 11, "{n}");
        assert_eq!(
            raw.records(&DecodeOptions::default())
                .map(|r| r.count())
                .ok(),
            Some(n as usize)
        );
        // muted while in flight
        assert!(acc.take(&tp, Some((7, 0)), 1 << 20, true).is_none());
        acc.complete(
            batch,
            Ok(BatchResult {
                base_offset: 0,
                log_append_time: -1,
            }),
        );
        let Some(Ok(second)) = acc.take(&tp, Some((7, 0)), 1 << 20, true) else {
            panic!()
        };
        assert_eq!(second.base_sequence, Some(n));
    }

    #[tokio::test]
    async fn expire_fails_queued_and_in_flight_batches_at_the_delivery_timeout() {
        let mut c = cfg(16384, 0, 1 << 20);
        c.delivery_timeout = Duration::from_millis(3000);
        let acc = Accumulator::new(c);
        let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
        let Ok(queued) = acc.append(&a, 1, None, Some(b"q"), &[], far()).await else {
            panic!("append")
        };
        let Ok(sent) = acc.append(&b, 1, None, Some(b"s"), &[], far()).await else {
            panic!("append")
        };
        let Some(Ok(in_flight)) = acc.take(&b, Some((7, 0)), 1 << 20, true) else {
            panic!("take")
        };
        let start = Instant::now();
        let early = acc.expire(start + Duration::from_millis(2900));
        assert!(!early.sequenced);
        assert!(early
            .next
            .is_some_and(|n| n <= start + Duration::from_millis(3000)));
        let late = acc.expire(start + Duration::from_millis(3001));
        assert!(late.sequenced, "the in-flight batch carried a sequence");
        assert_eq!(late.next, None, "nothing left to expire");
        assert!(matches!(queued.await, Err(Error::Timeout(_))));
        // the late answer of the expired in-flight batch does not change its outcome
        acc.complete(
            in_flight,
            Ok(BatchResult {
                base_offset: 0,
                log_append_time: -1,
            }),
        );
        assert!(matches!(sent.await, Err(Error::Timeout(_))));
        assert!(acc.is_empty());
    }

    #[tokio::test]
    async fn linger_makes_a_partial_batch_ready() {
        let acc = Accumulator::new(cfg(16384, 20, 1 << 20));
        let tp = TopicPartition::new("t", 0);
        let fut = acc.append(&tp, 1, None, Some(b"v"), &[], far()).await;
        assert!(fut.is_ok());
        let now = Instant::now();
        let ready = acc.ready(now, |_| Some(1));
        assert!(ready.by_leader.is_empty());
        assert!(ready.next_check.is_some_and(|t| t > now));
        let later = now + Duration::from_millis(25);
        assert_eq!(acc.ready(later, |_| Some(1)).by_leader.len(), 1);
        assert!(acc.ready(later, |_| None).unknown_leader);
    }

    #[tokio::test]
    async fn buffer_memory_backpressure_and_release() {
        let acc = Accumulator::new(cfg(16384, 0, 2048));
        let tp = TopicPartition::new("t", 0);
        let value = [1u8; 900];
        let a = acc.append(&tp, 1, None, Some(&value), &[], far()).await;
        assert!(a.is_ok());
        let short = Instant::now() + Duration::from_millis(50);
        let b = acc.append(&tp, 1, None, Some(&value), &[], short).await;
        assert!(b.is_ok());
        let c = acc.append(&tp, 1, None, Some(&value), &[], short).await;
        assert!(matches!(c, Err(Error::Timeout(_))), "{c:?}");
        let Some(Ok(batch)) = acc.take(&tp, None, 1 << 20, true) else {
            panic!()
        };
        acc.complete(
            batch,
            Ok(BatchResult {
                base_offset: 10,
                log_append_time: -1,
            }),
        );
        assert_eq!(acc.available_memory(), 2048);
        let meta = a.ok().map(|f| f.into_future());
        let Some(meta) = meta else { panic!() };
        assert_eq!(meta.await.ok().map(|m| m.offset), Some(10));
        let meta = b.ok().map(|f| f.into_future());
        let Some(meta) = meta else { panic!() };
        assert_eq!(meta.await.ok().map(|m| m.offset), Some(11));
        let too_big = acc
            .append(&tp, 1, None, Some(&[0u8; 4096]), &[], short)
            .await;
        assert!(matches!(too_big, Err(Error::RecordTooLarge { .. })));
    }

    #[tokio::test]
    async fn several_in_flight_per_partition_and_ordered_resends() {
        let mut c = cfg(100, 0, 1 << 20);
        c.max_in_flight_per_partition = 3;
        let acc = Accumulator::new(c);
        let tp = TopicPartition::new("t", 0);
        for _ in 0..5 {
            let _ = acc.append(&tp, 1, None, Some(&[0u8; 80]), &[], far()).await;
        }
        let pid = Some((1, 0));
        let mut sent = Vec::new();
        while let Some(Ok(b)) = acc.take(&tp, pid, 1 << 20, true) {
            sent.push(b);
        }
        let seqs: Vec<Option<i32>> = sent.iter().map(|b| b.base_sequence).collect();
        assert_eq!(seqs, [Some(0), Some(1), Some(2)], "three in flight at once");
        assert!(!acc.has_earlier_unresolved(&tp, 0));
        assert!(acc.has_earlier_unresolved(&tp, 2));
        // the first two fail and come back (the second one first): resent in sequence
        // order, one at a time, only once nothing older is in flight
        let third = sent.pop();
        let second = sent.pop();
        let first = sent.pop();
        let (Some(first), Some(second), Some(third)) = (first, second, third) else {
            panic!()
        };
        acc.requeue(second, Duration::ZERO);
        acc.requeue(first, Duration::ZERO);
        assert!(
            acc.take(&tp, pid, 1 << 20, true).is_none(),
            "no resend while batch 2 is in flight"
        );
        acc.complete(
            third,
            Ok(BatchResult {
                base_offset: 2,
                log_append_time: -1,
            }),
        );
        let Some(Ok(again)) = acc.take(&tp, pid, 1 << 20, true) else {
            panic!()
        };
        assert_eq!(again.base_sequence, Some(0));
        assert!(
            acc.take(&tp, pid, 1 << 20, true).is_none(),
            "the next resend waits for this one"
        );
        acc.complete(
            again,
            Ok(BatchResult {
                base_offset: 0,
                log_append_time: -1,
            }),
        );
        let Some(Ok(again)) = acc.take(&tp, pid, 1 << 20, true) else {
            panic!()
        };
        assert_eq!(again.base_sequence, Some(1));
        // fresh batches continue after the resends
        let Some(Ok(fresh)) = acc.take(&tp, pid, 1 << 20, true) else {
            panic!()
        };
        assert_eq!(fresh.base_sequence, Some(3));
    }

    #[tokio::test]
    async fn requeue_keeps_order_and_sequence() {
        let acc = Accumulator::new(cfg(100, 0, 1 << 20));
        let tp = TopicPartition::new("t", 0);
        for _ in 0..3 {
            let _ = acc.append(&tp, 1, None, Some(&[0u8; 80]), &[], far()).await;
        }
        let Some(Ok(first)) = acc.take(&tp, Some((1, 0)), 1 << 20, true) else {
            panic!()
        };
        assert_eq!(first.base_sequence, Some(0));
        let bytes = first.encoded.clone();
        acc.requeue(first, Duration::ZERO);
        let Some(Ok(again)) = acc.take(&tp, Some((1, 0)), 1 << 20, true) else {
            panic!()
        };
        assert_eq!(again.base_sequence, Some(0));
        assert_eq!(again.encoded, bytes);
        acc.complete(
            again,
            Ok(BatchResult {
                base_offset: 0,
                log_append_time: -1,
            }),
        );
        let Some(Ok(second)) = acc.take(&tp, Some((1, 0)), 1 << 20, true) else {
            panic!()
        };
        assert_eq!(second.base_sequence, Some(1));
    }

    #[test]
    fn sequence_wraps() {
        assert_eq!(next_sequence(5, 3), 8);
        assert_eq!(next_sequence(i32::MAX, 1), 0);
        assert_eq!(next_sequence(i32::MAX - 1, 3), 1);
    }
}
