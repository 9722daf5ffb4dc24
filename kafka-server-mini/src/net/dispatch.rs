//! Request dispatch: header checks, version gating, decoding and routing to a handler.
//!
//! Owns: the table of served APIs and versions ([`served_versions`]), the ApiVersions
//! fallback for unsupported versions (error 35 in a v0 response) and closing connections on
//! malformed or unserved requests with a log line, the authentication gate (before a SASL
//! connection authenticates only ApiVersions, SaslHandshake and SaslAuthenticate are
//! served; anything else closes it, as Kafka does; an expired KIP-368 session is closed on
//! its next request), the raw SASL tokens that follow a v0 SaslHandshake, and calling the
//! authorization gate (`handlers::authz::gate`) before every handler. Must not: implement
//! any API.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use krafty_protocol::frame::{peek_request_header, RequestFrame};
use krafty_protocol::generated::{ApiKey, RequestBody};
use krafty_protocol::message::VersionRange;
use tracing::Instrument;

use super::connection::{Pending, Reply};
use crate::broker::BrokerState;
use crate::handlers::{self, Ctx};
use crate::security::principal::Principal;
use crate::security::session::ConnSecurity;

/// The APIs this broker serves, with the versions it serves (within the codec's).
pub fn served_versions(api: ApiKey) -> Option<VersionRange> {
    let ours = match api {
        ApiKey::Produce
        | ApiKey::Fetch
        | ApiKey::ListOffsets
        | ApiKey::Metadata
        | ApiKey::OffsetCommit
        | ApiKey::OffsetFetch
        | ApiKey::FindCoordinator
        | ApiKey::JoinGroup
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::SyncGroup
        | ApiKey::DescribeGroups
        | ApiKey::ListGroups
        | ApiKey::CreateTopics
        | ApiKey::DeleteTopics
        | ApiKey::InitProducerId
        | ApiKey::CreatePartitions
        | ApiKey::DescribeCluster
        | ApiKey::DescribeConfigs
        | ApiKey::DeleteGroups
        | ApiKey::DeleteRecords
        | ApiKey::AlterConfigs
        | ApiKey::IncrementalAlterConfigs
        | ApiKey::OffsetForLeaderEpoch
        | ApiKey::OffsetDelete
        | ApiKey::DescribeTopicPartitions
        | ApiKey::SaslHandshake
        | ApiKey::SaslAuthenticate
        | ApiKey::DescribeUserScramCredentials
        | ApiKey::AlterUserScramCredentials
        | ApiKey::CreateAcls
        | ApiKey::DescribeAcls
        | ApiKey::DeleteAcls => api.valid_versions(),
        ApiKey::ApiVersions => VersionRange { min: 0, max: 4 },
        // transactions without KIP-890 part 2 (EndTxn v5 bumps the epoch every
        // transaction; TRANSACTION_ABORTABLE is never answered)
        ApiKey::AddPartitionsToTxn => VersionRange { min: 0, max: 5 },
        ApiKey::AddOffsetsToTxn | ApiKey::EndTxn | ApiKey::TxnOffsetCommit => {
            VersionRange { min: 0, max: 4 }
        }
        ApiKey::DescribeTransactions | ApiKey::ListTransactions | ApiKey::DescribeProducers => {
            api.valid_versions()
        }
        _ => return None,
    };
    ours.intersect(&api.valid_versions())
}

/// Every served API with its versions, by api key.
pub fn served_apis() -> Vec<(ApiKey, VersionRange)> {
    (0..=i16::MAX)
        .take(2000)
        .filter_map(ApiKey::from_i16)
        .filter_map(|k| served_versions(k).map(|r| (k, r)))
        .collect()
}

/// Decodes and routes one request frame (without its size prefix) as if it came in on a
/// PLAINTEXT connection (principal `User:ANONYMOUS`) of the broker's first listener.
pub fn dispatch(state: &Arc<BrokerState>, frame: Bytes, peer: SocketAddr) -> Pending {
    let mut conn = ConnSecurity::new(state.first_listener(), peer, Principal::anonymous());
    conn.sasl = None;
    dispatch_conn(state, frame, &mut conn)
}

/// Decodes and routes one request frame (without its size prefix) of connection `conn`.
pub fn dispatch_conn(state: &Arc<BrokerState>, frame: Bytes, conn: &mut ConnSecurity) -> Pending {
    let peer = conn.peer;
    if let Some(session) = conn.sasl.as_mut().filter(|s| s.expects_raw()) {
        return crate::handlers::sasl::raw_token(session, &frame, peer);
    }
    let (key, version, correlation_id) = match peek_request_header(&frame) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(%peer, error = ?e.kind(), "request shorter than its header; closing");
            return Pending::Ready(Reply::Close);
        }
    };
    if key == ApiKey::ApiVersions.key()
        && !served_versions(ApiKey::ApiVersions).is_some_and(|r| r.contains(version))
    {
        tracing::info!(%peer, version, "unsupported ApiVersions version; answering v0 with error 35");
        return Pending::Ready(handlers::api_versions::unsupported(correlation_id));
    }
    let Some(api) = ApiKey::from_i16(key) else {
        tracing::warn!(%peer, api_key = key, "unknown api key; closing");
        return Pending::Ready(Reply::Close);
    };
    let Some(range) = served_versions(api) else {
        tracing::warn!(%peer, api = api.name(), "api not served; closing");
        return Pending::Ready(Reply::Close);
    };
    if !range.contains(version) {
        tracing::warn!(%peer, api = api.name(), version, "unsupported version; closing");
        return Pending::Ready(Reply::Close);
    }
    if !conn.allows(api) {
        tracing::info!(%peer, listener = %conn.listener.name, api = api.name(), "request before SASL authentication; closing");
        return Pending::Ready(Reply::Close);
    }
    if let Some(s) = &conn.sasl {
        let sasl_api = matches!(api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate);
        if s.expired(crate::broker::now_ms()) && !sasl_api {
            tracing::info!(%peer, principal = %conn.principal(), api = api.name(), "SASL session expired (connections.max.reauth.ms); closing");
            return Pending::Ready(Reply::Close);
        }
    }
    let head: String = frame.iter().take(64).map(|b| format!("{b:02x}")).collect();
    let req = match decode_request_lenient(frame) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%peer, api = api.name(), version, error = ?e, frame_head = %head, "malformed request; closing");
            return Pending::Ready(Reply::Close);
        }
    };
    let client_id = req.header.client_id.as_deref().unwrap_or("").to_string();
    let span = tracing::debug_span!(
        "request",
        api = api.name(),
        version,
        client_id = %client_id,
        correlation_id
    );
    let ctx = Ctx {
        state: state.clone(),
        version,
        correlation_id,
        client_id,
        peer,
        principal: conn.principal(),
        listener: conn.listener.clone(),
    };
    let pending = span.in_scope(|| {
        tracing::trace!(principal = %ctx.principal, "handling");
        match req.body {
            RequestBody::SaslHandshake(r) => handlers::sasl::handshake(&ctx, conn, r),
            RequestBody::SaslAuthenticate(r) => handlers::sasl::authenticate(&ctx, conn, r),
            // every request is authorized before its handler acts (handlers::authz)
            body => match handlers::authz::gate(&ctx, &body) {
                Some(refused) => refused,
                None => route(&ctx, body),
            },
        }
    });
    match pending {
        Pending::Later(f) => Pending::Later(Box::pin(f.instrument(span))),
        ready => ready,
    }
}

/// Decodes a request as Apache Kafka does, ignoring bytes left after the body (librdkafka
/// 2.x pads some Metadata v12 requests with 3 bytes after the tagged fields).
fn decode_request_lenient(frame: Bytes) -> krafty_protocol::Result<RequestFrame> {
    let (req, trailing) = krafty_protocol::frame::decode_request_lenient(frame)?;
    if trailing > 0 {
        tracing::debug!(
            api = req.api_key().name(),
            version = req.header.request_api_version,
            trailing,
            "ignoring trailing request bytes"
        );
    }
    Ok(req)
}

fn route(ctx: &Ctx, body: RequestBody) -> Pending {
    use handlers::*;
    match body {
        RequestBody::ApiVersions(r) => api_versions::handle(ctx, r),
        RequestBody::Metadata(r) => metadata::handle(ctx, r),
        RequestBody::DescribeTopicPartitions(r) => describe_topic_partitions::handle(ctx, r),
        RequestBody::Produce(r) => produce::handle(ctx, r),
        RequestBody::Fetch(r) => fetch::handle(ctx, r),
        RequestBody::ListOffsets(r) => list_offsets::handle(ctx, r),
        RequestBody::CreateTopics(r) => topics::create_topics(ctx, r),
        RequestBody::DeleteTopics(r) => topics::delete_topics(ctx, r),
        RequestBody::CreatePartitions(r) => topics::create_partitions(ctx, r),
        RequestBody::DescribeCluster(r) => cluster::describe_cluster(ctx, r),
        RequestBody::DescribeConfigs(r) => configs::describe_configs(ctx, r),
        RequestBody::InitProducerId(r) => producer_id::handle(ctx, r),
        RequestBody::FindCoordinator(r) => coordinator::handle(ctx, r),
        RequestBody::AddPartitionsToTxn(r) => txn::add_partitions(ctx, r),
        RequestBody::AddOffsetsToTxn(r) => txn::add_offsets(ctx, r),
        RequestBody::EndTxn(r) => txn::end_txn(ctx, r),
        RequestBody::TxnOffsetCommit(r) => txn_offsets::handle(ctx, r),
        RequestBody::DescribeTransactions(r) => txn_admin::describe_transactions(ctx, r),
        RequestBody::ListTransactions(r) => txn_admin::list_transactions(ctx, r),
        RequestBody::DescribeProducers(r) => txn_admin::describe_producers(ctx, r),
        RequestBody::JoinGroup(r) => groups::join_group(ctx, r),
        RequestBody::SyncGroup(r) => groups::sync_group(ctx, r),
        RequestBody::Heartbeat(r) => groups::heartbeat(ctx, r),
        RequestBody::LeaveGroup(r) => groups::leave_group(ctx, r),
        RequestBody::ListGroups(r) => groups::list_groups(ctx, r),
        RequestBody::DescribeGroups(r) => groups::describe_groups(ctx, r),
        RequestBody::DeleteGroups(r) => groups::delete_groups(ctx, r),
        RequestBody::OffsetCommit(r) => offsets::offset_commit(ctx, r),
        RequestBody::OffsetFetch(r) => offsets::offset_fetch(ctx, r),
        RequestBody::DeleteRecords(r) => records::delete_records(ctx, r),
        RequestBody::OffsetDelete(r) => offset_delete::handle(ctx, r),
        RequestBody::OffsetForLeaderEpoch(r) => leader_epoch::handle(ctx, r),
        RequestBody::AlterConfigs(r) => configs::alter_configs(ctx, r),
        RequestBody::IncrementalAlterConfigs(r) => configs::incremental_alter_configs(ctx, r),
        RequestBody::DescribeUserScramCredentials(r) => scram_credentials::describe(ctx, r),
        RequestBody::AlterUserScramCredentials(r) => scram_credentials::alter(ctx, r),
        RequestBody::CreateAcls(r) => acls::create_acls(ctx, r),
        RequestBody::DescribeAcls(r) => acls::describe_acls(ctx, r),
        RequestBody::DeleteAcls(r) => acls::delete_acls(ctx, r),
        other => {
            tracing::warn!(api = other.api_key().name(), "no handler; closing");
            Pending::Ready(Reply::Close)
        }
    }
}
