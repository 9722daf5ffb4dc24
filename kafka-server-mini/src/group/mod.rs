//! The classic consumer group protocol: group state machine, membership, rebalances and
//! committed offsets. Committed offsets and group metadata are written to the
//! `__consumer_offsets` topic (Kafka's record schemas, one partition) and replayed at
//! startup; groups come back Empty at their stored generation and members re-join.

pub mod coordinator;
pub mod offsets;
pub mod state;
