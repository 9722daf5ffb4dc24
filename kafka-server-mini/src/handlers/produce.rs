//! Produce (key 0), versions 0-11: per partition, validation of every batch and record
//! ([`produce_validation`]), then sequence checks and one all-or-nothing append. acks=0 gets no
//! response (and, as in Kafka, a failed acks=0 produce closes the connection).

use bytes::Bytes;
use krafty_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use krafty_protocol::generated::{ProduceRequest, ProduceResponse};
use krafty_protocol::records::{RecordBatchHeader, MAGIC_OFFSET, MAGIC_V2};

use super::produce_validation::{self, Rules};
use super::Ctx;
use crate::authorizer::AclOperation;
use crate::broker::BrokerState;
use crate::error::code;
use crate::net::{Pending, Reply};
use crate::partition::AppendOutcome;

/// The validation rules of `topic` (its overrides over the broker's settings).
fn rules(state: &BrokerState, topic: &str) -> Rules {
    let t = state.topic(topic);
    let max_batch = t
        .as_ref()
        .and_then(|t| t.config_i64("max.message.bytes"))
        .and_then(|v| v.try_into().ok())
        .unwrap_or(state.config.message_max_bytes);
    let compacted = t
        .as_ref()
        .and_then(|t| t.config_str("cleanup.policy"))
        .is_some_and(|p| p.split(',').any(|x| x.trim() == "compact"));
    let log_append_time = match t
        .as_ref()
        .and_then(|t| t.config_str("message.timestamp.type"))
    {
        Some(v) => v == "LogAppendTime",
        None => state.config.log_append_time,
    };
    Rules {
        max_batch,
        compacted,
        timestamp_before_max_ms: t
            .as_ref()
            .and_then(|t| t.config_i64("message.timestamp.before.max.ms"))
            .unwrap_or(state.config.log_message_timestamp_before_max_ms),
        timestamp_after_max_ms: t
            .as_ref()
            .and_then(|t| t.config_i64("message.timestamp.after.max.ms"))
            .unwrap_or(state.config.log_message_timestamp_after_max_ms),
        log_append_time,
        now_ms: crate::broker::now_ms(),
    }
}

fn produce_partition(
    state: &BrokerState,
    topic: &str,
    index: i32,
    records: Option<&Bytes>,
    version: i16,
    transactional_id: Option<&str>,
) -> Result<AppendOutcome, i16> {
    if crate::broker::is_internal_topic(topic) {
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
    let validated = produce_validation::validate(records, &rules(state, topic), &state.memory)?;
    // transactional batches: only from the producer holding the transactional id, to a
    // partition of its ongoing transaction (checked and appended under the coordinator)
    let mut txn_producers: Vec<(i64, i16)> = Vec::new();
    for b in &validated.batches {
        let h = RecordBatchHeader::parse(b).map_err(|_| code::CORRUPT_MESSAGE)?;
        if h.is_transactional() && !txn_producers.contains(&(h.producer_id, h.producer_epoch)) {
            txn_producers.push((h.producer_id, h.producer_epoch));
        }
    }
    // the pool's bytes held by converted data are given back once it is appended
    let outcome = if txn_producers.is_empty() {
        partition.append(validated.batches)
    } else {
        let Some(id) = transactional_id else {
            return Err(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        };
        let batches = validated.batches;
        state
            .txns
            .append_verified(id, &txn_producers, topic, index, || {
                partition.append(batches)
            })
    };
    drop(validated.held);
    outcome
}

/// Answers Produce.
pub fn handle(ctx: &Ctx, req: ProduceRequest) -> Pending {
    let state = &ctx.state;
    let acks_ok = matches!(req.acks, -1..=1);
    let mut appended = false;
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let txn_refused = req.transactional_id.as_ref().is_some_and(|id| {
        !ctx.allowed(
            AclOperation::Write,
            crate::authorizer::ResourceType::TransactionalId,
            id,
        )
    });
    for t in &req.topic_data {
        let mut parts = Vec::with_capacity(t.partition_data.len());
        let topic_refused = !ctx.topic_allowed(AclOperation::Write, &t.name);
        for p in &t.partition_data {
            let result = if txn_refused {
                Err(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            } else if topic_refused {
                Err(code::TOPIC_AUTHORIZATION_FAILED)
            } else if acks_ok {
                produce_partition(
                    state,
                    &t.name,
                    p.index,
                    p.records.as_ref(),
                    ctx.version,
                    req.transactional_id.as_deref(),
                )
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
