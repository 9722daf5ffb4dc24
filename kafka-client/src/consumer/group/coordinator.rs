//! The classic consumer group protocol, client side.
//!
//! Owns: finding the group coordinator (FindCoordinator), membership (JoinGroup with the
//! KIP-394 member-id round trip: a first join without a member id gets MEMBER_ID_REQUIRED
//! and the id to rejoin with; SyncGroup, with the leader computing the assignment),
//! heartbeats (their errors flag a rejoin), LeaveGroup, committed offsets (OffsetCommit,
//! OffsetFetch), and the metadata snapshot a rebalance was computed from (the leader's of
//! every group topic, a follower's of its subscription; a change means rejoin, as Java's
//! `ConsumerCoordinator` compares its assignment snapshot). Must not: fetch records or track positions (the consumer does).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use krafty_protocol::generated::join_group_request::JoinGroupRequestProtocol;
use krafty_protocol::generated::leave_group_request::MemberIdentity;
use krafty_protocol::generated::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use krafty_protocol::generated::offset_fetch_request::OffsetFetchRequestTopic;
use krafty_protocol::generated::sync_group_request::SyncGroupRequestAssignment;
use krafty_protocol::generated::{
    ApiKey, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest,
    OffsetFetchRequest, SyncGroupRequest,
};
use krafty_protocol::wire::StrBytes;
use tokio::time::Instant;

use super::assignor::{self, Assignor, RebalanceProtocol, Subscription};
use crate::config::ConsumerConfig;
use crate::error::{Error, KafkaCode, Result};
use crate::net::{ClusterSnapshot, Connection, Metadata};
use crate::types::TopicPartition;

/// Membership state.
#[derive(Debug, Default, Clone)]
struct Member {
    member_id: String,
    generation: i32,
    coordinator: Option<Connection>,
}

/// The group membership of one consumer.
pub(crate) struct Coordinator {
    group_id: String,
    cfg: ConsumerConfig,
    metadata: Arc<Metadata>,
    member: Mutex<Member>,
    /// Set by heartbeats (and errors) when the consumer must rejoin.
    pub rejoin_needed: AtomicBool,
    /// Set when the group dropped this member (unknown member, stale generation, fenced):
    /// its partitions are lost rather than revoked.
    pub partitions_lost: AtomicBool,
    /// A join/sync is in progress: heartbeats pause (as Java's do), since they would carry
    /// the generation that is ending and be answered ILLEGAL_GENERATION.
    joining: AtomicBool,
    /// Partition counts of the topics this member watches, as of the last assignment (0:
    /// the topic did not exist). The leader watches every topic of the group, a follower
    /// its own subscription; a change rejoins (Java's `ConsumerCoordinator` metadata
    /// snapshot).
    watched: Mutex<BTreeMap<String, i32>>,
}

/// Resets the `joining` flag when a join ends, also when its task is aborted.
struct JoiningGuard<'a>(&'a AtomicBool);

impl Drop for JoiningGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The partition count of `topic` in `snap`: `Some(0)` when the broker said the topic does
/// not exist, `None` when the snapshot does not tell (no answer yet, a transient error).
pub(crate) fn partition_count(snap: &ClusterSnapshot, topic: &str) -> Option<i32> {
    if let Some(t) = snap.topics.get(topic) {
        return Some(i32::try_from(t.partitions.len()).unwrap_or(i32::MAX));
    }
    match snap
        .topic_errors
        .get(topic)
        .map(|&c| KafkaCode::from_code(c))
    {
        Some(KafkaCode::UnknownTopicOrPartition) => Some(0),
        _ => None,
    }
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Coordinator({})", self.group_id)
    }
}

/// Whether a group request failed only because its coordinator is not ready (loading,
/// moved or unavailable): worth retrying.
fn coordinator_not_ready(e: &Error) -> bool {
    matches!(
        e.kafka_code(),
        Some(
            KafkaCode::CoordinatorLoadInProgress
                | KafkaCode::NotCoordinator
                | KafkaCode::CoordinatorNotAvailable
        )
    )
}

fn code_of(code: i16) -> KafkaCode {
    KafkaCode::from_code(code)
}

fn ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl Coordinator {
    pub fn new(group_id: String, cfg: ConsumerConfig, metadata: Arc<Metadata>) -> Arc<Coordinator> {
        Arc::new(Coordinator {
            group_id,
            cfg,
            metadata,
            member: Mutex::new(Member {
                generation: -1,
                ..Default::default()
            }),
            rejoin_needed: AtomicBool::new(true),
            partitions_lost: AtomicBool::new(false),
            joining: AtomicBool::new(false),
            watched: Mutex::new(BTreeMap::new()),
        })
    }

    fn member(&self) -> Member {
        self.member.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut Member)) {
        if let Ok(mut m) = self.member.lock() {
            f(&mut m);
        }
    }

    fn group(&self) -> StrBytes {
        StrBytes::from(self.group_id.clone())
    }

    /// The member's group metadata (KIP-447) as of now.
    pub fn group_metadata(&self) -> crate::consumer::ConsumerGroupMetadata {
        let m = self.member();
        crate::consumer::ConsumerGroupMetadata {
            group_id: self.group_id.clone(),
            generation_id: m.generation,
            member_id: m.member_id,
            group_instance_id: self.cfg.group_instance_id.clone(),
        }
    }

    /// `group.instance.id`, for the requests of a static member (KIP-345).
    fn instance(&self) -> Option<StrBytes> {
        self.cfg.group_instance_id.clone().map(StrBytes::from)
    }

    /// Whether this consumer currently holds a settled membership (a member id and
    /// generation, no join in progress).
    pub fn is_member(&self) -> bool {
        let m = self.member();
        m.generation >= 0 && !m.member_id.is_empty() && !self.joining.load(Ordering::SeqCst)
    }

    /// Whether this is a static member (it does not send LeaveGroup on close).
    pub fn is_static(&self) -> bool {
        self.cfg.group_instance_id.is_some()
    }

    /// Forgets the member id and generation (after leaving the group, or unsubscribing as
    /// a static member): the next join starts as a new member.
    pub fn reset_membership(&self) {
        self.update(|m| {
            m.member_id.clear();
            m.generation = -1;
        });
        self.clear_watched();
    }

    /// Stops watching metadata (no assignment to protect).
    pub fn clear_watched(&self) {
        if let Ok(mut w) = self.watched.lock() {
            w.clear();
        }
    }

    fn set_watched(&self, counts: BTreeMap<String, i32>) {
        if let Ok(mut w) = self.watched.lock() {
            *w = counts;
        }
    }

    /// Compares the watched topics with the latest metadata: returns why the group must
    /// rebalance (a partition count changed, a topic appeared or was deleted), if it must.
    /// While a watched topic is missing, metadata is refreshed every second (as Java's
    /// consumer keeps asking for unknown topics) so its creation is noticed.
    pub fn metadata_change(&self) -> Option<String> {
        let watched = self.watched.lock().map(|w| w.clone()).unwrap_or_default();
        if watched.is_empty() {
            return None;
        }
        let snap = self.metadata.snapshot();
        let mut missing = false;
        for (topic, &was) in &watched {
            let now = partition_count(&snap, topic);
            missing |= now.is_none_or(|n| n == 0);
            let Some(n) = now.filter(|&n| n != was) else {
                continue;
            };
            return Some(if was == 0 {
                format!("topic {topic} appeared with {n} partition(s)")
            } else if n == 0 {
                format!("topic {topic} no longer exists")
            } else {
                format!("partition count of {topic} changed from {was} to {n}")
            });
        }
        if missing {
            self.metadata
                .request_update_if_older(Duration::from_secs(1).max(self.cfg.common.retry_backoff));
        }
        None
    }

    /// After a join was abandoned (close, unsubscribe, a new subscription): closes the
    /// coordinator connection, on which the broker may hold the JoinGroup until the
    /// rebalance ends (it answers one connection's requests in order), so LeaveGroup or the
    /// next join goes out on a fresh connection at once.
    pub fn abandon_join(&self) {
        if let Some(c) = self.member().coordinator {
            c.close("join abandoned");
        }
        self.lose_coordinator();
    }

    /// Forgets the coordinator (after NOT_COORDINATOR or a disconnect).
    fn lose_coordinator(&self) {
        self.update(|m| m.coordinator = None);
    }

    /// The coordinator connection, found with FindCoordinator when unknown.
    async fn coordinator(&self) -> Result<Connection> {
        if let Some(c) = self.member().coordinator.filter(|c| !c.is_closed()) {
            return Ok(c);
        }
        let (_, c) = crate::net::coordinator_lookup::find_coordinator(
            self.metadata.pool(),
            &self.group_id,
            crate::net::coordinator_lookup::KEY_TYPE_GROUP,
        )
        .await?;
        tracing::debug!(group = %self.group_id, coordinator = %c.addr(), "found coordinator");
        self.update(|m| m.coordinator = Some(c.clone()));
        Ok(c)
    }

    /// Handles a group error: coordinator errors forget the coordinator; returns whether
    /// the operation may be retried at once.
    fn on_error(&self, code: KafkaCode) -> bool {
        match code {
            KafkaCode::NotCoordinator | KafkaCode::CoordinatorNotAvailable => {
                self.lose_coordinator();
                true
            }
            KafkaCode::CoordinatorLoadInProgress | KafkaCode::RebalanceInProgress => true,
            KafkaCode::UnknownMemberId
            | KafkaCode::IllegalGeneration
            | KafkaCode::FencedInstanceId => {
                let had_generation = self.member().generation >= 0;
                self.update(|m| {
                    m.member_id.clear();
                    m.generation = -1;
                });
                if had_generation {
                    self.partitions_lost.store(true, Ordering::SeqCst);
                }
                self.rejoin_needed.store(true, Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }

    /// The configured assignors, in preference order.
    fn assignors(&self) -> Vec<Box<dyn Assignor>> {
        self.cfg
            .assignors
            .iter()
            .filter_map(|n| assignor::by_name(n))
            .collect()
    }

    /// Whether the group runs the cooperative protocol (KIP-429): as in Java, only when
    /// every configured assignor supports it.
    pub fn cooperative(&self) -> bool {
        let assignors = self.assignors();
        !assignors.is_empty()
            && assignors
                .iter()
                .all(|a| a.protocol() == RebalanceProtocol::Cooperative)
    }

    /// Joins (or rejoins) the group subscribed to `topics` and returns this member's
    /// assignment. `owned`: the partitions still held (cooperative protocol; empty for
    /// eager ones, which give everything up first); `previous`: the last assignment, which
    /// sticky assignors carry in their user data. Retries retriable errors until
    /// `deadline`.
    pub async fn join(
        &self,
        topics: &[String],
        owned: &[TopicPartition],
        previous: &[TopicPartition],
        deadline: Instant,
    ) -> Result<Vec<TopicPartition>> {
        let assignors = self.assignors();
        let as_pairs = |tps: &[TopicPartition]| -> Vec<(String, i32)> {
            tps.iter()
                .map(|tp| (tp.topic.to_string(), tp.partition))
                .collect()
        };
        let (owned, previous) = (as_pairs(owned), as_pairs(previous));
        let generation = self.member().generation;
        // one subscription per protocol: the user data is the assignor's own
        let metadata: Vec<bytes::Bytes> = assignors
            .iter()
            .map(|a| {
                assignor::encode_subscription_full(&Subscription {
                    topics: topics.to_vec(),
                    owned_partitions: owned.clone(),
                    generation,
                    group_instance_id: None,
                    user_data: a.subscription_user_data(&previous, generation),
                })
            })
            .collect::<Result<_>>()?;
        self.joining.store(true, Ordering::SeqCst);
        let _joining = JoiningGuard(&self.joining);
        self.join_loop(topics, &assignors, &metadata, deadline)
            .await
    }

    async fn join_loop(
        &self,
        topics: &[String],
        assignors: &[Box<dyn Assignor>],
        metadata: &[bytes::Bytes],
        deadline: Instant,
    ) -> Result<Vec<TopicPartition>> {
        loop {
            match self.join_once(topics, assignors, metadata).await {
                Ok(assignment) => {
                    self.rejoin_needed.store(false, Ordering::SeqCst);
                    return Ok(assignment);
                }
                Err(e) => {
                    let retry = match &e {
                        Error::Broker { code, .. } => self.on_error(*code) || code.is_retriable(),
                        other => {
                            self.lose_coordinator();
                            other.is_retriable()
                        }
                    };
                    if !retry || Instant::now() >= deadline {
                        return Err(e);
                    }
                    tracing::debug!(group = %self.group_id, error = %e, "join failed, retrying");
                    tokio::time::sleep(self.cfg.common.retry_backoff).await;
                }
            }
        }
    }

    async fn join_once(
        &self,
        topics: &[String],
        assignors: &[Box<dyn Assignor>],
        metadata: &[bytes::Bytes],
    ) -> Result<Vec<TopicPartition>> {
        let conn = self.coordinator().await?;
        let mut req = JoinGroupRequest {
            group_id: self.group(),
            session_timeout_ms: ms(self.cfg.session_timeout),
            rebalance_timeout_ms: ms(self.cfg.max_poll_interval),
            member_id: StrBytes::from(self.member().member_id),
            group_instance_id: self.instance(),
            protocol_type: StrBytes::from_static_str("consumer"),
            protocols: assignors
                .iter()
                .zip(metadata)
                .map(|(a, metadata)| JoinGroupRequestProtocol {
                    name: StrBytes::from_static_str(a.name()),
                    metadata: metadata.clone(),
                    ..Default::default()
                })
                .collect(),
            reason: None,
            ..Default::default()
        };
        let version = conn.version(ApiKey::JoinGroup)?;
        // JoinGroup waits for the whole group: allow the rebalance timeout, not just the
        // request timeout.
        let join_timeout = self.cfg.max_poll_interval + Duration::from_secs(5);
        let mut resp = tokio::time::timeout(join_timeout, conn.enqueue_raw(version, &req)?.wait())
            .await
            .map_err(|_| Error::Timeout("JoinGroup".into()))??;
        tracing::debug!(code = resp.error_code, member_id = %resp.member_id, version, "JoinGroup answered");
        if code_of(resp.error_code) == KafkaCode::MemberIdRequired {
            // KIP-394: rejoin with the member id the coordinator assigned.
            req.member_id = resp.member_id.clone();
            self.update(|m| m.member_id = resp.member_id.to_string());
            resp = tokio::time::timeout(join_timeout, conn.enqueue_raw(version, &req)?.wait())
                .await
                .map_err(|_| Error::Timeout("JoinGroup".into()))??;
        }
        if resp.error_code != 0 {
            return Err(Error::broker(
                resp.error_code,
                format!("JoinGroup {}", self.group_id),
            ));
        }
        let member_id = resp.member_id.to_string();
        let generation = resp.generation_id;
        self.update(|m| {
            m.member_id = member_id.clone();
            m.generation = generation;
        });
        let protocol = resp
            .protocol_name
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        tracing::info!(group = %self.group_id, %member_id, generation, %protocol, leader = %resp.leader, "joined group");
        let leader = resp.leader == member_id.as_str();
        let (assignments, leader_counts) = if leader {
            self.lead(&protocol, assignors, &resp.members).await?
        } else {
            (Vec::new(), BTreeMap::new())
        };
        let sync = SyncGroupRequest {
            group_id: self.group(),
            generation_id: generation,
            member_id: StrBytes::from(member_id),
            group_instance_id: self.instance(),
            protocol_type: Some(StrBytes::from_static_str("consumer")),
            protocol_name: resp.protocol_name.clone(),
            assignments,
            ..Default::default()
        };
        let sync_resp = tokio::time::timeout(join_timeout, conn.enqueue(&sync)?.wait())
            .await
            .map_err(|_| Error::Timeout("SyncGroup".into()))??;
        if sync_resp.error_code != 0 {
            return Err(Error::broker(
                sync_resp.error_code,
                format!("SyncGroup {}", self.group_id),
            ));
        }
        let parts = assignor::decode_assignment(sync_resp.assignment)?;
        let watched = if leader {
            leader_counts
        } else {
            self.subscription_counts(topics).await
        };
        self.set_watched(watched);
        Ok(parts
            .into_iter()
            .map(|(t, p)| TopicPartition::new(t, p))
            .collect())
    }

    /// A follower's view of its own subscription after a join (fresh metadata, so a
    /// leader with newer metadata does not look like a change).
    async fn subscription_counts(&self, topics: &[String]) -> BTreeMap<String, i32> {
        let snap =
            match tokio::time::timeout(self.cfg.common.request_timeout, self.metadata.refresh())
                .await
            {
                Ok(Ok(snap)) => snap,
                _ => self.metadata.snapshot(),
            };
        topics
            .iter()
            .filter_map(|t| partition_count(&snap, t).map(|n| (t.clone(), n)))
            .collect()
    }

    /// The leader's job: assign the partitions of every member's topics. Returns the
    /// assignments and the partition counts they were computed from (0 for a topic that
    /// does not exist: it gets no partitions, and its creation triggers a rebalance).
    async fn lead(
        &self,
        protocol: &str,
        assignors: &[Box<dyn Assignor>],
        members: &[krafty_protocol::generated::join_group_response::JoinGroupResponseMember],
    ) -> Result<(Vec<SyncGroupRequestAssignment>, BTreeMap<String, i32>)> {
        let assignor = assignors
            .iter()
            .find(|a| a.name() == protocol)
            .ok_or_else(|| {
                Error::InvalidResponse(format!("group chose unknown protocol `{protocol}`"))
            })?;
        let mut subscriptions = BTreeMap::new();
        for m in members {
            let mut sub = assignor::decode_subscription_full(m.metadata.clone())?;
            // static members (KIP-345) are ordered by instance id, so a restart keeps them
            // in place
            sub.group_instance_id = m.group_instance_id.as_ref().map(|i| i.to_string());
            subscriptions.insert(m.member_id.to_string(), sub);
        }
        // the leader watches every topic of the group (Java's group subscription)
        let group_topics: std::collections::BTreeSet<String> = subscriptions
            .values()
            .flat_map(|s| s.topics.iter().cloned())
            .collect();
        self.metadata
            .add_topics(group_topics.iter().map(String::as_str));
        let deadline = Instant::now() + self.cfg.common.request_timeout;
        let snap = match tokio::time::timeout_at(deadline, self.metadata.refresh()).await {
            Ok(Ok(snap)) => snap,
            _ => self.metadata.snapshot(),
        };
        let mut watched = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for topic in &group_topics {
            let n = match partition_count(&snap, topic) {
                Some(n) => n,
                // no answer yet, or a topic being created: wait for it as before
                None => match self.metadata.topic(topic, deadline).await {
                    Ok(t) => i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
                    Err(e) => {
                        tracing::warn!(%topic, error = %e, "subscribed topic has no metadata");
                        0
                    }
                },
            };
            if n == 0 {
                tracing::info!(%topic, "subscribed topic does not exist: nothing to assign");
            } else {
                counts.insert(topic.clone(), n);
            }
            watched.insert(topic.clone(), n);
        }
        let plan = assignor.assign(&subscriptions, &counts);
        let assignments = plan
            .into_iter()
            .map(|(member, parts)| {
                Ok(SyncGroupRequestAssignment {
                    member_id: StrBytes::from(member),
                    assignment: assignor::encode_assignment(&parts.into_iter().collect())?,
                    ..Default::default()
                })
            })
            .collect::<Result<_>>()?;
        Ok((assignments, watched))
    }

    /// Sends one heartbeat; errors that need a rejoin set [`Self::rejoin_needed`].
    pub async fn heartbeat(&self) -> Result<()> {
        let m = self.member();
        if m.generation < 0 || m.member_id.is_empty() || self.joining.load(Ordering::SeqCst) {
            return Ok(());
        }
        let conn = self.coordinator().await?;
        let resp = conn
            .send(&HeartbeatRequest {
                group_id: self.group(),
                generation_id: m.generation,
                member_id: StrBytes::from(m.member_id),
                group_instance_id: self.instance(),
                ..Default::default()
            })
            .await?;
        match code_of(resp.error_code) {
            KafkaCode::None => Ok(()),
            KafkaCode::RebalanceInProgress => {
                self.rejoin_needed.store(true, Ordering::SeqCst);
                Ok(())
            }
            code => {
                self.on_error(code);
                Err(Error::broker(
                    resp.error_code,
                    format!("Heartbeat {}", self.group_id),
                ))
            }
        }
    }

    /// Commits `offsets` (the next offset to consume, per partition).
    ///
    /// A coordinator that is loading, moving or unavailable (COORDINATOR_LOAD_IN_PROGRESS,
    /// NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE) is retried
    /// with `retry.backoff.ms` until `request.timeout.ms`, as Java's `commitSync` retries
    /// them (after a coordinator failover the new one loads the group first).
    pub async fn commit(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        let deadline = Instant::now() + self.cfg.common.request_timeout;
        loop {
            match self.commit_once(offsets).await {
                Err(e) if coordinator_not_ready(&e) && Instant::now() < deadline => {
                    tracing::debug!(group = %self.group_id, error = %e, "commit: coordinator not ready, retrying");
                    tokio::time::sleep(self.cfg.common.retry_backoff).await;
                }
                other => return other,
            }
        }
    }

    async fn commit_once(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let m = self.member();
        let conn = self.coordinator().await?;
        let mut topics: BTreeMap<Arc<str>, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, offset) in offsets {
            topics
                .entry(tp.topic.clone())
                .or_default()
                .push(OffsetCommitRequestPartition {
                    partition_index: tp.partition,
                    committed_offset: *offset,
                    committed_leader_epoch: -1,
                    commit_timestamp: -1,
                    committed_metadata: Some(StrBytes::from_static_str("")),
                    ..Default::default()
                });
        }
        let req = OffsetCommitRequest {
            group_id: self.group(),
            generation_id_or_member_epoch: m.generation,
            member_id: StrBytes::from(m.member_id),
            group_instance_id: self.instance(),
            retention_time_ms: -1,
            topics: topics
                .into_iter()
                .map(|(t, partitions)| OffsetCommitRequestTopic {
                    name: StrBytes::from(t.to_string()),
                    partitions,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        for t in resp.topics {
            for p in t.partitions {
                if p.error_code != 0 {
                    self.on_error(code_of(p.error_code));
                    return Err(Error::broker(
                        p.error_code,
                        format!("OffsetCommit {}-{}", t.name, p.partition_index),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Committed offsets of `partitions` (absent: none committed). A read_committed
    /// consumer asks for stable offsets only (KIP-447 `require_stable`, as Java's consumer
    /// does): while a transaction's offsets for a partition are pending, the coordinator
    /// answers UNSTABLE_OFFSET_COMMIT, retried here until `request.timeout.ms`.
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        let deadline = Instant::now() + self.cfg.common.request_timeout;
        loop {
            match self.committed_once(partitions).await {
                Err(e)
                    if e.kafka_code() == Some(KafkaCode::UnstableOffsetCommit)
                        && Instant::now() < deadline =>
                {
                    tracing::debug!(group = %self.group_id, "unstable offsets, retrying");
                    tokio::time::sleep(self.cfg.common.retry_backoff).await;
                }
                other => return other,
            }
        }
    }

    async fn committed_once(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        let conn = self.coordinator().await?;
        let mut topics: BTreeMap<Arc<str>, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            topics
                .entry(tp.topic.clone())
                .or_default()
                .push(tp.partition);
        }
        let req = OffsetFetchRequest {
            group_id: self.group(),
            topics: Some(
                topics
                    .into_iter()
                    .map(|(t, partition_indexes)| OffsetFetchRequestTopic {
                        name: StrBytes::from(t.to_string()),
                        partition_indexes: partition_indexes.into_iter().collect(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            require_stable: self.cfg.isolation_level
                == crate::config::IsolationLevel::ReadCommitted,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        if resp.error_code != 0 {
            self.on_error(code_of(resp.error_code));
            return Err(Error::broker(
                resp.error_code,
                format!("OffsetFetch {}", self.group_id),
            ));
        }
        let mut out = HashMap::new();
        for t in resp.topics {
            for p in t.partitions {
                if p.error_code != 0 {
                    return Err(Error::broker(
                        p.error_code,
                        format!("OffsetFetch {}-{}", t.name, p.partition_index),
                    ));
                }
                if p.committed_offset >= 0 {
                    out.insert(
                        TopicPartition::new(&*t.name, p.partition_index),
                        p.committed_offset,
                    );
                }
            }
        }
        Ok(out)
    }

    /// Leaves the group (best effort).
    pub async fn leave(&self) -> Result<()> {
        let m = self.member();
        if m.member_id.is_empty() {
            return Ok(());
        }
        let conn = self.coordinator().await?;
        let version = conn.version(ApiKey::LeaveGroup)?;
        let req = if version >= 3 {
            LeaveGroupRequest {
                group_id: self.group(),
                members: vec![MemberIdentity {
                    member_id: StrBytes::from(m.member_id),
                    group_instance_id: self.instance(),
                    reason: None,
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            LeaveGroupRequest {
                group_id: self.group(),
                member_id: StrBytes::from(m.member_id),
                ..Default::default()
            }
        };
        let resp = conn.enqueue_raw(version, &req)?.wait().await?;
        self.update(|m| {
            m.member_id.clear();
            m.generation = -1;
        });
        if resp.error_code != 0 {
            return Err(Error::broker(
                resp.error_code,
                format!("LeaveGroup {}", self.group_id),
            ));
        }
        Ok(())
    }
}
