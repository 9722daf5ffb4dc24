//! Hostile clients against a broker child process: compression bombs (magic 1 gzip wrappers
//! and v2 gzip batches), many bombs at once, and slow requests that claim 100 MiB and never
//! finish. The broker's peak resident memory (VmHWM of the child) stays under a documented
//! bound while another client keeps producing and fetching; connection limits hold.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use common::{batch, fetch_all, produce, produce_req, Client};
use krafty_protocol::generated::create_topics_request::CreatableTopic;
use krafty_protocol::generated::produce_request::{PartitionProduceData, TopicProduceData};
use krafty_protocol::generated::{CreateTopicsRequest, ProduceRequest, ProduceResponse};
use krafty_protocol::records::compression;
use krafty_protocol::records::header::compute_crc;
use krafty_protocol::records::{
    write_message_set, Compression, LegacyMessage, RecordBatchBuilder, RecordBatchHeader,
};
use krafty_protocol::wire::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The memory pool given to the broker in this test.
const BUDGET: usize = 64 << 20;
/// The documented bound on the broker's peak resident memory under these attacks: the pool,
/// plus what the process needs anyway (runtime, buffers, a 2.4 MB request or two in flight).
const PEAK_BOUND_KIB: u64 = (BUDGET as u64 + (96 << 20)) / 1024;

struct ChildBroker {
    child: Child,
    addr: SocketAddr,
}

impl ChildBroker {
    fn start(dir: &std::path::Path, sets: &[&str]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafka-server-mini"));
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(["--log-level", "warn"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for s in sets {
            cmd.args(["--set", s]);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        ChildBroker { child, addr }
    }

    /// The child's peak resident set (VmHWM) in KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn create(c: &mut Client, topic: &str, partitions: i32) {
    let r = c
        .call(
            5,
            &CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: StrBytes::from(topic.to_string()),
                    num_partitions: partitions,
                    replication_factor: 1,
                    ..Default::default()
                }],
                timeout_ms: 1000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.topics[0].error_code, 0);
}

/// A magic 1 message set of `wrappers` gzip wrappers, each holding one message whose value
/// is `inflated` zero bytes.
fn legacy_bomb(wrappers: usize, inflated: usize) -> Bytes {
    let inner = LegacyMessage::new(
        1,
        0,
        1_700_000_000_000,
        None,
        Some(vec![0u8; inflated].into()),
    );
    let mut one = Vec::new();
    write_message_set(&mut one, 1, Compression::Gzip, &[inner]).unwrap();
    Bytes::from(one.repeat(wrappers))
}

/// One v2 gzip batch whose records section inflates to `members` × `member` zero bytes
/// (concatenated gzip members, which gzip readers decode as one stream).
fn v2_bomb(members: usize, member: usize) -> Bytes {
    let gz = compression::compress(Compression::Gzip, &vec![0u8; member]).unwrap();
    let payload = gz.repeat(members);
    let mut b = RecordBatchBuilder::new(Compression::Gzip);
    b.append(1_700_000_000_000, Some(&b"k"[..]), Some(&b"v"[..]))
        .unwrap();
    let mut raw = b.finish().unwrap().to_vec();
    raw.truncate(RecordBatchHeader::SIZE);
    raw.extend_from_slice(&payload);
    let mut h = RecordBatchHeader::parse(&raw).unwrap();
    h.batch_length = i32::try_from(raw.len() - 12).unwrap();
    h.write(&mut raw).unwrap();
    h.crc = compute_crc(&raw);
    h.write(&mut raw).unwrap();
    Bytes::from(raw)
}

fn multi_partition(topic: &str, records: &Bytes, partitions: i32) -> ProduceRequest {
    ProduceRequest {
        acks: -1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: StrBytes::from(topic.to_string()),
            partition_data: (0..partitions)
                .map(|p| PartitionProduceData {
                    index: p,
                    records: Some(records.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Another client produces and fetches while (or right after) the broker is attacked.
async fn healthy(addr: SocketAddr, round: usize) {
    let mut c = Client::connect(addr).await;
    let (err, _) = produce(&mut c, "ok", 0, batch(5, &format!("h{round}"))).await;
    assert_eq!(err, 0);
    assert_eq!(fetch_all(&mut c, "ok", 0, 12).await.len(), 5 * (round + 1));
}

fn codes(r: &ProduceResponse) -> Vec<i16> {
    r.responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .map(|p| p.error_code)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_stay_within_the_memory_bound_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let budget = format!("request.memory.budget.bytes={BUDGET}");
    let broker = ChildBroker::start(
        dir.path(),
        &[
            &budget,
            "connections.max.idle.ms=2000",
            "max.connections.per.ip=1000",
        ],
    );
    let addr = broker.addr;
    let mut c = Client::connect(addr).await;
    create(&mut c, "ok", 1).await;
    create(&mut c, "bomb", 8).await;
    drop(c);
    healthy(addr, 0).await;
    let base = broker.peak_kib();
    println!("baseline peak: {} MiB", base / 1024);
    let mut report = Vec::new();

    // 1. the bomb: ~2.4 MB Produce v2, 40 gzip magic-1 wrappers of 60 MiB each
    let legacy = legacy_bomb(40, 60 << 20);
    assert!(legacy.len() < 3 << 20, "request of {} bytes", legacy.len());
    let mut c = Client::connect(addr).await;
    let r = c.call(2, &produce_req("bomb", 0, legacy.clone(), -1)).await;
    // MESSAGE_TOO_LARGE (the converted batch would exceed message.max.bytes) or
    // RECORD_LIST_TOO_LARGE (the pool ran out first)
    assert!(matches!(codes(&r)[..], [10 | 18]), "{:?}", codes(&r));
    report.push((
        "40 gzip magic-1 wrappers x 60 MiB (2.4 MB request)",
        broker.peak_kib(),
    ));
    healthy(addr, 1).await;

    // 2. one v2 gzip batch (under message.max.bytes) inflating to 900 MiB (15 gzip members of 60 MiB)
    let v2 = v2_bomb(15, 60 << 20);
    assert!(
        v2.len() < 1_048_588,
        "under message.max.bytes: {}",
        v2.len()
    );
    let mut c = Client::connect(addr).await;
    let r = c.call(9, &produce_req("bomb", 0, v2.clone(), -1)).await;
    assert_eq!(codes(&r), [18]);
    report.push(("v2 gzip batch inflating to 900 MiB", broker.peak_kib()));
    healthy(addr, 2).await;

    // 3. the same batch for 8 partitions of one request, and the legacy bomb on 4
    // connections at once
    let mut c = Client::connect(addr).await;
    let r = c.call(9, &multi_partition("bomb", &v2, 8)).await;
    assert!(codes(&r).iter().all(|c| *c == 18), "{:?}", codes(&r));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let legacy = legacy.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            let r = c.call(2, &multi_partition("bomb", &legacy, 2)).await;
            codes(&r)
        }));
    }
    healthy(addr, 3).await;
    for t in tasks {
        assert!(t.await.unwrap().iter().all(|c| matches!(c, 10 | 18)));
    }
    report.push((
        "8-partition v2 bomb + 4 concurrent 2-partition legacy bombs",
        broker.peak_kib(),
    ));
    healthy(addr, 4).await;

    // 4. 200 connections each claiming a 100 MiB request and sending 10 bytes of it
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut head = ((100 << 20) - 1i32).to_be_bytes().to_vec();
        head.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 1, 0, 0]);
        s.write_all(&head).await.unwrap();
        slow.push(s);
    }
    healthy(addr, 5).await;
    report.push((
        "200 connections claiming 100 MiB requests",
        broker.peak_kib(),
    ));
    // they are closed after connections.max.idle.ms (2 s; waited for at most 30 s)
    for mut s in slow {
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf))
            .await
            .expect("closed by the broker")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
    healthy(addr, 6).await;

    for (what, peak) in &report {
        println!("bomb: {what}: broker peak RSS {} MiB", peak / 1024);
    }
    let peak = broker.peak_kib();
    assert!(
        peak < PEAK_BOUND_KIB,
        "peak {} MiB over the bound {} MiB",
        peak / 1024,
        PEAK_BOUND_KIB / 1024
    );
}

#[tokio::test]
async fn connection_limits_and_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = krafty_server::BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    config.set("max.connections.per.ip", "2").unwrap();
    config.set("connections.max.idle.ms", "500").unwrap();
    let broker = krafty_server::Broker::start(config).await.unwrap();
    broker.state().create_topic("t", 1, false).unwrap();
    let addr = broker.local_addr();
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    assert_eq!(produce(&mut a, "t", 0, batch(1, "a")).await.0, 0);
    assert_eq!(produce(&mut b, "t", 0, batch(1, "b")).await.0, 0);
    // a third connection from the same address is closed at once
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // idle connections are closed after connections.max.idle.ms, which frees the slots
    for c in [&mut a, &mut b] {
        let closed = tokio::time::timeout(Duration::from_secs(10), c.read_frame()).await;
        assert!(closed.expect("closed while idle").is_none());
    }
    // a request trickling in byte by byte is closed too, even though bytes keep coming
    let mut t = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut frame = bytes::BytesMut::new();
    krafty_protocol::frame::write_typed_request(
        &mut frame,
        1,
        None,
        9,
        &produce_req("t", 0, batch(1, "slow"), -1),
    )
    .unwrap();
    let mut closed = false;
    for byte in frame.iter() {
        if t.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed,
        "a trickling request must not hold the connection forever"
    );
    let mut c = Client::connect(addr).await;
    assert_eq!(produce(&mut c, "t", 0, batch(1, "c")).await, (0, 2));
    broker.shutdown().await.unwrap();
}
