//! CreateAcls (30), DescribeAcls (29) and DeleteAcls (31), as Kafka answers them:
//! SECURITY_DISABLED without an authorizer, INVALID_REQUEST for a bad binding or filter,
//! the cluster ALTER / DESCRIBE checks in `authz`.

use krafty_protocol::generated::create_acls_response::AclCreationResult;
use krafty_protocol::generated::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use krafty_protocol::generated::describe_acls_response::{AclDescription, DescribeAclsResource};
use krafty_protocol::generated::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::authorizer::{AclBinding, AclFilter, PatternType};
use crate::error::code;
use crate::net::Pending;

const DISABLED: &str = "No Authorizer is configured on the broker";

fn s(v: &str) -> StrBytes {
    StrBytes::from(v.to_string())
}

/// Answers CreateAcls: each creation is validated and stored (all valid ones in one write).
pub fn create_acls(ctx: &Ctx, req: CreateAclsRequest) -> Pending {
    let disabled = !ctx.state.authorizer.enabled();
    let parsed: Vec<Result<AclBinding, (i16, String)>> = req
        .creations
        .iter()
        .map(|c| {
            if disabled {
                return Err((code::SECURITY_DISABLED, DISABLED.to_string()));
            }
            AclBinding::from_wire(
                c.resource_type,
                &c.resource_name,
                c.resource_pattern_type,
                &c.principal,
                &c.host,
                c.operation,
                c.permission_type,
            )
            .map_err(|e| (code::INVALID_REQUEST, e.0))
        })
        .collect();
    let valid: Vec<AclBinding> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let stored = if valid.is_empty() {
        Ok(())
    } else {
        ctx.state.authorizer.store.add(&valid)
    };
    if let Err(e) = &stored {
        tracing::error!(error = %e, "could not store ACLs");
    } else if !valid.is_empty() {
        tracing::info!(principal = %ctx.principal, count = valid.len(), "ACLs created");
    }
    let results = parsed
        .into_iter()
        .map(|p| {
            let (error_code, msg) = match (p, &stored) {
                (Err((c, m)), _) => (c, Some(m)),
                (Ok(_), Err(e)) => (code::UNKNOWN_SERVER_ERROR, Some(e.to_string())),
                (Ok(_), Ok(())) => (code::NONE, None),
            };
            AclCreationResult {
                error_code,
                error_message: msg.as_deref().map(s),
                ..Default::default()
            }
        })
        .collect();
    ctx.ready(&CreateAclsResponse {
        results,
        ..Default::default()
    })
}

fn filter_of(
    rt: i8,
    name: Option<&StrBytes>,
    pt: i8,
    who: Option<&StrBytes>,
    host: Option<&StrBytes>,
    op: i8,
    perm: i8,
) -> Result<AclFilter, String> {
    AclFilter::from_wire(
        rt,
        name.map(|n| n.as_str()),
        pt,
        who.map(|n| n.as_str()),
        host.map(|n| n.as_str()),
        op,
        perm,
    )
    .map_err(|e| e.0)
}

/// Answers DescribeAcls: the matching bindings grouped by resource pattern.
pub fn describe_acls(ctx: &Ctx, req: DescribeAclsRequest) -> Pending {
    let error = |c: i16, m: &str| {
        ctx.ready(&DescribeAclsResponse {
            error_code: c,
            error_message: Some(s(m)),
            ..Default::default()
        })
    };
    if !ctx.state.authorizer.enabled() {
        return error(code::SECURITY_DISABLED, DISABLED);
    }
    let filter = match filter_of(
        req.resource_type_filter,
        req.resource_name_filter.as_ref(),
        req.pattern_type_filter,
        req.principal_filter.as_ref(),
        req.host_filter.as_ref(),
        req.operation,
        req.permission_type,
    ) {
        Ok(f) => f,
        Err(m) => return error(code::INVALID_REQUEST, &m),
    };
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for b in ctx.state.authorizer.store.matching(&filter) {
        let desc = AclDescription {
            principal: s(&b.principal),
            host: s(&b.host),
            operation: b.operation.code(),
            permission_type: b.permission.code(),
            ..Default::default()
        };
        let same = |r: &&mut DescribeAclsResource| {
            r.resource_type == b.resource_type.code()
                && r.resource_name.as_str() == b.resource_name
                && r.pattern_type == b.pattern_type.code()
        };
        match resources.iter_mut().find(same) {
            Some(r) => r.acls.push(desc),
            None => resources.push(DescribeAclsResource {
                resource_type: b.resource_type.code(),
                resource_name: s(&b.resource_name),
                pattern_type: b.pattern_type.code(),
                acls: vec![desc],
                ..Default::default()
            }),
        }
    }
    ctx.ready(&DescribeAclsResponse {
        resources,
        ..Default::default()
    })
}

/// Answers DeleteAcls: per filter, the bindings it removed.
pub fn delete_acls(ctx: &Ctx, req: DeleteAclsRequest) -> Pending {
    let disabled = !ctx.state.authorizer.enabled();
    let parsed: Vec<Result<AclFilter, (i16, String)>> = req
        .filters
        .iter()
        .map(|f| {
            if disabled {
                return Err((code::SECURITY_DISABLED, DISABLED.to_string()));
            }
            filter_of(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
            )
            .map_err(|m| (code::INVALID_REQUEST, m))
        })
        .collect();
    let valid: Vec<AclFilter> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let removed = ctx.state.authorizer.store.remove(&valid);
    let mut removed_iter = match &removed {
        Ok(r) => r.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    let filter_results = parsed
        .into_iter()
        .map(|p| match (p, &removed) {
            (Err((c, m)), _) => DeleteAclsFilterResult {
                error_code: c,
                error_message: Some(s(&m)),
                ..Default::default()
            },
            (Ok(_), Err(e)) => DeleteAclsFilterResult {
                error_code: code::UNKNOWN_SERVER_ERROR,
                error_message: Some(s(&e.to_string())),
                ..Default::default()
            },
            (Ok(_), Ok(_)) => DeleteAclsFilterResult {
                matching_acls: removed_iter
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| DeleteAclsMatchingAcl {
                        resource_type: b.resource_type.code(),
                        resource_name: s(&b.resource_name),
                        pattern_type: if ctx.version == 0 {
                            PatternType::Literal.code()
                        } else {
                            b.pattern_type.code()
                        },
                        principal: s(&b.principal),
                        host: s(&b.host),
                        operation: b.operation.code(),
                        permission_type: b.permission.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        })
        .collect();
    if let Ok(r) = &removed {
        tracing::info!(principal = %ctx.principal, count = r.iter().map(Vec::len).sum::<usize>(), "ACLs deleted");
    }
    ctx.ready(&DeleteAclsResponse {
        filter_results,
        ..Default::default()
    })
}
