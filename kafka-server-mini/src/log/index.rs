//! The offset index of one segment: `<base offset>.index`.
//!
//! Owns: 8-byte entries (offset relative to the segment base as u32, byte position in the
//! `.log` as u32), one per `log.index.interval.bytes` of appended data, kept in memory and
//! appended to the file. Must not: read the log itself.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::disk::Disk;
use super::index_file;
use crate::error::{BrokerError, Result};

/// Bytes of one offset index entry.
pub const ENTRY_SIZE: usize = 8;

/// A segment's offset index.
#[derive(Debug)]
pub struct OffsetIndex {
    file: File,
    path: PathBuf,
    disk: Disk,
    entries: Vec<(u32, u32)>,
}

impl OffsetIndex {
    /// Opens (creating if missing) the index at `path`, loading complete, increasing entries
    /// and dropping a torn or out-of-order tail.
    pub fn open(path: &Path, disk: Disk) -> Result<Self> {
        let (file, raw) = index_file::open(path)?;
        let mut entries: Vec<(u32, u32)> = Vec::with_capacity(raw.len() / ENTRY_SIZE);
        for chunk in raw.chunks_exact(ENTRY_SIZE) {
            let rel = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let pos = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            if let Some(&(lr, lp)) = entries.last() {
                if rel <= lr || pos <= lp {
                    break;
                }
            }
            entries.push((rel, pos));
        }
        let mut index = OffsetIndex {
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
            "offset index",
        )
    }

    /// Appends an entry (ignored unless both values grow).
    pub fn append(&mut self, relative_offset: u32, position: u32) -> Result<()> {
        if let Some(&(r, p)) = self.entries.last() {
            if relative_offset <= r || position <= p {
                return Ok(());
            }
        }
        let mut buf = [0u8; ENTRY_SIZE];
        buf[..4].copy_from_slice(&relative_offset.to_be_bytes());
        buf[4..].copy_from_slice(&position.to_be_bytes());
        if let Err(e) = self.disk.append(&self.path, &self.file, &buf) {
            // cut a partial entry so the next one starts on an entry boundary
            self.rewrite_len()?;
            return Err(BrokerError::io("append offset index", e));
        }
        self.entries.push((relative_offset, position));
        Ok(())
    }

    /// The entry with the largest relative offset `<= relative_offset`, if any.
    pub fn lookup(&self, relative_offset: u32) -> Option<(u32, u32)> {
        let i = self.entries.partition_point(|&(r, _)| r <= relative_offset);
        i.checked_sub(1).and_then(|i| self.entries.get(i).copied())
    }

    /// The last entry.
    pub fn last(&self) -> Option<(u32, u32)> {
        self.entries.last().copied()
    }

    /// Drops every entry (before a rebuild).
    pub fn clear(&mut self) -> Result<()> {
        self.entries.clear();
        self.rewrite_len()
    }

    /// Drops entries at positions `>= position` (after the log was truncated there).
    pub fn truncate_to_position(&mut self, position: u32) -> Result<()> {
        let keep = self.entries.partition_point(|&(_, p)| p < position);
        self.entries.truncate(keep);
        self.rewrite_len()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forces the index to disk.
    pub fn flush(&self) -> Result<()> {
        self.disk
            .sync(&self.path, &self.file)
            .map_err(|e| BrokerError::io("fsync offset index", e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    #[test]
    fn lookup_finds_floor_entry_and_survives_reopen_with_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        {
            let mut idx = OffsetIndex::open(&path, crate::log::disk::real()).unwrap();
            idx.append(0, 0).unwrap();
            idx.append(10, 4096).unwrap();
            idx.append(20, 8192).unwrap();
            assert_eq!(idx.lookup(5), Some((0, 0)));
            assert_eq!(idx.lookup(10), Some((10, 4096)));
            assert_eq!(idx.lookup(99), Some((20, 8192)));
        }
        // a torn write: 3 stray bytes
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        let idx = OffsetIndex::open(&path, crate::log::disk::real()).unwrap();
        assert_eq!(idx.len(), 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 24);
    }
}
