//! Transactions over raw protocol (krafty-protocol types over TCP) against an in-process
//! broker: commit and abort with read_committed Fetch (LSO, aborted transactions) and
//! ListOffsets, zombie fencing with the per-version error codes, the proactive timeout
//! abort, offsets committed through a transaction, a restart, and hostile inputs answered
//! with Kafka's error codes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::Bytes;
use common::*;
use krafty_protocol::generated::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use krafty_protocol::generated::fetch_response::PartitionData;
use krafty_protocol::generated::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use krafty_protocol::generated::offset_fetch_request::OffsetFetchRequestTopic;
use krafty_protocol::generated::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use krafty_protocol::generated::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, FetchResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, InitProducerIdRequest, ListOffsetsRequest,
    ListOffsetsResponse, OffsetFetchRequest, OffsetFetchResponse, ProduceResponse,
    TxnOffsetCommitRequest,
};
use krafty_protocol::records::{Compression, RecordBatchBuilder};
use krafty_protocol::wire::StrBytes;
use krafty_server::{Broker, BrokerConfig, BrokerHandle};

const INVALID_TXN_STATE: i16 = 48;
const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const PRODUCER_FENCED: i16 = 90;
const OPERATION_NOT_ATTEMPTED: i16 = 55;

async fn start_with(dir: &std::path::Path, sets: &[(&str, &str)]) -> BrokerHandle {
    let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir);
    c.set("group.initial.rebalance.delay.ms", "0").unwrap();
    for (k, v) in sets {
        c.set(k, v).unwrap();
    }
    Broker::start(c).await.unwrap()
}

async fn init(c: &mut Client, txn: &str, timeout_ms: i32, version: i16) -> (i16, i64, i16) {
    let r = c
        .call(
            version,
            &InitProducerIdRequest {
                transactional_id: Some(StrBytes::from(txn.to_string())),
                transaction_timeout_ms: timeout_ms,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await;
    (r.error_code, r.producer_id, r.producer_epoch)
}

async fn add(
    c: &mut Client,
    txn: &str,
    pid: i64,
    epoch: i16,
    topic: &str,
    parts: &[i32],
    version: i16,
) -> Vec<i16> {
    let r = c
        .call(
            version,
            &AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: StrBytes::from(txn.to_string()),
                v3_and_below_producer_id: pid,
                v3_and_below_producer_epoch: epoch,
                v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                    name: StrBytes::from(topic.to_string()),
                    partitions: parts.to_vec().into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    r.results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
        })
        .collect()
}

fn txn_batch(pid: i64, epoch: i16, seq: i32, n: usize, prefix: &str) -> Bytes {
    let mut b = RecordBatchBuilder::new(Compression::None)
        .producer(pid, epoch, seq)
        .transactional(true);
    for i in 0..n {
        let v = format!("{prefix}-{i}");
        b.append(1_700_000_000_000, Some(b"k".as_slice()), Some(v.as_bytes()))
            .unwrap();
    }
    b.finish().unwrap()
}

async fn produce_txn(
    c: &mut Client,
    txn: Option<&str>,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> i16 {
    let mut req = produce_req(topic, partition, records, -1);
    req.transactional_id = txn.map(|t| StrBytes::from(t.to_string()));
    let r: ProduceResponse = c.call(9, &req).await;
    r.responses[0].partition_responses[0].error_code
}

async fn end(c: &mut Client, txn: &str, pid: i64, epoch: i16, commit: bool, version: i16) -> i16 {
    c.call(
        version,
        &EndTxnRequest {
            transactional_id: StrBytes::from(txn.to_string()),
            producer_id: pid,
            producer_epoch: epoch,
            committed: commit,
            ..Default::default()
        },
    )
    .await
    .error_code
}

async fn fetch(c: &mut Client, topic: &str, p: i32, offset: i64, isolation: i8) -> PartitionData {
    let mut req = fetch_req(topic, p, offset, 0);
    req.isolation_level = isolation;
    let r: FetchResponse = c.call(11, &req).await;
    r.responses[0].partitions[0].clone()
}

async fn latest(c: &mut Client, topic: &str, p: i32, isolation: i8) -> i64 {
    let r: ListOffsetsResponse = c
        .call(
            5,
            &ListOffsetsRequest {
                replica_id: -1,
                isolation_level: isolation,
                topics: vec![ListOffsetsTopic {
                    name: StrBytes::from(topic.to_string()),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: p,
                        timestamp: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

/// What a read_committed consumer keeps: data records of batches not in an aborted
/// transaction (control records dropped), as Kafka's consumers filter.
fn committed_values(pd: &PartitionData) -> Vec<String> {
    use krafty_protocol::records::{BatchIter, DecodeOptions, RawBatch};
    let mut aborted: Vec<(i64, i64)> = pd
        .aborted_transactions
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.producer_id, a.first_offset))
        .collect();
    let opts = DecodeOptions::default();
    let mut out = Vec::new();
    let mut aborting: Vec<i64> = Vec::new();
    for entry in BatchIter::new(pd.records.clone().unwrap_or_default(), opts) {
        let RawBatch::V2(raw) = entry.unwrap() else {
            panic!("v2 only")
        };
        let h = *raw.header();
        // each aborted transaction applies once, from its first offset (as consumers do)
        if let Some(i) = aborted
            .iter()
            .position(|&(pid, first)| pid == h.producer_id && first <= h.base_offset)
        {
            aborted.remove(i);
            aborting.push(h.producer_id);
        }
        if h.is_control() {
            aborting.retain(|p| *p != h.producer_id);
            continue;
        }
        if h.is_transactional() && aborting.contains(&h.producer_id) {
            continue;
        }
        let b = raw.decode(&opts).unwrap();
        for r in &b.records {
            out.push(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string());
        }
    }
    out
}

#[tokio::test]
async fn commit_abort_lso_and_read_committed_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    broker.state().create_topic("tx", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;

    let fc: FindCoordinatorResponse = c
        .call(
            1,
            &FindCoordinatorRequest {
                key: StrBytes::from("t1"),
                key_type: 1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(fc.error_code, 0);
    assert_eq!(fc.port, i32::from(broker.local_addr().port()));

    let (e, pid, epoch) = init(&mut c, "t1", 60_000, 4).await;
    assert_eq!((e, epoch), (0, 0));
    assert!(pid >= 0);

    // a plain record first, then an open transaction
    assert_eq!(produce(&mut c, "tx", 0, batch(2, "plain")).await.0, 0);
    assert_eq!(add(&mut c, "t1", pid, epoch, "tx", &[0], 3).await, vec![0]);
    assert_eq!(
        produce_txn(
            &mut c,
            Some("t1"),
            "tx",
            0,
            txn_batch(pid, epoch, 0, 3, "aborted")
        )
        .await,
        0
    );
    let pd = fetch(&mut c, "tx", 0, 0, 1).await;
    assert_eq!(pd.high_watermark, 5);
    assert_eq!(
        pd.last_stable_offset, 2,
        "LSO stops at the open transaction"
    );
    assert_eq!(committed_values(&pd), vec!["plain-0", "plain-1"]);
    let pd = fetch(&mut c, "tx", 0, 2, 1).await;
    assert!(
        pd.records.as_ref().unwrap().is_empty(),
        "nothing at or past the LSO"
    );
    let unc = fetch(&mut c, "tx", 0, 0, 0).await;
    assert_eq!(unc.last_stable_offset, 2);
    assert_eq!(values(unc.records.as_ref().unwrap()).len(), 5);
    assert_eq!(latest(&mut c, "tx", 0, 1).await, 2);
    assert_eq!(latest(&mut c, "tx", 0, 0).await, 5);

    assert_eq!(end(&mut c, "t1", pid, epoch, false, 3).await, 0);
    // a retried abort of the same transaction succeeds; a commit of it does not
    assert_eq!(end(&mut c, "t1", pid, epoch, false, 3).await, 0);
    assert_eq!(
        end(&mut c, "t1", pid, epoch, true, 3).await,
        INVALID_TXN_STATE
    );

    assert_eq!(add(&mut c, "t1", pid, epoch, "tx", &[0], 3).await, vec![0]);
    assert_eq!(
        produce_txn(
            &mut c,
            Some("t1"),
            "tx",
            0,
            txn_batch(pid, epoch, 3, 2, "committed")
        )
        .await,
        0
    );
    assert_eq!(end(&mut c, "t1", pid, epoch, true, 3).await, 0);

    let pd = fetch(&mut c, "tx", 0, 0, 1).await;
    // plain(2) aborted(3) ABORT(1) committed(2) COMMIT(1)
    assert_eq!(pd.high_watermark, 9);
    assert_eq!(pd.last_stable_offset, 9);
    let aborted = pd.aborted_transactions.clone().unwrap();
    assert_eq!(aborted.len(), 1);
    assert_eq!((aborted[0].producer_id, aborted[0].first_offset), (pid, 2));
    assert_eq!(
        committed_values(&pd),
        vec!["plain-0", "plain-1", "committed-0", "committed-1"]
    );
    // read_uncommitted lists no aborted transactions (null, as Kafka)
    assert!(fetch(&mut c, "tx", 0, 0, 0)
        .await
        .aborted_transactions
        .is_none());
    // fetching past the aborted transaction lists none
    let pd = fetch(&mut c, "tx", 0, 6, 1).await;
    assert!(pd.aborted_transactions.unwrap().is_empty());
    assert_eq!(latest(&mut c, "tx", 0, 1).await, 9);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_second_producer_fences_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    broker.state().create_topic("fz", 2, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let (_, pid, e0) = init(&mut c, "z", 60_000, 4).await;
    assert_eq!(
        add(&mut c, "z", pid, e0, "fz", &[0, 1], 3).await,
        vec![0, 0]
    );
    assert_eq!(
        produce_txn(
            &mut c,
            Some("z"),
            "fz",
            0,
            txn_batch(pid, e0, 0, 2, "zombie")
        )
        .await,
        0
    );
    // the second producer: same id, next epoch; the open transaction is aborted
    let (e, pid2, e1) = init(&mut c, "z", 60_000, 4).await;
    assert_eq!((e, pid2, e1), (0, pid, e0 + 1));
    let pd = fetch(&mut c, "fz", 0, 0, 1).await;
    assert_eq!(pd.last_stable_offset, pd.high_watermark);
    assert!(committed_values(&pd).is_empty());
    assert_eq!(pd.aborted_transactions.unwrap().len(), 1);
    // the zombie's later requests fail: per-version fencing codes (KIP-588)
    assert_eq!(
        produce_txn(&mut c, Some("z"), "fz", 1, txn_batch(pid, e0, 2, 1, "late")).await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        add(&mut c, "z", pid, e0, "fz", &[1], 1).await,
        vec![INVALID_PRODUCER_EPOCH]
    );
    assert_eq!(
        add(&mut c, "z", pid, e0, "fz", &[1], 2).await,
        vec![PRODUCER_FENCED]
    );
    assert_eq!(
        end(&mut c, "z", pid, e0, true, 1).await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(end(&mut c, "z", pid, e0, true, 3).await, PRODUCER_FENCED);
    // KIP-360: re-initializing with a stale epoch is fenced (v4: PRODUCER_FENCED)
    let r = c
        .call(
            4,
            &InitProducerIdRequest {
                transactional_id: Some(StrBytes::from("z")),
                transaction_timeout_ms: 60_000,
                producer_id: pid,
                producer_epoch: e0 - 1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.error_code, PRODUCER_FENCED);
    // the new producer commits; only its record is visible
    assert_eq!(add(&mut c, "z", pid, e1, "fz", &[1], 3).await, vec![0]);
    assert_eq!(
        produce_txn(&mut c, Some("z"), "fz", 1, txn_batch(pid, e1, 0, 1, "new")).await,
        0
    );
    assert_eq!(end(&mut c, "z", pid, e1, true, 3).await, 0);
    let pd = fetch(&mut c, "fz", 1, 0, 1).await;
    assert_eq!(committed_values(&pd), vec!["new-0"]);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn expired_transactions_are_aborted_and_their_producer_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(
        dir.path(),
        &[(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "50",
        )],
    )
    .await;
    broker.state().create_topic("to", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let (e, _, _) = init(&mut c, "slow", 900_001, 4).await;
    assert_eq!(e, INVALID_TRANSACTION_TIMEOUT);
    let (e, _, _) = init(&mut c, "slow", 0, 4).await;
    assert_eq!(e, INVALID_TRANSACTION_TIMEOUT);
    let (e, pid, epoch) = init(&mut c, "slow", 100, 4).await;
    assert_eq!(e, 0);
    assert_eq!(
        add(&mut c, "slow", pid, epoch, "to", &[0], 3).await,
        vec![0]
    );
    assert_eq!(
        produce_txn(
            &mut c,
            Some("slow"),
            "to",
            0,
            txn_batch(pid, epoch, 0, 2, "x")
        )
        .await,
        0
    );
    // wait (bounded) for the expirer: the LSO reaches the high watermark
    let mut stable = false;
    for _ in 0..400 {
        let pd = fetch(&mut c, "to", 0, 0, 1).await;
        if pd.last_stable_offset == pd.high_watermark {
            assert!(
                committed_values(&pd).is_empty(),
                "expired transaction aborted"
            );
            stable = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(stable, "the expired transaction was aborted");
    assert_eq!(
        end(&mut c, "slow", pid, epoch, true, 3).await,
        PRODUCER_FENCED
    );
    broker.shutdown().await.unwrap();
}

/// OffsetFetch v7 with `require_stable`: (offset, error) of `in`-0 in group `g`.
async fn stable_group_offset(c: &mut Client) -> (i64, i16) {
    let req = OffsetFetchRequest {
        group_id: StrBytes::from("g"),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: StrBytes::from("in"),
            partition_indexes: vec![0].into(),
            ..Default::default()
        }]),
        require_stable: true,
        ..Default::default()
    };
    let r: OffsetFetchResponse = c.call(7, &req).await;
    let p = &r.topics[0].partitions[0];
    (p.committed_offset, p.error_code)
}

async fn group_offset(c: &mut Client) -> i64 {
    let req = OffsetFetchRequest {
        group_id: StrBytes::from("g"),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: StrBytes::from("in"),
            partition_indexes: vec![0].into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let r: OffsetFetchResponse = c.call(3, &req).await;
    r.topics[0].partitions[0].committed_offset
}

#[tokio::test]
async fn transactional_offsets_reach_the_group_only_on_commit() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    broker.state().create_topic("in", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let (_, pid, epoch) = init(&mut c, "eos", 60_000, 4).await;
    let commit_offsets = |offset: i64| TxnOffsetCommitRequest {
        transactional_id: StrBytes::from("eos"),
        group_id: StrBytes::from("g"),
        producer_id: pid,
        producer_epoch: epoch,
        generation_id: -1,
        member_id: StrBytes::from(""),
        topics: vec![TxnOffsetCommitRequestTopic {
            name: StrBytes::from("in"),
            partitions: vec![TxnOffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // without AddOffsetsToTxn first
    let r = c.call(3, &commit_offsets(5)).await;
    assert_eq!(r.topics[0].partitions[0].error_code, INVALID_TXN_STATE);
    let add_offsets = AddOffsetsToTxnRequest {
        transactional_id: StrBytes::from("eos"),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: StrBytes::from("g"),
        ..Default::default()
    };
    assert_eq!(c.call(3, &add_offsets).await.error_code, 0);
    let r = c.call(3, &commit_offsets(5)).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(group_offset(&mut c).await, -1, "staged, not committed");
    assert_eq!(end(&mut c, "eos", pid, epoch, false, 3).await, 0);
    assert_eq!(
        group_offset(&mut c).await,
        -1,
        "aborted offsets are dropped"
    );
    assert_eq!(c.call(3, &add_offsets).await.error_code, 0);
    let r = c.call(3, &commit_offsets(7)).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(
        stable_group_offset(&mut c).await,
        (-1, 88),
        "UNSTABLE_OFFSET_COMMIT while a transaction holds an offset"
    );
    assert_eq!(end(&mut c, "eos", pid, epoch, true, 3).await, 0);
    assert_eq!(group_offset(&mut c).await, 7);
    assert_eq!(stable_group_offset(&mut c).await, (7, 0));
    broker.shutdown().await.unwrap();

    // the committed offset is in __consumer_offsets: it survives a restart
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    assert_eq!(group_offset(&mut c).await, 7);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_replays_transaction_state() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    broker.state().create_topic("rs", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let (_, pid, epoch) = init(&mut c, "r", 60_000, 4).await;
    assert_eq!(add(&mut c, "r", pid, epoch, "rs", &[0], 3).await, vec![0]);
    assert_eq!(
        produce_txn(
            &mut c,
            Some("r"),
            "rs",
            0,
            txn_batch(pid, epoch, 0, 2, "ab")
        )
        .await,
        0
    );
    assert_eq!(end(&mut c, "r", pid, epoch, false, 3).await, 0);
    assert_eq!(add(&mut c, "r", pid, epoch, "rs", &[0], 3).await, vec![0]);
    assert_eq!(
        produce_txn(
            &mut c,
            Some("r"),
            "rs",
            0,
            txn_batch(pid, epoch, 2, 1, "open")
        )
        .await,
        0
    );
    drop(c);
    broker.shutdown().await.unwrap();

    // the coordinator comes back knowing the open transaction: its producer finishes it
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    let pd = fetch(&mut c, "rs", 0, 0, 1).await;
    assert_eq!(
        pd.last_stable_offset, 3,
        "the open transaction is still open"
    );
    assert_eq!(
        pd.aborted_transactions.clone().unwrap().len(),
        1,
        "rebuilt from the log"
    );
    assert_eq!(end(&mut c, "r", pid, epoch, true, 3).await, 0);
    let pd = fetch(&mut c, "rs", 0, 0, 1).await;
    assert_eq!(pd.last_stable_offset, pd.high_watermark);
    assert_eq!(committed_values(&pd), vec!["open-0"]);
    // another open transaction, then its coordinator state is lost with the directory
    assert_eq!(add(&mut c, "r", pid, epoch, "rs", &[0], 3).await, vec![0]);
    assert_eq!(
        produce_txn(
            &mut c,
            Some("r"),
            "rs",
            0,
            txn_batch(pid, epoch, 3, 1, "lost")
        )
        .await,
        0
    );
    drop(c);
    broker.shutdown().await.unwrap();
    std::fs::remove_dir_all(dir.path().join("__transaction_state-0")).unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    let pd = fetch(&mut c, "rs", 0, 0, 1).await;
    assert_eq!(
        pd.last_stable_offset, pd.high_watermark,
        "an open transaction no coordinator knows is aborted at start"
    );
    assert_eq!(committed_values(&pd), vec!["open-0"]);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_commit_interrupted_before_its_markers_completes_at_start() {
    use krafty_server::txn::log::record;
    use krafty_server::txn::{TxnMetadata, TxnState};
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    broker.state().create_topic("pc", 2, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let (_, pid, epoch) = init(&mut c, "p", 60_000, 4).await;
    assert_eq!(
        add(&mut c, "p", pid, epoch, "pc", &[0, 1], 3).await,
        vec![0, 0]
    );
    for p in 0..2 {
        assert_eq!(
            produce_txn(
                &mut c,
                Some("p"),
                "pc",
                p,
                txn_batch(pid, epoch, 0, 1, &format!("v{p}"))
            )
            .await,
            0
        );
    }
    // the PrepareCommit record is stored, then the broker stops before any marker
    let mut m = TxnMetadata::new("p", pid, 60_000, 1);
    m.producer_epoch = epoch;
    m.state = TxnState::PrepareCommit;
    m.partitions.insert(("pc".into(), 0));
    m.partitions.insert(("pc".into(), 1));
    let (k, v) = record(&m).unwrap();
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.append(1, Some(k.as_ref()), Some(v.as_ref())).unwrap();
    broker
        .state()
        .partition("__transaction_state", 0)
        .unwrap()
        .append(vec![b.finish().unwrap().to_vec()])
        .unwrap();
    drop(c);
    broker.shutdown().await.unwrap();

    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    for p in 0..2 {
        let pd = fetch(&mut c, "pc", p, 0, 1).await;
        assert_eq!(pd.last_stable_offset, pd.high_watermark);
        assert_eq!(committed_values(&pd), vec![format!("v{p}-0")]);
    }
    assert_eq!(
        broker.state().txns.describe("p").unwrap().state,
        TxnState::CompleteCommit
    );
    // the producer's retried EndTxn(commit) succeeds
    assert_eq!(end(&mut c, "p", pid, epoch, true, 3).await, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn hostile_and_out_of_order_requests_get_error_codes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    broker.state().create_topic("h", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    // unknown transactional id
    assert_eq!(
        end(&mut c, "nobody", 1, 0, true, 3).await,
        INVALID_PRODUCER_ID_MAPPING
    );
    assert_eq!(
        add(&mut c, "nobody", 1, 0, "h", &[0], 3).await,
        vec![INVALID_PRODUCER_ID_MAPPING]
    );
    let (_, pid, epoch) = init(&mut c, "h1", 60_000, 4).await;
    // EndTxn with nothing begun
    assert_eq!(
        end(&mut c, "h1", pid, epoch, true, 3).await,
        INVALID_TXN_STATE
    );
    // wrong producer id
    assert_eq!(
        end(&mut c, "h1", pid + 1, epoch, true, 3).await,
        INVALID_PRODUCER_ID_MAPPING
    );
    // an unknown partition fails the whole request: the others are not attempted
    let r = c
        .call(
            3,
            &AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: StrBytes::from("h1"),
                v3_and_below_producer_id: pid,
                v3_and_below_producer_epoch: epoch,
                v3_and_below_topics: vec![
                    AddPartitionsToTxnTopic {
                        name: StrBytes::from("h"),
                        partitions: vec![0, 7, -1].into(),
                        ..Default::default()
                    },
                    AddPartitionsToTxnTopic {
                        name: StrBytes::from("no-such-topic"),
                        partitions: vec![0].into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        )
        .await;
    let codes: Vec<Vec<i16>> = r
        .results_by_topic_v3_and_below
        .iter()
        .map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
                .collect()
        })
        .collect();
    assert_eq!(codes, vec![vec![OPERATION_NOT_ATTEMPTED, 3, 3], vec![3]]);
    // transactional data to a partition not in the transaction; without a transactional id
    assert_eq!(
        produce_txn(&mut c, Some("h1"), "h", 0, txn_batch(pid, epoch, 0, 1, "x")).await,
        INVALID_TXN_STATE
    );
    assert_eq!(
        produce_txn(&mut c, None, "h", 0, txn_batch(pid, epoch, 0, 1, "x")).await,
        53
    );
    // a forged epoch from the future
    assert_eq!(add(&mut c, "h1", pid, epoch, "h", &[0], 3).await, vec![0]);
    assert_eq!(
        produce_txn(
            &mut c,
            Some("h1"),
            "h",
            0,
            txn_batch(pid, epoch + 5, 0, 1, "x")
        )
        .await,
        INVALID_PRODUCER_EPOCH
    );
    // FindCoordinator with an unknown key type
    let fc: FindCoordinatorResponse = c
        .call(
            1,
            &FindCoordinatorRequest {
                key: StrBytes::from("h1"),
                key_type: 9,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(fc.error_code, 42);
    // nothing was stored by any of it, and the broker still serves
    let pd = fetch(&mut c, "h", 0, 0, 0).await;
    assert_eq!(pd.high_watermark, 0);
    assert_eq!(end(&mut c, "h1", pid, epoch, false, 3).await, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn describe_and_list_transactions_and_producers() {
    use krafty_protocol::generated::describe_producers_request::TopicRequest;
    use krafty_protocol::generated::{
        DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest,
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    broker.state().create_topic("d", 2, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let (_, pid, epoch) = init(&mut c, "d1", 30_000, 4).await;
    let (_, pid2, _) = init(&mut c, "d2", 30_000, 4).await;
    assert_eq!(
        add(&mut c, "d1", pid, epoch, "d", &[1, 0], 3).await,
        vec![0, 0]
    );
    assert_eq!(
        produce_txn(&mut c, Some("d1"), "d", 1, txn_batch(pid, epoch, 0, 3, "x")).await,
        0
    );
    let r = c
        .call(
            0,
            &DescribeTransactionsRequest {
                transactional_ids: vec![StrBytes::from("d1"), StrBytes::from("nope")],
                ..Default::default()
            },
        )
        .await;
    let d = &r.transaction_states[0];
    assert_eq!(d.error_code, 0);
    assert_eq!(d.transaction_state.as_ref(), "Ongoing");
    assert_eq!(
        (d.producer_id, d.producer_epoch, d.transaction_timeout_ms),
        (pid, epoch, 30_000)
    );
    assert!(d.transaction_start_time_ms > 0);
    assert_eq!(d.topics.len(), 1);
    assert_eq!(
        d.topics[0].partitions.iter().copied().collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(r.transaction_states[1].error_code, 105);

    let list = |filters: Vec<&str>| ListTransactionsRequest {
        state_filters: filters
            .into_iter()
            .map(|f| StrBytes::from(f.to_string()))
            .collect(),
        duration_filter: -1,
        ..Default::default()
    };
    let r = c.call(1, &list(vec![])).await;
    let mut all: Vec<(String, i64, String)> = r
        .transaction_states
        .iter()
        .map(|t| {
            (
                t.transactional_id.to_string(),
                t.producer_id,
                t.transaction_state.to_string(),
            )
        })
        .collect();
    all.sort();
    assert_eq!(
        all,
        vec![
            ("d1".into(), pid, "Ongoing".into()),
            ("d2".into(), pid2, "Empty".into())
        ]
    );
    let r = c.call(1, &list(vec!["Ongoing", "Bogus"])).await;
    assert_eq!(r.transaction_states.len(), 1);
    assert_eq!(r.unknown_state_filters.len(), 1);

    let r = c
        .call(
            0,
            &DescribeProducersRequest {
                topics: vec![TopicRequest {
                    name: StrBytes::from("d"),
                    partition_indexes: vec![1, 9].into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert_eq!(p.active_producers.len(), 1);
    let a = &p.active_producers[0];
    assert_eq!(
        (a.producer_id, a.last_sequence, a.current_txn_start_offset),
        (pid, 2, 0)
    );
    assert_eq!(r.topics[0].partitions[1].error_code, 3);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn txnindex_files_in_kafka_format_rebuilt_when_missing_or_torn() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    broker.state().create_topic("ix", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let (_, pid, epoch) = init(&mut c, "ix", 60_000, 4).await;
    let mut seq = 0;
    for (i, commit) in [false, true, false].into_iter().enumerate() {
        assert_eq!(add(&mut c, "ix", pid, epoch, "ix", &[0], 3).await, vec![0]);
        let n = i + 1;
        assert_eq!(
            produce_txn(
                &mut c,
                Some("ix"),
                "ix",
                0,
                txn_batch(pid, epoch, seq, n, "v")
            )
            .await,
            0
        );
        seq += n as i32;
        assert_eq!(end(&mut c, "ix", pid, epoch, commit, 3).await, 0);
    }
    drop(c);
    broker.shutdown().await.unwrap();
    // abort 1: records 0, marker 1; commit: 2-3, marker 4; abort 2: 5-7, marker 8
    let path = dir.path().join("ix-0/00000000000000000000.txnindex");
    let bytes = std::fs::read(&path).unwrap();
    let mut want = Vec::new();
    for (first, last, lso) in [(0i64, 1i64, 2i64), (5, 8, 9)] {
        want.extend_from_slice(&0i16.to_be_bytes());
        want.extend_from_slice(&pid.to_be_bytes());
        want.extend_from_slice(&first.to_be_bytes());
        want.extend_from_slice(&last.to_be_bytes());
        want.extend_from_slice(&lso.to_be_bytes());
    }
    assert_eq!(bytes, want, "Kafka's 34-byte entries");

    for damage in ["missing", "torn"] {
        match damage {
            "missing" => std::fs::remove_file(&path).unwrap(),
            _ => std::fs::write(&path, &want[..50]).unwrap(),
        }
        let broker = start(dir.path()).await;
        assert_eq!(std::fs::read(&path).unwrap(), want, "rebuilt when {damage}");
        let mut c = Client::connect(broker.local_addr()).await;
        let pd = fetch(&mut c, "ix", 0, 0, 1).await;
        assert_eq!(pd.aborted_transactions.clone().unwrap().len(), 2);
        assert_eq!(committed_values(&pd), vec!["v-0", "v-1"]);
        broker.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn retention_drops_the_segments_aborted_transaction_index() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(
        dir.path(),
        &[
            ("log.segment.bytes", "1"),
            ("log.retention.check.interval.ms", "50"),
        ],
    )
    .await;
    broker.state().create_topic("rt", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let (_, pid, epoch) = init(&mut c, "rt", 60_000, 4).await;
    assert_eq!(add(&mut c, "rt", pid, epoch, "rt", &[0], 3).await, vec![0]);
    assert_eq!(
        produce_txn(
            &mut c,
            Some("rt"),
            "rt",
            0,
            txn_batch(pid, epoch, 0, 1, "a")
        )
        .await,
        0
    );
    assert_eq!(end(&mut c, "rt", pid, epoch, false, 3).await, 0);
    assert_eq!(produce(&mut c, "rt", 0, batch(1, "after")).await.0, 0);
    let seg_dir = dir.path().join("rt-0");
    let txnindexes = || {
        std::fs::read_dir(&seg_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".txnindex")
            })
            .count()
    };
    assert_eq!(txnindexes(), 1, "the marker's segment has an index");
    // trim below the last segment: the marker's segment and its index go
    let r = c
        .call(
            2,
            &krafty_protocol::generated::DeleteRecordsRequest {
                topics: vec![
                    krafty_protocol::generated::delete_records_request::DeleteRecordsTopic {
                        name: StrBytes::from("rt"),
                        partitions: vec![
                        krafty_protocol::generated::delete_records_request::DeleteRecordsPartition {
                            partition_index: 0,
                            offset: 2,
                            ..Default::default()
                        },
                    ],
                        ..Default::default()
                    },
                ],
                timeout_ms: 1000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(txnindexes(), 0, "deleted with its segment");
    let pd = fetch(&mut c, "rt", 0, 2, 1).await;
    assert!(pd.aborted_transactions.unwrap().is_empty());
    broker.shutdown().await.unwrap();
}

/// The error codes of a sequence of transactional requests, out of order and hostile ones
/// included, against the broker at `addr` (retrying the answers Kafka gives while its
/// coordinator loads or completes: COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
/// CONCURRENT_TRANSACTIONS, UNKNOWN_TOPIC_OR_PARTITION right after a create).
async fn txn_error_codes(addr: std::net::SocketAddr, run: &str) -> Vec<(&'static str, i16)> {
    use krafty_protocol::generated::create_topics_request::CreatableTopic;
    use krafty_protocol::generated::CreateTopicsRequest;
    let mut c = Client::connect(addr).await;
    let topic = format!("txcmp-{run}");
    let txn = format!("txcmp-{run}");
    let r = c
        .call(
            4,
            &CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: StrBytes::from(topic.clone()),
                    num_partitions: 2,
                    replication_factor: 1,
                    ..Default::default()
                }],
                timeout_ms: 10_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.topics[0].error_code, 0);
    // the partitions have a leader (a real broker needs a moment after the create)
    for p in 0..2 {
        for _ in 0..100 {
            if produce(&mut c, &topic, p, batch(1, "ready")).await.0 == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let mut out = Vec::new();
    let retriable = |e: i16| matches!(e, 15 | 16 | 51 | 14);
    let mut fc = 15;
    for _ in 0..100 {
        let r: FindCoordinatorResponse = c
            .call(
                1,
                &FindCoordinatorRequest {
                    key: StrBytes::from(txn.clone()),
                    key_type: 1,
                    ..Default::default()
                },
            )
            .await;
        fc = r.error_code;
        if !retriable(fc) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    out.push(("find coordinator", fc));
    out.push(("init timeout 0", init(&mut c, &txn, 0, 4).await.0));
    out.push((
        "init timeout 900001",
        init(&mut c, &txn, 900_001, 4).await.0,
    ));
    let mut r = (15, -1, -1);
    for _ in 0..100 {
        r = init(&mut c, &txn, 60_000, 4).await;
        if !retriable(r.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    out.push(("init", r.0));
    let (pid, epoch) = (r.1, r.2);
    out.push((
        "end with nothing begun",
        end(&mut c, &txn, pid, epoch, true, 3).await,
    ));
    out.push((
        "end wrong producer id",
        end(&mut c, &txn, pid + 1, epoch, true, 3).await,
    ));
    out.push((
        "end unknown id",
        end(&mut c, &format!("{txn}-x"), pid, epoch, true, 3).await,
    ));
    let r = c
        .call(
            3,
            &AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: StrBytes::from(txn.clone()),
                v3_and_below_producer_id: pid,
                v3_and_below_producer_epoch: epoch,
                v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                    name: StrBytes::from(topic.clone()),
                    partitions: vec![0, 7].into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    // Kafka answers partitions in no set order
    let mut parts: Vec<(i32, i16)> = r.results_by_topic_v3_and_below[0]
        .results_by_partition
        .iter()
        .map(|p| (p.partition_index, p.partition_error_code))
        .collect();
    parts.sort_unstable();
    for (p, e) in parts {
        out.push((
            if p == 0 {
                "add with an unknown partition: the known one"
            } else {
                "add with an unknown partition: the unknown one"
            },
            e,
        ));
    }
    out.push((
        "transactional produce to a partition not added",
        produce_txn(
            &mut c,
            Some(&txn),
            &topic,
            0,
            txn_batch(pid, epoch, 0, 1, "x"),
        )
        .await,
    ));
    let mut a = vec![3];
    for _ in 0..100 {
        a = add(&mut c, &txn, pid, epoch, &topic, &[0], 3).await;
        if !a.iter().any(|e| retriable(*e) || *e == 3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    out.push(("add", a[0]));
    out.push((
        "transactional produce",
        produce_txn(
            &mut c,
            Some(&txn),
            &topic,
            0,
            txn_batch(pid, epoch, 0, 1, "x"),
        )
        .await,
    ));
    // a second producer fences the first
    let mut r = (15, -1, -1);
    for _ in 0..100 {
        r = init(&mut c, &txn, 60_000, 4).await;
        if !retriable(r.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    out.push(("second init", r.0));
    out.push((
        "zombie produce",
        produce_txn(
            &mut c,
            Some(&txn),
            &topic,
            0,
            txn_batch(pid, epoch, 1, 1, "z"),
        )
        .await,
    ));
    out.push((
        "zombie add v1",
        add(&mut c, &txn, pid, epoch, &topic, &[1], 1).await[0],
    ));
    out.push((
        "zombie add v3",
        add(&mut c, &txn, pid, epoch, &topic, &[1], 3).await[0],
    ));
    out.push((
        "zombie end v1",
        end(&mut c, &txn, pid, epoch, true, 1).await,
    ));
    out.push((
        "zombie end v3",
        end(&mut c, &txn, pid, epoch, true, 3).await,
    ));
    out
}

#[tokio::test]
async fn error_codes_match_real_kafka() {
    let clusters = match common::peer::real_kafka_clusters() {
        Ok(c) => c,
        Err(reason) => return common::peer::peer_missing(&reason),
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let ours = txn_error_codes(broker.local_addr(), "mini").await;
    eprintln!("kafka-server-mini: {ours:?}");
    broker.shutdown().await.unwrap();
    // The sequence talks to one node as coordinator and partition leader: single-node
    // clusters only (a node of a 3-node cluster answers NOT_COORDINATOR / NOT_LEADER).
    let single: Vec<_> = clusters
        .into_iter()
        .filter(|(_, bootstrap)| !bootstrap.contains(','))
        .collect();
    assert!(
        !single.is_empty(),
        "no single-node cluster in REAL_KAFKA_CLUSTERS"
    );
    for (name, bootstrap) in single {
        let addr = tokio::net::lookup_host(bootstrap.split(',').next().unwrap())
            .await
            .unwrap()
            .next()
            .unwrap();
        let run = format!("{}", std::process::id());
        let theirs = txn_error_codes(addr, &run).await;
        let diff: Vec<_> = ours
            .iter()
            .zip(&theirs)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("{}: kafka-server-mini {} / {name} {}", a.0, a.1, b.1))
            .collect();
        assert!(diff.is_empty(), "{diff:#?}");
        assert_eq!(ours.len(), theirs.len());
    }
}

#[tokio::test]
async fn transaction_apis_are_authorized() {
    use krafty_protocol::generated::{DescribeTransactionsRequest, ListTransactionsRequest};
    use krafty_server::authorizer::{
        AclBinding, AclOperation, PatternType, Permission, ResourceType,
    };
    let allow = |kind: ResourceType, name: &str, op: AclOperation| AclBinding {
        resource_type: kind,
        resource_name: name.into(),
        pattern_type: PatternType::Literal,
        principal: "User:ANONYMOUS".into(),
        host: "*".into(),
        operation: op,
        permission: Permission::Allow,
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(
        dir.path(),
        &[(
            "authorizer.class.name",
            "kafka.security.authorizer.AclAuthorizer",
        )],
    )
    .await;
    broker.state().create_topic("t", 1, false).unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    const TXN_AUTHZ: i16 = 53;
    assert_eq!(init(&mut c, "tx", 60_000, 4).await.0, TXN_AUTHZ);
    assert_eq!(add(&mut c, "tx", 1, 0, "t", &[0], 3).await, vec![TXN_AUTHZ]);
    assert_eq!(end(&mut c, "tx", 1, 0, true, 3).await, TXN_AUTHZ);
    let add_offsets = |pid: i64, epoch: i16| AddOffsetsToTxnRequest {
        transactional_id: StrBytes::from("tx"),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: StrBytes::from("g"),
        ..Default::default()
    };
    assert_eq!(c.call(3, &add_offsets(1, 0)).await.error_code, TXN_AUTHZ);
    let describe = DescribeTransactionsRequest {
        transactional_ids: vec![StrBytes::from("tx")],
        ..Default::default()
    };
    assert_eq!(
        c.call(0, &describe).await.transaction_states[0].error_code,
        TXN_AUTHZ
    );

    broker
        .state()
        .authorizer
        .store
        .add(&[
            allow(ResourceType::TransactionalId, "tx", AclOperation::Write),
            allow(ResourceType::Topic, "t", AclOperation::Write),
        ])
        .unwrap();
    let (e, pid, epoch) = init(&mut c, "tx", 60_000, 4).await;
    assert_eq!(e, 0);
    assert_eq!(add(&mut c, "tx", pid, epoch, "t", &[0], 3).await, vec![0]);
    // no READ on the group yet
    assert_eq!(c.call(3, &add_offsets(pid, epoch)).await.error_code, 30);
    // WRITE implies DESCRIBE on the transactional id: described now; listed too
    assert_eq!(
        c.call(0, &describe).await.transaction_states[0].error_code,
        0
    );
    let listed = c
        .call(
            1,
            &ListTransactionsRequest {
                duration_filter: -1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(listed.transaction_states.len(), 1);
    assert_eq!(end(&mut c, "tx", pid, epoch, false, 3).await, 0);
    broker.shutdown().await.unwrap();
}
