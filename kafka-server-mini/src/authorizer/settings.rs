//! The authorizer's broker settings: `authorizer.class.name` (off when empty; Kafka's
//! `StandardAuthorizer` and `AclAuthorizer` names turn it on), `super.users`
//! (`User:admin;User:bob`) and `allow.everyone.if.no.acl.found` (default false).

use crate::error::{BrokerError, Result};

/// Kafka's KRaft authorizer class.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
/// Kafka's ZooKeeper-era authorizer class (accepted as the same authorizer).
pub const ACL_AUTHORIZER: &str = "kafka.security.authorizer.AclAuthorizer";

/// The authorizer settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerSettings {
    /// `authorizer.class.name` (empty: no authorizer, everything allowed).
    pub class_name: String,
    /// `super.users`.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`.
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerSettings {
    /// Whether an authorizer is configured.
    pub fn enabled(&self) -> bool {
        !self.class_name.is_empty()
    }

    /// Sets one key; `None` when the key is not an authorizer key.
    pub fn set(&mut self, key: &str, v: &str) -> Option<Result<()>> {
        let bad = |why: String| Some(Err(BrokerError::Config(why)));
        match key {
            "authorizer.class.name" => {
                if !v.is_empty() && v != STANDARD_AUTHORIZER && v != ACL_AUTHORIZER {
                    return bad(format!(
                        "`{key}` must be {STANDARD_AUTHORIZER} or {ACL_AUTHORIZER}, got `{v}`"
                    ));
                }
                self.class_name = v.to_string();
            }
            "super.users" => {
                let users: Vec<String> = v
                    .split(';')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect();
                if let Some(u) = users
                    .iter()
                    .find(|u| super::types::parse_principal(u).is_none())
                {
                    return bad(format!("`{key}`: `{u}` is not Type:name"));
                }
                self.super_users = users;
            }
            "allow.everyone.if.no.acl.found" => match v.to_ascii_lowercase().as_str() {
                "true" => self.allow_everyone_if_no_acl_found = true,
                "false" => self.allow_everyone_if_no_acl_found = false,
                _ => return bad(format!("invalid boolean `{v}` for `{key}`")),
            },
            _ => return None,
        }
        Some(Ok(()))
    }

    /// The current value of a key, if it is an authorizer key.
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "authorizer.class.name" => self.class_name.clone(),
            "super.users" => self.super_users.join(";"),
            "allow.everyone.if.no.acl.found" => self.allow_everyone_if_no_acl_found.to_string(),
            _ => return None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_settings() {
        let mut s = AuthorizerSettings::default();
        assert!(!s.enabled());
        assert!(s
            .set("authorizer.class.name", STANDARD_AUTHORIZER)
            .is_some_and(|r| r.is_ok()));
        assert!(s.enabled());
        assert!(s
            .set("authorizer.class.name", "com.Other")
            .is_some_and(|r| r.is_err()));
        assert!(s
            .set("super.users", "User:admin; User:bob")
            .is_some_and(|r| r.is_ok()));
        assert_eq!(s.super_users, vec!["User:admin", "User:bob"]);
        assert!(s.set("super.users", "admin").is_some_and(|r| r.is_err()));
        assert!(s
            .set("allow.everyone.if.no.acl.found", "maybe")
            .is_some_and(|r| r.is_err()));
        assert!(s.set("no.such", "x").is_none());
    }
}
