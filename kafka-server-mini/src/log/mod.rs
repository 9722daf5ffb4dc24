//! Partition logs on disk.
//!
//! A partition's directory `<data-dir>/<topic>-<partition>/` holds segments named by their
//! 20-digit base offset: `.log` (v2 batches exactly as stored), `.index` (offset index),
//! `.timeindex` (time index) and, where a transaction was aborted, `.txnindex` (aborted
//! transactions). The data directory holds the checkpoint files. Compacted logs
//! are rewritten by the `cleaner`, whose `.cleaned` / `.swap` / `.deleted` files are
//! resolved when the log opens.

pub mod checkpoint;
pub mod cleaner;
pub mod disk;
pub mod index;
mod index_file;
#[allow(clippy::module_inception)]
pub mod log;
pub mod recovery;
pub mod replay;
pub mod segment;
pub mod time_index;
pub mod txn_index;

pub use self::log::{Log, LogConfig};
