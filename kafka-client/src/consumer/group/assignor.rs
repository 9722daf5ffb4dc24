//! Partition assignors of the classic group protocol, and the embedded consumer protocol.
//!
//! Owns: the `range` and `roundrobin` strategies exactly as the Java client computes them
//! (so a group can mix our consumers with Java and librdkafka ones), and the
//! version-prefixed `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` bytes
//! carried in JoinGroup and SyncGroup. Must not: talk to brokers.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::generated::consumer_protocol_assignment::{
    ConsumerProtocolAssignment, TopicPartition as AssignmentTopic,
};
use kafka_protocol::generated::consumer_protocol_subscription::ConsumerProtocolSubscription;
use kafka_protocol::message::Message;
use kafka_protocol::wire::StrBytes;

use crate::error::{Error, Result};

/// The subscription version this client writes.
const SUBSCRIPTION_VERSION: i16 = 1;
/// The assignment version this client writes.
const ASSIGNMENT_VERSION: i16 = 1;

/// Encodes a version-prefixed message.
fn encode_versioned<M: Message>(msg: &M, version: i16) -> Result<Bytes> {
    let mut out = BytesMut::with_capacity(2 + msg.encoded_len(version));
    out.put_i16(version);
    msg.encode(&mut out, version)?;
    Ok(out.freeze())
}

/// Decodes a version-prefixed message; a version newer than the codec knows is read as the
/// newest known one (newer versions only append fields), trailing bytes are ignored.
fn decode_versioned<M: Message>(mut data: Bytes) -> Result<M> {
    if data.len() < 2 {
        return Err(Error::InvalidResponse(format!(
            "{} shorter than its version",
            M::NAME
        )));
    }
    let version = data.get_i16();
    if version < 0 {
        return Err(Error::InvalidResponse(format!(
            "{} version {version}",
            M::NAME
        )));
    }
    Ok(M::decode(&mut data, version.min(M::VERSIONS.max))?)
}

/// The JoinGroup metadata for a subscription to `topics`.
pub fn encode_subscription(topics: &[String]) -> Result<Bytes> {
    let msg = ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| StrBytes::from(t.clone())).collect(),
        user_data: None,
        ..Default::default()
    };
    encode_versioned(&msg, SUBSCRIPTION_VERSION)
}

/// The topics of a member's JoinGroup metadata.
pub fn decode_subscription(data: Bytes) -> Result<Vec<String>> {
    let msg: ConsumerProtocolSubscription = decode_versioned(data)?;
    Ok(msg.topics.iter().map(|t| t.to_string()).collect())
}

/// The SyncGroup assignment bytes for `partitions` (topic -> partition indexes).
// `..Default::default()` keeps this compiling if the generated struct gains fields.
#[allow(clippy::needless_update)]
pub fn encode_assignment(partitions: &BTreeMap<String, Vec<i32>>) -> Result<Bytes> {
    let msg = ConsumerProtocolAssignment {
        assigned_partitions: partitions
            .iter()
            .map(|(t, ps)| AssignmentTopic {
                topic: StrBytes::from(t.clone()),
                partitions: ps.iter().copied().collect(),
                ..Default::default()
            })
            .collect(),
        user_data: None,
        ..Default::default()
    };
    encode_versioned(&msg, ASSIGNMENT_VERSION)
}

/// The partitions of a SyncGroup assignment (empty bytes: nothing assigned).
pub fn decode_assignment(data: Bytes) -> Result<Vec<(String, i32)>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let msg: ConsumerProtocolAssignment = decode_versioned(data)?;
    Ok(msg
        .assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.to_string(), *p)))
        .collect())
}

/// Member id -> topic -> partitions.
pub type Assignment = BTreeMap<String, BTreeMap<String, Vec<i32>>>;

/// A partition assignment strategy.
pub trait Assignor: Send + Sync {
    /// The protocol name sent in JoinGroup (`range`, `roundrobin`).
    fn name(&self) -> &'static str;

    /// Assigns the partitions of the subscribed topics (`partition_counts`) to members
    /// (member id -> subscribed topics).
    fn assign(
        &self,
        members: &BTreeMap<String, Vec<String>>,
        partition_counts: &BTreeMap<String, i32>,
    ) -> Assignment;
}

fn empty_assignment(members: &BTreeMap<String, Vec<String>>) -> Assignment {
    members
        .keys()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect()
}

/// Java's `RangeAssignor`: per topic, the sorted subscribers get consecutive ranges; the
/// first `partitions % consumers` get one extra.
#[derive(Debug, Default, Clone, Copy)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn assign(
        &self,
        members: &BTreeMap<String, Vec<String>>,
        partition_counts: &BTreeMap<String, i32>,
    ) -> Assignment {
        let mut out = empty_assignment(members);
        for (topic, &count) in partition_counts {
            let subscribers: Vec<&String> = members
                .iter()
                .filter(|(_, topics)| topics.contains(topic))
                .map(|(m, _)| m)
                .collect();
            if subscribers.is_empty() || count <= 0 {
                continue;
            }
            let n = subscribers.len() as i32;
            let per = count / n;
            let extra = count % n;
            for (i, member) in subscribers.into_iter().enumerate() {
                let i = i as i32;
                let start = per * i + i.min(extra);
                let len = per + i32::from(i < extra);
                if len > 0 {
                    if let Some(m) = out.get_mut(member) {
                        m.insert(topic.clone(), (start..start + len).collect());
                    }
                }
            }
        }
        out
    }
}

/// Java's `RoundRobinAssignor`: all partitions sorted by topic then index, dealt to the
/// sorted members in turn, skipping members not subscribed to the partition's topic.
#[derive(Debug, Default, Clone, Copy)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }

    fn assign(
        &self,
        members: &BTreeMap<String, Vec<String>>,
        partition_counts: &BTreeMap<String, i32>,
    ) -> Assignment {
        let mut out = empty_assignment(members);
        let ids: Vec<&String> = members.keys().collect();
        if ids.is_empty() {
            return out;
        }
        let subscribed: BTreeSet<&String> = members.values().flatten().collect();
        let mut next = 0usize;
        for (topic, &count) in partition_counts {
            if !subscribed.contains(topic) {
                continue;
            }
            for p in 0..count.max(0) {
                for _ in 0..ids.len() {
                    let member = ids[next % ids.len()];
                    next += 1;
                    if members.get(member).is_some_and(|t| t.contains(topic)) {
                        if let Some(m) = out.get_mut(member) {
                            m.entry(topic.clone()).or_default().push(p);
                        }
                        break;
                    }
                }
            }
        }
        out
    }
}

/// The assignor named `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Assignor>> {
    match name {
        "range" => Some(Box::new(RangeAssignor)),
        "roundrobin" => Some(Box::new(RoundRobinAssignor)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(list: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        list.iter()
            .map(|(m, ts)| (m.to_string(), ts.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn range_matches_java() {
        // Java RangeAssignorTest: two consumers, two topics of 3 partitions.
        let m = members(&[("c0", &["t1", "t2"]), ("c1", &["t1", "t2"])]);
        let a = RangeAssignor.assign(&m, &counts(&[("t1", 3), ("t2", 3)]));
        assert_eq!(a["c0"]["t1"], vec![0, 1]);
        assert_eq!(a["c1"]["t1"], vec![2]);
        assert_eq!(a["c0"]["t2"], vec![0, 1]);
        assert_eq!(a["c1"]["t2"], vec![2]);
        let m = members(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
        let a = RangeAssignor.assign(&m, &counts(&[("t", 2)]));
        assert_eq!(a["a"]["t"], vec![0]);
        assert_eq!(a["b"]["t"], vec![1]);
        assert!(!a["c"].contains_key("t"));
    }

    #[test]
    fn roundrobin_matches_java() {
        let m = members(&[("c0", &["t1", "t2"]), ("c1", &["t1", "t2"])]);
        let a = RoundRobinAssignor.assign(&m, &counts(&[("t1", 3), ("t2", 3)]));
        assert_eq!(a["c0"]["t1"], vec![0, 2]);
        assert_eq!(a["c0"]["t2"], vec![1]);
        assert_eq!(a["c1"]["t1"], vec![1]);
        assert_eq!(a["c1"]["t2"], vec![0, 2]);
        // Members with different subscriptions.
        let m = members(&[("c0", &["t1"]), ("c1", &["t1", "t2"])]);
        let a = RoundRobinAssignor.assign(&m, &counts(&[("t1", 2), ("t2", 2)]));
        assert_eq!(a["c0"]["t1"], vec![0]);
        assert_eq!(a["c1"]["t1"], vec![1]);
        assert_eq!(a["c1"]["t2"], vec![0, 1]);
    }

    #[test]
    fn protocol_bytes_round_trip() {
        let sub = encode_subscription(&["a".into(), "b".into()]);
        let Ok(sub) = sub else { panic!("encode") };
        assert_eq!(&sub[..2], &[0, 1]);
        assert_eq!(
            decode_subscription(sub).ok(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        let mut parts = BTreeMap::new();
        parts.insert("t".to_string(), vec![0, 2]);
        let Ok(bytes) = encode_assignment(&parts) else {
            panic!("encode")
        };
        assert_eq!(
            decode_assignment(bytes).ok(),
            Some(vec![("t".to_string(), 0), ("t".to_string(), 2)])
        );
        assert_eq!(decode_assignment(Bytes::new()).ok(), Some(vec![]));
        assert!(decode_assignment(Bytes::from_static(&[0])).is_err());
        // A newer version with extra trailing fields still decodes.
        let Ok(v3) = encode_versioned(
            &ConsumerProtocolSubscription {
                topics: vec![StrBytes::from("x")],
                ..Default::default()
            },
            3,
        ) else {
            panic!("encode")
        };
        let mut future = BytesMut::from(&v3[..]);
        future[1] = 9;
        future.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            decode_subscription(future.freeze()).ok(),
            Some(vec!["x".to_string()])
        );
    }
}
