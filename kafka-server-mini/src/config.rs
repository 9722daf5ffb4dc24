//! Broker configuration: Kafka's broker config names, their defaults and parsing.
//!
//! Owns: [`BrokerConfig`] and the `key=value` table. Must not: open sockets or files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{BrokerError, Result};
use crate::log::cleaner::CleanupConfig;
use crate::security::credentials::ScramSeed;
use crate::security::settings::SecuritySettings;
use crate::security::{ListenerSpec, SecurityProtocol};

/// Everything the broker is configured with.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Directory holding the partition logs and checkpoints.
    pub data_dir: PathBuf,
    /// `node.id`.
    pub node_id: i32,
    /// `advertised.listeners` (`PLAINTEXT://host:port` or `host:port`); `None` advertises
    /// the bound address.
    pub advertised_listener: Option<(String, u16)>,
    /// `log.segment.bytes`.
    pub log_segment_bytes: u64,
    /// `log.roll.ms`.
    pub log_roll_ms: i64,
    /// `log.retention.ms` (-1 keeps forever).
    pub log_retention_ms: i64,
    /// `log.retention.bytes` (-1 keeps everything).
    pub log_retention_bytes: i64,
    /// `log.retention.check.interval.ms`.
    pub log_retention_check_interval_ms: u64,
    /// `log.index.interval.bytes`.
    pub log_index_interval_bytes: u64,
    /// `log.flush.interval.messages`.
    pub log_flush_interval_messages: i64,
    /// `log.flush.interval.ms` (-1 never flushes on a timer).
    pub log_flush_interval_ms: i64,
    /// `num.partitions` for auto-created topics.
    pub num_partitions: i32,
    /// `auto.create.topics.enable`.
    pub auto_create_topics_enable: bool,
    /// `message.max.bytes`: the largest batch accepted.
    pub message_max_bytes: usize,
    /// `socket.request.max.bytes`: the largest request frame accepted.
    pub socket_request_max_bytes: usize,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: i32,
    /// `offsets.retention.minutes`.
    pub offsets_retention_minutes: i64,
    /// `transaction.max.timeout.ms`: the largest `transaction.timeout.ms` a producer may ask.
    pub transaction_max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often expired
    /// transactions are looked for and aborted.
    pub transaction_abort_interval_ms: u64,
    /// `log.message.timestamp.type`: `true` for LogAppendTime (the broker stamps batches),
    /// `false` for CreateTime.
    pub log_append_time: bool,
    /// `log.cleanup.policy` and the `log.cleaner.*` compaction defaults of topics.
    pub log_cleanup: CleanupConfig,
    /// `log.cleaner.enable`: run the background log cleaner.
    pub log_cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`: the pause between cleaner rounds.
    pub log_cleaner_backoff_ms: u64,
    /// `log.cleaner.dedupe.buffer.size`: the memory bound of the cleaner's offset map.
    pub log_cleaner_dedupe_buffer_size: u64,
    /// `log.message.timestamp.before.max.ms`: how far in the past a CreateTime timestamp
    /// may be (INVALID_TIMESTAMP beyond).
    pub log_message_timestamp_before_max_ms: i64,
    /// `log.message.timestamp.after.max.ms`: how far in the future a CreateTime timestamp
    /// may be (Kafka 4's default: one hour).
    pub log_message_timestamp_after_max_ms: i64,
    /// `max.connections`: open client connections at most (new ones are closed at once).
    pub max_connections: usize,
    /// `max.connections.per.ip`.
    pub max_connections_per_ip: usize,
    /// `connections.max.idle.ms`: a connection with no complete request for this long is
    /// closed (also one whose request trickles in without completing).
    pub connections_max_idle_ms: u64,
    /// `request.memory.budget.bytes` (this broker's own setting; Kafka has no such key):
    /// everything one Produce request may decompress or up-convert in total, checked
    /// before each allocation. Past it the partition's data is refused (RECORD_LIST_TOO_LARGE).
    pub request_memory_budget_bytes: usize,
    /// The file I/O under every log and checkpoint (tests inject disk faults here).
    pub disk: crate::log::disk::Disk,
    /// `listeners` (`PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094`); empty: one
    /// PLAINTEXT listener on [`BrokerConfig::listen`].
    pub listeners: Vec<ListenerSpec>,
    /// Every entry of `advertised.listeners`, by listener name.
    pub advertised_listeners: Vec<ListenerSpec>,
    /// `listener.security.protocol.map` (Kafka's default maps each protocol name to itself).
    pub listener_security_protocol_map: BTreeMap<String, SecurityProtocol>,
    /// `connections.max.reauth.ms` (KIP-368): 0 lets SASL sessions live forever; above 0
    /// SaslAuthenticate returns the session lifetime and expired sessions are closed.
    pub connections_max_reauth_ms: i64,
    /// `sasl.server.max.receive.size`: the largest frame accepted before a SASL connection
    /// has authenticated.
    pub sasl_server_max_receive_size: usize,
    /// The `ssl.*`, `sasl.*` and `listener.name.*` settings, resolved per listener.
    pub security: SecuritySettings,
    /// SCRAM users written to the credential store at start (`--add-scram`).
    pub scram_seeds: Vec<ScramSeed>,
    /// `authorizer.class.name`, `super.users` and `allow.everyone.if.no.acl.found`.
    pub authorizer: crate::authorizer::AuthorizerSettings,
}

/// The config keys accepted by [`BrokerConfig::set`], with their defaults as text.
pub const KEYS: &[(&str, &str)] = &[
    ("node.id", "1"),
    ("advertised.listeners", ""),
    ("log.segment.bytes", "1073741824"),
    ("log.roll.ms", "604800000"),
    ("log.retention.ms", "604800000"),
    ("log.retention.bytes", "-1"),
    ("log.retention.check.interval.ms", "300000"),
    ("log.index.interval.bytes", "4096"),
    ("log.flush.interval.messages", "9223372036854775807"),
    ("log.flush.interval.ms", "-1"),
    ("num.partitions", "1"),
    ("auto.create.topics.enable", "true"),
    ("message.max.bytes", "1048588"),
    ("socket.request.max.bytes", "104857600"),
    ("group.initial.rebalance.delay.ms", "3000"),
    ("group.min.session.timeout.ms", "6000"),
    ("group.max.session.timeout.ms", "1800000"),
    ("offsets.retention.minutes", "10080"),
    ("log.message.timestamp.type", "CreateTime"),
    ("log.cleanup.policy", "delete"),
    ("log.cleaner.enable", "true"),
    ("log.cleaner.backoff.ms", "15000"),
    ("log.cleaner.dedupe.buffer.size", "134217728"),
    ("log.cleaner.delete.retention.ms", "86400000"),
    ("log.cleaner.min.cleanable.ratio", "0.5"),
    ("log.cleaner.min.compaction.lag.ms", "0"),
    ("log.cleaner.max.compaction.lag.ms", "9223372036854775807"),
    ("log.message.timestamp.before.max.ms", "9223372036854775807"),
    ("log.message.timestamp.after.max.ms", "3600000"),
    ("max.connections", "2147483647"),
    ("max.connections.per.ip", "2147483647"),
    ("connections.max.idle.ms", "600000"),
    ("request.memory.budget.bytes", "67108864"),
    ("listeners", ""),
    (
        "listener.security.protocol.map",
        "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
    ),
    ("connections.max.reauth.ms", "0"),
    ("sasl.server.max.receive.size", "524288"),
    ("authorizer.class.name", ""),
    ("super.users", ""),
    ("allow.everyone.if.no.acl.found", "false"),
];

impl BrokerConfig {
    /// A configuration with Kafka's defaults.
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        BrokerConfig {
            listen,
            data_dir: data_dir.into(),
            node_id: 1,
            advertised_listener: None,
            log_segment_bytes: 1 << 30,
            log_roll_ms: 7 * 24 * 3_600_000,
            log_retention_ms: 7 * 24 * 3_600_000,
            log_retention_bytes: -1,
            log_retention_check_interval_ms: 300_000,
            log_index_interval_bytes: 4096,
            log_flush_interval_messages: i64::MAX,
            log_flush_interval_ms: -1,
            num_partitions: 1,
            auto_create_topics_enable: true,
            message_max_bytes: 1_048_588,
            socket_request_max_bytes: 100 * 1024 * 1024,
            group_initial_rebalance_delay_ms: 3000,
            group_min_session_timeout_ms: 6000,
            group_max_session_timeout_ms: 1_800_000,
            offsets_retention_minutes: 10080,
            transaction_max_timeout_ms: 900_000,
            transaction_abort_interval_ms: 10_000,
            log_append_time: false,
            log_cleanup: CleanupConfig::default(),
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            log_cleaner_dedupe_buffer_size: 128 << 20,
            log_message_timestamp_before_max_ms: i64::MAX,
            log_message_timestamp_after_max_ms: 3_600_000,
            max_connections: i32::MAX as usize,
            max_connections_per_ip: i32::MAX as usize,
            connections_max_idle_ms: 600_000,
            request_memory_budget_bytes: 64 << 20,
            disk: crate::log::disk::real(),
            listeners: Vec::new(),
            advertised_listeners: Vec::new(),
            listener_security_protocol_map: crate::security::listeners::default_protocol_map(),
            connections_max_reauth_ms: 0,
            sasl_server_max_receive_size: 524_288,
            security: SecuritySettings::default(),
            scram_seeds: Vec::new(),
            authorizer: Default::default(),
        }
    }

    /// The listeners to bind: `listeners`, or one PLAINTEXT listener on `listen`.
    pub fn effective_listeners(&self) -> Vec<ListenerSpec> {
        if self.listeners.is_empty() {
            vec![ListenerSpec {
                name: "PLAINTEXT".into(),
                host: self.listen.ip().to_string(),
                port: self.listen.port(),
            }]
        } else {
            self.listeners.clone()
        }
    }

    /// The security protocol of listener `name`.
    pub fn protocol_of(&self, name: &str) -> Result<SecurityProtocol> {
        self.listener_security_protocol_map
            .get(name)
            .copied()
            .ok_or_else(|| {
                BrokerError::Config(format!(
                    "listener `{name}` is not in listener.security.protocol.map"
                ))
            })
    }

    /// Sets one Kafka broker config by name; an unknown key or a bad value is an error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let v = value.trim();
        match key {
            "node.id" => self.node_id = num(key, v)?,
            "advertised.listeners" => {
                self.advertised_listener = parse_listener(v)?;
                self.advertised_listeners = if v.contains("://") {
                    crate::security::listeners::parse_listeners(key, v)?
                } else {
                    Vec::new()
                };
            }
            "listeners" => self.listeners = crate::security::listeners::parse_listeners(key, v)?,
            "listener.security.protocol.map" => {
                self.listener_security_protocol_map =
                    crate::security::listeners::parse_protocol_map(v)?;
            }
            "connections.max.reauth.ms" => self.connections_max_reauth_ms = non_negative(key, v)?,
            "sasl.server.max.receive.size" => {
                self.sasl_server_max_receive_size = positive(key, v)?;
            }
            k if crate::security::settings::known_key(k) => self.security.set(k, v),
            k if self.authorizer.get(k).is_some() => {
                if let Some(r) = self.authorizer.set(k, v) {
                    r?;
                }
            }
            "log.segment.bytes" => self.log_segment_bytes = positive(key, v)?,
            "log.roll.ms" => self.log_roll_ms = positive::<i64>(key, v)?,
            "log.retention.ms" => self.log_retention_ms = num(key, v)?,
            "log.retention.bytes" => self.log_retention_bytes = num(key, v)?,
            "log.retention.check.interval.ms" => {
                self.log_retention_check_interval_ms = positive(key, v)?;
            }
            "log.index.interval.bytes" => self.log_index_interval_bytes = num(key, v)?,
            "log.flush.interval.messages" => {
                self.log_flush_interval_messages = positive::<i64>(key, v)?;
            }
            "log.flush.interval.ms" => self.log_flush_interval_ms = num(key, v)?,
            "num.partitions" => self.num_partitions = positive::<i32>(key, v)?,
            "auto.create.topics.enable" => self.auto_create_topics_enable = boolean(key, v)?,
            "message.max.bytes" => self.message_max_bytes = positive(key, v)?,
            "socket.request.max.bytes" => self.socket_request_max_bytes = positive(key, v)?,
            "group.initial.rebalance.delay.ms" => {
                self.group_initial_rebalance_delay_ms = num(key, v)?;
            }
            "group.min.session.timeout.ms" => self.group_min_session_timeout_ms = num(key, v)?,
            "group.max.session.timeout.ms" => self.group_max_session_timeout_ms = num(key, v)?,
            "offsets.retention.minutes" => self.offsets_retention_minutes = positive(key, v)?,
            "transaction.max.timeout.ms" => self.transaction_max_timeout_ms = positive(key, v)?,
            "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                self.transaction_abort_interval_ms = positive(key, v)?;
            }
            "log.message.timestamp.before.max.ms" => {
                self.log_message_timestamp_before_max_ms = num(key, v)?;
            }
            "log.message.timestamp.after.max.ms" => {
                self.log_message_timestamp_after_max_ms = num(key, v)?;
            }
            "max.connections" => self.max_connections = positive(key, v)?,
            "max.connections.per.ip" => self.max_connections_per_ip = positive(key, v)?,
            "connections.max.idle.ms" => self.connections_max_idle_ms = positive(key, v)?,
            "request.memory.budget.bytes" => {
                self.request_memory_budget_bytes = positive(key, v)?;
            }
            "log.message.timestamp.type" => {
                self.log_append_time = match v {
                    "CreateTime" => false,
                    "LogAppendTime" => true,
                    _ => {
                        return Err(BrokerError::Config(format!(
                            "`{key}` must be CreateTime or LogAppendTime, got `{v}`"
                        )))
                    }
                };
            }
            "log.cleanup.policy" => {
                self.log_cleanup = self.log_cleanup.clone().with_policy(v).ok_or_else(|| {
                    BrokerError::Config(format!(
                        "`{key}` must be delete, compact or both, got `{v}`"
                    ))
                })?;
            }
            "log.cleaner.enable" => self.log_cleaner_enable = boolean(key, v)?,
            "log.cleaner.backoff.ms" => self.log_cleaner_backoff_ms = positive(key, v)?,
            "log.cleaner.dedupe.buffer.size" => {
                self.log_cleaner_dedupe_buffer_size = positive(key, v)?;
            }
            "log.cleaner.delete.retention.ms" => {
                self.log_cleanup.delete_retention_ms = non_negative(key, v)?;
            }
            "log.cleaner.min.cleanable.ratio" => {
                let r: f64 = num(key, v)?;
                if !(0.0..=1.0).contains(&r) {
                    return Err(BrokerError::Config(format!(
                        "`{key}` must be between 0 and 1, got `{v}`"
                    )));
                }
                self.log_cleanup.min_cleanable_dirty_ratio = r;
            }
            "log.cleaner.min.compaction.lag.ms" => {
                self.log_cleanup.min_compaction_lag_ms = non_negative(key, v)?;
            }
            "log.cleaner.max.compaction.lag.ms" => {
                self.log_cleanup.max_compaction_lag_ms = positive(key, v)?;
            }
            _ => return Err(BrokerError::Config(format!("unknown config key `{key}`"))),
        }
        Ok(())
    }

    /// Applies a `key=value` string.
    pub fn set_pair(&mut self, pair: &str) -> Result<()> {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| BrokerError::Config(format!("expected key=value, got `{pair}`")))?;
        self.set(k.trim(), v)
    }

    /// The current value of a key as text (for DescribeConfigs), if the key is known.
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "node.id" => self.node_id.to_string(),
            "advertised.listeners" => self
                .advertised_listener
                .as_ref()
                .map(|(h, p)| format!("PLAINTEXT://{h}:{p}"))
                .unwrap_or_default(),
            "log.segment.bytes" => self.log_segment_bytes.to_string(),
            "log.roll.ms" => self.log_roll_ms.to_string(),
            "log.retention.ms" => self.log_retention_ms.to_string(),
            "log.retention.bytes" => self.log_retention_bytes.to_string(),
            "log.retention.check.interval.ms" => self.log_retention_check_interval_ms.to_string(),
            "log.index.interval.bytes" => self.log_index_interval_bytes.to_string(),
            "log.flush.interval.messages" => self.log_flush_interval_messages.to_string(),
            "log.flush.interval.ms" => self.log_flush_interval_ms.to_string(),
            "num.partitions" => self.num_partitions.to_string(),
            "auto.create.topics.enable" => self.auto_create_topics_enable.to_string(),
            "message.max.bytes" => self.message_max_bytes.to_string(),
            "socket.request.max.bytes" => self.socket_request_max_bytes.to_string(),
            "group.initial.rebalance.delay.ms" => self.group_initial_rebalance_delay_ms.to_string(),
            "group.min.session.timeout.ms" => self.group_min_session_timeout_ms.to_string(),
            "group.max.session.timeout.ms" => self.group_max_session_timeout_ms.to_string(),
            "offsets.retention.minutes" => self.offsets_retention_minutes.to_string(),
            "transaction.max.timeout.ms" => self.transaction_max_timeout_ms.to_string(),
            "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                self.transaction_abort_interval_ms.to_string()
            }
            "log.message.timestamp.type" => if self.log_append_time {
                "LogAppendTime"
            } else {
                "CreateTime"
            }
            .to_string(),
            "log.cleanup.policy" => self.log_cleanup.policy().to_string(),
            "log.cleaner.enable" => self.log_cleaner_enable.to_string(),
            "log.cleaner.backoff.ms" => self.log_cleaner_backoff_ms.to_string(),
            "log.cleaner.dedupe.buffer.size" => self.log_cleaner_dedupe_buffer_size.to_string(),
            "log.cleaner.delete.retention.ms" => self.log_cleanup.delete_retention_ms.to_string(),
            "log.cleaner.min.cleanable.ratio" => {
                self.log_cleanup.min_cleanable_dirty_ratio.to_string()
            }
            "log.cleaner.min.compaction.lag.ms" => {
                self.log_cleanup.min_compaction_lag_ms.to_string()
            }
            "log.cleaner.max.compaction.lag.ms" => {
                self.log_cleanup.max_compaction_lag_ms.to_string()
            }
            "log.message.timestamp.before.max.ms" => {
                self.log_message_timestamp_before_max_ms.to_string()
            }
            "log.message.timestamp.after.max.ms" => {
                self.log_message_timestamp_after_max_ms.to_string()
            }
            "max.connections" => self.max_connections.to_string(),
            "max.connections.per.ip" => self.max_connections_per_ip.to_string(),
            "connections.max.idle.ms" => self.connections_max_idle_ms.to_string(),
            "request.memory.budget.bytes" => self.request_memory_budget_bytes.to_string(),
            "listeners" => self
                .listeners
                .iter()
                .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
                .collect::<Vec<_>>()
                .join(","),
            "listener.security.protocol.map" => self
                .listener_security_protocol_map
                .iter()
                .map(|(n, p)| format!("{n}:{}", p.name()))
                .collect::<Vec<_>>()
                .join(","),
            "connections.max.reauth.ms" => self.connections_max_reauth_ms.to_string(),
            "sasl.server.max.receive.size" => self.sasl_server_max_receive_size.to_string(),
            k => return self.authorizer.get(k),
        })
    }

    /// `group.initial.rebalance.delay.ms` as a duration.
    pub fn initial_rebalance_delay(&self) -> Duration {
        Duration::from_millis(self.group_initial_rebalance_delay_ms)
    }
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| BrokerError::Config(format!("invalid value `{v}` for `{key}`")))
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(key: &str, v: &str) -> Result<T> {
    let n: T = num(key, v)?;
    if n <= T::default() {
        return Err(BrokerError::Config(format!(
            "`{key}` must be positive, got `{v}`"
        )));
    }
    Ok(n)
}

fn non_negative(key: &str, v: &str) -> Result<i64> {
    let n: i64 = num(key, v)?;
    if n < 0 {
        return Err(BrokerError::Config(format!(
            "`{key}` must not be negative, got `{v}`"
        )));
    }
    Ok(n)
}

fn boolean(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(BrokerError::Config(format!(
            "invalid boolean `{v}` for `{key}`"
        ))),
    }
}

fn parse_listener(v: &str) -> Result<Option<(String, u16)>> {
    if v.is_empty() {
        return Ok(None);
    }
    let first = v.split(',').next().unwrap_or(v).trim();
    let addr = first.split_once("://").map_or(first, |(_, rest)| rest);
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| BrokerError::Config(format!("advertised.listeners `{v}` lacks a port")))?;
    let port = num("advertised.listeners", port)?;
    Ok(Some((host.trim_matches(['[', ']']).to_string(), port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_defaults_and_errors() {
        let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), "/tmp/x");
        for (k, v) in KEYS {
            if !v.is_empty() {
                assert!(c.set(k, v).is_ok(), "{k}");
                assert_eq!(c.get(k).as_deref(), Some(*v), "{k}");
            }
        }
        assert!(c.set("no.such.key", "1").is_err());
        assert!(c.set("num.partitions", "x").is_err());
        assert!(c.set_pair("group.initial.rebalance.delay.ms=0").is_ok());
        assert_eq!(c.group_initial_rebalance_delay_ms, 0);
        assert!(c
            .set_pair("advertised.listeners=PLAINTEXT://h:9093")
            .is_ok());
        assert_eq!(c.advertised_listener, Some(("h".to_string(), 9093)));
    }
}
