//! `kafka-cli produce`: one record per stdin line, like `kafka-console-producer` and
//! `kcat -P`.
//!
//! Owns: splitting stdin into records (lines end at `\n`; a trailing `\r` is dropped; with
//! `--key-separator` a line is `KEY<SEP>VALUE`, split at the first separator), sending them
//! through the producer's non-waiting path (append everything, await the acknowledgements in
//! a separate task, flush at the end) and the summary on stderr. Must not: wait for each
//! record before sending the next.
//!
//! Like `kafka-console-producer` with `parse.key=true`, a line without the separator is an
//! error: reading stops, the records before it are still delivered, and the command exits
//! non-zero. Lines need not be UTF-8; their bytes are sent as they are.

use std::process::ExitCode;

use clap::Args;
use krafty_client::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::client_args::{apply_settings, block_on, client_error, ClientArgs};
use super::CliError;

/// Arguments of `kafka-cli produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Brokers and `-X` producer settings.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The topic to write to.
    #[arg(long, short = 't')]
    pub topic: String,
    /// Each line is KEY<SEP>VALUE, split at the first SEP; a line without SEP is an error.
    /// Without it every line is a value with a null key.
    #[arg(long, short = 'K', value_name = "SEP")]
    pub key_separator: Option<String>,
    /// compression.type: none, gzip, snappy, lz4, zstd (overrides -X).
    #[arg(long, short = 'z', value_name = "CODEC")]
    pub compression: Option<String>,
    /// acks: 0, 1, all or -1 (overrides -X). acks other than all turn idempotence off unless
    /// `-X enable.idempotence=true` asks for it.
    #[arg(long, value_name = "ACKS")]
    pub acks: Option<String>,
    /// Write every record to this partition instead of partitioning by key.
    #[arg(long, short = 'p', value_name = "PARTITION")]
    pub partition: Option<i32>,
}

/// Splits one line (without its end of line) into key and value.
///
/// `None` separator: null key, the whole line is the value. With a separator, a line
/// without it is `Err`.
pub fn split_line<'a>(
    line: &'a [u8],
    separator: Option<&[u8]>,
) -> Result<(Option<&'a [u8]>, &'a [u8]), ()> {
    let Some(sep) = separator else {
        return Ok((None, line));
    };
    if sep.is_empty() || sep.len() > line.len() {
        return Err(());
    }
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(i) => Ok((Some(&line[..i]), &line[i + sep.len()..])),
        None => Err(()),
    }
}

/// Drops the line end (`\n`, and a `\r` before it).
fn trim_line_end(mut line: &[u8]) -> &[u8] {
    if let Some(rest) = line.strip_suffix(b"\n") {
        line = rest;
        if let Some(rest) = line.strip_suffix(b"\r") {
            line = rest;
        }
    }
    line
}

/// What the acknowledgement task counted.
#[derive(Debug, Default)]
struct Outcome {
    acknowledged: u64,
    failed: u64,
    first_error: Option<krafty_client::Error>,
}

/// Runs `kafka-cli produce`.
pub fn run(args: &ProduceArgs) -> Result<ExitCode, CliError> {
    if args.key_separator.as_deref() == Some("") {
        return Err(CliError::msg("--key-separator must not be empty"));
    }
    let mut cfg =
        ProducerConfig::new(&args.client.bootstrap).map_err(|e| args.client.bootstrap_error(e))?;
    apply_settings(&mut cfg, &args.client.settings, |c, k, v| {
        c.set(k, v).map(|_| ())
    })?;
    if let Some(c) = &args.compression {
        cfg.set("compression.type", c)
            .map_err(|e| CliError::msg(format!("--compression {c}: {e}")))?;
    }
    if let Some(a) = &args.acks {
        cfg.set("acks", a)
            .map_err(|e| CliError::msg(format!("--acks {a}: {e}")))?;
    }
    cfg.validate()
        .map_err(|e| CliError::msg(format!("producer configuration: {e}")))?;
    block_on(produce(args, cfg))
}

async fn produce(args: &ProduceArgs, cfg: ProducerConfig) -> Result<ExitCode, CliError> {
    let producer = Producer::new(cfg).map_err(|e| client_error("cannot start the producer", e))?;
    // Acknowledgements are awaited in order by a separate task, so sending never waits for
    // them; the bounded channel keeps memory bounded when the broker is slower than stdin.
    let (tx, mut rx) = mpsc::channel::<DeliveryFuture>(100_000);
    let acks = tokio::spawn(async move {
        let mut outcome = Outcome::default();
        while let Some(delivery) = rx.recv().await {
            match delivery.await {
                Ok(_) => outcome.acknowledged += 1,
                Err(e) => {
                    tracing::debug!(error = %e, "record not delivered");
                    outcome.failed += 1;
                    outcome.first_error.get_or_insert(e);
                }
            }
        }
        outcome
    });

    let read_result = send_lines(args, &producer, &tx).await;
    drop(tx);
    producer.flush().await;
    let outcome = acks
        .await
        .map_err(|e| CliError::msg(format!("acknowledgement task failed: {e}")))?;
    if let Err(e) = producer.close().await {
        tracing::warn!(error = %e, "closing the producer failed");
    }
    eprintln!("produced {} records", outcome.acknowledged);
    let sent = read_result?;
    if outcome.failed > 0 || outcome.acknowledged != sent {
        let why = outcome
            .first_error
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(CliError::msg(format!(
            "{} of {sent} records were not acknowledged{why}",
            sent.saturating_sub(outcome.acknowledged)
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads stdin to the end and appends one record per line; returns how many were appended.
async fn send_lines(
    args: &ProduceArgs,
    producer: &Producer,
    tx: &mpsc::Sender<DeliveryFuture>,
) -> Result<u64, CliError> {
    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let mut stdin = BufReader::with_capacity(1 << 16, tokio::io::stdin());
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    let mut sent: u64 = 0;
    loop {
        buf.clear();
        let n = stdin
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| CliError::msg(format!("cannot read stdin: {e}")))?;
        if n == 0 {
            return Ok(sent);
        }
        line_no += 1;
        let line = trim_line_end(&buf);
        let (key, value) = split_line(line, separator).map_err(|()| {
            CliError::msg(format!(
                "line {line_no}: no key separator {:?} found in {:?} (with --key-separator \
                 every line must be KEY<SEP>VALUE)",
                args.key_separator.as_deref().unwrap_or_default(),
                String::from_utf8_lossy(line),
            ))
        })?;
        let mut record = ProducerRecord::new(args.topic.as_str()).value(value.to_vec());
        if let Some(key) = key {
            record = record.key(key.to_vec());
        }
        if let Some(p) = args.partition {
            record = record.partition(p);
        }
        let delivery = producer.send(record).await.map_err(|e| {
            client_error(
                format_args!("line {line_no}: cannot send to topic `{}`", args.topic),
                e,
            )
        })?;
        sent += 1;
        if tx.send(delivery).await.is_err() {
            return Err(CliError::msg("acknowledgement task stopped early"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        assert_eq!(
            split_line(b"k:v:w", Some(b":")),
            Ok((Some(&b"k"[..]), &b"v:w"[..]))
        );
        assert_eq!(
            split_line(b":v", Some(b":")),
            Ok((Some(&b""[..]), &b"v"[..]))
        );
        assert_eq!(
            split_line(b"k::v", Some(b"::")),
            Ok((Some(&b"k"[..]), &b"v"[..]))
        );
        assert_eq!(split_line(b"kv", Some(b":")), Err(()));
        assert_eq!(split_line(b"", Some(b":")), Err(()));
        assert_eq!(split_line(b"k:v", None), Ok((None, &b"k:v"[..])));
    }

    #[test]
    fn line_ends_are_dropped() {
        assert_eq!(trim_line_end(b"a\r\n"), b"a");
        assert_eq!(trim_line_end(b"a\n"), b"a");
        assert_eq!(trim_line_end(b"a"), b"a");
        assert_eq!(trim_line_end(b"a\r"), b"a\r");
    }
}
