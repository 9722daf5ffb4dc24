//! The admin client: topics, partitions, the cluster, configs, groups and offsets.
//!
//! Owns: [`Admin`] (the struct, its constructor) and the plumbing its operations share:
//! finding the controller, a group's coordinator (retrying while the coordinator moves or
//! loads), the cluster's brokers, each partition's leader, and turning per-item error
//! codes into [`Error`]s. The operations live in one module per family:
//! [`topics`] (CreateTopics, DeleteTopics, CreatePartitions, Metadata), [`configs`]
//! (DescribeConfigs, IncrementalAlterConfigs, AlterConfigs), [`groups`] (ListGroups,
//! DescribeGroups, DeleteGroups) and [`offsets`] (OffsetFetch, OffsetCommit, OffsetDelete,
//! ListOffsets, DeleteRecords) and [`acls`] (CreateAcls, DescribeAcls, DeleteAcls). Requests that change the cluster go to the controller
//! named by metadata (brokers forward them in KRaft clusters), else to any broker; group
//! requests go to the group's coordinator; partition requests to the partition's leader.
//! Must not: retry non-retriable broker errors.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use krafty_protocol::wire::StrBytes;
use tokio::time::Instant;

use crate::config::AdminConfig;
use crate::error::{Error, KafkaCode, Result};
use crate::net::coordinator_lookup::{find_coordinator, KEY_TYPE_GROUP};
use crate::net::{BrokerInfo, Connection, Metadata, Pool};
use crate::types::TopicPartition;

pub mod acls;
pub mod configs;
pub mod groups;
pub mod offsets;
pub mod topics;

pub use acls::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};
pub use configs::{AlterConfigOp, ConfigEntry, ConfigResource};
pub use groups::{GroupDescription, GroupListing, MemberDescription};
pub use offsets::{ListOffsetsResult, OffsetAndMetadata, OffsetSpec};
pub use topics::{ClusterDescription, NewTopic};

/// The admin client.
#[derive(Debug)]
pub struct Admin {
    cfg: AdminConfig,
    metadata: Arc<Metadata>,
}

/// `Ok` for error code 0, else a broker error naming `what` (and the broker's message).
pub(crate) fn check(code: i16, message: Option<&StrBytes>, what: impl AsRef<str>) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    let msg = message.map(|m| format!(": {m}")).unwrap_or_default();
    Err(Error::broker(code, format!("{}{msg}", what.as_ref())))
}

/// Whether `e` means the group's coordinator moved or is not ready yet (worth finding it
/// again and retrying).
fn is_coordinator_error(e: &Error) -> bool {
    match e {
        Error::Broker { code, .. } => matches!(
            code,
            KafkaCode::NotCoordinator
                | KafkaCode::CoordinatorNotAvailable
                | KafkaCode::CoordinatorLoadInProgress
        ),
        Error::Disconnected(_) => true,
        _ => false,
    }
}

impl Admin {
    /// An admin client; connects lazily.
    pub fn new(cfg: AdminConfig) -> Admin {
        let pool = Arc::new(Pool::new(&cfg.common));
        let metadata = Arc::new(Metadata::new(pool, &cfg.common, false));
        Admin { cfg, metadata }
    }

    /// `request.timeout.ms` as the `timeout_ms` field of requests.
    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.cfg.common.request_timeout.as_millis()).unwrap_or(i32::MAX)
    }

    /// When an operation that retries gives up.
    fn deadline(&self) -> Instant {
        Instant::now() + self.cfg.common.request_timeout
    }

    fn pool(&self) -> &Pool {
        self.metadata.pool()
    }

    /// The controller's connection (any broker when metadata names none).
    async fn controller(&self) -> Result<Connection> {
        let snap = self.metadata.fetch_all().await?;
        if snap.controller_id >= 0 {
            if let Ok(c) = self.pool().get(snap.controller_id).await {
                return Ok(c);
            }
        }
        self.pool().any().await
    }

    /// The cluster's brokers, sorted by id (also teaches the pool their addresses).
    async fn brokers(&self) -> Result<Vec<BrokerInfo>> {
        let snap = self.metadata.fetch(Some(&[])).await?;
        self.pool().set_brokers(
            snap.brokers
                .values()
                .map(|b| (b.node_id, (b.host.clone(), b.port)))
                .collect(),
        );
        let mut brokers: Vec<BrokerInfo> = snap.brokers.values().cloned().collect();
        brokers.sort_by_key(|b| b.node_id);
        Ok(brokers)
    }

    /// The connection to broker `node_id`, refreshing the broker list when the pool does
    /// not know it.
    async fn broker(&self, node_id: i32) -> Result<Connection> {
        if self.pool().broker_addr(node_id).is_none() {
            self.brokers().await?;
        }
        self.pool().get(node_id).await
    }

    /// Runs `op` at the coordinator of `group` (its broker id and connection), finding the
    /// coordinator again and retrying while `op` or the lookup fail with NOT_COORDINATOR,
    /// COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS or a disconnect, until
    /// `request.timeout.ms` has passed.
    async fn at_coordinator<T, F, Fut>(&self, group: &str, op: F) -> Result<T>
    where
        F: Fn(i32, Connection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = self.deadline();
        loop {
            let attempt = async {
                let (node, conn) = find_coordinator(self.pool(), group, KEY_TYPE_GROUP).await?;
                op(node, conn).await
            };
            match attempt.await {
                Err(e)
                    if is_coordinator_error(&e)
                        && Instant::now() + self.cfg.common.retry_backoff < deadline =>
                {
                    tracing::debug!(group, error = %e, "coordinator not ready; retrying");
                    tokio::time::sleep(self.cfg.common.retry_backoff).await;
                }
                other => return other,
            }
        }
    }

    /// Groups `items` by the leader of their partition (from the metadata cache, refreshed
    /// when a topic is not in it). A partition the topic does not have is
    /// UNKNOWN_TOPIC_OR_PARTITION, one without a leader LEADER_NOT_AVAILABLE.
    async fn by_leader<V: Clone>(
        &self,
        items: &[(TopicPartition, V)],
    ) -> Result<BTreeMap<i32, Vec<(TopicPartition, V)>>> {
        let deadline = self.deadline();
        let mut out: BTreeMap<i32, Vec<(TopicPartition, V)>> = BTreeMap::new();
        for (tp, v) in items {
            let topic = self.metadata.topic(&tp.topic, deadline).await?;
            let part = usize::try_from(tp.partition)
                .ok()
                .and_then(|i| topic.partitions.get(i))
                .ok_or_else(|| {
                    Error::broker(
                        KafkaCode::UnknownTopicOrPartition.code(),
                        format!("partition {tp}"),
                    )
                })?;
            if part.leader < 0 {
                return Err(Error::broker(
                    KafkaCode::LeaderNotAvailable.code(),
                    format!("leader of {tp}"),
                ));
            }
            out.entry(part.leader)
                .or_default()
                .push((tp.clone(), v.clone()));
        }
        Ok(out)
    }

    /// A per-partition error from a leader: stale leadership marks the metadata cache for
    /// a refresh; the error becomes [`Error::Broker`].
    fn partition_error(&self, code: i16, what: String) -> Error {
        if matches!(
            KafkaCode::from_code(code),
            KafkaCode::NotLeaderOrFollower
                | KafkaCode::UnknownTopicOrPartition
                | KafkaCode::LeaderNotAvailable
                | KafkaCode::FencedLeaderEpoch
        ) {
            self.metadata.request_update();
        }
        Error::broker(code, what)
    }

    /// Closes the admin client's connections.
    pub fn close(&self) {
        self.pool().close_all();
    }
}
