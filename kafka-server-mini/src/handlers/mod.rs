//! Request handlers, one module per API family. Each takes the decoded request and returns
//! a [`Pending`] response; state changes happen synchronously, in request order, and only
//! waiting (long polls, rebalances) is deferred.

pub mod acls;
pub mod api_versions;
pub mod authz;
pub mod cluster;
pub mod configs;
pub mod coordinator;
pub mod describe_topic_partitions;
pub mod fetch;
pub mod groups;
pub mod leader_epoch;
pub mod list_offsets;
pub mod metadata;
pub mod offset_delete;
pub mod offsets;
pub mod produce;
pub mod produce_validation;
pub mod producer_id;
pub mod records;
pub mod sasl;
pub mod scram_credentials;
pub mod topics;
pub mod txn;
pub mod txn_admin;
pub mod txn_offsets;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use krafty_protocol::frame::write_typed_response;
use krafty_protocol::message::{Encode, Response};

use crate::broker::BrokerState;
use crate::net::listener::ListenerInfo;
use crate::net::{Pending, Reply};
use crate::security::Principal;

/// What a handler knows about the request besides its body.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Broker state.
    pub state: Arc<BrokerState>,
    /// The request's api version.
    pub version: i16,
    /// The request's correlation id.
    pub correlation_id: i32,
    /// The request's client id.
    pub client_id: String,
    /// The peer address.
    pub peer: SocketAddr,
    /// The connection's principal (the authorizer decides with it: `authz`).
    pub principal: Principal,
    /// The listener the request came in on.
    pub listener: Arc<ListenerInfo>,
}

impl Ctx {
    /// Encodes `body` as the response to this request.
    pub fn encode<R: Response + Encode>(&self, body: &R) -> Reply {
        encode_response(self.correlation_id, self.version, body)
    }

    /// A ready response.
    pub fn ready<R: Response + Encode>(&self, body: &R) -> Pending {
        Pending::Ready(self.encode(body))
    }
}

/// Encodes a response frame; an encoding failure (a bug) closes the connection with a log.
pub fn encode_response<R: Response + Encode>(correlation_id: i32, version: i16, body: &R) -> Reply {
    let mut out = BytesMut::new();
    match write_typed_response(&mut out, correlation_id, version, body) {
        Ok(()) => Reply::Frame(out),
        Err(e) => {
            tracing::error!(api = R::NAME, version, error = ?e, "could not encode response; closing");
            Reply::Close
        }
    }
}
