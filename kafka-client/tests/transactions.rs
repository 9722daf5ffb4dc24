//! Our transactional producer and read_committed consumer against a broker with a
//! transaction coordinator: real Apache Kafka (`REAL_KAFKA_CLUSTERS`, e.g. k44-1) and
//! kafka-server-mini (the `*_mini` tests), with the same expectations.
//!
//! Every scenario is a function of a bootstrap string and a replication factor:
//! - commit and abort: read_committed sees every committed record, in order, and never an
//!   aborted one (read_uncommitted sees both, so the aborted ones were really written);
//! - zombie fencing: a second producer with the same `transactional.id` fences the first,
//!   whose later sends and commit fail as fenced and never reach read_committed readers;
//! - an abortable error (a record the broker refuses): commit fails, abort bumps the
//!   epoch, the next transaction commits;
//! - `transaction.timeout.ms` over the broker's maximum: init_transactions fails, fatal;
//! - offsets in the transaction (KIP-447 group metadata): committed with the transaction,
//!   not with an aborted one;
//! - throughput of transactional against idempotent produce (printed, not asserted).
mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::txn::{create, read_all, txn_producer, values_by_partition};
use common::TestBroker;
use krafty_client::{
    Consumer, ConsumerConfig, Error, Producer, ProducerConfig, ProducerRecord, TopicPartition,
    TxnState,
};

const PARTITIONS: i32 = 3;

fn unique(prefix: &str) -> String {
    common::topic(prefix)
}

/// Sends `n` keyed records `{tag}-{i}` (key `k{i % 7}`) and returns their futures' results.
async fn send_tagged(producer: &Producer, topic: &str, tag: &str, n: usize) {
    let mut futures = Vec::new();
    for i in 0..n {
        let rec = ProducerRecord::new(topic)
            .key(format!("k{}", i % 7))
            .value(format!("{tag}-{i:05}"));
        futures.push(producer.send(rec).await.expect("append"));
    }
    drop(futures);
}

/// Commit, abort, commit: read_committed sees the two committed transactions in order and
/// nothing of the aborted one.
pub async fn commit_and_abort(bootstrap: &str, rf: i16) {
    let topic = unique("txn-commit-abort");
    create(bootstrap, &topic, PARTITIONS, rf).await;
    let producer = txn_producer(bootstrap, &unique("txid-ca"));
    assert_eq!(producer.transaction_state(), Some(TxnState::Uninitialized));
    assert!(
        matches!(
            producer.send(ProducerRecord::new(&topic).value("x")).await,
            Err(Error::IllegalState(_))
        ),
        "a transactional send outside a transaction is refused"
    );
    producer
        .init_transactions()
        .await
        .expect("init_transactions");
    assert_eq!(producer.transaction_state(), Some(TxnState::Ready));

    producer.begin_transaction().expect("begin 1");
    send_tagged(&producer, &topic, "c1", 300).await;
    producer.commit_transaction().await.expect("commit 1");

    producer.begin_transaction().expect("begin 2");
    send_tagged(&producer, &topic, "ab", 300).await;
    producer.flush().await; // the aborted records really reach the log
    producer.abort_transaction().await.expect("abort");

    producer.begin_transaction().expect("begin 3");
    send_tagged(&producer, &topic, "c2", 300).await;
    producer.commit_transaction().await.expect("commit 3");
    // an empty transaction commits without the coordinator ever hearing of it
    producer.begin_transaction().expect("begin 4");
    producer.commit_transaction().await.expect("empty commit");
    // close with a transaction open aborts it (as Java's producer does)
    producer.begin_transaction().expect("begin 5");
    send_tagged(&producer, &topic, "ab", 300).await;
    producer.flush().await;
    producer.close().await.expect("close");
    assert_eq!(producer.transaction_state(), Some(TxnState::Ready));

    let committed = read_all(
        bootstrap,
        &topic,
        PARTITIONS,
        "read_committed",
        Duration::from_millis(500),
    )
    .await;
    let by_part = values_by_partition(&committed);
    let total: usize = by_part.values().map(Vec::len).sum();
    assert_eq!(
        total, 600,
        "read_committed sees both committed transactions"
    );
    for (p, values) in &by_part {
        assert!(
            values.iter().all(|v| !v.starts_with("ab-")),
            "partition {p}: an aborted record reached read_committed"
        );
        // per partition: every c1 record before every c2 record, each in send order
        let mut sorted = values.clone();
        sorted.sort();
        assert_eq!(&sorted, values, "partition {p} out of order");
    }
    let mut all: Vec<String> = by_part.into_values().flatten().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 600, "no duplicates");

    let everything = read_all(
        bootstrap,
        &topic,
        PARTITIONS,
        "read_uncommitted",
        Duration::from_millis(500),
    )
    .await;
    let aborted = everything
        .iter()
        .filter(|r| r.value.as_deref().is_some_and(|v| v.starts_with(b"ab-")))
        .count();
    assert_eq!(aborted, 600, "read_uncommitted sees the aborted records");
    assert_eq!(everything.len(), 1200);
}

/// A second producer with the same transactional id fences the first: the zombie's later
/// sends and commit fail as fenced, and read_committed readers never see its records.
pub async fn zombie_fencing(bootstrap: &str, rf: i16) {
    let topic = unique("txn-fence");
    create(bootstrap, &topic, PARTITIONS, rf).await;
    let id = unique("txid-fence");
    let zombie = txn_producer(bootstrap, &id);
    zombie.init_transactions().await.expect("init zombie");
    zombie.begin_transaction().expect("begin zombie");
    send_tagged(&zombie, &topic, "zombie-open", 50).await;
    zombie.flush().await;

    let successor = txn_producer(bootstrap, &id);
    successor
        .init_transactions()
        .await
        .expect("init successor (aborts the zombie's open transaction)");

    // the zombie carries on: its writes fail and its commit is refused as fenced
    let late = zombie
        .send(
            ProducerRecord::new(&topic)
                .partition(0)
                .value("zombie-late"),
        )
        .await;
    if let Ok(delivery) = late {
        assert!(
            delivery.await.is_err(),
            "a fenced producer's write succeeded"
        );
    }
    let commit = zombie.commit_transaction().await;
    match commit {
        Err(Error::Transaction(e)) => assert!(e.is_fenced(), "commit error not fenced: {e}"),
        other => panic!("the zombie's commit must fail as fenced, got {other:?}"),
    }
    assert_eq!(zombie.transaction_state(), Some(TxnState::FatalError));
    assert!(
        matches!(zombie.begin_transaction(), Err(Error::Transaction(ref e)) if e.is_fatal()),
        "a fenced producer stays unusable"
    );
    drop(zombie);

    successor.begin_transaction().expect("begin successor");
    send_tagged(&successor, &topic, "successor", 50).await;
    successor
        .commit_transaction()
        .await
        .expect("commit successor");
    successor.close().await.expect("close");

    let seen = read_all(
        bootstrap,
        &topic,
        PARTITIONS,
        "read_committed",
        Duration::from_millis(500),
    )
    .await;
    let values: Vec<String> = values_by_partition(&seen).into_values().flatten().collect();
    assert_eq!(values.len(), 50, "only the successor's records: {values:?}");
    assert!(values.iter().all(|v| v.starts_with("successor-")));
}

/// Offsets sent to a transaction are committed to the group with it (and not with an
/// aborted one); the consumer's group metadata carries its generation and member id.
pub async fn offsets_in_transaction(bootstrap: &str, rf: i16) {
    let input = unique("txn-offsets-in");
    let output = unique("txn-offsets-out");
    create(bootstrap, &input, 1, rf).await;
    create(bootstrap, &output, 1, rf).await;
    let plain = Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    for i in 0..20 {
        plain
            .send_and_wait(ProducerRecord::new(&input).value(format!("in-{i}")))
            .await
            .expect("seed input");
    }
    plain.close().await.expect("close");

    let group = unique("txn-offsets-group");
    let consumer = Consumer::new(
        ConsumerConfig::new(bootstrap)
            .and_then(|c| c.with("group.id", &group))
            .and_then(|c| c.with("enable.auto.commit", "false"))
            .and_then(|c| c.with("auto.offset.reset", "earliest"))
            .and_then(|c| c.with("isolation.level", "read_committed"))
            .expect("consumer config"),
    )
    .expect("consumer");
    consumer.subscribe(&[&input]).expect("subscribe");
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while got.len() < 20 {
        assert!(tokio::time::Instant::now() < deadline, "input not consumed");
        got.extend(
            consumer
                .poll(Duration::from_millis(500))
                .await
                .expect("poll"),
        );
    }
    let meta = consumer.group_metadata().expect("group metadata");
    assert_eq!(meta.group_id, group);
    assert!(
        meta.generation_id >= 1 && !meta.member_id.is_empty(),
        "{meta:?}"
    );
    let tp = TopicPartition::new(&input, 0);

    let producer = txn_producer(bootstrap, &unique("txid-offsets"));
    producer.init_transactions().await.expect("init");
    // aborted: neither the output nor the offsets count
    producer.begin_transaction().expect("begin");
    send_tagged(&producer, &output, "aborted", 5).await;
    producer
        .send_offsets_to_transaction(&[(tp.clone(), 10)], &meta)
        .await
        .expect("send offsets");
    producer.abort_transaction().await.expect("abort");
    let committed = consumer
        .committed(std::slice::from_ref(&tp))
        .await
        .expect("committed");
    assert_eq!(
        committed.get(&tp),
        None,
        "offsets of an aborted transaction"
    );
    // committed: the offsets land with the output
    producer.begin_transaction().expect("begin");
    send_tagged(&producer, &output, "out", 20).await;
    producer
        .send_offsets_to_transaction(&[(tp.clone(), 20)], &meta)
        .await
        .expect("send offsets");
    producer.commit_transaction().await.expect("commit");
    let committed = consumer
        .committed(std::slice::from_ref(&tp))
        .await
        .expect("committed");
    assert_eq!(committed.get(&tp), Some(&20));
    // a stale generation is refused (KIP-447 fencing of a zombie consumer)
    let mut stale = meta.clone();
    stale.generation_id += 100;
    producer.begin_transaction().expect("begin");
    let refused = producer
        .send_offsets_to_transaction(&[(tp.clone(), 20)], &stale)
        .await;
    assert!(
        matches!(refused, Err(Error::Transaction(ref e)) if e.is_abortable()),
        "stale generation: {refused:?}"
    );
    assert_eq!(producer.transaction_state(), Some(TxnState::AbortableError));
    producer
        .abort_transaction()
        .await
        .expect("abort after an abortable error");
    assert_eq!(producer.transaction_state(), Some(TxnState::Ready));
    producer.close().await.expect("close");
    consumer.close().await;

    let out = read_all(
        bootstrap,
        &output,
        1,
        "read_committed",
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(out.len(), 20);
}

/// A batch the broker refuses (MESSAGE_TOO_LARGE) makes the transaction abortable: the
/// commit fails, the abort bumps the epoch (the broker's sequence for the partition lags
/// ours), and the next transaction on the same partition commits.
pub async fn abortable_error_then_recovery(bootstrap: &str, rf: i16) {
    let topic = unique("txn-abortable");
    let admin =
        krafty_client::Admin::new(krafty_client::AdminConfig::new(bootstrap).expect("config"));
    let mut spec = krafty_client::NewTopic::new(&topic, 1, rf);
    spec.configs
        .push(("max.message.bytes".to_string(), "2000".to_string()));
    let created = admin.create_topics(&[spec]).await.expect("create topics");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    admin.close();
    common::wait_topic_ready(bootstrap, &topic, 1).await;

    let producer = txn_producer(bootstrap, &unique("txid-abortable"));
    producer.init_transactions().await.expect("init");
    producer.begin_transaction().expect("begin");
    producer
        .send_and_wait(ProducerRecord::new(&topic).partition(0).value("small-1"))
        .await
        .expect("a small record is written");
    let big = producer
        .send_and_wait(
            ProducerRecord::new(&topic)
                .partition(0)
                .value(vec![b'x'; 5000]),
        )
        .await;
    assert!(
        big.is_err(),
        "the broker refuses a record over max.message.bytes"
    );
    assert_eq!(producer.transaction_state(), Some(TxnState::AbortableError));
    match producer.commit_transaction().await {
        Err(Error::Transaction(e)) => assert!(e.is_abortable(), "{e}"),
        other => panic!("commit after a failed record must fail as abortable: {other:?}"),
    }
    producer.abort_transaction().await.expect("abort");
    assert_eq!(producer.transaction_state(), Some(TxnState::Ready));

    producer.begin_transaction().expect("begin again");
    producer
        .send_and_wait(ProducerRecord::new(&topic).partition(0).value("small-2"))
        .await
        .expect("the partition takes records again after the abort (epoch bumped)");
    producer.commit_transaction().await.expect("commit");
    producer.close().await.expect("close");

    let seen = read_all(
        bootstrap,
        &topic,
        1,
        "read_committed",
        Duration::from_millis(300),
    )
    .await;
    let values: Vec<String> = values_by_partition(&seen).into_values().flatten().collect();
    assert_eq!(values, vec!["small-2".to_string()]);
}

/// `transaction.timeout.ms` reaches the coordinator: above the broker's
/// `transaction.max.timeout.ms` (900000 by default) InitProducerId is refused with
/// INVALID_TRANSACTION_TIMEOUT, a fatal error; a producer without `transactional.id` has no
/// transactions at all.
pub async fn init_errors(bootstrap: &str, _rf: i16) {
    let cfg = ProducerConfig::new(bootstrap)
        .and_then(|c| c.with("transactional.id", &unique("txid-timeout")))
        .and_then(|c| c.with("transaction.timeout.ms", "1000000"))
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    match producer.init_transactions().await {
        Err(Error::Transaction(e)) => {
            assert!(e.is_fatal(), "{e}");
            assert_eq!(
                e.code,
                Some(krafty_client::KafkaCode::InvalidTransactionTimeout)
            );
        }
        other => panic!("a timeout over transaction.max.timeout.ms must be refused: {other:?}"),
    }
    assert_eq!(producer.transaction_state(), Some(TxnState::FatalError));
    drop(producer);
    let plain = Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    assert_eq!(plain.transaction_state(), None);
    assert!(matches!(
        plain.init_transactions().await,
        Err(Error::IllegalState(_))
    ));
    assert!(matches!(
        plain.begin_transaction(),
        Err(Error::IllegalState(_))
    ));
}

/// Transactional (1000 records per transaction) against idempotent produce of the same
/// records in the same run: printed, not asserted.
pub async fn throughput(bootstrap: &str, rf: i16) {
    const N: usize = 20_000;
    let value = vec![b'v'; 100];
    let topic = unique("txn-throughput");
    create(bootstrap, &topic, PARTITIONS, rf).await;

    let idem = Producer::new(
        ProducerConfig::new(bootstrap)
            .and_then(|c| c.with("enable.idempotence", "true"))
            .expect("config"),
    )
    .expect("producer");
    let start = std::time::Instant::now();
    let mut futures = Vec::with_capacity(N);
    for i in 0..N {
        let rec = ProducerRecord::new(&topic)
            .key(format!("k{i}"))
            .value(value.clone());
        futures.push(idem.send(rec).await.expect("append"));
    }
    for f in futures {
        f.await.expect("idempotent delivery");
    }
    let idem_secs = start.elapsed().as_secs_f64();
    idem.close().await.expect("close");

    let txn = txn_producer(bootstrap, &unique("txid-throughput"));
    txn.init_transactions().await.expect("init");
    let start = std::time::Instant::now();
    for chunk in 0..N / 1000 {
        txn.begin_transaction().expect("begin");
        for i in 0..1000 {
            let rec = ProducerRecord::new(&topic)
                .key(format!("k{}", chunk * 1000 + i))
                .value(value.clone());
            drop(txn.send(rec).await.expect("append"));
        }
        txn.commit_transaction().await.expect("commit");
    }
    let txn_secs = start.elapsed().as_secs_f64();
    txn.close().await.expect("close");
    println!(
        "THROUGHPUT ({N} records of 100 bytes, {PARTITIONS} partitions): idempotent {:.0} rec/s \
         ({idem_secs:.2} s), transactional (1000 per transaction) {:.0} rec/s ({txn_secs:.2} s)",
        N as f64 / idem_secs,
        N as f64 / txn_secs,
    );
    let mut counts: HashMap<bool, usize> = HashMap::new();
    for r in read_all(
        bootstrap,
        &topic,
        PARTITIONS,
        "read_committed",
        Duration::from_millis(300),
    )
    .await
    {
        *counts.entry(r.value.is_some()).or_default() += 1;
    }
    assert_eq!(
        counts.get(&true),
        Some(&(2 * N)),
        "every record of both runs"
    );
}

/// Runs a scenario against a broker kind (`k44-1`, `mini`, ...).
async fn on<F, Fut>(kind: &str, scenario: F)
where
    F: FnOnce(String, i16) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(broker) = TestBroker::start(kind) else {
        return;
    };
    scenario(broker.bootstrap(), broker.rf()).await;
}

async fn commit_and_abort_on(kind: &str) {
    on(kind, |b, rf| async move { commit_and_abort(&b, rf).await }).await;
}
async fn zombie_fencing_on(kind: &str) {
    on(kind, |b, rf| async move { zombie_fencing(&b, rf).await }).await;
}
async fn offsets_in_transaction_on(kind: &str) {
    on(
        kind,
        |b, rf| async move { offsets_in_transaction(&b, rf).await },
    )
    .await;
}
async fn abortable_error_then_recovery_on(kind: &str) {
    on(kind, |b, rf| async move {
        abortable_error_then_recovery(&b, rf).await
    })
    .await;
}
async fn init_errors_on(kind: &str) {
    on(kind, |b, rf| async move { init_errors(&b, rf).await }).await;
}
async fn throughput_on(kind: &str) {
    on(kind, |b, rf| async move { throughput(&b, rf).await }).await;
}

real_kafka_tests!(commit_and_abort_real, commit_and_abort_on);
real_kafka_tests!(zombie_fencing_real, zombie_fencing_on);
real_kafka_tests!(offsets_in_transaction_real, offsets_in_transaction_on);
real_kafka_tests!(throughput_real, throughput_on);
real_kafka_tests!(init_errors_real, init_errors_on);
real_kafka_tests!(
    abortable_error_then_recovery_real,
    abortable_error_then_recovery_on
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_and_abort_mini() {
    commit_and_abort_on("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zombie_fencing_mini() {
    zombie_fencing_on("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_in_transaction_mini() {
    offsets_in_transaction_on("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_mini() {
    throughput_on("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abortable_error_then_recovery_mini() {
    abortable_error_then_recovery_on("mini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_errors_mini() {
    init_errors_on("mini").await;
}
