//! DescribeTopicPartitions (key 75, KIP-966), version 0: what `kafka-topics --describe` of
//! Kafka 3.8+ asks instead of Metadata. Topics by name (every topic when the request names
//! none), sorted by name, never auto-created; partitions paged by
//! `response_partition_limit` and the cursor as Kafka's broker does; eligible leader replicas
//! are always empty (a single node has no ELR).

use krafty_protocol::generated::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use krafty_protocol::generated::{DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse};
use krafty_protocol::wire::{StrBytes, Uuid};

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::broker::{BrokerState, Topic};
use crate::error::code;
use crate::net::Pending;

/// Kafka's `max.request.partition.size.limit` default: the most partitions one answer holds.
const MAX_PARTITIONS: i32 = 2000;

/// "Not requested" value of `topic_authorized_operations` (Kafka's `Integer.MIN_VALUE`).
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

fn partition_entry(state: &BrokerState, index: i32) -> DescribeTopicPartitionsResponsePartition {
    let node = state.config.node_id;
    DescribeTopicPartitionsResponsePartition {
        error_code: code::NONE,
        partition_index: index,
        leader_id: node,
        leader_epoch: 0,
        replica_nodes: vec![node].into(),
        isr_nodes: vec![node].into(),
        eligible_leader_replicas: Some(Vec::new().into()),
        last_known_elr: Some(Vec::new().into()),
        offline_replicas: Default::default(),
        ..Default::default()
    }
}

fn topic_entry(t: &Topic) -> DescribeTopicPartitionsResponseTopic {
    DescribeTopicPartitionsResponseTopic {
        error_code: code::NONE,
        name: Some(StrBytes::from(t.name.clone())),
        topic_id: t.id,
        is_internal: crate::broker::is_internal_topic(&t.name),
        topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}

/// Answers DescribeTopicPartitions.
pub fn handle(ctx: &Ctx, req: DescribeTopicPartitionsRequest) -> Pending {
    let state = &ctx.state;
    let mut names: Vec<String> = if req.topics.is_empty() {
        // topics the principal may not DESCRIBE are hidden from the full list
        state
            .topics()
            .iter()
            .map(|t| t.name.clone())
            .filter(|n| ctx.topic_allowed(AclOperation::Describe, n))
            .collect()
    } else {
        req.topics.iter().map(|t| t.name.to_string()).collect()
    };
    names.sort();
    names.dedup();
    let (cursor_topic, cursor_partition) = match &req.cursor {
        Some(c) => (Some(c.topic_name.to_string()), c.partition_index.max(0)),
        None => (None, 0),
    };
    let mut budget = req.response_partition_limit.clamp(1, MAX_PARTITIONS);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        if cursor_topic.as_ref().is_some_and(|c| name < *c) {
            continue;
        }
        if !ctx.topic_allowed(AclOperation::Describe, &name) {
            topics.push(DescribeTopicPartitionsResponseTopic {
                error_code: code::TOPIC_AUTHORIZATION_FAILED,
                name: Some(StrBytes::from(name)),
                topic_id: Uuid::ZERO,
                topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
                ..Default::default()
            });
            continue;
        }
        let Some(t) = state.topic(&name) else {
            topics.push(DescribeTopicPartitionsResponseTopic {
                error_code: code::UNKNOWN_TOPIC_OR_PARTITION,
                name: Some(StrBytes::from(name)),
                topic_id: Uuid::ZERO,
                topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
                ..Default::default()
            });
            continue;
        };
        if budget == 0 {
            next_cursor = Some(Cursor {
                topic_name: StrBytes::from(name),
                partition_index: 0,
                ..Default::default()
            });
            break;
        }
        let first = if cursor_topic.as_deref() == Some(name.as_str()) {
            cursor_partition
        } else {
            0
        };
        let mut entry = topic_entry(&t);
        for p in t.partitions.iter().filter(|p| p.index >= first) {
            if budget == 0 {
                next_cursor = Some(Cursor {
                    topic_name: StrBytes::from(name.clone()),
                    partition_index: p.index,
                    ..Default::default()
                });
                break;
            }
            entry.partitions.push(partition_entry(state, p.index));
            budget -= 1;
        }
        topics.push(entry);
        if next_cursor.is_some() {
            break;
        }
    }
    ctx.ready(&DescribeTopicPartitionsResponse {
        topics,
        next_cursor,
        ..Default::default()
    })
}
