//! FindCoordinator: which broker coordinates a consumer group (or a transactional id).
//!
//! Owns: one FindCoordinator round trip with a single key (the client negotiates versions
//! below 4, see [`super::versions::client_range`]) and opening the connection to the broker
//! it names. Shared by the consumer's group coordinator and the admin client. Must not:
//! cache coordinators or retry (callers decide both).

use krafty_protocol::generated::FindCoordinatorRequest;
use krafty_protocol::wire::StrBytes;

use super::connection::Connection;
use super::pool::Pool;
use crate::error::{Error, Result};

/// FindCoordinator key type of consumer groups.
pub(crate) const KEY_TYPE_GROUP: i8 = 0;

/// FindCoordinator key type of transactional ids.
pub(crate) const KEY_TYPE_TRANSACTION: i8 = 1;

/// Asks any broker of `pool` for the coordinator of `key` (`key_type` 0: a group, 1: a
/// transactional id) and connects to it. Returns the coordinator's broker id and the
/// connection. A non-zero error code is [`Error::Broker`] (e.g. COORDINATOR_NOT_AVAILABLE,
/// which is retriable).
pub(crate) async fn find_coordinator(
    pool: &Pool,
    key: &str,
    key_type: i8,
) -> Result<(i32, Connection)> {
    let conn = pool.any().await?;
    let resp = conn
        .send(&FindCoordinatorRequest {
            key: StrBytes::from(key.to_string()),
            key_type,
            ..Default::default()
        })
        .await?;
    if resp.error_code != 0 {
        let msg = resp
            .error_message
            .as_ref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return Err(Error::broker(
            resp.error_code,
            format!("FindCoordinator {key}{msg}"),
        ));
    }
    let port = u16::try_from(resp.port)
        .map_err(|_| Error::InvalidResponse(format!("coordinator port {}", resp.port)))?;
    let c = pool
        .get_coordinator_addr(&(resp.host.to_string(), port))
        .await?;
    Ok((resp.node_id, c))
}
