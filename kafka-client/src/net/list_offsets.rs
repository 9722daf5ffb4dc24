//! ListOffsets: the offset of a timestamp (or of the log start / end) per partition.
//!
//! Owns: building one ListOffsets request for partitions led by one broker and reading its
//! answer (including v0's `old_style_offsets` list). Shared by the consumer (offset resets,
//! `offsets_for_times`, beginning/end offsets) and the admin client (`list_offsets`). Must
//! not: choose the broker or retry (callers group partitions by leader and decide).

use std::collections::BTreeMap;
use std::sync::Arc;

use krafty_protocol::generated::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use krafty_protocol::generated::{ListOffsetsRequest, ListOffsetsResponse};
use krafty_protocol::wire::StrBytes;

use crate::types::TopicPartition;

/// ListOffsets timestamp for the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets timestamp for the log end offset (the last stable offset with
/// read_committed).
pub const LATEST_TIMESTAMP: i64 = -1;
/// ListOffsets timestamp for the record with the largest timestamp (v7+).
pub const MAX_TIMESTAMP: i64 = -3;

/// One ListOffsets request for `(partition, timestamp)` pairs (timestamps: a time in ms,
/// or [`EARLIEST_TIMESTAMP`], [`LATEST_TIMESTAMP`], [`MAX_TIMESTAMP`]).
pub(crate) fn request(
    parts: &[(TopicPartition, i64)],
    isolation_level: i8,
    timeout_ms: i32,
) -> ListOffsetsRequest {
    let mut topics: BTreeMap<Arc<str>, Vec<ListOffsetsPartition>> = BTreeMap::new();
    for (tp, timestamp) in parts {
        topics
            .entry(tp.topic.clone())
            .or_default()
            .push(ListOffsetsPartition {
                partition_index: tp.partition,
                current_leader_epoch: -1,
                timestamp: *timestamp,
                max_num_offsets: 1,
                ..Default::default()
            });
    }
    ListOffsetsRequest {
        replica_id: -1,
        isolation_level,
        topics: topics
            .into_iter()
            .map(|(name, partitions)| ListOffsetsTopic {
                name: StrBytes::from(name.to_string()),
                partitions,
                ..Default::default()
            })
            .collect(),
        timeout_ms,
        ..Default::default()
    }
}

/// One partition's answer: `Ok((offset, timestamp))` (offset -1 when no record is that
/// recent; timestamp -1 when the broker did not say) or `Err(error code)`.
pub(crate) type PartitionOffset = std::result::Result<(i64, i64), i16>;

/// Every partition's answer in a response.
pub(crate) fn results(resp: ListOffsetsResponse) -> Vec<(TopicPartition, PartitionOffset)> {
    let mut out = Vec::new();
    for t in resp.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(&*t.name, p.partition_index);
            let r = if p.error_code != 0 {
                Err(p.error_code)
            } else if p.offset < 0 && !p.old_style_offsets.is_empty() {
                // v0 answers with a list of offsets
                Ok((p.old_style_offsets.first().copied().unwrap_or(-1), -1))
            } else {
                Ok((p.offset, p.timestamp))
            };
            out.push((tp, r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use krafty_protocol::generated::list_offsets_response::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };

    #[test]
    fn request_groups_by_topic_and_results_read_every_version() {
        let req = request(
            &[
                (TopicPartition::new("a", 1), EARLIEST_TIMESTAMP),
                (TopicPartition::new("b", 0), 1234),
                (TopicPartition::new("a", 0), LATEST_TIMESTAMP),
            ],
            1,
            500,
        );
        assert_eq!(req.topics.len(), 2);
        assert_eq!(req.topics[0].name, "a");
        assert_eq!(req.topics[0].partitions.len(), 2);
        assert_eq!(req.topics[1].partitions[0].timestamp, 1234);
        assert_eq!((req.isolation_level, req.timeout_ms), (1, 500));
        let resp = ListOffsetsResponse {
            topics: vec![ListOffsetsTopicResponse {
                name: StrBytes::from_static_str("a"),
                partitions: vec![
                    ListOffsetsPartitionResponse {
                        partition_index: 0,
                        offset: 42,
                        timestamp: 7,
                        ..Default::default()
                    },
                    ListOffsetsPartitionResponse {
                        partition_index: 1,
                        offset: -1,
                        old_style_offsets: [9].into_iter().collect(),
                        ..Default::default()
                    },
                    ListOffsetsPartitionResponse {
                        partition_index: 2,
                        error_code: 6,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = results(resp);
        assert_eq!(r[0], (TopicPartition::new("a", 0), Ok((42, 7))));
        assert_eq!(r[1], (TopicPartition::new("a", 1), Ok((9, -1))));
        assert_eq!(r[2], (TopicPartition::new("a", 2), Err(6)));
    }
}
