//! Metadata (key 3), every version the codec has: brokers, controller, topics (auto-created
//! when allowed) and partitions, all led by this node.

use krafty_protocol::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use krafty_protocol::generated::{MetadataRequest, MetadataResponse};
use krafty_protocol::wire::{StrBytes, Uuid};

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::broker::{BrokerState, Topic};
use crate::error::code;
use crate::net::Pending;

/// The Metadata entry of an existing topic.
pub fn topic_entry(state: &BrokerState, t: &Topic) -> MetadataResponseTopic {
    let node = state.config.node_id;
    MetadataResponseTopic {
        error_code: code::NONE,
        name: Some(StrBytes::from(t.name.clone())),
        topic_id: t.id,
        is_internal: crate::broker::is_internal_topic(&t.name),
        partitions: t
            .partitions
            .iter()
            .map(|p| MetadataResponsePartition {
                error_code: code::NONE,
                partition_index: p.index,
                leader_id: node,
                leader_epoch: 0,
                replica_nodes: vec![node].into(),
                isr_nodes: vec![node].into(),
                offline_replicas: Default::default(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn error_entry(name: Option<StrBytes>, id: Uuid, error: i16) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: error,
        name,
        topic_id: id,
        ..Default::default()
    }
}

/// TOPIC_AUTHORIZATION_FAILED for a named topic the principal may not DESCRIBE (by id: only
/// when the id exists, and without the name, as Kafka).
fn refused_entry(ctx: &Ctx, name: Option<&StrBytes>, id: &Uuid) -> Option<MetadataResponseTopic> {
    match name {
        Some(n) => (!ctx.topic_allowed(AclOperation::Describe, n)).then(|| {
            error_entry(
                Some(n.clone()),
                Uuid::ZERO,
                code::TOPIC_AUTHORIZATION_FAILED,
            )
        }),
        None => {
            let t = ctx.state.topic_by_id(id)?;
            (!ctx.topic_allowed(AclOperation::Describe, &t.name))
                .then(|| error_entry(None, *id, code::TOPIC_AUTHORIZATION_FAILED))
        }
    }
}

/// Answers Metadata.
pub fn handle(ctx: &Ctx, req: MetadataRequest) -> Pending {
    let state = &ctx.state;
    let v = ctx.version;
    let auto_create =
        state.config.auto_create_topics_enable && (v < 4 || req.allow_auto_topic_creation);
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && v == 0,
    };
    let mut topics = Vec::new();
    if all {
        // topics the principal may not DESCRIBE are hidden from the full list
        topics = state
            .topics()
            .iter()
            .filter(|t| ctx.topic_allowed(AclOperation::Describe, &t.name))
            .map(|t| topic_entry(state, t))
            .collect();
    } else {
        for rt in req.topics.iter().flatten() {
            let by_name = rt.name.as_ref().filter(|n| !n.is_empty());
            if let Some(refused) = refused_entry(ctx, by_name, &rt.topic_id) {
                topics.push(refused);
                continue;
            }
            match by_name {
                Some(name) => match state.topic(name) {
                    Some(t) => topics.push(topic_entry(state, &t)),
                    None if auto_create && !ctx.may_create_topic(name) => topics.push(error_entry(
                        Some(name.clone()),
                        Uuid::ZERO,
                        code::TOPIC_AUTHORIZATION_FAILED,
                    )),
                    None if auto_create => {
                        match state.create_topic(name, state.config.num_partitions, false) {
                            Ok(t) => topics.push(topic_entry(state, &t)),
                            Err(code::TOPIC_ALREADY_EXISTS) => match state.topic(name) {
                                Some(t) => topics.push(topic_entry(state, &t)),
                                None => topics.push(error_entry(
                                    Some(name.clone()),
                                    Uuid::ZERO,
                                    code::UNKNOWN_TOPIC_OR_PARTITION,
                                )),
                            },
                            Err(e) => topics.push(error_entry(Some(name.clone()), Uuid::ZERO, e)),
                        }
                    }
                    None => topics.push(error_entry(
                        Some(name.clone()),
                        Uuid::ZERO,
                        code::UNKNOWN_TOPIC_OR_PARTITION,
                    )),
                },
                None => match state.topic_by_id(&rt.topic_id) {
                    Some(t) => topics.push(topic_entry(state, &t)),
                    None => topics.push(error_entry(None, rt.topic_id, code::UNKNOWN_TOPIC_ID)),
                },
            }
        }
    }
    if v < 12 {
        for t in &mut topics {
            if t.name.is_none() {
                t.name = Some(StrBytes::from(""));
            }
        }
    }
    let (host, port) = &ctx.listener.advertised;
    ctx.ready(&MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: state.config.node_id,
            host: StrBytes::from(host.clone()),
            port: *port,
            rack: None,
            ..Default::default()
        }],
        cluster_id: Some(StrBytes::from(state.cluster_id.clone())),
        controller_id: state.config.node_id,
        topics,
        ..Default::default()
    })
}
