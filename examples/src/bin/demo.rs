//! The README demo: a full round trip through the SDK.
//!
//! Starts kafka-server-mini in-process (or uses `--bootstrap HOST:PORT`), creates a topic
//! with 3 partitions, produces 10 keyed records with [`krafty_client::Producer`], consumes
//! them back with a [`krafty_client::Consumer`] in a consumer group, commits, prints each
//! record and a final `round-tripped N records through ...` line, then shuts down.
//!
//! ```text
//! cargo run -q -p examples --bin demo
//! cargo run -q -p examples --bin demo -- --bootstrap localhost:9092
//! ```

use std::time::Duration;

use clap::Parser;
use examples::{ensure_topic, group_consumer, show, start_or_connect, unique, BoxError};
use krafty_client::ProducerRecord;

/// Produce keyed records and consume them back through a consumer group.
#[derive(Parser)]
struct Args {
    /// A Kafka broker to use; without it a kafka-server-mini is started in-process.
    #[arg(long)]
    bootstrap: Option<String>,
    /// How many records to round-trip.
    #[arg(long, default_value_t = 10)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (bootstrap, broker) = start_or_connect(args.bootstrap).await?;
    let target = if broker.is_some() {
        format!("kafka-server-mini at {bootstrap}")
    } else {
        format!("the broker at {bootstrap}")
    };
    println!("using {target}");

    let topic = unique("demo");
    let admin = examples::admin(&bootstrap)?;
    ensure_topic(&admin, &topic, 3).await?;
    admin.close();
    println!("created topic {topic} (3 partitions)");

    let producer = examples::producer(&bootstrap)?;
    let mut pending = Vec::new();
    for i in 0..args.count {
        let record = ProducerRecord::new(&topic)
            .key(format!("key-{i}"))
            .value(format!("hello {i}"));
        pending.push(producer.send(record).await?);
    }
    for delivery in pending {
        delivery.await?;
    }
    producer.close().await?;
    println!("produced {} records", args.count);

    let consumer = group_consumer(&bootstrap, &unique("demo-group"))?;
    consumer.subscribe(&[&topic])?;
    let mut received = 0;
    let deadline = tokio::time::Instant::now() + examples::POLL_DEADLINE;
    while received < args.count && tokio::time::Instant::now() < deadline {
        for r in consumer.poll(Duration::from_millis(500)).await? {
            println!(
                "partition={} offset={} key={} value={}",
                r.partition,
                r.offset,
                show(r.key.as_ref()),
                show(r.value.as_ref())
            );
            received += 1;
        }
    }
    consumer.commit_sync().await?;
    consumer.close().await;
    examples::shutdown(broker).await?;

    if received != args.count {
        return Err(format!("received {received} of {} records", args.count).into());
    }
    println!("round-tripped {received} records through {target}");
    Ok(())
}
