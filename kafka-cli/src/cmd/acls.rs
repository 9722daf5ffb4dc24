//! `kafka-cli acls`: create, list and delete ACLs, with the flags of Kafka's `kafka-acls.sh`
//! (`--allow-principal User:alice --operation Read --topic T --resource-pattern-type
//! prefixed`, `--group G`, `--cluster`, `--transactional-id X`, `--deny-principal`).
//!
//! Owns: turning the flags into [`AclBinding`]s (create) or [`AclBindingFilter`]s (list,
//! delete) and printing them as `kafka-acls.sh --list` does. Everything it asks the
//! cluster goes through [`krafty_client::Admin`].

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use krafty_client::admin::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};
use krafty_client::Admin;

use super::client_args::{block_on, client_error, ClientArgs};
use super::CliError;

/// Arguments of `kafka-cli acls`.
#[derive(Debug, Args)]
pub struct AclsArgs {
    /// The `acls` subcommand to run.
    #[command(subcommand)]
    pub command: AclsCommand,
}

/// The `acls` subcommands.
#[derive(Debug, Subcommand)]
pub enum AclsCommand {
    /// Add ACLs (`kafka-acls.sh --add`): every principal x host x operation x resource.
    Create(AclArgs),
    /// List the ACLs matching the flags (`kafka-acls.sh --list`); all without flags.
    List(AclArgs),
    /// Delete the ACLs matching the flags (`kafka-acls.sh --remove --force`).
    Delete(AclArgs),
}

/// The ACL flags shared by the `acls` subcommands.
#[derive(Debug, Args)]
pub struct AclArgs {
    /// Brokers and `-X` admin settings.
    #[command(flatten)]
    pub client: ClientArgs,
    /// A principal to allow (`User:alice`); repeatable.
    #[arg(long, value_name = "PRINCIPAL")]
    pub allow_principal: Vec<String>,
    /// A principal to deny (`User:mallory`); repeatable.
    #[arg(long, value_name = "PRINCIPAL")]
    pub deny_principal: Vec<String>,
    /// A principal to list ACLs of (list and delete).
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Vec<String>,
    /// The host the allow ACLs apply to (`*` by default).
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// The host the deny ACLs apply to (`*` by default).
    #[arg(long, value_name = "HOST")]
    pub deny_host: Vec<String>,
    /// An operation (Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, All); repeatable.
    #[arg(long, value_name = "OPERATION")]
    pub operation: Vec<String>,
    /// A topic (`*` for every topic); repeatable.
    #[arg(long, short = 't')]
    pub topic: Vec<String>,
    /// A consumer group (`*` for every group); repeatable.
    #[arg(long, short = 'g')]
    pub group: Vec<String>,
    /// A transactional id; repeatable.
    #[arg(long)]
    pub transactional_id: Vec<String>,
    /// The cluster.
    #[arg(long)]
    pub cluster: bool,
    /// literal, prefixed (create); also any, match (list, delete). Default: literal.
    #[arg(long, value_name = "TYPE", default_value = "literal")]
    pub resource_pattern_type: String,
}

fn parse<T>(text: &str, what: &str, f: fn(&str) -> Option<T>) -> Result<T, CliError> {
    f(text).ok_or_else(|| CliError::msg(format!("unknown {what} `{text}`")))
}

impl AclArgs {
    fn resources(&self) -> Vec<(ResourceType, String)> {
        let mut out: Vec<(ResourceType, String)> = Vec::new();
        out.extend(self.topic.iter().map(|t| (ResourceType::Topic, t.clone())));
        out.extend(self.group.iter().map(|g| (ResourceType::Group, g.clone())));
        out.extend(
            self.transactional_id
                .iter()
                .map(|t| (ResourceType::TransactionalId, t.clone())),
        );
        if self.cluster {
            out.push((ResourceType::Cluster, "kafka-cluster".to_string()));
        }
        out
    }

    fn operations(&self, default: AclOperation) -> Result<Vec<AclOperation>, CliError> {
        if self.operation.is_empty() {
            return Ok(vec![default]);
        }
        self.operation
            .iter()
            .map(|o| parse(o, "operation", AclOperation::parse))
            .collect()
    }

    fn pattern(&self) -> Result<PatternType, CliError> {
        parse(
            &self.resource_pattern_type,
            "resource pattern type",
            PatternType::parse,
        )
    }

    /// The bindings `create` adds.
    fn bindings(&self) -> Result<Vec<AclBinding>, CliError> {
        let pattern = self.pattern()?;
        if !matches!(pattern, PatternType::Literal | PatternType::Prefixed) {
            return Err(CliError::msg(
                "create needs --resource-pattern-type literal or prefixed",
            ));
        }
        if self.operation.is_empty() {
            return Err(CliError::msg("create needs --operation"));
        }
        let ops = self.operations(AclOperation::All)?;
        let resources = self.resources();
        if resources.is_empty() {
            return Err(CliError::msg(
                "create needs a resource: --topic, --group, --transactional-id or --cluster",
            ));
        }
        let mut who: Vec<(String, String, AclPermissionType)> = Vec::new();
        for (principals, hosts, perm) in [
            (
                &self.allow_principal,
                &self.allow_host,
                AclPermissionType::Allow,
            ),
            (
                &self.deny_principal,
                &self.deny_host,
                AclPermissionType::Deny,
            ),
        ] {
            let hosts = if hosts.is_empty() {
                vec!["*".to_string()]
            } else {
                hosts.clone()
            };
            for p in principals {
                for h in &hosts {
                    who.push((p.clone(), h.clone(), perm));
                }
            }
        }
        if who.is_empty() {
            return Err(CliError::msg(
                "create needs --allow-principal or --deny-principal",
            ));
        }
        let mut out = Vec::new();
        for (rt, name) in &resources {
            for (principal, host, perm) in &who {
                for op in &ops {
                    out.push(AclBinding {
                        resource_type: *rt,
                        resource_name: name.clone(),
                        pattern_type: pattern,
                        principal: principal.clone(),
                        host: host.clone(),
                        operation: *op,
                        permission: *perm,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The filters `list` and `delete` use.
    fn filters(&self) -> Result<Vec<AclBindingFilter>, CliError> {
        let pattern = self.pattern()?;
        let ops = self.operations(AclOperation::Any)?;
        let mut resources: Vec<(ResourceType, Option<String>)> = self
            .resources()
            .into_iter()
            .map(|(t, n)| (t, Some(n)))
            .collect();
        if resources.is_empty() {
            resources.push((ResourceType::Any, None));
        }
        let mut who: Vec<(Option<String>, AclPermissionType)> = Vec::new();
        who.extend(
            self.allow_principal
                .iter()
                .map(|p| (Some(p.clone()), AclPermissionType::Allow)),
        );
        who.extend(
            self.deny_principal
                .iter()
                .map(|p| (Some(p.clone()), AclPermissionType::Deny)),
        );
        who.extend(
            self.principal
                .iter()
                .map(|p| (Some(p.clone()), AclPermissionType::Any)),
        );
        if who.is_empty() {
            who.push((None, AclPermissionType::Any));
        }
        let mut out = Vec::new();
        for (rt, name) in &resources {
            for (principal, perm) in &who {
                for op in &ops {
                    out.push(AclBindingFilter {
                        resource_type: *rt,
                        resource_name: name.clone(),
                        pattern_type: if name.is_none() && pattern == PatternType::Literal {
                            PatternType::Any
                        } else {
                            pattern
                        },
                        principal: principal.clone(),
                        host: None,
                        operation: *op,
                        permission: *perm,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Prints bindings grouped by resource pattern, as `kafka-acls.sh --list`.
fn print_acls(out: &mut impl Write, acls: &[AclBinding]) -> io::Result<()> {
    let mut by: BTreeMap<(ResourceType, String, PatternType), Vec<&AclBinding>> = BTreeMap::new();
    for a in acls {
        by.entry((a.resource_type, a.resource_name.clone(), a.pattern_type))
            .or_default()
            .push(a);
    }
    for ((rt, name, pt), list) in by {
        writeln!(
            out,
            "Current ACLs for resource `ResourcePattern(resourceType={rt}, name={name}, patternType={pt})`:"
        )?;
        for a in list {
            writeln!(
                out,
                " \t(principal={}, host={}, operation={}, permissionType={})",
                a.principal, a.host, a.operation, a.permission
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Runs an `acls` subcommand.
pub fn run(args: &AclsArgs) -> Result<ExitCode, CliError> {
    let a = match &args.command {
        AclsCommand::Create(a) | AclsCommand::List(a) | AclsCommand::Delete(a) => a,
    };
    let admin_cfg = a.client.admin_config()?;
    block_on(async {
        let admin = Admin::new(admin_cfg);
        let result = run_with(&admin, &args.command).await;
        admin.close();
        result
    })
}

async fn run_with(admin: &Admin, command: &AclsCommand) -> Result<ExitCode, CliError> {
    let mut out = io::stdout().lock();
    match command {
        AclsCommand::Create(a) => {
            let bindings = a.bindings()?;
            let results = admin
                .create_acls(&bindings)
                .await
                .map_err(|e| client_error("cannot create ACLs", e))?;
            let mut failed = false;
            for (b, r) in bindings.iter().zip(results) {
                match r {
                    Ok(()) => writeln!(out, "Added ACL {b}")?,
                    Err(e) => {
                        failed = true;
                        eprintln!("kafka-cli: error: {b}: {e}");
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        AclsCommand::List(a) => {
            let mut all: Vec<AclBinding> = Vec::new();
            for f in a.filters()? {
                let found = admin
                    .describe_acls(&f)
                    .await
                    .map_err(|e| client_error("cannot list ACLs", e))?;
                all.extend(found);
            }
            all.sort();
            all.dedup();
            print_acls(&mut out, &all)?;
        }
        AclsCommand::Delete(a) => {
            let filters = a.filters()?;
            let results = admin
                .delete_acls(&filters)
                .await
                .map_err(|e| client_error("cannot delete ACLs", e))?;
            let mut removed = Vec::new();
            for r in results {
                removed.extend(r.map_err(|e| client_error("cannot delete ACLs", e))?);
            }
            writeln!(out, "Removed {} ACL(s)", removed.len())?;
            print_acls(&mut out, &removed)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(subcommand)]
        c: AclsCommand,
    }

    #[test]
    fn flags_make_kafka_acls_bindings() {
        let t = T::parse_from([
            "x",
            "create",
            "-b",
            "h:1",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Read",
            "--operation",
            "describe_configs",
            "--topic",
            "orders-",
            "--resource-pattern-type",
            "prefixed",
            "--group",
            "G",
        ]);
        let AclsCommand::Create(a) = t.c else {
            panic!("create");
        };
        let b = a.bindings().unwrap();
        assert_eq!(b.len(), 4);
        assert!(b.iter().all(|b| b.pattern_type == PatternType::Prefixed
            && b.permission == AclPermissionType::Allow
            && b.host == "*"));
        assert_eq!(b[1].operation, AclOperation::DescribeConfigs);
        assert_eq!(b[2].resource_type, ResourceType::Group);
        let t = T::parse_from(["x", "list", "-b", "h:1"]);
        let AclsCommand::List(a) = t.c else {
            panic!("list");
        };
        assert_eq!(a.filters().unwrap(), vec![AclBindingFilter::any()]);
        let t = T::parse_from([
            "x",
            "create",
            "-b",
            "h:1",
            "--cluster",
            "--deny-principal",
            "User:m",
        ]);
        let AclsCommand::Create(a) = t.c else {
            panic!("create");
        };
        assert!(a.bindings().is_err(), "an operation is required");
    }
}
