//! A group consumer with at-most-once processing: commit first, then process.
//!
//! The consumer joins `--group` with `enable.auto.commit=false`. After each poll it commits
//! the positions *past* the batch with [`krafty_client::Consumer::commit_sync`] and only
//! then processes (prints) the records. If the process dies while processing, the group
//! restarts after the committed batch: records may be lost, never seen twice. (For
//! at-least-once, swap the two steps: see `consumer_manual_commit`.)
//!
//! Without `--bootstrap` it starts kafka-server-mini in-process and seeds `--topic` with
//! `--count` records so there is something to read.
//!
//! ```text
//! cargo run -q -p examples --bin consumer_at_most_once
//! ```

use std::time::Duration;

use clap::Parser;
use examples::{group_consumer, show, start_or_connect, BoxError};

/// Consume in a group, committing before each batch is processed.
#[derive(Parser)]
struct Args {
    /// A Kafka broker to use; without it a kafka-server-mini is started in-process.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic to read.
    #[arg(long, default_value = "example-events")]
    topic: String,
    /// The consumer group.
    #[arg(long, default_value = "example-at-most-once")]
    group: String,
    /// Stop after this many records (and, with the in-process broker, seed this many).
    #[arg(long, default_value_t = 5)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (bootstrap, broker) = start_or_connect(args.bootstrap).await?;
    if broker.is_some() {
        examples::seed(&bootstrap, &args.topic, 1, args.count, |i| {
            (format!("event-{i}"), format!("clicked {i}"))
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
        // Commit the positions after this batch BEFORE processing it: at-most-once.
        consumer.commit_sync().await?;
        println!("committed before processing {} records", batch.len());
        for r in &batch {
            println!(
                "processed partition={} offset={} key={} value={}",
                r.partition,
                r.offset,
                show(r.key.as_ref()),
                show(r.value.as_ref())
            );
        }
        processed += batch.len();
    }
    consumer.close().await;
    examples::shutdown(broker).await?;
    println!("processed {processed} records at most once");
    Ok(())
}
