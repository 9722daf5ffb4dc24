//! Networking: accepting connections, framing, ordering responses and dispatching requests.

pub mod connection;
pub mod dispatch;
pub mod limits;
pub mod listener;
pub mod tls;

pub use connection::{Pending, Reply};
