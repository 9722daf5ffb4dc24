//! Authorization of every request, with Kafka's per-API rules (`KafkaApis` / `AuthHelper`).
//!
//! Every request passes [`gate`] in dispatch before its handler runs. The gate refuses the
//! whole request when the API's check is on the cluster, a group or a transactional id;
//! checks on topics are per topic (a refused topic gets TOPIC_AUTHORIZATION_FAILED while
//! the others proceed), so the handlers of those APIs ask [`Ctx::topic_allowed`] with the
//! operation this table names for them. With no authorizer configured every check passes.
//!
//! | API | check | refusal |
//! |---|---|---|
//! | ApiVersions, SaslHandshake, SaslAuthenticate | none | |
//! | Produce | WRITE topic; WRITE transactional id when set | TOPIC_ / TRANSACTIONAL_ID_AUTHORIZATION_FAILED |
//! | Fetch (consumer) | READ topic | TOPIC_AUTHORIZATION_FAILED per partition |
//! | Fetch (replica, replica id ≥ 0) | CLUSTER_ACTION cluster | CLUSTER_AUTHORIZATION_FAILED |
//! | ListOffsets, OffsetForLeaderEpoch (consumer), DescribeTopicPartitions | DESCRIBE topic | TOPIC_AUTHORIZATION_FAILED |
//! | OffsetForLeaderEpoch (replica id ≥ 0) | CLUSTER_ACTION cluster | CLUSTER_AUTHORIZATION_FAILED per partition |
//! | Metadata | DESCRIBE topic (hidden from the full list); auto-create: CREATE cluster or topic | TOPIC_AUTHORIZATION_FAILED |
//! | CreateTopics | CREATE cluster or CREATE topic | TOPIC_AUTHORIZATION_FAILED |
//! | DeleteTopics, DeleteRecords | DELETE topic | TOPIC_AUTHORIZATION_FAILED |
//! | CreatePartitions | ALTER topic | TOPIC_AUTHORIZATION_FAILED |
//! | DescribeConfigs | DESCRIBE_CONFIGS topic / cluster | TOPIC_ / CLUSTER_AUTHORIZATION_FAILED |
//! | AlterConfigs, IncrementalAlterConfigs | ALTER_CONFIGS topic / cluster | TOPIC_ / CLUSTER_AUTHORIZATION_FAILED |
//! | JoinGroup, SyncGroup, Heartbeat, LeaveGroup | READ group | GROUP_AUTHORIZATION_FAILED |
//! | OffsetCommit | READ group, then READ topic | GROUP_ / TOPIC_AUTHORIZATION_FAILED |
//! | OffsetFetch | DESCRIBE group (per group in v8+), then DESCRIBE topic (hidden from "all") | GROUP_ / TOPIC_AUTHORIZATION_FAILED |
//! | OffsetDelete | DELETE group, then READ topic | GROUP_ / TOPIC_AUTHORIZATION_FAILED |
//! | FindCoordinator | DESCRIBE group / transactional id | GROUP_ / TRANSACTIONAL_ID_AUTHORIZATION_FAILED |
//! | DescribeGroups | DESCRIBE group | GROUP_AUTHORIZATION_FAILED per group |
//! | ListGroups | DESCRIBE cluster, else only the groups with DESCRIBE | (filtered) |
//! | DeleteGroups | DELETE group | GROUP_AUTHORIZATION_FAILED per group |
//! | InitProducerId | WRITE transactional id; without one IDEMPOTENT_WRITE cluster or WRITE on some topic | TRANSACTIONAL_ID_ / CLUSTER_AUTHORIZATION_FAILED |
//! | AddPartitionsToTxn v0-3 (in `txn.rs`) | WRITE transactional id, WRITE topic | TRANSACTIONAL_ID_ / TOPIC_AUTHORIZATION_FAILED per partition |
//! | AddPartitionsToTxn v4+ (broker path, in `txn.rs`) | CLUSTER_ACTION cluster | CLUSTER_AUTHORIZATION_FAILED |
//! | AddOffsetsToTxn (in `txn.rs`) | WRITE transactional id, READ group | TRANSACTIONAL_ID_ / GROUP_AUTHORIZATION_FAILED |
//! | EndTxn (in `txn.rs`) | WRITE transactional id | TRANSACTIONAL_ID_AUTHORIZATION_FAILED |
//! | TxnOffsetCommit (in `txn_offsets.rs`) | WRITE transactional id, READ group, READ topic | TRANSACTIONAL_ID_ / GROUP_ / TOPIC_AUTHORIZATION_FAILED per partition |
//! | DescribeCluster, DescribeUserScramCredentials, DescribeAcls | DESCRIBE cluster | CLUSTER_AUTHORIZATION_FAILED |
//! | AlterUserScramCredentials, CreateAcls, DeleteAcls | ALTER cluster | CLUSTER_AUTHORIZATION_FAILED |

use krafty_protocol::generated::{
    AlterUserScramCredentialsResponse, CreateAclsResponse, DeleteAclsResponse,
    DescribeAclsResponse, DescribeClusterResponse, DescribeUserScramCredentialsResponse,
    FetchResponse, FindCoordinatorResponse, HeartbeatResponse, InitProducerIdResponse,
    JoinGroupResponse, LeaveGroupResponse, OffsetCommitResponse, OffsetDeleteResponse,
    OffsetFetchResponse, RequestBody, SyncGroupResponse,
};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::authorizer::types::CLUSTER_NAME;
use crate::authorizer::{AclOperation, ResourceType};
use crate::error::code;
use crate::net::Pending;

impl Ctx {
    /// Whether this request's principal, from its peer's address, may do `op` on `name`.
    pub fn allowed(&self, op: AclOperation, kind: ResourceType, name: &str) -> bool {
        let host = self.peer.ip().to_string();
        self.state
            .authorizer
            .authorize(&self.principal, &host, op, kind, name)
    }

    /// Whether the principal may do `op` on topic `name`.
    pub fn topic_allowed(&self, op: AclOperation, name: &str) -> bool {
        self.allowed(op, ResourceType::Topic, name)
    }

    /// Whether the principal may do `op` on the cluster.
    pub fn cluster_allowed(&self, op: AclOperation) -> bool {
        self.allowed(op, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// Whether the principal may do `op` on group `name`.
    pub fn group_allowed(&self, op: AclOperation, name: &str) -> bool {
        self.allowed(op, ResourceType::Group, name)
    }

    /// Whether the principal may create topic `name` (CREATE on the cluster or the topic).
    pub fn may_create_topic(&self, name: &str) -> bool {
        self.cluster_allowed(AclOperation::Create) || self.topic_allowed(AclOperation::Create, name)
    }
}

/// The request-wide check of `body`: `Some(refusal)` when the principal may not make it.
/// Checks on individual topics and groups are left to the handlers (see the table).
pub fn gate(ctx: &Ctx, body: &RequestBody) -> Option<Pending> {
    use AclOperation::*;
    if !ctx.state.authorizer.enabled() {
        return None;
    }
    let refuse = |what: &str| {
        tracing::info!(principal = %ctx.principal, peer = %ctx.peer, refused = what, "not authorized");
    };
    match body {
        RequestBody::JoinGroup(r) if !ctx.group_allowed(Read, &r.group_id) => {
            refuse("JoinGroup");
            Some(ctx.ready(&JoinGroupResponse {
                error_code: code::GROUP_AUTHORIZATION_FAILED,
                generation_id: -1,
                protocol_name: (ctx.version < 7).then(|| StrBytes::from("")),
                ..Default::default()
            }))
        }
        RequestBody::SyncGroup(r) if !ctx.group_allowed(Read, &r.group_id) => {
            refuse("SyncGroup");
            Some(ctx.ready(&SyncGroupResponse {
                error_code: code::GROUP_AUTHORIZATION_FAILED,
                ..Default::default()
            }))
        }
        RequestBody::Heartbeat(r) if !ctx.group_allowed(Read, &r.group_id) => {
            refuse("Heartbeat");
            Some(ctx.ready(&HeartbeatResponse {
                error_code: code::GROUP_AUTHORIZATION_FAILED,
                ..Default::default()
            }))
        }
        RequestBody::LeaveGroup(r) if !ctx.group_allowed(Read, &r.group_id) => {
            refuse("LeaveGroup");
            Some(ctx.ready(&LeaveGroupResponse {
                error_code: code::GROUP_AUTHORIZATION_FAILED,
                ..Default::default()
            }))
        }
        RequestBody::OffsetCommit(r) if !ctx.group_allowed(Read, &r.group_id) => {
            refuse("OffsetCommit");
            Some(ctx.ready(&offset_commit_refused(r)))
        }
        RequestBody::OffsetFetch(r) => offset_fetch_gate(ctx, r).inspect(|_| refuse("OffsetFetch")),
        RequestBody::OffsetDelete(r) if !ctx.group_allowed(Delete, &r.group_id) => {
            refuse("OffsetDelete");
            Some(ctx.ready(&OffsetDeleteResponse {
                error_code: code::GROUP_AUTHORIZATION_FAILED,
                ..Default::default()
            }))
        }
        RequestBody::FindCoordinator(r) => {
            find_coordinator_gate(ctx, r).inspect(|_| refuse("FindCoordinator"))
        }
        RequestBody::InitProducerId(r) => {
            let error = match &r.transactional_id {
                Some(id) if !ctx.allowed(Write, ResourceType::TransactionalId, id) => {
                    code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                }
                Some(_) => return None,
                None if ctx.cluster_allowed(IdempotentWrite) => return None,
                None if ctx.state.authorizer.authorize_any(
                    &ctx.principal,
                    &ctx.peer.ip().to_string(),
                    Write,
                    ResourceType::Topic,
                ) =>
                {
                    return None
                }
                None => code::CLUSTER_AUTHORIZATION_FAILED,
            };
            refuse("InitProducerId");
            Some(ctx.ready(&InitProducerIdResponse {
                error_code: error,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            }))
        }
        RequestBody::Fetch(r) => {
            let replica = if ctx.version >= 15 {
                r.replica_state.replica_id
            } else {
                r.replica_id
            };
            if replica >= 0 && !ctx.cluster_allowed(ClusterAction) {
                refuse("replica Fetch");
                return Some(ctx.ready(&FetchResponse {
                    error_code: code::CLUSTER_AUTHORIZATION_FAILED,
                    ..Default::default()
                }));
            }
            None
        }
        RequestBody::DescribeCluster(_) if !ctx.cluster_allowed(Describe) => {
            refuse("DescribeCluster");
            Some(ctx.ready(&DescribeClusterResponse {
                error_code: code::CLUSTER_AUTHORIZATION_FAILED,
                controller_id: -1,
                cluster_id: StrBytes::from(""),
                cluster_authorized_operations: i32::MIN,
                ..Default::default()
            }))
        }
        RequestBody::DescribeUserScramCredentials(_) if !ctx.cluster_allowed(Describe) => {
            refuse("DescribeUserScramCredentials");
            Some(ctx.ready(&DescribeUserScramCredentialsResponse {
                error_code: code::CLUSTER_AUTHORIZATION_FAILED,
                ..Default::default()
            }))
        }
        RequestBody::AlterUserScramCredentials(r) if !ctx.cluster_allowed(Alter) => {
            refuse("AlterUserScramCredentials");
            let users = r
                .deletions
                .iter()
                .map(|d| &d.name)
                .chain(r.upsertions.iter().map(|u| &u.name));
            let mut seen = std::collections::BTreeSet::new();
            let results = users
                .filter(|u| seen.insert(u.to_string()))
                .map(|u| krafty_protocol::generated::alter_user_scram_credentials_response::AlterUserScramCredentialsResult {
                    user: u.clone(),
                    error_code: code::CLUSTER_AUTHORIZATION_FAILED,
                    ..Default::default()
                })
                .collect();
            Some(ctx.ready(&AlterUserScramCredentialsResponse {
                results,
                ..Default::default()
            }))
        }
        RequestBody::DescribeAcls(_) if !ctx.cluster_allowed(Describe) => {
            refuse("DescribeAcls");
            Some(ctx.ready(&DescribeAclsResponse {
                error_code: code::CLUSTER_AUTHORIZATION_FAILED,
                error_message: Some(StrBytes::from("Cluster authorization failed.")),
                ..Default::default()
            }))
        }
        RequestBody::CreateAcls(r) if !ctx.cluster_allowed(Alter) => {
            refuse("CreateAcls");
            Some(
                ctx.ready(&CreateAclsResponse {
                    results: r
                        .creations
                        .iter()
                        .map(|_| {
                            krafty_protocol::generated::create_acls_response::AclCreationResult {
                                error_code: code::CLUSTER_AUTHORIZATION_FAILED,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                }),
            )
        }
        RequestBody::DeleteAcls(r) if !ctx.cluster_allowed(Alter) => {
            refuse("DeleteAcls");
            Some(ctx.ready(&DeleteAclsResponse {
                filter_results: r
                    .filters
                    .iter()
                    .map(|_| krafty_protocol::generated::delete_acls_response::DeleteAclsFilterResult {
                        error_code: code::CLUSTER_AUTHORIZATION_FAILED,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }))
        }
        _ => None,
    }
}

fn offset_commit_refused(
    r: &krafty_protocol::generated::OffsetCommitRequest,
) -> OffsetCommitResponse {
    use krafty_protocol::generated::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    OffsetCommitResponse {
        topics: r
            .topics
            .iter()
            .map(|t| OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| OffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code::GROUP_AUTHORIZATION_FAILED,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// OffsetFetch before v8: DESCRIBE on the group (v8+ batches are checked per group by the
/// handler).
fn offset_fetch_gate(
    ctx: &Ctx,
    r: &krafty_protocol::generated::OffsetFetchRequest,
) -> Option<Pending> {
    if ctx.version >= 8 || ctx.group_allowed(AclOperation::Describe, &r.group_id) {
        return None;
    }
    Some(ctx.ready(&OffsetFetchResponse {
        error_code: code::GROUP_AUTHORIZATION_FAILED,
        ..Default::default()
    }))
}

/// FindCoordinator: DESCRIBE on the group (key type 0) or transactional id (key type 1).
fn find_coordinator_gate(
    ctx: &Ctx,
    r: &krafty_protocol::generated::FindCoordinatorRequest,
) -> Option<Pending> {
    use krafty_protocol::generated::find_coordinator_response::Coordinator;
    let (kind, error) = match r.key_type {
        1 => (
            ResourceType::TransactionalId,
            code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ),
        _ => (ResourceType::Group, code::GROUP_AUTHORIZATION_FAILED),
    };
    let ok = |k: &str| ctx.allowed(AclOperation::Describe, kind, k);
    if ctx.version < 4 {
        if ok(&r.key) {
            return None;
        }
        return Some(ctx.ready(&FindCoordinatorResponse {
            error_code: error,
            node_id: -1,
            host: StrBytes::from(""),
            port: -1,
            ..Default::default()
        }));
    }
    if r.coordinator_keys.iter().all(|k| ok(k)) {
        return None;
    }
    let (host, port) = &ctx.listener.advertised;
    Some(
        ctx.ready(&FindCoordinatorResponse {
            coordinators: r
                .coordinator_keys
                .iter()
                .map(|k| {
                    let allowed = ok(k);
                    Coordinator {
                        key: k.clone(),
                        node_id: if allowed {
                            ctx.state.config.node_id
                        } else {
                            -1
                        },
                        host: StrBytes::from(if allowed { host.clone() } else { String::new() }),
                        port: if allowed { *port } else { -1 },
                        error_code: if allowed { code::NONE } else { error },
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        }),
    )
}
