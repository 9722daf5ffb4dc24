//! Topics, partitions and the cluster: CreateTopics, DeleteTopics and CreatePartitions (at
//! the controller) and Metadata (list/describe topics, describe the cluster).

use krafty_protocol::generated::create_partitions_request::CreatePartitionsTopic;
use krafty_protocol::generated::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use krafty_protocol::generated::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
};
use krafty_protocol::wire::StrBytes;

use super::{check, Admin};
use crate::error::{Error, Result};
use crate::net::{BrokerInfo, TopicInfo};

/// A per-topic result: `what `topic`: message` on a non-zero code.
fn per_topic(code: i16, message: Option<&StrBytes>, what: &str, topic: &str) -> Result<()> {
    check(code, message, format!("{what} `{topic}`"))
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Number of partitions (-1: the broker's default).
    pub partitions: i32,
    /// Replication factor (-1: the broker's default).
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and `replication_factor` replicas.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    /// Adds a topic config.
    #[must_use]
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// The cluster as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Controller broker id (-1 when unknown).
    pub controller_id: i32,
    /// Brokers, sorted by id.
    pub brokers: Vec<BrokerInfo>,
}

impl Admin {
    /// Creates topics; one result per topic, in order.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<Vec<Result<()>>> {
        let conn = self.controller().await?;
        let req = CreateTopicsRequest {
            topics: topics
                .iter()
                .map(|t| CreatableTopic {
                    name: StrBytes::from(t.name.clone()),
                    num_partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    configs: t
                        .configs
                        .iter()
                        .map(|(k, v)| CreatableTopicConfig {
                            name: StrBytes::from(k.clone()),
                            value: Some(StrBytes::from(v.clone())),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: self.timeout_ms(),
            validate_only: false,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        Ok(topics
            .iter()
            .map(
                |t| match resp.topics.iter().find(|r| r.name == t.name.as_str()) {
                    Some(r) => per_topic(
                        r.error_code,
                        r.error_message.as_ref(),
                        "create topic",
                        &t.name,
                    ),
                    None => Err(Error::InvalidResponse(format!(
                        "no result for topic `{}`",
                        t.name
                    ))),
                },
            )
            .collect())
    }

    /// Creates one topic.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<()> {
        self.create_topics(&[NewTopic::new(name, partitions, replication_factor)])
            .await?
            .pop()
            .unwrap_or_else(|| Err(Error::InvalidResponse("empty CreateTopics result".into())))
    }

    /// Deletes topics by name; one result per topic, in order.
    pub async fn delete_topics(&self, names: &[&str]) -> Result<Vec<Result<()>>> {
        let conn = self.controller().await?;
        let req = DeleteTopicsRequest {
            topic_names: names
                .iter()
                .map(|n| StrBytes::from(n.to_string()))
                .collect(),
            timeout_ms: self.timeout_ms(),
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        Ok(names
            .iter()
            .map(|n| {
                match resp
                    .responses
                    .iter()
                    .find(|r| r.name.as_ref().is_some_and(|rn| rn == n))
                {
                    Some(r) => per_topic(r.error_code, r.error_message.as_ref(), "delete topic", n),
                    None => Err(Error::InvalidResponse(format!("no result for topic `{n}`"))),
                }
            })
            .collect())
    }

    /// Grows `topic` to `total_partitions` partitions.
    pub async fn create_partitions(&self, topic: &str, total_partitions: i32) -> Result<()> {
        let conn = self.controller().await?;
        let req = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: StrBytes::from(topic.to_string()),
                count: total_partitions,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: self.timeout_ms(),
            validate_only: false,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        match resp.results.iter().find(|r| r.name == topic) {
            Some(r) => per_topic(
                r.error_code,
                r.error_message.as_ref(),
                "create partitions of",
                topic,
            ),
            None => Err(Error::InvalidResponse(format!(
                "no result for topic `{topic}`"
            ))),
        }
    }

    /// Names of the cluster's non-internal topics, sorted.
    pub async fn list_topics(&self) -> Result<Vec<String>> {
        let snap = self.metadata.fetch_all().await?;
        let mut names: Vec<String> = snap
            .topics
            .values()
            .filter(|t| !t.is_internal)
            .map(|t| t.name.clone())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Partitions, leaders and replicas of `names`; a missing topic is an error.
    pub async fn describe_topics(&self, names: &[&str]) -> Result<Vec<TopicInfo>> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let snap = self.metadata.fetch(Some(&names)).await?;
        names
            .iter()
            .map(|n| match snap.topics.get(n) {
                Some(t) => Ok((**t).clone()),
                None => Err(match snap.topic_errors.get(n) {
                    Some(&code) => Error::broker(code, format!("describe topic `{n}`")),
                    None => Error::UnknownTopic(n.clone()),
                }),
            })
            .collect()
    }

    /// Brokers, controller and cluster id.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let snap = self.metadata.fetch(Some(&[])).await?;
        let mut brokers: Vec<BrokerInfo> = snap.brokers.values().cloned().collect();
        brokers.sort_by_key(|b| b.node_id);
        Ok(ClusterDescription {
            cluster_id: snap.cluster_id.clone(),
            controller_id: snap.controller_id,
            brokers,
        })
    }
}
