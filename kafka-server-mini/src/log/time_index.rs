//! The time index of one segment: `<base offset>.timeindex`.
//!
//! Owns: 12-byte entries (timestamp i64, offset relative to the segment base u32), appended
//! when a batch raises the segment's max timestamp, at most one per
//! `log.index.interval.bytes`. Must not: read the log itself.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::disk::Disk;
use super::index_file;
use crate::error::{BrokerError, Result};

/// Bytes of one time index entry.
pub const ENTRY_SIZE: usize = 12;

/// A segment's time index.
#[derive(Debug)]
pub struct TimeIndex {
    file: File,
    path: PathBuf,
    disk: Disk,
    entries: Vec<(i64, u32)>,
}

impl TimeIndex {
    /// Opens (creating if missing) the time index at `path`, keeping complete entries whose
    /// timestamps and offsets grow.
    pub fn open(path: &Path, disk: Disk) -> Result<Self> {
        let (file, raw) = index_file::open(path)?;
        let mut entries: Vec<(i64, u32)> = Vec::with_capacity(raw.len() / ENTRY_SIZE);
        for c in raw.chunks_exact(ENTRY_SIZE) {
            let ts = i64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            let rel = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
            if let Some(&(lt, lr)) = entries.last() {
                if ts <= lt || rel < lr {
                    break;
                }
            }
            entries.push((ts, rel));
        }
        let mut index = TimeIndex {
            file,
            path: path.to_path_buf(),
            disk,
            entries,
        };
        index.rewrite_len()?;
        Ok(index)
    }

    fn rewrite_len(&mut self) -> Result<()> {
        index_file::set_entries(
            &self.disk,
            &self.path,
            &mut self.file,
            self.entries.len(),
            ENTRY_SIZE,
            "time index",
        )
    }

    /// Appends an entry if its timestamp is larger than the last one's.
    pub fn maybe_append(&mut self, timestamp: i64, relative_offset: u32) -> Result<()> {
        if let Some(&(t, r)) = self.entries.last() {
            if timestamp <= t || relative_offset < r {
                return Ok(());
            }
        }
        let mut buf = [0u8; ENTRY_SIZE];
        buf[..8].copy_from_slice(&timestamp.to_be_bytes());
        buf[8..].copy_from_slice(&relative_offset.to_be_bytes());
        if let Err(e) = self.disk.append(&self.path, &self.file, &buf) {
            // cut a partial entry so the next one starts on an entry boundary
            self.rewrite_len()?;
            return Err(BrokerError::io("append time index", e));
        }
        self.entries.push((timestamp, relative_offset));
        Ok(())
    }

    /// The relative offset to start scanning from to find the first record with a timestamp
    /// `>= timestamp`: the entry before the first entry at or above it (or 0).
    pub fn lookup(&self, timestamp: i64) -> u32 {
        let i = self.entries.partition_point(|&(t, _)| t < timestamp);
        i.checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .map_or(0, |&(_, r)| r)
    }

    /// The last entry: the segment's largest timestamp and its relative offset.
    pub fn last(&self) -> Option<(i64, u32)> {
        self.entries.last().copied()
    }

    /// Drops every entry (before a rebuild).
    pub fn clear(&mut self) -> Result<()> {
        self.entries.clear();
        self.rewrite_len()
    }

    /// Drops entries at relative offsets `>= relative_offset`.
    pub fn truncate_to_offset(&mut self, relative_offset: u32) -> Result<()> {
        let keep = self.entries.partition_point(|&(_, r)| r < relative_offset);
        self.entries.truncate(keep);
        self.rewrite_len()
    }

    /// Forces the index to disk.
    pub fn flush(&self) -> Result<()> {
        self.disk
            .sync(&self.path, &self.file)
            .map_err(|e| BrokerError::io("fsync time index", e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_monotonic_appends() {
        let dir = tempfile::tempdir().unwrap();
        let mut t =
            TimeIndex::open(&dir.path().join("0.timeindex"), crate::log::disk::real()).unwrap();
        t.maybe_append(100, 0).unwrap();
        t.maybe_append(90, 5).unwrap(); // ignored: not larger
        t.maybe_append(200, 10).unwrap();
        assert_eq!(t.lookup(50), 0);
        assert_eq!(t.lookup(150), 0);
        assert_eq!(t.lookup(200), 0);
        assert_eq!(t.lookup(201), 10);
        assert_eq!(t.last(), Some((200, 10)));
    }
}
