//! CreateTopics (19), DeleteTopics (20) and CreatePartitions (37), all versions, including
//! validate-only.

use krafty_protocol::generated::create_partitions_response::CreatePartitionsTopicResult;
use krafty_protocol::generated::create_topics_response::CreatableTopicResult;
use krafty_protocol::generated::delete_topics_response::DeletableTopicResult;
use krafty_protocol::generated::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse,
};
use krafty_protocol::wire::{StrBytes, Uuid};

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::error::code;
use crate::net::Pending;

fn message(error: i16) -> Option<StrBytes> {
    let text = match error {
        code::NONE => return None,
        code::TOPIC_ALREADY_EXISTS => "Topic already exists.",
        code::INVALID_TOPIC_EXCEPTION => "Topic name is invalid.",
        code::INVALID_PARTITIONS => "Number of partitions is invalid.",
        code::INVALID_REPLICATION_FACTOR => {
            "Replication factor must be 1 or -1 on a single broker."
        }
        code::UNKNOWN_TOPIC_OR_PARTITION => "This server does not host this topic.",
        code::INVALID_CONFIG => "Unknown or invalid topic config.",
        _ => "Request failed.",
    };
    Some(StrBytes::from(text))
}

/// Answers CreateTopics.
pub fn create_topics(ctx: &Ctx, req: CreateTopicsRequest) -> Pending {
    let state = &ctx.state;
    let v = ctx.version;
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = if t.num_partitions == -1 {
                state.config.num_partitions
            } else {
                t.num_partitions
            };
            let result = if !ctx.may_create_topic(&t.name) {
                Err(code::TOPIC_AUTHORIZATION_FAILED)
            } else if !(t.replication_factor == 1 || t.replication_factor == -1) {
                Err(code::INVALID_REPLICATION_FACTOR)
            } else if !t.assignments.is_empty() {
                Err(code::INVALID_REQUEST)
            } else {
                let mut configs = crate::topic_config::TopicConfigs::new();
                let mut bad = false;
                for c in &t.configs {
                    match &c.value {
                        Some(v) if crate::topic_config::validate(&c.name, v).is_ok() => {
                            configs.insert(c.name.to_string(), v.to_string());
                        }
                        None if crate::topic_config::OVERRIDABLE.contains(&c.name.as_ref()) => {}
                        _ => bad = true,
                    }
                }
                if bad {
                    Err(code::INVALID_CONFIG)
                } else {
                    state.create_topic_with(&t.name, partitions, req.validate_only, configs)
                }
            };
            let mut r = CreatableTopicResult {
                name: t.name.clone(),
                num_partitions: -1,
                replication_factor: -1,
                ..Default::default()
            };
            match result {
                Ok(topic) => {
                    if v >= 5 {
                        r.num_partitions = partitions;
                        r.replication_factor = 1;
                        r.configs = Some(vec![]);
                    }
                    if v >= 7 {
                        r.topic_id = topic.id;
                    }
                }
                Err(e) => {
                    r.error_code = e;
                    if v >= 1 {
                        r.error_message = message(e);
                    }
                }
            }
            if v < 7 {
                r.topic_id = Uuid::ZERO;
            }
            r
        })
        .collect();
    ctx.ready(&CreateTopicsResponse {
        topics,
        ..Default::default()
    })
}

/// Answers DeleteTopics.
pub fn delete_topics(ctx: &Ctx, req: DeleteTopicsRequest) -> Pending {
    let state = &ctx.state;
    let v = ctx.version;
    let mut names: Vec<(Option<StrBytes>, Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.clone()), Uuid::ZERO))
        .collect();
    names.extend(req.topics.iter().map(|t| (t.name.clone(), t.topic_id)));
    let responses = names
        .into_iter()
        .map(|(name, id)| {
            let resolved = match &name {
                Some(n) => Some(n.to_string()),
                None => state.topic_by_id(&id).map(|t| t.name.clone()),
            };
            let result = match &resolved {
                Some(n) if !ctx.topic_allowed(AclOperation::Delete, n) => {
                    Err(code::TOPIC_AUTHORIZATION_FAILED)
                }
                Some(n) => state.delete_topic(n),
                None => Err(code::UNKNOWN_TOPIC_ID),
            };
            let mut r = DeletableTopicResult {
                name: if v >= 6 {
                    resolved.map(StrBytes::from)
                } else {
                    name.or(Some(StrBytes::from("")))
                },
                topic_id: if v >= 6 { id } else { Uuid::ZERO },
                ..Default::default()
            };
            if let Err(e) = result {
                r.error_code = e;
                if v >= 5 {
                    r.error_message = message(e);
                }
            }
            r
        })
        .collect();
    ctx.ready(&DeleteTopicsResponse {
        responses,
        ..Default::default()
    })
}

/// Answers CreatePartitions.
pub fn create_partitions(ctx: &Ctx, req: CreatePartitionsRequest) -> Pending {
    let results = req
        .topics
        .iter()
        .map(|t| {
            let result = if !ctx.topic_allowed(AclOperation::Alter, &t.name) {
                Err(code::TOPIC_AUTHORIZATION_FAILED)
            } else if t.assignments.as_ref().is_some_and(|a| !a.is_empty()) {
                Err(code::INVALID_REQUEST)
            } else {
                ctx.state
                    .create_partitions(&t.name, t.count, req.validate_only)
            };
            let error = result.err().unwrap_or(code::NONE);
            CreatePartitionsTopicResult {
                name: t.name.clone(),
                error_code: error,
                error_message: message(error),
                ..Default::default()
            }
        })
        .collect();
    ctx.ready(&CreatePartitionsResponse {
        results,
        ..Default::default()
    })
}
