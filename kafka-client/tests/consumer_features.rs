//! Consumer features against real brokers (kafka-server-mini, Tansu, real Apache Kafka): pause/resume,
//! offsets_for_times and beginning/end offsets, the record `Stream`, pattern subscription,
//! rebalance listener callbacks and static membership.
mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use krafty_client::{
    Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord, RebalanceListener,
    TopicPartition,
};
use tokio::time::Instant;

fn consumer_cfg(bootstrap: &str, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(bootstrap).expect("config");
    for (k, v) in [
        ("auto.offset.reset", "earliest"),
        ("heartbeat.interval.ms", "200"),
        ("session.timeout.ms", "6000"),
        ("max.poll.interval.ms", "10000"),
        ("metadata.max.age.ms", "500"),
    ]
    .iter()
    .chain(extra)
    {
        cfg.set(k, v).expect("config key");
    }
    cfg
}

async fn create(broker: &common::TestBroker, topic: &str, partitions: i32) {
    common::create_topic(broker, topic, partitions).await;
}

/// Sends `n` records `prefix-i` to `topic` (partition `partition` when given) with
/// timestamps `ts0 + i * 1000` when `ts0` is given.
async fn produce(
    bootstrap: &str,
    topic: &str,
    partition: Option<i32>,
    prefix: &str,
    n: usize,
    ts0: Option<i64>,
) {
    let producer =
        Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    for i in 0..n {
        let mut r = ProducerRecord::new(topic)
            .key(format!("k{i}"))
            .value(format!("{prefix}-{i}"));
        if let Some(p) = partition {
            r = r.partition(p);
        }
        if let Some(ts) = ts0 {
            r = r.timestamp(ts + 1000 * i as i64);
        }
        let _delivery = producer.send(r).await.expect("send");
    }
    producer.flush().await;
    producer.close().await.expect("close");
}

fn value(r: &krafty_client::ConsumerRecord) -> String {
    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
}

async fn poll_until(
    c: &Consumer,
    mut done: impl FnMut(&[krafty_client::ConsumerRecord]) -> bool,
    secs: u64,
) -> Vec<krafty_client::ConsumerRecord> {
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(&all) && Instant::now() < deadline {
        all.extend(c.poll(Duration::from_millis(200)).await.expect("poll"));
    }
    all
}

async fn pause_resume_and_offset_queries(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let b = broker.bootstrap();
    let topic = common::topic("pause");
    create(&broker, &topic, 2).await;
    let ts0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
        - 100_000;
    produce(&b, &topic, Some(0), "p0", 10, Some(ts0)).await;
    produce(&b, &topic, Some(1), "p1", 10, Some(ts0)).await;
    let (p0, p1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );

    let c = Consumer::new(consumer_cfg(&b, &[])).expect("consumer");
    let begin = c
        .beginning_offsets(&[p0.clone(), p1.clone()])
        .await
        .expect("beginning");
    let end = c.end_offsets(&[p0.clone(), p1.clone()]).await.expect("end");
    assert_eq!((begin[&p0], begin[&p1]), (0, 0));
    let found = c
        .offsets_for_times(&[(p0.clone(), ts0 + 3500), (p1.clone(), ts0 + 99_000)])
        .await
        .expect("offsets_for_times");
    if broker.is_tansu() && (end[&p0], end[&p1]) != (10, 10) {
        // Tansu answers ListOffsets(latest) per batch, not per record
        println!(
            "NOTE: tansu: end offsets {:?}, offsets_for_times {:?}: not checked",
            (end[&p0], end[&p1]),
            found
        );
    } else {
        assert_eq!((end[&p0], end[&p1]), (10, 10));
        let hit = found[&p0].expect("a record at or after ts0+3500");
        assert_eq!((hit.offset, hit.timestamp), (4, ts0 + 4000), "{kind}");
        assert_eq!(found[&p1], None, "no record that recent");
    }

    c.assign([p0.clone(), p1.clone()]);
    c.pause(std::slice::from_ref(&p0)).expect("pause");
    assert_eq!(c.paused(), vec![p0.clone()]);
    let got = poll_until(&c, |all| all.len() >= 10, 20).await;
    assert_eq!(got.len(), 10);
    assert!(
        got.iter().all(|r| r.partition == 1),
        "paused partition stays quiet"
    );
    let more = c.poll(Duration::from_millis(700)).await.expect("poll");
    assert!(
        more.is_empty(),
        "{} records from a paused partition",
        more.len()
    );
    c.resume(std::slice::from_ref(&p0)).expect("resume");
    let got = poll_until(&c, |all| all.len() >= 10, 20).await;
    let values: Vec<String> = got.iter().map(value).collect();
    assert_eq!(
        values,
        (0..10).map(|i| format!("p0-{i}")).collect::<Vec<_>>()
    );
    let unassigned = TopicPartition::new(&topic, 7);
    assert!(c.pause(&[unassigned]).is_err());
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_offset_queries_mini() {
    pause_resume_and_offset_queries("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_offset_queries_tansu() {
    pause_resume_and_offset_queries("tansu").await;
}

async fn stream_of_records(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let b = broker.bootstrap();
    let topic = common::topic("stream");
    create(&broker, &topic, 1).await;
    produce(&b, &topic, None, "s", 120, None).await;
    let c = Consumer::new(consumer_cfg(&b, &[("max.poll.records", "7")])).expect("consumer");
    c.assign([TopicPartition::new(&topic, 0)]);
    let got: Vec<String> = tokio::time::timeout(
        Duration::from_secs(30),
        c.stream()
            .take(120)
            .map(|r| r.map(|r| value(&r)).expect("record"))
            .collect::<Vec<_>>(),
    )
    .await
    .expect("120 records in time");
    assert_eq!(got, (0..120).map(|i| format!("s-{i}")).collect::<Vec<_>>());
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_of_records_mini() {
    stream_of_records("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_of_records_tansu() {
    stream_of_records("tansu").await;
}

async fn pattern_subscription(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let b = broker.bootstrap();
    let base = common::topic("pat");
    let (t1, t2, other) = (
        format!("{base}-a1"),
        format!("{base}-a2"),
        format!("{base}-x"),
    );
    for t in [&t1, &t2, &other] {
        create(&broker, t, 1).await;
        produce(&b, t, None, t, 5, None).await;
    }
    let group = common::topic("gpat");
    let c = Consumer::new(consumer_cfg(&b, &[("group.id", &group)])).expect("consumer");
    c.subscribe_pattern(&format!("{}-a\\d", regex_escape(&base)))
        .expect("pattern");
    let got = poll_until(&c, |all| all.len() >= 10, 30).await;
    let topics: BTreeSet<String> = got.iter().map(|r| r.topic.to_string()).collect();
    assert_eq!(topics, BTreeSet::from([t1.clone(), t2.clone()]), "{kind}");
    assert_eq!(got.len(), 10);
    // a new matching topic is picked up
    let t3 = format!("{base}-a3");
    create(&broker, &t3, 1).await;
    produce(&b, &t3, None, &t3, 5, None).await;
    let got = poll_until(&c, |all| all.len() >= 5, 30).await;
    assert_eq!(got.len(), 5, "{kind}: records of the new topic");
    assert!(got.iter().all(|r| *r.topic == *t3));
    assert!(c.assignment().iter().all(|tp| *tp.topic != *other));
    assert!(c.subscribe_pattern("(").is_err(), "bad regex is an error");
    c.close().await;
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscription_mini() {
    pattern_subscription("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscription_tansu() {
    pattern_subscription("tansu").await;
}

/// Records the callbacks it gets, as `assigned:[p..]` / `revoked:[p..]` / `lost:[p..]`.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, BTreeSet<i32>)>>,
}

impl Recorder {
    fn push(&self, kind: &str, parts: &[TopicPartition]) {
        let set = parts.iter().map(|tp| tp.partition).collect();
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((kind.to_string(), set));
    }

    fn events(&self) -> Vec<(String, BTreeSet<i32>)> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl RebalanceListener for Recorder {
    fn on_partitions_revoked<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.push("revoked", partitions);
        Box::pin(async {})
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.push("assigned", partitions);
        // the callback may use the consumer
        assert!(
            consumer.assignment().len() >= partitions.len(),
            "assigned partitions are in the assignment"
        );
        Box::pin(async {})
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        self.push("lost", partitions);
        Box::pin(async {})
    }
}

/// Polls `consumers` concurrently, each in its own task (as separate applications would),
/// until `done` holds or `secs` pass.
async fn poll_all_until(consumers: &[Arc<Consumer>], done: impl Fn() -> bool, secs: u64) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = consumers
        .iter()
        .map(|c| {
            let (c, stop) = (c.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    c.poll(Duration::from_millis(100)).await.expect("poll");
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        t.await.expect("poller");
    }
}

async fn wait_assigned(c: &Consumer, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while c.assignment().len() != n && Instant::now() < deadline {
        let _ = c.poll(Duration::from_millis(100)).await.expect("poll");
    }
    assert_eq!(c.assignment().len(), n, "assignment {:?}", c.assignment());
}

async fn listener_callbacks(kind: &str, strategy: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let b = broker.bootstrap();
    let topic = common::topic("listen");
    create(&broker, &topic, 4).await;
    let group = common::topic("glisten");
    let extra = [
        ("group.id", group.as_str()),
        ("partition.assignment.strategy", strategy),
    ];
    let a = Consumer::new(consumer_cfg(&b, &extra)).expect("consumer");
    let rec_a = Arc::new(Recorder::default());
    a.subscribe_with_listener(&[&topic], rec_a.clone())
        .expect("subscribe");
    wait_assigned(&a, 4, 30).await;
    assert_eq!(
        rec_a.events(),
        vec![("assigned".to_string(), BTreeSet::from([0, 1, 2, 3]))]
    );
    let a = Arc::new(a);
    let bc = Arc::new(Consumer::new(consumer_cfg(&b, &extra)).expect("consumer"));
    let rec_b = Arc::new(Recorder::default());
    bc.subscribe_with_listener(&[&topic], rec_b.clone())
        .expect("subscribe");
    // both poll until the group settles at 2 + 2
    poll_all_until(
        &[a.clone(), bc.clone()],
        || (a.assignment().len(), bc.assignment().len()) == (2, 2),
        40,
    )
    .await;
    let (sa, sb): (HashSet<_>, HashSet<_>) = (
        a.assignment().into_iter().collect(),
        bc.assignment().into_iter().collect(),
    );
    assert_eq!((sa.len(), sb.len()), (2, 2), "{kind}/{strategy}");
    assert!(sa.is_disjoint(&sb));
    let events = rec_a.events();
    let kept: BTreeSet<i32> = sa.iter().map(|tp| tp.partition).collect();
    let moved: BTreeSet<i32> = sb.iter().map(|tp| tp.partition).collect();
    if strategy == "cooperative-sticky" {
        // only the partitions that moved are revoked; nothing new is assigned to A
        assert!(
            events.contains(&("revoked".to_string(), moved.clone())),
            "{events:?}"
        );
        assert!(
            !events
                .iter()
                .any(|(k, p)| k == "revoked" && p.intersection(&kept).next().is_some()),
            "A never gives up what it keeps: {events:?}"
        );
    } else {
        // eager: everything is revoked, then the new share assigned
        assert_eq!(
            events[1..].to_vec(),
            vec![
                ("revoked".to_string(), BTreeSet::from([0, 1, 2, 3])),
                ("assigned".to_string(), kept.clone()),
            ],
            "{kind}/{strategy}"
        );
    }
    assert_eq!(
        rec_b.events().last().map(|(k, p)| (k.clone(), p.clone())),
        Some(("assigned".to_string(), moved)),
        "{:?}",
        rec_b.events()
    );
    bc.close().await;
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_callbacks_eager_mini() {
    listener_callbacks("mini", "range").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_callbacks_eager_tansu() {
    listener_callbacks("tansu", "range").await;
}

async fn static_member_restart(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let b = broker.bootstrap();
    let topic = common::topic("static");
    create(&broker, &topic, 4).await;
    let group = common::topic("gstatic");
    let cfg = |instance: &str| {
        consumer_cfg(
            &b,
            &[
                ("group.id", group.as_str()),
                ("group.instance.id", instance),
            ],
        )
    };
    let a = Arc::new(Consumer::new(cfg("inst-a")).expect("consumer"));
    let bc = Arc::new(Consumer::new(cfg("inst-b")).expect("consumer"));
    let rec_a = Arc::new(Recorder::default());
    a.subscribe_with_listener(&[&topic], rec_a.clone())
        .expect("subscribe");
    bc.subscribe(&[&topic]).expect("subscribe");
    poll_all_until(
        &[a.clone(), bc.clone()],
        || (a.assignment().len(), bc.assignment().len()) == (2, 2),
        40,
    )
    .await;
    let before_b: BTreeSet<TopicPartition> = bc.assignment().into_iter().collect();
    let a_events = rec_a.events();
    assert_eq!(before_b.len(), 2, "{kind}");
    bc.close().await;
    // a static member does not leave: A keeps its two partitions and gets nothing more
    for _ in 0..10 {
        let _ = a.poll(Duration::from_millis(100)).await.expect("poll");
    }
    assert_eq!(
        a.assignment().len(),
        2,
        "{kind}: no rebalance after a static close"
    );
    // the same instance comes back and gets the same partitions
    let b2 = Arc::new(Consumer::new(cfg("inst-b")).expect("consumer"));
    b2.subscribe(&[&topic]).expect("subscribe");
    poll_all_until(
        &[a.clone(), b2.clone()],
        || (a.assignment().len(), b2.assignment().len()) == (2, 2),
        40,
    )
    .await;
    let after_b: BTreeSet<TopicPartition> = b2.assignment().into_iter().collect();
    assert_eq!(
        after_b, before_b,
        "{kind}: the static member gets its partitions back"
    );
    // KIP-345: the restart did not rebalance the group, so A was never interrupted
    let a_after = rec_a.events();
    if broker.is_tansu() && a_after != a_events {
        println!("NOTE: tansu: a static member's restart rebalanced the group: {a_after:?}");
    } else {
        assert_eq!(
            a_after, a_events,
            "{kind}: no rebalance on a static restart"
        );
    }
    b2.close().await;
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_restart_mini() {
    static_member_restart("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_restart_tansu() {
    static_member_restart("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_callbacks_cooperative_mini() {
    listener_callbacks("mini", "cooperative-sticky").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_callbacks_cooperative_tansu() {
    listener_callbacks("tansu", "cooperative-sticky").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_callbacks_sticky_mini() {
    listener_callbacks("mini", "sticky").await;
}

/// A consumer that stops polling for longer than `max.poll.interval.ms` leaves the group
/// (Java's rule): the other member takes every partition, and the stalled one reports its
/// partitions lost on its next poll, then rejoins.
async fn poll_interval_exceeded(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let b = broker.bootstrap();
    let topic = common::topic("stall");
    create(&broker, &topic, 4).await;
    let group = common::topic("gstall");
    let extra = [
        ("group.id", group.as_str()),
        ("partition.assignment.strategy", "range"),
        ("max.poll.interval.ms", "2000"),
    ];
    let a = Arc::new(Consumer::new(consumer_cfg(&b, &extra)).expect("consumer"));
    let rec_a = Arc::new(Recorder::default());
    a.subscribe_with_listener(&[&topic], rec_a.clone())
        .expect("subscribe");
    let bc = Arc::new(Consumer::new(consumer_cfg(&b, &extra)).expect("consumer"));
    bc.subscribe(&[&topic]).expect("subscribe");
    poll_all_until(
        &[a.clone(), bc.clone()],
        || (a.assignment().len(), bc.assignment().len()) == (2, 2),
        40,
    )
    .await;
    assert_eq!(
        (a.assignment().len(), bc.assignment().len()),
        (2, 2),
        "{kind}"
    );
    let held: BTreeSet<i32> = a.assignment().iter().map(|tp| tp.partition).collect();
    // A stalls; B keeps polling and ends up with everything
    poll_all_until(std::slice::from_ref(&bc), || bc.assignment().len() == 4, 30).await;
    assert_eq!(
        bc.assignment().len(),
        4,
        "{kind}: B takes over A's partitions"
    );
    // A polls again: its partitions are reported lost, then it rejoins
    poll_all_until(
        &[a.clone(), bc.clone()],
        || (a.assignment().len(), bc.assignment().len()) == (2, 2),
        40,
    )
    .await;
    let events = rec_a.events();
    assert!(
        events.contains(&("lost".to_string(), held)),
        "{kind}: {events:?}"
    );
    assert_eq!(
        (a.assignment().len(), bc.assignment().len()),
        (2, 2),
        "{kind}"
    );
    bc.close().await;
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_interval_exceeded_mini() {
    poll_interval_exceeded("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_interval_exceeded_tansu() {
    poll_interval_exceeded("tansu").await;
}

async fn listener_callbacks_range(kind: &str) {
    listener_callbacks(kind, "range").await;
}

async fn listener_callbacks_roundrobin(kind: &str) {
    listener_callbacks(kind, "roundrobin").await;
}

async fn listener_callbacks_sticky(kind: &str) {
    listener_callbacks(kind, "sticky").await;
}

async fn listener_callbacks_cooperative(kind: &str) {
    listener_callbacks(kind, "cooperative-sticky").await;
}

real_kafka_tests!(
    pause_resume_and_offset_queries_real,
    pause_resume_and_offset_queries
);
real_kafka_tests!(stream_of_records_real, stream_of_records);
real_kafka_tests!(pattern_subscription_real, pattern_subscription);
real_kafka_tests!(listener_callbacks_eager_real, listener_callbacks_range);
real_kafka_tests!(
    listener_callbacks_roundrobin_real,
    listener_callbacks_roundrobin
);
real_kafka_tests!(listener_callbacks_sticky_real, listener_callbacks_sticky);
real_kafka_tests!(
    listener_callbacks_cooperative_real,
    listener_callbacks_cooperative
);
real_kafka_tests!(static_member_restart_real, static_member_restart);
real_kafka_tests!(poll_interval_exceeded_real, poll_interval_exceeded);
