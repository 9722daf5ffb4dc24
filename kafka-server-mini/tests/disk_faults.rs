//! Disk faults injected under the log's file I/O ([`FaultyDisk`]): short writes, ENOSPC and
//! EIO on write, fsync, set_len and rename. A failed append leaves the log as it was (or
//! offline), nothing after it is corrupted and nothing unwritten is acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use common::{batch, fetch_all, produce, Client};
use krafty_protocol::generated::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use krafty_protocol::generated::offset_fetch_request::OffsetFetchRequestTopic;
use krafty_protocol::generated::{OffsetCommitRequest, OffsetFetchRequest};
use krafty_protocol::records::{Compression, RecordBatchBuilder, RecordBatchHeader};
use krafty_protocol::wire::StrBytes;
use krafty_server::log::disk::{FaultKind, FaultyDisk, Op};
use krafty_server::log::{Log, LogConfig};
use krafty_server::{Broker, BrokerConfig, BrokerError};

fn cfg() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        roll_ms: i64::MAX,
        retention_ms: -1,
        retention_bytes: -1,
        index_interval_bytes: 1,
        flush_interval_messages: i64::MAX,
        flush_interval_ms: -1,
        log_append_time: false,
        cleanup: krafty_server::log::cleaner::CleanupConfig::default(),
    }
}

fn records(n: usize, tag: usize) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(Compression::None);
    for i in 0..n {
        b.append(
            10 + (tag * 10 + i) as i64,
            Some(&b"k"[..]),
            Some(format!("{tag}-{i}").as_bytes()),
        )
        .unwrap();
    }
    b.finish().unwrap().to_vec()
}

fn log_size(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join(format!("{:020}.log", 0)))
        .unwrap()
        .len()
}

/// Every offset below `end` reads back as a valid batch.
fn assert_serves(log: &Log, end: i64) {
    assert_eq!(log.log_end_offset(), end);
    let mut offset = 0;
    while offset < end {
        let bytes = log.read(offset, 1, true).unwrap().unwrap();
        let h = RecordBatchHeader::parse(&bytes).unwrap();
        h.verify_crc(&bytes[..h.total_size()]).unwrap();
        offset = h.next_offset();
    }
}

/// A write fault (short write, ENOSPC, EIO) on the segment or on an index file: the append
/// fails, the files are cut back, the next appends land where they should, and a full
/// recovery after a kill cuts nothing.
#[test]
fn failed_writes_are_rolled_back() {
    let faults = [
        (".log", FaultKind::Short(1)),
        (".log", FaultKind::Short(30)),
        (".log", FaultKind::Short(70)),
        (".log", FaultKind::NoSpace),
        (".log", FaultKind::Eio),
        (".index", FaultKind::Short(3)),
        (".index", FaultKind::Eio),
        (".timeindex", FaultKind::Short(5)),
        (".timeindex", FaultKind::NoSpace),
    ];
    for (path, kind) in faults {
        let dir = tempfile::tempdir().unwrap();
        let disk = FaultyDisk::new();
        let mut log = Log::open_with(dir.path(), cfg(), None, None, disk.clone()).unwrap();
        for i in 0..3 {
            log.append(&mut records(2, i), 0).unwrap();
        }
        let size = log_size(dir.path());
        disk.inject(Op::Append, path, kind, 1);
        let err = log.append(&mut records(2, 9), 0).unwrap_err();
        assert!(
            matches!(err, BrokerError::Io { .. }),
            "{path} {kind:?}: {err}"
        );
        assert_eq!(err.code(), 56, "KAFKA_STORAGE_ERROR");
        assert_eq!(disk.injected().len(), 1, "{path} {kind:?} fired");
        assert_eq!(log_size(dir.path()), size, "{path} {kind:?}: cut back");
        assert_eq!(log.log_end_offset(), 6);
        for i in 0..3 {
            log.append(&mut records(2, 10 + i), 0).unwrap();
        }
        assert_serves(&log, 12);
        drop(log); // kill
        let log = Log::open(dir.path(), cfg(), None, None).unwrap();
        assert_serves(&log, 12);
    }
}

/// When even the rollback fails, or an fsync fails, the log goes offline: appends and reads
/// answer KAFKA_STORAGE_ERROR; after a restart recovery drops the partial bytes.
#[test]
fn failed_rollback_or_fsync_takes_the_log_offline() {
    // short write, then the truncation back fails
    let dir = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::new();
    let mut log = Log::open_with(dir.path(), cfg(), None, None, disk.clone()).unwrap();
    log.append(&mut records(2, 0), 0).unwrap();
    disk.inject(Op::Append, ".log", FaultKind::Short(40), 1);
    disk.inject(Op::SetLen, ".log", FaultKind::Eio, 1);
    let err = log.append(&mut records(2, 1), 0).unwrap_err();
    assert!(matches!(err, BrokerError::Storage(_)), "{err}");
    assert!(log.offline_reason().is_some());
    assert_eq!(log.append(&mut records(1, 2), 0).unwrap_err().code(), 56);
    assert_eq!(log.read(0, 100, true).unwrap_err().code(), 56);
    drop(log);
    let log = Log::open(dir.path(), cfg(), None, None).unwrap();
    assert_serves(&log, 2);
    drop(log);

    // fsync fails (log.flush.interval.messages=1: every append is flushed)
    let dir = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::new();
    let mut c = cfg();
    c.flush_interval_messages = 1;
    let mut log = Log::open_with(dir.path(), c.clone(), None, None, disk.clone()).unwrap();
    log.append(&mut records(1, 0), 0).unwrap();
    disk.inject(Op::Sync, ".log", FaultKind::Eio, 1);
    assert_eq!(log.append(&mut records(1, 1), 0).unwrap_err().code(), 56);
    assert!(log.offline_reason().is_some());
    assert!(log.flush().is_err());
    drop(log);
    let log = Log::open(dir.path(), c, Some(1), None).unwrap();
    // the unacknowledged record may or may not be there (it reached the page cache); the
    // acknowledged one is
    assert!(log.log_end_offset() >= 1);
}

fn commit(group: &str, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: StrBytes::from(group.to_string()),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: StrBytes::from("t".to_string()),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn committed(c: &mut Client, group: &str) -> i64 {
    let r = c
        .call(
            5,
            &OffsetFetchRequest {
                group_id: StrBytes::from(group.to_string()),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: StrBytes::from("t".to_string()),
                    partition_indexes: vec![0].into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await;
    r.topics[0].partitions[0].committed_offset
}

/// Through the broker: a produce hitting a disk fault answers KAFKA_STORAGE_ERROR and
/// stores nothing; an OffsetCommit whose record cannot be appended to __consumer_offsets
/// is refused (NOT_COORDINATOR, as Kafka maps a storage error) and not applied; a failed
/// checkpoint rename keeps the old checkpoint.
#[tokio::test]
async fn broker_answers_storage_errors_and_never_acknowledges_unwritten_data() {
    let dir = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::new();
    let mut config = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    config.disk = disk.clone();
    let broker = Broker::start(config).await.unwrap();
    broker.state().create_topic("t", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    assert_eq!(produce(&mut c, "t", 0, batch(3, "a")).await, (0, 0));
    disk.inject(Op::Append, "t-0", FaultKind::Short(20), 1);
    assert_eq!(produce(&mut c, "t", 0, batch(3, "b")).await.0, 56);
    disk.inject(Op::Append, "t-0", FaultKind::NoSpace, 1);
    assert_eq!(produce(&mut c, "t", 0, batch(3, "c")).await.0, 56);
    assert_eq!(produce(&mut c, "t", 0, batch(3, "d")).await, (0, 3));
    let got: Vec<String> = fetch_all(&mut c, "t", 0, 12)
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(got, ["a-0", "a-1", "a-2", "d-0", "d-1", "d-2"]);

    let r = c.call(8, &commit("g", 5)).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    disk.inject(Op::Append, "__consumer_offsets", FaultKind::Eio, 1);
    let r = c.call(8, &commit("g", 9)).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 16, "NOT_COORDINATOR");
    assert_eq!(
        committed(&mut c, "g").await,
        5,
        "the refused commit is not applied"
    );

    let state = Arc::clone(broker.state());
    disk.inject(
        Op::Rename,
        "recovery-point-offset-checkpoint",
        FaultKind::Eio,
        1,
    );
    assert!(state.checkpoint(false).is_err());
    assert!(dir.path().join("recovery-point-offset-checkpoint").exists());
    broker.shutdown().await.unwrap();
    let kinds: Vec<_> = disk
        .injected()
        .into_iter()
        .map(|(op, k, _)| (op, k))
        .collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");

    // everything acknowledged survives a restart, the commit included
    let broker = common::start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    assert_eq!(fetch_all(&mut c, "t", 0, 12).await.len(), 6);
    assert_eq!(committed(&mut c, "g").await, 5);
    broker.shutdown().await.unwrap();
}
