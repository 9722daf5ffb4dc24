//! OffsetForLeaderEpoch (key 23), versions 0-4. Every partition has had one leader epoch,
//! 0, so any requested epoch >= 0 ends at the log end offset (epoch 0), as Kafka answers for
//! a partition whose only epoch is 0; an undefined epoch (< 0) answers -1 / -1. A current
//! leader epoch (v2+) above 0 is UNKNOWN_LEADER_EPOCH; below -1 FENCED_LEADER_EPOCH.

use krafty_protocol::generated::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use krafty_protocol::generated::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::error::code;
use crate::net::Pending;

/// Kafka's FENCED_LEADER_EPOCH.
const FENCED_LEADER_EPOCH: i16 = 74;
/// Kafka's UNKNOWN_LEADER_EPOCH.
const UNKNOWN_LEADER_EPOCH: i16 = 75;

/// Answers OffsetForLeaderEpoch.
pub fn handle(ctx: &Ctx, req: OffsetForLeaderEpochRequest) -> Pending {
    // a follower (replica id >= 0) needs CLUSTER_ACTION; a consumer DESCRIBE on each topic
    let replica = ctx.version >= 3 && req.replica_id >= 0;
    let replica_refused = replica && !ctx.cluster_allowed(AclOperation::ClusterAction);
    let topics = req
        .topics
        .iter()
        .map(|t| OffsetForLeaderTopicResult {
            topic: t.topic.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = EpochEndOffset {
                        partition: p.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    if replica_refused {
                        r.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
                        return r;
                    }
                    if !replica && !ctx.topic_allowed(AclOperation::Describe, &t.topic) {
                        r.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                        return r;
                    }
                    let Some(part) = ctx.state.partition(&t.topic, p.partition) else {
                        r.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                        return r;
                    };
                    if ctx.version >= 2 && p.current_leader_epoch > 0 {
                        r.error_code = UNKNOWN_LEADER_EPOCH;
                    } else if ctx.version >= 2 && p.current_leader_epoch < -1 {
                        r.error_code = FENCED_LEADER_EPOCH;
                    } else if p.leader_epoch >= 0 {
                        r.leader_epoch = 0;
                        r.end_offset = part.lock().log.log_end_offset();
                    }
                    r
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ctx.ready(&OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    })
}
