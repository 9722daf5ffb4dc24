//! Replacing segments with cleaned ones on disk, safely, and finishing an interrupted
//! replacement when a log opens.
//!
//! Owns: the file protocol (Kafka's suffixes). The cleaner writes the new segment as
//! `<base>.log.cleaned`, `<base>.index.cleaned`, `<base>.timeindex.cleaned` plus
//! `<base>.range.cleaned` (the end offset, exclusive, of the old segments it replaces), all
//! fsynced. Then [`commit`]:
//! 1. renames `<base>.log.cleaned` -> `<base>.log.swap` and fsyncs the directory: the commit
//!    point, from here on the new segment wins;
//! 2. renames each old segment's files to `.deleted`;
//! 3. renames the cleaned indexes into place, then `<base>.log.swap` -> `<base>.log`;
//! 4. deletes the `.deleted` files and the range file.
//!
//! [`recover_interrupted`], run before a log directory is read: for every `<base>.log.swap`
//! it deletes the old segments in `[base, end)` still there, renames the swap file into place
//! and rebuilds its indexes (roll forward); then every other `.cleaned`, `.swap` and
//! `.deleted` file is deleted (an uncommitted clean is rolled back). Must not: decide what
//! to keep (see `cleaner`).

use crate::log::disk::Disk;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::cleaner::CleanerError;
use crate::error::{BrokerError, Result};
use crate::log::segment::{file_name, Segment};

/// Suffix of files written by a clean in progress.
pub const CLEANED: &str = "cleaned";
/// Suffix of a cleaned segment committed but not yet in place.
pub const SWAP: &str = "swap";
/// Suffix of replaced segment files waiting to be deleted.
pub const DELETED: &str = "deleted";
/// The files of a segment, by extension.
pub const SEGMENT_EXTS: [&str; 3] = ["log", "index", "timeindex"];
/// The extension of the file naming the end of the replaced range.
pub const RANGE_EXT: &str = "range";

/// A step of [`commit`], after which a test may inject a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapStep {
    /// The `.cleaned` files are written and fsynced; nothing renamed yet.
    CleanedWritten,
    /// `<base>.log.swap` exists (the commit point).
    Committed,
    /// The files of this many old segments were renamed to `.deleted`.
    OldRenamed(usize),
    /// The cleaned indexes are in place; the log file is still `.swap`.
    IndexesInPlace,
    /// `<base>.log` is the new segment; `.deleted` files are still there.
    LogInPlace,
}

/// `<base>.<ext>.<suffix>` in `dir`.
pub fn suffixed(dir: &Path, base: i64, ext: &str, suffix: &str) -> PathBuf {
    let mut p = file_name(dir, base, ext).into_os_string();
    p.push(".");
    p.push(suffix);
    PathBuf::from(p)
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to)
        .map_err(|e| BrokerError::io(format!("rename {} -> {}", from.display(), to.display()), e))
}

fn rename_if_exists(from: &Path, to: &Path) -> Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.map_err(|e| {
            BrokerError::io(format!("rename {} -> {}", from.display(), to.display()), e)
        }),
    }
}

fn remove_if_exists(p: &Path) -> Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(BrokerError::io(format!("delete {}", p.display()), e))
        }
        _ => Ok(()),
    }
}

/// Forces the directory entry changes (renames, creations) of `dir` to disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BrokerError::io(format!("fsync directory {}", dir.display()), e))
}

/// Writes `<base>.range.cleaned` holding `end` and fsyncs it.
pub fn write_range(dir: &Path, base: i64, end: i64) -> Result<()> {
    let p = suffixed(dir, base, RANGE_EXT, CLEANED);
    let io = |e| BrokerError::io(format!("write {}", p.display()), e);
    let f = File::create(&p).map_err(io)?;
    std::io::Write::write_all(&mut &f, format!("{end}\n").as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Deletes the `.cleaned` files of a clean that is given up.
pub fn discard_cleaned(dir: &Path, base: i64) {
    for ext in SEGMENT_EXTS.iter().chain(&[RANGE_EXT]) {
        let _ = std::fs::remove_file(suffixed(dir, base, ext, CLEANED));
    }
}

fn check(crash: Option<SwapStep>, step: SwapStep) -> std::result::Result<(), CleanerError> {
    if crash == Some(step) {
        return Err(CleanerError::InjectedCrash(step));
    }
    Ok(())
}

/// Swaps the cleaned segment `<base>.*.cleaned` in for the old segments `old` (ascending
/// bases, the first one equal to `base`), following the protocol above. `crash` stops right
/// after that step, leaving the files as a crash would (tests only).
pub fn commit(
    dir: &Path,
    base: i64,
    old: &[i64],
    crash: Option<SwapStep>,
) -> std::result::Result<(), CleanerError> {
    check(crash, SwapStep::CleanedWritten)?;
    rename(
        &suffixed(dir, base, "log", CLEANED),
        &suffixed(dir, base, "log", SWAP),
    )?;
    sync_dir(dir)?;
    check(crash, SwapStep::Committed)?;
    for (i, &b) in old.iter().enumerate() {
        for ext in SEGMENT_EXTS {
            rename_if_exists(&file_name(dir, b, ext), &suffixed(dir, b, ext, DELETED))?;
        }
        check(crash, SwapStep::OldRenamed(i + 1))?;
    }
    for ext in ["index", "timeindex"] {
        rename(
            &suffixed(dir, base, ext, CLEANED),
            &file_name(dir, base, ext),
        )?;
    }
    check(crash, SwapStep::IndexesInPlace)?;
    rename(
        &suffixed(dir, base, "log", SWAP),
        &file_name(dir, base, "log"),
    )?;
    sync_dir(dir)?;
    check(crash, SwapStep::LogInPlace)?;
    for &b in old {
        for ext in SEGMENT_EXTS {
            remove_if_exists(&suffixed(dir, b, ext, DELETED))?;
        }
    }
    remove_if_exists(&suffixed(dir, base, RANGE_EXT, CLEANED))?;
    Ok(())
}

/// `<base>` of a file named `<20 digits>.<rest>` where `rest` is `want`.
fn base_of(name: &str, want: &str) -> Option<i64> {
    let (stem, rest) = name.split_once('.')?;
    (rest == want).then(|| stem.parse().ok()).flatten()
}

/// Finishes or rolls back a clean interrupted by a crash in `dir` (see the module docs);
/// run before the log's segments are opened. Swapped-in segments get their indexes rebuilt
/// (`index_interval` = `log.index.interval.bytes`).
pub fn recover_interrupted(dir: &Path, index_interval: u64, disk: &Disk) -> Result<()> {
    let names = || -> Result<Vec<String>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(BrokerError::io(format!("list {}", dir.display()), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| BrokerError::io("list log dir", e))?;
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    };
    let all = names()?;
    let mut swaps: Vec<i64> = all
        .iter()
        .filter_map(|n| base_of(n, &format!("log.{SWAP}")))
        .collect();
    swaps.sort_unstable();
    let segment_bases: Vec<i64> = all.iter().filter_map(|n| base_of(n, "log")).collect();
    for base in swaps {
        let range = suffixed(dir, base, RANGE_EXT, CLEANED);
        let end = std::fs::read_to_string(&range)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok());
        let end = match end {
            Some(e) => e,
            None => {
                // The range file is fsynced before the commit, so this is damage from outside:
                // replace only the segment at `base` itself.
                tracing::warn!(dir = %dir.display(), base, "swap without its range file; replacing only the segment at its base");
                base + 1
            }
        };
        for &b in segment_bases.iter().filter(|&&b| b >= base && b < end) {
            for ext in SEGMENT_EXTS {
                remove_if_exists(&file_name(dir, b, ext))?;
            }
        }
        for ext in ["index", "timeindex"] {
            remove_if_exists(&file_name(dir, base, ext))?;
        }
        rename(
            &suffixed(dir, base, "log", SWAP),
            &file_name(dir, base, "log"),
        )?;
        sync_dir(dir)?;
        let mut seg = Segment::open(dir, base, disk.clone())?;
        let cut = seg.recover(index_interval)?;
        seg.flush()?;
        tracing::warn!(dir = %dir.display(), base, end, cut, "completed a segment swap interrupted by a crash");
    }
    let mut removed = false;
    for name in names()? {
        let stale = [CLEANED, SWAP, DELETED]
            .iter()
            .any(|s| name.ends_with(&format!(".{s}")));
        if stale
            && name
                .split_once('.')
                .is_some_and(|(s, _)| s.parse::<i64>().is_ok())
        {
            remove_if_exists(&dir.join(&name))?;
            removed = true;
        }
    }
    if removed {
        tracing::info!(dir = %dir.display(), "deleted files of an unfinished clean");
        sync_dir(dir)?;
    }
    Ok(())
}
