//! OffsetCommit (8, v0-9, including standalone commits with generation -1) and OffsetFetch
//! (9, v0-9, including multi-group v8+).

use krafty_protocol::generated::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use krafty_protocol::generated::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use krafty_protocol::generated::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::broker::now_ms;
use crate::error::code;
use crate::group::offsets::CommittedOffset;
use crate::net::Pending;

/// Kafka's `offset.metadata.max.bytes` default.
const OFFSET_METADATA_MAX_BYTES: usize = 4096;

/// Answers OffsetCommit.
pub fn offset_commit(ctx: &Ctx, req: OffsetCommitRequest) -> Pending {
    let now = now_ms();
    let generation = if ctx.version >= 1 {
        req.generation_id_or_member_epoch
    } else {
        -1
    };
    let mut to_commit = Vec::new();
    let mut too_large = std::collections::HashSet::new();
    let mut refused = std::collections::HashSet::new();
    for t in &req.topics {
        if !ctx.topic_allowed(AclOperation::Read, &t.name) {
            refused.insert(t.name.to_string());
            continue;
        }
        for p in &t.partitions {
            let metadata = p.committed_metadata.as_deref().unwrap_or("").to_string();
            if metadata.len() > OFFSET_METADATA_MAX_BYTES {
                too_large.insert((t.name.to_string(), p.partition_index));
                continue;
            }
            to_commit.push((
                t.name.to_string(),
                p.partition_index,
                CommittedOffset {
                    offset: p.committed_offset,
                    leader_epoch: if ctx.version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata,
                    commit_timestamp: if ctx.version == 1 && p.commit_timestamp >= 0 {
                        p.commit_timestamp
                    } else {
                        now
                    },
                },
            ));
        }
    }
    let error = ctx
        .state
        .groups
        .commit(&req.group_id, generation, &req.member_id, to_commit);
    let topics = req
        .topics
        .iter()
        .map(|t| OffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| OffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: if refused.contains(t.name.as_str()) {
                        code::TOPIC_AUTHORIZATION_FAILED
                    } else if too_large.contains(&(t.name.to_string(), p.partition_index)) {
                        code::OFFSET_METADATA_TOO_LARGE
                    } else {
                        error
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ctx.ready(&OffsetCommitResponse {
        topics,
        ..Default::default()
    })
}

/// `(topic, [(partition, offset, leader epoch, metadata, error)])` for a group and optional
/// topic filter (`None`: every committed offset of a topic the principal may DESCRIBE;
/// a named topic it may not DESCRIBE gets TOPIC_AUTHORIZATION_FAILED, as Kafka).
type Fetched = Vec<(String, Vec<(i32, i64, i32, String, i16)>)>;

fn fetch_group(
    ctx: &Ctx,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Fetched {
    let groups = &ctx.state.groups;
    let unstable =
        |t: &str, p: i32| require_stable && ctx.state.txns.has_pending_offset(group, t, p);
    match topics {
        Some(ts) => ts
            .into_iter()
            .map(|(t, ps)| {
                let refused = !ctx.topic_allowed(AclOperation::Describe, &t);
                let parts = ps
                    .into_iter()
                    .map(|p| match groups.committed(group, &t, p) {
                        _ if refused => {
                            (p, -1, -1, String::new(), code::TOPIC_AUTHORIZATION_FAILED)
                        }
                        _ if unstable(&t, p) => {
                            (p, -1, -1, String::new(), code::UNSTABLE_OFFSET_COMMIT)
                        }
                        Some(o) => (p, o.offset, o.leader_epoch, o.metadata, code::NONE),
                        None => (p, -1, -1, String::new(), code::NONE),
                    })
                    .collect();
                (t, parts)
            })
            .collect(),
        None => {
            let mut out: Fetched = Vec::new();
            for (t, p, o) in groups.all_committed(group) {
                let entry = if unstable(&t, p) {
                    (p, -1, -1, String::new(), code::UNSTABLE_OFFSET_COMMIT)
                } else {
                    (p, o.offset, o.leader_epoch, o.metadata, code::NONE)
                };
                match out.last_mut() {
                    Some((name, parts)) if *name == t => parts.push(entry),
                    _ if !ctx.topic_allowed(AclOperation::Describe, &t) => {}
                    _ => out.push((t, vec![entry])),
                }
            }
            out
        }
    }
}

/// Answers OffsetFetch.
pub fn offset_fetch(ctx: &Ctx, req: OffsetFetchRequest) -> Pending {
    let v = ctx.version;
    if v >= 8 {
        let groups = req
            .groups
            .iter()
            .map(|g| {
                if !ctx.group_allowed(AclOperation::Describe, &g.group_id) {
                    return OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        error_code: code::GROUP_AUTHORIZATION_FAILED,
                        ..Default::default()
                    };
                }
                let filter = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes.to_vec()))
                        .collect()
                });
                OffsetFetchResponseGroup {
                    group_id: g.group_id.clone(),
                    topics: fetch_group(ctx, &g.group_id, filter, req.require_stable)
                        .into_iter()
                        .map(|(t, ps)| OffsetFetchResponseTopics {
                            name: StrBytes::from(t),
                            partitions: ps
                                .into_iter()
                                .map(|(p, o, e, m, err)| OffsetFetchResponsePartitions {
                                    partition_index: p,
                                    committed_offset: o,
                                    committed_leader_epoch: e,
                                    metadata: Some(StrBytes::from(m)),
                                    error_code: err,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    error_code: code::NONE,
                    ..Default::default()
                }
            })
            .collect();
        return ctx.ready(&OffsetFetchResponse {
            groups,
            ..Default::default()
        });
    }
    let filter = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.to_string(), t.partition_indexes.to_vec()))
            .collect()
    });
    let topics = fetch_group(ctx, &req.group_id, filter, v >= 7 && req.require_stable)
        .into_iter()
        .map(|(t, ps)| OffsetFetchResponseTopic {
            name: StrBytes::from(t),
            partitions: ps
                .into_iter()
                .map(|(p, o, e, m, err)| OffsetFetchResponsePartition {
                    partition_index: p,
                    committed_offset: o,
                    committed_leader_epoch: if v >= 5 { e } else { -1 },
                    metadata: Some(StrBytes::from(m)),
                    error_code: err,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ctx.ready(&OffsetFetchResponse {
        topics,
        ..Default::default()
    })
}
