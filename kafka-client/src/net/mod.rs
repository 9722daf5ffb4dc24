//! Networking: connections, version negotiation, the connection pool and the metadata
//! cache, TLS (`tls`) and SASL authentication (`sasl`). Everything above (producer, consumer, admin) talks to brokers through here.

pub mod connection;
pub(crate) mod coordinator_lookup;
pub(crate) mod list_offsets;
pub mod metadata;
pub mod pool;
pub mod sasl;
pub mod tls;
pub mod versions;

pub use connection::{Connection, ConnectionConfig, PendingResponse};
pub use metadata::{BrokerInfo, ClusterSnapshot, Metadata, PartitionInfo, TopicInfo};
pub use pool::Pool;
pub use versions::ApiVersions;
