//! Failover on a real 3-node Apache Kafka cluster (replication factor 3,
//! `min.insync.replicas=2`): `kill -9` of a partition's leader while our idempotent producer
//! sends with `acks=all` (it moves to the new leader and every acknowledged record is read
//! back exactly once), and `kill -9` of a consumer group's coordinator while a member
//! consumes (it keeps consuming and loses nothing).
//!
//! The test starts its OWN 3-node cluster (`scripts/kafka-dist.sh start --name fo-PID -n 3`,
//! about half a minute) instead of killing a node of the shared `k40-3`: the shared
//! clusters serve other tests in parallel, and a dead node there would fail them (two
//! nodes down at once would even stop `acks=all` writes). It is one test that runs both
//! drills one after the other, restarting the killed node in between, and stops the
//! cluster at the end (also on failure). It runs when `REAL_KAFKA_CLUSTERS` is set (the
//! jars are then known to be there), else SKIP (or a failure with `CI=true`).
mod common;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
    TopicPartition,
};
use tokio::time::Instant;

/// A private cluster, stopped on drop.
struct Private {
    name: String,
    bootstrap: String,
}

fn dist(args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(common::kafka_dist_script())
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Private {
    fn start() -> Private {
        let name = format!("fo-{}", std::process::id());
        let bootstrap = dist(&["start", "--name", &name, "-n", "3", "-v", "spec"])
            .unwrap_or_else(|e| panic!("starting a private 3-node Kafka: {e}"));
        Private { name, bootstrap }
    }

    fn kill(&self, node: i32) {
        dist(&["kill", "--name", &self.name, &node.to_string()]).expect("kill -9 a node");
    }

    fn restart(&self, node: i32) {
        dist(&["restart", "--name", &self.name, &node.to_string()]).expect("restart a node");
    }
}

impl Drop for Private {
    /// A throwaway cluster: kill -9 every node (a clean stop takes seconds per node), then
    /// `stop` to clear the state, and remove its data.
    fn drop(&mut self) {
        for node in ["1", "2", "3"] {
            let _ = dist(&["kill", "--name", &self.name, node]);
        }
        let _ = dist(&["stop", "--name", &self.name]);
        let home = std::env::var_os("KAFKA_DIST_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/kafka-dist")
            });
        let _ = std::fs::remove_dir_all(home.join("run").join(&self.name));
    }
}

async fn leader_of(admin: &Admin, topic: &str, partition: i32) -> i32 {
    let d = admin.describe_topics(&[topic]).await.expect("describe");
    d[0].partitions
        .iter()
        .find(|p| p.id == partition)
        .map(|p| p.leader)
        .expect("partition")
}

/// Kill the leader of a partition while our idempotent producer sends with acks=all.
async fn leader_kill(cluster: &Private) -> i32 {
    let bootstrap = &cluster.bootstrap;
    let admin = Admin::new(AdminConfig::new(bootstrap).expect("config"));
    let topic = common::topic("fo-produce");
    admin.create_topic(&topic, 1, 3).await.expect("create");
    common::wait_topic_ready(bootstrap, &topic, 1).await;
    let leader = leader_of(&admin, &topic, 0).await;

    let producer = Arc::new(
        Producer::new(
            ProducerConfig::new(bootstrap)
                .and_then(|c| c.with("acks", "all"))
                .and_then(|c| c.with("request.timeout.ms", "5000"))
                .and_then(|c| c.with("linger.ms", "5"))
                .expect("config"),
        )
        .expect("producer"),
    );
    const N: usize = 1500;
    let acked: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let failed = Arc::new(Mutex::new(0usize));
    let sender = {
        let (producer, topic, acked, failed) = (
            producer.clone(),
            topic.clone(),
            acked.clone(),
            failed.clone(),
        );
        tokio::spawn(async move {
            let mut pending = Vec::new();
            for i in 0..N {
                let v = format!("v{i}");
                let f = producer
                    .send(ProducerRecord::new(&topic).partition(0).value(v.clone()))
                    .await
                    .expect("send");
                let (acked, failed) = (acked.clone(), failed.clone());
                pending.push(tokio::spawn(async move {
                    match f.await {
                        Ok(m) => {
                            acked
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(v, m.offset);
                        }
                        Err(_) => *failed.lock().unwrap_or_else(|e| e.into_inner()) += 1,
                    }
                }));
                tokio::time::sleep(Duration::from_millis(4)).await;
            }
            for p in pending {
                p.await.expect("delivery task");
            }
        })
    };
    // Kill the leader once a few hundred records are acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap_or_else(|e| e.into_inner()).len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_kill = acked.lock().unwrap_or_else(|e| e.into_inner()).len();
    assert!(
        before_kill >= 300,
        "only {before_kill} acknowledged before the kill"
    );
    cluster.kill(leader);
    eprintln!("killed leader {leader} after {before_kill} acknowledged records");
    tokio::time::timeout(Duration::from_secs(150), sender)
        .await
        .expect("the producer finishes")
        .expect("sender task");
    producer.close().await.expect("close");
    let acked = acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let failed = *failed.lock().unwrap_or_else(|e| e.into_inner());
    let new_leader = leader_of(&admin, &topic, 0).await;
    assert_ne!(new_leader, leader, "a new leader took over");
    assert!(
        acked.len() > before_kill,
        "records acknowledged by the new leader {new_leader}: {} of {N} ({failed} failed)",
        acked.len()
    );
    eprintln!(
        "leader {leader} -> {new_leader}: {} of {N} acknowledged, {failed} failed",
        acked.len()
    );

    // Read the partition back: every acknowledged record exactly once, at its offset; no
    // record twice at all (idempotence).
    let consumer = Consumer::new(
        ConsumerConfig::new(bootstrap)
            .and_then(|c| c.with("auto.offset.reset", "earliest"))
            .expect("config"),
    )
    .expect("consumer");
    let tp = TopicPartition::new(&topic, 0);
    consumer.assign([tp.clone()]);
    let end = consumer
        .end_offsets(std::slice::from_ref(&tp))
        .await
        .expect("end")[&tp];
    let mut got: Vec<(i64, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (got.len() as i64) < end && Instant::now() < deadline {
        for r in consumer
            .poll(Duration::from_millis(300))
            .await
            .expect("poll")
        {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            got.push((r.offset, v));
        }
    }
    consumer.close().await;
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (_, v) in &got {
        *count.entry(v.as_str()).or_default() += 1;
    }
    let dups: Vec<_> = count.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "records written twice: {dups:?}");
    let at: HashMap<i64, &str> = got.iter().map(|(o, v)| (*o, v.as_str())).collect();
    for (v, o) in &acked {
        assert_eq!(
            at.get(o).copied(),
            Some(v.as_str()),
            "acknowledged {v} at offset {o}"
        );
    }
    admin.close();
    leader
}

/// Kill the group coordinator while a member consumes.
async fn coordinator_kill(cluster: &Private) {
    let bootstrap = &cluster.bootstrap;
    let admin = Admin::new(AdminConfig::new(bootstrap).expect("config"));
    let topic = common::topic("fo-group");
    let group = common::topic("fo-g");
    admin.create_topic(&topic, 2, 3).await.expect("create");
    common::wait_topic_ready(bootstrap, &topic, 2).await;
    let produce = |from: usize| {
        let (bootstrap, topic) = (bootstrap.clone(), topic.clone());
        async move {
            let p =
                Producer::new(ProducerConfig::new(&bootstrap).expect("config")).expect("producer");
            for i in from..from + 200 {
                let _ = p
                    .send(
                        ProducerRecord::new(&topic)
                            .key(format!("k{i}"))
                            .value(format!("{i}")),
                    )
                    .await
                    .expect("send");
            }
            p.flush().await;
            p.close().await.expect("close");
        }
    };
    produce(0).await;
    let consumer = Consumer::new(
        ConsumerConfig::new(bootstrap)
            .and_then(|c| c.with("group.id", &group))
            .and_then(|c| c.with("auto.offset.reset", "earliest"))
            .and_then(|c| c.with("enable.auto.commit", "false"))
            .and_then(|c| c.with("max.poll.records", "20"))
            .and_then(|c| c.with("heartbeat.interval.ms", "300"))
            .and_then(|c| c.with("session.timeout.ms", "10000"))
            .and_then(|c| c.with("request.timeout.ms", "5000"))
            .expect("config"),
    )
    .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let mut seen: HashSet<String> = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 100 && Instant::now() < deadline {
        for r in consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
        {
            seen.insert(
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
            );
        }
    }
    consumer
        .commit_sync()
        .await
        .expect("commit before the kill");
    let coordinator = admin.describe_groups(&[&group]).await.expect("describe")[0].coordinator;
    cluster.kill(coordinator);
    eprintln!(
        "killed coordinator {coordinator} after {} records",
        seen.len()
    );
    produce(200).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut commit_errors = 0;
    while seen.len() < 400 && Instant::now() < deadline {
        let records = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        for r in &records {
            seen.insert(
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
            );
        }
        if !records.is_empty() && consumer.commit_sync().await.is_err() {
            commit_errors += 1;
        }
    }
    assert_eq!(
        seen.len(),
        400,
        "the member kept consuming after its coordinator died"
    );
    // Commits work again with the new coordinator.
    consumer
        .commit_sync()
        .await
        .expect("commit with the new coordinator");
    let new = admin.describe_groups(&[&group]).await.expect("describe")[0].coordinator;
    assert_ne!(new, coordinator, "a new coordinator");
    eprintln!("coordinator {coordinator} -> {new}; {commit_errors} commits failed meanwhile");
    consumer.close().await;
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_leader_and_coordinator_kill_on_private_3_node_kafka() {
    if std::env::var("REAL_KAFKA_CLUSTERS")
        .unwrap_or_default()
        .is_empty()
    {
        common::skip_or_fail(
            "REAL_KAFKA_CLUSTERS is not set: no real Kafka here (run scripts/real-kafka.sh up)",
        );
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let started = std::time::Instant::now();
    let cluster = Private::start();
    eprintln!("private 3-node cluster up in {:?}", started.elapsed());
    let killed = leader_kill(&cluster).await;
    eprintln!("leader drill done at {:?}", started.elapsed());
    // Back to 3 nodes: with one down, killing another would leave no in-sync quorum.
    cluster.restart(killed);
    eprintln!("node {killed} restarted at {:?}", started.elapsed());
    coordinator_kill(&cluster).await;
    eprintln!("coordinator drill done at {:?}", started.elapsed());
}
