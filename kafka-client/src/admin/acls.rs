//! ACL administration: CreateAcls, DescribeAcls and DeleteAcls (sent to the controller,
//! else any broker), with typed bindings and filters as Java's `AclBinding` and
//! `AclBindingFilter`.
//!
//! A broker without an authorizer answers SECURITY_DISABLED; a principal without ALTER
//! (create, delete) or DESCRIBE (describe) on the cluster gets CLUSTER_AUTHORIZATION_FAILED;
//! a bad binding INVALID_REQUEST.

use krafty_protocol::generated::create_acls_request::AclCreation;
use krafty_protocol::generated::delete_acls_request::DeleteAclsFilter;
use krafty_protocol::generated::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use krafty_protocol::wire::StrBytes;

use super::{check, Admin};
use crate::error::{Error, Result};

macro_rules! acl_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $code:expr, $text:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vm])* $v,)*
        }

        impl $name {
            /// The wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$v => $code,)* }
            }

            /// The value of a wire code (`None` for UNKNOWN and unassigned codes).
            pub fn from_code(code: i8) -> Option<Self> {
                match code { $($code => Some($name::$v),)* _ => None }
            }

            /// Kafka's name (`TOPIC`, `PREFIXED`, `READ`, `ALLOW`).
            pub fn name(self) -> &'static str {
                match self { $($name::$v => $text,)* }
            }

            /// Parses Kafka's name case-insensitively, ignoring `_` and `-` (`Read`,
            /// `DescribeConfigs`, `describe_configs`, `prefixed`).
            pub fn parse(text: &str) -> Option<Self> {
                let norm = |s: &str| s.replace(['_', '-'], "").to_ascii_lowercase();
                let t = norm(text);
                [$($name::$v,)*].into_iter().find(|v| norm(v.name()) == t)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

acl_enum!(
    /// What an ACL protects.
    ResourceType {
        /// Any type (filters only).
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster (name `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user.
        User = 7, "USER";
    }
);

acl_enum!(
    /// How a resource name matches (KIP-290).
    PatternType {
        /// Any pattern type, exact name (filters only).
        Any = 1, "ANY";
        /// Every pattern matching the name: literal, wildcard, prefixes (filters only).
        Match = 2, "MATCH";
        /// The exact name, or `*` for every resource.
        Literal = 3, "LITERAL";
        /// Every resource whose name starts with the name.
        Prefixed = 4, "PREFIXED";
    }
);

acl_enum!(
    /// An operation.
    AclOperation {
        /// Any operation (filters only).
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Read.
        Read = 3, "READ";
        /// Write.
        Write = 4, "WRITE";
        /// Create.
        Create = 5, "CREATE";
        /// Delete.
        Delete = 6, "DELETE";
        /// Alter.
        Alter = 7, "ALTER";
        /// Describe.
        Describe = 8, "DESCRIBE";
        /// Inter-broker actions.
        ClusterAction = 9, "CLUSTER_ACTION";
        /// Describe configs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// Alter configs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// Idempotent produce.
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// Create delegation tokens.
        CreateTokens = 13, "CREATE_TOKENS";
        /// Describe delegation tokens.
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        /// Two-phase commit.
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
);

acl_enum!(
    /// Allow or deny.
    AclPermissionType {
        /// Any (filters only).
        Any = 1, "ANY";
        /// Deny (wins over allows).
        Deny = 2, "DENY";
        /// Allow.
        Allow = 3, "ALLOW";
    }
);

/// One ACL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// The resource type.
    pub resource_type: ResourceType,
    /// The resource name (`kafka-cluster` for the cluster, `*` for every resource).
    pub resource_name: String,
    /// LITERAL or PREFIXED.
    pub pattern_type: PatternType,
    /// `User:alice`, `User:*`.
    pub principal: String,
    /// An IP address or `*`.
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// ALLOW or DENY.
    pub permission: AclPermissionType,
}

impl AclBinding {
    /// An ALLOW or DENY of `operation` for `principal` from any host on a resource.
    pub fn new(
        resource_type: ResourceType,
        resource_name: &str,
        pattern_type: PatternType,
        principal: &str,
        operation: AclOperation,
        permission: AclPermissionType,
    ) -> Self {
        AclBinding {
            resource_type,
            resource_name: resource_name.to_string(),
            pattern_type,
            principal: principal.to_string(),
            host: "*".to_string(),
            operation,
            permission,
        }
    }

    /// The filter matching exactly this binding.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.resource_type,
            resource_name: Some(self.resource_name.clone()),
            pattern_type: self.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }
}

impl std::fmt::Display for AclBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "(resourceType={}, name={}, patternType={}, principal={}, host={}, operation={}, permissionType={})",
            self.resource_type,
            self.resource_name,
            self.pattern_type,
            self.principal,
            self.host,
            self.operation,
            self.permission
        )
    }
}

/// A filter over ACLs: `None` and the ANY values match everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingFilter {
    /// The resource type, or ANY.
    pub resource_type: ResourceType,
    /// The resource name, or `None`.
    pub resource_name: Option<String>,
    /// LITERAL, PREFIXED, ANY or MATCH.
    pub pattern_type: PatternType,
    /// The principal, or `None`.
    pub principal: Option<String>,
    /// The host, or `None`.
    pub host: Option<String>,
    /// The operation, or ANY.
    pub operation: AclOperation,
    /// The permission, or ANY.
    pub permission: AclPermissionType,
}

impl AclBindingFilter {
    /// The filter matching every ACL.
    pub fn any() -> Self {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from(v.to_string())
}

fn code_of<T>(code: i8, parse: fn(i8) -> Option<T>, what: &str) -> Result<T> {
    parse(code).ok_or_else(|| Error::InvalidResponse(format!("unknown ACL {what} code {code}")))
}

impl Admin {
    /// Creates `acls` (CreateAcls); one result per binding, in order.
    pub async fn create_acls(&self, acls: &[AclBinding]) -> Result<Vec<Result<()>>> {
        let req = CreateAclsRequest {
            creations: acls
                .iter()
                .map(|b| AclCreation {
                    resource_type: b.resource_type.code(),
                    resource_name: s(&b.resource_name),
                    resource_pattern_type: b.pattern_type.code(),
                    principal: s(&b.principal),
                    host: s(&b.host),
                    operation: b.operation.code(),
                    permission_type: b.permission.code(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let resp = self.controller().await?.send(&req).await?;
        if resp.results.len() != acls.len() {
            return Err(Error::InvalidResponse(format!(
                "CreateAcls: {} results for {} bindings",
                resp.results.len(),
                acls.len()
            )));
        }
        Ok(resp
            .results
            .iter()
            .zip(acls)
            .map(|(r, b)| {
                check(
                    r.error_code,
                    r.error_message.as_ref(),
                    format!("CreateAcls {b}"),
                )
            })
            .collect())
    }

    /// The ACLs `filter` matches (DescribeAcls).
    pub async fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>> {
        let req = DescribeAclsRequest {
            resource_type_filter: filter.resource_type.code(),
            resource_name_filter: filter.resource_name.as_deref().map(s),
            pattern_type_filter: filter.pattern_type.code(),
            principal_filter: filter.principal.as_deref().map(s),
            host_filter: filter.host.as_deref().map(s),
            operation: filter.operation.code(),
            permission_type: filter.permission.code(),
            ..Default::default()
        };
        let resp = self.controller().await?.send(&req).await?;
        check(resp.error_code, resp.error_message.as_ref(), "DescribeAcls")?;
        let mut out = Vec::new();
        for r in &resp.resources {
            for a in &r.acls {
                out.push(AclBinding {
                    resource_type: code_of(
                        r.resource_type,
                        ResourceType::from_code,
                        "resource type",
                    )?,
                    resource_name: r.resource_name.to_string(),
                    pattern_type: code_of(r.pattern_type, PatternType::from_code, "pattern type")?,
                    principal: a.principal.to_string(),
                    host: a.host.to_string(),
                    operation: code_of(a.operation, AclOperation::from_code, "operation")?,
                    permission: code_of(
                        a.permission_type,
                        AclPermissionType::from_code,
                        "permission",
                    )?,
                });
            }
        }
        Ok(out)
    }

    /// Deletes the ACLs each of `filters` matches (DeleteAcls); per filter, the deleted
    /// bindings or the filter's error.
    pub async fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>>>> {
        let req = DeleteAclsRequest {
            filters: filters
                .iter()
                .map(|f| DeleteAclsFilter {
                    resource_type_filter: f.resource_type.code(),
                    resource_name_filter: f.resource_name.as_deref().map(s),
                    pattern_type_filter: f.pattern_type.code(),
                    principal_filter: f.principal.as_deref().map(s),
                    host_filter: f.host.as_deref().map(s),
                    operation: f.operation.code(),
                    permission_type: f.permission.code(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let resp = self.controller().await?.send(&req).await?;
        if resp.filter_results.len() != filters.len() {
            return Err(Error::InvalidResponse(format!(
                "DeleteAcls: {} results for {} filters",
                resp.filter_results.len(),
                filters.len()
            )));
        }
        Ok(resp
            .filter_results
            .iter()
            .map(|r| {
                check(r.error_code, r.error_message.as_ref(), "DeleteAcls")?;
                r.matching_acls
                    .iter()
                    .map(|m| {
                        check(m.error_code, m.error_message.as_ref(), "DeleteAcls")?;
                        Ok(AclBinding {
                            resource_type: code_of(
                                m.resource_type,
                                ResourceType::from_code,
                                "resource type",
                            )?,
                            resource_name: m.resource_name.to_string(),
                            pattern_type: code_of(
                                m.pattern_type,
                                PatternType::from_code,
                                "pattern type",
                            )?,
                            principal: m.principal.to_string(),
                            host: m.host.to_string(),
                            operation: code_of(m.operation, AclOperation::from_code, "operation")?,
                            permission: code_of(
                                m.permission_type,
                                AclPermissionType::from_code,
                                "permission",
                            )?,
                        })
                    })
                    .collect()
            })
            .collect())
    }
}
