//! SaslHandshake and SaslAuthenticate: the connection's [`SaslSession`] decides, this
//! module encodes. On a listener without SASL both answer ILLEGAL_SASL_STATE, as Kafka.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use krafty_protocol::generated::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::net::{Pending, Reply};
use crate::security::sasl::{code, SaslSession};
use crate::security::session::ConnSecurity;

/// Answers SaslHandshake.
pub fn handshake(ctx: &Ctx, conn: &mut ConnSecurity, req: SaslHandshakeRequest) -> Pending {
    let Some(session) = conn.sasl.as_mut() else {
        return ctx.ready(&SaslHandshakeResponse {
            error_code: code::ILLEGAL_SASL_STATE,
            mechanisms: Vec::new(),
        });
    };
    let step = session.handshake(ctx.version, req.mechanism.as_str());
    let reply = ctx.encode(&SaslHandshakeResponse {
        error_code: step.error_code,
        mechanisms: step.mechanisms.into_iter().map(StrBytes::from).collect(),
    });
    closing(reply, step.close)
}

/// Answers SaslAuthenticate.
pub fn authenticate(ctx: &Ctx, conn: &mut ConnSecurity, req: SaslAuthenticateRequest) -> Pending {
    let Some(session) = conn.sasl.as_mut() else {
        return ctx.ready(&SaslAuthenticateResponse {
            error_code: code::ILLEGAL_SASL_STATE,
            error_message: Some(StrBytes::from(
                "SaslAuthenticate request received after successful authentication".to_string(),
            )),
            ..Default::default()
        });
    };
    let step = session.authenticate(&req.auth_bytes, crate::broker::now_ms());
    if step.error_code != 0 {
        tracing::info!(peer = %ctx.peer, listener = %ctx.listener.name, error_code = step.error_code, "SASL authentication refused");
    }
    let reply = ctx.encode(&SaslAuthenticateResponse {
        error_code: step.error_code,
        error_message: step.error_message.map(StrBytes::from),
        auth_bytes: Bytes::from(step.auth_bytes),
        session_lifetime_ms: step.session_lifetime_ms,
        ..Default::default()
    });
    closing(reply, step.close)
}

/// One raw SASL token after a v0 SaslHandshake: the answer is the mechanism's bytes with
/// a size prefix and no Kafka header; a refusal closes the connection (v0 has no error).
pub fn raw_token(session: &mut SaslSession, token: &[u8], peer: SocketAddr) -> Pending {
    let step = session.authenticate(token, crate::broker::now_ms());
    if step.close || step.error_code != 0 {
        tracing::info!(%peer, error_code = step.error_code, "SASL (v0 raw token) authentication refused; closing");
        return Pending::Ready(Reply::Close);
    }
    let Ok(len) = i32::try_from(step.auth_bytes.len()) else {
        return Pending::Ready(Reply::Close);
    };
    let mut out = BytesMut::with_capacity(4 + step.auth_bytes.len());
    out.put_i32(len);
    out.put_slice(&step.auth_bytes);
    Pending::Ready(Reply::Frame(out))
}

/// The reply, followed by closing the connection when `close`.
fn closing(reply: Reply, close: bool) -> Pending {
    match reply {
        Reply::Frame(b) if close => Pending::Ready(Reply::FrameThenClose(b)),
        other => Pending::Ready(other),
    }
}
