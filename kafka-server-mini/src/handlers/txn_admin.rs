//! What admin clients ask of transactions: DescribeTransactions (65, v0), ListTransactions
//! (66, v0-1: state, producer id and (v1) duration filters) and DescribeProducers (61, v0:
//! a partition's producers, their last sequence and open transaction). Checks: DESCRIBE on
//! each transactional id (described ones answer TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
//! listed ones are left out; topics of a description without DESCRIBE are left out), READ
//! on each DescribeProducers topic.

use krafty_protocol::generated::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use krafty_protocol::generated::describe_transactions_response::{
    TopicData, TransactionState as DescribedTxn,
};
use krafty_protocol::generated::list_transactions_response::TransactionState as ListedTxn;
use krafty_protocol::generated::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse,
};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::authorizer::{AclOperation, ResourceType};
use crate::broker::now_ms;
use crate::error::code;
use crate::net::Pending;
use crate::txn::TxnState;

const STATES: [TxnState; 6] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
];

fn described(ctx: &Ctx) -> impl Fn(&str) -> bool + '_ {
    |id| ctx.allowed(AclOperation::Describe, ResourceType::TransactionalId, id)
}

/// Answers DescribeTransactions.
pub fn describe_transactions(ctx: &Ctx, req: DescribeTransactionsRequest) -> Pending {
    let allowed = described(ctx);
    let transaction_states = req
        .transactional_ids
        .iter()
        .map(|id| {
            let mut r = DescribedTxn {
                transactional_id: id.clone(),
                transaction_state: StrBytes::from(""),
                transaction_start_time_ms: -1,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            };
            if !allowed(id) {
                r.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
                return r;
            }
            let Some(m) = ctx.state.txns.describe(id) else {
                r.error_code = code::TRANSACTIONAL_ID_NOT_FOUND;
                return r;
            };
            r.transaction_state = StrBytes::from(m.state.name());
            r.transaction_timeout_ms = m.timeout_ms;
            r.transaction_start_time_ms = m.start_ms;
            r.producer_id = m.producer_id;
            r.producer_epoch = m.producer_epoch;
            let mut topics: Vec<TopicData> = Vec::new();
            for (topic, p) in &m.partitions {
                if !ctx.topic_allowed(AclOperation::Describe, topic) {
                    continue;
                }
                match topics.last_mut() {
                    Some(t) if t.topic.as_ref() == topic => {
                        let mut ids: Vec<i32> = t.partitions.iter().copied().collect();
                        ids.push(*p);
                        t.partitions = ids.into();
                    }
                    _ => topics.push(TopicData {
                        topic: StrBytes::from(topic.clone()),
                        partitions: vec![*p].into(),
                        ..Default::default()
                    }),
                }
            }
            r.topics = topics;
            r
        })
        .collect();
    ctx.ready(&DescribeTransactionsResponse {
        transaction_states,
        ..Default::default()
    })
}

/// Answers ListTransactions.
pub fn list_transactions(ctx: &Ctx, req: ListTransactionsRequest) -> Pending {
    let allowed = described(ctx);
    let unknown: Vec<StrBytes> = req
        .state_filters
        .iter()
        .filter(|f| !STATES.iter().any(|s| s.name() == f.as_ref()))
        .cloned()
        .collect();
    let now = now_ms();
    let duration = if ctx.version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    let transaction_states = ctx
        .state
        .txns
        .all()
        .into_iter()
        .filter(|m| {
            req.state_filters.is_empty()
                || req
                    .state_filters
                    .iter()
                    .any(|f| f.as_ref() == m.state.name())
        })
        .filter(|m| {
            req.producer_id_filters.is_empty() || req.producer_id_filters.contains(&m.producer_id)
        })
        .filter(|m| duration < 0 || (m.start_ms >= 0 && now.saturating_sub(m.start_ms) > duration))
        .filter(|m| allowed(&m.transactional_id))
        .map(|m| ListedTxn {
            transactional_id: StrBytes::from(m.transactional_id.clone()),
            producer_id: m.producer_id,
            transaction_state: StrBytes::from(m.state.name()),
            ..Default::default()
        })
        .collect();
    ctx.ready(&ListTransactionsResponse {
        unknown_state_filters: unknown,
        transaction_states,
        ..Default::default()
    })
}

/// Answers DescribeProducers.
pub fn describe_producers(ctx: &Ctx, req: DescribeProducersRequest) -> Pending {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let topic_ok = ctx.topic_allowed(AclOperation::Read, &t.name);
            TopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partition_indexes
                    .iter()
                    .map(|&index| {
                        let mut r = PartitionResponse {
                            partition_index: index,
                            ..Default::default()
                        };
                        if !topic_ok {
                            r.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                            return r;
                        }
                        let Some(p) = ctx.state.partition(&t.name, index) else {
                            r.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                            return r;
                        };
                        let st = p.lock();
                        let open = st.txns.ongoing();
                        r.active_producers = st
                            .producers
                            .active()
                            .into_iter()
                            .map(|a| ProducerState {
                                producer_id: a.producer_id,
                                producer_epoch: i32::from(a.epoch),
                                last_sequence: a.last_sequence,
                                last_timestamp: a.last_timestamp,
                                coordinator_epoch: -1,
                                current_txn_start_offset: open
                                    .iter()
                                    .find(|(pid, _)| *pid == a.producer_id)
                                    .map_or(-1, |(_, first)| *first),
                                ..Default::default()
                            })
                            .collect();
                        r
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    ctx.ready(&DescribeProducersResponse {
        topics,
        ..Default::default()
    })
}
