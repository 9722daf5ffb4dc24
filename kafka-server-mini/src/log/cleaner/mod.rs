//! Log compaction (`cleanup.policy=compact`): the log cleaner.
//!
//! A background task ([`scheduler`]) picks, every `log.cleaner.backoff.ms`, the compacted
//! partitions whose dirty part is large enough (`min.cleanable.dirty.ratio`), old enough
//! (`max.compaction.lag.ms` forces a clean) or holds tombstones whose delete horizon passed,
//! and cleans them ([`cleaner`]): an [`offset_map`] of key -> latest offset is built over the
//! dirty segments (up to the first segment younger than `min.compaction.lag.ms` and never the
//! active segment), then every segment below that point is rewritten keeping, per key, only
//! the latest record. Offsets never change (consumers see gaps). Rewritten segments replace
//! the old ones through Kafka's `.cleaned` -> `.swap` renames ([`swap`]), so a crash at any
//! step leaves either the old or the new segments; [`swap::recover_interrupted`] finishes or
//! rolls back an interrupted swap when the log opens.
//!
//! Invariants:
//! - the active segment and everything at or above the first uncleanable offset are never
//!   touched; offsets, batch base offsets and last offsets are preserved (a rebuilt batch keeps
//!   its producer id, epoch, base sequence and last offset delta, so producer state rebuilt
//!   from the log is unchanged);
//! - the last batch of every producer is kept, empty if none of its records survive (Kafka's
//!   `RETAIN_EMPTY`), so idempotent sequences continue after a restart;
//! - a tombstone (null value) or a control batch is kept until `delete.retention.ms` after the
//!   clean that first saw it: that clean stamps the delete horizon into the batch (KIP-534,
//!   attribute bit 6, base timestamp = horizon) and a later clean drops it;
//! - records without a key are dropped by the cleaner, as Kafka's cleaner does.

#[allow(clippy::module_inception)]
pub mod cleaner;
pub mod offset_map;
pub mod scheduler;
pub mod swap;

/// What to do with old data of a log: `cleanup.policy` and the compaction settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanupConfig {
    /// `cleanup.policy` contains `delete`: time and size retention apply.
    pub delete: bool,
    /// `cleanup.policy` contains `compact`: the cleaner keeps the latest record per key.
    pub compact: bool,
    /// `delete.retention.ms`: how long tombstones and control batches stay after the first
    /// clean that saw them.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: dirty bytes / cleanable bytes needed to clean.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this stay uncompacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this forces a clean.
    pub max_compaction_lag_ms: i64,
}

impl Default for CleanupConfig {
    /// Kafka's defaults: `delete` policy, 1 day, 0.5, 0 and `Long.MAX_VALUE`.
    fn default() -> Self {
        CleanupConfig {
            delete: true,
            compact: false,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

impl CleanupConfig {
    /// Sets the policy from a `cleanup.policy` value (`delete`, `compact`, both, comma
    /// separated); `None` when an item is neither.
    pub fn with_policy(mut self, policy: &str) -> Option<Self> {
        let mut delete = false;
        let mut compact = false;
        for item in policy.split(',').map(str::trim) {
            match item {
                "delete" => delete = true,
                "compact" => compact = true,
                "" => {}
                _ => return None,
            }
        }
        if !delete && !compact {
            return None;
        }
        self.delete = delete;
        self.compact = compact;
        Some(self)
    }

    /// The policy as Kafka writes it (`delete`, `compact` or `compact,delete`).
    pub fn policy(&self) -> &'static str {
        match (self.compact, self.delete) {
            (true, true) => "compact,delete",
            (true, false) => "compact",
            _ => "delete",
        }
    }
}

#[cfg(test)]
mod tests;
