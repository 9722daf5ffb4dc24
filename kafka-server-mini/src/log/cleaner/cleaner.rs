//! Cleaning one log: deciding whether it is due, building the offset map over its dirty
//! segments and rewriting the segments below the first uncleanable offset.
//!
//! Owns: the choice of the cleanable range (first dirty offset from the cleaner checkpoint,
//! first uncleanable offset = the active segment or the first segment younger than
//! `min.compaction.lag.ms`), the dirty ratio and `max.compaction.lag.ms`, which records and
//! batches survive (see the module docs of `cleaner`), writing `.cleaned` segments with their
//! indexes, and swapping them in under the partition lock. Reading and writing happen
//! without the lock (only non-active segments are read; they never change); the lock is held
//! to take a snapshot and for the swap, which re-checks that the old segments are unchanged.
//! Must not: schedule itself (see `scheduler`).

use crate::log::disk::Disk;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use krafty_protocol::records::{
    Compression, DecodeOptions, RawRecordBatch, RecordBatch, RecordBatchHeader, TimestampType,
};

use super::offset_map::OffsetMap;
use super::swap::{self, SwapStep, CLEANED};
use super::CleanupConfig;
use crate::error::BrokerError;
use crate::log::index::OffsetIndex;
use crate::log::segment::{file_name, Segment};
use crate::log::time_index::TimeIndex;
use crate::log::Log;
use crate::partition::Partition;

/// The largest stored batch the cleaner reads (larger is treated as corruption).
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// Why a clean did not complete.
#[derive(Debug)]
pub enum CleanerError {
    /// An I/O or storage error.
    Broker(BrokerError),
    /// The log changed under the cleaner (retention, deletion); the clean is dropped.
    Aborted(String),
    /// A test stopped the swap after this step, as a crash would.
    InjectedCrash(SwapStep),
}

impl fmt::Display for CleanerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CleanerError::Broker(e) => write!(f, "{e}"),
            CleanerError::Aborted(why) => write!(f, "clean aborted: {why}"),
            CleanerError::InjectedCrash(step) => write!(f, "injected crash after {step:?}"),
        }
    }
}

impl std::error::Error for CleanerError {}

impl From<BrokerError> for CleanerError {
    fn from(e: BrokerError) -> Self {
        CleanerError::Broker(e)
    }
}

impl From<krafty_protocol::Error> for CleanerError {
    fn from(e: krafty_protocol::Error) -> Self {
        CleanerError::Broker(BrokerError::Protocol(e))
    }
}

type CResult<T> = std::result::Result<T, CleanerError>;

/// The cleaner's memory of one log between cleans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCleanState {
    /// The first offset not yet cleaned (the cleaner checkpoint).
    pub first_dirty: i64,
    /// The earliest delete horizon stamped on a kept tombstone or control batch: a clean is
    /// due when it passes, to drop them.
    pub next_horizon: Option<i64>,
}

/// A segment as the cleaner sees it at snapshot time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Base offset.
    pub base: i64,
    /// Offset after its last batch.
    pub next_offset: i64,
    /// Bytes of its `.log`.
    pub size: u64,
    /// Largest timestamp (-1 when none).
    pub max_timestamp: i64,
}

/// What the cleaner needs of a log, copied under the partition lock.
#[derive(Debug, Clone)]
pub struct LogSnapshot {
    /// The partition directory.
    pub dir: PathBuf,
    /// Every segment in order; the last one is the active segment.
    pub segments: Vec<SegmentInfo>,
    /// The log start offset.
    pub log_start_offset: i64,
    /// The compaction settings.
    pub cleanup: CleanupConfig,
    /// `segment.bytes`: cleaned groups stay below it.
    pub segment_bytes: u64,
    /// `index.interval.bytes`.
    pub index_interval: u64,
    /// The file I/O under the log (the fault-injection seam).
    pub disk: Disk,
}

impl LogSnapshot {
    /// Takes a snapshot of `log` (call with the partition locked).
    pub fn of(log: &Log) -> Self {
        let c = log.config();
        LogSnapshot {
            dir: log.dir().to_path_buf(),
            segments: log
                .segments()
                .map(|s| SegmentInfo {
                    base: s.base_offset(),
                    next_offset: s.next_offset(),
                    size: s.size(),
                    max_timestamp: s.max_timestamp(),
                })
                .collect(),
            log_start_offset: log.log_start_offset(),
            cleanup: c.cleanup.clone(),
            segment_bytes: c.segment_bytes,
            index_interval: c.index_interval_bytes,
            disk: log.disk().clone(),
        }
    }
}

/// Why a clean is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// The dirty ratio reached `min.cleanable.dirty.ratio` (the ratio).
    DirtyRatio(f64),
    /// A dirty record is older than `max.compaction.lag.ms`.
    MaxCompactionLag,
    /// A delete horizon passed: tombstones or control batches can go.
    DeleteHorizon,
}

/// The range a clean covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The first dirty offset.
    pub first_dirty: i64,
    /// The first offset not cleaned this time (a segment base).
    pub first_uncleanable: i64,
    /// Why the clean is due.
    pub reason: Reason,
}

/// Decides whether `snap` needs cleaning at `now_ms`. `first_timestamp` gives the first
/// batch's timestamp of a segment (for `max.compaction.lag.ms`).
pub fn plan(
    snap: &LogSnapshot,
    state: &LogCleanState,
    now_ms: i64,
    first_timestamp: impl Fn(&SegmentInfo) -> Option<i64>,
) -> Option<Plan> {
    let c = &snap.cleanup;
    if !c.compact || snap.segments.len() < 2 {
        return None;
    }
    let first_base = snap.segments.first()?.base;
    let active_base = snap.segments.last()?.base;
    let mut first_dirty = state.first_dirty.max(snap.log_start_offset).max(first_base);
    if first_dirty > active_base {
        first_dirty = active_base;
    }
    let mut first_uncleanable = active_base;
    if c.min_compaction_lag_ms > 0 {
        let cutoff = now_ms.saturating_sub(c.min_compaction_lag_ms);
        if let Some(s) = snap
            .segments
            .iter()
            .filter(|s| s.next_offset > first_dirty && s.base < active_base)
            .find(|s| s.max_timestamp > cutoff)
        {
            first_uncleanable = s.base;
        }
    }
    let first_uncleanable = first_uncleanable.max(first_dirty.min(active_base));
    let mut clean_bytes = 0u64;
    let mut dirty_bytes = 0u64;
    let mut first_dirty_seg = None;
    for s in &snap.segments {
        if s.base >= first_uncleanable {
            break;
        }
        if s.next_offset > first_dirty && s.next_offset > s.base {
            dirty_bytes += s.size;
            first_dirty_seg.get_or_insert(*s);
        } else {
            clean_bytes += s.size;
        }
    }
    let reason = if dirty_bytes > 0 {
        let ratio = dirty_bytes as f64 / (clean_bytes + dirty_bytes) as f64;
        let lagging = c.max_compaction_lag_ms < i64::MAX
            && first_dirty_seg
                .and_then(|s| first_timestamp(&s))
                .is_some_and(|ts| ts >= 0 && now_ms.saturating_sub(ts) > c.max_compaction_lag_ms);
        if ratio >= c.min_cleanable_dirty_ratio {
            Some(Reason::DirtyRatio(ratio))
        } else if lagging {
            Some(Reason::MaxCompactionLag)
        } else {
            None
        }
    } else {
        None
    };
    let reason = reason.or_else(|| {
        (state.next_horizon.is_some_and(|h| h <= now_ms) && first_uncleanable > first_base)
            .then_some(Reason::DeleteHorizon)
    })?;
    Some(Plan {
        first_dirty,
        first_uncleanable,
        reason,
    })
}

/// What a clean did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Records read from the rewritten segments.
    pub records_read: u64,
    /// Records kept.
    pub records_kept: u64,
    /// Batches kept empty (the last batch of a producer).
    pub empty_batches_kept: u64,
    /// Bytes of the rewritten segments before.
    pub bytes_before: u64,
    /// Bytes after.
    pub bytes_after: u64,
    /// Old segments replaced.
    pub segments_replaced: u64,
    /// Distinct keys in the offset map.
    pub keys: u64,
}

/// Sequential reader of one non-active segment file, by path.
struct SegmentFile {
    file: File,
    size: u64,
    pos: u64,
    path: PathBuf,
}

impl SegmentFile {
    fn open(dir: &Path, seg: &SegmentInfo) -> CResult<Self> {
        let path = file_name(dir, seg.base, "log");
        let file = File::open(&path).map_err(|e| {
            CleanerError::Aborted(format!("segment {} is gone: {e}", path.display()))
        })?;
        Ok(SegmentFile {
            file,
            size: seg.size,
            pos: 0,
            path,
        })
    }

    fn read(&self, pos: u64, len: usize) -> CResult<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, pos)
            .map_err(|e| BrokerError::io(format!("read {}", self.path.display()), e))?;
        Ok(buf)
    }

    /// The next batch (header and whole bytes), `None` at the end.
    fn next_batch(&mut self) -> CResult<Option<(RecordBatchHeader, Bytes)>> {
        if self.pos + RecordBatchHeader::SIZE as u64 > self.size {
            return Ok(None);
        }
        let h = RecordBatchHeader::parse(&self.read(self.pos, RecordBatchHeader::SIZE)?)?;
        let total = h.total_size();
        if total > MAX_BATCH_BYTES || self.pos + total as u64 > self.size {
            return Err(BrokerError::Corrupt(format!(
                "batch of {total} bytes at {} in {}",
                self.pos,
                self.path.display()
            ))
            .into());
        }
        let bytes = Bytes::from(self.read(self.pos, total)?);
        self.pos += total as u64;
        Ok(Some((h, bytes)))
    }
}

/// The first batch's base timestamp of a segment (its first record's timestamp, or the
/// delete horizon's batch max timestamp), read from disk.
pub fn first_batch_timestamp(dir: &Path, seg: &SegmentInfo) -> Option<i64> {
    let mut f = SegmentFile::open(dir, seg).ok()?;
    let (h, _) = f.next_batch().ok()??;
    Some(if h.attributes.has_delete_horizon() {
        h.max_timestamp
    } else {
        h.base_timestamp
    })
}

/// Per producer: the last offset of its last data batch and its last epoch.
#[derive(Debug, Clone, Copy)]
struct ProducerLast {
    last_data_offset: Option<i64>,
    epoch: i16,
}

fn producers_last(dir: &Path, segments: &[SegmentInfo]) -> CResult<HashMap<i64, ProducerLast>> {
    let mut out: HashMap<i64, ProducerLast> = HashMap::new();
    for s in segments {
        let mut f = match SegmentFile::open(dir, s) {
            Ok(f) => f,
            Err(CleanerError::Aborted(_)) if s.size == 0 => continue,
            Err(e) => return Err(e),
        };
        while let Some(pos) = (f.pos + RecordBatchHeader::SIZE as u64 <= f.size).then_some(f.pos) {
            let h = RecordBatchHeader::parse(&f.read(pos, RecordBatchHeader::SIZE)?)?;
            f.pos += h.total_size() as u64;
            if !h.has_producer_id() {
                continue;
            }
            let e = out.entry(h.producer_id).or_insert(ProducerLast {
                last_data_offset: None,
                epoch: h.producer_epoch,
            });
            if h.producer_epoch != e.epoch {
                *e = ProducerLast {
                    last_data_offset: None,
                    epoch: h.producer_epoch,
                };
            }
            if !h.is_control() {
                e.last_data_offset = Some(h.last_offset());
            }
        }
    }
    Ok(out)
}

/// Reads the dirty segments into `map`; returns the end (exclusive) of what it covers.
fn build_offset_map(
    snap: &LogSnapshot,
    plan: &Plan,
    map: &mut OffsetMap,
    opts: &DecodeOptions,
) -> CResult<i64> {
    let mut covered = plan.first_dirty;
    for s in snap
        .segments
        .iter()
        .filter(|s| s.base < plan.first_uncleanable && s.next_offset > plan.first_dirty)
    {
        let mut f = SegmentFile::open(&snap.dir, s)?;
        while let Some((h, bytes)) = f.next_batch()? {
            if h.last_offset() < covered {
                continue;
            }
            if !h.is_control() {
                let batch = RawRecordBatch::new(bytes)?.decode(opts)?;
                for r in &batch.records {
                    let offset = batch.offset_of(r);
                    if offset < covered {
                        continue;
                    }
                    if let Some(k) = &r.key {
                        if !map.put(k, offset) {
                            return Ok(offset);
                        }
                    }
                    covered = offset + 1;
                }
            }
            covered = covered.max(h.next_offset());
        }
        covered = covered.max(s.next_offset);
    }
    Ok(covered.min(plan.first_uncleanable))
}

/// Writes one cleaned segment (`.cleaned` files) with its indexes.
struct CleanedWriter {
    dir: PathBuf,
    base: i64,
    out: BufWriter<File>,
    index: OffsetIndex,
    time_index: TimeIndex,
    pos: u64,
    bytes_since_index: u64,
    interval: u64,
    max_ts: i64,
    offset_of_max_ts: i64,
}

impl CleanedWriter {
    fn create(dir: &Path, base: i64, interval: u64, disk: &Disk) -> CResult<Self> {
        swap::discard_cleaned(dir, base);
        let path = swap::suffixed(dir, base, "log", CLEANED);
        let file = File::create(&path)
            .map_err(|e| BrokerError::io(format!("create {}", path.display()), e))?;
        Ok(CleanedWriter {
            dir: dir.to_path_buf(),
            base,
            out: BufWriter::with_capacity(1 << 16, file),
            index: OffsetIndex::open(&swap::suffixed(dir, base, "index", CLEANED), disk.clone())?,
            time_index: TimeIndex::open(
                &swap::suffixed(dir, base, "timeindex", CLEANED),
                disk.clone(),
            )?,
            pos: 0,
            bytes_since_index: 0,
            interval,
            max_ts: -1,
            offset_of_max_ts: -1,
        })
    }

    fn rel(&self, offset: i64) -> u32 {
        u32::try_from(offset - self.base).unwrap_or(u32::MAX)
    }

    fn append(&mut self, h: &RecordBatchHeader, bytes: &[u8]) -> CResult<()> {
        if self.bytes_since_index >= self.interval && self.pos > 0 {
            let pos = u32::try_from(self.pos).unwrap_or(u32::MAX);
            self.index.append(self.rel(h.base_offset), pos)?;
            self.bytes_since_index = 0;
        }
        if h.max_timestamp > self.max_ts {
            self.max_ts = h.max_timestamp;
            self.offset_of_max_ts = h.last_offset();
        }
        if self.max_ts >= 0 {
            self.time_index
                .maybe_append(self.max_ts, self.rel(self.offset_of_max_ts))?;
        }
        self.out
            .write_all(bytes)
            .map_err(|e| BrokerError::io("write cleaned segment", e))?;
        self.pos += bytes.len() as u64;
        self.bytes_since_index += bytes.len() as u64;
        Ok(())
    }

    /// Flushes and fsyncs the files; returns the size written.
    fn finish(self) -> CResult<u64> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| BrokerError::io("flush cleaned segment", e.into_error()))?;
        file.sync_all()
            .map_err(|e| BrokerError::io("fsync cleaned segment", e))?;
        self.index.flush()?;
        self.time_index.flush()?;
        let _ = &self.dir;
        Ok(self.pos)
    }
}

/// Record and batch retention for one clean.
struct Retention<'a> {
    map: &'a OffsetMap,
    covered: i64,
    now_ms: i64,
    delete_retention_ms: i64,
    producers: &'a HashMap<i64, ProducerLast>,
}

/// A batch after filtering: nothing, the original bytes, or new bytes.
enum Filtered {
    Drop,
    Original,
    Rebuilt(Vec<u8>, RecordBatchHeader),
}

impl Retention<'_> {
    fn last_of_producer(&self, h: &RecordBatchHeader) -> bool {
        h.has_producer_id()
            && self
                .producers
                .get(&h.producer_id)
                .is_some_and(|p| match p.last_data_offset {
                    Some(o) => h.last_offset() == o,
                    None => h.is_control() && h.producer_epoch == p.epoch,
                })
    }

    /// Filters one batch; `horizon_seen` gets the delete horizon of a batch kept with one.
    fn filter(
        &self,
        h: &RecordBatchHeader,
        bytes: Bytes,
        opts: &DecodeOptions,
        stats: &mut CleanStats,
        horizon_seen: &mut Option<i64>,
    ) -> CResult<Filtered> {
        let batch = RawRecordBatch::new(bytes)?.decode(opts)?;
        stats.records_read += batch.records.len() as u64;
        let horizon = h.delete_horizon_ms();
        let keep_deletes = horizon.is_none_or(|t| self.now_ms < t);
        let kept: Vec<_> = if h.is_control() {
            if keep_deletes {
                batch.records.clone()
            } else {
                Vec::new()
            }
        } else {
            batch
                .records
                .iter()
                .filter(|r| {
                    let offset = batch.offset_of(r);
                    if offset >= self.covered {
                        return true;
                    }
                    let Some(k) = &r.key else { return false };
                    let latest = self.map.get(k).is_none_or(|o| offset >= o);
                    latest && (r.value.is_some() || keep_deletes)
                })
                .cloned()
                .collect()
        };
        if kept.is_empty() {
            if !self.last_of_producer(h) {
                return Ok(Filtered::Drop);
            }
            stats.empty_batches_kept += 1;
            let mut empty = RecordBatch::from_header(h, Vec::new());
            empty.attributes = h
                .attributes
                .with_compression(Compression::None)
                .with_delete_horizon(false);
            empty.base_timestamp = h.max_timestamp;
            let out = empty.to_bytes()?.to_vec();
            let nh = RecordBatchHeader::parse(&out)?;
            return Ok(Filtered::Rebuilt(out, nh));
        }
        stats.records_kept += kept.len() as u64;
        let has_deletes = h.is_control() || kept.iter().any(|r| r.value.is_none());
        let set_horizon = has_deletes && horizon.is_none();
        if let Some(t) = horizon.filter(|_| has_deletes) {
            *horizon_seen = Some(horizon_seen.map_or(t, |s: i64| s.min(t)));
        }
        if kept.len() == batch.records.len() && !set_horizon {
            return Ok(Filtered::Original);
        }
        let mut out = RecordBatch::from_header(h, kept);
        if set_horizon {
            let t = self.now_ms.saturating_add(self.delete_retention_ms);
            *horizon_seen = Some(horizon_seen.map_or(t, |s: i64| s.min(t)));
            let old_base = batch.base_timestamp;
            for r in &mut out.records {
                r.timestamp_delta = old_base.saturating_add(r.timestamp_delta).saturating_sub(t);
            }
            out.base_timestamp = t;
            out.attributes = out.attributes.with_delete_horizon(true);
        }
        if out.timestamp_type() == TimestampType::CreateTime {
            if let Some(max) = out.records.iter().map(|r| out.timestamp_of(r)).max() {
                out.max_timestamp = max;
            }
        }
        let bytes = out.to_bytes()?.to_vec();
        let nh = RecordBatchHeader::parse(&bytes)?;
        Ok(Filtered::Rebuilt(bytes, nh))
    }
}

/// Groups the segments below `end` into runs that fit one segment.
fn groups(snap: &LogSnapshot, end: i64, first_uncleanable: i64) -> Vec<Vec<SegmentInfo>> {
    let mut out: Vec<Vec<SegmentInfo>> = Vec::new();
    let mut cur: Vec<SegmentInfo> = Vec::new();
    let mut cur_size = 0u64;
    for s in snap
        .segments
        .iter()
        .filter(|s| s.base < end && s.base < first_uncleanable)
    {
        let span_ok = cur
            .first()
            .is_none_or(|f| s.next_offset - f.base < i64::from(i32::MAX));
        if !cur.is_empty() && (cur_size + s.size > snap.segment_bytes || !span_ok) {
            out.push(std::mem::take(&mut cur));
            cur_size = 0;
        }
        cur_size += s.size;
        cur.push(*s);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Cleans `partition` if due at `now_ms`, updating `state`. Returns the stats of the clean,
/// `None` when nothing was due. `dedupe_buffer_bytes` bounds the offset map
/// (`log.cleaner.dedupe.buffer.size`); `crash` injects a crash into the first swap (tests).
pub fn clean_partition(
    partition: &Partition,
    state: &mut LogCleanState,
    now_ms: i64,
    dedupe_buffer_bytes: u64,
    crash: Option<SwapStep>,
) -> CResult<Option<CleanStats>> {
    let snap = LogSnapshot::of(&partition.lock().log);
    let Some(plan) = plan(&snap, state, now_ms, |s| {
        first_batch_timestamp(&snap.dir, s)
    }) else {
        return Ok(None);
    };
    tracing::debug!(dir = %snap.dir.display(), ?plan, "cleaning log");
    let opts = DecodeOptions::default();
    let mut map = OffsetMap::with_buffer_bytes(dedupe_buffer_bytes);
    let covered = build_offset_map(&snap, &plan, &mut map, &opts)?;
    let producers = producers_last(&snap.dir, &snap.segments)?;
    let retention = Retention {
        map: &map,
        covered,
        now_ms,
        delete_retention_ms: snap.cleanup.delete_retention_ms.max(0),
        producers: &producers,
    };
    let mut stats = CleanStats {
        keys: map.len() as u64,
        ..Default::default()
    };
    let mut horizon: Option<i64> = None;
    for group in groups(&snap, covered, plan.first_uncleanable) {
        let Some(first) = group.first() else { continue };
        let base = first.base;
        let end = group.last().map_or(base, |s| s.next_offset.max(s.base + 1));
        let end = snap
            .segments
            .iter()
            .find(|s| s.base > group.last().map_or(base, |l| l.base))
            .map_or(end, |n| n.base);
        let mut w = CleanedWriter::create(&snap.dir, base, snap.index_interval, &snap.disk)?;
        let written = (|| -> CResult<u64> {
            for s in &group {
                stats.bytes_before += s.size;
                let mut f = SegmentFile::open(&snap.dir, s)?;
                while let Some((h, bytes)) = f.next_batch()? {
                    match retention.filter(&h, bytes.clone(), &opts, &mut stats, &mut horizon)? {
                        Filtered::Drop => {}
                        Filtered::Original => w.append(&h, &bytes)?,
                        Filtered::Rebuilt(b, nh) => w.append(&nh, &b)?,
                    }
                }
            }
            let size = w.finish()?;
            swap::write_range(&snap.dir, base, end)?;
            swap::sync_dir(&snap.dir)?;
            Ok(size)
        })();
        let size = match written {
            Ok(s) => s,
            Err(e) => {
                swap::discard_cleaned(&snap.dir, base);
                return Err(e);
            }
        };
        let old: Vec<i64> = group.iter().map(|s| s.base).collect();
        {
            let mut st = partition.lock();
            let unchanged = group.iter().all(|g| {
                st.log
                    .segments()
                    .any(|s| s.base_offset() == g.base && s.size() == g.size)
            }) && st
                .log
                .segments()
                .next_back()
                .is_some_and(|a| a.base_offset() > g_last(&group));
            if !unchanged {
                swap::discard_cleaned(&snap.dir, base);
                return Err(CleanerError::Aborted(
                    "segments changed while cleaning".into(),
                ));
            }
            swap::commit(&snap.dir, base, &old, crash)?;
            let seg = Segment::open(&snap.dir, base, snap.disk.clone())?;
            st.log.replace_segments(&old, seg);
        }
        stats.bytes_after += size;
        stats.segments_replaced += old.len() as u64;
    }
    state.first_dirty = covered;
    state.next_horizon = horizon;
    tracing::info!(
        dir = %snap.dir.display(),
        reason = ?plan.reason,
        records_read = stats.records_read,
        records_kept = stats.records_kept,
        bytes_before = stats.bytes_before,
        bytes_after = stats.bytes_after,
        "cleaned log"
    );
    Ok(Some(stats))
}

fn g_last(group: &[SegmentInfo]) -> i64 {
    group.last().map_or(i64::MIN, |s| s.base)
}
