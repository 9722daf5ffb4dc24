//! Cross-client checks with kcat (librdkafka) against a private Tansu broker.
mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use krafty_client::producer::partitioner::murmur2;
use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
    TopicPartition,
};

const PARTITIONS: i32 = 4;

fn setup() -> Option<(common::Tansu, std::path::PathBuf)> {
    let Some(kcat) = common::peer_bin("kcat") else {
        common::peer_missing("kcat is not installed (run ../shared/peers/install.sh)");
        return None;
    };
    let tansu = common::Tansu::start()?;
    Some((tansu, kcat))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_producer_to_kcat_consumer() {
    let Some((tansu, kcat)) = setup() else { return };
    let bootstrap = tansu.bootstrap();
    let topic = common::topic("to-kcat");
    Admin::new(AdminConfig::new(&bootstrap).expect("config"))
        .create_topic(&topic, PARTITIONS, 1)
        .await
        .expect("create");
    let cfg = ProducerConfig::new(&bootstrap)
        .and_then(|c| c.with("compression.type", "lz4"))
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    let n = 2000;
    for i in 0..n {
        let _ = producer
            .send(
                ProducerRecord::new(&topic)
                    .key(format!("k{}", i % 50))
                    .value(format!("{i}")),
            )
            .await
            .expect("send");
    }
    producer.close().await.expect("close");
    let out = Command::new(&kcat)
        .args([
            "-C",
            "-b",
            &bootstrap,
            "-t",
            &topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%k\t%p\t%o\t%s\n",
        ])
        .output()
        .expect("run kcat");
    assert!(
        out.status.success(),
        "kcat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut last: HashMap<i32, i64> = HashMap::new();
    let mut count = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "{line}");
        let p: i32 = f[1].parse().expect("partition");
        let v: i64 = f[3].parse().expect("value");
        assert_eq!(p, (murmur2(f[0].as_bytes()) & 0x7fff_ffff) % PARTITIONS);
        assert!(
            last.insert(p, v).is_none_or(|prev| prev < v),
            "order in partition {p}"
        );
        count += 1;
    }
    assert_eq!(count, n, "kcat read every record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_producer_to_our_consumer() {
    let Some((tansu, kcat)) = setup() else { return };
    let bootstrap = tansu.bootstrap();
    let topic = common::topic("from-kcat");
    Admin::new(AdminConfig::new(&bootstrap).expect("config"))
        .create_topic(&topic, PARTITIONS, 1)
        .await
        .expect("create");
    let n = 1000;
    let mut child = Command::new(&kcat)
        .args([
            "-P",
            "-b",
            &bootstrap,
            "-t",
            &topic,
            "-K:",
            "-X",
            "partitioner=murmur2_random",
            "-z",
            "snappy",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kcat");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for i in 0..n {
            writeln!(stdin, "key-{}:value-{i}", i % 37).expect("write");
        }
    }
    let status = child.wait_with_output().expect("kcat");
    assert!(
        status.status.success(),
        "kcat: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    let cfg = ConsumerConfig::new(&bootstrap)
        .and_then(|c| c.with("auto.offset.reset", "earliest"))
        .expect("config");
    let consumer = Consumer::new(cfg).expect("consumer");
    consumer.assign((0..PARTITIONS).map(|p| TopicPartition::new(&topic, p)));
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n && tokio::time::Instant::now() < deadline {
        got.extend(
            consumer
                .poll(Duration::from_millis(500))
                .await
                .expect("poll"),
        );
    }
    consumer.close().await;
    assert_eq!(got.len(), n);
    let mut last: HashMap<i32, i64> = HashMap::new();
    for r in &got {
        let key = r.key.as_ref().expect("key");
        assert_eq!(
            r.partition,
            (murmur2(key) & 0x7fff_ffff) % PARTITIONS,
            "librdkafka murmur2_random and our murmur2 agree"
        );
        let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string();
        let i: i64 = v.trim_start_matches("value-").parse().expect("index");
        assert!(last.insert(r.partition, i).is_none_or(|prev| prev < i));
    }
}
