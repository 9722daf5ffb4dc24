//! `kafka-cli topics`, `produce`, `consume`, `groups` and `perf` against the real Apache Kafka
//! clusters of `scripts/real-kafka.sh` (`REAL_KAFKA_CLUSTERS`: k40-1, k40-3, k44-1, k44-3).
//! The clusters are shared by tests running in parallel, so every topic and group name is
//! unique and listings are checked for what this test created only. Without
//! `REAL_KAFKA_CLUSTERS` a test prints SKIP, or fails under `CI=true`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The cluster's bootstrap list, or `None` after SKIP (outside CI; a panic with `CI=true`).
fn cluster(name: &str) -> Option<String> {
    let listed = std::env::var("REAL_KAFKA_CLUSTERS").unwrap_or_default();
    if listed.trim().is_empty() {
        let reason = format!(
            "REAL_KAFKA_CLUSTERS is not set, no real Kafka cluster {name} \
             (run scripts/real-kafka.sh up and export what it prints)"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("CI=true and {reason}");
        }
        eprintln!("SKIP: {reason}");
        return None;
    }
    if !listed.split(',').any(|n| n.trim() == name) {
        eprintln!("SKIP: REAL_KAFKA_CLUSTERS={listed} does not list {name}");
        return None;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka-dist.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(["bootstrap", "--name", name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A unique name.
fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{n}")
}

/// Runs a program with optional stdin, killing it after 90 s.
fn run(program: impl Into<PathBuf>, args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::run_bounded(program, args, stdin, Duration::from_secs(90))
}

struct Cli {
    bootstrap: String,
}

impl Cli {
    fn cli(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--bootstrap", &self.bootstrap]);
        let out = run(env!("CARGO_BIN_EXE_kafka-cli"), &all, stdin);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?} panicked: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "kafka-cli {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ok` repeated (for up to 30 s) until `done` holds on its stdout: real Kafka applies
    /// created topics and group changes on every broker shortly after answering.
    fn eventually(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.cli(args, None);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() && done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "kafka-cli {args:?}: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The LAG column of `groups describe`.
fn lags(describe: &str) -> Vec<String> {
    describe
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(5).map(str::to_string))
        .collect()
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn scenario(name: &str) {
    let Some(bootstrap) = cluster(name) else {
        return;
    };
    let nodes = bootstrap.split(',').count();
    let rf = nodes.to_string();
    let b = Cli { bootstrap };
    let topic = unique("cli-real");
    let group = unique("cli-real-g");

    // topics: create (RF = every broker), list, describe, delete.
    let created = b.ok(
        &[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "2",
            "--replication-factor",
            &rf,
        ],
        None,
    );
    assert_eq!(created, format!("Created topic {topic}.\n"));
    let again = b.cli(
        &["topics", "create", "--topic", &topic, "--partitions", "2"],
        None,
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("TOPIC_ALREADY_EXISTS"));
    b.eventually(&["topics", "list"], |o| o.lines().any(|l| l == topic));
    let described = b.eventually(&["topics", "describe", "--topic", &topic], |o| {
        o.lines().count() == 3 && !o.contains("Leader: -1")
    });
    assert!(
        described.starts_with(&format!(
            "Topic: {topic}\tPartitionCount: 2\tReplicationFactor: {rf}\n"
        )),
        "{described}"
    );
    for line in described.lines().skip(1) {
        let replicas = line
            .split('\t')
            .find_map(|c| c.strip_prefix("Replicas: "))
            .unwrap();
        assert_eq!(replicas.split(',').count(), nodes, "{line}");
    }

    // produce keyed lines with lz4; consume them back (with keys) from the beginning.
    let input: Vec<String> = (0..50).map(|i| format!("k{i}:v {i}: x")).collect();
    let produced = b.cli(
        &[
            "produce",
            "--topic",
            &topic,
            "--key-separator",
            ":",
            "--compression",
            "lz4",
        ],
        Some(format!("{}\n", input.join("\n")).as_bytes()),
    );
    assert!(produced.status.success());
    assert!(String::from_utf8_lossy(&produced.stderr).contains("produced 50 records"));
    let got = b.ok(
        &[
            "consume",
            "--topic",
            &topic,
            "--from-beginning",
            "--max-messages",
            "50",
            "--print-key",
        ],
        None,
    );
    let mut expected: Vec<String> = input.iter().map(|l| l.replacen(':', "\t", 1)).collect();
    expected.sort();
    assert_eq!(sorted_lines(&got), expected);

    // a group reads everything and commits; a second run finds nothing new.
    let mut values: Vec<String> = (0..50).map(|i| format!("v {i}: x")).collect();
    values.sort();
    let first = b.ok(
        &[
            "consume",
            "--topic",
            &topic,
            "--group",
            &group,
            "--from-beginning",
            "--max-messages",
            "50",
        ],
        None,
    );
    assert_eq!(sorted_lines(&first), values);
    let second = b.ok(
        &[
            "consume",
            "--topic",
            &topic,
            "--group",
            &group,
            "--timeout-ms",
            "1500",
        ],
        None,
    );
    assert_eq!(second, "");
    b.eventually(&["groups", "list"], |o| o.lines().any(|l| l == group));
    let described = b.eventually(&["groups", "describe", "--group", &group], |o| {
        lags(o) == ["0", "0"]
    });
    assert!(
        described.lines().skip(1).all(|l| l.starts_with(&group)),
        "{described}"
    );
    // reset to earliest: the lag is every record, and the group reads them again.
    b.ok(
        &[
            "groups",
            "reset-offsets",
            "--group",
            &group,
            "--topic",
            &topic,
            "--to-earliest",
            "--execute",
        ],
        None,
    );
    b.eventually(&["groups", "describe", "--group", &group], |o| {
        lags(o)
            .iter()
            .map(|l| l.parse::<i64>().unwrap_or(0))
            .sum::<i64>()
            == 50
    });
    let again = b.ok(
        &[
            "consume",
            "--topic",
            &topic,
            "--group",
            &group,
            "--max-messages",
            "50",
        ],
        None,
    );
    assert_eq!(sorted_lines(&again), values);
    let deleted = b.ok(&["groups", "delete", "--group", &group], None);
    assert!(deleted.contains(&group), "{deleted}");
    b.eventually(&["groups", "list"], |o| !o.lines().any(|l| l == group));

    // perf producer and consumer.
    let out = b.ok(
        &[
            "perf",
            "producer",
            "--topic",
            &topic,
            "--num-records",
            "2000",
            "--record-size",
            "100",
        ],
        None,
    );
    assert!(out.trim().starts_with("2000 records sent, "), "{out}");
    let out = b.ok(
        &["perf", "consumer", "--topic", &topic, "--messages", "2050"],
        None,
    );
    let fields: Vec<&str> = out.lines().nth(1).unwrap_or("").split(", ").collect();
    assert_eq!(fields.get(4), Some(&"2050"), "records consumed: {out}");

    assert_eq!(
        b.ok(&["topics", "delete", "--topic", &topic], None),
        format!("Deleted topic {topic}.\n")
    );
    b.eventually(&["topics", "list"], |o| !o.lines().any(|l| l == topic));
}

#[test]
fn cli_commands_k40_1() {
    scenario("k40-1");
}

#[test]
fn cli_commands_k40_3() {
    scenario("k40-3");
}

#[test]
fn cli_commands_k44_1() {
    scenario("k44-1");
}

#[test]
fn cli_commands_k44_3() {
    scenario("k44-3");
}
