//! The transactional producer's coordinator APIs: AddPartitionsToTxn (24, v0-5: the
//! client path v0-3 and the batched/verify-only broker path v4+), AddOffsetsToTxn (25,
//! v0-4) and EndTxn (26, v0-4), over [`crate::txn::TxnCoordinator`]. Each checks WRITE on
//! the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); AddPartitionsToTxn also
//! WRITE on each topic and AddOffsetsToTxn READ on the group. Fencing answers
//! PRODUCER_FENCED from v2 and INVALID_PRODUCER_EPOCH before (KIP-588).

use krafty_protocol::generated::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use krafty_protocol::generated::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use krafty_protocol::generated::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse,
};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::authorizer::{AclOperation, ResourceType};
use crate::error::code;
use crate::net::Pending;
use crate::txn::state::fenced_code;

/// The first version of AddPartitionsToTxn, AddOffsetsToTxn and EndTxn with PRODUCER_FENCED.
const FENCED_FROM: i16 = 2;

fn txn_id_allowed(ctx: &Ctx, id: &str) -> bool {
    ctx.allowed(AclOperation::Write, ResourceType::TransactionalId, id)
}

/// The per-partition results of one transaction's AddPartitionsToTxn: the partitions are
/// added only when every one is known and writable (else the bad ones get their error and
/// the others OPERATION_NOT_ATTEMPTED, as Kafka answers).
fn add_one(
    ctx: &Ctx,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut wanted = Vec::new();
    let mut errors = Vec::new();
    for t in topics {
        let topic_ok = ctx.topic_allowed(AclOperation::Write, &t.name);
        for &p in t.partitions.iter() {
            let e = if !topic_ok {
                code::TOPIC_AUTHORIZATION_FAILED
            } else if crate::broker::is_internal_topic(&t.name)
                || ctx.state.partition(&t.name, p).is_none()
            {
                code::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                code::NONE
            };
            wanted.push((t.name.to_string(), p));
            errors.push(e);
        }
    }
    let fenced = fenced_code(ctx.version, FENCED_FROM);
    let results: Vec<i16> = if !txn_id_allowed(ctx, transactional_id) {
        vec![code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED; wanted.len()]
    } else if errors.iter().any(|e| *e != code::NONE) {
        errors
            .iter()
            .map(|e| {
                if *e == code::NONE {
                    code::OPERATION_NOT_ATTEMPTED
                } else {
                    *e
                }
            })
            .collect()
    } else if verify_only {
        match ctx.state.txns.verify_partitions(
            transactional_id,
            producer_id,
            producer_epoch,
            &wanted,
            fenced,
        ) {
            Ok(v) => v,
            Err(e) => vec![e; wanted.len()],
        }
    } else {
        let e = ctx
            .state
            .txns
            .add_partitions(
                transactional_id,
                producer_id,
                producer_epoch,
                &wanted,
                fenced,
            )
            .err()
            .unwrap_or(code::NONE);
        vec![e; wanted.len()]
    };
    let mut out: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, p), e) in wanted.into_iter().zip(results) {
        let r = AddPartitionsToTxnPartitionResult {
            partition_index: p,
            partition_error_code: e,
            ..Default::default()
        };
        match out.iter_mut().find(|t| t.name.as_ref() == topic) {
            Some(t) => t.results_by_partition.push(r),
            None => out.push(AddPartitionsToTxnTopicResult {
                name: StrBytes::from(topic),
                results_by_partition: vec![r],
                ..Default::default()
            }),
        }
    }
    out
}

/// Answers AddPartitionsToTxn.
pub fn add_partitions(ctx: &Ctx, req: AddPartitionsToTxnRequest) -> Pending {
    let mut resp = AddPartitionsToTxnResponse::default();
    if ctx.version <= 3 {
        resp.results_by_topic_v3_and_below = add_one(
            ctx,
            &req.v3_and_below_transactional_id,
            req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch,
            false,
            &req.v3_and_below_topics,
        );
    } else {
        // the broker path (KIP-890): other brokers verify for their produce requests
        if !ctx.cluster_allowed(AclOperation::ClusterAction) {
            resp.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
            return ctx.ready(&resp);
        }
        resp.results_by_transaction = req
            .transactions
            .iter()
            .map(|t| AddPartitionsToTxnResult {
                transactional_id: t.transactional_id.clone(),
                topic_results: add_one(
                    ctx,
                    &t.transactional_id,
                    t.producer_id,
                    t.producer_epoch,
                    t.verify_only,
                    &t.topics,
                ),
                ..Default::default()
            })
            .collect();
    }
    ctx.ready(&resp)
}

/// Answers AddOffsetsToTxn.
pub fn add_offsets(ctx: &Ctx, req: AddOffsetsToTxnRequest) -> Pending {
    let error = if !txn_id_allowed(ctx, &req.transactional_id) {
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else if !ctx.group_allowed(AclOperation::Read, &req.group_id) {
        code::GROUP_AUTHORIZATION_FAILED
    } else if req.group_id.is_empty() {
        code::INVALID_GROUP_ID
    } else {
        ctx.state
            .txns
            .add_offsets(
                &req.transactional_id,
                req.producer_id,
                req.producer_epoch,
                &req.group_id,
                fenced_code(ctx.version, FENCED_FROM),
            )
            .err()
            .unwrap_or(code::NONE)
    };
    ctx.ready(&AddOffsetsToTxnResponse {
        error_code: error,
        ..Default::default()
    })
}

/// Answers EndTxn. Completing (markers to every partition, offsets to their groups) happens
/// before the answer, so a committed transaction is readable once EndTxn returns.
pub fn end_txn(ctx: &Ctx, req: EndTxnRequest) -> Pending {
    let error = if !txn_id_allowed(ctx, &req.transactional_id) {
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else {
        ctx.state
            .txns
            .end_txn(
                &ctx.state,
                &req.transactional_id,
                req.producer_id,
                req.producer_epoch,
                req.committed,
                fenced_code(ctx.version, FENCED_FROM),
            )
            .err()
            .unwrap_or(code::NONE)
    };
    ctx.ready(&EndTxnResponse {
        error_code: error,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    })
}
