//! ACL binding types with Kafka's wire codes: resource types, pattern types, operations,
//! permissions, bindings and binding filters.

use crate::security::Principal;

macro_rules! wire_enum {
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

            /// Parses Kafka's name, case-insensitively and ignoring `_` (`Read`,
            /// `DescribeConfigs`, `describe_configs`).
            pub fn parse(text: &str) -> Option<Self> {
                let norm = |s: &str| s.replace('_', "").to_ascii_lowercase();
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

wire_enum!(
    /// What an ACL protects (Kafka's `ResourceType`).
    ResourceType {
        /// Any type (filters only).
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster (resource name `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user.
        User = 7, "USER";
    }
);

wire_enum!(
    /// How an ACL's resource name matches (KIP-290 `PatternType`).
    PatternType {
        /// Any pattern type with the exact name (filters only).
        Any = 1, "ANY";
        /// Every pattern that matches the name: literal, wildcard and prefixes (filters only).
        Match = 2, "MATCH";
        /// The exact name, or `*` for every resource.
        Literal = 3, "LITERAL";
        /// Every resource whose name starts with the name.
        Prefixed = 4, "PREFIXED";
    }
);

wire_enum!(
    /// An operation (Kafka's `AclOperation`).
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
        /// Inter-broker actions (replica fetches).
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
        /// Two-phase commit (KIP-939).
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
);

wire_enum!(
    /// Allow or deny (Kafka's `AclPermissionType`).
    Permission {
        /// Any permission (filters only).
        Any = 1, "ANY";
        /// Deny: wins over every allow.
        Deny = 2, "DENY";
        /// Allow.
        Allow = 3, "ALLOW";
    }
);

/// The resource name of the cluster.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The wildcard resource name (`*`, literal patterns only).
pub const WILDCARD: &str = "*";
/// The wildcard principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// One ACL: who may (or may not) do what on which resources, from which host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// The resource type (never ANY).
    pub resource_type: ResourceType,
    /// The resource name or prefix (`*` for every resource of a literal pattern).
    pub resource_name: String,
    /// LITERAL or PREFIXED.
    pub pattern_type: PatternType,
    /// `Type:name` (`User:alice`, `User:*`).
    pub principal: String,
    /// An IP address or `*`.
    pub host: String,
    /// The operation (never ANY).
    pub operation: AclOperation,
    /// ALLOW or DENY.
    pub permission: Permission,
}

/// Why a binding is not acceptable (answered with INVALID_REQUEST, as Kafka).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBinding(pub String);

impl std::fmt::Display for InvalidBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidBinding {}

/// Splits `Type:name`; `None` when there is no `:` or either part is empty.
pub fn parse_principal(text: &str) -> Option<(&str, &str)> {
    text.split_once(':')
        .filter(|(k, n)| !k.is_empty() && !n.is_empty())
}

impl AclBinding {
    /// Builds a binding from wire codes, with Kafka's validation.
    #[allow(clippy::too_many_arguments)]
    pub fn from_wire(
        resource_type: i8,
        resource_name: &str,
        pattern_type: i8,
        principal: &str,
        host: &str,
        operation: i8,
        permission: i8,
    ) -> Result<Self, InvalidBinding> {
        let bad = |why: String| Err(InvalidBinding(why));
        let resource_type = match ResourceType::from_code(resource_type) {
            Some(ResourceType::Any) | None => {
                return bad(format!("invalid resource type {resource_type}"))
            }
            Some(t) => t,
        };
        let pattern_type = match PatternType::from_code(pattern_type) {
            Some(p @ (PatternType::Literal | PatternType::Prefixed)) => p,
            _ => return bad(format!("invalid pattern type {pattern_type}")),
        };
        let operation = match AclOperation::from_code(operation) {
            Some(AclOperation::Any) | None => return bad(format!("invalid operation {operation}")),
            Some(o) => o,
        };
        let permission = match Permission::from_code(permission) {
            Some(Permission::Any) | None => {
                return bad(format!("invalid permission type {permission}"))
            }
            Some(p) => p,
        };
        let binding = AclBinding {
            resource_type,
            resource_name: resource_name.to_string(),
            pattern_type,
            principal: principal.to_string(),
            host: host.to_string(),
            operation,
            permission,
        };
        binding.validate()?;
        Ok(binding)
    }

    /// Kafka's checks of a new binding: a resource name, `kafka-cluster` for the cluster,
    /// a `Type:name` principal, a host, and no prefixed wildcard.
    pub fn validate(&self) -> Result<(), InvalidBinding> {
        let bad = |why: &str| Err(InvalidBinding(why.to_string()));
        if self.resource_name.is_empty() {
            return bad("resource name must not be empty");
        }
        if self.resource_type == ResourceType::Cluster && self.resource_name != CLUSTER_NAME {
            return bad("the only valid name for the CLUSTER resource is kafka-cluster");
        }
        if self.pattern_type == PatternType::Prefixed && self.resource_name == WILDCARD {
            return bad("a PREFIXED pattern cannot be the wildcard `*`");
        }
        if parse_principal(&self.principal).is_none() {
            return bad("principal must be Type:name");
        }
        if self.host.is_empty() {
            return bad("host must not be empty");
        }
        if self.host != WILDCARD && self.host.parse::<std::net::IpAddr>().is_err() {
            return bad("host must be `*` or an IP address");
        }
        Ok(())
    }

    /// Whether this binding's resource pattern matches resource `name` of type `kind`.
    pub fn matches_resource(&self, kind: ResourceType, name: &str) -> bool {
        if self.resource_type != kind {
            return false;
        }
        match self.pattern_type {
            PatternType::Literal => self.resource_name == name || self.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(self.resource_name.as_str()),
            _ => false,
        }
    }

    /// Whether this binding names `principal` (or `User:*`) and `host` (or `*`).
    pub fn matches_who(&self, principal: &Principal, host: &str) -> bool {
        let who = parse_principal(&self.principal)
            .is_some_and(|(k, n)| k == principal.kind && (n == principal.name || n == "*"));
        who && (self.host == WILDCARD || self.host == host)
    }
}

/// A filter over bindings (DescribeAcls, DeleteAcls): `None` and ANY match everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    /// The resource type, or ANY.
    pub resource_type: ResourceType,
    /// The resource name, or `None` for any.
    pub resource_name: Option<String>,
    /// LITERAL, PREFIXED, ANY or MATCH.
    pub pattern_type: PatternType,
    /// The principal, or `None` for any.
    pub principal: Option<String>,
    /// The host, or `None` for any.
    pub host: Option<String>,
    /// The operation, or ANY.
    pub operation: AclOperation,
    /// The permission, or ANY.
    pub permission: Permission,
}

impl AclFilter {
    /// A filter matching every binding.
    pub fn any() -> Self {
        AclFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: Permission::Any,
        }
    }

    /// Builds a filter from wire codes; unknown codes are INVALID_REQUEST.
    #[allow(clippy::too_many_arguments)]
    pub fn from_wire(
        resource_type: i8,
        resource_name: Option<&str>,
        pattern_type: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<Self, InvalidBinding> {
        let bad = |what: &str, c: i8| InvalidBinding(format!("invalid {what} {c} in filter"));
        Ok(AclFilter {
            resource_type: ResourceType::from_code(resource_type)
                .ok_or_else(|| bad("resource type", resource_type))?,
            resource_name: resource_name.map(str::to_string),
            pattern_type: PatternType::from_code(pattern_type)
                .ok_or_else(|| bad("pattern type", pattern_type))?,
            principal: principal.map(str::to_string),
            host: host.map(str::to_string),
            operation: AclOperation::from_code(operation)
                .ok_or_else(|| bad("operation", operation))?,
            permission: Permission::from_code(permission)
                .ok_or_else(|| bad("permission type", permission))?,
        })
    }

    /// Whether `b` passes this filter (Kafka's `AclBindingFilter.matches`).
    pub fn matches(&self, b: &AclBinding) -> bool {
        let rt = self.resource_type == ResourceType::Any || self.resource_type == b.resource_type;
        let name = match (self.pattern_type, &self.resource_name) {
            (PatternType::Match, Some(n)) => match b.pattern_type {
                PatternType::Literal => b.resource_name == *n || b.resource_name == WILDCARD,
                PatternType::Prefixed => n.starts_with(b.resource_name.as_str()),
                _ => false,
            },
            (PatternType::Match | PatternType::Any, None) => true,
            (PatternType::Any, Some(n)) => b.resource_name == *n,
            (p, n) => p == b.pattern_type && n.as_ref().is_none_or(|n| *n == b.resource_name),
        };
        let principal = self.principal.as_ref().is_none_or(|p| *p == b.principal);
        let host = self.host.as_ref().is_none_or(|h| *h == b.host);
        let op = self.operation == AclOperation::Any || self.operation == b.operation;
        let perm = self.permission == Permission::Any || self.permission == b.permission;
        rt && name && principal && host && op && perm
    }
}
