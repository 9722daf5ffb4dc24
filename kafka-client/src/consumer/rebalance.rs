//! Rebalance listener callbacks: what the application hears when the group moves
//! partitions.
//!
//! Owns: the [`RebalanceListener`] trait (Java's `ConsumerRebalanceListener`). The consumer
//! calls it from inside `poll` (never from a background task), so a callback may use the
//! consumer — e.g. commit offsets of revoked partitions with
//! [`Consumer::commit_offsets`](super::Consumer::commit_offsets) — or seek newly
//! assigned ones. Must not: speak the group protocol (the consumer drives it).

use futures::future::BoxFuture;

use super::Consumer;
use crate::types::TopicPartition;

/// Callbacks around a rebalance, in Java's order:
///
/// - eager protocols (`range`, `roundrobin`, `sticky`): before rejoining, every owned
///   partition is revoked; after the new assignment arrives, every assigned partition is
///   passed to `on_partitions_assigned`;
/// - the cooperative protocol (`cooperative-sticky`, KIP-429): only the partitions that
///   move away are revoked (after the assignment arrives; the consumer then rejoins at
///   once so the group can hand them to their new owner), and only the added partitions
///   are passed to `on_partitions_assigned` (possibly an empty list);
/// - when the member was dropped by the group (session timeout, fenced), its partitions
///   are already someone else's: `on_partitions_lost` is called instead of
///   `on_partitions_revoked`, and committing them would fail.
///
/// With `enable.auto.commit`, the consumer commits the positions of revoked partitions
/// before calling `on_partitions_revoked`.
pub trait RebalanceListener: Send + Sync {
    /// `partitions` are being taken away; commit what was processed of them now.
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// `partitions` were assigned; positions come from committed offsets (or
    /// `auto.offset.reset`) unless the callback seeks.
    fn on_partitions_assigned<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// `partitions` were lost without a clean revoke (the member left the group
    /// involuntarily). The default calls
    /// [`on_partitions_revoked`](Self::on_partitions_revoked), as Java's does.
    fn on_partitions_lost<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.on_partitions_revoked(consumer, partitions)
    }
}
