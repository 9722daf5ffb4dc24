//! Produce (key 0), versions 0-11: validation (lengths, magic, CRC, sizes, record counts),
//! up-conversion of magic 0/1 message sets, sequence checks and appends. acks=0 gets no
//! response (and, as in Kafka, a failed acks=0 produce closes the connection).

use bytes::Bytes;
use krafty_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use krafty_protocol::generated::{ProduceRequest, ProduceResponse};
use krafty_protocol::records::{
    up_convert, BatchIter, Compression, DecodeOptions, RawBatch, RecordBatchHeader, TruncatedTail,
    MAGIC_OFFSET, MAGIC_V2,
};

use super::Ctx;
use crate::broker::BrokerState;
use crate::error::code;
use crate::net::{Pending, Reply};
use crate::partition::AppendOutcome;

/// Kafka's UNSUPPORTED_COMPRESSION_TYPE.
const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;

/// Splits and validates a `records` field into whole v2 batches ready to append.
pub fn validate_records(records: &Bytes, max_batch: usize) -> Result<Vec<Vec<u8>>, i16> {
    let magic = *records.get(MAGIC_OFFSET).ok_or(code::CORRUPT_MESSAGE)? as i8;
    let opts = DecodeOptions::default().with_truncated_tail(TruncatedTail::Error);
    if magic < MAGIC_V2 {
        let mut batch = up_convert(records, Compression::None, &opts).map_err(|e| {
            tracing::info!(error = ?e, "invalid legacy message set");
            code::CORRUPT_MESSAGE
        })?;
        if batch.records.is_empty() {
            return Err(code::INVALID_RECORD);
        }
        // Producers write arbitrary offsets in legacy sets (uncompressed: usually all 0);
        // the broker assigns them, so the records get consecutive deltas here (the codec's
        // up_convert keeps the producer's offsets as deltas).
        batch.base_offset = 0;
        for (i, r) in batch.records.iter_mut().enumerate() {
            r.offset_delta = i32::try_from(i).map_err(|_| code::INVALID_RECORD)?;
        }
        batch.update_from_records();
        let bytes = batch.to_bytes().map_err(|_| code::CORRUPT_MESSAGE)?;
        let h = RecordBatchHeader::parse(&bytes).map_err(|_| code::CORRUPT_MESSAGE)?;
        if h.records_count != h.last_offset_delta.saturating_add(1) {
            return Err(code::INVALID_RECORD);
        }
        if bytes.len() > max_batch {
            return Err(code::MESSAGE_TOO_LARGE);
        }
        return Ok(vec![bytes.to_vec()]);
    }
    let mut out = Vec::new();
    for entry in BatchIter::new(records.clone(), opts) {
        let raw = match entry {
            Ok(RawBatch::V2(raw)) => raw,
            Ok(RawBatch::Legacy(_)) => return Err(code::INVALID_RECORD),
            Err(e) => {
                tracing::info!(error = ?e, "invalid record batch");
                return Err(code::CORRUPT_MESSAGE);
            }
        };
        let h = raw.header();
        if h.total_size() > max_batch {
            return Err(code::MESSAGE_TOO_LARGE);
        }
        if raw.validate().is_err() {
            return Err(code::CORRUPT_MESSAGE);
        }
        if h.compression().is_err() {
            return Err(UNSUPPORTED_COMPRESSION_TYPE);
        }
        if h.is_control()
            || h.records_count == 0
            || h.records_count != h.last_offset_delta.saturating_add(1)
        {
            return Err(code::INVALID_RECORD);
        }
        out.push(raw.as_bytes().to_vec());
    }
    if out.is_empty() {
        return Err(code::INVALID_RECORD);
    }
    Ok(out)
}

fn produce_partition(
    state: &BrokerState,
    topic: &str,
    index: i32,
    records: Option<&Bytes>,
    version: i16,
) -> Result<AppendOutcome, i16> {
    if topic == crate::broker::OFFSETS_TOPIC {
        return Err(code::INVALID_TOPIC_EXCEPTION);
    }
    let partition = state
        .partition(topic, index)
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)?;
    let records = records.ok_or(code::CORRUPT_MESSAGE)?;
    // Produce v3+ carries v2 batches only (as Kafka: INVALID_RECORD otherwise)
    if version >= 3
        && records
            .get(MAGIC_OFFSET)
            .is_some_and(|m| (*m as i8) < MAGIC_V2)
    {
        return Err(code::INVALID_RECORD);
    }
    let max = state
        .topic(topic)
        .and_then(|t| t.config_i64("max.message.bytes"))
        .and_then(|v| v.try_into().ok())
        .unwrap_or(state.config.message_max_bytes);
    let batches = validate_records(records, max)?;
    partition.append(batches)
}

/// Answers Produce.
pub fn handle(ctx: &Ctx, req: ProduceRequest) -> Pending {
    let state = &ctx.state;
    let acks_ok = matches!(req.acks, -1..=1);
    let mut appended = false;
    let mut responses = Vec::with_capacity(req.topic_data.len());
    for t in &req.topic_data {
        let mut parts = Vec::with_capacity(t.partition_data.len());
        for p in &t.partition_data {
            let result = if acks_ok {
                produce_partition(state, &t.name, p.index, p.records.as_ref(), ctx.version)
            } else {
                Err(code::INVALID_REQUIRED_ACKS)
            };
            let mut r = PartitionProduceResponse {
                index: p.index,
                ..Default::default()
            };
            match result {
                Ok(o) => {
                    appended = true;
                    r.base_offset = o.base_offset;
                    r.log_append_time_ms = if ctx.version >= 2 {
                        o.log_append_time
                    } else {
                        -1
                    };
                    r.log_start_offset = if ctx.version >= 5 {
                        o.log_start_offset
                    } else {
                        -1
                    };
                }
                Err(e) => {
                    tracing::debug!(topic = %t.name, partition = p.index, error = e, "produce rejected");
                    r.error_code = e;
                    r.base_offset = -1;
                    r.log_append_time_ms = -1;
                    r.log_start_offset = -1;
                }
            }
            parts.push(r);
        }
        responses.push(TopicProduceResponse {
            name: t.name.clone(),
            partition_responses: parts,
            ..Default::default()
        });
    }
    if appended {
        state.data_arrived.notify_waiters();
    }
    if req.acks == 0 {
        // as Kafka: no response, but a failed acks=0 produce closes the connection so
        // the producer notices and refreshes its metadata
        let failed = responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .any(|p| p.error_code != code::NONE);
        if failed {
            tracing::info!("acks=0 produce failed; closing the connection");
            return Pending::Ready(Reply::Close);
        }
        return Pending::Ready(Reply::Nothing);
    }
    ctx.ready(&ProduceResponse {
        responses,
        ..Default::default()
    })
}
