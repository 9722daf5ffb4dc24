//! In-process integration tests: the broker on 127.0.0.1:0, raw protocol through the codec.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kafka_protocol::generated::create_topics_request::CreatableTopic;
use kafka_protocol::generated::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::generated::metadata_request::MetadataRequestTopic;
use kafka_protocol::generated::{
    ApiVersionsRequest, CreateTopicsRequest, CreateTopicsResponse, FetchResponse,
    InitProducerIdRequest, ListOffsetsRequest, MetadataRequest, ProduceResponse,
};
use kafka_protocol::records::{Compression, RecordBatchBuilder};
use kafka_protocol::wire::StrBytes;
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
    let lo = |r: kafka_protocol::generated::ListOffsetsResponse| r.topics[0].partitions[0].offset;
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
    use kafka_protocol::generated::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::generated::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    use kafka_protocol::generated::{OffsetCommitRequest, OffsetFetchRequest};

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
    use kafka_protocol::generated::create_partitions_request::CreatePartitionsTopic;
    use kafka_protocol::generated::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::generated::{
        CreatePartitionsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    };

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = kafka_server_mini::BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    cfg.set("log.retention.ms", "3600000").unwrap();
    let broker = kafka_server_mini::Broker::start(cfg).await.unwrap();
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
    let (h, m) = kafka_protocol::frame::decode_typed_response::<
        kafka_protocol::generated::MetadataResponse,
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
    use kafka_protocol::records::{write_message_set, LegacyMessage};

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
