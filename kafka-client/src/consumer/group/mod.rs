//! Consumer groups (classic protocol): membership and assignors.

pub mod assignor;
pub(crate) mod coordinator;
