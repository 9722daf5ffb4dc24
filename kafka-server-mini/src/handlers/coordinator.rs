//! FindCoordinator (key 10), versions 0-6 (batched keys from v4): this node coordinates
//! every group (key type 0) and every transactional id (key type 1); other key types are
//! INVALID_REQUEST.

use krafty_protocol::generated::find_coordinator_response::Coordinator;
use krafty_protocol::generated::{FindCoordinatorRequest, FindCoordinatorResponse};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::error::code;
use crate::net::Pending;

/// Answers FindCoordinator.
pub fn handle(ctx: &Ctx, req: FindCoordinatorRequest) -> Pending {
    let s = &ctx.state;
    let (host, port) = (
        StrBytes::from(ctx.listener.advertised.0.clone()),
        ctx.listener.advertised.1,
    );
    let node = s.config.node_id;
    let error = match req.key_type {
        0 | 1 => code::NONE,
        _ => code::INVALID_REQUEST,
    };
    let mut resp = FindCoordinatorResponse::default();
    if ctx.version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| Coordinator {
                key: k.clone(),
                node_id: if error == 0 { node } else { -1 },
                host: if error == 0 {
                    host.clone()
                } else {
                    StrBytes::from("")
                },
                port: if error == 0 { port } else { -1 },
                error_code: error,
                error_message: None,
                ..Default::default()
            })
            .collect();
    } else {
        resp.error_code = error;
        if error == code::NONE {
            resp.node_id = node;
            resp.host = host;
            resp.port = port;
        } else {
            resp.node_id = -1;
            resp.port = -1;
        }
    }
    ctx.ready(&resp)
}
