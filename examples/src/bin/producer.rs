//! Sending records and reading their delivery metadata.
//!
//! Sends `--count` keyed records to `--topic` with [`krafty_client::Producer::send`], which
//! returns a [`krafty_client::DeliveryFuture`] per record as soon as the record is buffered;
//! awaiting it yields the [`krafty_client::RecordMetadata`] (partition, offset, timestamp)
//! once the broker has acknowledged the batch. Prints one `delivered ...` line per record.
//!
//! ```text
//! cargo run -q -p examples --bin producer -- --topic orders --count 5
//! ```

use clap::Parser;
use examples::{ensure_topic, start_or_connect, BoxError};
use krafty_client::ProducerRecord;

/// Send records and print their delivery metadata.
#[derive(Parser)]
struct Args {
    /// A Kafka broker to use; without it a kafka-server-mini is started in-process.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic to send to (created with 3 partitions if missing).
    #[arg(long, default_value = "example-producer")]
    topic: String,
    /// How many records to send.
    #[arg(long, default_value_t = 5)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (bootstrap, broker) = start_or_connect(args.bootstrap).await?;
    let admin = examples::admin(&bootstrap)?;
    ensure_topic(&admin, &args.topic, 3).await?;
    admin.close();

    let producer = examples::producer(&bootstrap)?;
    // Send everything first (the producer batches), then await the acknowledgements.
    let mut pending = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let record = ProducerRecord::new(&args.topic)
            .key(format!("user-{}", i % 4))
            .value(format!("event {i}"))
            .header("source", "examples/producer");
        pending.push((i, producer.send(record).await?));
    }
    for (i, delivery) in pending {
        let md = delivery.await?;
        println!(
            "delivered record {i}: topic={} partition={} offset={} timestamp={}",
            md.topic, md.partition, md.offset, md.timestamp
        );
    }
    producer.close().await?;
    println!(
        "sent {} records to {} at {bootstrap}",
        args.count, args.topic
    );
    examples::shutdown(broker).await
}
