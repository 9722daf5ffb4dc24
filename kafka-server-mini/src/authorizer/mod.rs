//! ACLs and the authorizer (Kafka's `StandardAuthorizer` semantics).
//!
//! Owns: the binding types ([`types`]), the decision rules ([`decision`]), the durable ACL
//! file ([`store`]) and the settings ([`settings`]). Must not: know about requests (the
//! per-API checks are in `handlers::authz`).

pub mod decision;
pub mod settings;
pub mod store;
pub mod types;

use std::path::Path;

pub use settings::AuthorizerSettings;
pub use types::{AclBinding, AclFilter, AclOperation, PatternType, Permission, ResourceType};

use crate::error::Result;
use crate::security::Principal;

/// The broker's authorizer: off (everything allowed) unless `authorizer.class.name` is set.
#[derive(Debug)]
pub struct Authorizer {
    enabled: bool,
    rules: decision::Rules,
    /// The ACLs.
    pub store: store::AclStore,
}

impl Authorizer {
    /// Opens the ACL file in `data_dir` (read even when the authorizer is off, so that a bad
    /// file is noticed at start).
    pub fn open(settings: &AuthorizerSettings, data_dir: &Path) -> Result<Self> {
        Ok(Authorizer {
            enabled: settings.enabled(),
            rules: decision::Rules {
                super_users: settings.super_users.clone(),
                allow_if_no_acl: settings.allow_everyone_if_no_acl_found,
            },
            store: store::AclStore::open(data_dir)?,
        })
    }

    /// Whether an authorizer is configured.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether `principal` from `host` may do `op` on resource `name` of type `kind`.
    pub fn authorize(
        &self,
        principal: &Principal,
        host: &str,
        op: AclOperation,
        kind: ResourceType,
        name: &str,
    ) -> bool {
        if !self.enabled {
            return true;
        }
        let ok = self
            .store
            .with(|acls| decision::authorize(acls, &self.rules, principal, host, op, kind, name));
        if !ok {
            tracing::debug!(%principal, host, operation = %op, resource_type = %kind, resource = name, "denied");
        }
        ok
    }

    /// Whether `principal` may do `op` on SOME resource of type `kind` (Kafka's
    /// `authorizeByResourceType`, used by InitProducerId: an ALLOW on any topic, literal or
    /// prefixed, not overruled by a DENY of the same pattern or a wildcard DENY).
    pub fn authorize_any(
        &self,
        principal: &Principal,
        host: &str,
        op: AclOperation,
        kind: ResourceType,
    ) -> bool {
        if !self.enabled {
            return true;
        }
        let me = principal.to_string();
        if self.rules.super_users.contains(&me) {
            return true;
        }
        let acls = self.store.all();
        if self.rules.allow_if_no_acl && !acls.iter().any(|a| a.resource_type == kind) {
            return true;
        }
        let mine: Vec<&AclBinding> = acls
            .iter()
            .filter(|a| a.resource_type == kind && a.matches_who(principal, host))
            .collect();
        let denies = |a: &AclBinding| {
            a.permission == Permission::Deny
                && (a.operation == op || a.operation == AclOperation::All)
        };
        if mine
            .iter()
            .any(|a| denies(a) && a.pattern_type == PatternType::Literal && a.resource_name == "*")
        {
            return false;
        }
        mine.iter().any(|a| {
            a.permission == Permission::Allow
                && (a.operation == op || a.operation == AclOperation::All)
                && !mine.iter().any(|d| {
                    denies(d)
                        && d.pattern_type == a.pattern_type
                        && d.resource_name == a.resource_name
                })
        })
    }
}
