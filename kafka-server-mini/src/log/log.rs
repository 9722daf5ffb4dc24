//! One partition's log: an ordered set of segments.
//!
//! Owns: offset assignment (patching the base offset and partition leader epoch of each
//! appended batch; neither is covered by the CRC so it stays valid), rolling segments on
//! `log.segment.bytes` / `log.roll.ms`, retention by time and size (whole segments, moving
//! the log start offset), flushing (advancing the recovery point) and reads by offset and
//! timestamp. Must not: validate client input (the produce path does) or know about
//! replication (the partition owns the high watermark).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use krafty_protocol::records::header::{compute_crc, set_base_offset, set_partition_leader_epoch};
use krafty_protocol::records::{RecordBatchHeader, TimestampType};

use super::cleaner::CleanupConfig;
use super::disk::{self, Disk};
use super::recovery;
use super::segment::Segment;
use crate::config::BrokerConfig;
use crate::error::{BrokerError, Result};

/// The log settings of one partition.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `log.segment.bytes`.
    pub segment_bytes: u64,
    /// `log.roll.ms`.
    pub roll_ms: i64,
    /// `log.retention.ms`.
    pub retention_ms: i64,
    /// `log.retention.bytes`.
    pub retention_bytes: i64,
    /// `log.index.interval.bytes`.
    pub index_interval_bytes: u64,
    /// `log.flush.interval.messages`.
    pub flush_interval_messages: i64,
    /// `log.flush.interval.ms`.
    pub flush_interval_ms: i64,
    /// `log.message.timestamp.type` is LogAppendTime.
    pub log_append_time: bool,
    /// `cleanup.policy` and the compaction settings (see `cleaner`).
    pub cleanup: CleanupConfig,
}

impl LogConfig {
    /// The log settings of a broker configuration.
    pub fn from_broker(c: &BrokerConfig) -> Self {
        LogConfig {
            segment_bytes: c.log_segment_bytes,
            roll_ms: c.log_roll_ms,
            retention_ms: c.log_retention_ms,
            retention_bytes: c.log_retention_bytes,
            index_interval_bytes: c.log_index_interval_bytes,
            flush_interval_messages: c.log_flush_interval_messages,
            flush_interval_ms: c.log_flush_interval_ms,
            log_append_time: c.log_append_time,
            cleanup: c.log_cleanup.clone(),
        }
    }
}

/// A partition log.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    recovery_point: i64,
    config: LogConfig,
    unflushed_messages: i64,
    last_flush: Instant,
    disk: Disk,
    offline: Option<String>,
}

impl Log {
    /// Opens (creating if needed) the log in `dir`. Segments from the one holding
    /// `recovery_point` on are validated and truncated at the first bad byte (all of them
    /// when there is no recovery point, e.g. after a crash before the first checkpoint).
    pub fn open(
        dir: &Path,
        config: LogConfig,
        recovery_point: Option<i64>,
        log_start_offset: Option<i64>,
    ) -> Result<Self> {
        Self::open_with(dir, config, recovery_point, log_start_offset, disk::real())
    }

    /// [`open`](Self::open) with every file change going through `disk` (tests inject
    /// faults there). Opening never fails on what the files hold, only on I/O errors:
    /// - segments from the one holding `recovery_point` on (every segment when `None`) are
    ///   validated batch by batch (length, magic, CRC, offsets), cut at the first invalid
    ///   byte, their indexes rebuilt, and the segments after a cut one deleted (their
    ///   offsets would no longer follow), as Kafka's log recovery does;
    /// - a segment before the recovery point whose files do not match (missing index,
    ///   index past the data, invalid tail) is reported at error level and recovered alone
    ///   (Kafka rebuilds such a segment's indexes); later, flushed segments are kept.
    ///
    /// Recovered segments are fsynced, and the recovery point becomes the log end offset.
    pub fn open_with(
        dir: &Path,
        config: LogConfig,
        recovery_point: Option<i64>,
        log_start_offset: Option<i64>,
        disk: Disk,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BrokerError::io(format!("create {}", dir.display()), e))?;
        super::cleaner::swap::recover_interrupted(dir, config.index_interval_bytes, &disk)?;
        let mut bases = Vec::new();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| BrokerError::io(format!("list {}", dir.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| BrokerError::io("list log dir", e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log") {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                }
            } else if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        bases.sort_unstable();
        let mut segments = BTreeMap::new();
        for base in bases {
            segments.insert(base, Segment::open(dir, base, disk.clone())?);
        }
        let rec = recovery::recover(&mut segments, recovery_point, config.index_interval_bytes)?;
        if rec.bytes_cut > 0 {
            tracing::warn!(dir = %dir.display(), bytes = rec.bytes_cut, segments_deleted = rec.segments_deleted, "log recovered with truncation");
        }
        if segments.is_empty() {
            let base = log_start_offset.unwrap_or(0).max(0);
            segments.insert(base, Segment::open(dir, base, disk.clone())?);
        }
        let first = segments.keys().next().copied().unwrap_or(0);
        let mut log = Log {
            dir: dir.to_path_buf(),
            segments,
            log_start_offset: first,
            recovery_point: 0,
            config,
            unflushed_messages: 0,
            last_flush: Instant::now(),
            disk,
            offline: None,
        };
        let leo = log.log_end_offset();
        log.log_start_offset = log_start_offset.unwrap_or(first).clamp(first, leo);
        log.recovery_point = leo;
        Ok(log)
    }

    fn active(&self) -> Result<&Segment> {
        self.segments
            .values()
            .next_back()
            .ok_or_else(|| BrokerError::Corrupt("log without segments".into()))
    }

    /// The offset the next appended record gets (the log end offset).
    pub fn log_end_offset(&self) -> i64 {
        self.segments
            .values()
            .next_back()
            .map_or(0, Segment::next_offset)
    }

    /// Whether batches are stamped with LogAppendTime.
    pub fn log_append_time(&self) -> bool {
        self.config.log_append_time
    }

    /// Replaces the log settings (per-topic overrides changed); applied from the next
    /// append or retention check.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// The first offset kept.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset up to which the log is known to be on disk.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// The file I/O every change of this log goes through.
    pub fn disk(&self) -> &Disk {
        &self.disk
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Total bytes of all segments.
    pub fn size(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Appends one validated v2 batch: assigns offsets from the log end offset by patching
    /// the base offset and leader epoch (not covered by the CRC, which stays valid), and
    /// with LogAppendTime stamps `now_ms` as the max timestamp and sets the timestamp type
    /// bit (both covered: the CRC is recomputed). Rolls first when needed. Returns the
    /// batch's new header.
    ///
    /// A failed write leaves the log as it was (the segment is cut back) and returns the
    /// error; when the log's files are left in an unknown state (a failed rollback or
    /// fsync) the log goes offline: every later append and read fails with
    /// [`BrokerError::Storage`] until the broker restarts and recovers it.
    pub fn append(&mut self, batch: &mut [u8], now_ms: i64) -> Result<RecordBatchHeader> {
        self.check_online()?;
        let result = self.append_online(batch, now_ms);
        if let Err(e) = &result {
            self.offline_on(e);
        }
        result
    }

    /// Fails with [`BrokerError::Storage`] when the log is offline.
    pub fn check_online(&self) -> Result<()> {
        match &self.offline {
            Some(why) => Err(BrokerError::Storage(why.clone())),
            None => Ok(()),
        }
    }

    /// Whether the log went offline after a storage failure (and why).
    pub fn offline_reason(&self) -> Option<&str> {
        self.offline.as_deref()
    }

    /// Takes the log offline when `e` leaves its files in an unknown state.
    fn offline_on(&mut self, e: &BrokerError) {
        let fatal = match e {
            BrokerError::Storage(_) => true,
            BrokerError::Io { context, .. } => context.starts_with("fsync"),
            _ => false,
        };
        if fatal && self.offline.is_none() {
            tracing::error!(dir = %self.dir.display(), error = %e, "taking the log offline");
            self.offline = Some(e.to_string());
        }
    }

    /// Appends validated v2 batches as one unit: each gets its offsets (and with
    /// LogAppendTime its timestamp) as in [`append`](Self::append), then all are written in
    /// one write to one segment, so either every batch is stored or none is. Returns their
    /// new headers.
    pub fn append_batches(
        &mut self,
        batches: &mut [Vec<u8>],
        now_ms: i64,
    ) -> Result<Vec<RecordBatchHeader>> {
        self.check_online()?;
        let result = self.append_batches_online(batches, now_ms);
        if let Err(e) = &result {
            self.offline_on(e);
        }
        result
    }

    fn append_online(&mut self, batch: &mut [u8], now_ms: i64) -> Result<RecordBatchHeader> {
        let mut one = [batch.to_vec()];
        let mut headers = self.append_batches_online(&mut one, now_ms)?;
        batch.copy_from_slice(&one[0]);
        headers
            .pop()
            .ok_or_else(|| BrokerError::Corrupt("no batch appended".into()))
    }

    fn append_batches_online(
        &mut self,
        batches: &mut [Vec<u8>],
        now_ms: i64,
    ) -> Result<Vec<RecordBatchHeader>> {
        let mut next = self.log_end_offset();
        let mut headers = Vec::with_capacity(batches.len());
        for batch in batches.iter_mut() {
            let header = self.stamp(batch, next, now_ms)?;
            next = header.next_offset();
            headers.push(header);
        }
        let Some(last) = headers.last() else {
            return Ok(headers);
        };
        let total: usize = batches.iter().map(Vec::len).sum();
        self.maybe_roll(total, last.last_offset())?;
        let buf = if batches.len() == 1 {
            std::mem::take(&mut batches[0])
        } else {
            batches.concat()
        };
        let interval = self.config.index_interval_bytes;
        let active = self
            .segments
            .values_mut()
            .next_back()
            .ok_or_else(|| BrokerError::Corrupt("log without segments".into()))?;
        let written = active.append_batches(&buf, &headers, interval);
        if batches.len() == 1 {
            batches[0] = buf;
        }
        written?;
        for h in &headers {
            self.unflushed_messages += i64::from(h.last_offset_delta) + 1;
        }
        let by_count = self.unflushed_messages >= self.config.flush_interval_messages;
        let by_time = self.config.flush_interval_ms >= 0
            && self.last_flush.elapsed()
                >= Duration::from_millis(self.config.flush_interval_ms as u64);
        if by_count || by_time {
            self.flush_online()?;
        }
        Ok(headers)
    }

    /// Assigns `base` as the batch's base offset, leader epoch 0 and, with LogAppendTime,
    /// the append time (recomputing the CRC). Returns the new header.
    fn stamp(&self, batch: &mut [u8], base: i64, now_ms: i64) -> Result<RecordBatchHeader> {
        set_base_offset(batch, base)?;
        set_partition_leader_epoch(batch, 0)?;
        if self.config.log_append_time {
            let mut h = RecordBatchHeader::parse(batch)?;
            h.attributes = h
                .attributes
                .with_timestamp_type(TimestampType::LogAppendTime);
            h.max_timestamp = now_ms;
            h.write(batch)?;
            h.crc = compute_crc(batch);
            h.write(batch)?;
        }
        Ok(RecordBatchHeader::parse(batch)?)
    }

    fn maybe_roll(&mut self, len: usize, last_offset: i64) -> Result<()> {
        let active = self.active()?;
        let too_old = active.size() > 0
            && active.created().elapsed()
                >= Duration::from_millis(self.config.roll_ms.max(0) as u64);
        if active.fits(len, last_offset, self.config.segment_bytes) && !too_old {
            return Ok(());
        }
        let base = self.log_end_offset();
        if self.segments.contains_key(&base) {
            return Ok(());
        }
        self.active()?.flush()?;
        self.recovery_point = base;
        tracing::debug!(dir = %self.dir.display(), base, "rolling segment");
        let seg = Segment::open(&self.dir, base, self.disk.clone())?;
        self.segments.insert(base, seg);
        Ok(())
    }

    /// Stored bytes from the batch holding `offset` on, up to `max_bytes` (the whole first
    /// batch when `min_one_batch`). Empty at the log end; `None` when `offset` is outside
    /// `[log start, log end]`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<Option<Bytes>> {
        self.check_online()?;
        let leo = self.log_end_offset();
        if offset < self.log_start_offset || offset > leo {
            return Ok(None);
        }
        if offset == leo {
            return Ok(Some(Bytes::new()));
        }
        for (_, seg) in self
            .segments
            .range(..=offset)
            .next_back()
            .into_iter()
            .chain(self.segments.range(offset + 1..))
        {
            if let Some(b) = seg.read(offset, max_bytes, min_one_batch)? {
                return Ok(Some(b));
            }
        }
        Ok(Some(Bytes::new()))
    }

    /// The first record with a timestamp `>= timestamp`: (offset, timestamp).
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        for seg in self.segments.values() {
            if seg.max_timestamp() >= timestamp {
                if let Some(found) = seg.find_by_timestamp(timestamp)? {
                    if found.0 >= self.log_start_offset {
                        return Ok(Some(found));
                    }
                }
            }
        }
        Ok(None)
    }

    /// The largest timestamp in the log and the offset of its batch: (timestamp, offset).
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.segments
            .values()
            .filter(|s| s.max_timestamp() >= 0)
            .fold(None, |best: Option<(i64, i64)>, s| match best {
                Some((t, _)) if t >= s.max_timestamp() => best,
                _ => Some((s.max_timestamp(), s.offset_of_max_timestamp())),
            })
    }

    /// Headers of every stored batch in order.
    pub fn batch_headers(&self) -> Result<Vec<RecordBatchHeader>> {
        let mut out = Vec::new();
        for s in self.segments.values() {
            out.extend(s.headers()?);
        }
        Ok(out)
    }

    /// Deletes whole non-active segments past `log.retention.ms` (by their largest
    /// timestamp) or beyond `log.retention.bytes`, moving the log start offset; nothing when
    /// `cleanup.policy` lacks `delete` (plain `compact`). Returns the number of segments
    /// deleted.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize> {
        let mut deleted = 0;
        if !self.config.cleanup.delete {
            return Ok(0);
        }
        loop {
            if self.segments.len() <= 1 {
                break;
            }
            let Some((&base, first)) = self.segments.iter().next() else {
                break;
            };
            let expired = self.config.retention_ms >= 0
                && first.max_timestamp() >= 0
                && now_ms - first.max_timestamp() > self.config.retention_ms;
            let oversize = self.config.retention_bytes >= 0
                && self.size().saturating_sub(first.size()) >= self.config.retention_bytes as u64;
            if !(expired || oversize) {
                break;
            }
            if let Some(seg) = self.segments.remove(&base) {
                tracing::info!(dir = %self.dir.display(), base, expired, oversize, "retention deleted segment");
                seg.delete()?;
                deleted += 1;
            }
            if let Some(&next) = self.segments.keys().next() {
                self.log_start_offset = self.log_start_offset.max(next);
            }
        }
        Ok(deleted)
    }

    /// Moves the log start offset up to `offset` (DeleteRecords), deleting every
    /// non-active segment wholly below it. `offset` must be within `[0, log end]`; a value
    /// below the current start leaves it unchanged. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64> {
        let leo = self.log_end_offset();
        if offset < 0 || offset > leo {
            return Err(BrokerError::Corrupt(format!(
                "delete records offset {offset} outside [0, {leo}]"
            )));
        }
        self.log_start_offset = self.log_start_offset.max(offset);
        loop {
            let mut keys = self.segments.keys();
            let (Some(&base), Some(&next)) = (keys.next(), keys.next()) else {
                break;
            };
            if next > self.log_start_offset {
                break;
            }
            if let Some(seg) = self.segments.remove(&base) {
                tracing::info!(dir = %self.dir.display(), base, "delete records deleted segment");
                seg.delete()?;
            }
        }
        Ok(self.log_start_offset)
    }

    /// Flushes when `log.flush.interval.ms` passed since the last flush and there is
    /// unflushed data (called by the broker's flush timer).
    pub fn flush_if_due(&mut self) -> Result<()> {
        let due = self.config.flush_interval_ms >= 0
            && self.recovery_point < self.log_end_offset()
            && self.last_flush.elapsed()
                >= Duration::from_millis(self.config.flush_interval_ms as u64);
        if due {
            self.flush()?;
        }
        Ok(())
    }

    /// Forces every segment to disk and moves the recovery point to the log end. A failed
    /// fsync takes the log offline (after one, the kernel may have dropped the dirty pages
    /// and a retry would wrongly succeed).
    pub fn flush(&mut self) -> Result<()> {
        self.check_online()?;
        let result = self.flush_online();
        if let Err(e) = &result {
            self.offline_on(e);
        }
        result
    }

    fn flush_online(&mut self) -> Result<()> {
        let leo = self.log_end_offset();
        for s in self.segments.range(self.recovery_point.min(leo)..) {
            s.1.flush()?;
        }
        if let Some((_, s)) = self.segments.range(..=self.recovery_point).next_back() {
            s.flush()?;
        }
        self.recovery_point = leo;
        self.unflushed_messages = 0;
        self.last_flush = Instant::now();
        Ok(())
    }

    // ---- hooks for the log cleaner (`cleaner/`) ----

    /// The segments in offset order; the last one is the active segment.
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &Segment> {
        self.segments.values()
    }

    /// The log settings.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the segments based at `old` by `new`, whose files the cleaner already swapped
    /// in on disk (`cleaner::swap::commit`).
    pub(crate) fn replace_segments(&mut self, old: &[i64], new: Segment) {
        for base in old {
            self.segments.remove(base);
        }
        self.segments.insert(new.base_offset(), new);
    }

    // ---- end of the log cleaner hooks ----

    /// Deletes the log's directory and everything in it.
    pub fn delete(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir)
            .map_err(|e| BrokerError::io(format!("delete {}", self.dir.display()), e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use krafty_protocol::records::{Compression, RecordBatchBuilder};
    use std::io::Write;

    fn cfg(segment_bytes: u64) -> LogConfig {
        LogConfig {
            segment_bytes,
            roll_ms: i64::MAX,
            retention_ms: -1,
            retention_bytes: -1,
            index_interval_bytes: 100,
            flush_interval_messages: i64::MAX,
            flush_interval_ms: -1,
            log_append_time: false,
            cleanup: CleanupConfig::default(),
        }
    }

    fn batch(n: usize, ts: i64) -> Vec<u8> {
        let mut b = RecordBatchBuilder::new(Compression::None);
        for i in 0..n {
            b.append(ts + i as i64, Some(&b"key"[..]), Some(&[7u8; 50][..]))
                .unwrap();
        }
        b.finish().unwrap().to_vec()
    }

    #[test]
    fn append_assigns_offsets_rolls_and_reads_through_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), cfg(1000), None, None).unwrap();
        for i in 0..20 {
            let h = log.append(&mut batch(3, 1000 + i * 10), 0).unwrap();
            assert_eq!(h.base_offset, i * 3);
        }
        assert_eq!(log.log_end_offset(), 60);
        assert!(log.segment_count() > 1, "rolled");
        for off in [0, 1, 29, 30, 59] {
            let bytes = log.read(off, 1, true).unwrap().unwrap();
            let h = RecordBatchHeader::parse(&bytes).unwrap();
            assert!(h.base_offset <= off && off <= h.last_offset());
            h.verify_crc(&bytes[..h.total_size()]).unwrap();
        }
        assert_eq!(log.read(60, 100, true).unwrap().unwrap().len(), 0);
        assert!(log.read(61, 100, true).unwrap().is_none());
        assert_eq!(
            log.offset_for_timestamp(1000 + 5 * 10 + 1).unwrap(),
            Some((16, 1051))
        );
        assert_eq!(log.max_timestamp().map(|m| m.0), Some(1000 + 190 + 2));
        drop(log);
        // clean reopen with a recovery point at the end keeps everything
        let log = Log::open(dir.path(), cfg(1000), Some(60), Some(0)).unwrap();
        assert_eq!(log.log_end_offset(), 60);
    }

    #[test]
    fn recovery_truncates_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), cfg(1 << 20), None, None).unwrap();
        for _ in 0..5 {
            log.append(&mut batch(2, 1), 0).unwrap();
        }
        let path = super::super::segment::file_name(dir.path(), 0, "log");
        let good = std::fs::metadata(&path).unwrap().len();
        drop(log);
        // a torn write: half a batch at the end
        let half = batch(2, 1);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&half[..40])
            .unwrap();
        let log = Log::open(dir.path(), cfg(1 << 20), None, None).unwrap();
        assert_eq!(log.log_end_offset(), 10);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        drop(log);
        // a corrupted byte in the last batch: CRC fails, that batch is cut
        let mut raw = std::fs::read(&path).unwrap();
        let last = raw.len() - 3;
        raw[last] ^= 0xff;
        std::fs::write(&path, &raw).unwrap();
        let log = Log::open(dir.path(), cfg(1 << 20), Some(0), None).unwrap();
        assert_eq!(log.log_end_offset(), 8);
    }

    #[test]
    fn log_append_time_restamps_and_keeps_a_valid_crc() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg(1 << 20);
        c.log_append_time = true;
        let mut log = Log::open(dir.path(), c, None, None).unwrap();
        let h = log.append(&mut batch(3, 5), 123_456).unwrap();
        assert_eq!(h.max_timestamp, 123_456);
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        let bytes = log.read(0, 1 << 20, true).unwrap().unwrap();
        h.verify_crc(&bytes).unwrap();
        assert_eq!(log.max_timestamp(), Some((123_456, 2)));
    }

    #[test]
    fn retention_by_size_moves_log_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg(500);
        c.retention_bytes = 600;
        let mut log = Log::open(dir.path(), c, None, None).unwrap();
        for _ in 0..20 {
            log.append(&mut batch(2, 1), 0).unwrap();
        }
        let before = log.segment_count();
        assert!(log.enforce_retention(0).unwrap() > 0);
        assert!(log.segment_count() < before);
        assert!(log.log_start_offset() > 0);
        assert!(log.read(0, 100, true).unwrap().is_none());
    }

    #[test]
    fn delete_records_moves_start_and_drops_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), cfg(500), None, None).unwrap();
        for _ in 0..20 {
            log.append(&mut batch(2, 1), 0).unwrap();
        }
        let before = log.segment_count();
        assert!(log.delete_records_before(41).is_err());
        assert_eq!(log.delete_records_before(25).unwrap(), 25);
        assert!(log.segment_count() < before);
        assert!(log.segments.keys().next().copied().unwrap() <= 25);
        assert!(log.read(24, 100, true).unwrap().is_none());
        assert!(log.read(25, 100, true).unwrap().is_some());
        assert_eq!(log.delete_records_before(3).unwrap(), 25);
        assert_eq!(log.delete_records_before(40).unwrap(), 40);
        assert_eq!(log.segment_count(), 1);
        drop(log);
        let log = Log::open(dir.path(), cfg(500), Some(40), Some(40)).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (40, 40));
    }
}
