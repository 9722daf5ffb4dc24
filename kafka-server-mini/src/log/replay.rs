//! Reading a compacted state log (`__consumer_offsets`, `__transaction_state`) back at
//! start: every keyed record from the log start to the end, in offset order.

use bytes::Bytes;
use krafty_protocol::records::{BatchIter, DecodeOptions, RawBatch};

use super::Log;

/// Calls `f(key, value)` for every record with a key, from the log start offset to the
/// end, in order; returns how many records `f` counted (its `true` answers). Reading stops
/// at the first unreadable chunk or batch (logged with `what`, the topic's name): what
/// recovery left is what is replayed.
pub fn replay_keyed(
    log: &Log,
    what: &str,
    mut f: impl FnMut(Bytes, Option<Bytes>) -> bool,
) -> usize {
    let opts = DecodeOptions::default();
    let mut counted = 0usize;
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let bytes = match log.read(offset, 1 << 20, true) {
            Ok(Some(b)) if !b.is_empty() => b,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, topic = what, "reading a state log failed; replay stopped");
                break;
            }
        };
        let mut progressed = false;
        for entry in BatchIter::new(bytes, opts) {
            let Ok(RawBatch::V2(raw)) = entry else {
                break;
            };
            let next = raw.header().next_offset();
            if next <= offset {
                continue;
            }
            if let Ok(batch) = raw.decode(&opts) {
                for r in &batch.records {
                    if let Some(key) = r.key.clone() {
                        if f(key, r.value.clone()) {
                            counted += 1;
                        }
                    }
                }
            }
            offset = next;
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    counted
}
