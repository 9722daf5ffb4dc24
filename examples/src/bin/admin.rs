//! Topic administration with [`krafty_client::Admin`].
//!
//! Describes the cluster, creates a topic (3 partitions, with a topic config), lists the
//! topics, describes the new one (partition leaders, replicas, ISR), deletes it, and lists
//! again to show it is gone.
//!
//! ```text
//! cargo run -q -p examples --bin admin
//! ```

use clap::Parser;
use examples::{start_or_connect, unique, BoxError};
use krafty_client::NewTopic;

/// Create, list, describe and delete a topic.
#[derive(Parser)]
struct Args {
    /// A Kafka broker to use; without it a kafka-server-mini is started in-process.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic to create and delete (default: a unique `example-admin-<millis>`).
    #[arg(long)]
    topic: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (bootstrap, broker) = start_or_connect(args.bootstrap).await?;
    let topic = args.topic.unwrap_or_else(|| unique("example-admin"));
    let admin = examples::admin(&bootstrap)?;

    let cluster = admin.describe_cluster().await?;
    println!(
        "cluster {} controller={} brokers={:?}",
        cluster.cluster_id.as_deref().unwrap_or("?"),
        cluster.controller_id,
        cluster
            .brokers
            .iter()
            .map(|b| format!("{}@{}:{}", b.node_id, b.host, b.port))
            .collect::<Vec<_>>()
    );

    let created = admin
        .create_topics(&[NewTopic::new(&topic, 3, 1).config("retention.ms", "3600000")])
        .await?;
    for r in created {
        r?;
    }
    println!("created {topic}");

    let names = admin.list_topics().await?;
    println!("topics: {}", names.join(", "));

    for t in admin.describe_topics(&[&topic]).await? {
        println!("described {} ({} partitions)", t.name, t.partitions.len());
        for p in &t.partitions {
            println!(
                "  partition {} leader={} replicas={:?} isr={:?}",
                p.id, p.leader, p.replicas, p.isr
            );
        }
    }

    for r in admin.delete_topics(&[&topic]).await? {
        r?;
    }
    println!("deleted {topic}");
    let names = admin.list_topics().await?;
    println!(
        "{topic} still listed: {}",
        names.iter().any(|n| n == &topic)
    );
    admin.close();
    examples::shutdown(broker).await
}
