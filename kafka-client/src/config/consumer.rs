//! Consumer settings (`ConsumerConfig`) and their defaults.

use std::time::Duration;

use super::common::CommonConfig;
use super::parse;
use crate::error::ConfigError;

/// `auto.offset.reset`: where to start when a partition has no valid position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The log start offset.
    Earliest,
    /// The log end offset (the default).
    Latest,
    /// Fail with [`crate::Error::NoOffsetForPartition`] / [`crate::Error::OffsetOutOfRange`].
    None,
}

/// `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Every record, including those of open or aborted transactions (the default).
    ReadUncommitted,
    /// Records up to the last stable offset, without those of aborted transactions.
    ReadCommitted,
}

/// Consumer configuration; see [`ConsumerConfig::set`] for the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// Settings shared by every client.
    pub common: CommonConfig,
    /// `group.id`: the consumer group for `subscribe` and commits.
    pub group_id: Option<String>,
    /// `group.instance.id`: makes this consumer a static member (KIP-345): it keeps its
    /// assignment across restarts within `session.timeout.ms` and does not leave the
    /// group on close.
    pub group_instance_id: Option<String>,
    /// `fetch.min.bytes` (1).
    pub fetch_min_bytes: usize,
    /// `fetch.max.wait.ms` (500).
    pub fetch_max_wait: Duration,
    /// `fetch.max.bytes` (50 MiB).
    pub fetch_max_bytes: usize,
    /// `max.partition.fetch.bytes` (1 MiB).
    pub max_partition_fetch_bytes: usize,
    /// `max.poll.records` (500).
    pub max_poll_records: usize,
    /// `auto.offset.reset` (latest).
    pub auto_offset_reset: OffsetReset,
    /// `isolation.level` (read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `check.crcs` (true).
    pub check_crcs: bool,
    /// `session.timeout.ms` (45000): the group drops a member silent for this long.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3000).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (300000), sent as the rebalance timeout.
    pub max_poll_interval: Duration,
    /// `enable.auto.commit` (true; only with a `group.id`).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (5000).
    pub auto_commit_interval: Duration,
    /// `partition.assignment.strategy` (`range,cooperative-sticky`, as Java 3.x/4.x: the
    /// group uses `range` until every member also offers `cooperative-sticky` and the
    /// list is changed to it alone): assignor names in preference order,
    /// among `range`, `roundrobin`, `sticky` and `cooperative-sticky` (the Java class
    /// names are accepted too).
    pub assignors: Vec<String>,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            common: CommonConfig::default(),
            group_id: None,
            group_instance_id: None,
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            max_poll_records: 500,
            auto_offset_reset: OffsetReset::Latest,
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3000),
            max_poll_interval: Duration::from_millis(300_000),
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5000),
            assignors: vec!["range".to_string(), "cooperative-sticky".to_string()],
        }
    }
}

/// The defaults of the consumer-only keys, as Kafka spells them.
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("fetch.min.bytes", "1"),
    ("fetch.max.wait.ms", "500"),
    ("fetch.max.bytes", "52428800"),
    ("max.partition.fetch.bytes", "1048576"),
    ("max.poll.records", "500"),
    ("auto.offset.reset", "latest"),
    ("isolation.level", "read_uncommitted"),
    ("check.crcs", "true"),
    ("session.timeout.ms", "45000"),
    ("heartbeat.interval.ms", "3000"),
    ("max.poll.interval.ms", "300000"),
    ("enable.auto.commit", "true"),
    ("auto.commit.interval.ms", "5000"),
    ("partition.assignment.strategy", "range,cooperative-sticky"),
];

impl ConsumerConfig {
    /// A default configuration with `bootstrap.servers` set.
    pub fn new(bootstrap_servers: &str) -> Result<Self, ConfigError> {
        let mut c = ConsumerConfig::default();
        c.set("bootstrap.servers", bootstrap_servers)?;
        Ok(c)
    }

    /// Sets a key by its Java-client name; unknown keys and malformed values are errors.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, ConfigError> {
        if self.common.set(key, value)? {
            return Ok(self);
        }
        match key {
            "group.id" => self.group_id = Some(value.to_string()),
            "group.instance.id" => {
                self.group_instance_id = (!value.is_empty()).then(|| value.to_string());
            }
            "fetch.min.bytes" => self.fetch_min_bytes = parse::size(key, value, 0)?,
            "fetch.max.wait.ms" => {
                self.fetch_max_wait = parse::millis(key, value, i64::from(i32::MAX))?;
            }
            "fetch.max.bytes" => self.fetch_max_bytes = parse::size(key, value, 0)?,
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes = parse::size(key, value, 0)?;
            }
            "max.poll.records" => self.max_poll_records = parse::size(key, value, 1)?,
            "auto.offset.reset" => {
                self.auto_offset_reset =
                    match parse::choice(key, value, &["earliest", "latest", "none"])? {
                        0 => OffsetReset::Earliest,
                        1 => OffsetReset::Latest,
                        _ => OffsetReset::None,
                    }
            }
            "isolation.level" => {
                self.isolation_level =
                    match parse::choice(key, value, &["read_uncommitted", "read_committed"])? {
                        0 => IsolationLevel::ReadUncommitted,
                        _ => IsolationLevel::ReadCommitted,
                    }
            }
            "check.crcs" => self.check_crcs = parse::boolean(key, value)?,
            "session.timeout.ms" => {
                self.session_timeout = parse::millis(key, value, i64::from(i32::MAX))?;
            }
            "heartbeat.interval.ms" => {
                self.heartbeat_interval = parse::millis(key, value, i64::from(i32::MAX))?;
            }
            "max.poll.interval.ms" => {
                self.max_poll_interval = parse::millis(key, value, i64::from(i32::MAX))?;
            }
            "enable.auto.commit" => self.enable_auto_commit = parse::boolean(key, value)?,
            "auto.commit.interval.ms" => {
                self.auto_commit_interval = parse::millis(key, value, i64::from(i32::MAX))?;
            }
            "partition.assignment.strategy" => {
                let mut names = Vec::new();
                for item in parse::list(key, value)? {
                    let name = match item.as_str() {
                        "range" | "org.apache.kafka.clients.consumer.RangeAssignor" => "range",
                        "roundrobin" | "org.apache.kafka.clients.consumer.RoundRobinAssignor" => {
                            "roundrobin"
                        }
                        "sticky" | "org.apache.kafka.clients.consumer.StickyAssignor" => "sticky",
                        "cooperative-sticky"
                        | "org.apache.kafka.clients.consumer.CooperativeStickyAssignor" => {
                            "cooperative-sticky"
                        }
                        _ => {
                            return Err(ConfigError::InvalidValue {
                                key: key.to_string(),
                                value: value.to_string(),
                                reason: format!(
                                    "unsupported assignor `{item}` (range, roundrobin, sticky, cooperative-sticky)"
                                ),
                            })
                        }
                    };
                    names.push(name.to_string());
                }
                self.assignors = names;
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(self)
    }

    /// Builder form of [`set`](Self::set).
    pub fn with(mut self, key: &str, value: &str) -> Result<Self, ConfigError> {
        self.set(key, value)?;
        Ok(self)
    }
}
