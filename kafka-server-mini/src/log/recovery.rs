//! Crash recovery of one partition's segments.
//!
//! Owns: deciding which segments to validate after an unclean stop (every segment holding
//! offsets at or after the recovery point) and dropping segments that follow a truncation.
//! Must not: assign offsets or serve reads.

use std::collections::BTreeMap;

use super::segment::Segment;
use crate::error::Result;

/// Validates the segments from the one holding `recovery_point` on (all of them when
/// `None`), truncating at the first invalid byte; segments after a truncated one are deleted
/// (their offsets no longer follow). Returns the bytes cut.
pub fn recover(
    segments: &mut BTreeMap<i64, Segment>,
    recovery_point: Option<i64>,
    index_interval: u64,
) -> Result<u64> {
    let start = match recovery_point {
        Some(rp) => segments
            .range(..=rp)
            .next_back()
            .map_or(i64::MIN, |(b, _)| *b),
        None => i64::MIN,
    };
    let bases: Vec<i64> = segments.range(start..).map(|(b, _)| *b).collect();
    let mut cut_total = 0;
    let mut truncated_at: Option<i64> = None;
    for base in bases {
        if truncated_at.is_some() {
            if let Some(seg) = segments.remove(&base) {
                cut_total += seg.size();
                tracing::warn!(base, "deleting segment after a truncated one");
                seg.delete()?;
            }
            continue;
        }
        if let Some(seg) = segments.get_mut(&base) {
            let cut = seg.recover(index_interval)?;
            cut_total += cut;
            if cut > 0 {
                truncated_at = Some(base);
            }
        }
    }
    Ok(cut_total)
}
