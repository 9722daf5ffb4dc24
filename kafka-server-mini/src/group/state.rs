//! Group and member state of the classic protocol.
//!
//! Owns: [`GroupState`], [`Member`], [`Group`] and the answers sent to waiting JoinGroup and
//! SyncGroup requests. Must not: decide transitions (the coordinator does).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::offsets::OffsetStore;

/// The states of a classic group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members (offsets may exist).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assigned and running.
    Stable,
    /// Removed.
    Dead,
}

impl GroupState {
    /// Kafka's name of the state (ListGroups, DescribeGroups).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// The answer to a JoinGroup request.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    /// Error code.
    pub error: i16,
    /// The new generation.
    pub generation: i32,
    /// The protocol type.
    pub protocol_type: Option<String>,
    /// The chosen protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// The member's id.
    pub member_id: String,
    /// For the leader: every member and its metadata for the chosen protocol.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

/// The answer to a SyncGroup request.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    /// Error code.
    pub error: i16,
    /// The member's assignment.
    pub assignment: Bytes,
    /// The protocol type.
    pub protocol_type: Option<String>,
    /// The chosen protocol.
    pub protocol_name: Option<String>,
}

/// A group member.
#[derive(Debug)]
pub struct Member {
    /// Member id.
    pub id: String,
    /// Static member id (KIP-345), if any.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Session timeout.
    pub session_timeout: Duration,
    /// Rebalance timeout.
    pub rebalance_timeout: Duration,
    /// Supported protocols with their metadata, in preference order.
    pub protocols: Vec<(String, Bytes)>,
    /// The current assignment.
    pub assignment: Bytes,
    /// A JoinGroup waiting for the rebalance to complete.
    pub join_tx: Option<oneshot::Sender<JoinResult>>,
    /// A SyncGroup waiting for the leader's assignment.
    pub sync_tx: Option<oneshot::Sender<SyncResult>>,
    /// Last heartbeat (or join/sync).
    pub last_heartbeat: Instant,
}

impl Member {
    /// The metadata for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// A classic group.
#[derive(Debug)]
pub struct Group {
    /// Group id.
    pub id: String,
    /// State.
    pub state: GroupState,
    /// Protocol type (`consumer`, ...).
    pub protocol_type: Option<String>,
    /// The protocol chosen at the last rebalance.
    pub protocol: Option<String>,
    /// Generation id.
    pub generation: i32,
    /// Leader member id.
    pub leader: Option<String>,
    /// Members by id.
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, awaiting their second join.
    pub pending_members: HashMap<String, Instant>,
    /// Committed offsets.
    pub offsets: OffsetStore,
    /// When the current rebalance times out.
    pub rebalance_deadline: Option<Instant>,
    /// Until when the initial rebalance delay holds the first rebalance of an empty group.
    pub initial_delay_until: Option<Instant>,
}

impl Group {
    /// A new empty group.
    pub fn new(id: &str) -> Self {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: BTreeMap::new(),
            pending_members: HashMap::new(),
            offsets: OffsetStore::default(),
            rebalance_deadline: None,
            initial_delay_until: None,
        }
    }

    /// A protocol every member supports, preferring the leader's (or first member's) order.
    pub fn select_protocol(&self) -> Option<String> {
        let first = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next())?;
        first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .find(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == *n))
            })
            .cloned()
    }

    /// Whether a member with these protocols could join (type matches, a common protocol).
    pub fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|(n, _)| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(p, _)| p == n))
        })
    }
}
