//! A consumer group that mixes our consumers with Java `KafkaConsumer`s (Kafka's own
//! `kafka-console-consumer --group`, run from the jars `scripts/kafka-dist.sh` fetches), with
//! the `range` and the `cooperative-sticky` assignor: the members share the partitions, and
//! when members leave (a Java one, then ours) the others take over and no record is lost.
//! Runs against kafka-server-mini and real Apache Kafka 4.4 (k44-1); it also passed on the
//! 3-node k40-3 during development, left out of the suite to keep its time down.
mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
};
use tokio::time::Instant;

const PARTITIONS: i32 = 4;
const BATCH: usize = 100;

type Seen = Arc<Mutex<HashSet<(i32, i64)>>>;

/// Whether java is on PATH (or JAVA_HOME) and the Kafka jars can be fetched.
fn java_available() -> bool {
    let out = Command::new("bash")
        .arg(common::kafka_dist_script())
        .arg("java-classpath")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            common::skip_or_fail(&format!(
                "the Kafka jars are not available: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
            false
        }
        Err(e) => {
            common::skip_or_fail(&format!("kafka-dist.sh: {e}"));
            false
        }
    }
}

/// A `kafka-console-consumer --group` process whose printed `(partition, offset)`s go to
/// `seen`; SIGTERM makes it leave the group cleanly (committing what it printed).
struct JavaConsumer {
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl JavaConsumer {
    fn start(bootstrap: &str, topic: &str, group: &str, assignor: &str, seen: Seen) -> Self {
        let class = match assignor {
            "cooperative-sticky" => "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
            _ => "org.apache.kafka.clients.consumer.RangeAssignor",
        };
        let mut child = Command::new("bash")
            .arg(common::kafka_dist_script())
            .args(["tool", "kafka-console-consumer", "--bootstrap-server"])
            .arg(bootstrap)
            .args(["--topic", topic, "--group", group])
            .args(["--consumer-property", "auto.offset.reset=earliest"])
            .args(["--consumer-property", "session.timeout.ms=10000"])
            .args(["--consumer-property", "heartbeat.interval.ms=500"])
            .args(["--consumer-property", "auto.commit.interval.ms=200"])
            .arg("--consumer-property")
            .arg(format!("partition.assignment.strategy={class}"))
            .args(["--property", "print.partition=true"])
            .args(["--property", "print.offset=true"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kafka-console-consumer");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(po) = parse_line(&line) {
                    seen.lock().unwrap_or_else(|e| e.into_inner()).insert(po);
                }
            }
        });
        JavaConsumer {
            child,
            reader: Some(reader),
        }
    }

    /// SIGTERM (the JVM's shutdown hook closes the consumer: commit, LeaveGroup) and wait.
    fn leave(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for JavaConsumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Partition:P\tOffset:O\tvalue` (DefaultMessageFormatter) -> `(P, O)`.
fn parse_line(line: &str) -> Option<(i32, i64)> {
    let mut partition = None;
    let mut offset = None;
    for cell in line.split('\t') {
        if let Some(p) = cell.strip_prefix("Partition:") {
            partition = p.trim().parse().ok();
        } else if let Some(o) = cell.strip_prefix("Offset:") {
            offset = o.trim().parse().ok();
        }
    }
    Some((partition?, offset?))
}

async fn produce_batch(bootstrap: &str, topic: &str, from: usize) {
    let producer =
        Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    for i in from..from + BATCH {
        let _ = producer
            .send(
                ProducerRecord::new(topic)
                    .key(format!("k{i}"))
                    .value(format!("{i}")),
            )
            .await
            .expect("send");
    }
    producer.flush().await;
    producer.close().await.expect("close");
}

/// Our member: polls and commits after every poll until `stop`, recording what it got.
fn spawn_ours(c: Arc<Consumer>, seen: Seen, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let records = c.poll(Duration::from_millis(200)).await.expect("poll");
            if !records.is_empty() {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(records.iter().map(|r| (r.partition, r.offset)));
                c.commit_sync().await.expect("commit");
            }
        }
    })
}

/// The group's members' assignments (partition sets), once it is Stable.
async fn member_assignments(admin: &Admin, group: &str) -> Vec<BTreeSet<i32>> {
    match admin.describe_groups(&[group]).await {
        Ok(d) if d[0].state == "Stable" => d[0]
            .members
            .iter()
            .map(|m| m.assignment.iter().map(|tp| tp.partition).collect())
            .collect(),
        _ => Vec::new(),
    }
}

/// Every `(partition, offset)` of the topic so far, from the end offsets.
async fn all_records(admin: &Admin, topic: &str) -> HashSet<(i32, i64)> {
    use krafty_client::admin::OffsetSpec;
    use krafty_client::TopicPartition;
    let specs: Vec<_> = (0..PARTITIONS)
        .map(|p| (TopicPartition::new(topic, p), OffsetSpec::Latest))
        .collect();
    let ends = admin.list_offsets(&specs).await.expect("list offsets");
    let mut all = HashSet::new();
    for (tp, r) in ends {
        for o in 0..r.offset {
            all.insert((tp.partition, o));
        }
    }
    all
}

async fn wait_until(secs: u64, mut done: impl FnMut() -> BoxedBool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

type BoxedBool = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

async fn mixed_group(kind: &str, assignor: &str) {
    if !java_available() {
        return;
    }
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let bootstrap = broker.bootstrap();
    let topic = common::topic("jgrp");
    let group = common::topic("jgrp-g");
    common::create_topic(&broker, &topic, PARTITIONS).await;
    let admin = Arc::new(Admin::new(AdminConfig::new(&bootstrap).expect("config")));
    produce_batch(&bootstrap, &topic, 0).await;

    let seen: Seen = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let ours = Arc::new(
        Consumer::new(
            ConsumerConfig::new(&bootstrap)
                .and_then(|c| c.with("group.id", &group))
                .and_then(|c| c.with("auto.offset.reset", "earliest"))
                .and_then(|c| c.with("enable.auto.commit", "false"))
                .and_then(|c| c.with("partition.assignment.strategy", assignor))
                .and_then(|c| c.with("heartbeat.interval.ms", "300"))
                .and_then(|c| c.with("session.timeout.ms", "10000"))
                .and_then(|c| c.with("max.poll.interval.ms", "30000"))
                .expect("config"),
        )
        .expect("consumer"),
    );
    ours.subscribe(&[&topic]).expect("subscribe");
    let task = spawn_ours(ours.clone(), seen.clone(), stop.clone());
    let mut java = JavaConsumer::start(&bootstrap, &topic, &group, assignor, seen.clone());

    // Both members share the 4 partitions 2 + 2, disjoint.
    let shared = wait_until(90, || {
        let (admin, group) = (admin.clone(), group.clone());
        Box::pin(async move {
            let a = member_assignments(&admin, &group).await;
            a.len() == 2 && a.iter().all(|s| s.len() == 2) && a[0].is_disjoint(&a[1])
        })
    })
    .await;
    let described = admin.describe_groups(&[&group]).await;
    assert!(shared, "{kind}/{assignor}: not shared 2+2: {described:?}");
    assert_eq!(ours.assignment().len(), 2, "{kind}/{assignor}: our share");
    produce_batch(&bootstrap, &topic, BATCH).await;

    // The Java member leaves: ours takes every partition and reads everything.
    java.leave();
    let took_over = wait_until(60, || {
        let (ours, seen, admin, topic) = (ours.clone(), seen.clone(), admin.clone(), topic.clone());
        Box::pin(async move {
            let all = all_records(&admin, &topic).await;
            let s = seen.lock().unwrap_or_else(|e| e.into_inner());
            ours.assignment().len() == PARTITIONS as usize && all.is_subset(&s)
        })
    })
    .await;
    assert!(
        took_over,
        "{kind}/{assignor}: after the Java member left: assignment {:?}, seen {} records",
        ours.assignment(),
        seen.lock().unwrap_or_else(|e| e.into_inner()).len()
    );

    // Ours leaves (it committed what it read); a new Java member picks up from the commits.
    stop.store(true, Ordering::SeqCst);
    task.await.expect("our poll loop");
    ours.close().await;
    produce_batch(&bootstrap, &topic, 2 * BATCH).await;
    let before = seen.lock().unwrap_or_else(|e| e.into_inner()).len();
    let mut java2 = JavaConsumer::start(&bootstrap, &topic, &group, assignor, seen.clone());
    let all = all_records(&admin, &topic).await;
    assert_eq!(all.len(), 3 * BATCH);
    let complete = wait_until(90, || {
        let (seen, all) = (seen.clone(), all.clone());
        Box::pin(async move { all.is_subset(&seen.lock().unwrap_or_else(|e| e.into_inner())) })
    })
    .await;
    java2.leave();
    let s = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let missing: Vec<_> = all.difference(&s).take(10).collect();
    assert!(
        complete,
        "{kind}/{assignor}: records lost: {missing:?} (seen {} of {})",
        s.len(),
        all.len()
    );
    assert_eq!(
        before + BATCH,
        s.len(),
        "{kind}/{assignor}: the new Java member read only the new batch (resumed at our commits)"
    );
    admin.close();
}

async fn mixed_group_range(kind: &str) {
    mixed_group(kind, "range").await;
}

async fn mixed_group_cooperative(kind: &str) {
    mixed_group(kind, "cooperative-sticky").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_group_range_mini() {
    mixed_group_range("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_group_cooperative_mini() {
    mixed_group_cooperative("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_group_range_k44_1() {
    mixed_group_range("k44-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_group_cooperative_k44_1() {
    mixed_group_cooperative("k44-1").await;
}
