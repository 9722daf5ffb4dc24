//! Producer settings (`ProducerConfig`) and their defaults.

use std::time::Duration;

use krafty_protocol::records::Compression;

use super::common::CommonConfig;
use super::parse;
use crate::error::ConfigError;

/// `acks`: how many replicas must acknowledge a produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: no response is awaited; offsets are unknown (-1).
    None,
    /// `acks=1`: the leader wrote the batch.
    Leader,
    /// `acks=all` (or `-1`): every in-sync replica wrote the batch.
    All,
}

impl Acks {
    /// The wire value of the Produce request's `acks`.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Producer configuration; see [`ProducerConfig::set`] for the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Settings shared by every client.
    pub common: CommonConfig,
    /// `acks` (default `all`).
    pub acks: Acks,
    /// `batch.size`: bytes a partition's batch grows to before it is sent (16384).
    pub batch_size: usize,
    /// `linger.ms`: how long a non-full batch waits for more records (5 ms).
    pub linger: Duration,
    /// `buffer.memory`: bytes of records waiting to be sent before `send` blocks (32 MiB).
    pub buffer_memory: usize,
    /// `max.block.ms`: how long `send` waits for metadata or buffer space (60 s).
    pub max_block: Duration,
    /// `compression.type` (none).
    pub compression: Compression,
    /// `retries`: attempts after the first before a batch fails (i32::MAX).
    pub retries: u32,
    /// `delivery.timeout.ms`: upper bound from `send` to the batch's success or failure (120 s);
    /// a failure is reported at most a few milliseconds of scheduling slack after it.
    pub delivery_timeout: Duration,
    /// `max.request.size`: largest produce request, and largest record (1 MiB).
    pub max_request_size: usize,
    /// `max.in.flight.requests.per.connection` (5).
    pub max_in_flight: usize,
    /// `enable.idempotence` (true).
    pub enable_idempotence: bool,
    /// Whether `enable.idempotence` was set explicitly (conflicts are then errors instead of
    /// silently disabling idempotence, as the Java client does).
    pub idempotence_explicit: bool,
    /// `partitioner.ignore.keys`: use the sticky partitioner for keyed records too (false).
    pub partitioner_ignore_keys: bool,
    /// `transactional.id` (none): makes the producer transactional (implies
    /// `enable.idempotence=true` and needs `acks=all`, as in the Java client).
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the transaction coordinator lets a transaction
    /// stay open before aborting it (60000).
    pub transaction_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            common: CommonConfig::default(),
            acks: Acks::All,
            batch_size: 16384,
            linger: Duration::from_millis(5),
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            compression: Compression::None,
            retries: i32::MAX as u32,
            delivery_timeout: Duration::from_millis(120_000),
            max_request_size: 1_048_576,
            max_in_flight: 5,
            enable_idempotence: true,
            idempotence_explicit: false,
            partitioner_ignore_keys: false,
            transactional_id: None,
            transaction_timeout: Duration::from_millis(60_000),
        }
    }
}

/// The defaults of the producer-only keys, as Kafka spells them (`transactional.id`,
/// default null, is left out: null is no value `set` accepts).
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("batch.size", "16384"),
    ("linger.ms", "5"),
    ("buffer.memory", "33554432"),
    ("max.block.ms", "60000"),
    ("compression.type", "none"),
    ("retries", "2147483647"),
    ("delivery.timeout.ms", "120000"),
    ("max.request.size", "1048576"),
    ("max.in.flight.requests.per.connection", "5"),
    ("enable.idempotence", "true"),
    ("partitioner.ignore.keys", "false"),
    ("transaction.timeout.ms", "60000"),
];

impl ProducerConfig {
    /// A default configuration with `bootstrap.servers` set.
    pub fn new(bootstrap_servers: &str) -> Result<Self, ConfigError> {
        let mut c = ProducerConfig::default();
        c.set("bootstrap.servers", bootstrap_servers)?;
        Ok(c)
    }

    /// Sets a key by its Java-client name; unknown keys and malformed values are errors.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, ConfigError> {
        if self.common.set(key, value)? {
            return Ok(self);
        }
        match key {
            "acks" => {
                self.acks = match parse::choice(key, value, &["0", "1", "all", "-1"])? {
                    0 => Acks::None,
                    1 => Acks::Leader,
                    _ => Acks::All,
                }
            }
            "batch.size" => self.batch_size = parse::size(key, value, 0)?,
            "linger.ms" => self.linger = parse::millis(key, value, i64::from(i32::MAX))?,
            "buffer.memory" => self.buffer_memory = parse::size(key, value, 1024)?,
            "max.block.ms" => self.max_block = parse::millis(key, value, i64::MAX)?,
            "compression.type" => {
                let codec =
                    match parse::choice(key, value, &["none", "gzip", "snappy", "lz4", "zstd"])? {
                        0 => Compression::None,
                        1 => Compression::Gzip,
                        2 => Compression::Snappy,
                        3 => Compression::Lz4,
                        _ => Compression::Zstd,
                    };
                if !codec.is_enabled() {
                    return Err(ConfigError::InvalidValue {
                        key: key.to_string(),
                        value: value.to_string(),
                        reason: format!(
                            "{} is not built in (enable the crate feature `{}`)",
                            codec.name(),
                            codec.name()
                        ),
                    });
                }
                self.compression = codec;
            }
            "retries" => {
                self.retries = u32::try_from(parse::int(key, value, 0, i64::from(i32::MAX))?)
                    .unwrap_or(u32::MAX);
            }
            "delivery.timeout.ms" => {
                self.delivery_timeout = parse::millis(key, value, i64::from(i32::MAX))?;
            }
            "max.request.size" => self.max_request_size = parse::size(key, value, 1)?,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight = parse::size(key, value, 1)?;
            }
            "enable.idempotence" => {
                self.enable_idempotence = parse::boolean(key, value)?;
                self.idempotence_explicit = true;
            }
            "partitioner.ignore.keys" => self.partitioner_ignore_keys = parse::boolean(key, value)?,
            "transactional.id" => {
                if value.is_empty() {
                    return Err(ConfigError::InvalidValue {
                        key: key.to_string(),
                        value: value.to_string(),
                        reason: "a transactional id must not be empty".to_string(),
                    });
                }
                self.transactional_id = Some(value.to_string());
            }
            "transaction.timeout.ms" => {
                self.transaction_timeout = parse::millis(key, value, i64::from(i32::MAX))?;
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

    /// Checks the settings against each other and returns the effective configuration:
    /// idempotence left at its default is switched off when `acks` is not `all`, `retries`
    /// is 0 or more than 5 requests may be in flight (as the Java client does); set
    /// explicitly, those combinations are a [`ConfigError::Conflict`].
    ///
    /// A `transactional.id` needs idempotence: it is a conflict with
    /// `enable.idempotence=false` and with `acks` other than `all` (Java's
    /// `ConfigException`s), and otherwise turns idempotence on.
    pub fn validate(&self) -> Result<ProducerConfig, ConfigError> {
        let mut c = self.clone();
        if c.transactional_id.is_some() {
            if c.idempotence_explicit && !c.enable_idempotence {
                return Err(ConfigError::Conflict(
                    "transactional.id requires enable.idempotence=true".to_string(),
                ));
            }
            if c.acks != Acks::All {
                return Err(ConfigError::Conflict(
                    "transactional.id requires acks=all".to_string(),
                ));
            }
            c.enable_idempotence = true;
            c.idempotence_explicit = true;
        }
        if c.enable_idempotence {
            let conflict = if c.acks != Acks::All {
                Some("enable.idempotence=true requires acks=all")
            } else if c.retries == 0 {
                Some("enable.idempotence=true requires retries > 0")
            } else if c.max_in_flight > 5 {
                Some("enable.idempotence=true requires max.in.flight.requests.per.connection <= 5")
            } else {
                None
            };
            if let Some(why) = conflict {
                if c.idempotence_explicit {
                    return Err(ConfigError::Conflict(why.to_string()));
                }
                c.enable_idempotence = false;
            }
        }
        if c.delivery_timeout < c.linger + c.common.request_timeout {
            return Err(ConfigError::Conflict(
                "delivery.timeout.ms must be at least linger.ms + request.timeout.ms".to_string(),
            ));
        }
        Ok(c)
    }
}
