//! The group coordinator: JoinGroup / SyncGroup / Heartbeat / LeaveGroup transitions,
//! rebalance and session timeouts, `group.initial.rebalance.delay.ms`, and offset commits.
//!
//! Owns: every [`Group`] (one lock for all groups; operations are short) and the sweeper
//! task that completes timed-out rebalances and expires silent members. Must not: encode
//! responses (the handlers do).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use krafty_protocol::records::{Compression, RecordBatchBuilder};

use super::offsets::records::{self as group_records, Replayed};
use super::offsets::CommittedOffset;
use super::state::{Group, GroupState, JoinResult, Member, SyncResult};
use crate::broker::{now_ms, BrokerState};
use crate::config::BrokerConfig;
use crate::error::code;
use crate::partition::Partition;

/// A JoinGroup request, as the coordinator needs it.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Group id.
    pub group_id: String,
    /// Member id ("" for a new member).
    pub member_id: String,
    /// Static member id.
    pub group_instance_id: Option<String>,
    /// JoinGroup version (MEMBER_ID_REQUIRED only from v4).
    pub version: i16,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Session timeout (ms).
    pub session_timeout_ms: i32,
    /// Rebalance timeout (ms).
    pub rebalance_timeout_ms: i32,
    /// Protocol type.
    pub protocol_type: String,
    /// Protocols with metadata.
    pub protocols: Vec<(String, Bytes)>,
}

/// An answer now or later.
#[derive(Debug)]
pub enum Answer<T> {
    /// Now.
    Now(T),
    /// When the group gets there.
    Later(oneshot::Receiver<T>),
}

/// The group coordinator.
#[derive(Debug)]
pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Group>>,
    initial_delay: Duration,
    min_session_ms: i32,
    max_session_ms: i32,
    offsets_retention_ms: i64,
    next_member: AtomicU64,
    store: OnceLock<Arc<Partition>>,
}

type StoredRecord = (Bytes, Option<Bytes>);

fn join_error(error: i16, member_id: &str) -> JoinResult {
    JoinResult {
        error,
        generation: -1,
        member_id: member_id.to_string(),
        ..Default::default()
    }
}

fn sync_error(error: i16) -> SyncResult {
    SyncResult {
        error,
        ..Default::default()
    }
}

impl GroupCoordinator {
    /// A coordinator with the broker's group settings.
    pub fn new(c: &BrokerConfig) -> Self {
        GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            initial_delay: c.initial_rebalance_delay(),
            min_session_ms: c.group_min_session_timeout_ms,
            max_session_ms: c.group_max_session_timeout_ms,
            offsets_retention_ms: c.offsets_retention_minutes.saturating_mul(60_000),
            next_member: AtomicU64::new(1),
            store: OnceLock::new(),
        }
    }

    /// Replays the `__consumer_offsets` partition into memory, then persists every later
    /// commit and group change to it. Groups come back Empty at their stored generation
    /// (members re-join); offsets come back as committed.
    pub fn attach_store(&self, partition: Arc<Partition>) {
        let replayed = {
            let st = partition.lock();
            let mut groups = self.lock();
            crate::log::replay::replay_keyed(&st.log, "__consumer_offsets", |key, value| {
                match group_records::parse(key, value) {
                    Some(rec) => {
                        apply(&mut groups, rec);
                        true
                    }
                    None => false,
                }
            })
        };
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed __consumer_offsets");
        }
        let _ = self.store.set(partition);
    }

    /// Appends `records` to `__consumer_offsets` as one batch. Without an attached store
    /// (a coordinator used in memory only) there is nothing to write. A failed append is
    /// the error code the client gets, mapped as Kafka's GroupMetadataManager maps append
    /// errors: KAFKA_STORAGE_ERROR -> NOT_COORDINATOR, MESSAGE_TOO_LARGE /
    /// RECORD_LIST_TOO_LARGE -> INVALID_COMMIT_OFFSET_SIZE, anything else ->
    /// COORDINATOR_NOT_AVAILABLE.
    fn persist(&self, records: Vec<StoredRecord>) -> Result<(), i16> {
        let Some(p) = self.store.get() else {
            return Ok(());
        };
        if records.is_empty() {
            return Ok(());
        }
        let mut b = RecordBatchBuilder::new(Compression::None);
        let now = now_ms();
        for (k, v) in &records {
            if let Err(e) = b.append(now, Some(k.as_ref()), v.as_deref()) {
                tracing::error!(error = ?e, "could not build a group record");
                return Err(code::COORDINATOR_NOT_AVAILABLE);
            }
        }
        let bytes = b.finish().map_err(|e| {
            tracing::error!(error = ?e, "could not build a group batch");
            code::COORDINATOR_NOT_AVAILABLE
        })?;
        p.append(vec![bytes.to_vec()]).map(|_| ()).map_err(|c| {
            tracing::error!(code = c, "could not persist group records");
            match c {
                code::KAFKA_STORAGE_ERROR => code::NOT_COORDINATOR,
                code::MESSAGE_TOO_LARGE | code::RECORD_LIST_TOO_LARGE => {
                    code::INVALID_COMMIT_OFFSET_SIZE
                }
                _ => code::COORDINATOR_NOT_AVAILABLE,
            }
        })
    }

    /// Persists the group's metadata record; a failure is logged (the group lives on in
    /// memory; its next change writes the record again).
    fn persist_group(&self, g: &Group) {
        if let Some(r) = group_records::group_metadata(g, now_ms()) {
            if let Err(c) = self.persist(vec![r]) {
                tracing::warn!(group = %g.id, code = c, "group metadata not persisted");
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new member id as Kafka's classic group coordinator makes it: the group instance id
    /// (static members) or the client id, `-`, and a random-looking version-4 UUID in its
    /// 36-character text form (`console-consumer-1b4e28ba-2fa1-41d2-883f-0016d3cca427`).
    fn new_member_id(&self, client_id: &str, instance_id: Option<&str>) -> String {
        let n = self.next_member.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}", instance_id.unwrap_or(client_id), uuid_v4_text(n))
    }

    /// Handles a JoinGroup.
    pub fn join(&self, req: JoinRequest) -> Answer<JoinResult> {
        if req.group_id.is_empty() {
            return Answer::Now(join_error(code::INVALID_GROUP_ID, &req.member_id));
        }
        if req.session_timeout_ms < self.min_session_ms
            || req.session_timeout_ms > self.max_session_ms
        {
            return Answer::Now(join_error(code::INVALID_SESSION_TIMEOUT, &req.member_id));
        }
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return Answer::Now(join_error(
                code::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            ));
        }
        let mut groups = self.lock();
        let g = groups
            .entry(req.group_id.clone())
            .or_insert_with(|| Group::new(&req.group_id));
        let known = g.members.contains_key(&req.member_id);
        if !known && !g.supports(&req.protocol_type, &req.protocols) {
            return Answer::Now(join_error(
                code::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            ));
        }
        let static_owner = req.group_instance_id.as_ref().and_then(|inst| {
            g.members
                .values()
                .find(|m| m.group_instance_id.as_ref() == Some(inst))
                .map(|m| m.id.clone())
        });
        if let Some(owner) = &static_owner {
            if !req.member_id.is_empty() && *owner != req.member_id {
                return Answer::Now(join_error(code::FENCED_INSTANCE_ID, &req.member_id));
            }
        }
        let member_id = if req.member_id.is_empty() && req.group_instance_id.is_some() {
            // a static member (KIP-345) gets its id at once; a known instance id takes over
            // the old member (whose pending requests are fenced)
            let id = self.new_member_id(&req.client_id, req.group_instance_id.as_deref());
            if let Some(old) = static_owner {
                self.replace_member(g, &old, &id);
                if let Some(answer) = self.static_rejoin_without_rebalance(g, &id, &req) {
                    return answer;
                }
            }
            id
        } else if req.member_id.is_empty() {
            let id = self.new_member_id(&req.client_id, None);
            if req.version >= 4 {
                g.pending_members.insert(id.clone(), Instant::now());
                return Answer::Now(join_error(code::MEMBER_ID_REQUIRED, &id));
            }
            id
        } else if known || g.pending_members.remove(&req.member_id).is_some() {
            req.member_id.clone()
        } else {
            return Answer::Now(join_error(code::UNKNOWN_MEMBER_ID, &req.member_id));
        };
        let (tx, rx) = oneshot::channel();
        let rebalance_ms = if req.rebalance_timeout_ms > 0 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        };
        let member = g
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                id: member_id.clone(),
                group_instance_id: req.group_instance_id.clone(),
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                session_timeout: Duration::ZERO,
                rebalance_timeout: Duration::ZERO,
                protocols: Vec::new(),
                assignment: Bytes::new(),
                join_tx: None,
                sync_tx: None,
                last_heartbeat: Instant::now(),
            });
        member.session_timeout = Duration::from_millis(req.session_timeout_ms as u64);
        member.rebalance_timeout = Duration::from_millis(rebalance_ms as u64);
        member.protocols = req.protocols;
        member.join_tx = Some(tx);
        member.last_heartbeat = Instant::now();
        if g.members.len() == 1 || g.protocol_type.is_none() {
            g.protocol_type = Some(req.protocol_type);
        }
        if g.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(g);
        }
        self.try_complete_join(g, Instant::now());
        Answer::Later(rx)
    }

    /// KIP-345: a static member that restarts while the group is Stable, offering the
    /// same protocols, gets the current generation back at once — no rebalance — and its
    /// previous assignment from SyncGroup. `None`: a rebalance is needed after all.
    fn static_rejoin_without_rebalance(
        &self,
        g: &mut Group,
        id: &str,
        req: &JoinRequest,
    ) -> Option<Answer<JoinResult>> {
        if g.state != GroupState::Stable {
            return None;
        }
        let m = g.members.get_mut(id)?;
        // as Kafka: only a change of protocols (not of their metadata, e.g. a fresh
        // subscription's generation) would change the group's choice
        let names = |p: &[(String, Bytes)]| p.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        if names(&m.protocols) != names(&req.protocols) {
            return None;
        }
        m.protocols = req.protocols.clone();
        m.session_timeout =
            Duration::from_millis(u64::try_from(req.session_timeout_ms).unwrap_or(0));
        m.last_heartbeat = Instant::now();
        m.client_id = req.client_id.clone();
        m.client_host = req.client_host.clone();
        let leader = g.leader.clone().unwrap_or_default();
        let protocol = g.protocol.clone().unwrap_or_default();
        let members = if leader == id {
            g.members
                .values()
                .map(|m| {
                    (
                        m.id.clone(),
                        m.group_instance_id.clone(),
                        m.metadata(&protocol),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        tracing::info!(group = %g.id, member = id, generation = g.generation, "static member rejoined without a rebalance");
        self.persist_group(g);
        Some(Answer::Now(JoinResult {
            error: code::NONE,
            generation: g.generation,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol.clone(),
            leader,
            member_id: id.to_string(),
            members,
        }))
    }

    fn replace_member(&self, g: &mut Group, old: &str, new: &str) {
        if let Some(mut m) = g.members.remove(old) {
            if let Some(tx) = m.join_tx.take() {
                let _ = tx.send(join_error(code::FENCED_INSTANCE_ID, old));
            }
            if let Some(tx) = m.sync_tx.take() {
                let _ = tx.send(sync_error(code::FENCED_INSTANCE_ID));
            }
            tracing::info!(group = %g.id, old, new, "static member replaced");
            m.id = new.to_string();
            if g.leader.as_deref() == Some(old) {
                g.leader = Some(new.to_string());
            }
            g.members.insert(new.to_string(), m);
        }
    }

    fn prepare_rebalance(&self, g: &mut Group) {
        if g.state == GroupState::CompletingRebalance {
            for m in g.members.values_mut() {
                if let Some(tx) = m.sync_tx.take() {
                    let _ = tx.send(sync_error(code::REBALANCE_IN_PROGRESS));
                }
            }
        }
        let was_empty = g.state == GroupState::Empty;
        g.state = GroupState::PreparingRebalance;
        let timeout = g
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO);
        let now = Instant::now();
        g.rebalance_deadline = Some(now + timeout);
        g.initial_delay_until = (was_empty && !self.initial_delay.is_zero())
            .then(|| now + self.initial_delay.min(timeout));
        tracing::debug!(group = %g.id, "preparing rebalance");
    }

    fn try_complete_join(&self, g: &mut Group, now: Instant) {
        if g.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = g.members.values().all(|m| m.join_tx.is_some());
        let delay_over = g.initial_delay_until.is_none_or(|t| now >= t);
        let timed_out = g.rebalance_deadline.is_some_and(|t| now >= t);
        if (all_joined && delay_over) || timed_out {
            self.complete_join(g);
        }
    }

    fn complete_join(&self, g: &mut Group) {
        let gone: Vec<String> = g
            .members
            .values()
            .filter(|m| m.join_tx.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(group = %g.id, member = %id, "member did not rejoin in time; removed");
            g.members.remove(&id);
        }
        g.generation += 1;
        g.rebalance_deadline = None;
        g.initial_delay_until = None;
        if g.members.is_empty() {
            g.state = GroupState::Empty;
            g.protocol = None;
            // the protocol type stays (Java's ClassicGroup keeps it): ListGroups and
            // DescribeGroups still say "consumer" for an empty group with offsets
            g.leader = None;
            self.persist_group(g);
            return;
        }
        if !g.leader.as_ref().is_some_and(|l| g.members.contains_key(l)) {
            g.leader = g.members.keys().next().cloned();
        }
        g.protocol = g.select_protocol();
        g.state = GroupState::CompletingRebalance;
        let protocol = g.protocol.clone().unwrap_or_default();
        let leader = g.leader.clone().unwrap_or_default();
        let all: Vec<(String, Option<String>, Bytes)> = g
            .members
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    m.group_instance_id.clone(),
                    m.metadata(&protocol),
                )
            })
            .collect();
        let now = Instant::now();
        for m in g.members.values_mut() {
            m.last_heartbeat = now;
            if let Some(tx) = m.join_tx.take() {
                let _ = tx.send(JoinResult {
                    error: code::NONE,
                    generation: g.generation,
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        all.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
        tracing::info!(group = %g.id, generation = g.generation, members = g.members.len(), "rebalance completed");
    }

    /// Handles a SyncGroup.
    pub fn sync(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        assignments: Vec<(String, Bytes)>,
    ) -> Answer<SyncResult> {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return Answer::Now(sync_error(code::UNKNOWN_MEMBER_ID));
        };
        if !g.members.contains_key(member_id) {
            return Answer::Now(sync_error(code::UNKNOWN_MEMBER_ID));
        }
        if generation != g.generation {
            return Answer::Now(sync_error(code::ILLEGAL_GENERATION));
        }
        let ok = |g: &Group, assignment: Bytes| SyncResult {
            error: code::NONE,
            assignment,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol.clone(),
        };
        match g.state {
            GroupState::Empty | GroupState::Dead => {
                Answer::Now(sync_error(code::UNKNOWN_MEMBER_ID))
            }
            GroupState::PreparingRebalance => Answer::Now(sync_error(code::REBALANCE_IN_PROGRESS)),
            GroupState::Stable => {
                let a = g
                    .members
                    .get(member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                Answer::Now(ok(g, a))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = g.members.get_mut(member_id) {
                    m.sync_tx = Some(tx);
                    m.last_heartbeat = Instant::now();
                }
                if g.leader.as_deref() == Some(member_id) {
                    let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
                    for m in g.members.values_mut() {
                        m.assignment = given.remove(&m.id).unwrap_or_default();
                    }
                    g.state = GroupState::Stable;
                    let results: Vec<(Option<oneshot::Sender<SyncResult>>, Bytes)> = g
                        .members
                        .values_mut()
                        .map(|m| (m.sync_tx.take(), m.assignment.clone()))
                        .collect();
                    for (tx, a) in results {
                        if let Some(tx) = tx {
                            let _ = tx.send(ok(g, a));
                        }
                    }
                    tracing::debug!(group = %g.id, generation = g.generation, "group stable");
                    self.persist_group(g);
                }
                Answer::Later(rx)
            }
        }
    }

    /// Handles a Heartbeat; returns the error code.
    pub fn heartbeat(&self, group_id: &str, generation: i32, member_id: &str) -> i16 {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return code::UNKNOWN_MEMBER_ID;
        };
        let state = g.state;
        let current = g.generation;
        let Some(m) = g.members.get_mut(member_id) else {
            return code::UNKNOWN_MEMBER_ID;
        };
        match state {
            GroupState::Empty | GroupState::Dead => code::UNKNOWN_MEMBER_ID,
            _ if generation != current => code::ILLEGAL_GENERATION,
            GroupState::PreparingRebalance => {
                m.last_heartbeat = Instant::now();
                code::REBALANCE_IN_PROGRESS
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                m.last_heartbeat = Instant::now();
                code::NONE
            }
        }
    }

    fn remove_member(&self, g: &mut Group, member_id: &str) {
        if let Some(mut m) = g.members.remove(member_id) {
            if let Some(tx) = m.join_tx.take() {
                let _ = tx.send(join_error(code::UNKNOWN_MEMBER_ID, member_id));
            }
            if let Some(tx) = m.sync_tx.take() {
                let _ = tx.send(sync_error(code::UNKNOWN_MEMBER_ID));
            }
        }
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(g);
                self.try_complete_join(g, Instant::now());
            }
            GroupState::PreparingRebalance => self.try_complete_join(g, Instant::now()),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Handles a LeaveGroup: the error code per member id.
    /// A member is named by its id, or (static members, `""` id) by its instance id.
    pub fn leave(&self, group_id: &str, members: &[(String, Option<String>)]) -> Vec<i16> {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return members.iter().map(|_| code::UNKNOWN_MEMBER_ID).collect();
        };
        members
            .iter()
            .map(|(id, instance)| {
                let by_instance = instance.as_ref().and_then(|inst| {
                    g.members
                        .values()
                        .find(|m| m.group_instance_id.as_ref() == Some(inst))
                        .map(|m| m.id.clone())
                });
                let id = match (by_instance, id.is_empty()) {
                    (Some(owner), true) => owner,
                    (Some(owner), false) if owner != *id => return code::FENCED_INSTANCE_ID,
                    _ => id.clone(),
                };
                let id = &id;
                if g.members.contains_key(id) {
                    tracing::info!(group = %group_id, member = %id, "member left");
                    self.remove_member(g, id);
                    code::NONE
                } else {
                    code::UNKNOWN_MEMBER_ID
                }
            })
            .collect()
    }

    /// Checks whether an OffsetCommit may commit, creating the group for a standalone
    /// commit (generation < 0, no member id).
    pub fn commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        offsets: Vec<(String, i32, CommittedOffset)>,
    ) -> i16 {
        if group_id.is_empty() {
            return code::INVALID_GROUP_ID;
        }
        let mut groups = self.lock();
        if !groups.contains_key(group_id) {
            if generation >= 0 {
                return code::ILLEGAL_GENERATION;
            }
            groups.insert(group_id.to_string(), Group::new(group_id));
        }
        let Some(g) = groups.get_mut(group_id) else {
            return code::UNKNOWN_SERVER_ERROR;
        };
        // Kafka's rules (ClassicGroup.validateOffsetCommit): an admin commit (generation
        // -1, no member) needs an Empty group; a member's commit needs its current
        // generation and is refused only while the group waits for the leader's
        // assignment (CompletingRebalance) — during PreparingRebalance members may still
        // commit what they consumed in the generation that is ending.
        let allowed = if generation < 0 && member_id.is_empty() {
            if g.state == GroupState::Empty {
                code::NONE
            } else {
                code::UNKNOWN_MEMBER_ID
            }
        } else if !g.members.contains_key(member_id) {
            code::UNKNOWN_MEMBER_ID
        } else if generation != g.generation {
            code::ILLEGAL_GENERATION
        } else if g.state == GroupState::CompletingRebalance {
            code::REBALANCE_IN_PROGRESS
        } else {
            code::NONE
        };
        if allowed == code::NONE {
            if let Some(m) = g.members.get_mut(member_id) {
                m.last_heartbeat = Instant::now();
            }
            let records: Vec<StoredRecord> = offsets
                .iter()
                .filter_map(|(t, p, o)| group_records::offset_commit(group_id, t, *p, Some(o)))
                .collect();
            // acknowledged only once stored: a failed append commits nothing
            if let Err(c) = self.persist(records) {
                return c;
            }
            for (t, p, o) in offsets {
                g.offsets.commit(&t, p, o);
            }
        }
        allowed
    }

    /// Checks a TxnOffsetCommit's member (KIP-447, v3+): with a generation >= 0 the group
    /// must know the member (UNKNOWN_MEMBER_ID) at that generation (ILLEGAL_GENERATION).
    /// Without a generation (-1), anyone may commit, as Kafka allows producers that carry
    /// no group metadata.
    pub fn check_txn_member(&self, group_id: &str, generation: i32, member_id: &str) -> i16 {
        if group_id.is_empty() {
            return code::INVALID_GROUP_ID;
        }
        if generation < 0 {
            return code::NONE;
        }
        let groups = self.lock();
        let Some(g) = groups.get(group_id) else {
            return code::ILLEGAL_GENERATION;
        };
        if !g.members.contains_key(member_id) {
            code::UNKNOWN_MEMBER_ID
        } else if generation != g.generation {
            code::ILLEGAL_GENERATION
        } else {
            code::NONE
        }
    }

    /// Stores the offsets of a committed transaction (whatever the group's state: the
    /// transaction coordinator already decided), creating the group if needed; persisted to
    /// `__consumer_offsets` before they become visible.
    pub fn commit_transactional(
        &self,
        group_id: &str,
        offsets: Vec<(String, i32, CommittedOffset)>,
    ) -> i16 {
        let mut groups = self.lock();
        let g = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id));
        let records: Vec<StoredRecord> = offsets
            .iter()
            .filter_map(|(t, p, o)| group_records::offset_commit(group_id, t, *p, Some(o)))
            .collect();
        if let Err(c) = self.persist(records) {
            return c;
        }
        for (t, p, o) in offsets {
            g.offsets.commit(&t, p, o);
        }
        code::NONE
    }

    /// Deletes an Empty group and its offsets (DeleteGroups); tombstones are persisted.
    /// Errors: GROUP_ID_NOT_FOUND (69), NON_EMPTY_GROUP (68), INVALID_GROUP_ID (24).
    pub fn delete_group(&self, group_id: &str) -> i16 {
        if group_id.is_empty() {
            return code::INVALID_GROUP_ID;
        }
        let mut groups = self.lock();
        let Some(g) = groups.get(group_id) else {
            return code::GROUP_ID_NOT_FOUND;
        };
        if g.state != GroupState::Empty {
            return code::NON_EMPTY_GROUP;
        }
        let mut records: Vec<StoredRecord> = g
            .offsets
            .all()
            .filter_map(|((t, p), _)| group_records::offset_commit(group_id, t, *p, None))
            .collect();
        if let Some((key, _)) = group_records::group_metadata(g, now_ms()) {
            records.push((key, None));
        }
        if let Err(c) = self.persist(records) {
            return c;
        }
        groups.remove(group_id);
        tracing::info!(group = group_id, "deleted group");
        code::NONE
    }

    /// Deletes committed offsets of a group (OffsetDelete) for partitions of topics no
    /// member is subscribed to; tombstones are persisted. The outer error is the group's
    /// (GROUP_ID_NOT_FOUND 69, INVALID_GROUP_ID 24, NON_EMPTY_GROUP 68 for a non-consumer
    /// group with members); per partition GROUP_SUBSCRIBED_TO_TOPIC (86) or NONE.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<i16>, i16> {
        if group_id.is_empty() {
            return Err(code::INVALID_GROUP_ID);
        }
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return Err(code::GROUP_ID_NOT_FOUND);
        };
        let subscribed: Option<Vec<String>> = if g.state == GroupState::Empty {
            Some(Vec::new())
        } else if g.protocol_type.as_deref() == Some("consumer") {
            let protocol = g.protocol.clone().unwrap_or_default();
            let mut topics = Vec::new();
            for m in g.members.values() {
                match subscription_topics(&m.metadata(&protocol)) {
                    Some(t) => topics.extend(t),
                    None => return Err(code::NON_EMPTY_GROUP),
                }
            }
            Some(topics)
        } else {
            None
        };
        let Some(subscribed) = subscribed else {
            return Err(code::NON_EMPTY_GROUP);
        };
        let mut tombstones = Vec::new();
        let mut gone = Vec::new();
        let codes = partitions
            .iter()
            .map(|(t, p)| {
                if subscribed.iter().any(|s| s == t) {
                    return GROUP_SUBSCRIBED_TO_TOPIC;
                }
                if g.offsets.get(t, *p).is_some() {
                    gone.push((t.clone(), *p));
                    tombstones.extend(group_records::offset_commit(group_id, t, *p, None));
                }
                code::NONE
            })
            .collect();
        // removed from memory only once the tombstones are stored
        self.persist(tombstones)?;
        for (t, p) in gone {
            g.offsets.remove(&t, p);
        }
        Ok(codes)
    }

    /// The committed offset of a partition.
    pub fn committed(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<CommittedOffset> {
        self.lock()
            .get(group_id)
            .and_then(|g| g.offsets.get(topic, partition).cloned())
    }

    /// Every committed offset of a group.
    pub fn all_committed(&self, group_id: &str) -> Vec<(String, i32, CommittedOffset)> {
        self.lock()
            .get(group_id)
            .map(|g| {
                g.offsets
                    .all()
                    .map(|((t, p), o)| (t.clone(), *p, o.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `(group id, protocol type, state)` of every group.
    pub fn list(&self) -> Vec<(String, String, &'static str)> {
        let mut v: Vec<_> = self
            .lock()
            .values()
            .map(|g| {
                (
                    g.id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state.name(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Runs `f` on a group, if it exists.
    pub fn with_group<T>(&self, group_id: &str, f: impl FnOnce(&Group) -> T) -> Option<T> {
        self.lock().get(group_id).map(f)
    }

    /// Completes due rebalances and expires silent members and stale offsets.
    pub fn tick(&self, now: Instant) {
        let mut groups = self.lock();
        let cutoff = now_ms() - self.offsets_retention_ms;
        for g in groups.values_mut() {
            self.try_complete_join(g, now);
            let expired: Vec<String> = g
                .members
                .values()
                .filter(|m| {
                    m.join_tx.is_none() && now.duration_since(m.last_heartbeat) > m.session_timeout
                })
                .map(|m| m.id.clone())
                .collect();
            for id in expired {
                tracing::info!(group = %g.id, member = %id, "session timed out; member removed");
                self.remove_member(g, &id);
            }
            g.pending_members
                .retain(|_, t| now.duration_since(*t) < Duration::from_secs(300));
            if g.state == GroupState::Empty {
                let gone = g.offsets.expire(cutoff);
                let tombstones: Vec<StoredRecord> = gone
                    .iter()
                    .filter_map(|(t, p)| group_records::offset_commit(&g.id, t, *p, None))
                    .collect();
                if let Err(c) = self.persist(tombstones) {
                    tracing::warn!(group = %g.id, code = c, "expired offsets' tombstones not persisted");
                }
            }
        }
    }
}

/// Kafka's GROUP_SUBSCRIBED_TO_TOPIC.
pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

/// The topics of a consumer protocol subscription (2-byte version, then the struct).
fn subscription_topics(metadata: &Bytes) -> Option<Vec<String>> {
    use krafty_protocol::generated::ConsumerProtocolSubscription;
    use krafty_protocol::message::Decode;
    if metadata.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([metadata[0], metadata[1]]).clamp(0, 3);
    let mut rest = metadata.slice(2..);
    let s = ConsumerProtocolSubscription::decode(&mut rest, version).ok()?;
    Some(s.topics.iter().map(|t| t.to_string()).collect())
}

fn apply(groups: &mut HashMap<String, Group>, rec: Replayed) {
    match rec {
        Replayed::Offset {
            group,
            topic,
            partition,
            value,
        } => {
            let g = groups
                .entry(group.clone())
                .or_insert_with(|| Group::new(&group));
            match value {
                Some(v) => g.offsets.commit(&topic, partition, v),
                None => g.offsets.remove(&topic, partition),
            }
        }
        Replayed::Group { group, value } => match value {
            Some(v) => {
                let g = groups
                    .entry(group.clone())
                    .or_insert_with(|| Group::new(&group));
                g.generation = v.generation;
                g.protocol_type =
                    (!v.protocol_type.is_empty()).then(|| v.protocol_type.to_string());
            }
            None => {
                groups.remove(&group);
            }
        },
    }
}

/// Ticks the coordinator every 50 ms until shutdown.
pub async fn sweeper(state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let mut every = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = every.tick() => state.groups.tick(Instant::now()),
        }
    }
}

/// A version-4 UUID text (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`) from the clock and a
/// per-broker counter, mixed so that ids differ in every position; unique, not secret.
fn uuid_v4_text(counter: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut v = (nanos ^ (u128::from(counter) << 64 | u128::from(counter)))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    v ^= v >> 61;
    v = v.wrapping_mul(0xbf58_476d_1ce4_e5b9_94d0_49bb_1331_11eb);
    let mut b = v.to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn coord(delay_ms: u64) -> GroupCoordinator {
        let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), "/tmp/unused");
        c.group_initial_rebalance_delay_ms = delay_ms;
        GroupCoordinator::new(&c)
    }

    fn join(member: &str, version: i16) -> JoinRequest {
        JoinRequest {
            group_id: "g".into(),
            member_id: member.into(),
            group_instance_id: None,
            version,
            client_id: "c".into(),
            client_host: "h".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
        }
    }

    fn state(c: &GroupCoordinator) -> GroupState {
        c.with_group("g", |g| g.state).unwrap()
    }

    #[test]
    fn member_id_required_only_from_v4() {
        let c = coord(0);
        let Answer::Now(r) = c.join(join("", 4)) else {
            panic!("v4 must answer now")
        };
        assert_eq!(r.error, code::MEMBER_ID_REQUIRED);
        let Answer::Later(mut rx) = c.join(join(&r.member_id, 4)) else {
            panic!()
        };
        assert_eq!(rx.try_recv().unwrap().error, 0);
        let c = coord(0);
        let Answer::Later(mut rx) = c.join(join("", 1)) else {
            panic!("v1 joins directly")
        };
        let r = rx.try_recv().unwrap();
        assert_eq!(r.error, 0);
        assert!(!r.member_id.is_empty());
    }

    #[test]
    fn transitions_join_sync_heartbeat_leave() {
        let c = coord(0);
        let Answer::Later(mut rx) = c.join(join("", 1)) else {
            panic!()
        };
        let j = rx.try_recv().unwrap();
        assert_eq!((j.generation, j.leader == j.member_id), (1, true));
        assert_eq!(state(&c), GroupState::CompletingRebalance);
        assert_eq!(c.heartbeat("g", 1, &j.member_id), 0);
        let early = CommittedOffset {
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: now_ms(),
        };
        assert_eq!(
            c.commit("g", 1, &j.member_id, vec![("t".into(), 0, early)]),
            code::REBALANCE_IN_PROGRESS,
            "no commits while the leader's assignment is awaited"
        );
        let Answer::Later(mut s) = c.sync(
            "g",
            1,
            &j.member_id,
            vec![(j.member_id.clone(), Bytes::from_static(b"a"))],
        ) else {
            panic!()
        };
        assert_eq!(s.try_recv().unwrap().assignment, Bytes::from_static(b"a"));
        assert_eq!(state(&c), GroupState::Stable);
        assert_eq!(c.heartbeat("g", 0, &j.member_id), code::ILLEGAL_GENERATION);
        // a second member triggers a rebalance; the first must rejoin
        let Answer::Later(mut rx2) = c.join(join("", 1)) else {
            panic!()
        };
        assert_eq!(state(&c), GroupState::PreparingRebalance);
        assert_eq!(
            c.heartbeat("g", 1, &j.member_id),
            code::REBALANCE_IN_PROGRESS
        );
        // a member may still commit what it consumed in the ending generation
        let o = CommittedOffset {
            offset: 7,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: now_ms(),
        };
        assert_eq!(
            c.commit("g", 1, &j.member_id, vec![("t".into(), 0, o.clone())]),
            0
        );
        assert_eq!(
            c.commit("g", 0, &j.member_id, vec![("t".into(), 0, o.clone())]),
            code::ILLEGAL_GENERATION
        );
        assert_eq!(
            c.commit("g", -1, "", vec![("t".into(), 0, o.clone())]),
            code::UNKNOWN_MEMBER_ID
        );
        let Answer::Later(mut rx1) = c.join(join(&j.member_id, 1)) else {
            panic!()
        };
        let (a, b) = (rx1.try_recv().unwrap(), rx2.try_recv().unwrap());
        assert_eq!((a.generation, b.generation), (2, 2));
        assert_eq!(a.members.len(), 2, "leader sees every member");
        assert_eq!(c.leave("g", &[(b.member_id.clone(), None)]), vec![0]);
        assert_eq!(state(&c), GroupState::PreparingRebalance);
        assert_eq!(c.leave("g", &[(a.member_id.clone(), None)]), vec![0]);
        assert_eq!(state(&c), GroupState::Empty);
    }

    #[test]
    fn static_member_restart_in_a_stable_group_skips_the_rebalance() {
        let c = coord(0);
        let mut j = join("", 5);
        j.group_instance_id = Some("inst-1".into());
        let Answer::Later(mut rx) = c.join(j.clone()) else {
            panic!()
        };
        let first = rx.try_recv().unwrap();
        let Answer::Later(mut s) = c.sync(
            "g",
            first.generation,
            &first.member_id,
            vec![(first.member_id.clone(), Bytes::from_static(b"a"))],
        ) else {
            panic!()
        };
        assert_eq!(s.try_recv().unwrap().assignment, Bytes::from_static(b"a"));
        assert_eq!(state(&c), GroupState::Stable);
        // the instance restarts: answered at once, same generation, new member id
        let Answer::Now(again) = c.join(j.clone()) else {
            panic!("a static rejoin of a stable group must not wait for a rebalance")
        };
        assert_eq!(again.error, 0);
        assert_eq!(again.generation, first.generation);
        assert_ne!(again.member_id, first.member_id);
        assert_eq!(again.leader, again.member_id, "it was the leader");
        assert_eq!(state(&c), GroupState::Stable);
        let Answer::Now(s) = c.sync("g", again.generation, &again.member_id, vec![]) else {
            panic!()
        };
        assert_eq!(
            s.assignment,
            Bytes::from_static(b"a"),
            "its previous assignment"
        );
        // different protocols do need a rebalance
        let mut other = j.clone();
        other.protocols = vec![
            ("range".into(), Bytes::from_static(b"m")),
            ("roundrobin".into(), Bytes::new()),
        ];
        let answer = c.join(other);
        assert!(matches!(answer, Answer::Later(_) | Answer::Now(_)));
        assert_ne!(state(&c), GroupState::Stable);
    }

    #[test]
    fn static_members_join_at_once_and_replace_their_instance() {
        let c = coord(0);
        let mut j = join("", 5);
        j.group_instance_id = Some("inst-1".into());
        let Answer::Later(mut rx) = c.join(j.clone()) else {
            panic!("no 79 for static members")
        };
        let first = rx.try_recv().unwrap();
        assert_eq!(first.error, 0);
        // the same instance restarts: new member id, the old one is fenced
        let Answer::Later(mut rx) = c.join(j.clone()) else {
            panic!()
        };
        let second = rx.try_recv().unwrap();
        assert_ne!(second.member_id, first.member_id);
        assert_eq!(c.with_group("g", |g| g.members.len()).unwrap(), 1);
        let mut stale = j.clone();
        stale.member_id = first.member_id.clone();
        let Answer::Now(r) = c.join(stale) else {
            panic!()
        };
        assert_eq!(r.error, code::FENCED_INSTANCE_ID);
        assert_eq!(
            c.leave("g", &[(String::new(), Some("inst-1".into()))]),
            vec![0]
        );
        assert_eq!(state(&c), GroupState::Empty);
    }

    #[test]
    fn delete_group_requires_empty() {
        let c = coord(0);
        assert_eq!(c.delete_group("nope"), code::GROUP_ID_NOT_FOUND);
        let Answer::Later(_rx) = c.join(join("", 1)) else {
            panic!()
        };
        assert_eq!(c.delete_group("g"), code::NON_EMPTY_GROUP);
        let o = CommittedOffset {
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: now_ms(),
        };
        assert_eq!(c.commit("solo", -1, "", vec![("t".into(), 0, o)]), 0);
        assert_eq!(c.delete_group("solo"), 0);
        assert!(c.committed("solo", "t", 0).is_none());
    }

    #[test]
    fn standalone_commit_and_initial_delay() {
        let c = coord(0);
        let o = CommittedOffset {
            offset: 3,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: now_ms(),
        };
        assert_eq!(
            c.commit("solo", -1, "", vec![("t".into(), 0, o.clone())]),
            0
        );
        assert_eq!(c.committed("solo", "t", 0).unwrap().offset, 3);
        assert_eq!(c.commit("nope", 5, "m", vec![]), code::ILLEGAL_GENERATION);
        let c = coord(200);
        let Answer::Later(mut rx) = c.join(join("", 1)) else {
            panic!()
        };
        assert!(rx.try_recv().is_err(), "held by the initial delay");
        c.tick(Instant::now() + Duration::from_millis(250));
        assert_eq!(rx.try_recv().unwrap().generation, 1);
    }
}
