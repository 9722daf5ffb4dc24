//! Consumer groups against real brokers: join (with the KIP-394 member-id round trip),
//! assignment, commit, leave, and a second member resuming at the committed offsets; two
//! live members splitting the partitions.
mod common;

use std::collections::HashSet;
use std::time::Duration;

use krafty_client::{Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};

const PARTITIONS: i32 = 4;
const N: usize = 400;

fn consumer(bootstrap: &str, group: &str) -> Consumer {
    let cfg = ConsumerConfig::new(bootstrap)
        .and_then(|c| c.with("group.id", group))
        .and_then(|c| c.with("auto.offset.reset", "earliest"))
        .and_then(|c| c.with("enable.auto.commit", "false"))
        .and_then(|c| c.with("max.poll.records", "50"))
        .and_then(|c| c.with("heartbeat.interval.ms", "300"))
        .and_then(|c| c.with("session.timeout.ms", "6000"))
        .and_then(|c| c.with("max.poll.interval.ms", "10000"))
        .expect("config");
    Consumer::new(cfg).expect("consumer")
}

async fn setup(broker: &common::TestBroker) -> String {
    let bootstrap = &broker.bootstrap();
    let topic = common::topic("group");
    common::create_topic(broker, &topic, PARTITIONS).await;
    let producer =
        Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    for i in 0..N {
        let _ = producer
            .send(
                ProducerRecord::new(&topic)
                    .key(format!("k{i}"))
                    .value(format!("{i}")),
            )
            .await
            .expect("send");
    }
    producer.close().await.expect("close");
    topic
}

async fn commit_and_resume(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let bootstrap = broker.bootstrap();
    let topic = setup(&broker).await;
    let group = common::topic("g");

    let first = consumer(&bootstrap, &group);
    first.subscribe(&[&topic]).expect("subscribe");
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < N / 2 && tokio::time::Instant::now() < deadline {
        let records = first.poll(Duration::from_millis(500)).await.expect("poll");
        seen.extend(records.into_iter().map(|r| (r.partition, r.offset)));
    }
    assert_eq!(
        first.assignment().len(),
        PARTITIONS as usize,
        "single member gets every partition"
    );
    first.commit_sync().await.expect("commit");
    first.close().await;

    let second = consumer(&bootstrap, &group);
    second.subscribe(&[&topic]).expect("subscribe");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < N && tokio::time::Instant::now() < deadline {
        let records = second.poll(Duration::from_millis(500)).await.expect("poll");
        seen.extend(records.into_iter().map(|r| (r.partition, r.offset)));
    }
    second.close().await;
    let unique: HashSet<(i32, i64)> = seen.iter().copied().collect();
    assert_eq!(
        seen.len(),
        N,
        "every record once: the second member resumed at the commits"
    );
    assert_eq!(unique.len(), N);
}

async fn two_members_split(kind: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let bootstrap = broker.bootstrap();
    let topic = setup(&broker).await;
    let group = common::topic("g2");
    let a = Arc::new(consumer(&bootstrap, &group));
    let b = Arc::new(consumer(&bootstrap, &group));
    a.subscribe(&[&topic]).expect("subscribe");
    b.subscribe(&[&topic]).expect("subscribe");
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let spawn_loop = |c: Arc<Consumer>| {
        let (stop, seen) = (stop.clone(), seen.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let records = c.poll(Duration::from_millis(200)).await.expect("poll");
                let mut seen = seen.lock().expect("lock");
                for r in records {
                    seen.insert((r.partition, r.offset));
                }
            }
        })
    };
    let (ta, tb) = (spawn_loop(a.clone()), spawn_loop(b.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut split = false;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (pa, pb) = (a.assignment(), b.assignment());
        split = pa.len() == 2 && pb.len() == 2 && pa.iter().all(|tp| !pb.contains(tp));
        if split && seen.lock().expect("lock").len() == N {
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    ta.await.expect("poll loop a");
    tb.await.expect("poll loop b");
    assert!(
        split,
        "range assignor splits 4 partitions 2/2: {:?} {:?}",
        a.assignment(),
        b.assignment()
    );
    assert_eq!(
        seen.lock().expect("lock").len(),
        N,
        "all records consumed by the group"
    );
    a.close().await;
    b.close().await;
}

/// A member joining later triggers a rebalance: the first member learns it from its
/// heartbeat (REBALANCE_IN_PROGRESS), rejoins from its own poll loop, and the partitions
/// end up split. Each consumer polls in its own task, as applications do.
async fn late_joiner_rebalances(kind: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let bootstrap = broker.bootstrap();
    let topic = setup(&broker).await;
    let group = common::topic("g3");
    let stop = Arc::new(AtomicBool::new(false));
    let spawn_loop = |c: Arc<Consumer>| {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                c.poll(Duration::from_millis(200)).await.expect("poll");
            }
        })
    };
    let a = Arc::new(consumer(&bootstrap, &group));
    a.subscribe(&[&topic]).expect("subscribe");
    let ta = spawn_loop(a.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while a.assignment().len() < PARTITIONS as usize && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.assignment().len(), PARTITIONS as usize);
    let b = Arc::new(consumer(&bootstrap, &group));
    b.subscribe(&[&topic]).expect("subscribe");
    let tb = spawn_loop(b.clone());
    let mut split = false;
    while !split && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (pa, pb) = (a.assignment(), b.assignment());
        split = pa.len() == 2 && pb.len() == 2 && pa.iter().all(|tp| !pb.contains(tp));
    }
    stop.store(true, Ordering::SeqCst);
    ta.await.expect("poll loop a");
    tb.await.expect("poll loop b");
    assert!(
        split,
        "rebalanced 2/2: {:?} {:?}",
        a.assignment(),
        b.assignment()
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_late_joiner_rebalances_tansu() {
    late_joiner_rebalances("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_late_joiner_rebalances_mini() {
    late_joiner_rebalances("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_and_resume_tansu() {
    commit_and_resume("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_and_resume_mini() {
    commit_and_resume("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_two_members_split_tansu() {
    two_members_split("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_two_members_split_mini() {
    two_members_split("mini").await;
}

async fn auto_commit(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let bootstrap = broker.bootstrap();
    let topic = setup(&broker).await;
    let group = common::topic("g4");
    let cfg = |auto: &str| {
        ConsumerConfig::new(&bootstrap)
            .and_then(|c| c.with("group.id", &group))
            .and_then(|c| c.with("auto.offset.reset", "earliest"))
            .and_then(|c| c.with("enable.auto.commit", auto))
            .and_then(|c| c.with("auto.commit.interval.ms", "200"))
            .and_then(|c| c.with("session.timeout.ms", "6000"))
            .and_then(|c| c.with("max.poll.interval.ms", "10000"))
            .expect("config")
    };
    let c = Consumer::new(cfg("true")).expect("consumer");
    c.subscribe(&[&topic]).expect("subscribe");
    let mut n = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while n < N && tokio::time::Instant::now() < deadline {
        n += c
            .poll(Duration::from_millis(300))
            .await
            .expect("poll")
            .len();
    }
    assert_eq!(n, N);
    let assignment = c.assignment();
    c.close().await; // commits the final positions
    let checker = Consumer::new(cfg("false")).expect("consumer");
    let committed = checker.committed(&assignment).await.expect("committed");
    let total: i64 = committed.values().sum();
    assert_eq!(
        total, N as i64,
        "committed positions cover every record: {committed:?}"
    );
    checker.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_auto_commit_tansu() {
    auto_commit("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_auto_commit_mini() {
    auto_commit("mini").await;
}

real_kafka_tests!(group_late_joiner_rebalances_real, late_joiner_rebalances);
real_kafka_tests!(group_commit_and_resume_real, commit_and_resume);
real_kafka_tests!(group_two_members_split_real, two_members_split);
real_kafka_tests!(group_auto_commit_real, auto_commit);

/// `commit_async`: the handle resolves once the broker stored the positions, which a
/// fresh member of the group then reads back as its committed offsets.
async fn async_commit(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let bootstrap = broker.bootstrap();
    let topic = setup(&broker).await;
    let group = common::topic("g5");
    let c = consumer(&bootstrap, &group);
    c.subscribe(&[&topic]).expect("subscribe");
    let mut n = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while n < N && tokio::time::Instant::now() < deadline {
        n += c
            .poll(Duration::from_millis(300))
            .await
            .expect("poll")
            .len();
    }
    assert_eq!(n, N);
    let assignment = c.assignment();
    c.commit_async()
        .expect("commit_async")
        .await
        .expect("commit task")
        .expect("async commit stored");
    let checker = consumer(&bootstrap, &group);
    let committed = checker.committed(&assignment).await.expect("committed");
    let total: i64 = committed.values().sum();
    assert_eq!(total, N as i64, "{kind}: async commit: {committed:?}");
    checker.close().await;
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_async_commit_tansu() {
    async_commit("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_async_commit_mini() {
    async_commit("mini").await;
}

real_kafka_tests!(group_async_commit_real, async_commit);
