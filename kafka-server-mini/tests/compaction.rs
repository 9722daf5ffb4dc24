//! Log compaction end to end, against the **binary**: kcat and confluent-kafka produce keys
//! updated many times and tombstones to a compacted topic and read back the compacted
//! result; the same input on real Apache Kafka (a cluster named in `REAL_KAFKA_CLUSTERS`)
//! must give the same latest value per key at the same offsets.
//!
//! Peer tests skip with a printed reason when `shared/peers` or a peer is missing. The
//! real-Kafka test follows the `REAL_KAFKA_CLUSTERS` convention: unset outside CI it prints
//! `SKIP`, with `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Broker settings that make the cleaner act within a test's time.
const FAST_CLEANER: &[&str] = &[
    "log.cleaner.backoff.ms=200",
    "log.cleaner.min.cleanable.ratio=0.01",
    "group.initial.rebalance.delay.ms=0",
];

struct Mini {
    child: Child,
    port: u16,
}

impl Mini {
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let stderr = std::fs::File::create(data_dir.with_extension("stderr.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafka-server-mini"));
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--log-level", "info"]);
        for s in FAST_CLEANER.iter().chain(extra) {
            cmd.args(["--set", s]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start kafka-server-mini");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Mini { child, port }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Mini {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        eprintln!("SKIP compaction confluent: shared/peers not found");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = Mini::start(&dir.path().join("data"), &[]);
    let Some(line) = confluent_compaction(&peers, &broker.bootstrap(), "compacted-cc", 30) else {
        eprintln!("SKIP compaction confluent: confluent_kafka not installed");
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
        eprintln!("SKIP compaction kcat: shared/peers not found");
        return;
    };
    if run_with_env(&peers, "command -v kcat >/dev/null").0 != 0 {
        eprintln!("SKIP compaction kcat: kcat not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // every auto-created topic is compacted and rolls after 300 ms
    let broker = Mini::start(
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
    let broker = Mini::start(&dir.path().join("data"), &[]);
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
