//! InitProducerId (key 22), versions 0-5. Idempotent producers get a fresh producer id at
//! epoch 0, or (v3+) the next epoch of the id and epoch they already hold. Transactional
//! producers are served by the transaction coordinator ([`crate::txn::TxnCoordinator`]):
//! the id's producer at its next epoch, fencing (PRODUCER_FENCED from v4, else
//! INVALID_PRODUCER_EPOCH) and INVALID_TRANSACTION_TIMEOUT.

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
    if let Some(id) = req.transactional_id.as_ref().filter(|t| !t.is_empty()) {
        let presented = (ctx.version >= 3 && req.producer_id >= 0)
            .then_some((req.producer_id, req.producer_epoch));
        let fenced = if ctx.version >= 4 {
            code::PRODUCER_FENCED
        } else {
            code::INVALID_PRODUCER_EPOCH
        };
        match ctx.state.txns.init_producer_id(
            &ctx.state,
            id,
            req.transaction_timeout_ms,
            presented,
            fenced,
        ) {
            Ok((pid, epoch)) => {
                resp.producer_id = pid;
                resp.producer_epoch = epoch;
            }
            Err(e) => resp.error_code = e,
        }
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
