//! Transactions of the producer (`transactional.id`): the state machine ([`state`]), the
//! error classes ([`error`]), the manager of one producer's transactions (`manager`) and
//! its retrying requests to the transaction and group coordinators (`coordinator`).

mod coordinator;
pub mod error;
mod manager;
pub mod state;

pub use self::error::{TransactionError, TxnErrorClass};
pub(crate) use self::manager::{TransactionManager, TxnSettings};
pub use self::state::TxnState;
