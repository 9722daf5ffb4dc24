//! The aborted-transaction index of one segment: `<base offset>.txnindex`, Kafka's format —
//! 34-byte entries `version int16 (0), producerId int64, firstOffset int64, lastOffset int64,
//! lastStableOffset int64`, one per ABORT marker stored in the segment, in marker order.
//!
//! Owns: appending an entry, reading a file (a torn or unreadable file is `None`: recovery
//! rebuilds it from the segment's markers), rewriting a file whole and listing a
//! directory's index files. Must not: decide what was aborted (the partition does).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::disk::Disk;
use super::segment::file_name;
use crate::error::{BrokerError, Result};

/// The file extension.
pub const EXT: &str = "txnindex";
/// The size of one entry.
pub const ENTRY_SIZE: usize = 34;
/// The entry version written.
pub const VERSION: i16 = 0;

/// One aborted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnIndexEntry {
    /// The producer id.
    pub producer_id: i64,
    /// The transaction's first offset in the partition.
    pub first_offset: i64,
    /// The ABORT marker's offset.
    pub last_offset: i64,
    /// The last stable offset right after the abort.
    pub last_stable_offset: i64,
}

impl TxnIndexEntry {
    /// The entry's 34 bytes.
    pub fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0..2].copy_from_slice(&VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    /// Parses one entry; `None` for an unknown version.
    pub fn decode(b: &[u8; ENTRY_SIZE]) -> Option<Self> {
        let i64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(x)
        };
        if i16::from_be_bytes([b[0], b[1]]) != VERSION {
            return None;
        }
        Some(TxnIndexEntry {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// The index path of the segment at `base_offset`.
pub fn path(dir: &Path, base_offset: i64) -> PathBuf {
    file_name(dir, base_offset, EXT)
}

/// Appends one entry to the index of the segment at `base_offset`.
pub fn append(disk: &Disk, dir: &Path, base_offset: i64, e: &TxnIndexEntry) -> Result<()> {
    let p = path(dir, base_offset);
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .map_err(|err| BrokerError::io(format!("open {}", p.display()), err))?;
    disk.append(&p, &f, &e.encode())
        .map_err(|err| BrokerError::io(format!("append {}", p.display()), err))
}

/// Rewrites the index of the segment at `base_offset` with `entries` (none: no file).
pub fn rewrite(disk: &Disk, dir: &Path, base_offset: i64, entries: &[TxnIndexEntry]) -> Result<()> {
    let p = path(dir, base_offset);
    match std::fs::remove_file(&p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(BrokerError::io(format!("delete {}", p.display()), e)),
    }
    for e in entries {
        append(disk, dir, base_offset, e)?;
    }
    Ok(())
}

/// Reads an index file: `None` when it is missing, unreadable, torn (not a whole number of
/// entries) or holds an unknown version.
pub fn read(p: &Path) -> Option<Vec<TxnIndexEntry>> {
    let bytes = std::fs::read(p).ok()?;
    if bytes.len() % ENTRY_SIZE != 0 {
        return None;
    }
    bytes
        .chunks_exact(ENTRY_SIZE)
        .map(|c| {
            let mut b = [0u8; ENTRY_SIZE];
            b.copy_from_slice(c);
            TxnIndexEntry::decode(&b)
        })
        .collect()
}

/// Deletes the index of the segment at `base_offset`, if any.
pub fn delete(dir: &Path, base_offset: i64) -> Result<()> {
    let p = path(dir, base_offset);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BrokerError::io(format!("delete {}", p.display()), e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_torn_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let disk = crate::log::disk::real();
        let e = TxnIndexEntry {
            producer_id: 7,
            first_offset: 3,
            last_offset: 9,
            last_stable_offset: 10,
        };
        assert_eq!(e.encode().len(), 34);
        append(&disk, dir.path(), 0, &e).unwrap();
        append(&disk, dir.path(), 0, &e).unwrap();
        assert_eq!(read(&path(dir.path(), 0)).unwrap(), vec![e, e]);
        std::fs::write(path(dir.path(), 0), [0u8; 35]).unwrap();
        assert_eq!(read(&path(dir.path(), 0)), None);
        rewrite(&disk, dir.path(), 0, &[e]).unwrap();
        assert_eq!(read(&path(dir.path(), 0)).unwrap(), vec![e]);
        delete(dir.path(), 0).unwrap();
        assert_eq!(read(&path(dir.path(), 0)), None);
    }
}
