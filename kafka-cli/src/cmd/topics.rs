//! `kafka-cli topics`: list, create, describe and delete topics, like `kafka-topics.sh`.
//!
//! Owns: the `topics` subcommands and their output (`describe` prints the lines
//! `kafka-topics.sh --describe` prints, without topic ids and configs). Everything it asks
//! the cluster goes through [`krafty_client::Admin`].

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use krafty_client::net::TopicInfo;
use krafty_client::{Admin, KafkaCode, NewTopic};

use super::client_args::{block_on, client_error, parse_key_value, ClientArgs};
use super::CliError;

/// Arguments of `kafka-cli topics`.
#[derive(Debug, Args)]
pub struct TopicsArgs {
    /// The `topics` subcommand to run.
    #[command(subcommand)]
    pub command: TopicsCommand,
}

/// The `topics` subcommands.
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Print the names of the non-internal topics, one per line, sorted.
    List {
        /// Brokers and `-X` admin settings.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create a topic.
    Create(CreateArgs),
    /// Print partitions, leaders, replicas and in-sync replicas.
    Describe {
        /// Brokers and `-X` admin settings.
        #[command(flatten)]
        client: ClientArgs,
        /// The topic to describe (repeatable); all non-internal topics without it.
        #[arg(long, short = 't')]
        topic: Vec<String>,
    },
    /// Delete a topic.
    Delete {
        /// Brokers and `-X` admin settings.
        #[command(flatten)]
        client: ClientArgs,
        /// The topic to delete.
        #[arg(long, short = 't')]
        topic: String,
        /// Succeed when the topic does not exist.
        #[arg(long)]
        if_exists: bool,
    },
}

/// Arguments of `kafka-cli topics create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Brokers and `-X` admin settings.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The topic to create.
    #[arg(long, short = 't')]
    pub topic: String,
    /// Number of partitions (the broker's `num.partitions` without it).
    #[arg(long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Replication factor (the broker's default without it).
    #[arg(long, value_name = "R")]
    pub replication_factor: Option<i16>,
    /// A topic config (`--config retention.ms=60000`); repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,
    /// Succeed when the topic already exists.
    #[arg(long)]
    pub if_not_exists: bool,
}

/// Runs a `topics` subcommand.
pub fn run(args: &TopicsArgs) -> Result<ExitCode, CliError> {
    let client = match &args.command {
        TopicsCommand::List { client } => client,
        TopicsCommand::Create(c) => &c.client,
        TopicsCommand::Describe { client, .. } => client,
        TopicsCommand::Delete { client, .. } => client,
    };
    let admin_cfg = client.admin_config()?;
    block_on(async {
        let admin = Admin::new(admin_cfg);
        let result = run_with(&admin, &args.command).await;
        admin.close();
        result
    })
}

async fn run_with(admin: &Admin, command: &TopicsCommand) -> Result<ExitCode, CliError> {
    let mut out = io::stdout().lock();
    match command {
        TopicsCommand::List { .. } => {
            let names = admin
                .list_topics()
                .await
                .map_err(|e| client_error("cannot list topics", e))?;
            for name in names {
                writeln!(out, "{name}")?;
            }
        }
        TopicsCommand::Create(args) => {
            let mut topic = NewTopic::new(
                &args.topic,
                args.partitions.unwrap_or(-1),
                args.replication_factor.unwrap_or(-1),
            );
            for (k, v) in &args.config {
                topic = topic.config(k, v);
            }
            let result = admin
                .create_topics(&[topic])
                .await
                .map_err(|e| client_error(format_args!("cannot create topic `{}`", args.topic), e))?
                .pop()
                .unwrap_or_else(|| {
                    Err(krafty_client::Error::InvalidResponse(
                        "no CreateTopics result".into(),
                    ))
                });
            match result {
                Ok(()) => writeln!(out, "Created topic {}.", args.topic)?,
                Err(krafty_client::Error::Broker {
                    code: KafkaCode::TopicAlreadyExists,
                    ..
                }) if args.if_not_exists => {}
                Err(e) => {
                    return Err(client_error(
                        format_args!("cannot create topic `{}`", args.topic),
                        e,
                    ))
                }
            }
        }
        TopicsCommand::Describe { topic, .. } => {
            let names = if topic.is_empty() {
                admin
                    .list_topics()
                    .await
                    .map_err(|e| client_error("cannot list topics", e))?
            } else {
                topic.clone()
            };
            if names.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let topics = admin
                .describe_topics(&refs)
                .await
                .map_err(|e| client_error("cannot describe topics", e))?;
            for t in &topics {
                write_description(&mut out, t)?;
            }
        }
        TopicsCommand::Delete {
            topic, if_exists, ..
        } => {
            let result = admin
                .delete_topics(&[topic.as_str()])
                .await
                .map_err(|e| client_error(format_args!("cannot delete topic `{topic}`"), e))?
                .pop()
                .unwrap_or_else(|| {
                    Err(krafty_client::Error::InvalidResponse(
                        "no DeleteTopics result".into(),
                    ))
                });
            match result {
                Ok(()) => writeln!(out, "Deleted topic {topic}.")?,
                Err(krafty_client::Error::Broker {
                    code: KafkaCode::UnknownTopicOrPartition,
                    ..
                }) if *if_exists => {}
                Err(e) => {
                    return Err(client_error(
                        format_args!("cannot delete topic `{topic}`"),
                        e,
                    ))
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Joins broker ids with commas (`1,2,3`).
fn ids(list: &[i32]) -> String {
    list.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes `kafka-topics.sh --describe` lines for one topic: a summary line, then one
/// tab-indented line per partition.
pub fn write_description(out: &mut impl Write, t: &TopicInfo) -> io::Result<()> {
    let replication = t.partitions.first().map_or(0, |p| p.replicas.len());
    writeln!(
        out,
        "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}",
        t.name,
        t.partitions.len(),
        replication
    )?;
    for p in &t.partitions {
        writeln!(
            out,
            "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
            t.name,
            p.id,
            if p.leader < 0 {
                "none".to_string()
            } else {
                p.leader.to_string()
            },
            ids(&p.replicas),
            ids(&p.isr)
        )?;
    }
    Ok(())
}
