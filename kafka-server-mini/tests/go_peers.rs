//! Two independent Go clients, franz-go (`kgo` + `kadm`) and IBM/sarama, against the
//! **binary** on a free port, and against the real Kafka clusters `REAL_KAFKA_CLUSTERS`
//! names (the control: a check that fails there is a bug in the smoke program, not in our
//! broker). The programs live in `tests/go-peers/{franz,sarama}` with pinned `go.mod` and
//! `go.sum`; they are built with `go build` into `$KRAFTY_GO_PEERS_HOME` (default
//! `~/.cache/krafty-go-peers`), outside the repository. Each prints a PASS/FAIL line per
//! check (every message exactly once, per-partition order, key -> partition, headers,
//! resume at committed offsets, the admin calls) and exits 1 on any failure.
//!
//! Without Go, a module download that fails, or no `REAL_KAFKA_CLUSTERS`, the tests print
//! `SKIP:`; with `CI=true` they fail instead.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use common::peer::{peer_missing, real_kafka_clusters, workspace_root, BrokerProc};

/// Records per codec (kept small: the whole CI must stay fast on 2 cores).
const SMOKE_N: &str = "40";

/// `go build` of one program at a time: the builds share Go's caches and two cores.
static BUILD: Mutex<()> = Mutex::new(());

/// Where the built programs go.
fn cache_dir() -> PathBuf {
    std::env::var_os("KRAFTY_GO_PEERS_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/krafty-go-peers")
        })
}

/// Builds `tests/go-peers/<name>` (incremental: Go's build cache makes a rebuild cheap)
/// and returns the binary, or reports the peer missing.
fn build(name: &str) -> Option<PathBuf> {
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let src = workspace_root().join("tests/go-peers").join(name);
    let bin = cache_dir().join(format!("{name}-smoke"));
    let started = std::time::Instant::now();
    let out = Command::new("go")
        .args(["build", "-mod=readonly", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .output();
    match out {
        Err(e) => {
            peer_missing(&format!("{name}: cannot run `go` ({e}); install Go 1.24+"));
            None
        }
        Ok(o) if !o.status.success() => {
            peer_missing(&format!(
                "{name}: go build in {} failed: {}",
                src.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            None
        }
        Ok(_) => {
            eprintln!(
                "built {} in {:.1}s",
                bin.display(),
                started.elapsed().as_secs_f64()
            );
            Some(bin)
        }
    }
}

/// Runs a smoke program against `bootstrap`; returns the failure text, if any.
fn run(bin: &PathBuf, target: &str, bootstrap: &str) -> Option<String> {
    let out = Command::new("timeout")
        .arg("300")
        .arg(bin)
        .args(["-bootstrap", bootstrap, "-n", SMOKE_N, "-timeout", "60s"])
        .output()
        .expect("run the smoke program");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = stdout
        .lines()
        .rfind(|l| l.starts_with("RESULT "))
        .unwrap_or("no RESULT line")
        .to_string();
    let passes = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    eprintln!("{target}: {result} ({passes} checks passed)");
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    if out.status.success() && fails.is_empty() && result.ends_with(" PASS") && passes > 0 {
        return None;
    }
    Some(format!(
        "{target}: exit {:?}, {result}\n{}\nstderr: {}",
        out.status.code(),
        fails.join("\n"),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    ))
}

fn against_mini(name: &str) {
    let Some(bin) = build(name) else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProc::start(&dir.path().join("data"));
    let failure = run(
        &bin,
        &format!("{name} x kafka-server-mini"),
        &broker.bootstrap(),
    );
    assert!(failure.is_none(), "{}", failure.unwrap_or_default());
    assert!(broker.terminate().success(), "clean exit on SIGTERM");
}

fn against_real_kafka(name: &str) {
    let clusters = match real_kafka_clusters() {
        Ok(c) => c,
        Err(reason) => return peer_missing(&format!("{name} against real Kafka: {reason}")),
    };
    let Some(bin) = build(name) else { return };
    let failures: Vec<String> = clusters
        .iter()
        .filter_map(|(cluster, bootstrap)| {
            run(&bin, &format!("{name} x real Kafka {cluster}"), bootstrap)
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn franz_go_smoke_against_kafka_server_mini() {
    against_mini("franz");
}

#[test]
fn sarama_smoke_against_kafka_server_mini() {
    against_mini("sarama");
}

#[test]
fn franz_go_smoke_against_real_kafka() {
    against_real_kafka("franz");
}

#[test]
fn sarama_smoke_against_real_kafka() {
    against_real_kafka("sarama");
}
