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
mod record;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::fetcher::{Fetcher, PartitionState};
use self::group::coordinator::Coordinator;
pub use self::record::ConsumerRecord;
use crate::config::{ConsumerConfig, OffsetReset};
use crate::error::{Error, Result};
use crate::net::{Metadata, Pool};
pub use crate::types::TopicPartition;

/// A Kafka consumer with manual partition assignment.
#[derive(Debug)]
pub struct Consumer {
    fetcher: Arc<Fetcher>,
    task: Mutex<Option<JoinHandle<()>>>,
    cursor: Mutex<usize>,
    group: Option<Arc<Coordinator>>,
    subscription: Mutex<Vec<String>>,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
    last_commit: Mutex<Instant>,
    group_lock: tokio::sync::Mutex<()>,
}

impl Consumer {
    /// Starts a consumer (its fetcher task runs on the current tokio runtime).
    pub fn new(cfg: ConsumerConfig) -> Result<Consumer> {
        let pool = Arc::new(Pool::new(&cfg.common));
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
            group_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Subscribes to `topics` through the consumer group (`group.id` required); the group
    /// assigns partitions on the next [`poll`](Self::poll).
    pub fn subscribe(&self, topics: &[&str]) -> Result<()> {
        let Some(group) = &self.group else {
            return Err(Error::IllegalState("subscribe needs group.id".into()));
        };
        let mut sub: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        sub.sort();
        sub.dedup();
        self.metadata().add_topics(sub.iter().map(String::as_str));
        *self.subscription.lock().unwrap_or_else(|e| e.into_inner()) = sub;
        group.rejoin_needed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Joins or rejoins the group when needed, and auto-commits when due.
    async fn maintain_group(&self) -> Result<()> {
        let Some(group) = self.group.clone() else {
            return Ok(());
        };
        let topics = self
            .subscription
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let cfg = &self.fetcher.cfg;
        if !topics.is_empty() && group.rejoin_needed.load(Ordering::SeqCst) {
            let _guard = self.group_lock.lock().await;
            if group.rejoin_needed.load(Ordering::SeqCst) {
                if cfg.enable_auto_commit {
                    if let Err(e) = self.commit_sync().await {
                        tracing::debug!(error = %e, "commit before rejoin failed");
                    }
                }
                let deadline = Instant::now() + cfg.max_poll_interval;
                let assignment = group.join(&topics, deadline).await?;
                self.assign_partitions(assignment.clone());
                let committed = group.committed(&assignment).await?;
                for (tp, offset) in committed {
                    self.seek(&tp, offset)?;
                }
                self.start_heartbeat(group.clone());
            }
        }
        if cfg.enable_auto_commit {
            let due = self
                .last_commit
                .lock()
                .map(|t| t.elapsed() >= cfg.auto_commit_interval)
                .unwrap_or(false);
            if due {
                if let Err(e) = self.commit_sync().await {
                    tracing::debug!(error = %e, "auto-commit failed");
                }
            }
        }
        Ok(())
    }

    fn start_heartbeat(&self, group: Arc<Coordinator>) {
        let mut hb = self.heartbeat.lock().unwrap_or_else(|e| e.into_inner());
        if hb.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let interval = self.fetcher.cfg.heartbeat_interval;
        let fetcher = self.fetcher.clone();
        *hb = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                if fetcher.stop.load(Ordering::SeqCst) {
                    return;
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
    ) -> Result<std::collections::HashMap<TopicPartition, i64>> {
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

    /// Waits up to `timeout` for records and returns at most `max.poll.records` of them
    /// (empty on timeout). A partition's fetch error is returned once, then cleared.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.maintain_group().await?;
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
            if st.buffered.is_empty() {
                continue;
            }
            let k = (max - out.len()).min(st.buffered.len());
            out.extend(st.buffered.drain(..k));
            if let Some(last) = out.last() {
                st.position = Some(last.offset + 1);
            }
            last_taken = i;
        }
        *cursor = last_taken + 1;
        (!out.is_empty()).then_some(Ok(out))
    }

    /// Commits (with `enable.auto.commit`), leaves the group, stops the fetcher and closes
    /// connections.
    pub async fn close(&self) {
        if let Some(group) = &self.group {
            if self.fetcher.cfg.enable_auto_commit {
                if let Err(e) = self.commit_sync().await {
                    tracing::debug!(error = %e, "final commit failed");
                }
            }
            if let Some(hb) = self.heartbeat.lock().ok().and_then(|mut h| h.take()) {
                hb.abort();
            }
            if let Err(e) = group.leave().await {
                tracing::debug!(error = %e, "leave group failed");
            }
        }
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
    }
}
