//! The fetcher: a background task that keeps every assigned partition's buffer filled.
//!
//! Owns: per-partition fetch state ([`PartitionState`]: position, next fetch offset,
//! buffered records, an epoch that `seek` bumps so stale responses are dropped), offset
//! resets (ListOffsets earliest/latest per `auto.offset.reset`), and Fetch requests (one in
//! flight per leader; a partition is fetched again as soon as the application drained its
//! buffer, so the next records arrive while the application works). Decoding (and
//! decompression) happens here, off the application's path. Must not: hand records to the
//! application (the consumer does).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use krafty_protocol::generated::fetch_request::{FetchPartition, FetchTopic};
use krafty_protocol::generated::{FetchRequest, FetchResponse};
use krafty_protocol::records::DecodeOptions;
use krafty_protocol::wire::StrBytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::record::{decode_records, AbortedFilter, ConsumerRecord};
use crate::config::{ConsumerConfig, IsolationLevel, OffsetReset};
use crate::error::{Error, KafkaCode, Result};
use crate::net::{list_offsets, Metadata};
use crate::types::TopicPartition;

pub use crate::net::list_offsets::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};

/// Fetch state of one assigned partition.
#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    /// Next offset the application gets (None: to be reset).
    pub position: Option<i64>,
    /// Next offset to fetch.
    pub fetch_offset: Option<i64>,
    /// Records fetched and not yet returned.
    pub buffered: VecDeque<ConsumerRecord>,
    /// Bumped by seek/reset; responses for an older epoch are dropped.
    pub epoch: u64,
    /// A fetch or reset request for this partition is outstanding.
    pub in_flight: bool,
    /// Reset strategy to apply when `position` is None (None: `auto.offset.reset`).
    pub pending_reset: Option<OffsetReset>,
    /// High watermark of the last fetch.
    pub high_watermark: i64,
    /// An error to surface on the next poll.
    pub error: Option<Error>,
    /// Earliest time of the next fetch (backoff after errors).
    pub backoff_until: Option<Instant>,
    /// Paused by the application: not fetched, buffered records held back.
    pub paused: bool,
}

/// State shared by the consumer and its fetcher task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub parts: BTreeMap<TopicPartition, PartitionState>,
    /// Nodes with a fetch in flight.
    pub busy_nodes: HashSet<i32>,
    /// A refused TLS/SASL authentication, surfaced by the next poll (as Java's consumer
    /// throws `AuthenticationException` from `poll`).
    pub auth_error: Option<Error>,
}

/// The fetcher of one consumer.
#[derive(Debug)]
pub(crate) struct Fetcher {
    pub cfg: ConsumerConfig,
    pub metadata: Arc<Metadata>,
    pub shared: Mutex<Shared>,
    /// Woken when the fetcher should look again (assignment, seek, drained buffer).
    pub wake_fetcher: Notify,
    /// Woken when records or errors arrived.
    pub data_ready: Notify,
    pub stop: AtomicBool,
}

impl Fetcher {
    pub fn new(cfg: ConsumerConfig, metadata: Arc<Metadata>) -> Arc<Fetcher> {
        Arc::new(Fetcher {
            cfg,
            metadata,
            shared: Mutex::new(Shared::default()),
            wake_fetcher: Notify::new(),
            data_ready: Notify::new(),
            stop: AtomicBool::new(false),
        })
    }

    /// Keeps an authentication refusal for the next poll and wakes it.
    fn note_auth_error(&self, e: &Error) {
        if matches!(e, Error::Authentication(_)) {
            self.lock().auth_error = Some(e.clone());
            self.data_ready.notify_one();
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn decode_options(&self) -> DecodeOptions {
        DecodeOptions::default().with_verify_crc(self.cfg.check_crcs)
    }

    fn isolation(&self) -> i8 {
        match self.cfg.isolation_level {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }

    /// The background loop.
    pub async fn run(self: Arc<Self>) {
        while !self.stop.load(Ordering::SeqCst) {
            if self.metadata.needs_refresh() {
                if let Err(e) = self.metadata.refresh().await {
                    tracing::debug!(error = %e, "consumer metadata refresh failed");
                    self.note_auth_error(&e);
                }
            }
            self.start_resets();
            self.start_fetches();
            tokio::select! {
                _ = self.wake_fetcher.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Partitions ready for `kind`, grouped by leader; marks them in flight.
    fn collect(
        &self,
        want_reset: bool,
    ) -> HashMap<i32, Vec<(TopicPartition, i64, u64, OffsetReset)>> {
        let snap = self.metadata.snapshot();
        let now = Instant::now();
        let mut shared = self.lock();
        let mut by_node: HashMap<i32, Vec<(TopicPartition, i64, u64, OffsetReset)>> =
            HashMap::new();
        let busy = shared.busy_nodes.clone();
        let mut unknown = false;
        let mut newly_busy = Vec::new();
        for (tp, st) in shared.parts.iter_mut() {
            if st.in_flight
                || st.error.is_some()
                || (st.paused && !want_reset)
                || st.backoff_until.is_some_and(|b| now < b)
            {
                continue;
            }
            let reset = st.pending_reset.unwrap_or(self.cfg.auto_offset_reset);
            let candidate = match (want_reset, st.position) {
                (true, None) => {
                    if reset == OffsetReset::None {
                        st.error = Some(Error::NoOffsetForPartition(tp.to_string()));
                        self.data_ready.notify_one();
                        continue;
                    }
                    Some(0)
                }
                (false, Some(_)) if st.buffered.is_empty() => st.fetch_offset,
                _ => None,
            };
            let Some(offset) = candidate else { continue };
            let Some(leader) = snap.leader(&tp.topic, tp.partition) else {
                unknown = true;
                continue;
            };
            if !want_reset && busy.contains(&leader) {
                continue;
            }
            st.in_flight = true;
            if !want_reset {
                newly_busy.push(leader);
            }
            by_node
                .entry(leader)
                .or_default()
                .push((tp.clone(), offset, st.epoch, reset));
        }
        shared.busy_nodes.extend(newly_busy);
        drop(shared);
        if unknown {
            self.metadata.add_topics(
                self.lock()
                    .parts
                    .keys()
                    .map(|tp| &*tp.topic)
                    .collect::<Vec<_>>(),
            );
            self.metadata.request_update();
        }
        by_node
    }

    fn start_resets(self: &Arc<Self>) {
        for (node, parts) in self.collect(true) {
            let this = self.clone();
            tokio::spawn(async move {
                let result = this.list_offsets(node, &parts).await;
                if let Err(e) = &result {
                    this.note_auth_error(e);
                }
                let mut shared = this.lock();
                for (tp, _, epoch, _) in &parts {
                    let Some(st) = shared.parts.get_mut(tp) else {
                        continue;
                    };
                    st.in_flight = false;
                    if st.epoch != *epoch {
                        continue;
                    }
                    match result.as_ref().map(|m| m.get(tp).cloned()) {
                        Ok(Some(Ok(offset))) => {
                            tracing::debug!(%tp, offset, "reset offset");
                            st.position = Some(offset);
                            st.fetch_offset = Some(offset);
                            st.pending_reset = None;
                        }
                        Ok(Some(Err(e))) if !e.is_retriable() => st.error = Some(e),
                        _ => {
                            st.backoff_until = Some(Instant::now() + this.cfg.common.retry_backoff)
                        }
                    }
                }
                drop(shared);
                this.data_ready.notify_one();
                this.wake_fetcher.notify_one();
            });
        }
    }

    async fn list_offsets(
        &self,
        node: i32,
        parts: &[(TopicPartition, i64, u64, OffsetReset)],
    ) -> Result<HashMap<TopicPartition, Result<i64>>> {
        let wanted: Vec<(TopicPartition, i64)> = parts
            .iter()
            .map(|(tp, _, _, reset)| {
                let timestamp = match reset {
                    OffsetReset::Earliest => EARLIEST_TIMESTAMP,
                    _ => LATEST_TIMESTAMP,
                };
                (tp.clone(), timestamp)
            })
            .collect();
        let found = self.list_offsets_at(node, &wanted).await?;
        Ok(found
            .into_iter()
            .map(|(tp, r)| (tp, r.map(|(offset, _)| offset)))
            .collect())
    }

    /// ListOffsets at `node` (the leader of every partition given) for `(partition,
    /// timestamp)` pairs: -2 earliest, -1 latest, else the first offset whose timestamp is
    /// at least the one given. Per partition: `(offset, timestamp)`, offset -1 when no
    /// record is that recent.
    pub async fn list_offsets_at(
        &self,
        node: i32,
        parts: &[(TopicPartition, i64)],
    ) -> Result<HashMap<TopicPartition, Result<(i64, i64)>>> {
        let conn = self.metadata.pool().get(node).await?;
        let timeout_ms =
            i32::try_from(self.cfg.common.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let req = list_offsets::request(parts, self.isolation(), timeout_ms);
        let resp = conn.send(&req).await?;
        let mut out = HashMap::new();
        for (tp, r) in list_offsets::results(resp) {
            let r = r.map_err(|code| {
                if matches!(
                    KafkaCode::from_code(code),
                    KafkaCode::NotLeaderOrFollower | KafkaCode::UnknownTopicOrPartition
                ) {
                    self.metadata.request_update();
                }
                Error::broker(code, format!("ListOffsets {tp}"))
            });
            out.insert(tp, r);
        }
        Ok(out)
    }

    fn start_fetches(self: &Arc<Self>) {
        for (node, parts) in self.collect(false) {
            let this = self.clone();
            tokio::spawn(async move {
                let result = this.fetch(node, &parts).await;
                let mut got_data = false;
                {
                    let mut shared = this.lock();
                    shared.busy_nodes.remove(&node);
                    match result {
                        Ok(resp) => got_data = this.apply(&mut shared, &parts, resp),
                        Err(e) => {
                            tracing::debug!(node, error = %e, "fetch failed");
                            if matches!(e, Error::Authentication(_)) {
                                shared.auth_error = Some(e.clone());
                                got_data = true;
                            }
                            this.metadata.request_update();
                            let until = Instant::now() + this.cfg.common.retry_backoff;
                            for (tp, ..) in &parts {
                                if let Some(st) = shared.parts.get_mut(tp) {
                                    st.in_flight = false;
                                    st.backoff_until = Some(until);
                                }
                            }
                        }
                    }
                }
                if got_data {
                    this.data_ready.notify_one();
                }
                this.wake_fetcher.notify_one();
            });
        }
    }

    async fn fetch(
        &self,
        node: i32,
        parts: &[(TopicPartition, i64, u64, OffsetReset)],
    ) -> Result<FetchResponse> {
        let conn = self.metadata.pool().get(node).await?;
        let mut topics: BTreeMap<Arc<str>, Vec<FetchPartition>> = BTreeMap::new();
        let max_bytes = i32::try_from(self.cfg.max_partition_fetch_bytes).unwrap_or(i32::MAX);
        for (tp, offset, _, _) in parts {
            topics
                .entry(tp.topic.clone())
                .or_default()
                .push(FetchPartition {
                    partition: tp.partition,
                    current_leader_epoch: -1,
                    fetch_offset: *offset,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: max_bytes,
                    ..Default::default()
                });
        }
        let req = FetchRequest {
            replica_id: -1,
            max_wait_ms: i32::try_from(self.cfg.fetch_max_wait.as_millis()).unwrap_or(i32::MAX),
            min_bytes: i32::try_from(self.cfg.fetch_min_bytes).unwrap_or(i32::MAX),
            max_bytes: i32::try_from(self.cfg.fetch_max_bytes).unwrap_or(i32::MAX),
            isolation_level: self.isolation(),
            session_id: 0,
            session_epoch: -1,
            topics: topics
                .into_iter()
                .map(|(name, partitions)| FetchTopic {
                    topic: StrBytes::from(name.to_string()),
                    partitions,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        conn.send(&req).await
    }

    /// Applies a fetch response; returns whether records or errors became available.
    fn apply(
        &self,
        shared: &mut Shared,
        parts: &[(TopicPartition, i64, u64, OffsetReset)],
        resp: FetchResponse,
    ) -> bool {
        type PartitionData = (i16, i64, Option<Bytes>, Vec<(i64, i64)>);
        let mut data: HashMap<(String, i32), PartitionData> = HashMap::new();
        if resp.error_code != 0 {
            tracing::debug!(code = resp.error_code, "fetch response error");
        }
        for t in resp.responses {
            for p in t.partitions {
                let aborted = p
                    .aborted_transactions
                    .iter()
                    .flatten()
                    .map(|a| (a.producer_id, a.first_offset))
                    .collect();
                data.insert(
                    (t.topic.to_string(), p.partition_index),
                    (p.error_code, p.high_watermark, p.records, aborted),
                );
            }
        }
        let opts = self.decode_options();
        let mut notify = false;
        for (tp, offset, epoch, _) in parts {
            let Some(st) = shared.parts.get_mut(tp) else {
                continue;
            };
            st.in_flight = false;
            if st.epoch != *epoch || st.fetch_offset != Some(*offset) {
                continue;
            }
            let Some((code, hw, records, aborted)) =
                data.remove(&(tp.topic.to_string(), tp.partition))
            else {
                continue;
            };
            let code = if code == 0 && resp.error_code != 0 {
                resp.error_code
            } else {
                code
            };
            tracing::trace!(%tp, offset, code, hw, bytes = records.as_ref().map_or(0, Bytes::len), "fetched");
            match KafkaCode::from_code(code) {
                KafkaCode::None => {
                    st.high_watermark = hw;
                    let Some(records) = records.filter(|r| !r.is_empty()) else {
                        continue;
                    };
                    let mut out = Vec::new();
                    let mut filter = (self.cfg.isolation_level == IsolationLevel::ReadCommitted)
                        .then(|| AbortedFilter::new(aborted));
                    match decode_records(
                        &tp.topic,
                        tp.partition,
                        records,
                        *offset,
                        &opts,
                        filter.as_mut(),
                        &mut out,
                    ) {
                        Ok(next) => {
                            if let Some(next) = next {
                                st.fetch_offset = Some(next);
                                if out.is_empty() && st.buffered.is_empty() {
                                    // only markers or aborted records: the position
                                    // moves past them (Java's consumer does too)
                                    st.position = st.position.map(|p| p.max(next));
                                }
                            }
                            if !out.is_empty() {
                                notify = true;
                            }
                            st.buffered.extend(out);
                        }
                        Err(e) => {
                            st.error = Some(e);
                            notify = true;
                        }
                    }
                }
                KafkaCode::OffsetOutOfRange => {
                    if self.cfg.auto_offset_reset == OffsetReset::None {
                        st.error = Some(Error::OffsetOutOfRange(tp.to_string()));
                        notify = true;
                    } else {
                        tracing::info!(%tp, offset, "offset out of range, resetting");
                        st.position = None;
                        st.fetch_offset = None;
                        st.epoch += 1;
                    }
                }
                kc if kc.is_retriable() => {
                    self.metadata.request_update();
                    st.backoff_until = Some(Instant::now() + self.cfg.common.retry_backoff);
                }
                kc => {
                    st.error = Some(Error::Broker {
                        code: kc,
                        context: format!("fetch {tp}"),
                    });
                    notify = true;
                }
            }
        }
        notify
    }
}
