//! InitProducerId (key 22), versions 0-5, for idempotent producers: a fresh producer id at
//! epoch 0, or (v3+) the next epoch of the id and epoch the producer already holds.
//! Transactional ids are not served yet (transactions come in a later issue): they are
//! refused with INVALID_REQUEST (42) rather than a retriable error clients would loop on.

use krafty_protocol::generated::{InitProducerIdRequest, InitProducerIdResponse};

use super::Ctx;
use crate::error::code;
use crate::net::Pending;

/// Answers InitProducerId.
pub fn handle(ctx: &Ctx, req: InitProducerIdRequest) -> Pending {
    let mut resp = InitProducerIdResponse {
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if req.transactional_id.as_ref().is_some_and(|t| !t.is_empty()) {
        tracing::info!("transactional producer refused: transactions are not served yet");
        resp.error_code = code::INVALID_REQUEST;
        return ctx.ready(&resp);
    }
    if req.producer_id >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        resp.producer_id = req.producer_id;
        resp.producer_epoch = req.producer_epoch + 1;
    } else {
        resp.producer_id = ctx.state.allocate_producer_id();
        resp.producer_epoch = 0;
    }
    ctx.ready(&resp)
}
