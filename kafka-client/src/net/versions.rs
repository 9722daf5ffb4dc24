//! ApiVersions negotiation: which version of each API to use with one broker.
//!
//! Owns: [`ApiVersions`], the broker's advertised ranges intersected with what the codec can
//! encode and what this client's code understands ([`client_range`]), and the handshake
//! itself ([`negotiate`]): ApiVersions at v3, retried at v0 when the broker answers
//! UNSUPPORTED_VERSION (whose body is always in the v0 layout). Must not: own sockets.

use std::collections::HashMap;

use krafty_protocol::generated::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use krafty_protocol::message::VersionRange;
use krafty_protocol::wire::StrBytes;

use super::connection::Connection;
use crate::error::{Error, KafkaCode, Result};

/// The first ApiVersions version the client tries.
pub const APIVERSIONS_FIRST_TRY: i16 = 3;

/// Versions this client's code handles for `api`, before intersecting with the codec's and
/// the broker's ranges. Produce needs v3+ (record batches v2); Fetch stays below v13 (which
/// names topics by id only); DeleteTopics below v6 (topic states); FindCoordinator below
/// v4 (batched keys); OffsetFetch below v8 (batched groups), OffsetCommit below v9;
/// AddPartitionsToTxn below v4 (v4+ are the brokers' batched verification) and EndTxn
/// below v5 (KIP-890 part 2's epoch bump per transaction, which this client does not do).
pub fn client_range(api: ApiKey) -> VersionRange {
    let codec = api.valid_versions();
    let (min, max) = match api {
        ApiKey::Produce => (3, 11),
        ApiKey::Fetch => (4, 12),
        ApiKey::ListOffsets => (1, 10),
        ApiKey::Metadata => (1, 12),
        ApiKey::DeleteTopics => (0, 5),
        ApiKey::FindCoordinator => (0, 3),
        ApiKey::OffsetFetch => (1, 7),
        ApiKey::OffsetCommit => (2, 8),
        ApiKey::JoinGroup => (0, 9),
        ApiKey::AddPartitionsToTxn => (0, 3),
        ApiKey::EndTxn => (0, 4),
        _ => (codec.min, codec.max),
    };
    VersionRange {
        min: min.max(codec.min),
        max: max.min(codec.max),
    }
}

/// The version ranges one broker advertised.
#[derive(Debug, Clone, Default)]
pub struct ApiVersions {
    ranges: HashMap<i16, VersionRange>,
}

impl ApiVersions {
    /// Ranges from an ApiVersions response.
    pub fn from_response(resp: &ApiVersionsResponse) -> Self {
        let ranges = resp
            .api_keys
            .iter()
            .map(|k| {
                (
                    k.api_key,
                    VersionRange {
                        min: k.min_version,
                        max: k.max_version,
                    },
                )
            })
            .collect();
        ApiVersions { ranges }
    }

    /// The broker's range for `api`, if it advertised one.
    pub fn broker_range(&self, api: ApiKey) -> Option<VersionRange> {
        self.ranges.get(&api.key()).copied()
    }

    /// The highest version of `api` that the broker, the codec and this client all support.
    pub fn pick(&self, api: ApiKey) -> Result<i16> {
        self.broker_range(api)
            .and_then(|b| b.intersect(&client_range(api)))
            .map(|r| r.max)
            .ok_or(Error::UnsupportedApi(api.name()))
    }
}

fn request(version: i16) -> ApiVersionsRequest {
    let mut req = ApiVersionsRequest::default();
    if version >= 3 {
        req.client_software_name = StrBytes::from_static_str("kafka-rs");
        req.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
    }
    req
}

/// Runs the ApiVersions handshake on a fresh connection.
pub async fn negotiate(conn: &Connection) -> Result<ApiVersions> {
    let mut version = APIVERSIONS_FIRST_TRY;
    for _ in 0..2 {
        let frame = conn.enqueue_raw::<ApiVersionsRequest>(version, &request(version))?;
        let bytes = frame.wait_bytes().await?;
        // A broker that does not know `version` answers UNSUPPORTED_VERSION in the v0 layout.
        let decoded = Connection::decode::<ApiVersionsResponse>(bytes.clone(), version)
            .or_else(|_| Connection::decode::<ApiVersionsResponse>(bytes, 0));
        let resp = decoded?;
        match KafkaCode::from_code(resp.error_code) {
            KafkaCode::None => return Ok(ApiVersions::from_response(&resp)),
            KafkaCode::UnsupportedVersion if version != 0 => {
                // Use the broker's highest ApiVersions version when it told us, else v0.
                let broker_max = resp
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions.key())
                    .map_or(0, |k| k.max_version);
                version = broker_max.clamp(0, version - 1);
                tracing::debug!(version, "ApiVersions: broker wants an older version");
            }
            _ => return Err(Error::broker(resp.error_code, "ApiVersions")),
        }
    }
    Err(Error::UnsupportedApi("ApiVersions"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use krafty_protocol::generated::api_versions_response::ApiVersion;

    #[test]
    fn pick_intersects_broker_codec_and_client() {
        let resp = ApiVersionsResponse {
            api_keys: vec![
                ApiVersion {
                    api_key: 0,
                    min_version: 0,
                    max_version: 99,
                    ..Default::default()
                },
                ApiVersion {
                    api_key: 1,
                    min_version: 0,
                    max_version: 3,
                    ..Default::default()
                },
                ApiVersion {
                    api_key: 3,
                    min_version: 0,
                    max_version: 9,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let v = ApiVersions::from_response(&resp);
        assert_eq!(v.pick(ApiKey::Produce).ok(), Some(11));
        assert!(matches!(
            v.pick(ApiKey::Fetch),
            Err(Error::UnsupportedApi(_))
        ));
        assert_eq!(v.pick(ApiKey::Metadata).ok(), Some(9));
        assert!(v.pick(ApiKey::JoinGroup).is_err());
    }
}
