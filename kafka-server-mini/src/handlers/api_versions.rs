//! ApiVersions (key 18), versions 0-4.

use krafty_protocol::generated::api_versions_response::ApiVersion;
use krafty_protocol::generated::{ApiVersionsRequest, ApiVersionsResponse};

use super::{encode_response, Ctx};
use crate::error::code;
use crate::net::dispatch::served_apis;
use crate::net::{Pending, Reply};

fn table() -> Vec<ApiVersion> {
    served_apis()
        .into_iter()
        .map(|(k, r)| ApiVersion {
            api_key: k.key(),
            min_version: r.min,
            max_version: r.max,
            ..Default::default()
        })
        .collect()
}

/// Answers ApiVersions with the served APIs and versions.
pub fn handle(ctx: &Ctx, _req: ApiVersionsRequest) -> Pending {
    ctx.ready(&ApiVersionsResponse {
        error_code: code::NONE,
        api_keys: table(),
        ..Default::default()
    })
}

/// The v0 response with error 35 (UNSUPPORTED_VERSION) and the served ranges, for an
/// ApiVersions request of a version the broker does not serve.
pub fn unsupported(correlation_id: i32) -> Reply {
    encode_response(
        correlation_id,
        0,
        &ApiVersionsResponse {
            error_code: code::UNSUPPORTED_VERSION,
            api_keys: table(),
            ..Default::default()
        },
    )
}
