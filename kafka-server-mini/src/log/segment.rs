//! One log segment: `<20-digit base offset>.log` with its `.index` and `.timeindex`.
//!
//! Owns: appending validated v2 batches (already carrying their assigned offsets), reading
//! stored bytes by offset through the offset index, timestamp lookups through the time
//! index, and recovery (validating lengths and CRCs from the start, truncating at the first
//! bad byte and rebuilding both indexes). A failed append is rolled back (file cut to its
//! last good size, index entries dropped) so nothing after it is corrupted. Every change
//! to a file goes through the [`DiskIo`](super::disk::DiskIo) seam. Must not: assign
//! offsets or decide when to roll.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use krafty_protocol::records::{DecodeOptions, RawRecordBatch, RecordBatchHeader};

use super::disk::Disk;
use super::index::OffsetIndex;
use super::time_index::TimeIndex;
use crate::error::{BrokerError, Result};

/// The file name of a segment file: the base offset as 20 digits plus `ext`.
pub fn file_name(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{ext}"))
}

/// A log segment.
#[derive(Debug)]
pub struct Segment {
    base_offset: i64,
    dir: PathBuf,
    path: PathBuf,
    disk: Disk,
    file: File,
    size: u64,
    index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_last_index: u64,
    next_offset: i64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    created: Instant,
    needs_recovery: Option<String>,
}

/// What an append changes in a segment's bookkeeping, to put back when it fails.
#[derive(Debug, Clone, Copy)]
struct Marks {
    size: u64,
    next_offset: i64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    bytes_since_last_index: u64,
}

impl Segment {
    /// Opens the segment at `base_offset` in `dir`, creating empty files if missing. The
    /// tail after the last index entry is scanned (headers only) to find the next offset;
    /// when that scan does not end exactly at the end of the file (a partial or invalid
    /// batch, an index pointing past the data) or an index file is missing, the segment is
    /// marked as needing recovery ([`needs_recovery`](Self::needs_recovery)). Opening never
    /// fails on the content of the files: call [`recover`](Self::recover) to validate the
    /// whole segment.
    pub fn open(dir: &Path, base_offset: i64, disk: Disk) -> Result<Self> {
        let path = file_name(dir, base_offset, "log");
        let index_path = file_name(dir, base_offset, "index");
        let time_path = file_name(dir, base_offset, "timeindex");
        let indexes_existed = index_path.exists() && time_path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| BrokerError::io(format!("open {}", path.display()), e))?;
        let size = file
            .metadata()
            .map_err(|e| BrokerError::io(format!("stat {}", path.display()), e))?
            .len();
        let index = OffsetIndex::open(&index_path, disk.clone())?;
        let time_index = TimeIndex::open(&time_path, disk.clone())?;
        let mut seg = Segment {
            base_offset,
            dir: dir.to_path_buf(),
            path,
            disk,
            file,
            size,
            index,
            time_index,
            bytes_since_last_index: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            created: Instant::now(),
            needs_recovery: None,
        };
        if size > 0 && !indexes_existed {
            seg.needs_recovery = Some("an index file is missing".into());
        }
        if let Some((ts, rel)) = seg.time_index.last() {
            seg.max_timestamp = ts;
            seg.offset_of_max_timestamp = base_offset + i64::from(rel);
        }
        let (start_rel, start_pos) = seg.index.last().unwrap_or((0, 0));
        seg.next_offset = base_offset + i64::from(start_rel);
        let mut pos = u64::from(start_pos);
        while let Some(h) = seg.scan_header(pos) {
            let end = pos + h.total_size() as u64;
            if end > seg.size || !seg.offsets_follow(&h) {
                break;
            }
            seg.note_batch(&h);
            seg.bytes_since_last_index += h.total_size() as u64;
            pos = end;
        }
        if pos != seg.size && seg.needs_recovery.is_none() {
            seg.needs_recovery = Some(format!(
                "no valid batch at position {pos} of {} bytes",
                seg.size
            ));
        }
        if seg.offset_of_max_timestamp >= seg.next_offset && seg.needs_recovery.is_none() {
            seg.needs_recovery = Some("the time index points past the last batch".into());
        }
        Ok(seg)
    }

    /// Why the scan at open found this segment inconsistent (`None` when it looked whole).
    /// Only a full [`recover`](Self::recover) clears it.
    pub fn needs_recovery(&self) -> Option<&str> {
        self.needs_recovery.as_deref()
    }

    /// The header at `pos` when one parses there (lenient: garbage is `None`).
    fn scan_header(&self, pos: u64) -> Option<RecordBatchHeader> {
        if pos + RecordBatchHeader::SIZE as u64 > self.size {
            return None;
        }
        let raw = self.read_at(pos, RecordBatchHeader::SIZE).ok()?;
        RecordBatchHeader::parse(&raw).ok()
    }

    /// Whether `h`'s offsets can follow what the segment holds: at or after the next
    /// offset, a non-negative last offset delta, within the segment's u32 relative range.
    fn offsets_follow(&self, h: &RecordBatchHeader) -> bool {
        h.base_offset >= self.next_offset
            && h.last_offset_delta >= 0
            && h.records_count >= 0
            && h.base_offset
                .checked_add(i64::from(h.last_offset_delta))
                .is_some_and(|last| last - self.base_offset < i64::from(u32::MAX))
    }

    fn note_batch(&mut self, h: &RecordBatchHeader) {
        self.next_offset = self.next_offset.max(h.next_offset());
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
    }

    /// Validates every batch from the start (header, length, CRC, increasing offsets),
    /// truncates the file at the first bad byte and rebuilds both indexes. Returns the
    /// number of bytes cut off.
    pub fn recover(&mut self, index_interval: u64) -> Result<u64> {
        self.index.clear()?;
        self.time_index.clear()?;
        self.bytes_since_last_index = 0;
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        let mut pos = 0u64;
        while let Some(h) = self.scan_header(pos) {
            let total = h.total_size() as u64;
            if pos + total > self.size || !self.offsets_follow(&h) {
                break;
            }
            let bytes = self.read_at(pos, total as usize)?;
            if h.verify_crc(&bytes).is_err() {
                break;
            }
            self.index_batch(&h, pos, index_interval)?;
            pos += total;
        }
        let cut = self.size - pos;
        if cut > 0 {
            tracing::warn!(
                segment = %file_name(&self.dir, self.base_offset, "log").display(),
                position = pos,
                bytes = cut,
                "recovery truncated the segment at the first invalid batch"
            );
            self.disk
                .set_len(&self.path, &self.file, pos)
                .map_err(|e| BrokerError::io("truncate segment", e))?;
            self.size = pos;
        }
        self.needs_recovery = None;
        Ok(cut)
    }

    fn index_batch(&mut self, h: &RecordBatchHeader, pos: u64, index_interval: u64) -> Result<()> {
        // As Kafka's `LogSegment.append`: an entry once more than `index.interval.bytes` were
        // appended since the last one, keyed by the batch's *last* offset (kafka-dump-log's
        // index verification compares it with the batch's lastOffset).
        if self.bytes_since_last_index > index_interval && pos > 0 {
            let rel = self.relative(h.last_offset());
            self.index.append(rel, pos as u32)?;
            self.bytes_since_last_index = 0;
        }
        self.note_batch(h);
        if self.max_timestamp >= 0 {
            let rel = self.relative(self.offset_of_max_timestamp);
            self.time_index.maybe_append(self.max_timestamp, rel)?;
        }
        self.bytes_since_last_index += h.total_size() as u64;
        Ok(())
    }

    fn relative(&self, offset: i64) -> u32 {
        u32::try_from(offset - self.base_offset).unwrap_or(u32::MAX)
    }

    /// Appends one batch whose header is `h` (offsets already assigned); see
    /// [`append_batches`](Self::append_batches).
    pub fn append(
        &mut self,
        batch: &[u8],
        h: &RecordBatchHeader,
        index_interval: u64,
    ) -> Result<()> {
        self.append_batches(batch, std::slice::from_ref(h), index_interval)
    }

    /// Appends `buf`, the concatenation of the batches whose headers are `headers` (offsets
    /// already assigned), in one write. When writing the bytes or their index entries fails,
    /// the file and both indexes are cut back to where they were and the I/O error is
    /// returned (nothing of `buf` stays); when even that fails the segment's files are in an
    /// unknown state and [`BrokerError::Storage`] is returned (the log must go offline).
    pub fn append_batches(
        &mut self,
        buf: &[u8],
        headers: &[RecordBatchHeader],
        index_interval: u64,
    ) -> Result<()> {
        let Some(first) = headers.first() else {
            return Ok(());
        };
        let marks = Marks {
            size: self.size,
            next_offset: self.next_offset,
            max_timestamp: self.max_timestamp,
            offset_of_max_timestamp: self.offset_of_max_timestamp,
            bytes_since_last_index: self.bytes_since_last_index,
        };
        let written = match self.disk.append(&self.path, &self.file, buf) {
            Ok(()) => {
                self.size += buf.len() as u64;
                let mut pos = marks.size;
                headers.iter().try_for_each(|h| {
                    self.index_batch(h, pos, index_interval)?;
                    pos += h.total_size() as u64;
                    Ok(())
                })
            }
            Err(e) => Err(BrokerError::io(
                format!("append to {}", self.path.display()),
                e,
            )),
        };
        if let Err(e) = written {
            tracing::warn!(segment = %self.path.display(), error = %e, position = marks.size, "append failed; cutting the segment back");
            self.roll_back(marks, first)?;
            return Err(e);
        }
        Ok(())
    }

    fn roll_back(&mut self, marks: Marks, h: &RecordBatchHeader) -> Result<()> {
        let pos = u32::try_from(marks.size).unwrap_or(u32::MAX);
        let rel = self.relative(h.base_offset);
        let cut = self
            .disk
            .set_len(&self.path, &self.file, marks.size)
            .map_err(|e| {
                BrokerError::Storage(format!(
                    "cannot cut {} back to {} bytes after a failed append: {e}",
                    self.path.display(),
                    marks.size
                ))
            })
            .and_then(|()| self.index.truncate_to_position(pos))
            .and_then(|()| self.time_index.truncate_to_offset(rel));
        if let Err(e) = cut {
            return Err(match e {
                BrokerError::Storage(_) => e,
                other => BrokerError::Storage(format!(
                    "cannot cut the indexes of {} back: {other}",
                    self.path.display()
                )),
            });
        }
        self.size = marks.size;
        self.next_offset = marks.next_offset;
        self.max_timestamp = marks.max_timestamp;
        self.offset_of_max_timestamp = marks.offset_of_max_timestamp;
        self.bytes_since_last_index = marks.bytes_since_last_index;
        Ok(())
    }

    /// Whether a batch of `len` bytes with offsets up to `last_offset` still fits (size and
    /// relative offsets within u32).
    pub fn fits(&self, len: usize, last_offset: i64, segment_bytes: u64) -> bool {
        let rel_ok = last_offset - self.base_offset < i64::from(u32::MAX);
        let size_ok = self.size == 0 || self.size + len as u64 <= segment_bytes;
        rel_ok && size_ok && self.size + (len as u64) < u64::from(u32::MAX)
    }

    /// Reads `len` bytes at `pos`.
    pub fn read_at(&self, pos: u64, len: usize) -> Result<Vec<u8>> {
        let avail = self.size.saturating_sub(pos);
        let len = len.min(usize::try_from(avail).unwrap_or(usize::MAX));
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, pos)
            .map_err(|e| BrokerError::io("read segment", e))?;
        Ok(buf)
    }

    fn header_at(&self, pos: u64) -> Result<Option<RecordBatchHeader>> {
        if pos + RecordBatchHeader::SIZE as u64 > self.size {
            return Ok(None);
        }
        let raw = self.read_at(pos, RecordBatchHeader::SIZE)?;
        RecordBatchHeader::parse(&raw)
            .map(Some)
            .map_err(|e| BrokerError::Corrupt(format!("batch header at {pos}: {e:?}")))
    }

    /// Position and header of the first batch whose last offset is `>= offset`.
    pub fn locate(&self, offset: i64) -> Result<Option<(u64, RecordBatchHeader)>> {
        let rel = u32::try_from((offset - self.base_offset).max(0)).unwrap_or(u32::MAX);
        let mut pos = self.index.lookup(rel).map_or(0, |(_, p)| u64::from(p));
        while let Some(h) = self.header_at(pos)? {
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.total_size() as u64;
        }
        Ok(None)
    }

    /// Stored bytes starting at the batch holding `offset`: up to `max_bytes`, but always the
    /// whole first batch when `min_one_batch` (KIP-74). `None` when no batch holds it.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<Option<Bytes>> {
        let Some((pos, h)) = self.locate(offset)? else {
            return Ok(None);
        };
        let mut len = max_bytes;
        if min_one_batch {
            len = len.max(h.total_size());
        }
        Ok(Some(Bytes::from(self.read_at(pos, len)?)))
    }

    /// The first record with a timestamp `>= timestamp`: its offset and timestamp.
    pub fn find_by_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        if self.max_timestamp < timestamp {
            return Ok(None);
        }
        let start = self.base_offset + i64::from(self.time_index.lookup(timestamp));
        let Some((mut pos, _)) = self.locate(start)? else {
            return Ok(None);
        };
        let opts = DecodeOptions::default();
        while let Some(h) = self.header_at(pos)? {
            if h.max_timestamp >= timestamp {
                let raw = RawRecordBatch::new(Bytes::from(self.read_at(pos, h.total_size())?))?;
                let batch = raw.decode(&opts)?;
                for r in &batch.records {
                    let ts = batch.timestamp_of(r);
                    if ts >= timestamp {
                        return Ok(Some((batch.offset_of(r), ts)));
                    }
                }
            }
            pos += h.total_size() as u64;
        }
        Ok(None)
    }

    /// Headers of every batch, in order (for rebuilding producer state).
    pub fn headers(&self) -> Result<Vec<RecordBatchHeader>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some(h) = self.header_at(pos)? {
            pos += h.total_size() as u64;
            out.push(h);
        }
        Ok(out)
    }

    /// Forces the segment and its indexes to disk.
    pub fn flush(&self) -> Result<()> {
        self.disk
            .sync(&self.path, &self.file)
            .map_err(|e| BrokerError::io(format!("fsync {}", self.path.display()), e))?;
        self.index.flush()?;
        self.time_index.flush()
    }

    /// Deletes the segment's files.
    pub fn delete(self) -> Result<()> {
        for ext in ["log", "index", "timeindex", super::txn_index::EXT] {
            let p = file_name(&self.dir, self.base_offset, ext);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BrokerError::io(format!("delete {}", p.display()), e)),
            }
        }
        Ok(())
    }

    /// The `.log` file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The base offset.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes in the `.log` file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The offset after the last batch (the base offset when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// The largest timestamp in the segment (-1 when none).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// The offset of the batch holding the largest timestamp (-1 when none).
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }

    /// When this segment was opened or created (for `log.roll.ms`).
    pub fn created(&self) -> Instant {
        self.created
    }
}
