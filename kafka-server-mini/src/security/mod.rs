//! Security: listeners and their protocols, TLS settings, SASL authentication, principals
//! and the SCRAM credential store.
//!
//! Owns: everything a connection needs to decide *who* its peer is. Must not: decide what
//! a principal may do (no authorizer yet) or touch sockets (see `net`).

pub mod credentials;
pub mod jaas;
pub mod listeners;
pub mod principal;
pub mod sasl;
pub mod session;
pub mod settings;

pub use listeners::{ListenerSpec, SecurityProtocol};
pub use principal::Principal;
