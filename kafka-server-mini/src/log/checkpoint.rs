//! Checkpoint files: `recovery-point-offset-checkpoint` and `log-start-offset-checkpoint`.
//!
//! Owns: Kafka's checkpoint text format (`0` version line, entry count, then one
//! `topic partition offset` line per partition), written atomically by temp file + fsync +
//! rename. Must not: know what the offsets mean.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use super::disk::Disk;
use crate::error::{BrokerError, Result};

/// The recovery point checkpoint's file name.
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// The log start offset checkpoint's file name.
pub const LOG_START_FILE: &str = "log-start-offset-checkpoint";

/// `(topic, partition) -> offset`.
pub type Offsets = BTreeMap<(String, i32), i64>;

/// Writes `offsets` to `path` atomically (temp file, fsync, rename, directory fsync), every
/// change through `disk`. On failure the old file stays in place.
pub fn write(disk: &Disk, path: &Path, offsets: &Offsets) -> Result<()> {
    let mut text = format!("0\n{}\n", offsets.len());
    for ((topic, partition), offset) in offsets {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    let tmp = path.with_extension("tmp");
    let io = |e| BrokerError::io(format!("write checkpoint {}", path.display()), e);
    let f = File::create(&tmp).map_err(io)?;
    disk.append(&tmp, &f, text.as_bytes()).map_err(io)?;
    disk.sync(&tmp, &f).map_err(io)?;
    disk.rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Reads a checkpoint file; a missing file is empty, a malformed one an error.
pub fn read(path: &Path) -> Result<Offsets> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Offsets::new()),
        Err(e) => return Err(BrokerError::io(format!("read {}", path.display()), e)),
    };
    let bad = || BrokerError::Corrupt(format!("malformed checkpoint {}", path.display()));
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Err(bad());
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(bad)?;
    let mut out = Offsets::new();
    for line in lines.take(count) {
        let mut parts = line.split(' ');
        let (Some(t), Some(p), Some(o), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let p = p.parse().map_err(|_| bad())?;
        let o = o.parse().map_err(|_| bad())?;
        out.insert((t.to_string(), p), o);
    }
    if out.len() != count {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(RECOVERY_POINT_FILE);
        assert!(read(&p).unwrap().is_empty());
        let mut o = Offsets::new();
        o.insert(("a".into(), 0), 5);
        o.insert(("b-c".into(), 2), 7);
        write(&crate::log::disk::real(), &p, &o).unwrap();
        assert_eq!(read(&p).unwrap(), o);
        std::fs::write(&p, "0\n3\na 0 1\n").unwrap();
        assert!(read(&p).is_err());
    }
}
