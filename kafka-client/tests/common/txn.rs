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

/// A private real Kafka cluster of 3 nodes (`scripts/kafka-dist.sh start --name NAME -n 3`)
/// for drills that kill nodes, killed and removed on drop (as `failover.rs` does: the
/// shared clusters serve other tests).
pub struct PrivateCluster {
    /// Its name under `KAFKA_DIST_HOME/run`.
    pub name: String,
    /// Its bootstrap list.
    pub bootstrap: String,
}

fn dist(args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("bash")
        .arg(super::kafka_dist_script())
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl PrivateCluster {
    /// Starts `prefix-PID` with 3 nodes of the spec version (about half a minute).
    pub fn start(prefix: &str) -> PrivateCluster {
        let name = format!("{prefix}-{}", std::process::id());
        let bootstrap = dist(&["start", "--name", &name, "-n", "3", "-v", "spec"])
            .unwrap_or_else(|e| panic!("starting a private 3-node Kafka: {e}"));
        PrivateCluster { name, bootstrap }
    }

    /// `kill -9` of one node.
    pub fn kill(&self, node: i32) {
        kill_node(&self.name, node);
    }
}

/// `kill -9` of node `node` of the private cluster `name`.
pub fn kill_node(name: &str, node: i32) {
    dist(&["kill", "--name", name, &node.to_string()]).expect("kill -9 a node");
}

impl Drop for PrivateCluster {
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

/// The broker id of the transaction coordinator of `transactional_id` (FindCoordinator
/// key type 1, asked of the first bootstrap broker).
pub async fn transaction_coordinator(bootstrap: &str, transactional_id: &str) -> i32 {
    use krafty_client::net::{Connection, ConnectionConfig};
    use krafty_client::protocol::generated::FindCoordinatorRequest;
    use krafty_client::protocol::wire::StrBytes;
    let first = bootstrap.split(',').next().expect("a bootstrap address");
    let (host, port) = first.rsplit_once(':').expect("host:port");
    let cfg = ConnectionConfig {
        client_id: "txn-test".into(),
        request_timeout: Duration::from_secs(10),
        setup_timeout: Duration::from_secs(10),
        tls: None,
        sasl: None,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let conn = Connection::connect(host, port.parse().expect("port"), &cfg)
            .await
            .expect("connect");
        let resp = conn
            .send(&FindCoordinatorRequest {
                key: StrBytes::from(transactional_id.to_string()),
                key_type: 1,
                ..Default::default()
            })
            .await
            .expect("FindCoordinator");
        conn.close("done");
        if resp.error_code == 0 {
            return resp.node_id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no transaction coordinator for {transactional_id}: error {}",
            resp.error_code
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
