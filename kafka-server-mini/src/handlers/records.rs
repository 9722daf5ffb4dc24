//! DeleteRecords (key 21), versions 0-2: moves each partition's log start offset (deleting
//! whole segments below it) and writes the log start checkpoint so the move survives a
//! restart. Offset -1 means the high watermark; offsets above it are OFFSET_OUT_OF_RANGE;
//! the internal `__consumer_offsets` is refused (INVALID_TOPIC_EXCEPTION), as in Kafka.

use krafty_protocol::generated::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use krafty_protocol::generated::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::error::code;
use crate::net::Pending;

/// Kafka's "delete up to the high watermark" offset.
const HIGH_WATERMARK: i64 = -1;

/// Answers DeleteRecords.
pub fn delete_records(ctx: &Ctx, req: DeleteRecordsRequest) -> Pending {
    let mut moved = false;
    let topics = req
        .topics
        .iter()
        .map(|t| DeleteRecordsTopicResult {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = DeleteRecordsPartitionResult {
                        partition_index: p.partition_index,
                        low_watermark: -1,
                        ..Default::default()
                    };
                    if !ctx.topic_allowed(AclOperation::Delete, &t.name) {
                        r.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                        return r;
                    }
                    if crate::broker::is_internal_topic(&t.name) {
                        r.error_code = code::INVALID_TOPIC_EXCEPTION;
                        return r;
                    }
                    let Some(part) = ctx.state.partition(&t.name, p.partition_index) else {
                        r.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                        return r;
                    };
                    let mut st = part.lock();
                    let hw = st.high_watermark();
                    let target = if p.offset == HIGH_WATERMARK {
                        hw
                    } else {
                        p.offset
                    };
                    if target < 0 || target > hw {
                        r.error_code = code::OFFSET_OUT_OF_RANGE;
                        return r;
                    }
                    let before = st.log.log_start_offset();
                    match st.log.delete_records_before(target) {
                        Ok(start) => {
                            moved |= start != before;
                            st.txns.prune_below(start);
                            r.low_watermark = start;
                        }
                        Err(e) => {
                            tracing::error!(topic = %part.topic, partition = part.index, error = %e, "delete records failed");
                            r.error_code = code::UNKNOWN_SERVER_ERROR;
                        }
                    }
                    r
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    if moved {
        if let Err(e) = ctx.state.checkpoint(false) {
            tracing::warn!(error = %e, "checkpoint after delete records failed");
        }
    }
    ctx.ready(&DeleteRecordsResponse {
        topics,
        ..Default::default()
    })
}
