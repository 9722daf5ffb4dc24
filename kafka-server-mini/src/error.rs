//! The broker's error type.
//!
//! Owns: [`BrokerError`], returned by startup, configuration and storage code. Request
//! handlers never return it to clients: they map failures to Kafka error codes.

use std::fmt;

/// What went wrong in the broker (not in a client's request).
#[derive(Debug)]
pub enum BrokerError {
    /// A configuration key or value is invalid.
    Config(String),
    /// An I/O error, with what the broker was doing.
    Io {
        /// What the broker was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A codec error while encoding or decoding stored data.
    Protocol(krafty_protocol::Error),
    /// Stored data is corrupt beyond what recovery repairs.
    Corrupt(String),
    /// A log's files are in an unknown state after a failed write, fsync or rollback: the
    /// log is offline (clients get KAFKA_STORAGE_ERROR) until the broker restarts and
    /// recovers it, as Kafka takes a failed log directory offline.
    Storage(String),
}

impl BrokerError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BrokerError::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerError::Config(why) => write!(f, "configuration error: {why}"),
            BrokerError::Io { context, source } => write!(f, "{context}: {source}"),
            BrokerError::Protocol(e) => write!(f, "protocol error: {e:?}"),
            BrokerError::Corrupt(why) => write!(f, "corrupt data: {why}"),
            BrokerError::Storage(why) => write!(f, "log offline: {why}"),
        }
    }
}

impl std::error::Error for BrokerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BrokerError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<krafty_protocol::Error> for BrokerError {
    fn from(e: krafty_protocol::Error) -> Self {
        BrokerError::Protocol(e)
    }
}

impl BrokerError {
    /// The Kafka error code a client gets when an operation on a log fails this way:
    /// KAFKA_STORAGE_ERROR for I/O failures and offline logs (retriable, as in Kafka),
    /// CORRUPT_MESSAGE for corrupt stored data, UNKNOWN_SERVER_ERROR otherwise.
    pub fn code(&self) -> i16 {
        match self {
            BrokerError::Io { .. } | BrokerError::Storage(_) => code::KAFKA_STORAGE_ERROR,
            BrokerError::Corrupt(_) | BrokerError::Protocol(_) => code::CORRUPT_MESSAGE,
            BrokerError::Config(_) => code::UNKNOWN_SERVER_ERROR,
        }
    }
}

/// The result type of the broker's fallible operations.
pub type Result<T> = std::result::Result<T, BrokerError>;

/// Kafka error codes the broker answers with (from Apache Kafka's `Errors` table).
pub mod code {
    /// No error.
    pub const NONE: i16 = 0;
    /// The requested offset is outside the range of offsets kept.
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    /// A message failed its CRC check or is otherwise corrupt.
    pub const CORRUPT_MESSAGE: i16 = 2;
    /// The topic or partition does not exist.
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    /// A message is larger than `max.message.bytes`.
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    /// Offset commit metadata is too large.
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    /// The coordinator is not available.
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    /// This broker is not the group's coordinator.
    pub const NOT_COORDINATOR: i16 = 16;
    /// The committed offset's metadata is too large to be stored.
    pub const INVALID_COMMIT_OFFSET_SIZE: i16 = 28;
    /// The topic name is invalid.
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    /// The acks value is not 0, 1 or -1.
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    /// The generation id is not the group's current one.
    pub const ILLEGAL_GENERATION: i16 = 22;
    /// The member's protocols do not match the group's.
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    /// The group id is invalid.
    pub const INVALID_GROUP_ID: i16 = 24;
    /// The member id is not known to the group.
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    /// The session timeout is outside the broker's range.
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    /// The group is rebalancing.
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    /// The topic already exists.
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    /// The number of partitions is invalid.
    pub const INVALID_PARTITIONS: i16 = 37;
    /// The replication factor is invalid.
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    /// The request is not valid.
    pub const INVALID_REQUEST: i16 = 42;
    /// The principal may not access the topic.
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    /// The principal may not access the group.
    pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    /// The principal may not do this on the cluster.
    pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    /// The principal may not use the transactional id.
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    /// No authorizer is configured (ACL APIs).
    pub const SECURITY_DISABLED: i16 = 54;
    /// The version of the API is not supported.
    pub const UNSUPPORTED_VERSION: i16 = 35;
    /// A sequence number is not the next expected one.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    /// The producer epoch is older than the current one.
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    /// The group does not exist.
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    /// The group is not empty.
    pub const NON_EMPTY_GROUP: i16 = 68;
    /// A static member's instance id is now owned by another member id (KIP-345).
    pub const FENCED_INSTANCE_ID: i16 = 82;
    /// A member id is required to join the group (KIP-394, JoinGroup v4+ only).
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    /// The record is invalid.
    pub const INVALID_RECORD: i16 = 87;
    /// The request included message batches larger than the broker accepts in total.
    pub const RECORD_LIST_TOO_LARGE: i16 = 18;
    /// A timestamp is outside the range the topic accepts.
    pub const INVALID_TIMESTAMP: i16 = 32;
    /// The log directory holding the partition failed (disk error).
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    /// The topic id is unknown.
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    /// An unexpected server error.
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    /// The config key or value is invalid.
    pub const INVALID_CONFIG: i16 = 40;
    /// The coordinator is still loading its state.
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    /// The producer attempted a transactional operation in an invalid state.
    pub const INVALID_TXN_STATE: i16 = 48;
    /// The producer id is not the one the transactional id holds.
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    /// `transaction.timeout.ms` is above `transaction.max.timeout.ms` or not positive.
    pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    /// Another transaction operation on the same transactional id is still completing.
    pub const CONCURRENT_TRANSACTIONS: i16 = 51;
    /// Not attempted because another part of the request failed.
    pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
    /// An open transaction holds an offset for the partition (OffsetFetch `require_stable`).
    pub const UNSTABLE_OFFSET_COMMIT: i16 = 88;
    /// The transactional id is not known to the coordinator.
    pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
    /// A newer producer with the same transactional id fenced this one (KIP-588).
    pub const PRODUCER_FENCED: i16 = 90;
}
