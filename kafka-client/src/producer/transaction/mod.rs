//! Transactions of the producer (`transactional.id`): the state machine ([`state`]), the
//! error classes ([`error`]) and the manager that talks to the transaction coordinator
//! (`manager`).

pub mod error;
mod manager;
pub mod state;

pub use self::error::{TransactionError, TxnErrorClass};
pub(crate) use self::manager::{TransactionManager, TxnSettings};
pub use self::state::TxnState;
