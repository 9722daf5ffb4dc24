//! Interop with real Kafka clients, against the **binary** on a free port: the shared smoke
//! scripts (every codec each client supports), the protocol probes, and a kill -9 crash test.
//!
//! Peer tests skip with a printed reason when `shared/peers` or a peer is missing (a smoke
//! script exits 77 then); with `CI=true` they fail instead (`common::peer::peer_missing`),
//! so CI never passes without running them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::peer::{peer_missing, BrokerProc};
use common::*;

/// Records per smoke run (kept small: the whole CI must stay fast on 2 cores).
const SMOKE_N: &str = "40";

fn shared_peers() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared/peers"),
        manifest.join("../shared/peers"),
    ]
    .into_iter()
    .find(|p| p.join("env.sh").exists())
}

/// Runs `cmd` with the peers' environment sourced; returns (exit code, output).
fn run_with_env(peers: &Path, cmd: &str) -> (i32, String) {
    let script = format!(
        "source '{}' >/dev/null 2>&1; {cmd}",
        peers.join("env.sh").display()
    );
    let out = Command::new("timeout")
        .args(["300", "bash", "-c", &script])
        .output()
        .expect("run bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn smoke(client: &str, codecs: &[&str]) {
    let Some(peers) = shared_peers() else {
        return peer_missing(&format!(
            "{client}: shared/peers not found next to the workspace"
        ));
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProc::start(&dir.path().join("data"));
    let mut failures = Vec::new();
    for codec in codecs {
        let cmd = format!(
            "'{}' {} --compression {codec} -n {SMOKE_N}",
            peers.join(format!("smoke/smoke_{client}.sh")).display(),
            broker.bootstrap()
        );
        let (code, out) = run_with_env(&peers, &cmd);
        let last = out
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string();
        match code {
            0 => eprintln!("{client} {codec}: {last}"),
            77 => return peer_missing(&format!("{client}: peer not installed ({last})")),
            _ => {
                eprintln!("{client} {codec}: exit {code}\n{out}");
                failures.push(format!("{codec}: exit {code}: {last}"));
            }
        }
    }
    assert!(broker.terminate().success(), "clean exit on SIGTERM");
    assert!(failures.is_empty(), "{client} failures: {failures:#?}");
}

#[test]
fn peer_smoke_kcat() {
    smoke("kcat", &["none", "gzip", "snappy", "lz4", "zstd"]);
}

#[test]
fn peer_smoke_confluent() {
    smoke("confluent", &["none", "gzip", "snappy", "lz4", "zstd"]);
}

#[test]
fn peer_smoke_kafka_python() {
    smoke("kafka_python", &["none", "gzip", "snappy", "lz4", "zstd"]);
}

#[test]
fn peer_smoke_kafkajs() {
    smoke("kafkajs", &["none", "gzip", "snappy"]);
}

#[test]
fn peer_smoke_sarama() {
    smoke("sarama", &["none", "gzip", "snappy", "lz4", "zstd"]);
}

#[test]
fn peer_smoke_old_protocol_versions() {
    // magic 0/1 message sets and Fetch v0-3 down-conversion, from real clients
    let Some(peers) = shared_peers() else {
        return peer_missing("old versions: shared/peers not found next to the workspace");
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProc::start(&dir.path().join("data"));
    let runs = [
        ("kafka_python", "--api-version 0.10"),
        ("kafka_python", "--api-version 0.10 --compression gzip"),
        ("sarama", "--version 0.10.2.0"),
        ("sarama", "--version 0.10.2.0 --compression lz4"),
    ];
    let mut failures = Vec::new();
    for (client, args) in runs {
        let cmd = format!(
            "'{}' {} -n {SMOKE_N} {args}",
            peers.join(format!("smoke/smoke_{client}.sh")).display(),
            broker.bootstrap()
        );
        let (code, out) = run_with_env(&peers, &cmd);
        match code {
            0 => eprintln!("{client} {args}: ok"),
            77 => peer_missing(&format!("{client} {args}: peer not installed")),
            _ => failures.push(format!("{client} {args}: exit {code}: {out}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn peer_protocol_probes() {
    let Some(peers) = shared_peers() else {
        return peer_missing("probes: shared/peers not found next to the workspace");
    };
    let (code, _) = run_with_env(&peers, "command -v python >/dev/null");
    if code != 0 {
        return peer_missing("probes: no python in the peers environment");
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProc::start(&dir.path().join("data"));
    // --transactions: the read_committed probe runs too (confluent-kafka's transactional
    // producer, then a read_committed consumer that must see only the committed record)
    let cmd = format!(
        "python '{}' {} --transactions",
        peers.join("probes/protocol_probes.py").display(),
        broker.bootstrap()
    );
    let (code, out) = run_with_env(&peers, &cmd);
    eprintln!("{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failed.is_empty(), "probe failures: {failed:#?}");
    assert_eq!(code, 0, "probe exit status is the number of failures");
    assert!(
        out.contains("PASS pipelined_correlation_order"),
        "probes ran"
    );
    assert!(
        out.contains("PASS read_committed_skips_aborted"),
        "the transactions probe ran and passed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = BrokerProc::start(&data);
    let mut c = Client::connect(broker.addr()).await;
    let mut acked = Vec::new();
    for i in 0..60 {
        let (err, base) = produce(&mut c, "crash", 0, batch(10, &format!("b{i}"))).await;
        if i == 0 {
            assert_eq!(err, 3, "produce does not auto-create");
            let m = c
                .call(
                    9,
                    &krafty_protocol::generated::MetadataRequest {
                        topics: Some(vec![
                            krafty_protocol::generated::metadata_request::MetadataRequestTopic {
                                name: Some(krafty_protocol::wire::StrBytes::from("crash")),
                                ..Default::default()
                            },
                        ]),
                        allow_auto_topic_creation: true,
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(m.topics[0].error_code, 0);
            continue;
        }
        assert_eq!(err, 0);
        for j in 0..10 {
            acked.push((base + j, format!("b{i}-{j}")));
        }
    }
    drop(c);
    broker.kill9();
    // a torn write on top of the crash: half a batch of junk at the end of the segment
    let seg = data.join("crash-0").join(format!("{:020}.log", 0));
    let mut raw = std::fs::read(&seg).unwrap();
    let len = raw.len();
    let junk = raw[..40].to_vec();
    raw.extend_from_slice(&junk);
    raw[len + 8..len + 12].copy_from_slice(&500i32.to_be_bytes());
    std::fs::write(&seg, &raw).unwrap();
    let broker = BrokerProc::start(&data);
    let mut c = Client::connect(broker.addr()).await;
    let got = fetch_all(&mut c, "crash", 0, 12).await;
    assert_eq!(
        got, acked,
        "every acknowledged record survives kill -9, in order"
    );
    let (err, base) = produce(&mut c, "crash", 0, batch(1, "after")).await;
    assert_eq!((err, base), (0, acked.len() as i64));
    assert!(broker.terminate().success());
}

#[test]
fn binary_rejects_unknown_config_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-server-mini"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--set", "no.such.key=1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown config key"));
    assert!(out.stdout.is_empty(), "never printed `listening on`");
}

/// Two confluent-kafka consumers in one group over a 4-partition topic: the first rebalance
/// splits the partitions between them; after one closes (LeaveGroup) the other takes all 4;
/// with commits, every produced record is consumed at least once.
#[test]
fn peer_group_two_consumers_split_and_rebalance() {
    let Some(peers) = shared_peers() else {
        return peer_missing("group two consumers: shared/peers not found next to the workspace");
    };
    let (code, _) = run_with_env(&peers, "python -c 'import confluent_kafka' >/dev/null 2>&1");
    if code != 0 {
        return peer_missing(
            "group two consumers: no python with confluent_kafka in the peers environment",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProc::start(&dir.path().join("data"));
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peer_scripts/group_two_consumers.py");
    let cmd = format!(
        "timeout 60 python '{}' {}",
        script.display(),
        broker.bootstrap()
    );
    let (code, out) = run_with_env(&peers, &cmd);
    if code == 77 {
        return peer_missing(&format!("group two consumers: {}", out.trim()));
    }
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line (exit {code}):\n{out}"));
    eprintln!("group two consumers: {line}");
    let fields = out
        .lines()
        .find_map(|l| l.strip_prefix("FIELDS "))
        .unwrap_or_else(|| panic!("no FIELDS line (exit {code}):\n{out}"));
    let field = |k: &str| -> &str {
        fields
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {k} in {fields}"))
    };
    let parts = |k: &str| -> Vec<i64> {
        field(k)
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().unwrap())
            .collect()
    };
    let a = parts("a");
    let b = parts("b");
    assert!(!a.is_empty() && !b.is_empty(), "both assigned: {line}");
    assert!(a.iter().all(|p| !b.contains(p)), "disjoint: {line}");
    let mut all: Vec<i64> = a.iter().chain(&b).copied().collect();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3], "cover all partitions: {line}");
    assert_eq!(
        parts("after"),
        vec![0, 1, 2, 3],
        "B takes all partitions after A leaves: {line}"
    );
    assert!(
        field("after_secs").parse::<f64>().unwrap() <= 15.0,
        "{line}"
    );
    assert_eq!(field("distinct"), "200", "every record consumed: {line}");
    assert_eq!(code, 0, "script failed:\n{out}");
    assert!(broker.terminate().success(), "clean exit on SIGTERM");
}
