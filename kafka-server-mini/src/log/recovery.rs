//! Crash recovery of one partition's segments.
//!
//! Owns: deciding which segments to validate after an unclean stop (every segment holding
//! offsets at or after the recovery point, plus any earlier segment whose files did not
//! match at open), dropping segments that follow a truncated unflushed one, and fsyncing
//! what was recovered. Must not: assign offsets or serve reads.

use std::collections::BTreeMap;

use super::segment::Segment;
use crate::error::Result;

/// What recovery did to one log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Segments validated batch by batch.
    pub segments_checked: usize,
    /// Bytes cut off (invalid tails and deleted segments).
    pub bytes_cut: u64,
    /// Segments deleted because an earlier unflushed segment was cut.
    pub segments_deleted: usize,
    /// Segments before the recovery point found inconsistent and recovered.
    pub flushed_segments_repaired: usize,
}

/// Validates the segments from the one holding `recovery_point` on (all of them when
/// `None`), truncating at the first invalid byte; unflushed segments after a truncated one
/// are deleted (their offsets no longer follow), as Kafka's LogLoader does. A segment
/// before the recovery point that [`Segment::open`] marked inconsistent is reported at
/// error level and recovered on its own: its data was reported flushed, so the later
/// (flushed) segments are kept and readers see a gap where the bytes were lost. Every
/// recovered segment is fsynced.
pub fn recover(
    segments: &mut BTreeMap<i64, Segment>,
    recovery_point: Option<i64>,
    index_interval: u64,
) -> Result<Recovered> {
    let start = match recovery_point {
        Some(rp) => segments
            .range(..=rp)
            .next_back()
            .map_or(i64::MIN, |(b, _)| *b),
        None => i64::MIN,
    };
    let mut out = Recovered::default();
    for seg in segments.range_mut(..start).map(|(_, s)| s) {
        let Some(why) = seg.needs_recovery().map(str::to_string) else {
            continue;
        };
        tracing::error!(
            segment = %seg.path().display(),
            recovery_point = ?recovery_point,
            problem = %why,
            "corruption before the recovery point: data reported flushed does not match; \
             recovering this segment (bytes after the first invalid batch are lost)"
        );
        let cut = seg.recover(index_interval)?;
        seg.flush()?;
        out.segments_checked += 1;
        out.flushed_segments_repaired += 1;
        out.bytes_cut += cut;
    }
    let bases: Vec<i64> = segments.range(start..).map(|(b, _)| *b).collect();
    let mut truncated_at: Option<i64> = None;
    for base in bases {
        if truncated_at.is_some() {
            if let Some(seg) = segments.remove(&base) {
                out.bytes_cut += seg.size();
                out.segments_deleted += 1;
                tracing::warn!(segment = %seg.path().display(), "deleting segment after a truncated one");
                seg.delete()?;
            }
            continue;
        }
        if let Some(seg) = segments.get_mut(&base) {
            let cut = seg.recover(index_interval)?;
            seg.flush()?;
            out.segments_checked += 1;
            out.bytes_cut += cut;
            if cut > 0 {
                truncated_at = Some(base);
            }
        }
    }
    Ok(out)
}
