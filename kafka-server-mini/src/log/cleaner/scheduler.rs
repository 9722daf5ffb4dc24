//! The background cleaner: every `log.cleaner.backoff.ms` it cleans each compacted partition
//! that is due (`log.cleaner.enable`), one at a time on a blocking thread.
//!
//! Owns: the per-partition [`LogCleanState`] (first dirty offset, next delete horizon), the
//! `cleaner-offset-checkpoint` file in the data directory (Kafka's name and format) so a
//! restart does not re-clean clean data, and totals for logging. On first sight of a log the
//! next delete horizon is read back from the stored batch headers. Must not: decide what a
//! clean keeps (see `cleaner`).

use crate::log::disk::Disk;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::cleaner::{clean_partition, CleanStats, CleanerError, LogCleanState};
use crate::broker::{now_ms, BrokerState};
use crate::log::checkpoint::{self, Offsets};

/// The cleaner checkpoint's file name (Kafka's).
pub const CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// The cleaner's state across rounds.
#[derive(Debug)]
pub struct Cleaner {
    logs: BTreeMap<(String, i32), LogCleanState>,
    checkpoint: PathBuf,
    disk: Disk,
    dedupe_buffer_bytes: u64,
    written: Offsets,
    /// Totals of every clean so far.
    pub totals: CleanStats,
    /// Number of cleans done.
    pub cleans: u64,
}

impl Cleaner {
    /// A cleaner for the data directory `data_dir`, reading its checkpoint.
    pub fn load(data_dir: &Path, dedupe_buffer_bytes: u64, disk: Disk) -> Self {
        let path = data_dir.join(CHECKPOINT_FILE);
        let written = checkpoint::read(&path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring an unreadable cleaner checkpoint");
            Offsets::new()
        });
        Cleaner {
            logs: BTreeMap::new(),
            checkpoint: path,
            disk,
            dedupe_buffer_bytes,
            written,
            totals: CleanStats::default(),
            cleans: 0,
        }
    }

    /// Cleans every compacted partition that is due at `now_ms`, stopping early when
    /// `stop()` says so; writes the checkpoint when it changed.
    pub fn run_once(&mut self, state: &BrokerState, now_ms: i64, stop: impl Fn() -> bool) {
        let mut seen = BTreeMap::new();
        for t in state.topics() {
            for p in &t.partitions {
                if stop() {
                    return;
                }
                let key = (t.name.clone(), p.index);
                let mut st = match self.logs.get(&key) {
                    Some(s) => *s,
                    None => {
                        let guard = p.lock();
                        if !guard.log.config().cleanup.compact {
                            continue;
                        }
                        let next_horizon =
                            guard.log.batch_headers().ok().and_then(|hs| {
                                hs.iter().filter_map(|h| h.delete_horizon_ms()).min()
                            });
                        LogCleanState {
                            first_dirty: self.written.get(&key).copied().unwrap_or(0),
                            next_horizon,
                        }
                    }
                };
                match clean_partition(p, &mut st, now_ms, self.dedupe_buffer_bytes, None) {
                    Ok(Some(stats)) => {
                        self.cleans += 1;
                        self.totals.records_read += stats.records_read;
                        self.totals.records_kept += stats.records_kept;
                        self.totals.bytes_before += stats.bytes_before;
                        self.totals.bytes_after += stats.bytes_after;
                        self.totals.segments_replaced += stats.segments_replaced;
                    }
                    Ok(None) => {}
                    Err(CleanerError::Aborted(why)) => {
                        tracing::debug!(topic = %t.name, partition = p.index, why, "clean aborted; retried later");
                    }
                    Err(e) => {
                        tracing::warn!(topic = %t.name, partition = p.index, error = %e, "log cleaning failed");
                    }
                }
                seen.insert(key.clone(), st);
            }
        }
        self.logs = seen;
        let offsets: Offsets = self
            .logs
            .iter()
            .map(|(k, s)| (k.clone(), s.first_dirty))
            .collect();
        if offsets != self.written {
            match checkpoint::write(&self.disk, &self.checkpoint, &offsets) {
                Ok(()) => self.written = offsets,
                Err(e) => tracing::warn!(error = %e, "could not write the cleaner checkpoint"),
            }
        }
    }
}

/// Runs the cleaner until shutdown (returns at once when `log.cleaner.enable` is false).
pub async fn run(state: Arc<BrokerState>) {
    if !state.config.log_cleaner_enable {
        return;
    }
    let mut shutdown = state.shutdown.clone();
    let backoff = Duration::from_millis(state.config.log_cleaner_backoff_ms.max(1));
    let mut cleaner = Some(Cleaner::load(
        &state.config.data_dir,
        state.config.log_cleaner_dedupe_buffer_size,
        state.config.disk.clone(),
    ));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        let Some(mut c) = cleaner.take() else { return };
        let st = state.clone();
        let stop = state.shutdown.clone();
        match tokio::task::spawn_blocking(move || {
            c.run_once(&st, now_ms(), || *stop.borrow());
            c
        })
        .await
        {
            Ok(c) => cleaner = Some(c),
            Err(e) => {
                tracing::error!(error = %e, "the log cleaner stopped");
                return;
            }
        }
    }
}
