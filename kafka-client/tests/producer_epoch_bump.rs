//! The idempotent producer against a scripted broker that enforces sequences like Kafka
//! and rejects the very first batch:
//! - with OUT_OF_ORDER_SEQUENCE_NUMBER: the producer must bump its epoch (KIP-360:
//!   InitProducerId v3+ carrying its id and epoch), re-stamp the batch with the new epoch
//!   and sequence 0, resend it, and deliver every record exactly once and in order;
//! - with a retriable error while later batches of the partition are in flight: those are
//!   refused for the gap and must be resent in order behind it, without an epoch bump.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use krafty_client::{Producer, ProducerConfig, ProducerRecord};
use krafty_protocol::frame::{decode_request, split_frame, write_typed_response};
use krafty_protocol::generated::api_versions_response::ApiVersion;
use krafty_protocol::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use krafty_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use krafty_protocol::generated::{
    ApiKey, ApiVersionsResponse, InitProducerIdResponse, MetadataResponse, ProduceResponse,
    RequestBody,
};
use krafty_protocol::records::{BatchIter, DecodeOptions, RawBatch};
use krafty_protocol::wire::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted broker saw.
#[derive(Debug, Default)]
struct Seen {
    /// InitProducerId requests: (producer id, epoch) sent.
    init: Vec<(i64, i16)>,
    /// Produce batches: (producer id, epoch, base sequence, values, answered error code).
    produced: Vec<(i64, i16, i32, Vec<String>, i16)>,
    /// Values written to the "log", in order.
    log: Vec<String>,
}

fn versions() -> ApiVersionsResponse {
    ApiVersionsResponse {
        api_keys: [
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 9),
            (ApiKey::InitProducerId, 0, 4),
            (ApiKey::Produce, 3, 9),
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

/// Serves one connection. The first batch ever is answered `first_error`; later ones are
/// checked like a broker does: sequences of an epoch must follow on, a new epoch starts
/// at 0, a gap is OUT_OF_ORDER_SEQUENCE_NUMBER (45).
async fn serve_conn(mut s: TcpStream, port: u16, seen: Arc<Mutex<Seen>>, first_error: i16) {
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
        let written = match req.body {
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
                        partitions: vec![MetadataResponsePartition {
                            partition_index: 0,
                            leader_id: 0,
                            replica_nodes: [0].into_iter().collect(),
                            isr_nodes: [0].into_iter().collect(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                write_typed_response(&mut out, id, v, &resp)
            }
            RequestBody::InitProducerId(r) => {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.init.push((r.producer_id, r.producer_epoch));
                let (pid, epoch) = if r.producer_id >= 0 {
                    (r.producer_id, r.producer_epoch + 1)
                } else {
                    (1000, 0)
                };
                let resp = InitProducerIdResponse {
                    producer_id: pid,
                    producer_epoch: epoch,
                    ..Default::default()
                };
                write_typed_response(&mut out, id, v, &resp)
            }
            RequestBody::Produce(r) => {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                let mut responses = Vec::new();
                for t in r.topic_data {
                    let mut partition_responses = Vec::new();
                    for p in t.partition_data {
                        let records = p.records.unwrap_or_default();
                        let mut code = 0i16;
                        let mut base_offset = -1;
                        for batch in BatchIter::new(records, DecodeOptions::default()) {
                            let Ok(RawBatch::V2(batch)) = batch else {
                                code = 2; // CORRUPT_MESSAGE
                                break;
                            };
                            let h = *batch.header();
                            let mut values = Vec::new();
                            if let Ok(iter) = batch.records(&DecodeOptions::default()) {
                                for rec in iter.flatten() {
                                    values.push(
                                        String::from_utf8_lossy(
                                            rec.value.as_deref().unwrap_or_default(),
                                        )
                                        .into_owned(),
                                    );
                                }
                            }
                            // the first batch ever is rejected as if an earlier one was
                            // lost; later ones are checked like a broker does: epoch 0
                            // sequences must continue, a new epoch starts at 0
                            let expected = seen
                                .produced
                                .iter()
                                .rev()
                                .find(|b| b.4 == 0 && b.1 == h.producer_epoch)
                                .map_or(0, |b| b.2 + b.3.len() as i32);
                            code = if seen.produced.is_empty() {
                                first_error
                            } else if h.base_sequence != expected {
                                45
                            } else {
                                0
                            };
                            if code == 0 {
                                base_offset = seen.log.len() as i64;
                                seen.log.extend(values.iter().cloned());
                            }
                            seen.produced.push((
                                h.producer_id,
                                h.producer_epoch,
                                h.base_sequence,
                                values,
                                code,
                            ));
                        }
                        partition_responses.push(PartitionProduceResponse {
                            index: p.index,
                            error_code: code,
                            base_offset,
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
        };
        if written.is_err() || s.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Starts the scripted broker; returns its port and what it saw.
async fn scripted_broker(first_error: i16) -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = seen.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_conn(s, port, state.clone(), first_error));
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_sequence_bumps_the_epoch_and_resends() {
    let (port, seen) = scripted_broker(45).await;
    let cfg = ProducerConfig::new(&format!("127.0.0.1:{port}"))
        .and_then(|c| c.with("linger.ms", "0"))
        .and_then(|c| c.with("retry.backoff.ms", "10"))
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    let mut futures = Vec::new();
    for i in 0..5 {
        let f = producer
            .send(ProducerRecord::new("t").partition(0).value(format!("v{i}")))
            .await
            .expect("send");
        futures.push(f);
    }
    for f in futures {
        tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .expect("delivered in time")
            .expect("delivered");
    }
    producer.close().await.expect("close");
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(
        seen.log,
        (0..5).map(|i| format!("v{i}")).collect::<Vec<_>>(),
        "every record once, in order: {seen:?}"
    );
    assert_eq!(
        seen.init,
        vec![(-1, -1), (1000, 0)],
        "a fresh id, then a bump of that id's epoch: {seen:?}"
    );
    let first = &seen.produced[0];
    assert_eq!((first.1, first.2, first.4), (0, 0, 45), "{seen:?}");
    let resent = seen
        .produced
        .iter()
        .find(|b| b.1 == 1)
        .expect("a batch under epoch 1");
    assert_eq!(
        (resent.0, resent.2, resent.4),
        (1000, 0, 0),
        "the rejected batch is resent under epoch 1 from sequence 0: {seen:?}"
    );
    assert_eq!(resent.3, first.3, "same records");
    assert!(
        seen.produced.iter().all(|b| b.1 == 0 || b.4 == 0),
        "nothing fails under the new epoch: {seen:?}"
    );
}

/// Several batches of one partition in flight; the first fails with a retriable error and
/// the ones behind it are refused for the gap. They are resent in order without an epoch
/// bump, and every record lands once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_behind_a_retried_one_are_resent_in_order() {
    let (port, seen) = scripted_broker(6).await; // NOT_LEADER_OR_FOLLOWER, retriable
    let cfg = ProducerConfig::new(&format!("127.0.0.1:{port}"))
        .and_then(|c| c.with("linger.ms", "0"))
        .and_then(|c| c.with("batch.size", "100"))
        .and_then(|c| c.with("retry.backoff.ms", "50"))
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    let mut futures = Vec::new();
    for i in 0..8 {
        let value = format!("v{i}-{}", "x".repeat(60));
        let f = producer
            .send(ProducerRecord::new("t").partition(0).value(value))
            .await
            .expect("send");
        futures.push(f);
    }
    for f in futures {
        tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .expect("delivered in time")
            .expect("delivered");
    }
    producer.close().await.expect("close");
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let log: Vec<String> = seen
        .log
        .iter()
        .map(|v| v.split('-').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        log,
        (0..8).map(|i| format!("v{i}")).collect::<Vec<_>>(),
        "every record once, in order: {seen:?}"
    );
    assert_eq!(seen.init, vec![(-1, -1)], "no epoch bump: {seen:?}");
    assert!(
        seen.produced.iter().any(|b| b.4 == 45 && b.1 == 0),
        "a batch behind the retried one was in flight and refused for the gap: {seen:?}"
    );
}
