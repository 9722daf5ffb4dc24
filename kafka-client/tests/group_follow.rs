//! The consumer follows the group and the cluster as the Java consumer does (issue 16):
//! `poll` returns by its deadline while a join waits for a killed member's session,
//! `unsubscribe` / `subscribe(&[])` revoke and leave, added partitions are picked up and a
//! deleted topic's partitions are revoked; and the producer reports expired sends within
//! `delivery.timeout.ms`. Run against kafka-server-mini, Tansu (where it behaves as Kafka)
//! and the real Apache Kafka clusters named in `REAL_KAFKA_CLUSTERS`.
//!
//! Timings are checked only as bounds several times looser than the setting; each test
//! prints a `RESULT` line with what it measured.
mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, Error, Producer, ProducerConfig, ProducerRecord,
    RebalanceListener, TopicPartition,
};
use tokio::time::Instant;

/// The listener's calls, in order: `revoked [..]`, `assigned [..]`, `lost [..]`.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, BTreeSet<i32>)>>,
}

impl Recorder {
    fn push(&self, what: &str, partitions: &[TopicPartition]) {
        let set = partitions.iter().map(|tp| tp.partition).collect();
        if let Ok(mut e) = self.events.lock() {
            e.push((what.to_string(), set));
        }
    }

    fn events(&self) -> Vec<(String, BTreeSet<i32>)> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl RebalanceListener for Recorder {
    fn on_partitions_revoked<'a>(
        &'a self,
        _: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.push("revoked", partitions);
        Box::pin(async {})
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        _: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.push("assigned", partitions);
        Box::pin(async {})
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.push("lost", partitions);
        Box::pin(async {})
    }
}

/// The real clusters to test against (name, bootstrap), per the REAL_KAFKA_CLUSTERS
/// convention: unset outside CI prints SKIP, unset in CI fails.
fn real_clusters() -> Vec<(String, String)> {
    let names = std::env::var("REAL_KAFKA_CLUSTERS").unwrap_or_default();
    if names.trim().is_empty() {
        let reason = "REAL_KAFKA_CLUSTERS is not set (scripts/real-kafka.sh up starts them)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{reason}");
        }
        eprintln!("SKIP: {reason}");
        return Vec::new();
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka-dist.sh");
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let out = std::process::Command::new("bash")
                .arg(&script)
                .args(["bootstrap", "--name", name])
                .output()
                .expect("run kafka-dist.sh bootstrap");
            assert!(
                out.status.success(),
                "cluster {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let bootstrap = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (name.to_string(), bootstrap)
        })
        .collect()
}

fn consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> Consumer {
    let mut cfg = ConsumerConfig::new(bootstrap)
        .and_then(|c| c.with("group.id", group))
        .and_then(|c| c.with("auto.offset.reset", "earliest"))
        .and_then(|c| c.with("heartbeat.interval.ms", "500"))
        .expect("config");
    for (k, v) in extra {
        cfg = cfg.with(k, v).expect("config");
    }
    Consumer::new(cfg).expect("consumer")
}

fn admin(bootstrap: &str) -> Admin {
    Admin::new(AdminConfig::new(bootstrap).expect("config"))
}

async fn produce(bootstrap: &str, topic: &str, partition: i32, value: &str) {
    let producer =
        Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    let mut record = ProducerRecord::new(topic).value(value.to_string());
    record.partition = Some(partition);
    producer
        .send_and_wait(record)
        .await
        .expect("produce before the test");
    producer.close().await.expect("close");
}

fn partitions(c: &Consumer) -> BTreeSet<i32> {
    c.assignment().into_iter().map(|tp| tp.partition).collect()
}

/// Polls (500 ms at a time) until `done` holds for the assignment or `limit` passes;
/// returns the values of the records read meanwhile.
async fn poll_until(
    c: &Consumer,
    limit: Duration,
    done: impl Fn(&BTreeSet<i32>) -> bool,
) -> Vec<(i32, String)> {
    let deadline = Instant::now() + limit;
    let mut read = Vec::new();
    while !done(&partitions(c)) {
        assert!(
            Instant::now() < deadline,
            "assignment stuck at {:?} after {limit:?}",
            partitions(c)
        );
        for r in c.poll(Duration::from_millis(500)).await.expect("poll") {
            let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string();
            read.push((r.partition, value));
        }
    }
    read
}

// --- 1. poll returns by its deadline while the group waits for a killed member ----------

async fn killed_member(bootstrap: &str, label: &str) {
    let topic = common::topic("killed");
    admin(bootstrap)
        .create_topic(&topic, 1, 1)
        .await
        .expect("create");
    produce(bootstrap, &topic, 0, "r0").await;
    let group = common::topic("g3");
    // the member to kill keeps the default session.timeout.ms (45 s)
    let first = consumer(bootstrap, &group, &[]);
    first.subscribe(&[&topic]).expect("subscribe");
    poll_until(&first, Duration::from_secs(60), |p| p.len() == 1).await;
    // killed: no LeaveGroup, no more heartbeats; the group keeps it until its session ends
    drop(first);

    let second = consumer(bootstrap, &group, &[]);
    second.subscribe(&[&topic]).expect("subscribe");
    let mut took = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let records = second.poll(Duration::from_secs(5)).await.expect("poll");
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(20),
            "{label}: poll(5s) took {elapsed:?} during the rebalance"
        );
        took.push((elapsed.as_millis(), records.len()));
    }
    let started = Instant::now();
    second.close_timeout(Duration::from_secs(5)).await;
    let closing = started.elapsed();
    assert!(
        closing < Duration::from_secs(15),
        "{label}: close_timeout(5s) took {closing:?}"
    );
    println!(
        "RESULT killed-member {label}: poll(5s) took (ms, records) {took:?}; close_timeout(5s) took {} ms",
        closing.as_millis()
    );
}

#[tokio::test]
async fn poll_returns_by_its_deadline_while_a_killed_member_holds_the_group_mini() {
    if let Some(b) = common::TestBroker::start("mini") {
        killed_member(&b.bootstrap(), "kafka-server-mini").await;
    }
}

#[tokio::test]
async fn poll_returns_by_its_deadline_while_a_killed_member_holds_the_group_tansu() {
    if let Some(b) = common::TestBroker::start("tansu") {
        killed_member(&b.bootstrap(), "tansu").await;
    }
}

#[tokio::test]
async fn poll_returns_by_its_deadline_while_a_killed_member_holds_the_group_real_kafka() {
    for (name, bootstrap) in real_clusters() {
        killed_member(&bootstrap, &name).await;
    }
}

// --- 2. unsubscribe and subscribe(&[]) --------------------------------------------------

async fn unsubscribe(bootstrap: &str, label: &str) {
    let topic = common::topic("unsub");
    admin(bootstrap)
        .create_topic(&topic, 1, 1)
        .await
        .expect("create");
    produce(bootstrap, &topic, 0, "before").await;
    let group = common::topic("gu");
    let c = consumer(bootstrap, &group, &[]);
    let listener = Arc::new(Recorder::default());
    c.subscribe_with_listener(&[&topic], listener.clone())
        .expect("subscribe");
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while read.is_empty() {
        assert!(Instant::now() < deadline, "{label}: nothing read");
        read.extend(c.poll(Duration::from_millis(500)).await.expect("poll"));
    }

    c.unsubscribe().await.expect("unsubscribe");
    assert!(
        c.assignment().is_empty(),
        "{label}: unsubscribe drops the assignment"
    );
    let events = listener.events();
    assert_eq!(
        events.last().map(|(what, p)| (what.as_str(), p.clone())),
        Some(("revoked", BTreeSet::from([0]))),
        "{label}: unsubscribe revokes through the listener: {events:?}"
    );
    let members = admin(bootstrap)
        .describe_groups(&[&group])
        .await
        .expect("describe")
        .pop()
        .map(|g| g.members.len());
    assert_eq!(members, Some(0), "{label}: unsubscribe left the group");
    produce(bootstrap, &topic, 0, "after").await;
    let records = c.poll(Duration::from_millis(1500)).await.expect("poll");
    assert!(records.is_empty(), "{label}: no records after unsubscribe");

    // subscribing again joins as a new member and resumes at the committed offset
    c.subscribe(&[&topic]).expect("subscribe again");
    let mut again = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while again.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{label}: nothing read after resubscribing"
        );
        again.extend(c.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    let values: Vec<String> = again
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string())
        .collect();
    assert_eq!(
        values,
        ["after"],
        "{label}: the revoke committed the position"
    );

    // subscribe(&[]) is Java's subscribe(emptyList): an unsubscribe
    c.subscribe(&[]).expect("subscribe(&[])");
    produce(bootstrap, &topic, 0, "ignored").await;
    let records = c.poll(Duration::from_millis(1500)).await.expect("poll");
    assert!(
        records.is_empty(),
        "{label}: no records after subscribe(&[])"
    );
    assert!(
        c.assignment().is_empty(),
        "{label}: subscribe(&[]) drops the assignment"
    );
    let events = listener.events();
    assert_eq!(
        events.last().map(|(what, p)| (what.as_str(), p.clone())),
        Some(("revoked", BTreeSet::from([0]))),
        "{label}: subscribe(&[]) revokes through the listener: {events:?}"
    );
    let members = admin(bootstrap)
        .describe_groups(&[&group])
        .await
        .expect("describe")
        .pop()
        .map(|g| g.members.len());
    assert_eq!(members, Some(0), "{label}: subscribe(&[]) left the group");
    c.close().await;
    println!("RESULT unsubscribe {label}: listener calls {events:?}");
}

#[tokio::test]
async fn unsubscribe_revokes_and_leaves_mini() {
    if let Some(b) = common::TestBroker::start("mini") {
        unsubscribe(&b.bootstrap(), "kafka-server-mini").await;
    }
}

#[tokio::test]
async fn unsubscribe_revokes_and_leaves_tansu() {
    if let Some(b) = common::TestBroker::start("tansu") {
        unsubscribe(&b.bootstrap(), "tansu").await;
    }
}

#[tokio::test]
async fn unsubscribe_revokes_and_leaves_real_kafka() {
    for (name, bootstrap) in real_clusters() {
        unsubscribe(&bootstrap, &name).await;
    }
}

// --- 3. added partitions and a deleted topic ---------------------------------------------

/// `grow`: whether the broker supports CreatePartitions (Tansu does not: there the topic
/// starts with 3 partitions and only the deletion is checked).
async fn topic_changes(bootstrap: &str, label: &str, grow: bool) {
    let topic = common::topic("grow");
    admin(bootstrap)
        .create_topic(&topic, if grow { 1 } else { 3 }, 1)
        .await
        .expect("create");
    let group = common::topic("gp");
    let extra = [
        ("metadata.max.age.ms", "2000"),
        ("session.timeout.ms", "10000"),
    ];
    let a = Arc::new(consumer(bootstrap, &group, &extra));
    let b = Arc::new(consumer(bootstrap, &group, &extra));
    let (la, lb) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    a.subscribe_with_listener(&[&topic], la.clone())
        .expect("subscribe");
    b.subscribe_with_listener(&[&topic], lb.clone())
        .expect("subscribe");
    // both members poll in the background; the test watches their assignments
    let stop = Arc::new(AtomicBool::new(false));
    let read = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|c| {
            let (stop, read) = (stop.clone(), read.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let records = c.poll(Duration::from_millis(200)).await.expect("poll");
                    if let Ok(mut read) = read.lock() {
                        read.extend(records.into_iter().map(|r| {
                            let v = r.value.as_deref().unwrap_or_default().to_vec();
                            (r.partition, String::from_utf8_lossy(&v).to_string())
                        }));
                    }
                }
            })
        })
        .collect();
    let union = || -> BTreeSet<i32> { partitions(&a).union(&partitions(&b)).copied().collect() };
    let wait = |limit: Duration, what: &'static str, done: &dyn Fn(&BTreeSet<i32>) -> bool| {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let now = union();
            if done(&now) {
                return now;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{label}: {what}: assignment stuck at a={:?} b={:?}",
                partitions(&a),
                partitions(&b)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = if grow {
        BTreeSet::from([0])
    } else {
        BTreeSet::from([0, 1, 2])
    };
    tokio::task::block_in_place(|| {
        wait(Duration::from_secs(60), "first assignment", &|p| {
            *p == first
        })
    });

    if grow {
        admin(bootstrap)
            .create_partitions(&topic, 3)
            .await
            .expect("create_partitions");
    }
    let started = Instant::now();
    let grown = tokio::task::block_in_place(|| {
        wait(Duration::from_secs(30), "after adding partitions", &|p| {
            *p == BTreeSet::from([0, 1, 2])
        })
    });
    let grow_ms = started.elapsed().as_millis();
    let after_add = (partitions(&a), partitions(&b));
    produce(bootstrap, &topic, 2, "p2").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = read
            .lock()
            .map(|r| r.contains(&(2, "p2".to_string())))
            .unwrap_or(false);
        if got {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: the record of partition 2 was not read"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let deleted = admin(bootstrap)
        .delete_topics(&[&topic])
        .await
        .expect("delete");
    assert!(
        deleted.iter().all(Result::is_ok),
        "{label}: delete {deleted:?}"
    );
    let started = Instant::now();
    let after_delete = tokio::task::block_in_place(|| {
        wait(Duration::from_secs(30), "after deleting the topic", &|p| {
            p.is_empty()
        })
    });
    let delete_ms = started.elapsed().as_millis();
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("poll task");
    }
    // the deleted topic's partitions were revoked through the listeners
    let revoked: BTreeSet<i32> = la
        .events()
        .into_iter()
        .chain(lb.events())
        .filter(|(what, _)| what == "revoked" || what == "lost")
        .flat_map(|(_, p)| p)
        .collect();
    assert!(
        revoked.contains(&2),
        "{label}: partition 2 revoked: a={:?} b={:?}",
        la.events(),
        lb.events()
    );
    a.close_timeout(Duration::from_secs(5)).await;
    b.close_timeout(Duration::from_secs(5)).await;
    println!(
        "RESULT topic-changes {label}: after create_partitions(3) (done: {grow}): {grown:?} (a={:?} b={:?}) in {grow_ms} ms; after delete: {after_delete:?} in {delete_ms} ms",
        after_add.0, after_add.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_partitions_are_assigned_and_a_deleted_topic_is_revoked_mini() {
    if let Some(b) = common::TestBroker::start("mini") {
        topic_changes(&b.bootstrap(), "kafka-server-mini", true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_partitions_are_assigned_and_a_deleted_topic_is_revoked_tansu() {
    if let Some(b) = common::TestBroker::start("tansu") {
        // Tansu answers CreatePartitions as an unsupported API
        topic_changes(&b.bootstrap(), "tansu", false).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_partitions_are_assigned_and_a_deleted_topic_is_revoked_real_kafka() {
    for (name, bootstrap) in real_clusters() {
        topic_changes(&bootstrap, &name, true).await;
    }
}

// --- 4. expired sends are reported within delivery.timeout.ms ---------------------------

const DELIVERY_TIMEOUT: Duration = Duration::from_millis(3000);

fn expiring_producer(bootstrap: &str, linger_ms: &str) -> Producer {
    let cfg = ProducerConfig::new(bootstrap)
        .and_then(|c| c.with("delivery.timeout.ms", "3000"))
        .and_then(|c| c.with("request.timeout.ms", "2000"))
        .and_then(|c| c.with("linger.ms", linger_ms))
        .and_then(|c| c.with("acks", "all"))
        .expect("config");
    Producer::new(cfg).expect("producer")
}

/// Sends five records one after the other, then returns when each failed, in ms after
/// its own send; every one must fail with a timeout within delivery.timeout.ms plus a
/// loose slack.
async fn five_expired_sends(
    producer: &Producer,
    topic: &str,
    partition: i32,
    gap: Duration,
    label: &str,
) -> Vec<u128> {
    let mut pending = Vec::new();
    for i in 0..5 {
        let mut record = ProducerRecord::new(topic).value(format!("x{i}"));
        record.partition = Some(partition);
        let sent = Instant::now();
        let delivery = producer.send(record).await.expect("append");
        pending.push(tokio::spawn(async move {
            let outcome = delivery.await;
            (sent.elapsed(), outcome)
        }));
        tokio::time::sleep(gap).await;
    }
    let mut reported = Vec::new();
    for p in pending {
        let (after, outcome) = p.await.expect("delivery task");
        assert!(
            matches!(outcome, Err(Error::Timeout(_))),
            "{label}: expected a delivery timeout, got {outcome:?}"
        );
        assert!(
            after < DELIVERY_TIMEOUT + Duration::from_millis(1500),
            "{label}: failure reported {after:?} after send"
        );
        reported.push(after.as_millis());
    }
    reported
}

#[tokio::test]
async fn expired_sends_are_reported_within_the_delivery_timeout_mini() {
    let Some(mut broker) = common::RestartableMini::start() else {
        return;
    };
    let bootstrap = broker.bootstrap();
    let topic = common::topic("expire");
    admin(&bootstrap)
        .create_topic(&topic, 1, 1)
        .await
        .expect("create");
    let producer = expiring_producer(&bootstrap, "0");
    let mut first = ProducerRecord::new(&topic).value("ok");
    first.partition = Some(0);
    producer.send_and_wait(first).await.expect("first send");
    broker.kill9();
    let reported = five_expired_sends(
        &producer,
        &topic,
        0,
        Duration::from_millis(100),
        "kafka-server-mini",
    )
    .await;
    drop(producer);
    println!("RESULT expired-sends kafka-server-mini (broker killed): reported {reported:?} ms after send");
}

#[tokio::test]
async fn expired_sends_are_reported_within_the_delivery_timeout_tansu() {
    let Some(tansu) = common::Tansu::start() else {
        return;
    };
    let bootstrap = tansu.bootstrap();
    let topic = common::topic("expire");
    admin(&bootstrap)
        .create_topic(&topic, 1, 1)
        .await
        .expect("create");
    let producer = expiring_producer(&bootstrap, "0");
    let mut first = ProducerRecord::new(&topic).value("ok");
    first.partition = Some(0);
    producer.send_and_wait(first).await.expect("first send");
    drop(tansu); // stops the broker
    let reported =
        five_expired_sends(&producer, &topic, 0, Duration::from_millis(100), "tansu").await;
    drop(producer);
    println!("RESULT expired-sends tansu (broker stopped): reported {reported:?} ms after send");
}

/// Real Kafka: the shared clusters must not be killed, so the records go to a partition
/// that stops existing: the producer knows partition 1 of a 2-partition topic, the topic is
/// deleted (the producer's next metadata request re-creates it with the broker's
/// `num.partitions`, 1), and the batch for partition 1 waits for a leader that never comes
/// until `delivery.timeout.ms`.
#[tokio::test]
async fn expired_sends_are_reported_within_the_delivery_timeout_real_kafka() {
    for (name, bootstrap) in real_clusters() {
        let topic = common::topic("expire");
        admin(&bootstrap)
            .create_topic(&topic, 2, 1)
            .await
            .expect("create");
        // linger.ms=200: the five records are appended before the first produce answer
        // refreshes the producer's metadata
        let producer = expiring_producer(&bootstrap, "200");
        let mut first = ProducerRecord::new(&topic).value("ok");
        first.partition = Some(1);
        producer.send_and_wait(first).await.expect("first send");
        let deleted = admin(&bootstrap)
            .delete_topics(&[&topic])
            .await
            .expect("delete");
        assert!(deleted.iter().all(Result::is_ok), "{name}: {deleted:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let reported = five_expired_sends(&producer, &topic, 1, Duration::ZERO, &name).await;
        producer.close().await.expect("close");
        println!(
            "RESULT expired-sends {name} (partition deleted): reported {reported:?} ms after send"
        );
    }
}
