//! The classic group APIs: JoinGroup (11, v0-9), SyncGroup (14, v0-5), Heartbeat (12,
//! v0-4), LeaveGroup (13, v0-5), ListGroups (16, v0-5), DescribeGroups (15, v0-5) and
//! DeleteGroups (42, v0-2).

use krafty_protocol::generated::delete_groups_response::DeletableGroupResult;
use krafty_protocol::generated::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use krafty_protocol::generated::join_group_response::JoinGroupResponseMember;
use krafty_protocol::generated::leave_group_response::MemberResponse;
use krafty_protocol::generated::list_groups_response::ListedGroup;
use krafty_protocol::generated::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, SyncGroupRequest, SyncGroupResponse,
};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::error::code;
use crate::group::coordinator::{Answer, JoinRequest};
use crate::group::state::{JoinResult, SyncResult};
use crate::net::Pending;

fn s(v: &str) -> StrBytes {
    StrBytes::from(v.to_string())
}

fn join_response(version: i16, r: JoinResult) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: r.error,
        generation_id: r.generation,
        protocol_type: if version >= 7 {
            r.protocol_type.as_deref().map(s)
        } else {
            None
        },
        protocol_name: match r.protocol_name.as_deref() {
            Some(p) => Some(s(p)),
            None if version >= 7 => None,
            None => Some(s("")),
        },
        leader: s(&r.leader),
        member_id: s(&r.member_id),
        members: r
            .members
            .into_iter()
            .map(|(id, instance, metadata)| JoinGroupResponseMember {
                member_id: s(&id),
                group_instance_id: if version >= 5 {
                    instance.as_deref().map(s)
                } else {
                    None
                },
                metadata,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Answers JoinGroup (waiting for the rebalance to complete).
pub fn join_group(ctx: &Ctx, req: JoinGroupRequest) -> Pending {
    let v = ctx.version;
    let jr = JoinRequest {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_deref().map(str::to_string),
        version: v,
        client_id: ctx.client_id.clone(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if v >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
    };
    let member_id = jr.member_id.clone();
    match ctx.state.groups.join(jr) {
        Answer::Now(r) => ctx.ready(&join_response(v, r)),
        Answer::Later(rx) => {
            let ctx = ctx.clone();
            Pending::Later(Box::pin(async move {
                let r = rx.await.unwrap_or_else(|_| JoinResult {
                    error: code::UNKNOWN_MEMBER_ID,
                    generation: -1,
                    member_id,
                    ..Default::default()
                });
                ctx.encode(&join_response(ctx.version, r))
            }))
        }
    }
}

fn sync_response(version: i16, r: SyncResult) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: r.error,
        protocol_type: if version >= 5 {
            r.protocol_type.as_deref().map(s)
        } else {
            None
        },
        protocol_name: if version >= 5 {
            r.protocol_name.as_deref().map(s)
        } else {
            None
        },
        assignment: r.assignment,
        ..Default::default()
    }
}

/// Answers SyncGroup (followers wait for the leader's assignment).
pub fn sync_group(ctx: &Ctx, req: SyncGroupRequest) -> Pending {
    let assignments = req
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
        .collect();
    match ctx.state.groups.sync(
        &req.group_id,
        req.generation_id,
        &req.member_id,
        assignments,
    ) {
        Answer::Now(r) => ctx.ready(&sync_response(ctx.version, r)),
        Answer::Later(rx) => {
            let ctx = ctx.clone();
            Pending::Later(Box::pin(async move {
                let r = rx.await.unwrap_or(SyncResult {
                    error: code::REBALANCE_IN_PROGRESS,
                    ..Default::default()
                });
                ctx.encode(&sync_response(ctx.version, r))
            }))
        }
    }
}

/// Answers Heartbeat.
pub fn heartbeat(ctx: &Ctx, req: HeartbeatRequest) -> Pending {
    let error = ctx
        .state
        .groups
        .heartbeat(&req.group_id, req.generation_id, &req.member_id);
    ctx.ready(&HeartbeatResponse {
        error_code: error,
        ..Default::default()
    })
}

/// Answers LeaveGroup.
pub fn leave_group(ctx: &Ctx, req: LeaveGroupRequest) -> Pending {
    if ctx.version < 3 {
        let errors = ctx
            .state
            .groups
            .leave(&req.group_id, &[(req.member_id.to_string(), None)]);
        return ctx.ready(&LeaveGroupResponse {
            error_code: errors.first().copied().unwrap_or(code::NONE),
            ..Default::default()
        });
    }
    let ids: Vec<(String, Option<String>)> = req
        .members
        .iter()
        .map(|m| {
            (
                m.member_id.to_string(),
                m.group_instance_id.as_deref().map(str::to_string),
            )
        })
        .collect();
    let errors = ctx.state.groups.leave(&req.group_id, &ids);
    ctx.ready(&LeaveGroupResponse {
        error_code: code::NONE,
        members: req
            .members
            .iter()
            .zip(errors)
            .map(|(m, e)| MemberResponse {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                error_code: e,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// Answers ListGroups.
pub fn list_groups(ctx: &Ctx, req: ListGroupsRequest) -> Pending {
    let v = ctx.version;
    let groups = ctx
        .state
        .groups
        .list()
        .into_iter()
        .filter(|(id, _, _)| {
            // DESCRIBE on the cluster lists every group, else only those with DESCRIBE
            ctx.cluster_allowed(AclOperation::Describe)
                || ctx.group_allowed(AclOperation::Describe, id)
        })
        .filter(|(_, _, st)| {
            req.states_filter.is_empty()
                || req.states_filter.iter().any(|f| f.eq_ignore_ascii_case(st))
        })
        .filter(|_| {
            req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case("classic"))
        })
        .map(|(id, pt, st)| ListedGroup {
            group_id: s(&id),
            protocol_type: s(&pt),
            group_state: if v >= 4 { s(st) } else { s("") },
            group_type: if v >= 5 { s("classic") } else { s("") },
            ..Default::default()
        })
        .collect();
    ctx.ready(&ListGroupsResponse {
        groups,
        ..Default::default()
    })
}

/// Answers DeleteGroups.
pub fn delete_groups(ctx: &Ctx, req: DeleteGroupsRequest) -> Pending {
    let results = req
        .groups_names
        .iter()
        .map(|g| DeletableGroupResult {
            group_id: g.clone(),
            error_code: if ctx.group_allowed(AclOperation::Delete, g) {
                ctx.state.groups.delete_group(g)
            } else {
                code::GROUP_AUTHORIZATION_FAILED
            },
            ..Default::default()
        })
        .collect();
    ctx.ready(&DeleteGroupsResponse {
        results,
        ..Default::default()
    })
}

/// Answers DescribeGroups.
pub fn describe_groups(ctx: &Ctx, req: DescribeGroupsRequest) -> Pending {
    let v = ctx.version;
    let groups = req
        .groups
        .iter()
        .map(|id| {
            if !ctx.group_allowed(AclOperation::Describe, id) {
                return DescribedGroup {
                    error_code: code::GROUP_AUTHORIZATION_FAILED,
                    group_id: id.clone(),
                    group_state: s(""),
                    protocol_type: s(""),
                    protocol_data: s(""),
                    authorized_operations: i32::MIN,
                    ..Default::default()
                };
            }
            ctx.state
                .groups
                .with_group(id, |g| {
                    let stable = g.state == crate::group::state::GroupState::Stable;
                    let protocol = g.protocol.clone().unwrap_or_default();
                    DescribedGroup {
                        error_code: code::NONE,
                        group_id: id.clone(),
                        group_state: s(g.state.name()),
                        protocol_type: s(g.protocol_type.as_deref().unwrap_or("")),
                        protocol_data: s(&protocol),
                        members: g
                            .members
                            .values()
                            .map(|m| DescribedGroupMember {
                                member_id: s(&m.id),
                                group_instance_id: if v >= 4 {
                                    m.group_instance_id.as_deref().map(s)
                                } else {
                                    None
                                },
                                client_id: s(&m.client_id),
                                client_host: s(&m.client_host),
                                member_metadata: m.metadata(&protocol),
                                member_assignment: if stable {
                                    m.assignment.clone()
                                } else {
                                    Default::default()
                                },
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }
                })
                .unwrap_or_else(|| DescribedGroup {
                    error_code: code::NONE,
                    group_id: id.clone(),
                    group_state: s("Dead"),
                    ..Default::default()
                })
        })
        .collect();
    ctx.ready(&DescribeGroupsResponse {
        groups,
        ..Default::default()
    })
}
