//! Codec benchmarks, each side by side with the `kafka-protocol` crate from crates.io
//! (renamed `kprs` here) in the same run:
//!
//! - `produce_v9/*`: a Produce v9 request carrying 100 record batches of 10 records
//!   (about 121 KB): decode shallow (batches kept as bytes), decode deep (every record
//!   decoded), encode.
//! - `metadata_v12/*`: a Metadata v12 response with 1000 partitions: decode, encode.
//! - `batch_encode_1mib/*`: a v2 record batch of 1 MiB of 100-byte records, with CRC,
//!   uncompressed and with each codec.
//!
//! Run: `cargo bench -p krafty-protocol --bench codec`. Results: BENCHMARKS.md.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kprs::protocol::{Decodable as _, Encodable as _};
use krafty_protocol::generated::{
    metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic},
    produce_request::{PartitionProduceData, TopicProduceData},
    MetadataResponse, ProduceRequest,
};
use krafty_protocol::message::{Decode, Encode, Message};
use krafty_protocol::records::{
    BatchIter, Compression, DecodeOptions, RawBatch, RecordBatchBuilder,
};
use krafty_protocol::wire::{StrBytes, Uuid};

const TS: i64 = 1_700_000_000_000;

/// 100 partitions, each with one batch of 10 records (key, 100-byte value, one header).
fn produce_request() -> ProduceRequest {
    let value = [b'v'; 100];
    let partitions = (0..100)
        .map(|p| {
            let mut b = RecordBatchBuilder::with_capacity(Compression::None, 2048);
            for i in 0..10 {
                let key = format!("key-{p}-{i}");
                b.append_with_headers(
                    TS + i,
                    Some(key.as_bytes()),
                    Some(&value),
                    &[("client", &b"bench"[..])],
                )
                .unwrap();
            }
            PartitionProduceData {
                index: p,
                records: Some(b.finish().unwrap()),
                ..Default::default()
            }
        })
        .collect();
    ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: StrBytes::from_static_str("bench-topic"),
            partition_data: partitions,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn metadata_response() -> MetadataResponse {
    let topics = (0..10)
        .map(|t| MetadataResponseTopic {
            error_code: 0,
            name: Some(StrBytes::from(format!("topic-{t}"))),
            topic_id: Uuid::from_u128(t as u128 + 1),
            is_internal: false,
            partitions: (0..100)
                .map(|p| MetadataResponsePartition {
                    error_code: 0,
                    partition_index: p,
                    leader_id: p % 3 + 1,
                    leader_epoch: 7,
                    replica_nodes: vec![1, 2, 3].into(),
                    isr_nodes: vec![1, 2, 3].into(),
                    offline_replicas: Default::default(),
                    ..Default::default()
                })
                .collect(),
            topic_authorized_operations: -2147483648,
            ..Default::default()
        })
        .collect();
    MetadataResponse {
        throttle_time_ms: 0,
        brokers: (1..=3)
            .map(|id| MetadataResponseBroker {
                node_id: id,
                host: StrBytes::from(format!("broker-{id}.example.com")),
                port: 9092,
                rack: None,
                ..Default::default()
            })
            .collect(),
        cluster_id: Some(StrBytes::from_static_str("bench-cluster")),
        controller_id: 1,
        topics,
        ..Default::default()
    }
}

fn encode<M: Message + Encode + Decode>(m: &M, version: i16) -> Bytes {
    let mut out = BytesMut::with_capacity(m.encoded_len(version));
    m.encode(&mut out, version).unwrap();
    out.freeze()
}

fn ours_deep(bytes: &Bytes) -> usize {
    let req = ProduceRequest::decode(&mut bytes.clone(), 9).unwrap();
    let opts = DecodeOptions::default();
    let mut n = 0;
    for t in &req.topic_data {
        for p in &t.partition_data {
            let Some(records) = &p.records else { continue };
            for batch in BatchIter::new(records.clone(), opts) {
                if let RawBatch::V2(b) = batch.unwrap() {
                    for r in b.records(&opts).unwrap() {
                        let r = r.unwrap();
                        n += r.value.as_ref().map_or(0, |v| v.len()) + r.headers.len();
                        black_box(&r);
                    }
                }
            }
        }
    }
    n
}

fn kprs_deep(bytes: &Bytes) -> usize {
    let req = kprs::messages::ProduceRequest::decode(&mut bytes.clone(), 9).unwrap();
    let mut n = 0;
    for t in &req.topic_data {
        for p in &t.partition_data {
            let Some(records) = &p.records else { continue };
            for set in kprs::records::RecordBatchDecoder::decode_all(&mut records.clone()).unwrap()
            {
                for r in &set.records {
                    n += r.value.as_ref().map_or(0, |v| v.len()) + r.headers.len();
                    black_box(r);
                }
            }
        }
    }
    n
}

fn bench_produce(c: &mut Criterion) {
    let bytes = encode(&produce_request(), 9);
    let theirs = kprs::messages::ProduceRequest::decode(&mut bytes.clone(), 9).unwrap();
    let ours = ProduceRequest::decode(&mut bytes.clone(), 9).unwrap();
    assert_eq!(
        ours_deep(&bytes),
        kprs_deep(&bytes),
        "both decoders see the same records"
    );
    let mut g = c.benchmark_group("produce_v9");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode_shallow/ours", |b| {
        b.iter(|| ProduceRequest::decode(&mut black_box(bytes.clone()), 9).unwrap())
    });
    g.bench_function("decode_shallow/kafka-protocol", |b| {
        b.iter(|| kprs::messages::ProduceRequest::decode(&mut black_box(bytes.clone()), 9).unwrap())
    });
    g.bench_function("decode_deep/ours", |b| {
        b.iter(|| ours_deep(black_box(&bytes)))
    });
    g.bench_function("decode_deep/kafka-protocol", |b| {
        b.iter(|| kprs_deep(black_box(&bytes)))
    });
    g.bench_function("encode/ours", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(bytes.len());
            ours.encode(&mut out, 9).unwrap();
            out
        })
    });
    g.bench_function("encode/kafka-protocol", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(bytes.len());
            theirs.encode(&mut out, 9).unwrap();
            out
        })
    });
    g.finish();
}

fn bench_metadata(c: &mut Criterion) {
    let bytes = encode(&metadata_response(), 12);
    let theirs = kprs::messages::MetadataResponse::decode(&mut bytes.clone(), 12).unwrap();
    let ours = MetadataResponse::decode(&mut bytes.clone(), 12).unwrap();
    let mut check = BytesMut::new();
    theirs.encode(&mut check, 12).unwrap();
    assert_eq!(check.freeze(), bytes, "both codecs agree on the bytes");
    let mut g = c.benchmark_group("metadata_v12");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode/ours", |b| {
        b.iter(|| MetadataResponse::decode(&mut black_box(bytes.clone()), 12).unwrap())
    });
    g.bench_function("decode/kafka-protocol", |b| {
        b.iter(|| {
            kprs::messages::MetadataResponse::decode(&mut black_box(bytes.clone()), 12).unwrap()
        })
    });
    g.bench_function("encode/ours", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(bytes.len());
            ours.encode(&mut out, 12).unwrap();
            out
        })
    });
    g.bench_function("encode/kafka-protocol", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(bytes.len());
            theirs.encode(&mut out, 12).unwrap();
            out
        })
    });
    g.finish();
}

const BATCH_BYTES: usize = 1 << 20;
const VALUE_LEN: usize = 100;

fn record_count() -> usize {
    // A 100-byte value with a null key and no headers takes 108 bytes as a v2 record.
    BATCH_BYTES / (VALUE_LEN + 8)
}

fn kprs_records(n: usize) -> Vec<kprs::records::Record> {
    (0..n)
        .map(|i| kprs::records::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: kprs::records::TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: TS + i as i64,
            key: None,
            value: Some(Bytes::from(vec![b'x'; VALUE_LEN])),
            headers: Default::default(),
        })
        .collect()
}

fn bench_batch_encode(c: &mut Criterion) {
    let n = record_count();
    let value = vec![b'x'; VALUE_LEN];
    let theirs = kprs_records(n);
    let mut g = c.benchmark_group("batch_encode_1mib");
    g.throughput(Throughput::Bytes(BATCH_BYTES as u64));
    g.sample_size(30);
    for (name, ours_c, their_c) in [
        ("none", Compression::None, kprs::records::Compression::None),
        ("gzip", Compression::Gzip, kprs::records::Compression::Gzip),
        (
            "snappy",
            Compression::Snappy,
            kprs::records::Compression::Snappy,
        ),
        ("lz4", Compression::Lz4, kprs::records::Compression::Lz4),
        ("zstd", Compression::Zstd, kprs::records::Compression::Zstd),
    ] {
        g.bench_function(format!("{name}/ours"), |b| {
            b.iter(|| {
                let mut builder = RecordBatchBuilder::with_capacity(ours_c, BATCH_BYTES + 4096);
                for i in 0..n {
                    builder.append(TS + i as i64, None, Some(&value)).unwrap();
                }
                builder.finish().unwrap()
            })
        });
        g.bench_function(format!("{name}/kafka-protocol"), |b| {
            let opts = kprs::records::RecordEncodeOptions {
                version: 2,
                compression: their_c,
            };
            b.iter(|| {
                let mut out = BytesMut::with_capacity(BATCH_BYTES + 4096);
                kprs::records::RecordBatchEncoder::encode(&mut out, &theirs, &opts).unwrap();
                out
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_produce, bench_metadata, bench_batch_encode);
criterion_main!(benches);
