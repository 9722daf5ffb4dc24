//! TxnOffsetCommit (28, v0-4): offsets a transactional producer commits for a group
//! (KIP-447: with the consumer's generation and member id from v3). They are staged in the
//! transaction and reach the group only when it commits. Checks: WRITE on the
//! transactional id, READ on the group, READ on each topic; metadata over
//! `offset.metadata.max.bytes` is OFFSET_METADATA_TOO_LARGE for that partition.

use krafty_protocol::generated::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use krafty_protocol::generated::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::Ctx;
use crate::authorizer::{AclOperation, ResourceType};
use crate::broker::now_ms;
use crate::error::code;
use crate::group::offsets::CommittedOffset;
use crate::net::Pending;

/// Kafka's `offset.metadata.max.bytes` default.
const OFFSET_METADATA_MAX_BYTES: usize = 4096;

/// Answers TxnOffsetCommit.
pub fn handle(ctx: &Ctx, req: TxnOffsetCommitRequest) -> Pending {
    let now = now_ms();
    let request_error = if !ctx.allowed(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &req.transactional_id,
    ) {
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else if !ctx.group_allowed(AclOperation::Read, &req.group_id) {
        code::GROUP_AUTHORIZATION_FAILED
    } else if ctx.version >= 3 {
        ctx.state
            .groups
            .check_txn_member(&req.group_id, req.generation_id, &req.member_id)
    } else if req.group_id.is_empty() {
        code::INVALID_GROUP_ID
    } else {
        code::NONE
    };
    let mut errors: Vec<Vec<i16>> = Vec::with_capacity(req.topics.len());
    let mut staged = Vec::new();
    for t in &req.topics {
        let mut topic_errors = Vec::with_capacity(t.partitions.len());
        let topic_ok = ctx.topic_allowed(AclOperation::Read, &t.name);
        for p in &t.partitions {
            let metadata = p.committed_metadata.as_deref().unwrap_or("").to_string();
            let e = if request_error != code::NONE {
                request_error
            } else if !topic_ok {
                code::TOPIC_AUTHORIZATION_FAILED
            } else if metadata.len() > OFFSET_METADATA_MAX_BYTES {
                code::OFFSET_METADATA_TOO_LARGE
            } else {
                staged.push((
                    t.name.to_string(),
                    p.partition_index,
                    CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: if ctx.version >= 2 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        },
                        metadata,
                        commit_timestamp: now,
                    },
                ));
                code::NONE
            };
            topic_errors.push(e);
        }
        errors.push(topic_errors);
    }
    if !staged.is_empty() {
        // the producer's checks answer for every partition that passed its own checks
        if let Err(e) = ctx.state.txns.stage_offsets(
            &req.transactional_id,
            req.producer_id,
            req.producer_epoch,
            &req.group_id,
            staged,
            code::INVALID_PRODUCER_EPOCH,
        ) {
            for pe in errors.iter_mut().flatten() {
                if *pe == code::NONE {
                    *pe = e;
                }
            }
        }
    }
    let topics = req
        .topics
        .iter()
        .zip(errors)
        .map(|(t, errs)| TxnOffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .zip(errs)
                .map(|(p, e)| TxnOffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: e,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ctx.ready(&TxnOffsetCommitResponse {
        topics,
        ..Default::default()
    })
}
