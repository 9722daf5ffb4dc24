//! An exactly-once consume-transform-produce pipeline (input topic -> our transform ->
//! output topic, the input offsets sent to each transaction) that is killed and restarted
//! mid-way: an instance dies inside a transaction (after its output records reached the
//! log, or after its offsets were added too) without committing; the next instance, with
//! the same `transactional.id` and the same static group member, fences it (its open
//! transaction is aborted) and resumes from the committed offsets. In the end the output,
//! read with read_committed, holds every input record exactly once, in per-key order.
//!
//! The scenario is a function of a bootstrap string: real Apache Kafka
//! (`REAL_KAFKA_CLUSTERS`) and kafka-server-mini (the `_mini` test).
mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::txn::{create, read_all, txn_producer};
use common::TestBroker;
use krafty_client::{
    Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};

const PARTITIONS: i32 = 3;
const KEYS: usize = 20;
const RECORDS: usize = 3000;

/// Where an instance dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    /// After its transaction's output records were written (flushed), before the offsets.
    AfterSends,
    /// After the offsets were added to the transaction too, before the commit.
    AfterOffsets,
}

/// One pipeline process: its consumer (static member `pipeline-0`) and transactional
/// producer.
struct Instance {
    consumer: Consumer,
    producer: Producer,
}

impl Instance {
    async fn start(bootstrap: &str, input: &str, group: &str, txn_id: &str) -> Instance {
        let consumer = Consumer::new(
            ConsumerConfig::new(bootstrap)
                .and_then(|c| c.with("group.id", group))
                .and_then(|c| c.with("group.instance.id", "pipeline-0"))
                .and_then(|c| c.with("session.timeout.ms", "10000"))
                .and_then(|c| c.with("enable.auto.commit", "false"))
                .and_then(|c| c.with("auto.offset.reset", "earliest"))
                .and_then(|c| c.with("isolation.level", "read_committed"))
                .and_then(|c| c.with("max.poll.records", "100"))
                .expect("consumer config"),
        )
        .expect("consumer");
        consumer.subscribe(&[input]).expect("subscribe");
        let producer = txn_producer(bootstrap, txn_id);
        producer
            .init_transactions()
            .await
            .expect("init_transactions (fences the previous instance)");
        Instance { consumer, producer }
    }

    /// Runs transactions until `crash` strikes once `crash_after` records were processed
    /// by this instance (then returns without committing or closing anything, as a killed
    /// process would), or until the committed input reaches `ends`. Returns the records
    /// this instance committed.
    /// `hook` runs once, after this instance committed that many records (the
    /// coordinator kill of the cluster drill).
    async fn run(
        self,
        input: &str,
        output: &str,
        ends: &HashMap<TopicPartition, i64>,
        crash: Option<(usize, Crash)>,
        mut hook: Option<(usize, Box<dyn FnOnce() + Send>)>,
    ) -> usize {
        let mut committed = 0usize;
        let mut processed = 0usize;
        let mut done: BTreeMap<i32, i64> = BTreeMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "pipeline instance stuck: committed {committed}, positions {done:?}, ends {ends:?}"
            );
            let finished = (0..PARTITIONS).all(|p| {
                let tp = TopicPartition::new(input, p);
                done.get(&p).copied().unwrap_or(0) >= ends.get(&tp).copied().unwrap_or(0)
            });
            if finished && crash.is_none() {
                break;
            }
            let batch = self
                .consumer
                .poll(Duration::from_millis(500))
                .await
                .expect("poll");
            if batch.is_empty() {
                continue;
            }
            self.producer.begin_transaction().expect("begin");
            let mut next: BTreeMap<i32, i64> = BTreeMap::new();
            for r in &batch {
                let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
                let mut out = ProducerRecord::new(output).value(format!("T({value})"));
                if let Some(k) = &r.key {
                    out = out.key(k.clone());
                }
                drop(self.producer.send(out).await.expect("send output"));
                next.insert(r.partition, r.offset + 1);
            }
            processed += batch.len();
            let crash_now = crash
                .filter(|(after, _)| processed >= *after)
                .map(|(_, c)| c);
            if crash_now == Some(Crash::AfterSends) {
                self.producer.flush().await;
                eprintln!("instance killed after sending {processed} records (uncommitted)");
                return committed;
            }
            let offsets: Vec<(TopicPartition, i64)> = next
                .iter()
                .map(|(p, o)| (TopicPartition::new(input, *p), *o))
                .collect();
            let meta = self.consumer.group_metadata().expect("group metadata");
            self.producer
                .send_offsets_to_transaction(&offsets, &meta)
                .await
                .expect("send offsets");
            if crash_now == Some(Crash::AfterOffsets) {
                self.producer.flush().await;
                eprintln!(
                    "instance killed after sending {processed} records and offsets (uncommitted)"
                );
                return committed;
            }
            self.producer.commit_transaction().await.expect("commit");
            committed += batch.len();
            done.extend(next);
            if hook.as_ref().is_some_and(|(after, _)| committed >= *after) {
                if let Some((_, f)) = hook.take() {
                    f();
                }
            }
        }
        self.producer.close().await.expect("close producer");
        self.consumer.close().await;
        committed
    }
}

/// Topics and ids of one pipeline run.
struct Names {
    input: String,
    output: String,
    group: String,
    txn_id: String,
}

impl Names {
    fn new() -> Names {
        Names {
            input: common::topic("eos-in"),
            output: common::topic("eos-out"),
            group: common::topic("eos-group"),
            txn_id: common::topic("eos-txid"),
        }
    }
}

/// Creates the topics, writes the input and returns its end offsets.
async fn seed(bootstrap: &str, rf: i16, names: &Names) -> HashMap<TopicPartition, i64> {
    let (input, output) = (&names.input, &names.output);
    create(bootstrap, input, PARTITIONS, rf).await;
    create(bootstrap, output, PARTITIONS, rf).await;

    // input: RECORDS records over KEYS keys, each key's records numbered in order
    let seeder = Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    let mut futures = Vec::new();
    for i in 0..RECORDS {
        let key = format!("key{:02}", i % KEYS);
        let rec = ProducerRecord::new(input)
            .key(key.clone())
            .value(format!("{key}#{:05}", i / KEYS));
        futures.push(seeder.send(rec).await.expect("seed"));
    }
    for f in futures {
        f.await.expect("seeded");
    }
    seeder.close().await.expect("close seeder");
    let probe = common::txn::reader(bootstrap, input, PARTITIONS, "read_committed");
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(input, p))
        .collect();
    let ends = probe.end_offsets(&tps).await.expect("input end offsets");
    probe.close().await;
    ends
}

/// The whole run: seed the input, three killed instances, one that finishes, then check
/// the output.
pub async fn pipeline_with_restarts(bootstrap: &str, rf: i16) {
    let names = Names::new();
    let ends = seed(bootstrap, rf, &names).await;
    let Names {
        input,
        output,
        group,
        txn_id,
    } = &names;
    let kills = [
        (450, Crash::AfterSends),
        (300, Crash::AfterOffsets),
        (550, Crash::AfterSends),
    ];
    let mut committed_total = 0;
    for (after, crash) in kills {
        let instance = Instance::start(bootstrap, input, group, txn_id).await;
        committed_total += instance
            .run(input, output, &ends, Some((after, crash)), None)
            .await;
    }
    let last = Instance::start(bootstrap, input, group, txn_id).await;
    committed_total += last.run(input, output, &ends, None, None).await;
    check_output(bootstrap, output, committed_total, kills.len()).await;
}

/// The output read with read_committed holds every input record exactly once, in per-key
/// order; prints the counts.
async fn check_output(bootstrap: &str, output: &str, committed_total: usize, kills: usize) {
    let seen = read_all(
        bootstrap,
        output,
        PARTITIONS,
        "read_committed",
        Duration::from_millis(500),
    )
    .await;
    let mut by_key: HashMap<String, Vec<(i32, i64, usize)>> = HashMap::new();
    for r in &seen {
        let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        let inner = v
            .strip_prefix("T(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("unexpected output {v}"));
        let (key, seq) = inner.split_once('#').expect("key#seq");
        let seq: usize = seq.parse().expect("seq");
        by_key
            .entry(key.to_string())
            .or_default()
            .push((r.partition, r.offset, seq));
    }
    let mut duplicates = 0;
    let mut missing = 0;
    let mut out_of_order = 0;
    for k in 0..KEYS {
        let key = format!("key{k:02}");
        let mut entries = by_key.remove(&key).unwrap_or_default();
        entries.sort();
        let parts: std::collections::BTreeSet<i32> = entries.iter().map(|e| e.0).collect();
        assert!(parts.len() <= 1, "{key} spread over partitions {parts:?}");
        let seqs: Vec<usize> = entries.iter().map(|e| e.2).collect();
        out_of_order += seqs.windows(2).filter(|w| w[0] >= w[1]).count();
        let mut uniq = seqs.clone();
        uniq.sort();
        uniq.dedup();
        duplicates += seqs.len() - uniq.len();
        missing += RECORDS / KEYS - uniq.len();
    }
    println!(
        "PIPELINE input {RECORDS} output {} duplicates {duplicates} missing {missing} \
         out-of-order {out_of_order} over {} kill cycles (records committed by the instances: \
         {committed_total})",
        seen.len(),
        kills
    );
    assert!(by_key.is_empty(), "unknown keys: {:?}", by_key.keys());
    assert_eq!((duplicates, missing, out_of_order), (0, 0, 0));
    assert_eq!(seen.len(), RECORDS);
    assert_eq!(committed_total, RECORDS, "each input record committed once");
}

async fn pipeline_with_restarts_on(kind: &str) {
    let Some(broker) = TestBroker::start(kind) else {
        return;
    };
    pipeline_with_restarts(&broker.bootstrap(), broker.rf()).await;
}

real_kafka_tests!(pipeline_with_restarts_real, pipeline_with_restarts_on);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_with_restarts_mini() {
    pipeline_with_restarts_on("mini").await;
}

/// On a private 3-node cluster: the transaction coordinator's broker is killed (`kill -9`)
/// while the pipeline runs, and the pipeline is killed and restarted once more afterwards;
/// the output still holds every input exactly once, in per-key order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_with_coordinator_kill_on_private_3_node_kafka() {
    if std::env::var("REAL_KAFKA_CLUSTERS").map_or(true, |v| v.trim().is_empty()) {
        common::skip_or_fail(
            "REAL_KAFKA_CLUSTERS is not set: no real Kafka jars for a private 3-node cluster",
        );
        return;
    }
    let cluster = common::txn::PrivateCluster::start("txp");
    let bootstrap = cluster.bootstrap.clone();
    let names = Names::new();
    let ends = seed(&bootstrap, 3, &names).await;
    let Names {
        input,
        output,
        group,
        txn_id,
    } = &names;
    let coordinator = common::txn::transaction_coordinator(&bootstrap, txn_id).await;
    let first = Instance::start(&bootstrap, input, group, txn_id).await;
    let name = cluster.name.clone();
    let kill: Box<dyn FnOnce() + Send> = Box::new(move || {
        common::txn::kill_node(&name, coordinator);
        eprintln!("killed transaction coordinator {coordinator}");
    });
    let mut committed_total = first
        .run(
            input,
            output,
            &ends,
            Some((1500, Crash::AfterOffsets)),
            Some((600, kill)),
        )
        .await;
    let last = Instance::start(&bootstrap, input, group, txn_id).await;
    committed_total += last.run(input, output, &ends, None, None).await;
    let survivor = bootstrap
        .split(',')
        .enumerate()
        .find(|(i, _)| *i as i32 + 1 != coordinator)
        .map(|(_, a)| a.to_string())
        .expect("a surviving node");
    let new_coordinator = common::txn::transaction_coordinator(&survivor, txn_id).await;
    eprintln!("transaction coordinator {coordinator} -> {new_coordinator}");
    check_output(&bootstrap, output, committed_total, 2).await;
    assert_ne!(new_coordinator, coordinator, "a new coordinator took over");
}
