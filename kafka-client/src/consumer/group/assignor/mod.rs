//! Partition assignors of the classic group protocol, and the embedded consumer protocol.
//!
//! Owns: the `range`, `roundrobin`, `sticky` and `cooperative-sticky` strategies as the Java
//! client computes them (so a group can mix our consumers with Java and librdkafka ones),
//! the version-prefixed `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` bytes
//! carried in JoinGroup and SyncGroup ([`protocol`]), and the sticky assignors' user data.
//! Must not: talk to brokers.
//!
//! Files: `protocol.rs` (subscription/assignment bytes), `user_data.rs` (sticky user data),
//! `range.rs`, `roundrobin.rs`, `sticky.rs` (the shared sticky algorithm and `sticky`),
//! `cooperative.rs` (`cooperative-sticky`).

use std::collections::BTreeMap;

use bytes::Bytes;

mod cooperative;
pub mod protocol;
mod range;
mod roundrobin;
mod sticky;
mod user_data;

pub use cooperative::CooperativeStickyAssignor;
pub use protocol::{
    decode_assignment, decode_subscription, decode_subscription_full, encode_assignment,
    encode_subscription, encode_subscription_full,
};
pub use range::RangeAssignor;
pub use roundrobin::RoundRobinAssignor;
pub use sticky::StickyAssignor;

/// One member's JoinGroup subscription, as the group leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// The partitions the member owns now (subscription v1+; always empty from eager
    /// members, which revoke everything before joining).
    pub owned_partitions: Vec<(String, i32)>,
    /// The generation the member last joined (subscription v2+); -1 when unknown.
    pub generation: i32,
    /// The member's `group.instance.id` (static membership), if known.
    pub group_instance_id: Option<String>,
    /// The assignor-specific user data.
    pub user_data: Option<Bytes>,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            topics: Vec::new(),
            owned_partitions: Vec::new(),
            generation: -1,
            group_instance_id: None,
            user_data: None,
        }
    }
}

/// Member id -> topic -> partitions.
pub type Assignment = BTreeMap<String, BTreeMap<String, Vec<i32>>>;

/// How a group rebalances (KIP-429).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before joining.
    #[default]
    Eager,
    /// Members keep their partitions through the rebalance and revoke only those the new
    /// assignment takes away; partitions moving between members are assigned in a
    /// follow-up rebalance.
    Cooperative,
}

/// A partition assignment strategy.
pub trait Assignor: Send + Sync {
    /// The protocol name sent in JoinGroup (`range`, `roundrobin`, `sticky`,
    /// `cooperative-sticky`).
    fn name(&self) -> &'static str;

    /// The rebalance protocol this assignor needs.
    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// The `user_data` to send in this member's subscription, given the partitions it was
    /// last assigned (`owned`) and the generation of that assignment (-1: none yet).
    fn subscription_user_data(&self, owned: &[(String, i32)], generation: i32) -> Option<Bytes> {
        let _ = (owned, generation);
        None
    }

    /// Assigns the partitions of the subscribed topics (`partition_counts`) to members
    /// (member id -> subscription). Every member gets an entry, possibly empty.
    fn assign(
        &self,
        members: &BTreeMap<String, Subscription>,
        partition_counts: &BTreeMap<String, i32>,
    ) -> Assignment;
}

/// Every member with nothing assigned.
fn empty_assignment(members: &BTreeMap<String, Subscription>) -> Assignment {
    members
        .keys()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect()
}

/// Member ids in Java's `MemberInfo` order: static members (KIP-345) first, by
/// `group.instance.id`, then dynamic ones by member id — so a restarted static member,
/// which comes back with a new member id, keeps its place (and its partitions).
fn member_order(members: &BTreeMap<String, Subscription>) -> Vec<&String> {
    let mut ids: Vec<(&String, &Subscription)> = members.iter().collect();
    ids.sort_by(
        |(a_id, a), (b_id, b)| match (&a.group_instance_id, &b.group_instance_id) {
            (Some(x), Some(y)) => x.cmp(y).then_with(|| a_id.cmp(b_id)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a_id.cmp(b_id),
        },
    );
    ids.into_iter().map(|(id, _)| id).collect()
}

/// The assignor named `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Assignor>> {
    match name {
        "range" => Some(Box::new(RangeAssignor)),
        "roundrobin" => Some(Box::new(RoundRobinAssignor)),
        "sticky" => Some(Box::new(StickyAssignor)),
        "cooperative-sticky" => Some(Box::new(CooperativeStickyAssignor)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
