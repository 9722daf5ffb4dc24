//! Log compaction end to end, against the **binary**: kcat and confluent-kafka produce keys
//! updated many times and tombstones to a compacted topic and read back the compacted
//! result; the same input on real Apache Kafka (a cluster named in `REAL_KAFKA_CLUSTERS`)
//! must give the same latest value per key at the same offsets.
//!
//! A missing `shared/peers` or peer is `peer_missing` (SKIP outside CI, a failure with
//! `CI=true`). The real-Kafka test follows the `REAL_KAFKA_CLUSTERS` convention: unset outside CI it prints
//! `SKIP`, with `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::peer::{peer_missing, BrokerProc};

/// Broker settings that make the cleaner act within a test's time.
const FAST_CLEANER: &[&str] = &[
    "log.cleaner.backoff.ms=200",
    "log.cleaner.min.cleanable.ratio=0.01",
    "group.initial.rebalance.delay.ms=0",
];

/// The broker binary with the fast-cleaner settings and `extra`.
fn start_mini(data_dir: &Path, extra: &[&str]) -> BrokerProc {
    let sets: Vec<&str> = FAST_CLEANER.iter().chain(extra).copied().collect();
    BrokerProc::start_with(data_dir, &sets)
}

fn shared_peers() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared/peers"),
        manifest.join("../shared/peers"),
    ]
    .into_iter()
    .find(|p| p.join("env.sh").exists())
}

/// Runs `cmd` in bash with the peers' environment; returns (exit code, stdout, stderr).
fn run_with_env(peers: &Path, cmd: &str) -> (i32, String, String) {
    let script = format!(
        "source '{}' >/dev/null 2>&1; {cmd}",
        peers.join("env.sh").display()
    );
    let out = Command::new("timeout")
        .args(["180", "bash", "-c", &script])
        .output()
        .expect("run bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peer_scripts")
        .join(name)
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// The JSON line of `compaction_check.py` against `bootstrap`, `None` when the peer is
/// missing (exit 77). Panics when the script's checks fail.
fn confluent_compaction(peers: &Path, bootstrap: &str, topic: &str, wait_s: u32) -> Option<String> {
    let cmd = format!(
        "python '{}' {bootstrap} {topic} {wait_s}",
        script("compaction_check.py").display()
    );
    let (code, out, err) = run_with_env(peers, &cmd);
    match code {
        0 => Some(out.lines().last().unwrap_or("").to_string()),
        77 => None,
        _ => panic!("compaction_check.py on {bootstrap}: exit {code}\n{out}\n{err}"),
    }
}

/// The `"name": {...}` object of a flat JSON line (the script sorts its keys and writes
/// string/number/null values only), as text.
fn json_object<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(&format!("\"{name}\": {{"))
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    let rest = &line[start..];
    let end = rest.find('}').unwrap();
    &rest[..=end]
}

#[test]
fn compaction_confluent_kafka_topic_config() {
    let Some(peers) = shared_peers() else {
        peer_missing("compaction confluent: shared/peers not found");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = start_mini(&dir.path().join("data"), &[]);
    let Some(line) = confluent_compaction(&peers, &broker.bootstrap(), "compacted-cc", 30) else {
        peer_missing("compaction confluent: confluent_kafka not installed");
        return;
    };
    eprintln!("{line}");
    assert!(line.contains("\"compacted\": true") && line.contains("\"errors\": []"));
    assert!(
        line.contains("\"k00\": null"),
        "a tombstone is read as null"
    );
}

#[test]
fn compaction_kcat_broker_default_policy() {
    let Some(peers) = shared_peers() else {
        peer_missing("compaction kcat: shared/peers not found");
        return;
    };
    if run_with_env(&peers, "command -v kcat >/dev/null").0 != 0 {
        peer_missing("compaction kcat: kcat not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // every auto-created topic is compacted and rolls after 300 ms
    let broker = start_mini(
        &dir.path().join("data"),
        &["log.cleanup.policy=compact", "log.roll.ms=300"],
    );
    let b = broker.bootstrap();
    let topic = "kcat-compacted";
    let mut input = String::new();
    for round in 0..30 {
        for k in 0..8 {
            // the last record of keys 0 and 4 is a tombstone (an empty value with -Z)
            if round == 29 && k % 4 == 0 {
                input.push_str(&format!("key{k}:\n"));
            } else {
                input.push_str(&format!("key{k}:r{round}\n"));
            }
        }
    }
    let file = dir.path().join("input.txt");
    std::fs::write(&file, &input).unwrap();
    let produce = |path: &Path| {
        let (code, out, err) = run_with_env(
            &peers,
            &format!(
                "kcat -P -b {b} -t {topic} -K: -Z -X topic.metadata.refresh.interval.ms=100 < '{}'",
                path.display()
            ),
        );
        assert_eq!(code, 0, "kcat produce: {out}{err}");
    };
    produce(&file);
    std::thread::sleep(Duration::from_millis(800));
    let sentinel = dir.path().join("sentinel.txt");
    std::fs::write(&sentinel, "sentinel:end\n").unwrap();
    produce(&sentinel);
    let deadline = Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let (code, out, err) = run_with_env(
            &peers,
            &format!("kcat -C -b {b} -t {topic} -o beginning -e -Z -f '%o|%k|%s\\n'"),
        );
        assert_eq!(code, 0, "kcat consume: {err}");
        let lines: Vec<String> = out.lines().map(str::to_string).collect();
        if lines.len() == 9 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut want: Vec<String> = (0..8)
        .map(|k| {
            let off = 29 * 8 + k;
            if k % 4 == 0 {
                format!("{off}|key{k}|NULL")
            } else {
                format!("{off}|key{k}|r29")
            }
        })
        .collect();
    want.push(format!("{}|sentinel|end", 30 * 8));
    assert_eq!(
        lines, want,
        "compacted: latest per key at its original offset"
    );
}

#[test]
fn compaction_matches_real_kafka() {
    let clusters = match std::env::var("REAL_KAFKA_CLUSTERS") {
        Ok(v) if !v.trim().is_empty() => v,
        _ => {
            let why = "REAL_KAFKA_CLUSTERS is not set (no real Kafka cluster to compare with)";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            println!("SKIP compaction_matches_real_kafka: {why}");
            return;
        }
    };
    let names: Vec<&str> = clusters.split(',').map(str::trim).collect();
    let name = ["k40-1", "k44-1"]
        .into_iter()
        .find(|n| names.contains(n))
        .unwrap_or(names[0]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(root.join("scripts/kafka-dist.sh"))
        .args(["bootstrap", "--name", name])
        .output()
        .expect("run scripts/kafka-dist.sh");
    assert!(out.status.success(), "no bootstrap for cluster {name}");
    let real = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let peers = shared_peers().expect("shared/peers is needed for the real-Kafka comparison");
    let topic = unique("compaction-cmp");
    // real Kafka's cleaner wakes every log.cleaner.backoff.ms (15 s): wait up to 60 s
    let kafka = confluent_compaction(&peers, &real, &topic, 60)
        .expect("confluent_kafka is needed for the real-Kafka comparison");
    let dir = tempfile::tempdir().unwrap();
    let broker = start_mini(&dir.path().join("data"), &[]);
    let mini = confluent_compaction(&peers, &broker.bootstrap(), &topic, 30).unwrap();
    eprintln!("real Kafka {name}: {kafka}\nkafka-server-mini: {mini}");
    assert_eq!(
        json_object(&mini, "latest"),
        json_object(&kafka, "latest"),
        "latest value per key"
    );
    assert_eq!(
        json_object(&mini, "offsets"),
        json_object(&kafka, "offsets"),
        "offsets kept"
    );
}

/// `__consumer_offsets` is compacted, never time-retained: with `log.retention.ms=1` (every
/// closed segment is expired for a delete-policy topic) and small segments, every committed
/// offset survives retention rounds, the cleaner and a
/// restart; a data directory from before compaction (no `cleanup.policy` override) is
/// switched to compaction at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_offsets_are_compacted_not_time_retained() {
    use krafty_server::broker::OFFSETS_TOPIC;
    use krafty_server::group::offsets::CommittedOffset;
    use krafty_server::{Broker, BrokerConfig};
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
        for kv in [
            "log.retention.ms=1",
            "log.retention.check.interval.ms=50",
            "log.cleaner.backoff.ms=50",
            "log.cleaner.min.cleanable.ratio=0.01",
        ] {
            c.set_pair(kv).unwrap();
        }
        c
    };
    let broker = Broker::start(config()).await.unwrap();
    let st = broker.state().clone();
    let t = st.topic(OFFSETS_TOPIC).unwrap();
    assert_eq!(
        t.configs().get("cleanup.policy").map(String::as_str),
        Some("compact")
    );
    let mut configs = t.configs();
    configs.insert("segment.bytes".into(), "300".into());
    st.set_topic_configs(OFFSETS_TOPIC, configs).unwrap();
    let commit = |group: &str, partition: i32, offset: i64| {
        let o = CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: krafty_server::broker::now_ms(),
        };
        assert_eq!(
            st.groups
                .commit(group, -1, "", vec![("t".into(), partition, o)]),
            0
        );
    };
    for i in 0..100 {
        commit("old-group", (i % 4) as i32, i);
    }
    let segments = || {
        st.partition(OFFSETS_TOPIC, 0)
            .unwrap()
            .lock()
            .log
            .segment_count()
    };
    assert!(segments() > 3, "small segments rolled");
    // wait (bounded) for the cleaner to compact, while retention runs every 50 ms
    let deadline = Instant::now() + Duration::from_secs(20);
    let part = st.partition(OFFSETS_TOPIC, 0).unwrap();
    let records = || {
        let p = part.lock();
        p.log
            .batch_headers()
            .unwrap()
            .iter()
            .map(|h| i64::from(h.records_count))
            .sum::<i64>()
    };
    while records() > 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(records() <= 20, "compacted: {} records left", records());
    assert_eq!(
        part.lock().log.log_start_offset(),
        0,
        "nothing time-retained"
    );
    drop(part);
    broker.shutdown().await.unwrap();
    // a data dir from before compaction: the override file is gone
    std::fs::remove_file(dir.path().join("__consumer_offsets-0/topic.config")).unwrap();
    let broker = Broker::start(config()).await.unwrap();
    let st = broker.state().clone();
    assert_eq!(
        st.topic(OFFSETS_TOPIC)
            .unwrap()
            .configs()
            .get("cleanup.policy")
            .map(String::as_str),
        Some("compact")
    );
    for p in 0..4 {
        let want = (0..100).filter(|i| i % 4 == p).max().unwrap();
        assert_eq!(
            st.groups
                .committed("old-group", "t", p as i32)
                .unwrap()
                .offset,
            want,
            "partition {p}"
        );
    }
    broker.shutdown().await.unwrap();
}

/// Compaction figures (ignored by default; run in release):
/// `cargo test --release -p krafty-server --test compaction compaction_figures -- --ignored --nocapture`.
/// 1,000,000 records of 100-byte values over 10,000 keys (every key updated 100 times) in
/// batches of 100, 16 MiB segments; one clean of everything below the active segment.
#[test]
#[ignore]
fn compaction_figures() {
    use krafty_protocol::records::{Compression, RecordBatchBuilder};
    use krafty_server::log::cleaner::cleaner::{clean_partition, LogCleanState};
    use krafty_server::log::{Log, LogConfig};
    use krafty_server::partition::Partition;
    use krafty_server::BrokerConfig;
    let dir = tempfile::tempdir().unwrap();
    let mut bc = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    bc.set_pair("log.cleanup.policy=compact").unwrap();
    bc.set_pair("log.segment.bytes=16777216").unwrap();
    let log = Log::open(
        &dir.path().join("t-0"),
        LogConfig::from_broker(&bc),
        None,
        None,
    )
    .unwrap();
    let p = Partition::new("t".into(), 0, log);
    let value = [b'x'; 100];
    let (records, keys) = (1_000_000u64, 10_000u64);
    let t = Instant::now();
    {
        let mut st = p.lock();
        for b in 0..records / 100 {
            let mut batch = RecordBatchBuilder::new(Compression::None);
            for i in 0..100 {
                let k = format!("key-{:05}", (b * 100 + i) % keys);
                batch
                    .append(1, Some(k.as_bytes()), Some(&value[..]))
                    .unwrap();
            }
            st.log
                .append(&mut batch.finish().unwrap().to_vec(), 1)
                .unwrap();
        }
    }
    let write = t.elapsed();
    let mut state = LogCleanState::default();
    let t = Instant::now();
    let stats = clean_partition(&p, &mut state, 10, 128 << 20, None)
        .unwrap()
        .unwrap();
    let clean = t.elapsed();
    println!(
        "records in {records} (cleaned range {}), records kept {}, keys {}, bytes {} -> {}, \
         segments replaced {}, clean took {clean:?} (append took {write:?})",
        stats.records_read,
        stats.records_kept,
        stats.keys,
        stats.bytes_before,
        stats.bytes_after,
        stats.segments_replaced
    );
    assert!(stats.records_kept <= keys);
}
