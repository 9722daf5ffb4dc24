//! In-process integration tests: the broker on 127.0.0.1:0, raw protocol through the codec.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use krafty_protocol::generated::create_topics_request::CreatableTopic;
use krafty_protocol::generated::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use krafty_protocol::generated::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use krafty_protocol::generated::metadata_request::MetadataRequestTopic;
use krafty_protocol::generated::{
    AlterConfigsRequest, AlterConfigsResponse, ApiVersionsRequest, CreateTopicsRequest,
    CreateTopicsResponse, DeleteRecordsRequest, DeleteRecordsResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, FetchResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, InitProducerIdRequest, ListOffsetsRequest, MetadataRequest,
    OffsetDeleteRequest, OffsetDeleteResponse, ProduceResponse,
};
use krafty_protocol::records::{Compression, RecordBatchBuilder};
use krafty_protocol::wire::StrBytes;
use tokio::io::AsyncWriteExt;

async fn create(c: &mut Client, topic: &str, partitions: i32) {
    let r: CreateTopicsResponse = c
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

fn list_offsets(topic: &str, ts: i64) -> ListOffsetsRequest {
    ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: StrBytes::from(topic.to_string()),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: ts,
                current_leader_epoch: -1,
                max_num_offsets: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn produce_fetch_list_offsets_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;

    // Metadata v12 auto-creates; v4 without auto-create reports error 3
    let m = c
        .call(
            12,
            &MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(StrBytes::from("auto")),
                    ..Default::default()
                }]),
                allow_auto_topic_creation: true,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(m.topics[0].error_code, 0);
    assert_eq!(m.topics[0].partitions.len(), 1);
    assert_eq!(m.brokers[0].port, i32::from(broker.local_addr().port()));
    let m = c
        .call(
            4,
            &MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(StrBytes::from("missing")),
                    ..Default::default()
                }]),
                allow_auto_topic_creation: false,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(m.topics[0].error_code, 3);

    create(&mut c, "t", 2).await;
    assert_eq!(produce(&mut c, "t", 0, batch(5, "a")).await, (0, 0));
    assert_eq!(produce(&mut c, "t", 0, batch(3, "b")).await, (0, 5));
    assert_eq!(produce(&mut c, "nope", 0, batch(1, "x")).await.0, 3);
    assert_eq!(produce(&mut c, "t", 7, batch(1, "x")).await.0, 3);
    // a corrupted batch (flipped byte under the CRC) is rejected
    let mut bad = batch(2, "c").to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(produce(&mut c, "t", 0, Bytes::from(bad)).await.0, 2);

    // fetch: v12, v4, and v2 (down-converted to magic 1), and v16 by topic id
    for v in [12, 4, 2] {
        let got = fetch_all(&mut c, "t", 0, v).await;
        let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (0..8).collect::<Vec<_>>(), "fetch v{v}");
        assert_eq!(got[5].1, "b-0");
    }
    let id = broker.state().topic("t").unwrap().id;
    let mut req = fetch_req("", 0, 0, 0);
    req.topics[0].topic_id = id;
    let r: FetchResponse = c.call(16, &req).await;
    assert_eq!(
        values(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        8
    );
    // out of range
    let r: FetchResponse = c.call(12, &fetch_req("t", 0, 99, 0)).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 1);

    // list offsets: latest, earliest, by timestamp, max timestamp, v0
    let lo = |r: krafty_protocol::generated::ListOffsetsResponse| r.topics[0].partitions[0].offset;
    assert_eq!(lo(c.call(7, &list_offsets("t", -1)).await), 8);
    assert_eq!(lo(c.call(7, &list_offsets("t", -2)).await), 0);
    assert_eq!(
        lo(c.call(7, &list_offsets("t", 1_700_000_000_002)).await),
        2
    );
    assert_eq!(
        lo(c.call(7, &list_offsets("t", 1_800_000_000_000)).await),
        -1
    );
    assert_eq!(lo(c.call(8, &list_offsets("t", -3)).await), 4);
    let v0 = c.call(0, &list_offsets("t", -1)).await;
    assert_eq!(
        v0.topics[0].partitions[0].old_style_offsets.to_vec(),
        vec![8]
    );

    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn data_survives_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "keep", 1).await;
    for i in 0..10 {
        produce(&mut c, "keep", 0, batch(10, &format!("r{i}"))).await;
    }
    broker.shutdown().await.unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    assert_eq!(fetch_all(&mut c, "keep", 0, 12).await.len(), 100);
    assert_eq!(produce(&mut c, "keep", 0, batch(1, "z")).await, (0, 100));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn pipelined_responses_keep_request_order() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "p", 1).await;
    // a long-polling fetch (nothing to read, waits 300 ms) followed by quick requests
    let mut wire = Vec::new();
    let mut want = Vec::new();
    let (corr, b) = c.encode(12, &fetch_req("p", 0, 0, 300));
    wire.extend_from_slice(&b);
    want.push(corr);
    for _ in 0..5 {
        let (corr, b) = c.encode(3, &ApiVersionsRequest::default());
        wire.extend_from_slice(&b);
        want.push(corr);
    }
    let (corr, b) = c.encode(0, &produce_req("p", 0, batch(1, "x"), 0));
    wire.extend_from_slice(&b); // acks=0: no response
    let _ = corr;
    let (corr, b) = c.encode(3, &ApiVersionsRequest::default());
    wire.extend_from_slice(&b);
    want.push(corr);
    c.stream.write_all(&wire).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..want.len() {
        let f = c.read_frame().await.unwrap();
        got.push(i32::from_be_bytes([f[0], f[1], f[2], f[3]]));
    }
    assert_eq!(got, want);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn long_poll_fetch_wakes_on_produce() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "lp", 1).await;
    let addr = broker.local_addr();
    let producer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut p = Client::connect(addr).await;
        produce(&mut p, "lp", 0, batch(2, "late")).await
    });
    let t0 = Instant::now();
    let r: FetchResponse = c.call(12, &fetch_req("lp", 0, 0, 10_000)).await;
    let waited = t0.elapsed();
    assert_eq!(
        values(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        2
    );
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(producer.await.unwrap(), (0, 0));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_frame_and_garbage_close_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let addr = broker.local_addr();
    // 200 MB size prefix: closed without waiting for the body
    let mut big = Client::connect(addr).await;
    big.stream
        .write_all(&(200 * 1024 * 1024i32).to_be_bytes())
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), big.read_frame()).await;
    assert!(matches!(r, Ok(None)), "connection closed");
    // garbage frames: negative size, unknown api key, truncated body, random bytes
    let garbage: Vec<Vec<u8>> = vec![
        vec![0xff, 0xff, 0xff, 0xfe],
        vec![0, 0, 0, 8, 0x7f, 0, 0, 0, 0, 0, 0, 1],
        vec![0, 0, 0, 10, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff],
        vec![0, 0, 0, 3, 1, 2, 3],
        vec![
            0, 0, 0, 40, 0, 0, 0, 9, 0, 0, 0, 1, 0, 2, b'x', b'y', 0xde, 0xad, 0xbe, 0xef, 1, 2, 3,
            4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        ],
    ];
    for g in garbage {
        let mut bad = Client::connect(addr).await;
        bad.stream.write_all(&g).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(5), bad.read_frame()).await;
        assert!(matches!(r, Ok(None)), "closed after garbage {g:?}");
    }
    // the broker still serves
    let mut ok = Client::connect(addr).await;
    let r = ok.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(r.error_code, 0);
    broker.shutdown().await.unwrap();
}

fn idempotent_batch(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(Compression::None).producer(pid, epoch, seq);
    for i in 0..n {
        b.append(1, None, Some(format!("v{i}").as_bytes())).unwrap();
    }
    b.finish().unwrap()
}

#[tokio::test]
async fn idempotent_producer_sequence_checks() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "idem", 1).await;
    let init = c
        .call(
            4,
            &InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: 60_000,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id, init.producer_epoch);
    assert_eq!(
        produce(&mut c, "idem", 0, idempotent_batch(pid, epoch, 0, 3)).await,
        (0, 0)
    );
    assert_eq!(
        produce(&mut c, "idem", 0, idempotent_batch(pid, epoch, 3, 2)).await,
        (0, 3)
    );
    // duplicate: original offset, nothing appended
    assert_eq!(
        produce(&mut c, "idem", 0, idempotent_batch(pid, epoch, 0, 3)).await,
        (0, 0)
    );
    // gap
    assert_eq!(
        produce(&mut c, "idem", 0, idempotent_batch(pid, epoch, 9, 1))
            .await
            .0,
        45
    );
    // epoch bump fences the old epoch
    let bumped = c
        .call(
            4,
            &InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: 60_000,
                producer_id: pid,
                producer_epoch: epoch,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        (bumped.producer_id, bumped.producer_epoch),
        (pid, epoch + 1)
    );
    assert_eq!(
        produce(&mut c, "idem", 0, idempotent_batch(pid, epoch + 1, 0, 1)).await,
        (0, 5)
    );
    assert_eq!(
        produce(&mut c, "idem", 0, idempotent_batch(pid, epoch, 5, 1))
            .await
            .0,
        47
    );
    assert_eq!(fetch_all(&mut c, "idem", 0, 12).await.len(), 6);
    // acks outside 0/1/-1
    let r: ProduceResponse = c.call(9, &produce_req("idem", 0, batch(1, "a"), 2)).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 21);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn committed_offsets_survive_restart_via_consumer_offsets() {
    use krafty_protocol::generated::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use krafty_protocol::generated::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    use krafty_protocol::generated::{OffsetCommitRequest, OffsetFetchRequest};

    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "ot", 2).await;
    let commit = OffsetCommitRequest {
        group_id: StrBytes::from("grp"),
        generation_id_or_member_epoch: -1,
        member_id: StrBytes::from(""),
        topics: vec![OffsetCommitRequestTopic {
            name: StrBytes::from("ot"),
            partitions: vec![
                OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 17,
                    committed_leader_epoch: -1,
                    committed_metadata: Some(StrBytes::from("meta")),
                    ..Default::default()
                },
                OffsetCommitRequestPartition {
                    partition_index: 1,
                    committed_offset: 4,
                    committed_leader_epoch: -1,
                    committed_metadata: None,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = c.call(8, &commit).await;
    assert!(r.topics[0].partitions.iter().all(|p| p.error_code == 0));
    // producing to the internal topic is refused
    assert_eq!(
        produce(&mut c, "__consumer_offsets", 0, batch(1, "x"))
            .await
            .0,
        17
    );
    broker.shutdown().await.unwrap();

    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    let v8 = c
        .call(
            8,
            &OffsetFetchRequest {
                groups: vec![OffsetFetchRequestGroup {
                    group_id: StrBytes::from("grp"),
                    topics: Some(vec![OffsetFetchRequestTopics {
                        name: StrBytes::from("ot"),
                        partition_indexes: vec![0, 1].into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    let parts = &v8.groups[0].topics[0].partitions;
    assert_eq!(
        (parts[0].committed_offset, parts[1].committed_offset),
        (17, 4)
    );
    assert_eq!(parts[0].metadata.as_deref(), Some("meta"));
    let v1 = c
        .call(
            1,
            &OffsetFetchRequest {
                group_id: StrBytes::from("grp"),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: StrBytes::from("ot"),
                    partition_indexes: vec![1, 5].into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await;
    let parts = &v1.topics[0].partitions;
    assert_eq!(
        (parts[0].committed_offset, parts[1].committed_offset),
        (4, -1)
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn admin_apis_configs_partitions_delete() {
    use krafty_protocol::generated::create_partitions_request::CreatePartitionsTopic;
    use krafty_protocol::generated::describe_configs_request::DescribeConfigsResource;
    use krafty_protocol::generated::{
        CreatePartitionsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    };

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = krafty_server::BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    cfg.set("log.retention.ms", "3600000").unwrap();
    let broker = krafty_server::Broker::start(cfg).await.unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "adm", 1).await;
    let r = c
        .call(
            4,
            &DescribeConfigsRequest {
                resources: vec![
                    DescribeConfigsResource {
                        resource_type: 2,
                        resource_name: StrBytes::from("adm"),
                        configuration_keys: Some(vec![StrBytes::from("retention.ms")]),
                        ..Default::default()
                    },
                    DescribeConfigsResource {
                        resource_type: 2,
                        resource_name: StrBytes::from("none"),
                        configuration_keys: None,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.results[0].configs.len(), 1);
    assert_eq!(r.results[0].configs[0].value.as_deref(), Some("3600000"));
    assert_eq!(r.results[0].configs[0].config_source, 4);
    assert_eq!(r.results[1].error_code, 3);
    // validate-only does not change anything; then grow to 3
    for (validate_only, want) in [(true, 1), (false, 3)] {
        let r = c
            .call(
                3,
                &CreatePartitionsRequest {
                    topics: vec![CreatePartitionsTopic {
                        name: StrBytes::from("adm"),
                        count: 3,
                        assignments: None,
                        ..Default::default()
                    }],
                    timeout_ms: 1000,
                    validate_only,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(r.results[0].error_code, 0);
        assert_eq!(broker.state().topic("adm").unwrap().partitions.len(), want);
    }
    assert_eq!(produce(&mut c, "adm", 2, batch(1, "x")).await, (0, 0));
    let r = c
        .call(
            4,
            &DeleteTopicsRequest {
                topic_names: vec![StrBytes::from("adm"), StrBytes::from("adm")],
                timeout_ms: 1000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(r.responses[1].error_code, 3);
    assert!(!dir.path().join("adm-0").exists());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn trailing_request_bytes_are_ignored_like_kafka() {
    // librdkafka 2.x sends Metadata v12 (all topics) with 3 bytes after the tagged fields
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    let frame = hex(b"0003000c00000003000772646b61666b610000000000010000");
    let mut wire = (frame.len() as i32).to_be_bytes().to_vec();
    wire.extend_from_slice(&frame);
    c.stream.write_all(&wire).await.unwrap();
    let f = c.read_frame().await.expect("a response, not a disconnect");
    let (h, m) = krafty_protocol::frame::decode_typed_response::<
        krafty_protocol::generated::MetadataResponse,
    >(f, 12)
    .unwrap();
    assert_eq!(h.correlation_id, 3);
    assert_eq!(m.brokers.len(), 1);
    broker.shutdown().await.unwrap();
}

fn hex(s: &[u8]) -> Vec<u8> {
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

#[tokio::test]
async fn legacy_message_sets_are_up_converted_with_broker_assigned_offsets() {
    use krafty_protocol::records::{write_message_set, LegacyMessage};

    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "old", 1).await;
    for (magic, codec) in [
        (0i8, Compression::None),
        (1, Compression::None),
        (1, Compression::Gzip),
    ] {
        // uncompressed sets from old producers carry offset 0 on every message
        let msgs: Vec<LegacyMessage> = (0..3)
            .map(|i| {
                let off = if codec == Compression::None { 0 } else { i };
                LegacyMessage::new(
                    magic,
                    off,
                    1_000 + i,
                    None,
                    Some(Bytes::from(format!("m{magic}-{i}"))),
                )
            })
            .collect();
        let mut set = Vec::new();
        write_message_set(&mut set, magic, codec, &msgs).unwrap();
        let r: ProduceResponse = c
            .call(2, &produce_req("old", 0, Bytes::from(set.clone()), -1))
            .await;
        assert_eq!(
            r.responses[0].partition_responses[0].error_code, 0,
            "magic {magic} {codec:?}"
        );
        // Produce v3+ must carry v2 batches
        let r: ProduceResponse = c
            .call(3, &produce_req("old", 0, Bytes::from(set), -1))
            .await;
        assert_eq!(r.responses[0].partition_responses[0].error_code, 87);
    }
    let got = fetch_all(&mut c, "old", 0, 12).await;
    let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..9).collect::<Vec<_>>());
    assert_eq!(got[4].1, "m1-1");
    // and back down to magic 0 for Fetch v0
    assert_eq!(fetch_all(&mut c, "old", 0, 0).await, got);
    broker.shutdown().await.unwrap();
}

async fn start_with(dir: &std::path::Path, pairs: &[(&str, &str)]) -> krafty_server::BrokerHandle {
    let mut c = krafty_server::BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir);
    c.set("group.initial.rebalance.delay.ms", "0").unwrap();
    for (k, v) in pairs {
        c.set(k, v).unwrap();
    }
    krafty_server::Broker::start(c).await.unwrap()
}

fn delete_records(topic: &str, offset: i64) -> DeleteRecordsRequest {
    DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: StrBytes::from(topic.to_string()),
            partitions: vec![DeleteRecordsPartition {
                partition_index: 0,
                offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    }
}

fn segment_files(dir: &std::path::Path, topic: &str) -> usize {
    std::fs::read_dir(dir.join(format!("{topic}-0")))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count()
}

async fn check_deleted_records(c: &mut Client) {
    let lo: krafty_protocol::generated::ListOffsetsResponse =
        c.call(5, &list_offsets("dr", -2)).await;
    assert_eq!(lo.topics[0].partitions[0].offset, 57);
    let f: FetchResponse = c.call(11, &fetch_req("dr", 0, 10, 0)).await;
    assert_eq!(f.responses[0].partitions[0].error_code, 1);
    assert_eq!(f.responses[0].partitions[0].log_start_offset, 57);
    let f: FetchResponse = c.call(11, &fetch_req("dr", 0, 57, 0)).await;
    let p = &f.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    let got = values(p.records.as_ref().unwrap());
    assert!(got.iter().any(|(o, _)| *o == 57));
}

#[tokio::test]
async fn delete_records_moves_log_start_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = [("log.segment.bytes", "1024")];
    let broker = start_with(dir.path(), &pairs).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "dr", 1).await;
    for i in 0..20 {
        let (err, _) = produce(&mut c, "dr", 0, batch(5, &format!("b{i}"))).await;
        assert_eq!(err, 0);
    }
    let segments_before = segment_files(dir.path(), "dr");
    assert!(
        segments_before > 2,
        "rolled into {segments_before} segments"
    );

    for v in 0..=2 {
        // above the high watermark
        let r: DeleteRecordsResponse = c.call(v, &delete_records("dr", 101)).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 1, "v{v}");
        // unknown topic
        let r: DeleteRecordsResponse = c.call(v, &delete_records("nope", 1)).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 3, "v{v}");
        let r: DeleteRecordsResponse = c.call(v, &delete_records("__consumer_offsets", 0)).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 17, "v{v}");
    }
    let r: DeleteRecordsResponse = c.call(2, &delete_records("dr", 57)).await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.low_watermark), (0, 57));
    assert!(segment_files(dir.path(), "dr") < segments_before);
    // a lower offset does not move it back
    let r: DeleteRecordsResponse = c.call(0, &delete_records("dr", 10)).await;
    assert_eq!(r.topics[0].partitions[0].low_watermark, 57);

    check_deleted_records(&mut c).await;
    broker.shutdown().await.unwrap();

    let broker = start_with(dir.path(), &pairs).await;
    let mut c = Client::connect(broker.local_addr()).await;
    check_deleted_records(&mut c).await;
    // -1 deletes up to the high watermark
    let r: DeleteRecordsResponse = c.call(1, &delete_records("dr", -1)).await;
    assert_eq!(r.topics[0].partitions[0].low_watermark, 100);
    let lo: krafty_protocol::generated::ListOffsetsResponse =
        c.call(5, &list_offsets("dr", -2)).await;
    assert_eq!(lo.topics[0].partitions[0].offset, 100);
    broker.shutdown().await.unwrap();
}

fn inc_alter(
    resource_type: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    use krafty_protocol::generated::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    IncrementalAlterConfigsRequest {
        resources: vec![AlterConfigsResource {
            resource_type,
            resource_name: StrBytes::from(name.to_string()),
            configs: ops
                .iter()
                .map(|(k, op, v)| AlterableConfig {
                    name: StrBytes::from(k.to_string()),
                    config_operation: *op,
                    value: v.map(|v| StrBytes::from(v.to_string())),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        validate_only,
        ..Default::default()
    }
}

async fn topic_configs(c: &mut Client, topic: &str) -> Vec<(String, String, i8)> {
    use krafty_protocol::generated::describe_configs_request::DescribeConfigsResource;
    let r: DescribeConfigsResponse = c
        .call(
            4,
            &DescribeConfigsRequest {
                resources: vec![DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: StrBytes::from(topic.to_string()),
                    configuration_keys: None,
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.results[0].error_code, 0);
    r.results[0]
        .configs
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                e.value.as_deref().unwrap_or("").to_string(),
                e.config_source,
            )
        })
        .collect()
}

fn config_of(all: &[(String, String, i8)], name: &str) -> (String, i8) {
    let e = all.iter().find(|e| e.0 == name).unwrap();
    (e.1.clone(), e.2)
}

#[tokio::test]
async fn alter_configs_and_topic_overrides_survive_restart() {
    use krafty_protocol::generated::alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    use krafty_protocol::generated::create_topics_request::CreatableTopicConfig;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;

    // CreateTopics with configs; an unknown config fails with INVALID_CONFIG
    let mk = |name: &str, cfg: &[(&str, &str)]| CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: StrBytes::from(name.to_string()),
            num_partitions: 1,
            replication_factor: 1,
            configs: cfg
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: StrBytes::from(k.to_string()),
                    value: Some(StrBytes::from(v.to_string())),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    };
    let r: CreateTopicsResponse = c.call(5, &mk("bad", &[("no.such", "1")])).await;
    assert_eq!(r.topics[0].error_code, 40);
    let r: CreateTopicsResponse = c
        .call(
            5,
            &mk(
                "cfg",
                &[("retention.ms", "123456"), ("segment.bytes", "1024")],
            ),
        )
        .await;
    assert_eq!(r.topics[0].error_code, 0);
    let all = topic_configs(&mut c, "cfg").await;
    assert_eq!(config_of(&all, "retention.ms"), ("123456".into(), 1));
    assert_eq!(config_of(&all, "segment.bytes"), ("1024".into(), 1));
    assert_eq!(config_of(&all, "retention.bytes"), ("-1".into(), 5));
    // segment.bytes is honoured by the log
    for i in 0..10 {
        let (err, _) = produce(&mut c, "cfg", 0, batch(5, &format!("b{i}"))).await;
        assert_eq!(err, 0);
    }
    assert!(segment_files(dir.path(), "cfg") > 1);

    // SET max.message.bytes, then a produce over it is MESSAGE_TOO_LARGE
    let r: IncrementalAlterConfigsResponse = c
        .call(
            1,
            &inc_alter(2, "cfg", &[("max.message.bytes", 0, Some("100"))], false),
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    let (err, _) = produce(&mut c, "cfg", 0, batch(20, "big")).await;
    assert_eq!(err, 10);
    // DELETE restores the default
    let r: IncrementalAlterConfigsResponse = c
        .call(
            0,
            &inc_alter(2, "cfg", &[("max.message.bytes", 1, None)], false),
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    let (err, _) = produce(&mut c, "cfg", 0, batch(20, "big")).await;
    assert_eq!(err, 0);
    // APPEND / SUBTRACT on the list config
    let r: IncrementalAlterConfigsResponse = c
        .call(
            1,
            &inc_alter(2, "cfg", &[("cleanup.policy", 2, Some("compact"))], false),
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    let all = topic_configs(&mut c, "cfg").await;
    assert_eq!(
        config_of(&all, "cleanup.policy"),
        ("delete,compact".into(), 1)
    );
    let r: IncrementalAlterConfigsResponse = c
        .call(
            1,
            &inc_alter(2, "cfg", &[("cleanup.policy", 3, Some("compact"))], false),
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    let all = topic_configs(&mut c, "cfg").await;
    assert_eq!(config_of(&all, "cleanup.policy"), ("delete".into(), 1));
    // APPEND on a non-list config, unknown names and bad values: INVALID_CONFIG
    for ops in [
        vec![("retention.ms", 2, Some("5"))],
        vec![("no.such.config", 0, Some("1"))],
        vec![("retention.ms", 0, Some("soon"))],
    ] {
        let r: IncrementalAlterConfigsResponse = c.call(1, &inc_alter(2, "cfg", &ops, false)).await;
        assert_eq!(r.responses[0].error_code, 40, "{ops:?}");
    }
    // validate-only changes nothing
    let r: IncrementalAlterConfigsResponse = c
        .call(
            1,
            &inc_alter(2, "cfg", &[("retention.ms", 0, Some("999"))], true),
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    let all = topic_configs(&mut c, "cfg").await;
    assert_eq!(config_of(&all, "retention.ms"), ("123456".into(), 1));
    // broker resources: INVALID_REQUEST with a message
    let r: IncrementalAlterConfigsResponse = c
        .call(
            1,
            &inc_alter(4, "1", &[("log.retention.ms", 0, Some("1"))], false),
        )
        .await;
    assert_eq!(r.responses[0].error_code, 42);
    assert!(r.responses[0].error_message.is_some());

    // AlterConfigs replaces the overrides
    let alter = |topic: &str, cfg: &[(&str, &str)]| AlterConfigsRequest {
        resources: vec![AlterConfigsResource {
            resource_type: 2,
            resource_name: StrBytes::from(topic.to_string()),
            configs: cfg
                .iter()
                .map(|(k, v)| AlterableConfig {
                    name: StrBytes::from(k.to_string()),
                    value: Some(StrBytes::from(v.to_string())),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        validate_only: false,
        ..Default::default()
    };
    let r: AlterConfigsResponse = c.call(1, &alter("cfg", &[("bogus", "1")])).await;
    assert_eq!(r.responses[0].error_code, 40);
    let r: AlterConfigsResponse = c.call(2, &alter("nope", &[("retention.ms", "1")])).await;
    assert_eq!(r.responses[0].error_code, 3);
    let r: AlterConfigsResponse = c
        .call(
            0,
            &alter(
                "cfg",
                &[
                    ("retention.bytes", "4096"),
                    ("message.timestamp.type", "LogAppendTime"),
                ],
            ),
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    let check = |all: &[(String, String, i8)]| {
        assert_eq!(config_of(all, "retention.bytes"), ("4096".into(), 1));
        assert_eq!(
            config_of(all, "message.timestamp.type"),
            ("LogAppendTime".into(), 1)
        );
        assert_eq!(config_of(all, "retention.ms").1, 5);
        assert_eq!(config_of(all, "segment.bytes").1, 5);
    };
    check(&topic_configs(&mut c, "cfg").await);
    broker.shutdown().await.unwrap();

    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    check(&topic_configs(&mut c, "cfg").await);
    // message.timestamp.type=LogAppendTime is honoured after restart
    let before = krafty_server::broker::now_ms();
    let (err, off) = produce(&mut c, "cfg", 0, batch(1, "t")).await;
    assert_eq!(err, 0);
    let f: FetchResponse = c.call(11, &fetch_req("cfg", 0, off, 0)).await;
    let recs = f.responses[0].partitions[0].records.clone().unwrap();
    let h = krafty_protocol::records::RecordBatchHeader::parse(&recs).unwrap();
    assert!(h.max_timestamp >= before);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn offset_for_leader_epoch_answers_epoch_zero() {
    use krafty_protocol::generated::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    use krafty_protocol::generated::OffsetForLeaderEpochRequest;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "ep", 1).await;
    for i in 0..3 {
        produce(&mut c, "ep", 0, batch(4, &format!("x{i}"))).await;
    }
    let req = |topic: &str, current: i32, epoch: i32| OffsetForLeaderEpochRequest {
        replica_id: -1,
        topics: vec![OffsetForLeaderTopic {
            topic: StrBytes::from(topic.to_string()),
            partitions: vec![OffsetForLeaderPartition {
                partition: 0,
                current_leader_epoch: current,
                leader_epoch: epoch,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    for v in 0..=4 {
        let r = c.call(v, &req("ep", 0, 0)).await;
        let p = &r.topics[0].partitions[0];
        assert_eq!((p.error_code, p.end_offset), (0, 12), "v{v}");
        if v >= 1 {
            assert_eq!(p.leader_epoch, 0);
        }
        let r = c.call(v, &req("ep", -1, 5)).await;
        assert_eq!(r.topics[0].partitions[0].end_offset, 12, "v{v}");
        let r = c.call(v, &req("missing", -1, 0)).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 3, "v{v}");
    }
    let r = c.call(4, &req("ep", 3, 0)).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 75);
    // the new APIs are advertised with every codec version
    let av = c.call(3, &ApiVersionsRequest::default()).await;
    for (key, max) in [(21, 2), (23, 4), (33, 2), (44, 1), (47, 0)] {
        let e = av.api_keys.iter().find(|k| k.api_key == key).unwrap();
        assert_eq!((e.min_version, e.max_version), (0, max), "api {key}");
    }
    let r = c.call(4, &req("ep", 0, -1)).await;
    assert_eq!(r.topics[0].partitions[0].end_offset, -1);
    broker.shutdown().await.unwrap();
}

async fn commit_standalone(c: &mut Client, group: &str, topic: &str, parts: &[(i32, i64)]) {
    use krafty_protocol::generated::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use krafty_protocol::generated::OffsetCommitRequest;
    let r = c
        .call(
            8,
            &OffsetCommitRequest {
                group_id: StrBytes::from(group.to_string()),
                generation_id_or_member_epoch: -1,
                member_id: StrBytes::from(""),
                topics: vec![OffsetCommitRequestTopic {
                    name: StrBytes::from(topic.to_string()),
                    partitions: parts
                        .iter()
                        .map(|(p, o)| OffsetCommitRequestPartition {
                            partition_index: *p,
                            committed_offset: *o,
                            committed_leader_epoch: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert!(r.topics[0].partitions.iter().all(|p| p.error_code == 0));
}

async fn committed(c: &mut Client, group: &str, topic: &str, parts: &[i32]) -> Vec<i64> {
    use krafty_protocol::generated::offset_fetch_request::OffsetFetchRequestTopic;
    use krafty_protocol::generated::OffsetFetchRequest;
    let r = c
        .call(
            5,
            &OffsetFetchRequest {
                group_id: StrBytes::from(group.to_string()),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: StrBytes::from(topic.to_string()),
                    partition_indexes: parts.to_vec().into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await;
    r.topics[0]
        .partitions
        .iter()
        .map(|p| p.committed_offset)
        .collect()
}

fn offset_delete(group: &str, topic: &str, parts: &[i32]) -> OffsetDeleteRequest {
    use krafty_protocol::generated::offset_delete_request::{
        OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    OffsetDeleteRequest {
        group_id: StrBytes::from(group.to_string()),
        topics: vec![OffsetDeleteRequestTopic {
            name: StrBytes::from(topic.to_string()),
            partitions: parts
                .iter()
                .map(|p| OffsetDeleteRequestPartition {
                    partition_index: *p,
                })
                .collect(),
        }],
    }
}

#[tokio::test]
async fn offset_delete_removes_unsubscribed_offsets_and_persists_tombstones() {
    use krafty_protocol::generated::join_group_request::JoinGroupRequestProtocol;
    use krafty_protocol::generated::{ConsumerProtocolSubscription, JoinGroupRequest};
    use krafty_protocol::message::Encode;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "od", 2).await;
    commit_standalone(&mut c, "g1", "od", &[(0, 5), (1, 6)]).await;
    let r: OffsetDeleteResponse = c.call(0, &offset_delete("nope", "od", &[0])).await;
    assert_eq!(r.error_code, 69);
    let r: OffsetDeleteResponse = c.call(0, &offset_delete("g1", "od", &[0])).await;
    assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
    assert_eq!(committed(&mut c, "g1", "od", &[0, 1]).await, vec![-1, 6]);

    // a consumer group subscribed to the topic: GROUP_SUBSCRIBED_TO_TOPIC
    commit_standalone(&mut c, "g2", "od", &[(0, 9)]).await;
    commit_standalone(&mut c, "g2", "other", &[(0, 3)]).await;
    let sub = ConsumerProtocolSubscription {
        topics: vec![StrBytes::from("od")],
        ..Default::default()
    };
    let mut meta = bytes::BytesMut::new();
    meta.extend_from_slice(&0i16.to_be_bytes());
    sub.encode(&mut meta, 0).unwrap();
    let join = c
        .call(
            3,
            &JoinGroupRequest {
                group_id: StrBytes::from("g2"),
                session_timeout_ms: 30_000,
                rebalance_timeout_ms: 30_000,
                member_id: StrBytes::from(""),
                protocol_type: StrBytes::from("consumer"),
                protocols: vec![JoinGroupRequestProtocol {
                    name: StrBytes::from("range"),
                    metadata: meta.freeze(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(join.error_code, 0);
    let r: OffsetDeleteResponse = c.call(0, &offset_delete("g2", "od", &[0])).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 86);
    let r: OffsetDeleteResponse = c.call(0, &offset_delete("g2", "other", &[0])).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(committed(&mut c, "g2", "od", &[0]).await, vec![9]);
    broker.shutdown().await.unwrap();

    // the tombstones were written to __consumer_offsets
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    assert_eq!(committed(&mut c, "g1", "od", &[0, 1]).await, vec![-1, 6]);
    assert_eq!(committed(&mut c, "g2", "other", &[0]).await, vec![-1]);
    broker.shutdown().await.unwrap();
}

/// Like Java's ClassicGroup, a group whose last member left keeps its protocol type:
/// ListGroups and DescribeGroups still say "consumer" (sarama's ListConsumerGroups keys on
/// it).
#[tokio::test]
async fn an_empty_group_keeps_its_protocol_type() {
    use krafty_protocol::generated::join_group_request::JoinGroupRequestProtocol;
    use krafty_protocol::generated::{
        DescribeGroupsRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest,
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    let join = c
        .call(
            3,
            &JoinGroupRequest {
                group_id: StrBytes::from("pt"),
                session_timeout_ms: 30_000,
                rebalance_timeout_ms: 30_000,
                member_id: StrBytes::from(""),
                protocol_type: StrBytes::from("consumer"),
                protocols: vec![JoinGroupRequestProtocol {
                    name: StrBytes::from("range"),
                    metadata: Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0]),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(join.error_code, 0);
    let leave = c
        .call(
            1,
            &LeaveGroupRequest {
                group_id: StrBytes::from("pt"),
                member_id: join.member_id.clone(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(leave.error_code, 0);
    let listed = c.call(4, &ListGroupsRequest::default()).await;
    let g = listed
        .groups
        .iter()
        .find(|g| g.group_id.as_str() == "pt")
        .expect("the empty group is listed");
    assert_eq!(
        (g.protocol_type.as_str(), g.group_state.as_str()),
        ("consumer", "Empty")
    );
    let described = c
        .call(
            5,
            &DescribeGroupsRequest {
                groups: vec![StrBytes::from("pt")],
                ..Default::default()
            },
        )
        .await;
    let d = &described.groups[0];
    assert_eq!(
        (
            d.protocol_type.as_str(),
            d.group_state.as_str(),
            d.members.len()
        ),
        ("consumer", "Empty", 0)
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn committed_offsets_of_empty_groups_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = krafty_server::BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    cfg.set("group.initial.rebalance.delay.ms", "0").unwrap();
    // a tiny retention: everything committed before "now" is stale
    cfg.offsets_retention_minutes = 0;
    let broker = krafty_server::Broker::start(cfg).await.unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "ex", 1).await;
    commit_standalone(&mut c, "gx", "ex", &[(0, 11)]).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while committed(&mut c, "gx", "ex", &[0]).await != vec![-1] {
        assert!(Instant::now() < deadline, "offsets never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    broker.shutdown().await.unwrap();
    // the expiry was persisted: a restart with the default retention does not bring it back
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    assert_eq!(committed(&mut c, "gx", "ex", &[0]).await, vec![-1]);
    broker.shutdown().await.unwrap();
}

static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn golden_requests() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kafka-protocol/tests/data/golden-frames");
    let mut out = Vec::new();
    for d in std::fs::read_dir(root).unwrap().flatten() {
        if !d.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            if f.file_name().to_string_lossy().ends_with(".request.bin") {
                out.push((f.path(), std::fs::read(f.path()).unwrap()));
            }
        }
    }
    out.sort();
    out.into_iter().map(|(_, b)| b).collect()
}

fn mutate(rng: &mut Rng, golden: &[Vec<u8>]) -> Vec<u8> {
    let base = &golden[rng.below(golden.len())];
    let mut f = base.clone();
    match rng.below(6) {
        0 => {
            // flip a few bytes
            for _ in 0..=rng.below(4) {
                let i = rng.below(f.len());
                f[i] ^= 1 << rng.below(8);
            }
        }
        1 => f.truncate(rng.below(f.len())),
        2 => {
            // splice two frames
            let other = &golden[rng.below(golden.len())];
            let cut = rng.below(f.len());
            f.truncate(cut);
            f.extend_from_slice(&other[rng.below(other.len())..]);
        }
        3 => {
            let n = rng.below(200);
            f = (0..n).map(|_| rng.next() as u8).collect();
        }
        4 => {
            // random bytes written over the body, header intact
            for _ in 0..=rng.below(16) {
                let i = 8 + rng.below(f.len().saturating_sub(8));
                if i < f.len() {
                    f[i] = rng.next() as u8;
                }
            }
        }
        _ => {
            // a length field pushed to extremes
            if f.len() > 12 {
                let i = 8 + rng.below(f.len() - 12);
                let v: [u8; 4] = match rng.below(3) {
                    0 => [0x7f, 0xff, 0xff, 0xff],
                    1 => [0xff, 0xff, 0xff, 0xfe],
                    _ => [0x80, 0, 0, 0],
                };
                f[i..i + 4].copy_from_slice(&v);
            }
        }
    }
    f
}

#[tokio::test]
async fn mutated_and_random_frames_do_not_hurt_the_broker() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        prev(info);
    }));
    let golden = golden_requests();
    assert!(golden.len() > 50, "golden frames found: {}", golden.len());
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let addr = broker.local_addr();
    let mut c = Client::connect(addr).await;
    create(&mut c, "fz", 1).await;
    let started = Instant::now();
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..600 {
        // one to three frames per connection, with honest or lying size prefixes
        let frames: Vec<Vec<u8>> = (0..=rng.below(3))
            .map(|_| mutate(&mut rng, &golden))
            .collect();
        let lie = rng.below(8) == 0;
        let lie_len = rng.next() as u32;
        tasks.spawn(async move {
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                return;
            };
            let mut out = Vec::new();
            for f in &frames {
                let len = if lie { lie_len } else { f.len() as u32 };
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(f);
            }
            let _ = s.write_all(&out).await;
            let _ = s.shutdown().await;
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(Duration::from_millis(1500), async {
                use tokio::io::AsyncReadExt;
                s.read_to_end(&mut sink).await
            })
            .await;
        });
        if n % 40 == 39 {
            while tasks.join_next().await.is_some() {}
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(30));

    // the broker still serves on a fresh connection
    let mut ok = Client::connect(addr).await;
    let v = ok.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(v.error_code, 0);
    let m = ok
        .call(
            12,
            &MetadataRequest {
                topics: None,
                ..Default::default()
            },
        )
        .await;
    assert!(m.topics.iter().any(|t| t.name.as_deref() == Some("fz")));
    let (err, off) = produce(&mut ok, "fz", 0, batch(3, "after")).await;
    assert_eq!(err, 0);
    let f: FetchResponse = ok.call(11, &fetch_req("fz", 0, off, 0)).await;
    let got = values(f.responses[0].partitions[0].records.as_ref().unwrap());
    assert!(got.iter().any(|(_, v)| v == "after-0"));
    assert_eq!(
        PANICS.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a panic occurred"
    );
    broker.shutdown().await.unwrap();
}

/// DescribeTopicPartitions pages by `response_partition_limit` and the cursor as Kafka's
/// broker does; unknown names get UNKNOWN_TOPIC_OR_PARTITION; ELR lists are empty.
#[tokio::test]
async fn describe_topic_partitions_pages_with_cursor() {
    use krafty_protocol::generated::describe_topic_partitions_request::{Cursor, TopicRequest};
    use krafty_protocol::generated::DescribeTopicPartitionsRequest;

    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut c = Client::connect(broker.local_addr()).await;
    create(&mut c, "dtp-a", 3).await;
    create(&mut c, "dtp-b", 2).await;
    let names = ["dtp-b", "dtp-a", "dtp-missing"];
    let mut cursor = None;
    let mut seen = Vec::new();
    let mut missing = 0;
    for _ in 0..10 {
        let r = c
            .call(
                0,
                &DescribeTopicPartitionsRequest {
                    topics: names
                        .iter()
                        .map(|n| TopicRequest {
                            name: StrBytes::from(n.to_string()),
                            ..Default::default()
                        })
                        .collect(),
                    response_partition_limit: 2,
                    cursor: cursor.take(),
                    ..Default::default()
                },
            )
            .await;
        let mut in_answer = 0;
        for t in &r.topics {
            let name = t.name.as_deref().unwrap_or_default().to_string();
            if name == "dtp-missing" {
                assert_eq!(t.error_code, 3);
                missing += 1;
                continue;
            }
            assert_eq!(t.error_code, 0);
            for p in &t.partitions {
                assert_eq!(p.eligible_leader_replicas.as_deref(), Some(&[][..]));
                assert_eq!(p.last_known_elr.as_deref(), Some(&[][..]));
                assert_eq!(p.leader_id, 1);
                seen.push((name.clone(), p.partition_index));
                in_answer += 1;
            }
        }
        assert!(in_answer <= 2, "limit exceeded: {:?}", r.topics);
        match r.next_cursor {
            Some(next) => {
                cursor = Some(Cursor {
                    topic_name: next.topic_name,
                    partition_index: next.partition_index,
                    ..Default::default()
                })
            }
            None => break,
        }
    }
    let want: Vec<(String, i32)> = [
        ("dtp-a", 0),
        ("dtp-a", 1),
        ("dtp-a", 2),
        ("dtp-b", 0),
        ("dtp-b", 1),
    ]
    .iter()
    .map(|(n, p)| (n.to_string(), *p))
    .collect();
    assert_eq!(
        seen, want,
        "sorted by name, every partition once across pages"
    );
    assert!(missing >= 1, "the unknown topic was reported");
    broker.shutdown().await.unwrap();
}
