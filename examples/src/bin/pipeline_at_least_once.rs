//! A consume-transform-produce pipeline with at-least-once delivery.
//!
//! Reads records from `--input` in a consumer group, transforms each value (upper-cases
//! it), produces the result to `--output`, waits until every one of those sends is
//! acknowledged by the broker, and only then commits the input offsets with
//! [`krafty_client::Consumer::commit_offsets`] (the committed offset is the *next* offset to
//! read, i.e. the last processed offset + 1).
//!
//! **At-least-once** (this example): commit after the output is acknowledged. A crash
//! between the sends and the commit replays the batch on restart, so the output may hold
//! duplicates, but no input record is ever lost.
//!
//! **At-most-once** (the opposite ordering): commit the input offsets *before* processing.
//! A crash after the commit but before the sends complete skips those records for good:
//! no duplicates, but possible loss.
//!
//! (Exactly-once needs transactions, which bind the output sends and the offset commit
//! into one atomic unit; this example does not use them.)
//!
//! Without `--bootstrap` it starts kafka-server-mini in-process and seeds `--input`.
//!
//! ```text
//! cargo run -q -p examples --bin pipeline_at_least_once
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use examples::{ensure_topic, group_consumer, show, start_or_connect, BoxError};
use krafty_client::{ProducerRecord, TopicPartition};

/// Consume from one topic, transform, produce to another, commit after the acks.
#[derive(Parser)]
struct Args {
    /// A Kafka broker to use; without it a kafka-server-mini is started in-process.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The input topic (A).
    #[arg(long, default_value = "example-pipeline-in")]
    input: String,
    /// The output topic (B).
    #[arg(long, default_value = "example-pipeline-out")]
    output: String,
    /// The consumer group.
    #[arg(long, default_value = "example-pipeline")]
    group: String,
    /// Stop after this many records (and, with the in-process broker, seed this many).
    #[arg(long, default_value_t = 8)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (bootstrap, broker) = start_or_connect(args.bootstrap).await?;
    let admin = examples::admin(&bootstrap)?;
    ensure_topic(&admin, &args.input, 2).await?;
    ensure_topic(&admin, &args.output, 2).await?;
    admin.close();
    let producer = examples::producer(&bootstrap)?;
    if broker.is_some() {
        for i in 0..args.count {
            let r = ProducerRecord::new(&args.input)
                .key(format!("k{i}"))
                .value(format!("message number {i}"));
            producer.send_and_wait(r).await?;
        }
        println!("seeded {} records into {}", args.count, args.input);
    }

    let consumer = group_consumer(&bootstrap, &args.group)?;
    consumer.subscribe(&[&args.input])?;
    let mut done = 0;
    let deadline = tokio::time::Instant::now() + examples::POLL_DEADLINE;
    while done < args.count && tokio::time::Instant::now() < deadline {
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        if batch.is_empty() {
            continue;
        }
        // 1. Transform and send every record of the batch.
        let mut pending = Vec::with_capacity(batch.len());
        let mut next_offsets: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for r in &batch {
            let upper = show(r.value.as_ref()).to_uppercase();
            let mut out = ProducerRecord::new(&args.output).value(Bytes::from(upper));
            if let Some(k) = &r.key {
                out = out.key(k.clone());
            }
            pending.push((r.partition, r.offset, producer.send(out).await?));
            next_offsets.insert((r.topic.to_string(), r.partition), r.offset + 1);
        }
        // 2. Wait for every acknowledgement; an error here aborts before the commit, so
        //    the batch is consumed again on restart (at-least-once).
        for (partition, offset, delivery) in pending {
            let md = delivery.await?;
            println!(
                "{}-{partition}@{offset} -> {}-{}@{}",
                args.input, md.topic, md.partition, md.offset
            );
        }
        // 3. Only now commit the input offsets.
        let commits: Vec<(TopicPartition, i64)> = next_offsets
            .into_iter()
            .map(|((t, p), o)| (TopicPartition::new(t, p), o))
            .collect();
        consumer.commit_offsets(&commits).await?;
        for (tp, o) in &commits {
            println!("committed {}-{} at {o}", tp.topic, tp.partition);
        }
        done += batch.len();
    }
    consumer.close().await;
    producer.close().await?;
    examples::shutdown(broker).await?;
    println!(
        "piped {done} records from {} to {} (at-least-once)",
        args.input, args.output
    );
    Ok(())
}
