//! Offsets: a group's committed offsets (OffsetFetch, OffsetCommit as a standalone commit,
//! OffsetDelete, at the group's coordinator) and the partitions' own offsets (ListOffsets,
//! DeleteRecords, at each partition's leader).

use std::collections::BTreeMap;
use std::sync::Arc;

use krafty_protocol::generated::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use krafty_protocol::generated::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use krafty_protocol::generated::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use krafty_protocol::generated::offset_fetch_request::OffsetFetchRequestTopic;
use krafty_protocol::generated::{
    ApiKey, DeleteRecordsRequest, OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest,
    OffsetFetchResponse,
};
use krafty_protocol::wire::StrBytes;

use super::{check, Admin};
use crate::error::{Error, KafkaCode, Result};
use crate::types::TopicPartition;

use crate::net::list_offsets::{self, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP};

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset the group consumes.
    pub offset: i64,
    /// The metadata committed with it.
    pub metadata: Option<String>,
}

/// Which offset [`Admin::list_offsets`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (the high watermark).
    Latest,
    /// The offset of the record with the largest timestamp (ListOffsets v7+).
    MaxTimestamp,
    /// The first offset whose record timestamp is at least this (milliseconds since the
    /// epoch); offset -1 when no record is that recent.
    Timestamp(i64),
}

impl OffsetSpec {
    fn timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => EARLIEST_TIMESTAMP,
            OffsetSpec::Latest => LATEST_TIMESTAMP,
            OffsetSpec::MaxTimestamp => MAX_TIMESTAMP,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// One partition's answer to [`Admin::list_offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOffsetsResult {
    /// The offset (-1 when no record matches a timestamp spec).
    pub offset: i64,
    /// The timestamp of the record at `offset` (-1 for earliest/latest or when unknown).
    pub timestamp: i64,
}

/// Topic name -> items of its partitions, in topic order.
fn by_topic<T>(items: impl IntoIterator<Item = (Arc<str>, T)>) -> BTreeMap<Arc<str>, Vec<T>> {
    let mut out: BTreeMap<Arc<str>, Vec<T>> = BTreeMap::new();
    for (topic, item) in items {
        out.entry(topic).or_default().push(item);
    }
    out
}

fn name(topic: &Arc<str>) -> StrBytes {
    StrBytes::from(topic.to_string())
}

impl Admin {
    /// Every committed offset of `group` (OffsetFetch with topics = null at the group's
    /// coordinator). A group that does not exist has none. When the broker's answer to
    /// topics = null cannot be decoded (Tansu sends a null topic array), the offsets are
    /// fetched again naming every non-internal topic of the cluster.
    pub async fn list_group_offsets(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let resp = match self.offset_fetch(group, None).await {
            // Some brokers (Tansu) answer topics = null with a null topic array, which
            // the response schema forbids; ask for every topic by name instead.
            Err(Error::Codec(e)) => {
                tracing::debug!(group, error = %e, "OffsetFetch of all topics undecodable; naming the topics");
                let snap = self.metadata.fetch_all().await?;
                let topics = snap
                    .topics
                    .values()
                    .filter(|t| !t.is_internal)
                    .map(|t| OffsetFetchRequestTopic {
                        name: StrBytes::from(t.name.clone()),
                        partition_indexes: t.partitions.iter().map(|p| p.id).collect(),
                        ..Default::default()
                    })
                    .collect();
                self.offset_fetch(group, Some(topics)).await?
            }
            other => other?,
        };
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(&*t.name, p.partition_index);
                check(p.error_code, None, format!("OffsetFetch `{group}` {tp}"))?;
                if p.committed_offset < 0 {
                    continue;
                }
                out.insert(
                    tp,
                    OffsetAndMetadata {
                        offset: p.committed_offset,
                        metadata: p.metadata.map(|m| m.to_string()),
                    },
                );
            }
        }
        Ok(out)
    }

    /// One OffsetFetch of `topics` (`None`: all) at `group`'s coordinator.
    async fn offset_fetch(
        &self,
        group: &str,
        topics: Option<Vec<OffsetFetchRequestTopic>>,
    ) -> Result<OffsetFetchResponse> {
        let req = OffsetFetchRequest {
            group_id: StrBytes::from(group.to_string()),
            topics,
            require_stable: false,
            ..Default::default()
        };
        self.at_coordinator(group, |_, conn| {
            let req = &req;
            async move {
                let resp = conn.send(req).await?;
                check(resp.error_code, None, format!("OffsetFetch `{group}`"))?;
                Ok(resp)
            }
        })
        .await
    }

    /// Sets `group`'s committed offsets (OffsetCommit with generation -1 and no member id,
    /// as the Java admin client's `alterConsumerGroupOffsets`). The group must have no
    /// active members: the broker's UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and
    /// REBALANCE_IN_PROGRESS answers become [`Error::Broker`] with
    /// [`KafkaCode::NonEmptyGroup`] (the context names the broker's code); other
    /// per-partition codes are returned as they are.
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let topics = by_topic(offsets.iter().map(|(tp, offset)| {
            (
                tp.topic.clone(),
                OffsetCommitRequestPartition {
                    partition_index: tp.partition,
                    committed_offset: *offset,
                    committed_leader_epoch: -1,
                    commit_timestamp: -1,
                    committed_metadata: Some(StrBytes::from_static_str("")),
                    ..Default::default()
                },
            )
        }));
        let req = OffsetCommitRequest {
            group_id: StrBytes::from(group.to_string()),
            generation_id_or_member_epoch: -1,
            member_id: StrBytes::from_static_str(""),
            group_instance_id: None,
            retention_time_ms: -1,
            topics: topics
                .iter()
                .map(|(t, partitions)| OffsetCommitRequestTopic {
                    name: name(t),
                    partitions: partitions.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        self.at_coordinator(group, |_, conn| {
            let req = &req;
            async move {
                let resp = conn.send(req).await?;
                for t in &resp.topics {
                    for p in &t.partitions {
                        if p.error_code == 0 {
                            continue;
                        }
                        let code = KafkaCode::from_code(p.error_code);
                        let what =
                            format!("OffsetCommit `{group}` {}-{}", t.name, p.partition_index);
                        if matches!(
                            code,
                            KafkaCode::UnknownMemberId
                                | KafkaCode::IllegalGeneration
                                | KafkaCode::RebalanceInProgress
                        ) {
                            return Err(Error::Broker {
                                code: KafkaCode::NonEmptyGroup,
                                context: format!(
                                    "{what}: the group has active members (broker answered {})",
                                    code.name()
                                ),
                            });
                        }
                        return Err(Error::broker(p.error_code, what));
                    }
                }
                Ok(())
            }
        })
        .await
    }

    /// Removes `group`'s committed offsets of `partitions` (OffsetDelete). The broker
    /// refuses partitions of topics the group is subscribed to
    /// (GROUP_SUBSCRIBED_TO_TOPIC) and unknown groups (GROUP_ID_NOT_FOUND).
    pub async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<()> {
        if partitions.is_empty() {
            return Ok(());
        }
        let topics = by_topic(partitions.iter().map(|tp| {
            (
                tp.topic.clone(),
                OffsetDeleteRequestPartition {
                    partition_index: tp.partition,
                },
            )
        }));
        let req = OffsetDeleteRequest {
            group_id: StrBytes::from(group.to_string()),
            topics: topics
                .iter()
                .map(|(t, partitions)| OffsetDeleteRequestTopic {
                    name: name(t),
                    partitions: partitions.clone(),
                })
                .collect(),
        };
        self.at_coordinator(group, |_, conn| {
            let req = &req;
            async move {
                let resp = conn.send(req).await?;
                check(resp.error_code, None, format!("OffsetDelete `{group}`"))?;
                for t in &resp.topics {
                    for p in &t.partitions {
                        check(
                            p.error_code,
                            None,
                            format!("OffsetDelete `{group}` {}-{}", t.name, p.partition_index),
                        )?;
                    }
                }
                Ok(())
            }
        })
        .await
    }

    /// Looks up offsets of partitions (ListOffsets at each partition's leader, read
    /// uncommitted). Any partition's error fails the call.
    pub async fn list_offsets(
        &self,
        requests: &[(TopicPartition, OffsetSpec)],
    ) -> Result<BTreeMap<TopicPartition, ListOffsetsResult>> {
        let by_leader = self.by_leader(requests).await?;
        let mut pending = Vec::with_capacity(by_leader.len());
        for (node, parts) in &by_leader {
            let conn = self.broker(*node).await?;
            let version = conn.version(ApiKey::ListOffsets)?;
            if version < 7 && parts.iter().any(|(_, s)| *s == OffsetSpec::MaxTimestamp) {
                return Err(Error::UnsupportedApi(
                    "ListOffsets v7+ (OffsetSpec::MaxTimestamp)",
                ));
            }
            let wanted: Vec<(TopicPartition, i64)> = parts
                .iter()
                .map(|(tp, spec)| (tp.clone(), spec.timestamp()))
                .collect();
            let req = list_offsets::request(&wanted, 0, self.timeout_ms());
            pending.push(conn.enqueue_raw(version, &req)?);
        }
        let mut out = BTreeMap::new();
        for p in pending {
            for (tp, r) in list_offsets::results(p.wait().await?) {
                match r {
                    Ok((offset, timestamp)) => {
                        out.insert(tp, ListOffsetsResult { offset, timestamp });
                    }
                    Err(code) => {
                        return Err(self.partition_error(code, format!("ListOffsets {tp}")));
                    }
                }
            }
        }
        if let Some((tp, _)) = requests.iter().find(|(tp, _)| !out.contains_key(tp)) {
            return Err(Error::InvalidResponse(format!(
                "ListOffsets: no result for {tp}"
            )));
        }
        Ok(out)
    }

    /// Deletes the records of each partition below the offset given (-1: the high
    /// watermark) with DeleteRecords at each partition's leader; returns each partition's
    /// new low watermark (log start offset). Any partition's error fails the call.
    pub async fn delete_records(
        &self,
        before: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        let by_leader = self.by_leader(before).await?;
        let mut pending = Vec::with_capacity(by_leader.len());
        for (node, parts) in &by_leader {
            let conn = self.broker(*node).await?;
            let topics = by_topic(parts.iter().map(|(tp, offset)| {
                (
                    tp.topic.clone(),
                    DeleteRecordsPartition {
                        partition_index: tp.partition,
                        offset: *offset,
                        ..Default::default()
                    },
                )
            }));
            let req = DeleteRecordsRequest {
                topics: topics
                    .into_iter()
                    .map(|(t, partitions)| DeleteRecordsTopic {
                        name: name(&t),
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            };
            pending.push(conn.enqueue(&req)?);
        }
        let mut out = BTreeMap::new();
        for p in pending {
            let resp = p.wait().await?;
            for t in resp.topics {
                for p in t.partitions {
                    let tp = TopicPartition::new(&*t.name, p.partition_index);
                    if p.error_code != 0 {
                        return Err(
                            self.partition_error(p.error_code, format!("DeleteRecords {tp}"))
                        );
                    }
                    out.insert(tp, p.low_watermark);
                }
            }
        }
        if let Some((tp, _)) = before.iter().find(|(tp, _)| !out.contains_key(tp)) {
            return Err(Error::InvalidResponse(format!(
                "DeleteRecords: no result for {tp}"
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_specs_map_to_kafka_timestamps() {
        assert_eq!(OffsetSpec::Earliest.timestamp(), -2);
        assert_eq!(OffsetSpec::Latest.timestamp(), -1);
        assert_eq!(OffsetSpec::MaxTimestamp.timestamp(), -3);
        assert_eq!(OffsetSpec::Timestamp(1234).timestamp(), 1234);
    }

    #[test]
    fn by_topic_groups_in_topic_order() {
        let grouped = by_topic([
            (Arc::from("b"), 1),
            (Arc::from("a"), 2),
            (Arc::from("b"), 3),
        ]);
        let flat: Vec<(String, Vec<i32>)> = grouped
            .into_iter()
            .map(|(t, v)| (t.to_string(), v))
            .collect();
        assert_eq!(
            flat,
            vec![("a".to_string(), vec![2]), ("b".to_string(), vec![1, 3])]
        );
    }
}
