//! Fetch (key 1), versions 0-17: reads stored bytes through the offset index without
//! re-encoding (down-converted to magic 0/1 for versions 0-3), honours partition and
//! response max bytes (always the whole first batch, KIP-74), and long-polls up to
//! `max_wait_ms` until `min_bytes` arrive, woken by appends. Fetch sessions (KIP-227) are
//! answered sessionless: session id 0, every request a full fetch. With
//! `isolation_level=1` (read_committed, v4+) data stops at the last stable offset and the
//! aborted transactions overlapping the returned range are listed; `last_stable_offset` is
//! reported for both isolation levels.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use krafty_protocol::generated::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use krafty_protocol::generated::{FetchRequest, FetchResponse};
use krafty_protocol::records::{down_convert, DecodeOptions, MAGIC_V0, MAGIC_V1};
use krafty_protocol::wire::{StrBytes, Uuid};

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::broker::BrokerState;
use crate::error::code;
use crate::net::Pending;

/// Kafka's broker-side `fetch.max.bytes` default (55 MiB): no response carries more, so no
/// client-chosen size makes the broker read more into memory.
pub const FETCH_MAX_BYTES: usize = 55 * 1024 * 1024;

/// Kafka's FETCH_SESSION_ID_NOT_FOUND.
const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
/// Kafka's UNSUPPORTED_COMPRESSION_TYPE.
const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;

#[derive(Debug, Clone)]
struct Wanted {
    name: StrBytes,
    id: Uuid,
    partitions: Vec<(i32, i64, i32)>,
    /// The principal may not READ the topic (TOPIC_AUTHORIZATION_FAILED).
    refused: bool,
}

/// Keeps the whole batches of `bytes` that start below `lso` (a trailing partial batch
/// starting below it stays, as it would without the cut); returns them and the offset
/// after the last kept batch (`lso` when unknown).
fn cut_at_lso(bytes: Bytes, lso: i64) -> (Bytes, i64) {
    let mut pos = 0usize;
    let mut next = lso;
    while let Some(head) = bytes.get(pos..pos + 27) {
        let mut base = [0u8; 8];
        base.copy_from_slice(&head[0..8]);
        let base = i64::from_be_bytes(base);
        let mut len = [0u8; 4];
        len.copy_from_slice(&head[8..12]);
        let len = usize::try_from(i32::from_be_bytes(len)).unwrap_or(0);
        if base >= lso {
            return (bytes.slice(..pos), next);
        }
        let end = pos.saturating_add(12).saturating_add(len);
        if end > bytes.len() || len == 0 {
            return (bytes, lso);
        }
        let mut delta = [0u8; 4];
        delta.copy_from_slice(&head[23..27]);
        next = base.saturating_add(i64::from(i32::from_be_bytes(delta))) + 1;
        pos = end;
    }
    (bytes, if pos == 0 { lso } else { next })
}

fn read_all(
    state: &BrokerState,
    version: i16,
    wanted: &[Wanted],
    max_bytes: i32,
    read_committed: bool,
) -> (FetchResponse, usize, bool) {
    let mut remaining = usize::try_from(max_bytes).unwrap_or(0).min(FETCH_MAX_BYTES);
    let mut total = 0usize;
    let mut any_error = false;
    let mut responses = Vec::with_capacity(wanted.len());
    for w in wanted {
        let topic = if version >= 13 {
            state.topic_by_id(&w.id)
        } else {
            state.topic(&w.name)
        };
        let mut parts = Vec::with_capacity(w.partitions.len());
        for &(index, offset, pmax) in &w.partitions {
            let mut pd = PartitionData {
                partition_index: index,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                records: Some(Bytes::new()),
                ..Default::default()
            };
            if version >= 4 {
                // Kafka sends null for read_uncommitted and a list for read_committed
                pd.aborted_transactions = if read_committed {
                    Some(Vec::new())
                } else {
                    None
                };
            }
            if w.refused && (version < 13 || topic.is_some()) {
                pd.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                any_error = true;
                parts.push(pd);
                continue;
            }
            let partition = topic.as_ref().and_then(|t| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| t.partitions.get(i))
            });
            let Some(partition) = partition else {
                pd.error_code = if version >= 13 && topic.is_none() {
                    code::UNKNOWN_TOPIC_ID
                } else {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                };
                any_error = true;
                parts.push(pd);
                continue;
            };
            let st = partition.lock();
            let hw = st.high_watermark();
            let lso = st.last_stable_offset();
            pd.high_watermark = hw;
            pd.last_stable_offset = if version >= 4 { lso } else { -1 };
            pd.log_start_offset = st.log.log_start_offset();
            let limit = usize::try_from(pmax).unwrap_or(0).min(remaining);
            match st.log.read(offset, limit, total == 0) {
                Ok(Some(bytes)) => {
                    let bytes = if read_committed {
                        let (kept, upper) = cut_at_lso(bytes, lso);
                        if !kept.is_empty() {
                            pd.aborted_transactions = Some(
                                st.txns
                                    .aborted_overlapping(offset, upper)
                                    .into_iter()
                                    .map(|(producer_id, first_offset)| AbortedTransaction {
                                        producer_id,
                                        first_offset,
                                        ..Default::default()
                                    })
                                    .collect(),
                            );
                        }
                        kept
                    } else {
                        bytes
                    };
                    drop(st);
                    let bytes = if version <= 3 && !bytes.is_empty() {
                        let magic = if version <= 1 { MAGIC_V0 } else { MAGIC_V1 };
                        match down_convert(&bytes, magic, &DecodeOptions::default()) {
                            Ok(b) => b,
                            Err(e) => {
                                tracing::info!(error = ?e, "down-conversion failed");
                                pd.error_code = UNSUPPORTED_COMPRESSION_TYPE;
                                any_error = true;
                                Bytes::new()
                            }
                        }
                    } else {
                        bytes
                    };
                    remaining = remaining.saturating_sub(bytes.len());
                    total += bytes.len();
                    pd.records = Some(bytes);
                }
                Ok(None) => {
                    pd.error_code = code::OFFSET_OUT_OF_RANGE;
                    any_error = true;
                }
                Err(e) => {
                    tracing::error!(topic = %partition.topic, partition = index, error = %e, "read failed");
                    pd.error_code = e.code();
                    any_error = true;
                }
            }
            parts.push(pd);
        }
        responses.push(FetchableTopicResponse {
            topic: if version >= 13 {
                StrBytes::from("")
            } else {
                w.name.clone()
            },
            topic_id: if version >= 13 { w.id } else { Uuid::ZERO },
            partitions: parts,
            ..Default::default()
        });
    }
    (
        FetchResponse {
            responses,
            ..Default::default()
        },
        total,
        any_error,
    )
}

/// Answers Fetch.
pub fn handle(ctx: &Ctx, req: FetchRequest) -> Pending {
    if req.session_id != 0 {
        return ctx.ready(&FetchResponse {
            error_code: FETCH_SESSION_ID_NOT_FOUND,
            ..Default::default()
        });
    }
    let wanted: Vec<Wanted> = req
        .topics
        .iter()
        .map(|t| Wanted {
            refused: {
                let name = if ctx.version >= 13 {
                    ctx.state.topic_by_id(&t.topic_id).map(|t| t.name.clone())
                } else {
                    Some(t.topic.to_string())
                };
                name.is_some_and(|n| !ctx.topic_allowed(AclOperation::Read, &n))
            },
            name: t.topic.clone(),
            id: t.topic_id,
            partitions: t
                .partitions
                .iter()
                .map(|p| (p.partition, p.fetch_offset, p.partition_max_bytes))
                .collect(),
        })
        .collect();
    let version = ctx.version;
    let max_bytes = if version >= 3 {
        req.max_bytes
    } else {
        i32::MAX
    };
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let read_committed = version >= 4 && req.isolation_level == 1;
    let (resp, bytes, err) = read_all(&ctx.state, version, &wanted, max_bytes, read_committed);
    if bytes >= min_bytes.max(1) || err || req.max_wait_ms <= 0 || wanted.is_empty() {
        return ctx.ready(&resp);
    }
    let state: Arc<BrokerState> = ctx.state.clone();
    let ctx = ctx.clone();
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    Pending::Later(Box::pin(async move {
        let deadline = tokio::time::Instant::now() + wait;
        let mut shutdown = state.shutdown.clone();
        loop {
            let notified = state.data_arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (resp, bytes, err) = read_all(&state, version, &wanted, max_bytes, read_committed);
            if bytes >= min_bytes.max(1) || err || tokio::time::Instant::now() >= deadline {
                return ctx.encode(&resp);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                let (resp, _, _) = read_all(&state, version, &wanted, max_bytes, read_committed);
                return ctx.encode(&resp);
            }
        }
    }))
}
