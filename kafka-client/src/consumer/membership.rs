//! Driving the group membership from `poll`, as Java's `poll(Duration)` does: a rebalance
//! runs in steps that outlive one poll, so `poll` returns by its deadline whatever the group
//! is doing.
//!
//! Owns: the pending group step ([`Pending`]: the commit before an eager revoke, then the
//! JoinGroup/SyncGroup round in a background task), the rebalance listener calls around it
//! (always from inside `poll`, in Java's order), the metadata watch that rejoins when
//! subscribed topics change, pattern subscriptions, auto-commit, and leaving the group
//! (`unsubscribe`, `close`). Must not: speak the group protocol (the coordinator does) or
//! fetch records (the fetcher does).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::group::coordinator::Coordinator;
use super::Consumer;
use crate::error::{Error, KafkaCode, Result};
use crate::types::TopicPartition;

/// What a finished join hands back to `poll`.
pub(super) struct JoinOutcome {
    /// This member's new assignment.
    assignment: Vec<TopicPartition>,
    /// The group's committed offsets of those partitions.
    committed: HashMap<TopicPartition, i64>,
}

/// A group step in progress across polls.
pub(super) enum Pending {
    /// Eager protocols: committing the owned partitions (auto-commit) before they are
    /// revoked and the member rejoins.
    Committing {
        task: JoinHandle<Result<()>>,
        owned: Vec<TopicPartition>,
    },
    /// JoinGroup and SyncGroup (and the committed offsets of the new assignment).
    Joining {
        task: JoinHandle<Result<JoinOutcome>>,
        cooperative: bool,
    },
}

impl Pending {
    fn abort(self) {
        match self {
            Pending::Committing { task, .. } => task.abort(),
            Pending::Joining { task, .. } => task.abort(),
        }
    }
}

/// Whether a failed join is the group still settling (the next poll rejoins) rather than
/// the application's error.
fn transient(e: &Error) -> bool {
    e.is_retriable()
        || matches!(
            e.kafka_code(),
            Some(
                KafkaCode::RebalanceInProgress
                    | KafkaCode::UnknownMemberId
                    | KafkaCode::IllegalGeneration
                    | KafkaCode::MemberIdRequired
            )
        )
}

impl Consumer {
    pub(super) fn subscribed(&self) -> Vec<String> {
        self.subscription
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    fn take_pending(&self) -> Option<Pending> {
        self.pending.lock().ok().and_then(|mut p| p.take())
    }

    fn put_pending(&self, pending: Pending) {
        if let Ok(mut p) = self.pending.lock() {
            *p = Some(pending);
        }
    }

    /// Abandons a group step in progress (its task stops; a join's member id is kept so
    /// that LeaveGroup can name it).
    pub(super) fn abort_pending(&self) {
        let Some(p) = self.take_pending() else {
            return;
        };
        let joining = matches!(p, Pending::Joining { .. });
        p.abort();
        if let (true, Some(group)) = (joining, &self.group) {
            group.abandon_join();
        }
    }

    /// With a pattern subscription: refreshes the matching topics when due and flags a
    /// rejoin when they changed.
    async fn refresh_pattern(&self, group: &Coordinator) -> Result<()> {
        let due = {
            let p = self.pattern.lock().unwrap_or_else(|e| e.into_inner());
            match &*p {
                None => return Ok(()),
                Some((_, None)) => true,
                Some((_, Some(at))) => at.elapsed() >= self.fetcher.cfg.common.metadata_max_age,
            }
        };
        if !due {
            return Ok(());
        }
        let snap = self.metadata().fetch_all().await?;
        let mut matched: Vec<String> = {
            let mut p = self.pattern.lock().unwrap_or_else(|e| e.into_inner());
            let Some((re, at)) = p.as_mut() else {
                return Ok(());
            };
            *at = Some(Instant::now());
            snap.topics
                .values()
                .filter(|t| !t.is_internal && re.is_match(&t.name))
                .map(|t| t.name.clone())
                .collect()
        };
        matched.sort();
        let mut sub = self.subscription.lock().unwrap_or_else(|e| e.into_inner());
        if *sub != matched {
            tracing::info!(topics = ?matched, "pattern subscription changed");
            self.metadata()
                .add_topics(matched.iter().map(String::as_str));
            *sub = matched;
            drop(sub);
            self.abort_pending();
            group.rejoin_needed.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The group's share of a poll, bounded by `deadline`: a pending unsubscribe, lost
    /// partitions, the metadata watch, the next step of a rebalance (which keeps running
    /// in the background when the deadline passes) and auto-commit.
    pub(super) async fn maintain_group(&self, deadline: Instant) -> Result<()> {
        let Some(group) = self.group.clone() else {
            return Ok(());
        };
        if self.unsubscribe_pending.swap(false, Ordering::SeqCst) {
            self.leave_group(&group).await;
        }
        match tokio::time::timeout_at(deadline, self.refresh_pattern(&group)).await {
            Ok(Err(e)) => tracing::debug!(error = %e, "pattern subscription refresh failed"),
            Err(_) => tracing::debug!("pattern subscription refresh continues on the next poll"),
            Ok(Ok(())) => {}
        }
        if group.partitions_lost.swap(false, Ordering::SeqCst) {
            let lost = self.assignment();
            tracing::info!(partitions = ?lost, "partitions lost: the group dropped this member");
            if !lost.is_empty() {
                if let Some(l) = self.listener() {
                    l.on_partitions_lost(self, &lost).await;
                }
            }
            self.assign_partitions(Vec::new());
        }
        let idle = self.pending.lock().map(|p| p.is_none()).unwrap_or(true);
        if idle && group.is_member() && !group.rejoin_needed.load(Ordering::SeqCst) {
            if let Some(why) = group.metadata_change() {
                tracing::info!(reason = %why, "subscribed topics changed: rejoining the group");
                group.rejoin_needed.store(true, Ordering::SeqCst);
            }
        }
        let Ok(_guard) = tokio::time::timeout_at(deadline, self.group_lock.lock()).await else {
            return Ok(());
        };
        self.drive_rebalance(&group, deadline).await?;
        if idle && group.is_member() {
            self.maybe_auto_commit(&group);
        }
        Ok(())
    }

    /// Runs rebalance steps until the group is settled or `deadline` passes (the step in
    /// progress is then kept for the next poll).
    async fn drive_rebalance(&self, group: &Arc<Coordinator>, deadline: Instant) -> Result<()> {
        loop {
            match self.take_pending() {
                None => {
                    let topics = self.subscribed();
                    if topics.is_empty() || !group.rejoin_needed.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    let cooperative = group.cooperative();
                    let owned = self.assignment();
                    if !cooperative && !owned.is_empty() && self.fetcher.cfg.enable_auto_commit {
                        let offsets: Vec<(TopicPartition, i64)> = self
                            .positions()
                            .into_iter()
                            .filter(|(tp, _)| owned.contains(tp))
                            .collect();
                        let g = group.clone();
                        let task = tokio::spawn(async move { g.commit(&offsets).await });
                        self.put_pending(Pending::Committing { task, owned });
                        continue;
                    }
                    if !cooperative {
                        self.revoke_eager(&owned).await;
                    }
                    self.start_join(group, cooperative, topics, owned);
                }
                Some(Pending::Committing { mut task, owned }) => {
                    match tokio::time::timeout_at(deadline, &mut task).await {
                        Err(_) => {
                            self.put_pending(Pending::Committing { task, owned });
                            return Ok(());
                        }
                        Ok(Ok(Err(e))) => {
                            tracing::debug!(error = %e, "commit of revoked partitions failed")
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "commit task failed"),
                        Ok(Ok(Ok(()))) => {}
                    }
                    self.revoke_eager(&owned).await;
                    let topics = self.subscribed();
                    if topics.is_empty() {
                        return Ok(());
                    }
                    self.start_join(group, false, topics, owned);
                }
                Some(Pending::Joining {
                    mut task,
                    cooperative,
                }) => match tokio::time::timeout_at(deadline, &mut task).await {
                    Err(_) => {
                        self.put_pending(Pending::Joining { task, cooperative });
                        return Ok(());
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "join task failed; rejoining");
                        group.rejoin_needed.store(true, Ordering::SeqCst);
                        return Ok(());
                    }
                    Ok(Ok(Err(e))) if transient(&e) => {
                        // like Java's poll: a group that is still rebalancing (or a
                        // coordinator that moved) is not the application's error
                        tracing::info!(error = %e, "group join not finished; retrying on the next poll");
                        group.rejoin_needed.store(true, Ordering::SeqCst);
                        return Ok(());
                    }
                    Ok(Ok(Err(e))) => {
                        group.rejoin_needed.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                    Ok(Ok(Ok(outcome))) => {
                        self.complete_join(group, cooperative, outcome).await?;
                    }
                },
            }
        }
    }

    /// Eager protocols, before rejoining: the listener hears that every owned partition
    /// is revoked, and the consumer stops fetching them.
    async fn revoke_eager(&self, owned: &[TopicPartition]) {
        if !owned.is_empty() {
            if let Some(l) = self.listener() {
                l.on_partitions_revoked(self, owned).await;
            }
        }
        self.assign_partitions(Vec::new());
    }

    /// Starts JoinGroup/SyncGroup in the background. `previous`: the last assignment
    /// (sticky assignors carry it in their user data).
    fn start_join(
        &self,
        group: &Arc<Coordinator>,
        cooperative: bool,
        topics: Vec<String>,
        previous: Vec<TopicPartition>,
    ) {
        let owned = if cooperative {
            self.assignment()
        } else {
            Vec::new()
        };
        let deadline = Instant::now() + self.fetcher.cfg.max_poll_interval;
        let g = group.clone();
        let task = tokio::spawn(async move {
            let assignment = g.join(&topics, &owned, &previous, deadline).await?;
            let committed = if assignment.is_empty() {
                HashMap::new()
            } else {
                g.committed(&assignment).await?
            };
            Ok(JoinOutcome {
                assignment,
                committed,
            })
        });
        self.put_pending(Pending::Joining { task, cooperative });
    }

    /// A join finished: revokes (cooperative) what moved away, installs the assignment,
    /// seeks new partitions to their committed offsets and tells the listener.
    async fn complete_join(
        &self,
        group: &Arc<Coordinator>,
        cooperative: bool,
        outcome: JoinOutcome,
    ) -> Result<()> {
        let JoinOutcome {
            assignment,
            committed,
        } = outcome;
        // the group dropped this member during the join (e.g. its session expired): what
        // it held and did not get back is lost, not revoked
        let dropped_during_join = group.partitions_lost.swap(false, Ordering::SeqCst);
        let current = self.assignment();
        let added: Vec<TopicPartition> = assignment
            .iter()
            .filter(|tp| !current.contains(tp))
            .cloned()
            .collect();
        let revoked: Vec<TopicPartition> = current
            .iter()
            .filter(|tp| !assignment.contains(tp))
            .cloned()
            .collect();
        if !revoked.is_empty() && dropped_during_join {
            tracing::info!(partitions = ?revoked, "rebalance: partitions lost");
            if let Some(l) = self.listener() {
                l.on_partitions_lost(self, &revoked).await;
            }
        } else if !revoked.is_empty() {
            tracing::info!(partitions = ?revoked, "cooperative rebalance: revoking");
            self.revoke(&revoked).await;
            if cooperative {
                // KIP-429: rejoin at once so the revoked partitions get their new owner
                group.rejoin_needed.store(true, Ordering::SeqCst);
            }
        }
        tracing::info!(partitions = ?assignment, "assigned");
        self.assign_partitions(assignment);
        for tp in &added {
            if let Some(&offset) = committed.get(tp) {
                self.seek(tp, offset)?;
            }
        }
        if let Some(l) = self.listener() {
            l.on_partitions_assigned(self, &added).await;
        }
        self.start_heartbeat(group.clone());
        Ok(())
    }

    /// Commits (with auto-commit) and runs the revoke callback for `partitions`.
    pub(super) async fn revoke(&self, partitions: &[TopicPartition]) {
        if partitions.is_empty() {
            return;
        }
        if self.fetcher.cfg.enable_auto_commit {
            // A background auto-commit still in flight (retrying a loading or moved
            // coordinator) carries older positions: let it land first, or it would
            // overwrite the commit below (the stale offset wins and records are re-read).
            let running = self
                .auto_commit
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(task) = running {
                let _ = task.await;
            }
            let offsets: Vec<(TopicPartition, i64)> = self
                .positions()
                .into_iter()
                .filter(|(tp, _)| partitions.contains(tp))
                .collect();
            if let Err(e) = self.commit_offsets(&offsets).await {
                tracing::debug!(error = %e, "commit of revoked partitions failed");
            }
        }
        if let Some(l) = self.listener() {
            l.on_partitions_revoked(self, partitions).await;
        }
    }

    /// Auto-commit, when due, in the background (Java's `maybeAutoCommitOffsetsAsync`):
    /// a commit never holds up `poll`.
    fn maybe_auto_commit(&self, group: &Arc<Coordinator>) {
        let cfg = &self.fetcher.cfg;
        if !cfg.enable_auto_commit {
            return;
        }
        let Ok(mut last) = self.last_commit.lock() else {
            return;
        };
        if last.elapsed() < cfg.auto_commit_interval {
            return;
        }
        let mut running = self.auto_commit.lock().unwrap_or_else(|e| e.into_inner());
        if running.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        *last = Instant::now();
        let offsets = self.positions();
        let g = group.clone();
        *running = Some(tokio::spawn(async move {
            if let Err(e) = g.commit(&offsets).await {
                tracing::debug!(error = %e, "auto-commit failed");
            }
        }));
    }

    /// Gives the group up: revokes the owned partitions (committing them with
    /// auto-commit, then telling the listener), stops fetching, stops heartbeats, sends
    /// LeaveGroup (a static member does not) and forgets the membership.
    pub(super) async fn leave_group(&self, group: &Arc<Coordinator>) {
        self.abort_pending();
        let owned = self.assignment();
        self.revoke(&owned).await;
        self.assign_partitions(Vec::new());
        if let Some(hb) = self.heartbeat.lock().ok().and_then(|mut h| h.take()) {
            hb.abort();
        }
        if group.is_static() {
            tracing::debug!("static member: not sending LeaveGroup");
        } else if let Err(e) = group.leave().await {
            tracing::debug!(error = %e, "leave group failed");
        }
        group.reset_membership();
        group.partitions_lost.store(false, Ordering::SeqCst);
        group.rejoin_needed.store(true, Ordering::SeqCst);
    }

    /// Unsubscribes from every topic (Java's `unsubscribe`): the owned partitions are
    /// revoked through the listener (committed first with `enable.auto.commit`), the
    /// consumer leaves the group, and a manual assignment is dropped as well. A later
    /// [`subscribe`](Self::subscribe) joins again as a new member. Bounded by
    /// `request.timeout.ms` (plus the listener's own time).
    pub async fn unsubscribe(&self) -> Result<()> {
        self.unsubscribe_pending.store(false, Ordering::SeqCst);
        self.clear_subscription();
        let Some(group) = self.group.clone() else {
            self.assign_partitions(Vec::new());
            return Ok(());
        };
        let _guard = self.group_lock.lock().await;
        let timeout = self.fetcher.cfg.common.request_timeout;
        if tokio::time::timeout(timeout, self.leave_group(&group))
            .await
            .is_err()
        {
            tracing::warn!(?timeout, "unsubscribe: leaving the group timed out");
            self.assign_partitions(Vec::new());
            group.reset_membership();
            group.rejoin_needed.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    pub(super) fn clear_subscription(&self) {
        if let Ok(mut s) = self.subscription.lock() {
            s.clear();
        }
        if let Ok(mut p) = self.pattern.lock() {
            *p = None;
        }
    }

    /// `subscribe(&[])`: as Java's `subscribe(emptyList)`, an unsubscribe. `subscribe` is
    /// not async, so the consumer stops handing out and fetching the owned partitions at
    /// once (they are paused) and the revoke callback and LeaveGroup run on the next
    /// `poll` (or `unsubscribe`/`close`).
    pub(super) fn unsubscribe_later(&self) {
        self.clear_subscription();
        self.abort_pending();
        let owned = self.assignment();
        let member = self.group.as_ref().is_some_and(|g| g.is_member());
        if owned.is_empty() && !member {
            return;
        }
        {
            let mut shared = self.fetcher.lock();
            for st in shared.parts.values_mut() {
                st.paused = true;
            }
        }
        self.unsubscribe_pending.store(true, Ordering::SeqCst);
    }

    /// Closes within `timeout` (Java's `close(Duration)`): revokes the owned partitions
    /// (committing them with `enable.auto.commit`, then telling the listener), leaves the
    /// group, stops the fetcher and closes connections. Whatever of the group part is not
    /// done when `timeout` passes is abandoned (the group then drops the member after
    /// `session.timeout.ms`).
    pub async fn close_timeout(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.abort_pending();
        if let Some(group) = self.group.clone() {
            let graceful = async {
                let _guard = self.group_lock.lock().await;
                let subscribed = !self.subscribed().is_empty()
                    || self.unsubscribe_pending.swap(false, Ordering::SeqCst);
                if subscribed {
                    // as Java's close: the group's partitions are revoked (committed with
                    // auto-commit, then the listener is told) before leaving
                    self.leave_group(&group).await;
                } else {
                    if self.fetcher.cfg.enable_auto_commit {
                        if let Err(e) = self.commit_sync().await {
                            tracing::debug!(error = %e, "final commit failed");
                        }
                    }
                    if group.is_static() {
                        // KIP-345: a static member keeps its place until
                        // session.timeout.ms, so a restart within it gets the same
                        // partitions without a rebalance
                        tracing::debug!("static member: not leaving the group");
                    } else if let Err(e) = group.leave().await {
                        tracing::debug!(error = %e, "leave group failed");
                    }
                }
            };
            if tokio::time::timeout_at(deadline, graceful).await.is_err() {
                tracing::warn!(?timeout, "close: leaving the group did not finish in time");
            }
            if let Some(hb) = self.heartbeat.lock().ok().and_then(|mut h| h.take()) {
                hb.abort();
            }
        }
        if let Some(t) = self.auto_commit.lock().ok().and_then(|mut t| t.take()) {
            t.abort();
        }
        self.stop_fetcher().await;
    }
}
