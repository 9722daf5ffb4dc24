//! The seam under the log's file I/O.
//!
//! Owns: [`DiskIo`], the few operations that change files on disk (append, fsync, set
//! length, rename), so tests can inject short writes, `ENOSPC` and `EIO` where a real disk
//! would fail ([`FaultyDisk`]); [`RealDisk`] passes straight to the OS. Reads are not
//! behind the seam (a failed read is an error for that request and changes nothing).
//! Must not: know about segments, batches or offsets.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The file operations the log, its indexes and the checkpoints go through.
///
/// Every method has the real behaviour as its default, so an implementation overrides only
/// what it wants to change.
pub trait DiskIo: Send + Sync + fmt::Debug {
    /// Appends all of `buf` to `file` (opened for appending), whose path is `path`. On error
    /// some prefix of `buf` may have been written.
    fn append(&self, path: &Path, mut file: &File, buf: &[u8]) -> io::Result<()> {
        let _ = path;
        file.write_all(buf)
    }

    /// Forces `file`'s data to disk.
    fn sync(&self, path: &Path, file: &File) -> io::Result<()> {
        let _ = path;
        file.sync_data()
    }

    /// Sets `file`'s length (cutting or zero-extending).
    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        let _ = path;
        file.set_len(len)
    }

    /// Renames `from` to `to` (atomically replacing `to`).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
}

/// The operating system's file I/O, unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealDisk;

impl DiskIo for RealDisk {}

/// The shared handle the log and checkpoints keep.
pub type Disk = Arc<dyn DiskIo>;

/// The real disk as a [`Disk`].
pub fn real() -> Disk {
    Arc::new(RealDisk)
}

/// Which operation a [`Fault`] hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// [`DiskIo::append`].
    Append,
    /// [`DiskIo::sync`].
    Sync,
    /// [`DiskIo::set_len`].
    SetLen,
    /// [`DiskIo::rename`].
    Rename,
}

/// How an injected fault fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `ENOSPC` (disk full), nothing written.
    NoSpace,
    /// `EIO` (I/O error), nothing written.
    Eio,
    /// A short write: this many bytes of the buffer reach the file, then `ENOSPC`. Only
    /// meaningful for [`Op::Append`] (other operations fail with `ENOSPC`).
    Short(usize),
}

/// One injected fault: the next `times` calls of `op` on a path containing `path_contains`
/// fail as `kind`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The operation.
    pub op: Op,
    /// A substring of the path the fault applies to (`""` for every path).
    pub path_contains: String,
    /// How it fails.
    pub kind: FaultKind,
    /// How many calls fail before the fault is used up.
    pub times: u32,
}

/// A [`DiskIo`] for tests: real I/O except where a queued [`Fault`] matches.
#[derive(Debug, Default)]
pub struct FaultyDisk {
    faults: Mutex<Vec<Fault>>,
    injected: Mutex<Vec<(Op, FaultKind, String)>>,
}

impl FaultyDisk {
    /// A disk without faults yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Queues a fault.
    pub fn inject(&self, op: Op, path_contains: &str, kind: FaultKind, times: u32) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Fault {
                op,
                path_contains: path_contains.to_string(),
                kind,
                times,
            });
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Every fault that fired so far: operation, kind and path.
    pub fn injected(&self) -> Vec<(Op, FaultKind, String)> {
        self.injected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn take(&self, op: Op, path: &Path) -> Option<FaultKind> {
        let shown = path.display().to_string();
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let i = faults
            .iter()
            .position(|f| f.op == op && f.times > 0 && shown.contains(&f.path_contains))?;
        let kind = faults[i].kind;
        faults[i].times -= 1;
        if faults[i].times == 0 {
            faults.remove(i);
        }
        drop(faults);
        self.injected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((op, kind, shown));
        Some(kind)
    }
}

fn error_of(kind: FaultKind) -> io::Error {
    match kind {
        FaultKind::Eio => io::Error::from_raw_os_error(5),
        FaultKind::NoSpace | FaultKind::Short(_) => io::Error::from_raw_os_error(28),
    }
}

impl DiskIo for FaultyDisk {
    fn append(&self, path: &Path, mut file: &File, buf: &[u8]) -> io::Result<()> {
        match self.take(Op::Append, path) {
            None => file.write_all(buf),
            Some(FaultKind::Short(n)) => {
                file.write_all(&buf[..n.min(buf.len())])?;
                Err(error_of(FaultKind::Short(n)))
            }
            Some(kind) => Err(error_of(kind)),
        }
    }

    fn sync(&self, path: &Path, file: &File) -> io::Result<()> {
        match self.take(Op::Sync, path) {
            None => file.sync_data(),
            Some(kind) => Err(error_of(kind)),
        }
    }

    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        match self.take(Op::SetLen, path) {
            None => file.set_len(len),
            Some(kind) => Err(error_of(kind)),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match self.take(Op::Rename, to) {
            None => std::fs::rename(from, to),
            Some(kind) => Err(error_of(kind)),
        }
    }
}
