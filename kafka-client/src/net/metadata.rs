//! The cluster metadata cache: brokers, topics, partitions and their leaders.
//!
//! Owns: the latest [`ClusterSnapshot`], the set of topics the client cares about, and when
//! to refresh: when older than `metadata.max.age.ms`, and when a caller reports stale
//! leadership ([`Metadata::request_update`], after NOT_LEADER_OR_FOLLOWER,
//! UNKNOWN_TOPIC_OR_PARTITION or a disconnect). Concurrent refreshes are coalesced. Must
//! not: send anything but Metadata requests.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use krafty_protocol::generated::metadata_request::MetadataRequestTopic;
use krafty_protocol::generated::{MetadataRequest, MetadataResponse};
use krafty_protocol::wire::StrBytes;
use tokio::time::Instant;

use super::pool::Pool;
use crate::config::CommonConfig;
use crate::error::{Error, KafkaCode, Result};

/// One partition as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub id: i32,
    /// Leader broker id, -1 when there is none.
    pub leader: i32,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica broker ids.
    pub isr: Vec<i32>,
    /// The partition's error code (0 when fine).
    pub error: i16,
}

/// One topic as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic name.
    pub name: String,
    /// Partitions, sorted by index (index `i` at position `i`).
    pub partitions: Vec<PartitionInfo>,
    /// Whether it is an internal topic.
    pub is_internal: bool,
}

/// A broker as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Broker id.
    pub node_id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Rack, if configured.
    pub rack: Option<String>,
}

/// One consistent view of the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterSnapshot {
    /// Brokers by id.
    pub brokers: HashMap<i32, BrokerInfo>,
    /// Topics by name (only topics that exist and have no topic-level error).
    pub topics: HashMap<String, Arc<TopicInfo>>,
    /// Topic-level errors of the last response (e.g. UNKNOWN_TOPIC_OR_PARTITION).
    pub topic_errors: HashMap<String, i16>,
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Controller broker id, -1 when unknown.
    pub controller_id: i32,
}

impl ClusterSnapshot {
    /// Builds a snapshot from a Metadata response.
    pub fn from_response(resp: &MetadataResponse) -> Result<ClusterSnapshot> {
        let mut snap = ClusterSnapshot {
            cluster_id: resp.cluster_id.as_ref().map(|s| s.to_string()),
            controller_id: resp.controller_id,
            ..Default::default()
        };
        for b in &resp.brokers {
            let port = u16::try_from(b.port)
                .map_err(|_| Error::InvalidResponse(format!("broker port {}", b.port)))?;
            snap.brokers.insert(
                b.node_id,
                BrokerInfo {
                    node_id: b.node_id,
                    host: b.host.to_string(),
                    port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                },
            );
        }
        for t in &resp.topics {
            let Some(name) = t.name.as_ref().map(|n| n.to_string()) else {
                continue;
            };
            if t.error_code != 0 {
                snap.topic_errors.insert(name, t.error_code);
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    id: p.partition_index,
                    leader: p.leader_id,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().copied().collect(),
                    isr: p.isr_nodes.iter().copied().collect(),
                    error: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            let dense = partitions.iter().enumerate().all(|(i, p)| p.id == i as i32);
            if !dense || partitions.is_empty() {
                snap.topic_errors
                    .insert(name, KafkaCode::LeaderNotAvailable.code());
                continue;
            }
            snap.topics.insert(
                name.clone(),
                Arc::new(TopicInfo {
                    name,
                    partitions,
                    is_internal: t.is_internal,
                }),
            );
        }
        Ok(snap)
    }

    /// The leader of a partition, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let p = self
            .topics
            .get(topic)?
            .partitions
            .get(usize::try_from(partition).ok()?)?;
        (p.leader >= 0).then_some(p.leader)
    }
}

struct State {
    snapshot: Arc<ClusterSnapshot>,
    updated: Option<Instant>,
    stale: bool,
    topics: HashSet<String>,
    generation: u64,
}

/// The metadata cache of one client.
pub struct Metadata {
    pool: Arc<Pool>,
    max_age: Duration,
    retry_backoff: Duration,
    allow_auto_topic_creation: bool,
    state: Mutex<State>,
    refresh_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metadata")
    }
}

impl Metadata {
    /// A cache over `pool`. `allow_auto_topic_creation` is sent in Metadata requests.
    pub fn new(pool: Arc<Pool>, cfg: &CommonConfig, allow_auto_topic_creation: bool) -> Metadata {
        Metadata {
            pool,
            max_age: cfg.metadata_max_age,
            retry_backoff: cfg.retry_backoff,
            allow_auto_topic_creation,
            state: Mutex::new(State {
                snapshot: Arc::new(ClusterSnapshot::default()),
                updated: None,
                stale: true,
                topics: HashSet::new(),
                generation: 0,
            }),
            refresh_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pool the cache uses.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// The latest snapshot (possibly stale).
    pub fn snapshot(&self) -> Arc<ClusterSnapshot> {
        self.state().snapshot.clone()
    }

    /// Marks the cache stale: the next [`maybe_refresh`](Self::maybe_refresh) refreshes.
    pub fn request_update(&self) {
        self.state().stale = true;
    }

    /// Marks the cache stale unless it was refreshed within `min_age` (a throttled
    /// [`request_update`](Self::request_update)).
    pub fn request_update_if_older(&self, min_age: Duration) {
        let mut s = self.state();
        if s.updated.is_none_or(|u| u.elapsed() >= min_age) {
            s.stale = true;
        }
    }

    /// Adds topics to those the cache keeps.
    pub fn add_topics<'a>(&self, topics: impl IntoIterator<Item = &'a str>) {
        let mut s = self.state();
        for t in topics {
            if s.topics.insert(t.to_string()) {
                s.stale = true;
            }
        }
    }

    /// Whether a refresh is due (stale or older than `metadata.max.age.ms`).
    pub fn needs_refresh(&self) -> bool {
        let s = self.state();
        s.stale || s.updated.is_none_or(|u| u.elapsed() >= self.max_age)
    }

    /// Refreshes when due.
    pub async fn maybe_refresh(&self) -> Result<Arc<ClusterSnapshot>> {
        if self.needs_refresh() {
            self.refresh().await
        } else {
            Ok(self.snapshot())
        }
    }

    /// Fetches metadata for the kept topics now (coalescing with a refresh in progress).
    pub async fn refresh(&self) -> Result<Arc<ClusterSnapshot>> {
        let generation = self.state().generation;
        let _guard = self.refresh_lock.lock().await;
        {
            let s = self.state();
            if s.generation != generation && !s.stale {
                return Ok(s.snapshot.clone());
            }
        }
        let topics: Vec<String> = self.state().topics.iter().cloned().collect();
        let snap = self.fetch(Some(&topics)).await?;
        Ok(self.install(snap))
    }

    fn install(&self, snap: ClusterSnapshot) -> Arc<ClusterSnapshot> {
        self.pool.set_brokers(
            snap.brokers
                .values()
                .map(|b| (b.node_id, (b.host.clone(), b.port)))
                .collect(),
        );
        let snap = Arc::new(snap);
        let mut s = self.state();
        s.snapshot = snap.clone();
        s.updated = Some(Instant::now());
        s.stale = false;
        s.generation += 1;
        snap
    }

    /// Sends one Metadata request for `topics` (`None`: every topic) to any broker.
    pub async fn fetch(&self, topics: Option<&[String]>) -> Result<ClusterSnapshot> {
        let conn = self.pool.any().await?;
        let req = MetadataRequest {
            topics: topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic {
                        name: Some(StrBytes::from(t.clone())),
                        ..Default::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: self.allow_auto_topic_creation,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        ClusterSnapshot::from_response(&resp)
    }

    /// Metadata of every topic in the cluster (also updates the broker list).
    pub async fn fetch_all(&self) -> Result<ClusterSnapshot> {
        let snap = self.fetch(None).await?;
        self.pool.set_brokers(
            snap.brokers
                .values()
                .map(|b| (b.node_id, (b.host.clone(), b.port)))
                .collect(),
        );
        Ok(snap)
    }

    /// The topic's metadata, refreshing until it is known with a leader for every partition
    /// or `deadline` passes. A topic that does not exist is [`Error::UnknownTopic`] at the
    /// deadline.
    pub async fn topic(&self, name: &str, deadline: Instant) -> Result<Arc<TopicInfo>> {
        if let Some(t) = self.snapshot().topics.get(name) {
            return Ok(t.clone());
        }
        self.add_topics([name]);
        loop {
            let refreshed = self.refresh().await;
            match &refreshed {
                Ok(snap) => {
                    if let Some(t) = snap.topics.get(name) {
                        return Ok(t.clone());
                    }
                    if let Some(&code) = snap.topic_errors.get(name) {
                        if !KafkaCode::from_code(code).is_retriable() {
                            return Err(Error::broker(code, format!("metadata of {name}")));
                        }
                    }
                }
                Err(e) if !e.is_retriable() => return Err(e.clone()),
                Err(_) => {}
            }
            if Instant::now() + self.retry_backoff >= deadline {
                return Err(match refreshed {
                    Err(e) => Error::Timeout(format!("metadata of `{name}`: {e}")),
                    Ok(_) => Error::UnknownTopic(name.to_string()),
                });
            }
            self.request_update();
            tokio::time::sleep(self.retry_backoff).await;
        }
    }
}
