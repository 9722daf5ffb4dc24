//! DescribeUserScramCredentials and AlterUserScramCredentials over the broker's
//! [`crate::security::credentials::ScramStore`], with Kafka's per-user errors: an unknown
//! mechanism (UNSUPPORTED_SASL_MECHANISM), an empty name or iterations outside 4096..=16384
//! (UNACCEPTABLE_CREDENTIAL), a user named twice (DUPLICATE_RESOURCE), deleting or
//! describing what does not exist (RESOURCE_NOT_FOUND). A user's changes apply together or
//! not at all.

use std::collections::{BTreeMap, BTreeSet};

use krafty_protocol::generated::{
    alter_user_scram_credentials_response::AlterUserScramCredentialsResult,
    describe_user_scram_credentials_response::{
        CredentialInfo, DescribeUserScramCredentialsResult,
    },
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use krafty_protocol::sasl::scram::{Mechanism, ScramCredential};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::net::Pending;
use crate::security::credentials::ITERATIONS;
use crate::security::sasl::code::UNSUPPORTED_SASL_MECHANISM;

const RESOURCE_NOT_FOUND: i16 = 91;
const DUPLICATE_RESOURCE: i16 = 92;
const UNACCEPTABLE_CREDENTIAL: i16 = 93;
const KAFKA_STORAGE_ERROR: i16 = 56;

/// Answers DescribeUserScramCredentials (all users when none are named).
pub fn describe(ctx: &Ctx, req: DescribeUserScramCredentialsRequest) -> Pending {
    let all = ctx.state.scram.describe();
    let info = |creds: &Vec<(Mechanism, u32)>| {
        creds
            .iter()
            .map(|(m, i)| CredentialInfo {
                mechanism: m.kafka_type(),
                iterations: i32::try_from(*i).unwrap_or(i32::MAX),
                ..Default::default()
            })
            .collect()
    };
    let mut results = Vec::new();
    match req.users.filter(|u| !u.is_empty()) {
        None => {
            for (name, creds) in &all {
                results.push(DescribeUserScramCredentialsResult {
                    user: StrBytes::from(name.clone()),
                    credential_infos: info(creds),
                    ..Default::default()
                });
            }
        }
        Some(users) => {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for u in &users {
                *counts.entry(u.name.to_string()).or_default() += 1;
            }
            for (name, n) in counts {
                let mut r = DescribeUserScramCredentialsResult {
                    user: StrBytes::from(name.clone()),
                    ..Default::default()
                };
                if n > 1 {
                    r.error_code = DUPLICATE_RESOURCE;
                    r.error_message = Some(StrBytes::from(
                        "Cannot describe SCRAM credentials for the same user twice in a single request"
                            .to_string(),
                    ));
                } else if let Some(creds) = all.get(&name) {
                    r.credential_infos = info(creds);
                } else {
                    r.error_code = RESOURCE_NOT_FOUND;
                    r.error_message = Some(StrBytes::from(
                        "Attempt to describe a user credential that does not exist".to_string(),
                    ));
                }
                results.push(r);
            }
        }
    }
    ctx.ready(&DescribeUserScramCredentialsResponse {
        results,
        ..Default::default()
    })
}

/// Answers AlterUserScramCredentials.
pub fn alter(ctx: &Ctx, req: AlterUserScramCredentialsRequest) -> Pending {
    let store = &ctx.state.scram;
    let mut errors: BTreeMap<String, (i16, String)> = BTreeMap::new();
    let mut seen: BTreeSet<(String, i8)> = BTreeSet::new();
    let mut users: Vec<String> = Vec::new();
    let fail = |errors: &mut BTreeMap<String, (i16, String)>, name: &str, code, msg: &str| {
        errors
            .entry(name.to_string())
            .or_insert((code, msg.to_string()));
    };
    let mut deletions = Vec::new();
    for d in &req.deletions {
        let name = d.name.to_string();
        users.push(name.clone());
        let Some(m) = Mechanism::from_kafka_type(d.mechanism) else {
            fail(
                &mut errors,
                &name,
                UNSUPPORTED_SASL_MECHANISM,
                "Unknown SCRAM mechanism",
            );
            continue;
        };
        if name.is_empty() {
            fail(
                &mut errors,
                &name,
                UNACCEPTABLE_CREDENTIAL,
                "Username must not be empty",
            );
        } else if !seen.insert((name.clone(), d.mechanism)) {
            fail(
                &mut errors,
                &name,
                DUPLICATE_RESOURCE,
                "A user credential cannot be altered twice in the same request",
            );
        } else if store.get(&name, m).is_none() {
            fail(
                &mut errors,
                &name,
                RESOURCE_NOT_FOUND,
                "Attempt to delete a user credential that does not exist",
            );
        }
        deletions.push((name, m));
    }
    let mut upserts = Vec::new();
    for u in &req.upsertions {
        let name = u.name.to_string();
        users.push(name.clone());
        let Some(m) = Mechanism::from_kafka_type(u.mechanism) else {
            fail(
                &mut errors,
                &name,
                UNSUPPORTED_SASL_MECHANISM,
                "Unknown SCRAM mechanism",
            );
            continue;
        };
        let iterations = u32::try_from(u.iterations).unwrap_or(0);
        if name.is_empty() {
            fail(
                &mut errors,
                &name,
                UNACCEPTABLE_CREDENTIAL,
                "Username must not be empty",
            );
        } else if !seen.insert((name.clone(), u.mechanism)) {
            fail(
                &mut errors,
                &name,
                DUPLICATE_RESOURCE,
                "A user credential cannot be altered twice in the same request",
            );
        } else if iterations < *ITERATIONS.start() {
            fail(
                &mut errors,
                &name,
                UNACCEPTABLE_CREDENTIAL,
                "Too few iterations",
            );
        } else if iterations > *ITERATIONS.end() {
            fail(
                &mut errors,
                &name,
                UNACCEPTABLE_CREDENTIAL,
                "Too many iterations",
            );
        } else if u.salt.is_empty() || u.salted_password.is_empty() {
            fail(
                &mut errors,
                &name,
                UNACCEPTABLE_CREDENTIAL,
                "Salt and salted password must not be empty",
            );
        }
        upserts.push((
            name,
            ScramCredential::from_salted_password(m, &u.salted_password, &u.salt, iterations),
        ));
    }
    upserts.retain(|(n, _)| !errors.contains_key(n));
    deletions.retain(|(n, _)| !errors.contains_key(n));
    let changed: BTreeSet<String> = upserts
        .iter()
        .map(|(n, _)| n.clone())
        .chain(deletions.iter().map(|(n, _)| n.clone()))
        .collect();
    if !changed.is_empty() {
        if let Err(e) = store.apply(upserts, &deletions) {
            tracing::warn!(error = %e, "could not persist SCRAM credentials");
            for n in &changed {
                fail(
                    &mut errors,
                    n,
                    KAFKA_STORAGE_ERROR,
                    "The credentials could not be stored",
                );
            }
        } else {
            tracing::info!(users = changed.len(), principal = %ctx.principal, "SCRAM credentials altered");
        }
    }
    let mut done = BTreeSet::new();
    let results = users
        .into_iter()
        .filter(|u| done.insert(u.clone()))
        .map(|u| {
            let (error_code, msg) = errors.get(&u).cloned().unwrap_or((0, String::new()));
            AlterUserScramCredentialsResult {
                user: StrBytes::from(u),
                error_code,
                error_message: (error_code != 0).then(|| StrBytes::from(msg)),
                ..Default::default()
            }
        })
        .collect();
    ctx.ready(&AlterUserScramCredentialsResponse {
        results,
        ..Default::default()
    })
}
