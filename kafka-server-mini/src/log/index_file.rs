//! The file under an index (`.index`, `.timeindex`): fixed-size entries appended at the
//! end, read whole at open, cut back to the entries kept.
//!
//! Owns: opening (creating if missing) and reading the raw bytes, and setting the file's
//! length to a number of entries with the write position at the end. Must not: interpret
//! entries (each index does).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::disk::Disk;
use crate::error::{BrokerError, Result};

/// Opens (creating if missing) the index file at `path` and reads all of it.
pub fn open(path: &Path) -> Result<(File, Vec<u8>)> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| BrokerError::io(format!("open {}", path.display()), e))?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)
        .map_err(|e| BrokerError::io(format!("read {}", path.display()), e))?;
    Ok((file, raw))
}

/// Sets the file's length to `entries` entries of `entry_size` bytes and moves the write
/// position to its end (through `disk`). `what` names the index in errors.
pub fn set_entries(
    disk: &Disk,
    path: &Path,
    file: &mut File,
    entries: usize,
    entry_size: usize,
    what: &str,
) -> Result<()> {
    let len = (entries * entry_size) as u64;
    disk.set_len(path, file, len)
        .and_then(|()| file.seek(SeekFrom::End(0)).map(|_| ()))
        .map_err(|e| BrokerError::io(format!("truncate {what}"), e))
}
