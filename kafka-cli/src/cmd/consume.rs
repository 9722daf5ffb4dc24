//! `kafka-cli consume`: print records as lines, like `kafka-console-consumer` and `kcat -C`.
//!
//! Owns: choosing the partitions (without `--group`: every partition of the topic, or
//! `--partition`, assigned directly; with `--group`: a group subscription), the start
//! position (`--from-beginning`, `--offset`), the stop conditions (`--max-messages`,
//! `--timeout-ms` without a new record, counted from the start as `kafka-console-consumer`
//! does, Ctrl-C) and the output format. Must not: commit
//! records it did not print.
//!
//! Output: one record per line, the value's bytes as they are (not UTF-8 is written raw); with
//! `--print-key`, `KEY<SEP>VALUE` (SEP a tab unless `--key-separator`). A null key or value
//! prints as nothing (like kcat; `kafka-console-consumer` prints `null`). With `--group` the
//! consumer auto-commits (unless `-X enable.auto.commit=false`) and commits once more on exit,
//! after moving back any partition whose last fetched records were not printed.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use krafty_client::{Admin, Consumer, ConsumerConfig, ConsumerRecord, TopicPartition};
use tokio::time::Instant;

use super::client_args::{apply_settings, block_on, client_error, ClientArgs};
use super::CliError;

/// Arguments of `kafka-cli consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Brokers and `-X` consumer settings.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The topic to read.
    #[arg(long, short = 't')]
    pub topic: String,
    /// Consume as this consumer group: subscribe, start at the committed offsets, commit.
    #[arg(long, short = 'g', value_name = "GROUP")]
    pub group: Option<String>,
    /// Start at the earliest offset (with --group: when the group has no committed offset).
    /// The default is the latest offset: only new records.
    #[arg(long)]
    pub from_beginning: bool,
    /// Exit after printing this many records.
    #[arg(long, short = 'n', value_name = "N")]
    pub max_messages: Option<u64>,
    /// Exit (status 0) when no record arrived for this long, counted from the start (as
    /// `kafka-console-consumer --timeout-ms`: joining a group is part of that time).
    /// Without it (and without --max-messages) consume until Ctrl-C.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Print KEY<SEP>VALUE instead of the value alone.
    #[arg(long)]
    pub print_key: bool,
    /// The separator printed between key and value with --print-key.
    #[arg(
        long,
        value_name = "SEP",
        default_value = "\t",
        hide_default_value = true
    )]
    pub key_separator: String,
    /// Read only this partition (not with --group).
    #[arg(long, short = 'p', value_name = "PARTITION", conflicts_with = "group")]
    pub partition: Option<i32>,
    /// Start offset of --partition: a number, `earliest` or `latest`.
    #[arg(long, short = 'o', value_name = "OFFSET", requires = "partition")]
    pub offset: Option<StartOffset>,
}

/// Where `--offset` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    /// The log start offset.
    Earliest,
    /// The log end offset.
    Latest,
    /// An absolute offset.
    At(i64),
}

impl std::str::FromStr for StartOffset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "earliest" | "beginning" => Ok(StartOffset::Earliest),
            "latest" | "end" => Ok(StartOffset::Latest),
            _ => match s.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(StartOffset::At(n)),
                _ => Err(format!(
                    "expected a non-negative offset, `earliest` or `latest`, got `{s}`"
                )),
            },
        }
    }
}

/// Writes one record as a line: `[KEY SEP] VALUE \n`, bytes as they are.
pub fn write_record(
    out: &mut impl Write,
    record: &ConsumerRecord,
    print_key: bool,
    separator: &[u8],
) -> io::Result<()> {
    if print_key {
        out.write_all(record.key.as_deref().unwrap_or_default())?;
        out.write_all(separator)?;
    }
    out.write_all(record.value.as_deref().unwrap_or_default())?;
    out.write_all(b"\n")
}

/// Runs `kafka-cli consume`.
pub fn run(args: &ConsumeArgs) -> Result<ExitCode, CliError> {
    let mut cfg =
        ConsumerConfig::new(&args.client.bootstrap).map_err(|e| args.client.bootstrap_error(e))?;
    let reset = if args.from_beginning {
        "earliest"
    } else {
        "latest"
    };
    cfg.set("auto.offset.reset", reset)
        .map_err(|e| CliError::msg(format!("auto.offset.reset: {e}")))?;
    apply_settings(&mut cfg, &args.client.settings, |c, k, v| {
        c.set(k, v).map(|_| ())
    })?;
    if let Some(g) = &args.group {
        cfg.set("group.id", g)
            .map_err(|e| CliError::msg(format!("--group {g}: {e}")))?;
    }
    if args.group.is_none() && cfg.group_id.is_some() {
        return Err(CliError::msg(
            "-X group.id needs --group instead (it decides between assign and subscribe)",
        ));
    }
    if args.max_messages == Some(0) {
        return Ok(ExitCode::SUCCESS);
    }
    block_on(consume(args, cfg))
}

async fn consume(args: &ConsumeArgs, cfg: ConsumerConfig) -> Result<ExitCode, CliError> {
    let grouped = args.group.is_some();
    let auto_commit = cfg.enable_auto_commit;
    let partitions = if grouped {
        Vec::new()
    } else {
        partitions_of(args, &cfg).await?
    };
    let consumer = Consumer::new(cfg).map_err(|e| client_error("cannot start the consumer", e))?;
    if grouped {
        consumer
            .subscribe(&[args.topic.as_str()])
            .map_err(|e| client_error("cannot subscribe", e))?;
    } else {
        consumer.assign(partitions.iter().cloned());
        for tp in &partitions {
            let sought = match args.offset {
                Some(StartOffset::At(o)) => consumer.seek(tp, o),
                Some(StartOffset::Earliest) => consumer.seek_to_beginning(tp),
                Some(StartOffset::Latest) => consumer.seek_to_end(tp),
                None if args.from_beginning => consumer.seek_to_beginning(tp),
                None => consumer.seek_to_end(tp),
            };
            sought.map_err(|e| client_error(format_args!("cannot seek {tp}"), e))?;
        }
    }

    let mut unprinted = BTreeMap::new();
    let (result, printed) = poll_loop(args, &consumer, &mut unprinted).await;
    // Records fetched but not printed: move their partitions back so that the commit on
    // close (and a later run) starts with them.
    for (tp, offset) in &unprinted {
        if let Err(e) = consumer.seek(tp, *offset) {
            tracing::warn!(%tp, error = %e, "cannot move back to the first unprinted record");
        }
    }
    if grouped && auto_commit {
        if let Err(e) = consumer.commit_sync().await {
            eprintln!("kafka-cli: warning: final commit failed: {e}");
        }
    }
    consumer.close().await;
    tracing::info!(printed, "consumer closed");
    result.map(|()| ExitCode::SUCCESS)
}

/// The partitions to assign without a group: `--partition` or all of the topic's.
async fn partitions_of(
    args: &ConsumeArgs,
    cfg: &ConsumerConfig,
) -> Result<Vec<TopicPartition>, CliError> {
    let admin = Admin::new(krafty_client::AdminConfig {
        common: cfg.common.clone(),
    });
    let described = admin.describe_topics(&[args.topic.as_str()]).await;
    admin.close();
    let topic = described
        .map_err(|e| client_error(format_args!("cannot describe topic `{}`", args.topic), e))?
        .pop()
        .ok_or_else(|| CliError::msg(format!("topic `{}` not found", args.topic)))?;
    let all: Vec<i32> = topic.partitions.iter().map(|p| p.id).collect();
    match args.partition {
        Some(p) if all.contains(&p) => Ok(vec![TopicPartition::new(&args.topic, p)]),
        Some(p) => Err(CliError::msg(format!(
            "partition {p} does not exist in topic `{}` ({} partitions)",
            args.topic,
            all.len()
        ))),
        None => Ok(all
            .into_iter()
            .map(|p| TopicPartition::new(&args.topic, p))
            .collect()),
    }
}

/// Polls and prints until a stop condition. Returns the outcome and the number of records
/// printed; `unprinted` gets, per partition, the first fetched offset that was not printed.
async fn poll_loop(
    args: &ConsumeArgs,
    consumer: &Consumer,
    unprinted: &mut BTreeMap<TopicPartition, i64>,
) -> (Result<(), CliError>, u64) {
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let separator = args.key_separator.as_bytes();
    let stdout = io::stdout();
    let mut printed: u64 = 0;
    // The idle clock starts now, also with a group (whose join carries on across polls that
    // each return by their timeout), as kafka-console-consumer's does.
    let mut last_activity = Instant::now();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let wait = match idle_limit {
            Some(limit) => {
                let left = limit.saturating_sub(last_activity.elapsed());
                if left.is_zero() {
                    return (Ok(()), printed);
                }
                left
            }
            None => Duration::from_secs(1),
        };
        let records = tokio::select! {
            polled = consumer.poll(wait) => polled,
            _ = &mut ctrl_c => return (Ok(()), printed),
        };
        let records = match records {
            Ok(r) => r,
            Err(e) => return (Err(client_error("poll failed", e)), printed),
        };
        if !records.is_empty() {
            last_activity = Instant::now();
        }
        let mut out = stdout.lock();
        for (i, record) in records.iter().enumerate() {
            let done = args.max_messages.is_some_and(|max| printed >= max);
            let written = if done {
                Ok(())
            } else {
                write_record(&mut out, record, args.print_key, separator)
            };
            if done || written.is_err() {
                for r in &records[i..] {
                    unprinted
                        .entry(TopicPartition::new(&*r.topic, r.partition))
                        .or_insert(r.offset);
                }
                let result = written.and_then(|()| out.flush()).map_err(CliError::Output);
                return (result, printed);
            }
            printed += 1;
        }
        if let Err(e) = out.flush() {
            return (Err(CliError::Output(e)), printed);
        }
        if args.max_messages.is_some_and(|max| printed >= max) {
            return (Ok(()), printed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_offsets_parse() {
        assert_eq!("earliest".parse(), Ok(StartOffset::Earliest));
        assert_eq!("latest".parse(), Ok(StartOffset::Latest));
        assert_eq!("42".parse(), Ok(StartOffset::At(42)));
        assert!("-1".parse::<StartOffset>().is_err());
        assert!("x".parse::<StartOffset>().is_err());
    }
}
