//! Committed offsets of one group.
//!
//! Owns: the `(topic, partition) -> committed offset` map and its retention. Must not:
//! check membership (the coordinator does).

use std::collections::BTreeMap;

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The offset.
    pub offset: i64,
    /// The leader epoch the consumer saw (-1 when unknown).
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
    /// When it was committed (ms since the epoch).
    pub commit_timestamp: i64,
}

/// The offsets of a group.
#[derive(Debug, Clone, Default)]
pub struct OffsetStore {
    offsets: BTreeMap<(String, i32), CommittedOffset>,
}

impl OffsetStore {
    /// Stores an offset.
    pub fn commit(&mut self, topic: &str, partition: i32, value: CommittedOffset) {
        self.offsets.insert((topic.to_string(), partition), value);
    }

    /// The committed offset of a partition.
    pub fn get(&self, topic: &str, partition: i32) -> Option<&CommittedOffset> {
        self.offsets.get(&(topic.to_string(), partition))
    }

    /// Every committed offset, by topic then partition.
    pub fn all(&self) -> impl Iterator<Item = (&(String, i32), &CommittedOffset)> {
        self.offsets.iter()
    }

    /// Whether nothing is committed.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Drops offsets committed before `cutoff_ms` (`offsets.retention.minutes`); returns
    /// the partitions dropped.
    pub fn expire(&mut self, cutoff_ms: i64) -> Vec<(String, i32)> {
        let gone: Vec<(String, i32)> = self
            .offsets
            .iter()
            .filter(|(_, v)| v.commit_timestamp < cutoff_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            self.offsets.remove(k);
        }
        gone
    }
}

impl OffsetStore {
    /// Removes an offset (a tombstone was replayed).
    pub fn remove(&mut self, topic: &str, partition: i32) {
        self.offsets.remove(&(topic.to_string(), partition));
    }
}

/// Encoding and decoding of the `__consumer_offsets` records, with Kafka's schemas: the key
/// is a 2-byte version then the key struct (1: `OffsetCommitKey`, 2: `GroupMetadataKey`),
/// the value a 2-byte version then the value struct (null: a tombstone).
pub mod records {
    use bytes::{BufMut, Bytes, BytesMut};
    use krafty_protocol::generated::group_coordinator::group_metadata_value::MemberMetadata;
    use krafty_protocol::generated::group_coordinator::{
        GroupMetadataKey, GroupMetadataValue, OffsetCommitKey, OffsetCommitValue,
    };
    use krafty_protocol::message::{Decode, Encode};
    use krafty_protocol::wire::StrBytes;

    use super::CommittedOffset;
    use crate::group::state::Group;

    /// The internal topic holding committed offsets and group metadata.
    pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
    /// Key version of offset commits (as Kafka writes them).
    pub const OFFSET_KEY_VERSION: i16 = 1;
    /// Key version of group metadata.
    pub const GROUP_KEY_VERSION: i16 = 2;
    /// Value version of offset commits (with the leader epoch, without expiry).
    pub const OFFSET_VALUE_VERSION: i16 = 3;
    /// Value version of group metadata.
    pub const GROUP_VALUE_VERSION: i16 = 3;

    /// `m` encoded at `version` behind its 2-byte version, as the records of Kafka's state
    /// topics (`__consumer_offsets`, `__transaction_state`) are stored.
    pub(crate) fn versioned<M: Encode>(version: i16, m: &M) -> Option<Bytes> {
        let mut b = BytesMut::with_capacity(2 + m.encoded_len(version));
        b.put_i16(version);
        match m.encode(&mut b, version) {
            Ok(()) => Some(b.freeze()),
            Err(e) => {
                tracing::error!(schema = M::NAME, error = ?e, "could not encode a state record");
                None
            }
        }
    }

    /// The key and value of an offset commit (`None` value: a tombstone).
    pub fn offset_commit(
        group: &str,
        topic: &str,
        partition: i32,
        value: Option<&CommittedOffset>,
    ) -> Option<(Bytes, Option<Bytes>)> {
        let key = versioned(
            OFFSET_KEY_VERSION,
            &OffsetCommitKey {
                group: StrBytes::from(group.to_string()),
                topic: StrBytes::from(topic.to_string()),
                partition,
            },
        )?;
        let value = match value {
            None => None,
            Some(o) => Some(versioned(
                OFFSET_VALUE_VERSION,
                &OffsetCommitValue {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: StrBytes::from(o.metadata.clone()),
                    commit_timestamp: o.commit_timestamp,
                    ..Default::default()
                },
            )?),
        };
        Some((key, value))
    }

    /// The key and value of a group's metadata.
    pub fn group_metadata(g: &Group, now_ms: i64) -> Option<(Bytes, Option<Bytes>)> {
        let key = versioned(
            GROUP_KEY_VERSION,
            &GroupMetadataKey {
                group: StrBytes::from(g.id.clone()),
            },
        )?;
        let protocol = g.protocol.clone().unwrap_or_default();
        let value = GroupMetadataValue {
            protocol_type: StrBytes::from(g.protocol_type.clone().unwrap_or_default()),
            generation: g.generation,
            protocol: g.protocol.clone().map(StrBytes::from),
            leader: g.leader.clone().map(StrBytes::from),
            current_state_timestamp: now_ms,
            members: g
                .members
                .values()
                .map(|m| MemberMetadata {
                    member_id: StrBytes::from(m.id.clone()),
                    group_instance_id: m.group_instance_id.clone().map(StrBytes::from),
                    client_id: StrBytes::from(m.client_id.clone()),
                    client_host: StrBytes::from(m.client_host.clone()),
                    rebalance_timeout: i32::try_from(m.rebalance_timeout.as_millis())
                        .unwrap_or(i32::MAX),
                    session_timeout: i32::try_from(m.session_timeout.as_millis())
                        .unwrap_or(i32::MAX),
                    subscription: m.metadata(&protocol),
                    assignment: m.assignment.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        Some((key, Some(versioned(GROUP_VALUE_VERSION, &value)?)))
    }

    /// A replayed `__consumer_offsets` record.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Replayed {
        /// An offset commit (`None`: deleted).
        Offset {
            /// Group id.
            group: String,
            /// Topic.
            topic: String,
            /// Partition.
            partition: i32,
            /// The offset, or `None` for a tombstone.
            value: Option<CommittedOffset>,
        },
        /// Group metadata (`None`: the group was deleted).
        Group {
            /// Group id.
            group: String,
            /// The stored metadata.
            value: Option<GroupMetadataValue>,
        },
    }

    fn split_version(mut b: Bytes) -> Option<(i16, Bytes)> {
        if b.len() < 2 {
            return None;
        }
        let v = i16::from_be_bytes([b[0], b[1]]);
        let rest = b.split_off(2);
        Some((v, rest))
    }

    /// Parses one record; unknown versions or malformed bytes give `None` (skipped).
    pub fn parse(key: Bytes, value: Option<Bytes>) -> Option<Replayed> {
        let (kv, mut kb) = split_version(key)?;
        match kv {
            0 | 1 => {
                let k = OffsetCommitKey::decode(&mut kb, kv).ok()?;
                let value = match value {
                    None => None,
                    Some(v) => {
                        let (vv, mut vb) = split_version(v)?;
                        let v = OffsetCommitValue::decode(&mut vb, vv).ok()?;
                        Some(CommittedOffset {
                            offset: v.offset,
                            leader_epoch: if vv >= 3 { v.leader_epoch } else { -1 },
                            metadata: v.metadata.to_string(),
                            commit_timestamp: v.commit_timestamp,
                        })
                    }
                };
                Some(Replayed::Offset {
                    group: k.group.to_string(),
                    topic: k.topic.to_string(),
                    partition: k.partition,
                    value,
                })
            }
            2 => {
                let k = GroupMetadataKey::decode(&mut kb, kv).ok()?;
                let value = match value {
                    None => None,
                    Some(v) => {
                        let (vv, mut vb) = split_version(v)?;
                        Some(GroupMetadataValue::decode(&mut vb, vv).ok()?)
                    }
                };
                Some(Replayed::Group {
                    group: k.group.to_string(),
                    value,
                })
            }
            _ => None,
        }
    }

    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    mod tests {
        use super::*;

        #[test]
        fn offset_records_round_trip() {
            let o = CommittedOffset {
                offset: 42,
                leader_epoch: 3,
                metadata: "m".into(),
                commit_timestamp: 1000,
            };
            let (k, v) = offset_commit("g", "t", 2, Some(&o)).unwrap();
            assert_eq!(&k[..2], &[0, 1]);
            assert_eq!(
                parse(k.clone(), v),
                Some(Replayed::Offset {
                    group: "g".into(),
                    topic: "t".into(),
                    partition: 2,
                    value: Some(o)
                })
            );
            assert!(matches!(
                parse(k, None),
                Some(Replayed::Offset { value: None, .. })
            ));
            let g = Group::new("grp");
            let (k, v) = group_metadata(&g, 5).unwrap();
            assert_eq!(&k[..2], &[0, 2]);
            assert!(matches!(
                parse(k, v),
                Some(Replayed::Group { value: Some(_), .. })
            ));
            assert_eq!(parse(Bytes::from_static(&[0]), None), None);
            assert_eq!(parse(Bytes::from_static(&[0, 9, 1]), None), None);
        }
    }
}
