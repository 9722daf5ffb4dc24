//! A consume-transform-produce pipeline with exactly-once delivery (transactions).
//!
//! Reads `--input` in a consumer group with `isolation.level=read_committed`, transforms
//! each value (upper-cases it) and, per polled batch, in **one transaction**: produces the
//! results to `--output` and adds the input offsets (last processed offset + 1) with
//! [`krafty_client::Producer::send_offsets_to_transaction`] and the consumer's
//! [`krafty_client::Consumer::group_metadata`] (KIP-447), then commits. The output records
//! and the offsets become visible together or not at all:
//!
//! - a crash before the commit leaves an open transaction; the restarted pipeline (same
//!   `--transactional-id`) calls `init_transactions`, which aborts it and fences the old
//!   process, and consumes again from the last committed offsets. Output read with
//!   `read_committed` then holds every input record exactly once;
//! - an abortable error (a failed record, a stale group member) aborts the transaction and
//!   rewinds the consumer to the committed offsets to redo the batch; a fenced or fatal
//!   error stops the pipeline (another instance took over).
//!
//! Runs against any broker with a transaction coordinator: pass `--bootstrap` (Apache
//! Kafka, or a kafka-server-mini you started); without it, it starts kafka-server-mini
//! in-process and seeds `--input`.
//!
//! ```text
//! cargo run -q -p examples --bin pipeline_exactly_once -- --bootstrap localhost:9092 --seed
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use examples::{ensure_topic, show, start_or_connect, BoxError};
use krafty_client::{
    Consumer, ConsumerConfig, Error, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};

/// Consume, transform, produce and commit the offsets in one transaction per batch.
#[derive(Parser)]
struct Args {
    /// A Kafka broker to use; without it a kafka-server-mini is started in-process.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The input topic.
    #[arg(long, default_value = "example-eos-in")]
    input: String,
    /// The output topic.
    #[arg(long, default_value = "example-eos-out")]
    output: String,
    /// The consumer group.
    #[arg(long, default_value = "example-eos")]
    group: String,
    /// The producer's `transactional.id`: the same on every restart of this pipeline.
    #[arg(long, default_value = "example-eos-pipeline")]
    transactional_id: String,
    /// Stop after this many records (and, with `--seed` or the in-process broker, seed
    /// this many).
    #[arg(long, default_value_t = 8)]
    count: usize,
    /// Write `--count` records to `--input` first.
    #[arg(long)]
    seed: bool,
    /// Also stop once no record came for this many milliseconds (a restarted pipeline
    /// that has less than `--count` left).
    #[arg(long)]
    idle_ms: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (bootstrap, broker) = start_or_connect(args.bootstrap).await?;
    let admin = examples::admin(&bootstrap)?;
    ensure_topic(&admin, &args.input, 2).await?;
    ensure_topic(&admin, &args.output, 2).await?;
    admin.close();
    if broker.is_some() || args.seed {
        examples::seed(&bootstrap, &args.input, 2, args.count, |i| {
            (format!("k{i}"), format!("message number {i}"))
        })
        .await?;
    }

    // The consumer reads only committed data and never commits by itself: its offsets
    // are committed by the producer's transactions.
    let consumer = Consumer::new(
        ConsumerConfig::new(&bootstrap)?
            .with("group.id", &args.group)?
            .with("isolation.level", "read_committed")?
            .with("enable.auto.commit", "false")?
            .with("auto.offset.reset", "earliest")?
            // a killed instance's partitions move to its successor within 6 s
            .with("heartbeat.interval.ms", "500")?
            .with("session.timeout.ms", "6000")?,
    )?;
    consumer.subscribe(&[&args.input])?;
    // transactional.id makes the producer transactional (idempotent, acks=all).
    let producer = Producer::new(
        ProducerConfig::new(&bootstrap)?.with("transactional.id", &args.transactional_id)?,
    )?;
    // Fences an earlier instance with the same id and aborts what it left open.
    producer.init_transactions().await?;

    let mut done = 0;
    let deadline = tokio::time::Instant::now() + examples::POLL_DEADLINE;
    let mut last_record = tokio::time::Instant::now();
    while done < args.count && tokio::time::Instant::now() < deadline {
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        if batch.is_empty() {
            let idle = args
                .idle_ms
                .is_some_and(|ms| last_record.elapsed() >= Duration::from_millis(ms));
            if idle {
                break;
            }
            continue;
        }
        last_record = tokio::time::Instant::now();
        producer.begin_transaction()?;
        let mut next_offsets: BTreeMap<(String, i32), i64> = BTreeMap::new();
        let mut outcome: Result<(), Error> = Ok(());
        for r in &batch {
            let upper = show(r.value.as_ref()).to_uppercase();
            let mut out = ProducerRecord::new(&args.output).value(Bytes::from(upper));
            if let Some(k) = &r.key {
                out = out.key(k.clone());
            }
            // no need to await each delivery: commit_transaction flushes and fails if
            // any record of the transaction failed
            if let Err(e) = producer.send(out).await {
                outcome = Err(e);
                break;
            }
            next_offsets.insert((r.topic.to_string(), r.partition), r.offset + 1);
        }
        let offsets: Vec<(TopicPartition, i64)> = next_offsets
            .into_iter()
            .map(|((t, p), o)| (TopicPartition::new(t, p), o))
            .collect();
        if outcome.is_ok() {
            outcome = producer
                .send_offsets_to_transaction(&offsets, &consumer.group_metadata()?)
                .await;
        }
        if outcome.is_ok() {
            outcome = producer.commit_transaction().await;
        }
        match outcome {
            Ok(()) => {
                for (tp, o) in &offsets {
                    println!(
                        "committed {}-{} at {o} with the output",
                        tp.topic, tp.partition
                    );
                }
                done += batch.len();
            }
            Err(Error::Transaction(e)) if e.is_abortable() => {
                // undo: abort, then consume the batch again from the committed offsets
                eprintln!("aborting: {e}");
                producer.abort_transaction().await?;
                let tps: Vec<TopicPartition> = offsets.iter().map(|(tp, _)| tp.clone()).collect();
                let committed = consumer.committed(&tps).await?;
                for tp in &tps {
                    match committed.get(tp) {
                        Some(o) => consumer.seek(tp, *o)?,
                        None => consumer.seek_to_beginning(tp)?,
                    }
                }
            }
            // fenced (another instance took over) or fatal: stop
            Err(e) => return Err(e.into()),
        }
    }
    consumer.close().await;
    producer.close().await?;
    examples::shutdown(broker).await?;
    println!(
        "piped {done} records from {} to {} (exactly-once)",
        args.input, args.output
    );
    Ok(())
}
