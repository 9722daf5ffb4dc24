//! Consumer groups (classic protocol): ListGroups (at every broker, merged), DescribeGroups
//! and DeleteGroups (at each group's coordinator).

use std::collections::BTreeMap;

use krafty_protocol::generated::{
    ApiKey, DeleteGroupsRequest, DescribeGroupsRequest, ListGroupsRequest,
};
use krafty_protocol::wire::StrBytes;

use super::{check, Admin};
use crate::consumer::group::assignor::decode_assignment;
use crate::error::{Error, Result};
use crate::types::TopicPartition;

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// The protocol type (`consumer` for consumer groups, empty for groups that only
    /// commit offsets).
    pub protocol_type: String,
    /// The group's state (`Stable`, `Empty`, ...) when the broker reports it (ListGroups
    /// v4 and later).
    pub state: Option<String>,
}

/// A group member as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id` (static membership), if any.
    pub group_instance_id: Option<String>,
    /// Its `client.id`.
    pub client_id: String,
    /// The host it connected from.
    pub host: String,
    /// The partitions assigned to it (decoded for `consumer` groups; empty otherwise).
    pub assignment: Vec<TopicPartition>,
}

/// A group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The group's state: `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable` or
    /// `Dead` (also for groups the coordinator does not know).
    pub state: String,
    /// The protocol type (`consumer` for consumer groups).
    pub protocol_type: String,
    /// The chosen protocol (the assignor of consumer groups: `range`, ...).
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
    /// The broker id of the group's coordinator.
    pub coordinator: i32,
}

impl Admin {
    /// Every group of the cluster: ListGroups is sent to every broker (each lists the
    /// groups it coordinates) and the answers merged, sorted by group id. Any broker's
    /// error fails the call.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let brokers = self.brokers().await?;
        if brokers.is_empty() {
            return Err(Error::NoBrokerAvailable(
                "metadata names no brokers".to_string(),
            ));
        }
        let mut pending = Vec::with_capacity(brokers.len());
        for b in &brokers {
            let conn = self.pool().get(b.node_id).await?;
            let version = conn.version(ApiKey::ListGroups)?;
            let p = conn.enqueue_raw(version, &ListGroupsRequest::default())?;
            pending.push((b.node_id, version, p));
        }
        let mut groups: BTreeMap<String, GroupListing> = BTreeMap::new();
        for (node, version, p) in pending {
            let resp = p.wait().await?;
            check(
                resp.error_code,
                None,
                format!("ListGroups at broker {node}"),
            )?;
            tracing::debug!(node, n = resp.groups.len(), "listed groups");
            for g in resp.groups {
                let listing = GroupListing {
                    group_id: g.group_id.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    state: (version >= 4).then(|| g.group_state.to_string()),
                };
                groups.insert(listing.group_id.clone(), listing);
            }
        }
        Ok(groups.into_values().collect())
    }

    /// Describes `groups` (DescribeGroups at each group's coordinator), in order. A group's
    /// error code fails the whole call. Member assignments of `consumer` groups are
    /// decoded into partitions.
    pub async fn describe_groups(&self, groups: &[&str]) -> Result<Vec<GroupDescription>> {
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            out.push(self.describe_group(group).await?);
        }
        Ok(out)
    }

    async fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        let req = DescribeGroupsRequest {
            groups: vec![StrBytes::from(group.to_string())],
            include_authorized_operations: false,
            ..Default::default()
        };
        let (coordinator, resp) = self
            .at_coordinator(group, |node, conn| {
                let req = &req;
                async move {
                    let resp = conn.send(req).await?;
                    let g = resp
                        .groups
                        .into_iter()
                        .find(|g| g.group_id == group)
                        .ok_or_else(|| {
                            Error::InvalidResponse(format!(
                                "DescribeGroups: no result for group `{group}`"
                            ))
                        })?;
                    check(g.error_code, None, format!("DescribeGroups `{group}`"))?;
                    Ok((node, g))
                }
            })
            .await?;
        let is_consumer = resp.protocol_type == "consumer";
        let members = resp
            .members
            .into_iter()
            .map(|m| {
                let assignment = if is_consumer {
                    decode_assignment(m.member_assignment)
                        .map_err(|e| {
                            Error::InvalidResponse(format!(
                                "DescribeGroups `{group}`: assignment of member {}: {e}",
                                m.member_id
                            ))
                        })?
                        .into_iter()
                        .map(|(t, p)| TopicPartition::new(t, p))
                        .collect()
                } else {
                    Vec::new()
                };
                Ok(MemberDescription {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                    client_id: m.client_id.to_string(),
                    host: m.client_host.to_string(),
                    assignment,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(GroupDescription {
            group_id: resp.group_id.to_string(),
            state: resp.group_state.to_string(),
            protocol_type: resp.protocol_type.to_string(),
            protocol: resp.protocol_data.to_string(),
            members,
            coordinator,
        })
    }

    /// Deletes `groups` (DeleteGroups at each group's coordinator); one result per group,
    /// in order. A group with members is NON_EMPTY_GROUP, an unknown one
    /// GROUP_ID_NOT_FOUND.
    pub async fn delete_groups(&self, groups: &[&str]) -> Result<Vec<Result<()>>> {
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let req = DeleteGroupsRequest {
                groups_names: vec![StrBytes::from(group.to_string())],
                ..Default::default()
            };
            let r = self
                .at_coordinator(group, |_, conn| {
                    let req = &req;
                    async move {
                        let resp = conn.send(req).await?;
                        let r = resp
                            .results
                            .iter()
                            .find(|r| r.group_id == *group)
                            .ok_or_else(|| {
                                Error::InvalidResponse(format!(
                                    "DeleteGroups: no result for group `{group}`"
                                ))
                            })?;
                        check(r.error_code, None, format!("DeleteGroups `{group}`"))
                    }
                })
                .await;
            out.push(r);
        }
        Ok(out)
    }
}
