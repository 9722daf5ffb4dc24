//! Producer settings against real brokers: acks 0/1/all, idempotence off, explicit and
//! custom partitions, sticky partitioning of null keys, null keys and values, flush.
mod common;

use std::collections::HashMap;
use std::time::Duration;

use krafty_client::producer::Partitioner;
use krafty_client::{
    Consumer, ConsumerConfig, Error, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};

/// A record's key and value as read back.
type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

#[derive(Debug)]
struct LastByte;

impl Partitioner for LastByte {
    fn partition(&self, _topic: &str, key: Option<&[u8]>, n: i32) -> Option<i32> {
        key.and_then(|k| k.last()).map(|b| i32::from(*b) % n)
    }
}

async fn count_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
) -> HashMap<i32, usize> {
    let consumer = Consumer::new(
        ConsumerConfig::new(bootstrap)
            .and_then(|c| c.with("auto.offset.reset", "earliest"))
            .expect("config"),
    )
    .expect("consumer");
    consumer.assign((0..partitions).map(|p| TopicPartition::new(topic, p)));
    let mut counts = HashMap::new();
    let mut total = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while total < expected && tokio::time::Instant::now() < deadline {
        for r in consumer
            .poll(Duration::from_millis(300))
            .await
            .expect("poll")
        {
            *counts.entry(r.partition).or_insert(0) += 1;
            total += 1;
        }
    }
    consumer.close().await;
    counts
}

async fn behaviour(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let bootstrap = broker.bootstrap();

    // acks=0, acks=1 and idempotence off: records arrive; acks=0 has no offsets.
    for (acks, idem) in [("0", "false"), ("1", "false"), ("all", "false")] {
        let topic = common::topic(&format!("acks{acks}"));
        common::create_topic(&broker, &topic, 1).await;
        let cfg = ProducerConfig::new(&bootstrap)
            .and_then(|c| c.with("acks", acks))
            .and_then(|c| c.with("enable.idempotence", idem))
            .expect("config");
        let producer = Producer::new(cfg).expect("producer");
        let mut last = None;
        for i in 0..100 {
            last = Some(
                producer
                    .send(ProducerRecord::new(&topic).value(format!("{i}")))
                    .await
                    .expect("send"),
            );
        }
        let meta = last.expect("sent").await.expect("delivered");
        if acks == "0" {
            assert_eq!(meta.offset, -1, "acks=0 has no offsets");
        } else {
            assert_eq!(meta.offset, 99);
        }
        producer.close().await.expect("close");
        let counts = count_all(&bootstrap, &topic, 1, 100).await;
        assert_eq!(counts.get(&0).copied(), Some(100), "acks={acks}");
    }

    // Null keys and values (a tombstone) and an empty value, with the default producer
    // (idempotent, acks=all).
    let topic = common::topic("nulls");
    common::create_topic(&broker, &topic, 1).await;
    let producer =
        Producer::new(ProducerConfig::new(&bootstrap).expect("config")).expect("producer");
    for r in [
        ProducerRecord::new(&topic),
        ProducerRecord::new(&topic).key("k"),
        ProducerRecord::new(&topic).value("v"),
        ProducerRecord::new(&topic).key("").value(""),
    ] {
        producer.send_and_wait(r).await.expect("send");
    }
    producer.close().await.expect("close");
    let consumer = Consumer::new(
        ConsumerConfig::new(&bootstrap)
            .and_then(|c| c.with("auto.offset.reset", "earliest"))
            .expect("config"),
    )
    .expect("consumer");
    consumer.assign([TopicPartition::new(&topic, 0)]);
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.len() < 4 && tokio::time::Instant::now() < deadline {
        got.extend(
            consumer
                .poll(Duration::from_millis(300))
                .await
                .expect("poll"),
        );
    }
    consumer.close().await;
    let kv: Vec<KeyValue> = got
        .iter()
        .map(|r| (r.key.as_deref(), r.value.as_deref()))
        .collect();
    assert_eq!(
        kv,
        vec![
            (None, None),
            (Some(&b"k"[..]), None),
            (None, Some(&b"v"[..])),
            (Some(&b""[..]), Some(&b""[..])),
        ],
        "{kind}: null and empty keys/values"
    );

    // Explicit, invalid, custom and sticky partitions.
    let topic = common::topic("parts");
    common::create_topic(&broker, &topic, 3).await;
    let producer = Producer::with_partitioner(
        ProducerConfig::new(&bootstrap).expect("config"),
        Some(Box::new(LastByte)),
    )
    .expect("producer");
    let m = producer
        .send_and_wait(ProducerRecord::new(&topic).partition(2).value("x"))
        .await
        .expect("send");
    assert_eq!(m.partition, 2);
    let e = producer
        .send(ProducerRecord::new(&topic).partition(3).value("x"))
        .await;
    assert!(matches!(e, Err(Error::InvalidPartition { .. })), "{e:?}");
    let m = producer
        .send_and_wait(ProducerRecord::new(&topic).key(vec![7u8]).value("x"))
        .await
        .expect("send");
    assert_eq!(m.partition, 1, "custom partitioner: 7 % 3");
    producer.close().await.expect("close");

    let cfg = ProducerConfig::new(&bootstrap)
        .and_then(|c| c.with("batch.size", "4096"))
        .and_then(|c| c.with("linger.ms", "50"))
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    let mut futures = Vec::new();
    for _ in 0..300 {
        futures.push(
            producer
                .send(ProducerRecord::new(&topic).value(vec![b'v'; 100]))
                .await
                .expect("send"),
        );
    }
    producer.flush().await;
    let mut partitions = Vec::new();
    for f in futures {
        partitions.push(f.await.expect("delivered after flush").partition);
    }
    let switches = partitions.windows(2).filter(|w| w[0] != w[1]).count();
    let used: std::collections::HashSet<i32> = partitions.iter().copied().collect();
    assert!(
        used.len() > 1,
        "sticky partitioner moves on after batch.size bytes"
    );
    assert!(
        switches <= 300 * 130 / 4096 + 2,
        "sticky: {switches} switches for ~{} KiB",
        300 * 130 / 1024
    );
    producer.close().await.expect("close");
    let e = producer
        .send(ProducerRecord::new(&topic).value("late"))
        .await;
    assert!(matches!(e, Err(Error::Closed)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_behaviour_tansu() {
    behaviour("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_behaviour_mini() {
    behaviour("mini").await;
}

real_kafka_tests!(producer_behaviour_real, behaviour);
