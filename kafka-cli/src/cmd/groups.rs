//! `kafka-cli groups`: list, describe and delete consumer groups and reset their offsets,
//! like `kafka-consumer-groups.sh`.
//!
//! Owns: the `groups` subcommands, the describe table (`GROUP TOPIC PARTITION
//! CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID`, one row per partition that
//! has a committed offset or an assigned member) and the offset-reset plan. Everything it
//! asks the cluster goes through [`krafty_client::Admin`].
//!
//! `reset-offsets` without `--execute` is a dry run: it prints the plan and changes nothing,
//! like Kafka's tool. Offsets can only be reset while the group has no active members; a
//! `--to-offset` outside a partition's log is moved to the nearest end, as Kafka does.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand};
use krafty_client::admin::{GroupDescription, OffsetSpec};
use krafty_client::{Admin, TopicPartition};

use super::client_args::{block_on, client_error, ClientArgs};
use super::CliError;

/// Arguments of `kafka-cli groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// The `groups` subcommand to run.
    #[command(subcommand)]
    pub command: GroupsCommand,
}

/// The `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Print the consumer groups, one per line, sorted.
    List {
        /// Brokers and `-X` admin settings.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print a group's partitions: committed offset, log end, lag and the owning member.
    Describe {
        /// Brokers and `-X` admin settings.
        #[command(flatten)]
        client: ClientArgs,
        /// The group.
        #[arg(long, short = 'g')]
        group: String,
    },
    /// Delete a group (it must have no active members).
    Delete {
        /// Brokers and `-X` admin settings.
        #[command(flatten)]
        client: ClientArgs,
        /// The group.
        #[arg(long, short = 'g')]
        group: String,
    },
    /// Move a group's committed offsets (dry run unless --execute).
    ResetOffsets(ResetArgs),
}

/// Arguments of `kafka-cli groups reset-offsets`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_offset"])))]
pub struct ResetArgs {
    /// Brokers and `-X` admin settings.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The group.
    #[arg(long, short = 'g')]
    pub group: String,
    /// The topic, or TOPIC:P,P,... for some of its partitions.
    #[arg(long, short = 't', value_name = "TOPIC[:PARTITIONS]")]
    pub topic: String,
    /// Reset to each partition's log start offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// Reset to each partition's log end offset.
    #[arg(long)]
    pub to_latest: bool,
    /// Reset to this offset (moved into the log when outside it).
    #[arg(long, value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// Apply the plan; without it only print it.
    #[arg(long)]
    pub execute: bool,
    /// Only print the plan (the default; for compatibility with Kafka's tool).
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
}

/// Runs a `groups` subcommand.
pub fn run(args: &GroupsArgs) -> Result<ExitCode, CliError> {
    let client = match &args.command {
        GroupsCommand::List { client }
        | GroupsCommand::Describe { client, .. }
        | GroupsCommand::Delete { client, .. } => client,
        GroupsCommand::ResetOffsets(r) => &r.client,
    };
    let admin_cfg = client.admin_config()?;
    block_on(async {
        let admin = Admin::new(admin_cfg);
        let result = run_with(&admin, &args.command).await;
        admin.close();
        result
    })
}

async fn run_with(admin: &Admin, command: &GroupsCommand) -> Result<ExitCode, CliError> {
    match command {
        GroupsCommand::List { .. } => {
            let mut groups: Vec<String> = admin
                .list_groups()
                .await
                .map_err(|e| client_error("cannot list groups", e))?
                .into_iter()
                .map(|g| g.group_id)
                .collect();
            groups.sort();
            let mut out = io::stdout().lock();
            for g in groups {
                writeln!(out, "{g}")?;
            }
            out.flush()?;
        }
        GroupsCommand::Describe { group, .. } => describe(admin, group).await?,
        GroupsCommand::Delete { group, .. } => {
            let result = admin
                .delete_groups(&[group.as_str()])
                .await
                .map_err(|e| client_error(format_args!("cannot delete group `{group}`"), e))?
                .pop()
                .unwrap_or_else(|| {
                    Err(krafty_client::Error::InvalidResponse(
                        "no DeleteGroups result".into(),
                    ))
                });
            result.map_err(|e| client_error(format_args!("cannot delete group `{group}`"), e))?;
            println!("Deletion of requested consumer groups ('{group}') was successful.");
        }
        GroupsCommand::ResetOffsets(args) => reset(admin, args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Describes one group; an unknown (dead) group is an error.
async fn describe_group(admin: &Admin, group: &str) -> Result<GroupDescription, CliError> {
    let description = admin
        .describe_groups(&[group])
        .await
        .map_err(|e| client_error(format_args!("cannot describe group `{group}`"), e))?
        .into_iter()
        .find(|d| d.group_id == group)
        .ok_or_else(|| CliError::msg(format!("no description of group `{group}`")))?;
    if description.state == "Dead" {
        return Err(CliError::msg(format!(
            "consumer group `{group}` does not exist"
        )));
    }
    Ok(description)
}

/// The log end offsets of `partitions` (empty input: empty map).
async fn log_end_offsets(
    admin: &Admin,
    partitions: impl IntoIterator<Item = TopicPartition>,
) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    offsets_at(admin, partitions, OffsetSpec::Latest).await
}

async fn offsets_at(
    admin: &Admin,
    partitions: impl IntoIterator<Item = TopicPartition>,
    spec: OffsetSpec,
) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    let query: Vec<(TopicPartition, OffsetSpec)> =
        partitions.into_iter().map(|tp| (tp, spec)).collect();
    if query.is_empty() {
        return Ok(BTreeMap::new());
    }
    let found = admin
        .list_offsets(&query)
        .await
        .map_err(|e| client_error("cannot list offsets", e))?;
    Ok(found.into_iter().map(|(tp, r)| (tp, r.offset)).collect())
}

/// One row of the describe table.
struct Row {
    tp: TopicPartition,
    current: Option<i64>,
    end: Option<i64>,
    member: Option<(String, String, String)>,
}

async fn describe(admin: &Admin, group: &str) -> Result<(), CliError> {
    let description = describe_group(admin, group).await?;
    let committed = admin
        .list_group_offsets(group)
        .await
        .map_err(|e| client_error(format_args!("cannot fetch the offsets of `{group}`"), e))?;
    let mut owners: BTreeMap<TopicPartition, (String, String, String)> = BTreeMap::new();
    for m in &description.members {
        for tp in &m.assignment {
            owners.insert(
                tp.clone(),
                (m.member_id.clone(), m.host.clone(), m.client_id.clone()),
            );
        }
    }
    let partitions: BTreeSet<TopicPartition> =
        committed.keys().chain(owners.keys()).cloned().collect();
    let ends = log_end_offsets(admin, partitions.iter().cloned()).await?;
    if description.members.is_empty() {
        eprintln!("Consumer group '{group}' has no active members.");
    }
    let rows: Vec<Row> = partitions
        .into_iter()
        .map(|tp| Row {
            current: committed.get(&tp).map(|o| o.offset).filter(|o| *o >= 0),
            end: ends.get(&tp).copied(),
            member: owners.get(&tp).cloned(),
            tp,
        })
        .collect();
    let mut out = io::stdout().lock();
    write_table(&mut out, group, &rows)?;
    out.flush()?;
    Ok(())
}

/// Formats an optional number, `-` when absent.
fn opt(n: Option<i64>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// Writes rows of cells as left-aligned columns separated by at least one space (two
/// between columns, like Kafka's tool).
fn write_columns(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let width = widths.get(c).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn write_table(out: &mut impl Write, group: &str, rows: &[Row]) -> io::Result<()> {
    let mut cells = vec![[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]
    .map(String::from)
    .to_vec()];
    for r in rows {
        let lag = match (r.current, r.end) {
            (Some(c), Some(e)) => Some((e - c).max(0)),
            _ => None,
        };
        let (member, host, client) = r
            .member
            .clone()
            .unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
        cells.push(vec![
            group.to_string(),
            r.tp.topic.to_string(),
            r.tp.partition.to_string(),
            opt(r.current),
            opt(r.end),
            opt(lag),
            member,
            host,
            client,
        ]);
    }
    write_columns(out, &cells)
}

/// Parses `TOPIC` or `TOPIC:P,P,...`.
pub fn parse_topic_partitions(s: &str) -> Result<(String, Option<Vec<i32>>), CliError> {
    match s.rsplit_once(':') {
        None => Ok((s.to_string(), None)),
        Some((topic, list)) => {
            let parts = list
                .split(',')
                .map(|p| p.trim().parse::<i32>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    CliError::msg(format!(
                        "--topic {s}: expected TOPIC or TOPIC:PARTITION,PARTITION,..."
                    ))
                })?;
            Ok((topic.to_string(), Some(parts)))
        }
    }
}

async fn reset(admin: &Admin, args: &ResetArgs) -> Result<(), CliError> {
    let group = args.group.as_str();
    let (topic, wanted) = parse_topic_partitions(&args.topic)?;
    let description = admin
        .describe_groups(&[group])
        .await
        .map_err(|e| client_error(format_args!("cannot describe group `{group}`"), e))?
        .into_iter()
        .find(|d| d.group_id == group);
    if let Some(d) = &description {
        if !d.members.is_empty() || !matches!(d.state.as_str(), "Empty" | "Dead" | "") {
            return Err(CliError::msg(format!(
                "assignments can only be reset if the group '{group}' is inactive, but the \
                 current state is {}",
                d.state
            )));
        }
    }
    let info = admin
        .describe_topics(&[topic.as_str()])
        .await
        .map_err(|e| client_error(format_args!("cannot describe topic `{topic}`"), e))?
        .pop()
        .ok_or_else(|| CliError::msg(format!("topic `{topic}` not found")))?;
    let all: Vec<i32> = info.partitions.iter().map(|p| p.id).collect();
    let chosen = match wanted {
        None => all,
        Some(list) => {
            if let Some(p) = list.iter().find(|p| !all.contains(p)) {
                return Err(CliError::msg(format!(
                    "partition {p} does not exist in topic `{topic}`"
                )));
            }
            list
        }
    };
    let tps: Vec<TopicPartition> = chosen
        .iter()
        .map(|p| TopicPartition::new(&topic, *p))
        .collect();
    let earliest = offsets_at(admin, tps.iter().cloned(), OffsetSpec::Earliest).await?;
    let latest = offsets_at(admin, tps.iter().cloned(), OffsetSpec::Latest).await?;
    let mut plan: Vec<(TopicPartition, i64)> = Vec::new();
    for tp in tps {
        let (Some(&lo), Some(&hi)) = (earliest.get(&tp), latest.get(&tp)) else {
            return Err(CliError::msg(format!("no offsets found for {tp}")));
        };
        let target = if args.to_earliest {
            lo
        } else if args.to_latest {
            hi
        } else {
            let wanted = args.to_offset.unwrap_or(lo);
            let clamped = wanted.clamp(lo, hi.max(lo));
            if clamped != wanted {
                eprintln!(
                    "kafka-cli: warning: offset {wanted} is outside {tp} ({lo}..{hi}); using \
                     {clamped}"
                );
            }
            clamped
        };
        plan.push((tp, target));
    }
    if args.execute {
        admin
            .alter_group_offsets(group, &plan)
            .await
            .map_err(|e| client_error(format_args!("cannot reset the offsets of `{group}`"), e))?;
    } else {
        eprintln!(
            "kafka-cli: dry run: no offsets were changed; rerun with --execute to apply this plan"
        );
    }
    let mut cells = vec![["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
        .map(String::from)
        .to_vec()];
    for (tp, offset) in &plan {
        cells.push(vec![
            group.to_string(),
            tp.topic.to_string(),
            tp.partition.to_string(),
            offset.to_string(),
        ]);
    }
    let mut out = io::stdout().lock();
    write_columns(&mut out, &cells)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_partition_lists() {
        assert!(matches!(parse_topic_partitions("t"), Ok((t, None)) if t == "t"));
        assert!(
            matches!(parse_topic_partitions("t:0,2"), Ok((t, Some(p))) if t == "t" && p == [0, 2])
        );
        assert!(parse_topic_partitions("t:x").is_err());
    }

    #[test]
    fn columns_align() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["A".to_string(), "BB".to_string(), "C".to_string()],
            vec!["aaa".to_string(), "b".to_string(), "c".to_string()],
        ];
        assert!(write_columns(&mut out, &rows).is_ok());
        assert_eq!(String::from_utf8_lossy(&out), "A    BB  C\naaa  b   c\n");
    }
}
