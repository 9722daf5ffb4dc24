//! The transactional producer's requests, checked on a scripted broker that records them
//! (no real coordinator): FindCoordinator with key type 1, InitProducerId with the
//! transactional id and `transaction.timeout.ms`, AddPartitionsToTxn (v3 and below) before
//! the partition's first Produce — also when the coordinator first answers
//! CONCURRENT_TRANSACTIONS —, Produce carrying the transactional id and transactional
//! batches of the coordinator's producer id and epoch, EndTxn commit / abort, and no
//! EndTxn for a transaction the coordinator never heard of. What kafka-server-mini's
//! coordinator will be asked.

use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use krafty_client::{Producer, ProducerConfig, ProducerRecord};
use krafty_protocol::frame::{decode_request, split_frame, write_typed_response};
use krafty_protocol::generated::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use krafty_protocol::generated::api_versions_response::ApiVersion;
use krafty_protocol::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use krafty_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use krafty_protocol::generated::{
    AddPartitionsToTxnResponse, ApiKey, ApiVersionsResponse, EndTxnResponse,
    FindCoordinatorResponse, InitProducerIdResponse, MetadataResponse, ProduceResponse,
    RequestBody,
};
use krafty_protocol::records::{BatchIter, DecodeOptions, RawBatch};
use krafty_protocol::wire::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted broker saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    FindCoordinator {
        key: String,
        key_type: i8,
    },
    InitProducerId {
        txn_id: Option<String>,
        timeout_ms: i32,
    },
    /// Partitions asked for, and whether this attempt was answered CONCURRENT_TRANSACTIONS.
    AddPartitions {
        version: i16,
        partitions: Vec<i32>,
        refused: bool,
    },
    /// Transactional id, partition, batch producer id/epoch, transactional bit, and
    /// whether the partition had been added to the transaction before.
    Produce {
        txn_id: Option<String>,
        partition: i32,
        producer: (i64, i16),
        transactional: bool,
        added_before: bool,
    },
    EndTxn {
        committed: bool,
        producer: (i64, i16),
    },
}

#[derive(Debug, Default)]
struct Seen {
    events: Vec<Event>,
    /// Partitions added to the open transaction.
    added: Vec<i32>,
    /// AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS once already.
    refused_once: bool,
}

const PID: i64 = 7000;
const EPOCH: i16 = 3;

fn versions() -> ApiVersionsResponse {
    ApiVersionsResponse {
        api_keys: [
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::FindCoordinator, 0, 6),
            (ApiKey::InitProducerId, 0, 5),
            (ApiKey::AddPartitionsToTxn, 0, 5),
            (ApiKey::EndTxn, 0, 5),
            (ApiKey::Produce, 3, 12),
        ]
        .iter()
        .map(|(k, min, max)| ApiVersion {
            api_key: k.key(),
            min_version: *min,
            max_version: *max,
            ..Default::default()
        })
        .collect(),
        ..Default::default()
    }
}

async fn serve_conn(mut s: TcpStream, port: u16, seen: Arc<Mutex<Seen>>) {
    let mut buf = BytesMut::new();
    loop {
        let frame = loop {
            match split_frame(&mut buf, 1 << 24) {
                Ok(Some(f)) => break f,
                Ok(None) => {}
                Err(_) => return,
            }
            match s.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let Ok(req) = decode_request(frame.freeze()) else {
            return;
        };
        let (id, v) = (req.header.correlation_id, req.header.request_api_version);
        let mut out = BytesMut::new();
        let written = {
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            match req.body {
                RequestBody::ApiVersions(_) => write_typed_response(&mut out, id, v, &versions()),
                RequestBody::Metadata(_) => {
                    let resp = MetadataResponse {
                        brokers: vec![MetadataResponseBroker {
                            node_id: 0,
                            host: StrBytes::from_static_str("127.0.0.1"),
                            port: i32::from(port),
                            ..Default::default()
                        }],
                        controller_id: 0,
                        topics: vec![MetadataResponseTopic {
                            name: Some(StrBytes::from_static_str("t")),
                            partitions: (0..2)
                                .map(|p| MetadataResponsePartition {
                                    partition_index: p,
                                    leader_id: 0,
                                    replica_nodes: [0].into_iter().collect(),
                                    isr_nodes: [0].into_iter().collect(),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    write_typed_response(&mut out, id, v, &resp)
                }
                RequestBody::FindCoordinator(r) => {
                    seen.events.push(Event::FindCoordinator {
                        key: r.key.to_string(),
                        key_type: r.key_type,
                    });
                    let resp = FindCoordinatorResponse {
                        node_id: 0,
                        host: StrBytes::from_static_str("127.0.0.1"),
                        port: i32::from(port),
                        ..Default::default()
                    };
                    write_typed_response(&mut out, id, v, &resp)
                }
                RequestBody::InitProducerId(r) => {
                    seen.events.push(Event::InitProducerId {
                        txn_id: r.transactional_id.map(|t| t.to_string()),
                        timeout_ms: r.transaction_timeout_ms,
                    });
                    let resp = InitProducerIdResponse {
                        producer_id: PID,
                        producer_epoch: EPOCH,
                        ..Default::default()
                    };
                    write_typed_response(&mut out, id, v, &resp)
                }
                RequestBody::AddPartitionsToTxn(r) => {
                    let partitions: Vec<i32> = r
                        .v3_and_below_topics
                        .iter()
                        .flat_map(|t| t.partitions.iter().copied())
                        .collect();
                    let refused = !seen.refused_once;
                    seen.refused_once = true;
                    let code = if refused { 51 } else { 0 }; // CONCURRENT_TRANSACTIONS
                    if !refused {
                        seen.added.extend(partitions.iter().copied());
                    }
                    seen.events.push(Event::AddPartitions {
                        version: v,
                        partitions: partitions.clone(),
                        refused,
                    });
                    let resp = AddPartitionsToTxnResponse {
                        results_by_topic_v3_and_below: vec![AddPartitionsToTxnTopicResult {
                            name: StrBytes::from_static_str("t"),
                            results_by_partition: partitions
                                .iter()
                                .map(|&p| AddPartitionsToTxnPartitionResult {
                                    partition_index: p,
                                    partition_error_code: code,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    write_typed_response(&mut out, id, v, &resp)
                }
                RequestBody::EndTxn(r) => {
                    seen.events.push(Event::EndTxn {
                        committed: r.committed,
                        producer: (r.producer_id, r.producer_epoch),
                    });
                    seen.added.clear();
                    write_typed_response(&mut out, id, v, &EndTxnResponse::default())
                }
                RequestBody::Produce(r) => {
                    let txn_id = r.transactional_id.map(|t| t.to_string());
                    let mut responses = Vec::new();
                    for t in r.topic_data {
                        let mut partition_responses = Vec::new();
                        for p in t.partition_data {
                            let records = p.records.unwrap_or_default();
                            for batch in BatchIter::new(records, DecodeOptions::default()) {
                                let Ok(RawBatch::V2(batch)) = batch else {
                                    return;
                                };
                                let h = *batch.header();
                                let added_before = seen.added.contains(&p.index);
                                seen.events.push(Event::Produce {
                                    txn_id: txn_id.clone(),
                                    partition: p.index,
                                    producer: (h.producer_id, h.producer_epoch),
                                    transactional: h.is_transactional(),
                                    added_before,
                                });
                            }
                            partition_responses.push(PartitionProduceResponse {
                                index: p.index,
                                base_offset: 0,
                                ..Default::default()
                            });
                        }
                        responses.push(TopicProduceResponse {
                            name: t.name,
                            partition_responses,
                            ..Default::default()
                        });
                    }
                    let resp = ProduceResponse {
                        responses,
                        ..Default::default()
                    };
                    write_typed_response(&mut out, id, v, &resp)
                }
                _ => return,
            }
        };
        if written.is_err() || s.write_all(&out).await.is_err() {
            return;
        }
    }
}

async fn scripted_broker() -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = seen.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_conn(s, port, state.clone()));
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_requests_in_kafkas_order() {
    let (port, seen) = scripted_broker().await;
    let cfg = ProducerConfig::new(&format!("127.0.0.1:{port}"))
        .and_then(|c| c.with("transactional.id", "wire-tx"))
        .and_then(|c| c.with("transaction.timeout.ms", "30000"))
        .and_then(|c| c.with("retry.backoff.ms", "10"))
        .and_then(|c| c.with("max.block.ms", "10000"))
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    producer.init_transactions().await.expect("init");

    producer.begin_transaction().expect("begin");
    let md = producer
        .send_and_wait(ProducerRecord::new("t").partition(1).value("a"))
        .await
        .expect("delivered");
    assert_eq!(md.partition, 1);
    producer.commit_transaction().await.expect("commit");

    producer.begin_transaction().expect("begin empty");
    producer.commit_transaction().await.expect("commit empty");

    producer.begin_transaction().expect("begin 3");
    producer
        .send_and_wait(ProducerRecord::new("t").partition(0).value("b"))
        .await
        .expect("delivered");
    producer.abort_transaction().await.expect("abort");
    producer.close().await.expect("close");

    let events = seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .events
        .clone();
    let produce = |partition| Event::Produce {
        txn_id: Some("wire-tx".into()),
        partition,
        producer: (PID, EPOCH),
        transactional: true,
        added_before: true,
    };
    let expected = vec![
        Event::FindCoordinator {
            key: "wire-tx".into(),
            key_type: 1,
        },
        Event::InitProducerId {
            txn_id: Some("wire-tx".into()),
            timeout_ms: 30000,
        },
        Event::AddPartitions {
            version: 3,
            partitions: vec![1],
            refused: true,
        },
        Event::AddPartitions {
            version: 3,
            partitions: vec![1],
            refused: false,
        },
        produce(1),
        Event::EndTxn {
            committed: true,
            producer: (PID, EPOCH),
        },
        // the empty transaction sent nothing
        Event::AddPartitions {
            version: 3,
            partitions: vec![0],
            refused: false,
        },
        produce(0),
        Event::EndTxn {
            committed: false,
            producer: (PID, EPOCH),
        },
    ];
    assert_eq!(events, expected);
}
