//! A group consumer with manual commits: at-least-once processing.
//!
//! The consumer joins `--group` with `enable.auto.commit=false`, polls, processes
//! (prints) each batch, and only then calls [`krafty_client::Consumer::commit_sync`]. If the
//! process dies between processing and committing, the group restarts from the last commit
//! and the batch is processed again: records may be seen twice, never lost.
//!
//! Without `--bootstrap` it starts kafka-server-mini in-process and seeds `--topic` with
//! `--count` records so there is something to read.
//!
//! ```text
//! cargo run -q -p examples --bin consumer_manual_commit
//! ```

use std::time::Duration;

use clap::Parser;
use examples::{group_consumer, show, start_or_connect, BoxError};

/// Consume in a group, committing after each processed batch.
#[derive(Parser)]
struct Args {
    /// A Kafka broker to use; without it a kafka-server-mini is started in-process.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic to read.
    #[arg(long, default_value = "example-orders")]
    topic: String,
    /// The consumer group.
    #[arg(long, default_value = "example-manual-commit")]
    group: String,
    /// Stop after this many records (and, with the in-process broker, seed this many).
    #[arg(long, default_value_t = 6)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (bootstrap, broker) = start_or_connect(args.bootstrap).await?;
    if broker.is_some() {
        examples::seed(&bootstrap, &args.topic, 2, args.count, |i| {
            (
                format!("order-{i}"),
                format!("{{\"order\":{i},\"qty\":{}}}", i + 1),
            )
        })
        .await?;
    }

    let consumer = group_consumer(&bootstrap, &args.group)?;
    consumer.subscribe(&[&args.topic])?;
    let mut processed = 0;
    let deadline = tokio::time::Instant::now() + examples::POLL_DEADLINE;
    while processed < args.count && tokio::time::Instant::now() < deadline {
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        if batch.is_empty() {
            continue;
        }
        for r in &batch {
            // "Processing": here, printing.
            println!(
                "processed partition={} offset={} key={} value={}",
                r.partition,
                r.offset,
                show(r.key.as_ref()),
                show(r.value.as_ref())
            );
        }
        processed += batch.len();
        // Commit only after the whole batch is processed: at-least-once.
        consumer.commit_sync().await?;
        println!("committed after {} records", batch.len());
    }
    for tp in consumer.assignment() {
        println!(
            "position {}-{}: {}",
            tp.topic,
            tp.partition,
            consumer.position(&tp).await?
        );
    }
    consumer.close().await;
    examples::shutdown(broker).await?;
    println!("processed {processed} records with manual commits");
    Ok(())
}
