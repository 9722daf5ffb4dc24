//! The consumer: manual assignment or group subscription, background prefetch, seek,
//! position and commits.
//!
//! Owns: [`Consumer`], the application-facing side of the fetcher and the group
//! coordinator: `assign` sets the partitions (or `subscribe` lets the group assign them),
//! `poll` hands out up to `max.poll.records` buffered records (round-robin over partitions)
//! and advances positions, `seek`/`position` move and report them, `commit_sync` /
//! `commit_async` / auto-commit store positions in the group. Must not: decode records or
//! speak the group protocol itself (`fetcher` and `group` do).

mod fetcher;
pub mod group;
mod group_metadata;
mod membership;
mod rebalance;
mod record;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::fetcher::{Fetcher, PartitionState};
use self::group::coordinator::Coordinator;
pub use self::group_metadata::ConsumerGroupMetadata;
pub use self::rebalance::RebalanceListener;
pub use self::record::{decode_fetched_partition, ConsumerRecord};
use crate::config::{ConsumerConfig, OffsetReset};
use crate::error::{Error, KafkaCode, Result};
use crate::net::{Metadata, Pool};
pub use crate::types::TopicPartition;

/// An offset found by [`Consumer::offsets_for_times`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// The first offset whose timestamp is at least the one asked for.
    pub offset: i64,
    /// That record's timestamp (-1 when the broker did not say).
    pub timestamp: i64,
}

/// A Kafka consumer: manual assignment or group subscription.
pub struct Consumer {
    fetcher: Arc<Fetcher>,
    task: Mutex<Option<JoinHandle<()>>>,
    cursor: Mutex<usize>,
    group: Option<Arc<Coordinator>>,
    subscription: Mutex<Vec<String>>,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
    last_commit: Mutex<Instant>,
    /// When the application last called `poll` (for `max.poll.interval.ms`).
    last_poll: Arc<Mutex<Instant>>,
    group_lock: tokio::sync::Mutex<()>,
    listener: Mutex<Option<Arc<dyn RebalanceListener>>>,
    /// A pattern subscription and when its topics were last matched.
    pattern: Mutex<Option<(regex::Regex, Option<Instant>)>>,
    /// The group step (commit before revoking, join) carried across polls.
    pending: Mutex<Option<membership::Pending>>,
    /// `subscribe(&[])` was called: revoke and leave on the next poll.
    unsubscribe_pending: AtomicBool,
    /// The auto-commit in flight.
    auto_commit: Mutex<Option<JoinHandle<()>>>,
}

/// How long [`Consumer::close`] waits for the group (Java's default close timeout).
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group", &self.group)
            .field("assignment", &self.assignment())
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// Starts a consumer (its fetcher task runs on the current tokio runtime).
    pub fn new(cfg: ConsumerConfig) -> Result<Consumer> {
        let pool = Arc::new(Pool::new(&cfg.common));
        pool.check()?;
        let metadata = Arc::new(Metadata::new(pool, &cfg.common, false));
        let group = cfg
            .group_id
            .clone()
            .map(|g| Coordinator::new(g, cfg.clone(), metadata.clone()));
        let fetcher = Fetcher::new(cfg, metadata);
        let task = tokio::spawn(fetcher.clone().run());
        Ok(Consumer {
            fetcher,
            task: Mutex::new(Some(task)),
            cursor: Mutex::new(0),
            group,
            subscription: Mutex::new(Vec::new()),
            heartbeat: Mutex::new(None),
            last_commit: Mutex::new(Instant::now()),
            last_poll: Arc::new(Mutex::new(Instant::now())),
            group_lock: tokio::sync::Mutex::new(()),
            listener: Mutex::new(None),
            pattern: Mutex::new(None),
            pending: Mutex::new(None),
            unsubscribe_pending: AtomicBool::new(false),
            auto_commit: Mutex::new(None),
        })
    }

    /// Subscribes to `topics` through the consumer group (`group.id` required); the group
    /// assigns partitions over the next [`poll`](Self::poll)s. An empty list unsubscribes,
    /// as Java's `subscribe(emptyList)`: fetching stops at once, and the revoke callback
    /// and LeaveGroup run on the next `poll` (use [`unsubscribe`](Self::unsubscribe) to
    /// wait for them).
    pub fn subscribe(&self, topics: &[&str]) -> Result<()> {
        let Some(group) = &self.group else {
            return Err(Error::IllegalState("subscribe needs group.id".into()));
        };
        if topics.is_empty() {
            self.unsubscribe_later();
            return Ok(());
        }
        let mut sub: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        sub.sort();
        sub.dedup();
        self.metadata().add_topics(sub.iter().map(String::as_str));
        let changed = {
            let mut current = self.subscription.lock().unwrap_or_else(|e| e.into_inner());
            let changed = *current != sub;
            *current = sub;
            changed
        };
        if changed {
            // a join under way carries the old subscription: start over with the new one
            self.abort_pending();
        }
        *self.pattern.lock().unwrap_or_else(|e| e.into_inner()) = None;
        group.rejoin_needed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Subscribes to every topic whose whole name matches `pattern` (a regex, as Java's
    /// `subscribe(Pattern)`); internal topics are never matched. The topic list is
    /// re-checked every `metadata.max.age.ms`, and a change rejoins the group.
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        if self.group.is_none() {
            return Err(Error::IllegalState("subscribe needs group.id".into()));
        }
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            Error::Config(crate::error::ConfigError::InvalidValue {
                key: "pattern".into(),
                value: pattern.into(),
                reason: e.to_string(),
            })
        })?;
        *self.pattern.lock().unwrap_or_else(|e| e.into_inner()) = Some((re, None));
        Ok(())
    }

    /// Installs the callbacks run around rebalances (see [`RebalanceListener`]).
    pub fn set_rebalance_listener(&self, listener: Arc<dyn RebalanceListener>) {
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(listener);
    }

    /// Like [`subscribe`](Self::subscribe), with a rebalance listener.
    pub fn subscribe_with_listener(
        &self,
        topics: &[&str],
        listener: Arc<dyn RebalanceListener>,
    ) -> Result<()> {
        self.set_rebalance_listener(listener);
        self.subscribe(topics)
    }

    fn listener(&self) -> Option<Arc<dyn RebalanceListener>> {
        self.listener.lock().ok().and_then(|l| l.clone())
    }

    fn start_heartbeat(&self, group: Arc<Coordinator>) {
        let mut hb = self.heartbeat.lock().unwrap_or_else(|e| e.into_inner());
        if hb.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let interval = self.fetcher.cfg.heartbeat_interval;
        let max_poll_interval = self.fetcher.cfg.max_poll_interval;
        let fetcher = self.fetcher.clone();
        let last_poll = self.last_poll.clone();
        *hb = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                if fetcher.stop.load(Ordering::SeqCst) {
                    return;
                }
                let since_poll = last_poll.lock().map(|t| t.elapsed()).unwrap_or_default();
                if since_poll > max_poll_interval && group.is_member() {
                    // Java's rule: an application that stops polling gives its partitions
                    // up. A dynamic member leaves at once; a static one stops heartbeating
                    // and is dropped after session.timeout.ms. The next poll reports the
                    // partitions lost and rejoins.
                    tracing::warn!(
                        ?since_poll,
                        "max.poll.interval.ms exceeded: leaving the group"
                    );
                    if !group.is_static() {
                        if let Err(e) = group.leave().await {
                            tracing::debug!(error = %e, "leave group failed");
                        }
                        group.partitions_lost.store(true, Ordering::SeqCst);
                        group.rejoin_needed.store(true, Ordering::SeqCst);
                    }
                    continue;
                }
                if let Err(e) = group.heartbeat().await {
                    tracing::debug!(error = %e, "heartbeat failed");
                }
                if group.rejoin_needed.load(Ordering::SeqCst) {
                    fetcher.data_ready.notify_one();
                }
            }
        }));
    }

    /// The positions of every assigned partition that has one.
    fn positions(&self) -> Vec<(TopicPartition, i64)> {
        self.fetcher
            .lock()
            .parts
            .iter()
            .filter_map(|(tp, st)| st.position.map(|p| (tp.clone(), p)))
            .collect()
    }

    /// The group metadata to pass to
    /// [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction)
    /// (KIP-447): group id, current generation, member id and `group.instance.id`.
    /// Fails without `group.id`.
    pub fn group_metadata(&self) -> Result<ConsumerGroupMetadata> {
        let Some(group) = &self.group else {
            return Err(Error::IllegalState("group metadata needs group.id".into()));
        };
        Ok(group.group_metadata())
    }

    /// Commits the current positions to the group and waits for the answer.
    pub async fn commit_sync(&self) -> Result<()> {
        let Some(group) = &self.group else {
            return Err(Error::IllegalState("commit needs group.id".into()));
        };
        let offsets = self.positions();
        group.commit(&offsets).await?;
        if let Ok(mut t) = self.last_commit.lock() {
            *t = Instant::now();
        }
        Ok(())
    }

    /// Commits the given offsets (the next offset to consume per partition).
    pub async fn commit_offsets(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        let Some(group) = &self.group else {
            return Err(Error::IllegalState("commit needs group.id".into()));
        };
        group.commit(offsets).await
    }

    /// Commits the current positions in the background; the handle yields the outcome.
    pub fn commit_async(&self) -> Result<JoinHandle<Result<()>>> {
        let Some(group) = self.group.clone() else {
            return Err(Error::IllegalState("commit needs group.id".into()));
        };
        let offsets = self.positions();
        Ok(tokio::spawn(async move { group.commit(&offsets).await }))
    }

    /// The committed offsets of `partitions` in the group (absent: none committed).
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        let Some(group) = &self.group else {
            return Err(Error::IllegalState("committed needs group.id".into()));
        };
        group.committed(partitions).await
    }

    fn metadata(&self) -> &Arc<Metadata> {
        &self.fetcher.metadata
    }

    /// Replaces the assignment. Partitions kept keep their positions; new ones start at
    /// `auto.offset.reset` unless [`seek`](Self::seek) is called.
    pub fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        self.assign_partitions(partitions);
    }

    fn assign_partitions(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        let wanted: Vec<TopicPartition> = partitions.into_iter().collect();
        self.metadata()
            .add_topics(wanted.iter().map(|tp| &*tp.topic));
        {
            let mut shared = self.fetcher.lock();
            shared.parts.retain(|tp, _| wanted.contains(tp));
            for tp in wanted {
                shared.parts.entry(tp).or_default();
            }
        }
        self.fetcher.wake_fetcher.notify_one();
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.fetcher.lock().parts.keys().cloned().collect()
    }

    fn with_partition<T>(
        &self,
        tp: &TopicPartition,
        f: impl FnOnce(&mut PartitionState) -> T,
    ) -> Result<T> {
        let mut shared = self.fetcher.lock();
        let st = shared
            .parts
            .get_mut(tp)
            .ok_or_else(|| Error::IllegalState(format!("{tp} is not assigned")))?;
        Ok(f(st))
    }

    /// Moves the position of `tp` to `offset`; buffered records are dropped.
    pub fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.with_partition(tp, |st| {
            st.epoch += 1;
            st.position = Some(offset);
            st.fetch_offset = Some(offset);
            st.buffered.clear();
            st.error = None;
            st.pending_reset = None;
            st.backoff_until = None;
        })?;
        self.fetcher.wake_fetcher.notify_one();
        Ok(())
    }

    fn seek_reset(&self, tp: &TopicPartition, reset: OffsetReset) -> Result<()> {
        self.with_partition(tp, |st| {
            st.epoch += 1;
            st.position = None;
            st.fetch_offset = None;
            st.buffered.clear();
            st.error = None;
            st.pending_reset = Some(reset);
            st.backoff_until = None;
        })?;
        self.fetcher.wake_fetcher.notify_one();
        Ok(())
    }

    /// Moves `tp` to its log start offset (resolved lazily).
    pub fn seek_to_beginning(&self, tp: &TopicPartition) -> Result<()> {
        self.seek_reset(tp, OffsetReset::Earliest)
    }

    /// Moves `tp` to its log end offset (resolved lazily).
    pub fn seek_to_end(&self, tp: &TopicPartition) -> Result<()> {
        self.seek_reset(tp, OffsetReset::Latest)
    }

    /// The offset of the next record `poll` returns for `tp`, resolving a pending reset
    /// (waiting up to `request.timeout.ms`).
    pub async fn position(&self, tp: &TopicPartition) -> Result<i64> {
        let deadline = Instant::now() + self.fetcher.cfg.common.request_timeout;
        loop {
            let notified = self.fetcher.data_ready.notified();
            let (pos, err) = self.with_partition(tp, |st| (st.position, st.error.clone()))?;
            if let Some(p) = pos {
                return Ok(p);
            }
            if let Some(e) = err {
                return Err(e);
            }
            self.fetcher.wake_fetcher.notify_one();
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(Error::Timeout(format!("resolving the position of {tp}")));
            }
        }
    }

    /// The high watermark of `tp` seen in the last fetch (-1 before the first).
    pub fn high_watermark(&self, tp: &TopicPartition) -> Result<i64> {
        self.with_partition(tp, |st| {
            if st.high_watermark == 0 && st.position.is_none() {
                -1
            } else {
                st.high_watermark
            }
        })
    }

    /// Stops fetching `partitions` and holds back their buffered records until
    /// [`resume`](Self::resume); positions and the group assignment are kept (Java's
    /// `pause`). Unassigned partitions are an error.
    pub fn pause(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.set_paused(partitions, true)
    }

    /// Fetches `partitions` again after [`pause`](Self::pause).
    pub fn resume(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.set_paused(partitions, false)?;
        self.fetcher.wake_fetcher.notify_one();
        self.fetcher.data_ready.notify_one();
        Ok(())
    }

    fn set_paused(&self, partitions: &[TopicPartition], paused: bool) -> Result<()> {
        let mut shared = self.fetcher.lock();
        if let Some(tp) = partitions.iter().find(|tp| !shared.parts.contains_key(*tp)) {
            return Err(Error::IllegalState(format!("{tp} is not assigned")));
        }
        for tp in partitions {
            if let Some(st) = shared.parts.get_mut(tp) {
                st.paused = paused;
            }
        }
        Ok(())
    }

    /// The paused partitions.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.fetcher
            .lock()
            .parts
            .iter()
            .filter(|(_, st)| st.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// For each `(partition, timestamp)`: the earliest offset whose record timestamp is at
    /// least `timestamp`, with that record's timestamp (Java's `offsetsForTimes`); `None`
    /// when no record is that recent. Partitions need not be assigned.
    pub async fn offsets_for_times(
        &self,
        query: &[(TopicPartition, i64)],
    ) -> Result<HashMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        if let Some((tp, ts)) = query.iter().find(|(_, ts)| *ts < 0) {
            return Err(Error::IllegalState(format!(
                "negative timestamp {ts} for {tp}"
            )));
        }
        let found = self.list_offsets(query).await?;
        Ok(found
            .into_iter()
            .map(|(tp, (offset, timestamp))| {
                let hit = (offset >= 0).then_some(OffsetAndTimestamp { offset, timestamp });
                (tp, hit)
            })
            .collect())
    }

    /// The log start offsets of `partitions` (Java's `beginningOffsets`).
    pub async fn beginning_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.special_offsets(partitions, fetcher::EARLIEST_TIMESTAMP)
            .await
    }

    /// The log end offsets of `partitions` (the last stable offset with
    /// `read_committed`; Java's `endOffsets`).
    pub async fn end_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.special_offsets(partitions, fetcher::LATEST_TIMESTAMP)
            .await
    }

    async fn special_offsets(
        &self,
        partitions: &[TopicPartition],
        timestamp: i64,
    ) -> Result<HashMap<TopicPartition, i64>> {
        let query: Vec<(TopicPartition, i64)> = partitions
            .iter()
            .map(|tp| (tp.clone(), timestamp))
            .collect();
        Ok(self
            .list_offsets(&query)
            .await?
            .into_iter()
            .map(|(tp, (offset, _))| (tp, offset))
            .collect())
    }

    /// ListOffsets for every partition at its leader, retrying retriable errors (stale
    /// metadata) until `request.timeout.ms`.
    async fn list_offsets(
        &self,
        query: &[(TopicPartition, i64)],
    ) -> Result<HashMap<TopicPartition, (i64, i64)>> {
        let deadline = Instant::now() + self.fetcher.cfg.common.request_timeout;
        let mut todo: Vec<(TopicPartition, i64)> = query.to_vec();
        let mut out = HashMap::new();
        loop {
            let mut by_leader: HashMap<i32, Vec<(TopicPartition, i64)>> = HashMap::new();
            let mut last_err = None;
            for (tp, ts) in &todo {
                let topic = self.metadata().topic(&tp.topic, deadline).await?;
                if tp.partition < 0 || !topic.partitions.iter().any(|p| p.id == tp.partition) {
                    return Err(Error::UnknownTopic(tp.to_string()));
                }
                match self.metadata().snapshot().leader(&tp.topic, tp.partition) {
                    Some(leader) => by_leader.entry(leader).or_default().push((tp.clone(), *ts)),
                    None => {
                        self.metadata().request_update();
                        last_err = Some(Error::broker(
                            KafkaCode::LeaderNotAvailable.code(),
                            format!("leader of {tp}"),
                        ));
                    }
                }
            }
            let mut retry = Vec::new();
            for (leader, parts) in by_leader {
                match self.fetcher.list_offsets_at(leader, &parts).await {
                    Ok(found) => {
                        for (tp, ts) in parts {
                            match found.get(&tp) {
                                Some(Ok(hit)) => {
                                    out.insert(tp, *hit);
                                }
                                Some(Err(e)) if !e.is_retriable() => return Err(e.clone()),
                                Some(Err(e)) => {
                                    last_err = Some(e.clone());
                                    retry.push((tp, ts));
                                }
                                None => retry.push((tp, ts)),
                            }
                        }
                    }
                    Err(e) if e.is_retriable() => {
                        last_err = Some(e);
                        retry.extend(parts);
                    }
                    Err(e) => return Err(e),
                }
            }
            retry.extend(
                todo.iter()
                    .filter(|(tp, _)| !out.contains_key(tp) && !retry.iter().any(|(r, _)| r == tp))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            if retry.is_empty() {
                return Ok(out);
            }
            if Instant::now() >= deadline {
                return Err(last_err.unwrap_or_else(|| Error::Timeout("ListOffsets".into())));
            }
            tokio::time::sleep(self.fetcher.cfg.common.retry_backoff).await;
            self.metadata().refresh().await.ok();
            todo = retry;
        }
    }

    /// The records as a [`Stream`]: each item is one record (or a poll error); the stream
    /// ends when the consumer is closed. Records are taken with [`poll`](Self::poll), so
    /// group membership and auto-commit work as with `poll`: positions of records the
    /// stream has yielded are committed on the next internal poll, after the application
    /// asked for the record that follows them (at-least-once).
    pub fn stream(&self) -> impl Stream<Item = Result<ConsumerRecord>> + '_ {
        futures::stream::unfold(
            (self, std::collections::VecDeque::new()),
            |(consumer, mut buffer)| async move {
                loop {
                    if let Some(record) = buffer.pop_front() {
                        return Some((Ok(record), (consumer, buffer)));
                    }
                    match consumer.poll(Duration::from_millis(500)).await {
                        Ok(records) => buffer.extend(records),
                        Err(Error::Closed) => return None,
                        Err(e) => return Some((Err(e), (consumer, buffer))),
                    }
                }
            },
        )
    }

    /// Waits up to `timeout` for records and returns at most `max.poll.records` of them
    /// (empty on timeout). A partition's fetch error is returned once, then cleared.
    ///
    /// With a group, `poll` also drives the membership: it returns by `timeout` whatever
    /// the group is doing (joining, syncing, waiting for a coordinator), empty when nothing
    /// is assigned yet, and the join carries on across calls (as Java's `poll(Duration)`).
    /// Rebalance listener callbacks run inside `poll` (their own time is not bounded).
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = Instant::now() + timeout;
        if let Ok(mut t) = self.last_poll.lock() {
            *t = Instant::now();
        }
        loop {
            self.maintain_group(deadline).await?;
            let notified = self.fetcher.data_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(result) = self.take_records() {
                self.fetcher.wake_fetcher.notify_one();
                return result;
            }
            if self.fetcher.stop.load(Ordering::SeqCst) {
                return Err(Error::Closed);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    fn take_records(&self) -> Option<Result<Vec<ConsumerRecord>>> {
        let max = self.fetcher.cfg.max_poll_records;
        let mut shared = self.fetcher.lock();
        if let Some(e) = shared.auth_error.take() {
            return Some(Err(e));
        }
        for st in shared.parts.values_mut() {
            if let Some(e) = st.error.take() {
                return Some(Err(e));
            }
        }
        let n = shared.parts.len();
        if n == 0 {
            return None;
        }
        let mut cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
        let start = *cursor % n;
        let mut out = Vec::new();
        let mut last_taken = start;
        let mut states: Vec<&mut PartitionState> = shared.parts.values_mut().collect();
        for step in 0..n {
            let i = (start + step) % n;
            if out.len() >= max {
                break;
            }
            let Some(st) = states.get_mut(i) else {
                continue;
            };
            if st.buffered.is_empty() || st.paused {
                continue;
            }
            let k = (max - out.len()).min(st.buffered.len());
            out.extend(st.buffered.drain(..k));
            if let Some(last) = out.last() {
                st.position = Some(last.offset + 1);
            }
            if st.buffered.is_empty() {
                // past what the fetch skipped after its last record (transaction markers,
                // aborted records under read_committed), as Java's consumer moves on
                st.position = st.position.max(st.fetch_offset);
            }
            last_taken = i;
        }
        *cursor = last_taken + 1;
        (!out.is_empty()).then_some(Ok(out))
    }

    /// [`close_timeout`](Self::close_timeout) with [`DEFAULT_CLOSE_TIMEOUT`] (30 s, as
    /// Java's `close()`): commits (with `enable.auto.commit`), revokes and leaves the
    /// group, stops the fetcher and closes connections.
    pub async fn close(&self) {
        self.close_timeout(DEFAULT_CLOSE_TIMEOUT).await;
    }

    async fn stop_fetcher(&self) {
        self.fetcher.stop.store(true, Ordering::SeqCst);
        self.fetcher.wake_fetcher.notify_one();
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        self.metadata().pool().close_all();
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.fetcher.stop.store(true, Ordering::SeqCst);
        if let Some(hb) = self.heartbeat.lock().ok().and_then(|mut h| h.take()) {
            hb.abort();
        }
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        if let Some(t) = self.auto_commit.lock().ok().and_then(|mut t| t.take()) {
            t.abort();
        }
        self.abort_pending();
    }
}
