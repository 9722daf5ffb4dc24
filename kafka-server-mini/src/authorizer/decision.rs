//! The authorization decision, as Kafka's `StandardAuthorizer`: super users may do
//! anything; a matching DENY wins over every ALLOW; an ALLOW of the operation, of ALL, or
//! of an operation implying it (READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS
//! implies DESCRIBE_CONFIGS) allows; a resource no ACL matches at all is allowed only with
//! `allow.everyone.if.no.acl.found`.

use super::types::{AclBinding, AclOperation, Permission, ResourceType};
use crate::security::Principal;

/// The settings the decision depends on besides the ACLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `super.users`, as `Type:name` strings.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`.
    pub allow_if_no_acl: bool,
}

/// The operations an ALLOW of `acl_op` grants besides itself.
fn implies(acl_op: AclOperation, op: AclOperation) -> bool {
    use AclOperation::*;
    acl_op == All
        || acl_op == op
        || (op == Describe && matches!(acl_op, Read | Write | Delete | Alter))
        || (op == DescribeConfigs && acl_op == AlterConfigs)
}

/// Whether `principal` connecting from `host` may do `op` on resource `name` of type `kind`.
pub fn authorize<'a>(
    acls: impl IntoIterator<Item = &'a AclBinding>,
    rules: &Rules,
    principal: &Principal,
    host: &str,
    op: AclOperation,
    kind: ResourceType,
    name: &str,
) -> bool {
    let me = principal.to_string();
    if rules.super_users.contains(&me) {
        return true;
    }
    let mut any_for_resource = false;
    let mut allowed = false;
    for acl in acls.into_iter().filter(|a| a.matches_resource(kind, name)) {
        any_for_resource = true;
        if !acl.matches_who(principal, host) {
            continue;
        }
        match acl.permission {
            Permission::Deny if acl.operation == AclOperation::All || acl.operation == op => {
                return false
            }
            Permission::Allow if implies(acl.operation, op) => allowed = true,
            _ => {}
        }
    }
    if !any_for_resource {
        return rules.allow_if_no_acl;
    }
    allowed
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::authorizer::types::PatternType;

    fn acl(
        name: &str,
        pattern: PatternType,
        who: &str,
        op: AclOperation,
        perm: Permission,
    ) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: who.into(),
            host: "*".into(),
            operation: op,
            permission: perm,
        }
    }

    fn can(acls: &[AclBinding], rules: &Rules, user: &str, op: AclOperation, topic: &str) -> bool {
        authorize(
            acls,
            rules,
            &Principal::user(user),
            "127.0.0.1",
            op,
            ResourceType::Topic,
            topic,
        )
    }

    use AclOperation::*;
    use PatternType::*;
    use Permission::*;

    #[test]
    fn deny_wins_over_allow() {
        let acls = [
            acl("t", Literal, "User:alice", Read, Allow),
            acl("t", Prefixed, "User:*", Read, Deny),
        ];
        assert!(!can(&acls, &Rules::default(), "alice", Read, "t"));
        let acls = [
            acl("*", Literal, "User:alice", All, Allow),
            acl("t", Literal, "User:alice", All, Deny),
        ];
        assert!(!can(&acls, &Rules::default(), "alice", Write, "t"));
        assert!(can(&acls, &Rules::default(), "alice", Write, "u"));
    }

    #[test]
    fn prefixed_and_wildcards() {
        let acls = [acl("orders-", Prefixed, "User:alice", Write, Allow)];
        let r = Rules::default();
        assert!(can(&acls, &r, "alice", Write, "orders-eu"));
        assert!(!can(&acls, &r, "alice", Write, "order"));
        assert!(!can(&acls, &r, "bob", Write, "orders-eu"));
        let acls = [acl("*", Literal, "User:*", Read, Allow)];
        assert!(can(&acls, &r, "anyone", Read, "x"));
        assert!(!can(&acls, &r, "anyone", Write, "x"));
        // host
        let mut h = acl("t", Literal, "User:alice", Read, Allow);
        h.host = "10.0.0.1".into();
        assert!(!can(&[h.clone()], &r, "alice", Read, "t"));
        h.host = "127.0.0.1".into();
        assert!(can(&[h], &r, "alice", Read, "t"));
        // a literal `*` name is the wildcard only as a literal pattern of that type
        let mut g = acl("*", Literal, "User:alice", Read, Allow);
        g.resource_type = ResourceType::Group;
        assert!(!can(&[g], &r, "alice", Read, "t"));
    }

    #[test]
    fn implied_operations() {
        let r = Rules::default();
        for op in [Read, Write, Delete, Alter] {
            let acls = [acl("t", Literal, "User:a", op, Allow)];
            assert!(can(&acls, &r, "a", Describe, "t"), "{op} implies DESCRIBE");
        }
        let acls = [acl("t", Literal, "User:a", Create, Allow)];
        assert!(!can(&acls, &r, "a", Describe, "t"));
        let acls = [acl("t", Literal, "User:a", AlterConfigs, Allow)];
        assert!(can(&acls, &r, "a", DescribeConfigs, "t"));
        assert!(!can(&acls, &r, "a", Describe, "t"));
        let acls = [acl("t", Literal, "User:a", Describe, Allow)];
        assert!(!can(&acls, &r, "a", Read, "t"));
        // a DENY of READ does not deny DESCRIBE
        let acls = [
            acl("t", Literal, "User:a", Describe, Allow),
            acl("t", Literal, "User:a", Read, Deny),
        ];
        assert!(can(&acls, &r, "a", Describe, "t"));
        assert!(!can(&acls, &r, "a", Read, "t"));
    }

    #[test]
    fn super_users_and_no_acl_default() {
        let denied = [acl("t", Literal, "User:*", All, Deny)];
        let r = Rules {
            super_users: vec!["User:admin".into(), "User:bob".into()],
            allow_if_no_acl: false,
        };
        assert!(can(&denied, &r, "bob", Write, "t"));
        assert!(!can(&denied, &r, "carol", Write, "t"));
        assert!(!can(&[], &r, "carol", Read, "free"));
        let open = Rules {
            allow_if_no_acl: true,
            ..r
        };
        assert!(can(&[], &open, "carol", Read, "free"));
        // an ACL on the resource for someone else: no longer "no ACL found"
        let other = [acl("free", Literal, "User:dave", Read, Allow)];
        assert!(!can(&other, &open, "carol", Read, "free"));
    }
}
