//! ListOffsets (key 2), versions 0-10: earliest (-2), latest (-1), max timestamp (-3) and by
//! timestamp through the time index; v0 answers with `old_style_offsets`. With
//! `isolation_level=1` (v2+, read_committed) latest is the last stable offset.

use krafty_protocol::generated::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use krafty_protocol::generated::{ListOffsetsRequest, ListOffsetsResponse};

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::error::code;
use crate::net::Pending;

/// Latest offset.
pub const LATEST: i64 = -1;
/// Earliest offset.
pub const EARLIEST: i64 = -2;
/// Offset of the max timestamp (KIP-734).
pub const MAX_TIMESTAMP: i64 = -3;

/// Answers ListOffsets.
pub fn handle(ctx: &Ctx, req: ListOffsetsRequest) -> Pending {
    let v = ctx.version;
    let read_committed = v >= 2 && req.isolation_level == 1;
    let topics = req
        .topics
        .iter()
        .map(|t| ListOffsetsTopicResponse {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        timestamp: -1,
                        offset: -1,
                        leader_epoch: -1,
                        ..Default::default()
                    };
                    if !ctx.topic_allowed(AclOperation::Describe, &t.name) {
                        r.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                        return r;
                    }
                    let Some(part) = ctx.state.partition(&t.name, p.partition_index) else {
                        r.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                        return r;
                    };
                    let st = part.lock();
                    let found: Result<Option<(i64, i64)>, _> = match p.timestamp {
                        LATEST if read_committed => Ok(Some((st.last_stable_offset(), -1))),
                        LATEST => Ok(Some((st.high_watermark(), -1))),
                        EARLIEST => Ok(Some((st.log.log_start_offset(), -1))),
                        MAX_TIMESTAMP => Ok(st.log.max_timestamp().map(|(ts, off)| (off, ts))),
                        ts if ts >= 0 => st.log.offset_for_timestamp(ts),
                        _ => Ok(None),
                    };
                    match found {
                        Ok(Some((offset, ts))) => {
                            r.offset = offset;
                            r.timestamp = ts;
                            r.leader_epoch = 0;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "list offsets failed");
                            r.error_code = code::UNKNOWN_SERVER_ERROR;
                        }
                    }
                    if v == 0 {
                        r.old_style_offsets = if r.offset >= 0 && p.max_num_offsets > 0 {
                            vec![r.offset].into()
                        } else {
                            Default::default()
                        };
                        r.offset = -1;
                        r.timestamp = -1;
                    }
                    if v < 4 {
                        r.leader_epoch = -1;
                    }
                    r
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ctx.ready(&ListOffsetsResponse {
        topics,
        ..Default::default()
    })
}
