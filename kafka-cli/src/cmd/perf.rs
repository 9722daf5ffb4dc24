//! `kafka-cli perf producer|consumer`: throughput tests printing what Kafka's
//! `kafka-producer-perf-test.sh` and `kafka-consumer-perf-test.sh` print, so results can be
//! put side by side with those tools and with librdkafka's `rdkafka_performance`.
//!
//! Owns: generating the payload (`--record-size` bytes, no key, like the Java tool), pacing
//! with `--throughput`, latency percentiles (from the send call to the acknowledgement,
//! observed in send order), and the two report formats. Must not: measure anything the
//! client does not do for an application (no special fast paths).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use krafty_client::{
    Consumer, ConsumerConfig, DeliveryFuture, Producer, ProducerConfig, ProducerRecord,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client_args::{apply_settings, block_on, client_error, ClientArgs};
use super::CliError;

/// Arguments of `kafka-cli perf`.
#[derive(Debug, Args)]
pub struct PerfArgs {
    /// Which side to measure.
    #[command(subcommand)]
    pub command: PerfCommand,
}

/// `perf producer` or `perf consumer`.
#[derive(Debug, Subcommand)]
pub enum PerfCommand {
    /// Send `--num-records` records of `--record-size` bytes; prints one
    /// `kafka-producer-perf-test` summary line.
    Producer(ProducerPerfArgs),
    /// Consume `--messages` records in a group; prints `kafka-consumer-perf-test`'s header and
    /// result line.
    Consumer(ConsumerPerfArgs),
}

/// Arguments of `kafka-cli perf producer`.
#[derive(Debug, Args)]
pub struct ProducerPerfArgs {
    /// Brokers and `-X` producer settings (`-X acks=1`, `-X linger.ms=5`, ...).
    #[command(flatten)]
    pub client: ClientArgs,
    /// The topic to write to.
    #[arg(long, short = 't')]
    pub topic: String,
    /// How many records to send.
    #[arg(long)]
    pub num_records: u64,
    /// Bytes per record value (no key).
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Records per second to aim for; -1 sends as fast as possible.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub throughput: i64,
}

/// Arguments of `kafka-cli perf consumer`.
#[derive(Debug, Args)]
pub struct ConsumerPerfArgs {
    /// Brokers and `-X` consumer settings.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The topic to read.
    #[arg(long, short = 't')]
    pub topic: String,
    /// How many records to read.
    #[arg(long)]
    pub messages: u64,
    /// The consumer group (default: a fresh `perf-consumer-<n>` group, so reading starts at
    /// the beginning).
    #[arg(long)]
    pub group: Option<String>,
    /// Give up when no record arrives for this long.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// Runs `perf producer` or `perf consumer`.
pub fn run(args: &PerfArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        PerfCommand::Producer(a) => produce(a),
        PerfCommand::Consumer(a) => consume(a),
    }
}

fn produce(args: &ProducerPerfArgs) -> Result<ExitCode, CliError> {
    let mut cfg =
        ProducerConfig::new(&args.client.bootstrap).map_err(|e| args.client.bootstrap_error(e))?;
    apply_settings(&mut cfg, &args.client.settings, |c, k, v| {
        c.set(k, v).map(|_| ())
    })?;
    cfg.validate()
        .map_err(|e| CliError::msg(format!("producer configuration: {e}")))?;
    block_on(async {
        let producer =
            Producer::new(cfg).map_err(|e| client_error("cannot start the producer", e))?;
        let payload = bytes::Bytes::from(vec![b'x'; args.record_size]);
        let (tx, mut rx) = mpsc::channel::<(Instant, DeliveryFuture)>(200_000);
        let acks = tokio::spawn(async move {
            let mut latencies_us: Vec<u64> = Vec::new();
            let mut failed = 0u64;
            let mut first_error = None;
            while let Some((sent_at, delivery)) = rx.recv().await {
                match delivery.await {
                    Ok(_) => latencies_us
                        .push(u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX)),
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (latencies_us, failed, first_error)
        });
        let start = Instant::now();
        for i in 0..args.num_records {
            if args.throughput > 0 {
                // pace: record i is due at i / throughput seconds
                let due = start + Duration::from_secs_f64(i as f64 / args.throughput as f64);
                tokio::time::sleep_until(due).await;
            }
            let record = ProducerRecord::new(&args.topic).value(payload.clone());
            let sent_at = Instant::now();
            let delivery = producer
                .send(record)
                .await
                .map_err(|e| client_error("send", e))?;
            if tx.send((sent_at, delivery)).await.is_err() {
                return Err(CliError::msg("acknowledgement task stopped"));
            }
        }
        drop(tx);
        producer.flush().await;
        let (mut latencies, failed, first_error) = acks
            .await
            .map_err(|e| CliError::msg(format!("acknowledgement task failed: {e}")))?;
        let elapsed = start.elapsed();
        if let Err(e) = producer.close().await {
            tracing::warn!(error = %e, "closing the producer failed");
        }
        latencies.sort_unstable();
        println!(
            "{}",
            producer_summary(
                latencies.len() as u64,
                args.record_size,
                elapsed,
                &latencies
            )
        );
        if failed > 0 {
            let why = first_error.map(|e| format!(": {e}")).unwrap_or_default();
            return Err(CliError::msg(format!(
                "{failed} records were not acknowledged{why}"
            )));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The `kafka-producer-perf-test` summary line; `latencies_us` sorted ascending.
pub fn producer_summary(
    records: u64,
    record_size: usize,
    elapsed: Duration,
    latencies_us: &[u64],
) -> String {
    let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
    let rate = records as f64 / secs;
    let mb = rate * record_size as f64 / (1024.0 * 1024.0);
    let ms = |us: u64| us as f64 / 1000.0;
    let avg = if latencies_us.is_empty() {
        0.0
    } else {
        latencies_us.iter().map(|&l| ms(l)).sum::<f64>() / latencies_us.len() as f64
    };
    let max = latencies_us.last().map_or(0.0, |&l| ms(l));
    let pct = |p: f64| -> u64 {
        if latencies_us.is_empty() {
            return 0;
        }
        let i = ((p * latencies_us.len() as f64) as usize).min(latencies_us.len() - 1);
        latencies_us.get(i).map_or(0, |&l| l / 1000)
    };
    format!(
        "{records} records sent, {rate:.1} records/sec ({mb:.2} MB/sec), {avg:.2} ms avg latency, \
         {max:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        pct(0.5),
        pct(0.95),
        pct(0.99),
        pct(0.999)
    )
}

fn consume(args: &ConsumerPerfArgs) -> Result<ExitCode, CliError> {
    let mut cfg =
        ConsumerConfig::new(&args.client.bootstrap).map_err(|e| args.client.bootstrap_error(e))?;
    let group = args.group.clone().unwrap_or_else(|| {
        let n = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("perf-consumer-{n}")
    });
    for (k, v) in [
        ("group.id", group.as_str()),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
    ] {
        cfg.set(k, v).map_err(|e| CliError::msg(e.to_string()))?;
    }
    apply_settings(&mut cfg, &args.client.settings, |c, k, v| {
        c.set(k, v).map(|_| ())
    })?;
    block_on(async {
        let consumer =
            Consumer::new(cfg).map_err(|e| client_error("cannot start the consumer", e))?;
        consumer
            .subscribe(&[&args.topic])
            .map_err(|e| client_error("subscribe", e))?;
        let start_wall = SystemTime::now();
        let start = Instant::now();
        let mut first_record_at = None;
        let mut records = 0u64;
        let mut bytes = 0u64;
        let mut last_record = Instant::now();
        let timeout = Duration::from_millis(args.timeout_ms);
        while records < args.messages {
            let batch = consumer
                .poll(Duration::from_millis(100))
                .await
                .map_err(|e| client_error("poll", e))?;
            if batch.is_empty() {
                if last_record.elapsed() >= timeout {
                    break;
                }
                continue;
            }
            let now = Instant::now();
            first_record_at.get_or_insert(now);
            last_record = now;
            for r in &batch {
                records += 1;
                bytes += r.value.as_ref().map_or(0, |v| v.len() as u64)
                    + r.key.as_ref().map_or(0, |k| k.len() as u64);
            }
        }
        let elapsed = start.elapsed();
        let rebalance = first_record_at.map_or(elapsed, |t| t.duration_since(start));
        consumer.close().await;
        println!("{}", CONSUMER_HEADER);
        println!(
            "{}",
            consumer_line(start_wall, elapsed, rebalance, records, bytes)
        );
        if records < args.messages {
            return Err(CliError::msg(format!(
                "only {records} of {} records arrived within --timeout-ms {}",
                args.messages, args.timeout_ms
            )));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The header line of `kafka-consumer-perf-test`.
pub const CONSUMER_HEADER: &str = "start.time, end.time, data.consumed.in.MB, MB.sec, \
    data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, \
    fetch.nMsg.sec";

/// The result line of `kafka-consumer-perf-test`: totals over the whole run and, for the
/// fetch columns, over the time after the group assigned partitions.
pub fn consumer_line(
    start: SystemTime,
    elapsed: Duration,
    rebalance: Duration,
    records: u64,
    bytes: u64,
) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
    let fetch = elapsed.saturating_sub(rebalance);
    let fetch_secs = fetch.as_secs_f64().max(f64::MIN_POSITIVE);
    format!(
        "{}, {}, {mb:.4}, {:.4}, {records}, {:.4}, {}, {}, {:.4}, {:.4}",
        timestamp(start),
        timestamp(start + elapsed),
        mb / secs,
        records as f64 / secs,
        rebalance.as_millis(),
        fetch.as_millis(),
        mb / fetch_secs,
        records as f64 / fetch_secs,
    )
}

/// `yyyy-MM-dd HH:mm:ss:SSS` in UTC, the Java tool's timestamp format.
pub fn timestamp(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let secs = (ms / 1000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}:{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_tool_formats() {
        let lat = [1_000, 2_000, 3_000, 100_000];
        assert_eq!(
            producer_summary(1000, 100, Duration::from_secs(2), &lat),
            "1000 records sent, 500.0 records/sec (0.05 MB/sec), 26.50 ms avg latency, \
             100.00 ms max latency, 3 ms 50th, 100 ms 95th, 100 ms 99th, 100 ms 99.9th."
        );
        let t = UNIX_EPOCH + Duration::from_millis(1_795_473_579_544);
        assert_eq!(timestamp(t), "2026-11-23 22:39:39:544");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00:000");
        let line = consumer_line(
            t,
            Duration::from_secs(2),
            Duration::from_millis(500),
            1000,
            1024 * 1024,
        );
        assert_eq!(
            line,
            "2026-11-23 22:39:39:544, 2026-11-23 22:39:41:544, 1.0000, 0.5000, 1000, \
             500.0000, 500, 1500, 0.6667, 666.6667"
        );
    }
}
