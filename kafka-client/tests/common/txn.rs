//! Helpers of the transaction tests (`transactions.rs`, `transactions_pipeline.rs`):
//! configs, topic creation by bootstrap string, and reading a topic to its end.

use std::collections::HashMap;
use std::time::Duration;

use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, ConsumerRecord, Producer, ProducerConfig,
    TopicPartition,
};

/// A transactional producer config (`transactional.id` = `txn_id`).
pub fn txn_producer(bootstrap: &str, txn_id: &str) -> Producer {
    let cfg = ProducerConfig::new(bootstrap)
        .and_then(|c| c.with("transactional.id", txn_id))
        .and_then(|c| c.with("transaction.timeout.ms", "30000"))
        .and_then(|c| c.with("max.block.ms", "30000"))
        .expect("transactional producer config");
    Producer::new(cfg).expect("transactional producer")
}

/// Creates `topic` with `partitions` partitions and replication `rf`, and waits for it.
pub async fn create(bootstrap: &str, topic: &str, partitions: i32, rf: i16) {
    let admin = Admin::new(AdminConfig::new(bootstrap).expect("admin config"));
    admin
        .create_topic(topic, partitions, rf)
        .await
        .expect("create topic");
    admin.close();
    super::wait_topic_ready(bootstrap, topic, partitions).await;
}

/// A consumer of `isolation` (`read_committed` / `read_uncommitted`) assigned every
/// partition of `topic` from the beginning.
pub fn reader(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> Consumer {
    let cfg = ConsumerConfig::new(bootstrap)
        .and_then(|c| c.with("auto.offset.reset", "earliest"))
        .and_then(|c| c.with("isolation.level", isolation))
        .expect("consumer config");
    let consumer = Consumer::new(cfg).expect("consumer");
    consumer.assign((0..partitions).map(|p| TopicPartition::new(topic, p)));
    consumer
}

/// Every record of `topic` a consumer of `isolation` sees, read until each partition's
/// position reached its end offset as the consumer's isolation level reports it (the
/// last stable offset for read_committed) and then `settle` more without a new record.
pub async fn read_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: &str,
    settle: Duration,
) -> Vec<ConsumerRecord> {
    let consumer = reader(bootstrap, topic, partitions, isolation);
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    let ends = consumer.end_offsets(&tps).await.expect("end offsets");
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        let batch = consumer
            .poll(Duration::from_millis(300))
            .await
            .expect("poll");
        if !batch.is_empty() {
            quiet_since = tokio::time::Instant::now();
        }
        got.extend(batch);
        let mut at_end = true;
        for tp in &tps {
            let end = ends.get(tp).copied().unwrap_or(0);
            let pos = consumer.position(tp).await.unwrap_or(0);
            at_end &= pos >= end;
        }
        if at_end && quiet_since.elapsed() >= settle {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reading {topic} ({isolation}) did not reach the end offsets {ends:?} in 60 s"
        );
    }
    consumer.close().await;
    got
}

/// The values of `records` as strings, per partition, in offset order.
pub fn values_by_partition(records: &[ConsumerRecord]) -> HashMap<i32, Vec<String>> {
    let mut sorted: Vec<&ConsumerRecord> = records.iter().collect();
    sorted.sort_by_key(|r| (r.partition, r.offset));
    let mut out: HashMap<i32, Vec<String>> = HashMap::new();
    for r in sorted {
        out.entry(r.partition).or_default().push(
            r.value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default(),
        );
    }
    out
}
