//! The embedded consumer protocol: version-prefixed `ConsumerProtocolSubscription` (JoinGroup
//! member metadata) and `ConsumerProtocolAssignment` (SyncGroup member assignment) bytes.
//!
//! Owns: which versions this client writes and how it reads any version other clients
//! write. Must not: compute assignments.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use krafty_protocol::generated::consumer_protocol_assignment::{
    ConsumerProtocolAssignment, TopicPartition as AssignmentTopic,
};
use krafty_protocol::generated::consumer_protocol_subscription::{
    ConsumerProtocolSubscription, TopicPartition as OwnedTopic,
};
use krafty_protocol::message::{Decode, Encode};
use krafty_protocol::wire::StrBytes;

use super::Subscription;
use crate::error::{Error, Result};

/// The subscription version this client writes: 3, the newest the codec knows and what
/// Java 3.5+ writes (`owned_partitions` since 1, `generation_id` since 2, a null `rack_id`
/// since 3). Older Java clients and librdkafka read newer versions as their newest one,
/// which works because versions only append fields.
pub(crate) const SUBSCRIPTION_VERSION: i16 = 3;
/// The assignment version this client writes.
pub(crate) const ASSIGNMENT_VERSION: i16 = 1;

/// Encodes a version-prefixed message.
pub(crate) fn encode_versioned<M: Encode>(msg: &M, version: i16) -> Result<Bytes> {
    let mut out = BytesMut::with_capacity(2 + msg.encoded_len(version));
    out.put_i16(version);
    msg.encode(&mut out, version)?;
    Ok(out.freeze())
}

/// Decodes a version-prefixed message; a version newer than the codec knows is read as the
/// newest known one (newer versions only append fields), trailing bytes are ignored.
/// Returns the message and the version it was written with (clamped to the known range).
fn decode_versioned<M: Decode>(mut data: Bytes) -> Result<(M, i16)> {
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
    let version = version.min(M::VERSIONS.max);
    Ok((M::decode(&mut data, version)?, version))
}

/// The JoinGroup metadata for `sub`, written as version 3:
/// topics, user data, owned partitions (grouped by topic in first-seen order) and
/// generation. `group_instance_id` is not part of the bytes (JoinGroup carries it).
pub fn encode_subscription_full(sub: &Subscription) -> Result<Bytes> {
    let mut owned: Vec<OwnedTopic> = Vec::new();
    for (topic, partition) in &sub.owned_partitions {
        match owned
            .iter_mut()
            .find(|t| t.topic.as_str() == topic.as_str())
        {
            Some(t) => t.partitions.push(*partition),
            None => {
                let mut t = OwnedTopic {
                    topic: StrBytes::from(topic.clone()),
                    ..Default::default()
                };
                t.partitions.push(*partition);
                owned.push(t);
            }
        }
    }
    let msg = ConsumerProtocolSubscription {
        topics: sub
            .topics
            .iter()
            .map(|t| StrBytes::from(t.clone()))
            .collect(),
        user_data: sub.user_data.clone(),
        owned_partitions: owned,
        generation_id: sub.generation,
        rack_id: None,
    };
    encode_versioned(&msg, SUBSCRIPTION_VERSION)
}

/// A member's JoinGroup metadata, any version: fields the version lacks get their defaults
/// (no owned partitions, generation -1). `group_instance_id` is left `None` (the caller
/// knows it from the JoinGroup response).
pub fn decode_subscription_full(data: Bytes) -> Result<Subscription> {
    let (msg, _version): (ConsumerProtocolSubscription, i16) = decode_versioned(data)?;
    Ok(Subscription {
        topics: msg.topics.iter().map(|t| t.to_string()).collect(),
        owned_partitions: msg
            .owned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.to_string(), *p)))
            .collect(),
        generation: msg.generation_id,
        group_instance_id: None,
        user_data: msg.user_data,
    })
}

/// The JoinGroup metadata for a subscription to `topics` (nothing owned, generation -1).
pub fn encode_subscription(topics: &[String]) -> Result<Bytes> {
    encode_subscription_full(&Subscription {
        topics: topics.to_vec(),
        ..Default::default()
    })
}

/// The topics of a member's JoinGroup metadata.
pub fn decode_subscription(data: Bytes) -> Result<Vec<String>> {
    Ok(decode_subscription_full(data)?.topics)
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
    let (msg, _version): (ConsumerProtocolAssignment, i16) = decode_versioned(data)?;
    Ok(msg
        .assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.to_string(), *p)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_bytes_round_trip() {
        let sub = encode_subscription(&["a".into(), "b".into()]);
        let Ok(sub) = sub else { panic!("encode") };
        assert_eq!(&sub[..2], &[0, 3]);
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
        assert!(decode_subscription(Bytes::from_static(&[0xff, 0xff])).is_err());
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

    #[test]
    fn full_subscription_round_trip_and_exact_bytes() {
        let sub = Subscription {
            topics: vec!["t".into()],
            owned_partitions: vec![("t".into(), 1), ("u".into(), 0), ("t".into(), 3)],
            generation: 7,
            group_instance_id: None,
            user_data: Some(Bytes::from_static(&[9])),
        };
        let bytes = encode_subscription_full(&sub).expect("encode");
        // Java's ConsumerProtocol.serializeSubscription(version 3) of the same subscription.
        let expected: &[u8] = &[
            0, 3, // version
            0, 0, 0, 1, 0, 1, b't', // topics
            0, 0, 0, 1, 9, // user data
            0, 0, 0, 2, // owned partitions
            0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, // t: [1, 3]
            0, 1, b'u', 0, 0, 0, 1, 0, 0, 0, 0, // u: [0]
            0, 0, 0, 7, // generation
            0xff, 0xff, // null rack id
        ];
        assert_eq!(&bytes[..], expected);
        let back = decode_subscription_full(bytes).expect("decode");
        assert_eq!(back.topics, sub.topics);
        assert_eq!(
            back.owned_partitions,
            vec![("t".into(), 1), ("t".into(), 3), ("u".into(), 0)]
        );
        assert_eq!(back.generation, 7);
        assert_eq!(back.user_data, sub.user_data);

        // Version 0 (old clients, librdkafka's eager assignors): no owned, generation -1.
        let v0 = encode_versioned(
            &ConsumerProtocolSubscription {
                topics: vec![StrBytes::from("x")],
                owned_partitions: vec![OwnedTopic {
                    topic: StrBytes::from("x"),
                    ..Default::default()
                }],
                generation_id: 4,
                ..Default::default()
            },
            0,
        )
        .expect("encode");
        let back = decode_subscription_full(v0).expect("decode");
        assert!(back.owned_partitions.is_empty());
        assert_eq!(back.generation, -1);
        // Version 1: owned partitions but no generation.
        let v1 = encode_versioned(
            &ConsumerProtocolSubscription {
                topics: vec![StrBytes::from("x")],
                owned_partitions: vec![OwnedTopic {
                    topic: StrBytes::from("x"),
                    partitions: vec![2].into_iter().collect(),
                }],
                generation_id: 4,
                ..Default::default()
            },
            1,
        )
        .expect("encode");
        let back = decode_subscription_full(v1).expect("decode");
        assert_eq!(back.owned_partitions, vec![("x".into(), 2)]);
        assert_eq!(back.generation, -1);
    }
}
