//! Every api key (0-87), every version in its spec's `validVersions`, requests and
//! responses, plus headers and data schemas: random valid values encode, decode back to the
//! same value, and re-encode to the same bytes; `encoded_len` matches what `encode` writes.
//!
//! Values come from the generated `testing::Random` impls, which only set fields present in
//! the version and null only where the version allows it.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use krafty_protocol::generated::{
    self, consumer_protocol_assignment::ConsumerProtocolAssignment,
    consumer_protocol_subscription::ConsumerProtocolSubscription, group_coordinator as gc,
    transaction_coordinator as tc, ApiKey, RequestBody, ResponseBody,
};
use krafty_protocol::message::{Decode, Encode, Message};
use krafty_protocol::testing::{Random, Rng};

const SEEDS: u64 = 24;

fn seed(key: i16, version: i16, i: u64) -> u64 {
    (key as u64) << 40 | (version as u64) << 24 | i
}

#[test]
fn every_api_key_and_version_round_trips() {
    assert_eq!(ApiKey::ALL.len(), 88);
    for (i, k) in ApiKey::ALL.iter().enumerate() {
        assert_eq!(k.key(), i as i16, "api keys are 0..=87 without gaps");
    }
    let mut pairs = 0;
    let mut versions = 0;
    for api in ApiKey::ALL {
        for version in api.valid_versions().iter() {
            versions += 1;
            for i in 0..SEEDS {
                let mut rng = Rng::new(seed(api.key(), version, i));
                let req = RequestBody::random(api, &mut rng, version);
                let mut out = BytesMut::new();
                req.encode(&mut out, version)
                    .unwrap_or_else(|e| panic!("{api:?} v{version} request encode: {e}"));
                assert_eq!(
                    out.len(),
                    req.encoded_len(version),
                    "{api:?} v{version} len"
                );
                let bytes = out.freeze();
                let back = RequestBody::decode(api, &mut bytes.clone(), version)
                    .unwrap_or_else(|e| panic!("{api:?} v{version} request decode: {e}"));
                assert_eq!(back, req, "{api:?} v{version} request");
                let mut again = BytesMut::new();
                back.encode(&mut again, version).unwrap();
                assert_eq!(again.freeze(), bytes, "{api:?} v{version} request bytes");

                let resp = ResponseBody::random(api, &mut rng, version);
                let mut out = BytesMut::new();
                resp.encode(&mut out, version)
                    .unwrap_or_else(|e| panic!("{api:?} v{version} response encode: {e}"));
                assert_eq!(out.len(), resp.encoded_len(version));
                let bytes = out.freeze();
                let back = ResponseBody::decode(api, &mut bytes.clone(), version)
                    .unwrap_or_else(|e| panic!("{api:?} v{version} response decode: {e}"));
                assert_eq!(back, resp, "{api:?} v{version} response");
                let mut again = BytesMut::new();
                back.encode(&mut again, version).unwrap();
                assert_eq!(again.freeze(), bytes, "{api:?} v{version} response bytes");
                pairs += 1;
            }
        }
    }
    eprintln!(
        "round-tripped {pairs} request/response pairs over {versions} (api, version) combinations"
    );
    // 327 = the sizes of `validVersions` summed over the 88 request specs (Kafka 4.0 specs).
    assert_eq!(versions, 327, "every version of every API");
}

fn round_trip<M: Message + Encode + Decode + Random + PartialEq + std::fmt::Debug>() -> usize {
    let mut n = 0;
    for version in M::VERSIONS.iter() {
        for i in 0..SEEDS {
            let mut rng = Rng::new(seed(0, version, i) ^ M::NAME.len() as u64);
            let m = M::random(&mut rng, version, 0);
            let mut out = BytesMut::new();
            m.encode(&mut out, version)
                .unwrap_or_else(|e| panic!("{} v{version} encode: {e}", M::NAME));
            assert_eq!(out.len(), m.encoded_len(version));
            let bytes: Bytes = out.freeze();
            let back = M::decode(&mut bytes.clone(), version)
                .unwrap_or_else(|e| panic!("{} v{version} decode: {e}", M::NAME));
            assert_eq!(back, m, "{} v{version}", M::NAME);
            n += 1;
        }
    }
    n
}

#[test]
fn headers_and_data_schemas_round_trip() {
    let mut n = 0;
    n += round_trip::<generated::RequestHeader>();
    n += round_trip::<generated::ResponseHeader>();
    n += round_trip::<ConsumerProtocolSubscription>();
    n += round_trip::<ConsumerProtocolAssignment>();
    n += round_trip::<generated::DefaultPrincipalData>();
    n += round_trip::<generated::LeaderChangeMessage>();
    n += round_trip::<generated::SnapshotHeaderRecord>();
    n += round_trip::<generated::SnapshotFooterRecord>();
    n += round_trip::<generated::VotersRecord>();
    n += round_trip::<generated::KRaftVersionRecord>();
    n += round_trip::<gc::OffsetCommitKey>();
    n += round_trip::<gc::OffsetCommitValue>();
    n += round_trip::<gc::GroupMetadataKey>();
    n += round_trip::<gc::GroupMetadataValue>();
    n += round_trip::<gc::ConsumerGroupMetadataKey>();
    n += round_trip::<gc::ConsumerGroupMetadataValue>();
    n += round_trip::<gc::ConsumerGroupMemberMetadataKey>();
    n += round_trip::<gc::ConsumerGroupMemberMetadataValue>();
    n += round_trip::<gc::ConsumerGroupPartitionMetadataKey>();
    n += round_trip::<gc::ConsumerGroupPartitionMetadataValue>();
    n += round_trip::<gc::ConsumerGroupTargetAssignmentMemberKey>();
    n += round_trip::<gc::ConsumerGroupTargetAssignmentMemberValue>();
    n += round_trip::<gc::ConsumerGroupTargetAssignmentMetadataKey>();
    n += round_trip::<gc::ConsumerGroupTargetAssignmentMetadataValue>();
    n += round_trip::<gc::ConsumerGroupCurrentMemberAssignmentKey>();
    n += round_trip::<gc::ConsumerGroupCurrentMemberAssignmentValue>();
    n += round_trip::<gc::ShareGroupMetadataKey>();
    n += round_trip::<gc::ShareGroupMetadataValue>();
    n += round_trip::<gc::ShareGroupMemberMetadataKey>();
    n += round_trip::<gc::ShareGroupMemberMetadataValue>();
    n += round_trip::<gc::ShareGroupPartitionMetadataKey>();
    n += round_trip::<gc::ShareGroupPartitionMetadataValue>();
    n += round_trip::<gc::ShareGroupStatePartitionMetadataKey>();
    n += round_trip::<gc::ShareGroupStatePartitionMetadataValue>();
    n += round_trip::<gc::ShareGroupTargetAssignmentMemberKey>();
    n += round_trip::<gc::ShareGroupTargetAssignmentMemberValue>();
    n += round_trip::<gc::ShareGroupTargetAssignmentMetadataKey>();
    n += round_trip::<gc::ShareGroupTargetAssignmentMetadataValue>();
    n += round_trip::<gc::ShareGroupCurrentMemberAssignmentKey>();
    n += round_trip::<gc::ShareGroupCurrentMemberAssignmentValue>();
    n += round_trip::<tc::TransactionLogKey>();
    n += round_trip::<tc::TransactionLogValue>();
    eprintln!("round-tripped {n} header and data-schema values");
}
