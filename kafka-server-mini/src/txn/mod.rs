//! The transaction coordinator (Kafka's `TransactionCoordinator` on one node).
//!
//! `state.rs` holds one transactional id's metadata and its state machine
//! (Empty -> Ongoing -> PrepareCommit/PrepareAbort -> CompleteCommit/CompleteAbort);
//! `coordinator.rs` the operations the handlers call (InitProducerId with a transactional
//! id, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit staging, EndTxn, produce
//! verification, the proactive abort of expired transactions) and the writing of markers;
//! `log.rs` the `__transaction_state` records it persists every change to and replays at
//! start.

pub mod coordinator;
pub mod log;
pub mod state;

pub use coordinator::TxnCoordinator;
pub use state::{TxnMetadata, TxnState};
