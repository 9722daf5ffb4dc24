//! The inputs and operations both codec benchmarks measure (`codec.rs` in time with
//! criterion, `instructions.rs` in instructions under callgrind), each for our codec and
//! for the `kafka-protocol` crate (renamed `kprs`), so the two benches measure the same work.

#![allow(dead_code, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use kprs::protocol::Decodable as _;
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

/// The first record timestamp.
pub const TS: i64 = 1_700_000_000_000;

/// 100 partitions, each with one batch of 10 records (key, 100-byte value, one header).
pub fn produce_request() -> ProduceRequest {
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

pub fn metadata_response() -> MetadataResponse {
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

pub fn encode<M: Message + Encode + Decode>(m: &M, version: i16) -> Bytes {
    let mut out = BytesMut::with_capacity(m.encoded_len(version));
    m.encode(&mut out, version).unwrap();
    out.freeze()
}

pub fn ours_deep(bytes: &Bytes) -> usize {
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

pub fn kprs_deep(bytes: &Bytes) -> usize {
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

/// Size of the encoded batch.
pub const BATCH_BYTES: usize = 1 << 20;
/// Value size of each record in the batch.
pub const VALUE_LEN: usize = 100;

pub fn record_count() -> usize {
    // A 100-byte value with a null key and no headers takes 108 bytes as a v2 record.
    BATCH_BYTES / (VALUE_LEN + 8)
}

pub fn kprs_records(n: usize) -> Vec<kprs::records::Record> {
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

/// Our v2 batch of [`record_count`] records of [`VALUE_LEN`] bytes, with `compression`.
pub fn ours_batch_encode(compression: Compression, value: &[u8], n: usize) -> Bytes {
    let mut builder = RecordBatchBuilder::with_capacity(compression, BATCH_BYTES + 4096);
    for i in 0..n {
        builder.append(TS + i as i64, None, Some(value)).unwrap();
    }
    builder.finish().unwrap()
}

/// The same batch encoded by `kafka-protocol`.
pub fn kprs_batch_encode(
    compression: kprs::records::Compression,
    records: &[kprs::records::Record],
) -> BytesMut {
    let opts = kprs::records::RecordEncodeOptions {
        version: 2,
        compression,
    };
    let mut out = BytesMut::with_capacity(BATCH_BYTES + 4096);
    kprs::records::RecordBatchEncoder::encode(&mut out, records, &opts).unwrap();
    out
}

/// The compression codecs measured, by name, in both crates' terms.
pub fn codecs() -> [(&'static str, Compression, kprs::records::Compression); 5] {
    [
        ("none", Compression::None, kprs::records::Compression::None),
        ("gzip", Compression::Gzip, kprs::records::Compression::Gzip),
        (
            "snappy",
            Compression::Snappy,
            kprs::records::Compression::Snappy,
        ),
        ("lz4", Compression::Lz4, kprs::records::Compression::Lz4),
        ("zstd", Compression::Zstd, kprs::records::Compression::Zstd),
    ]
}

/// Our Produce v9 decode, batches kept as bytes.
pub fn ours_shallow(bytes: &Bytes) -> ProduceRequest {
    ProduceRequest::decode(&mut black_box(bytes.clone()), 9).unwrap()
}

/// `kafka-protocol`'s Produce v9 decode (it too keeps batches as bytes).
pub fn kprs_shallow(bytes: &Bytes) -> kprs::messages::ProduceRequest {
    kprs::messages::ProduceRequest::decode(&mut black_box(bytes.clone()), 9).unwrap()
}

/// Our encode of `m` at `version` into a buffer of `len` bytes.
pub fn ours_encode<M: Encode>(m: &M, version: i16, len: usize) -> BytesMut {
    let mut out = BytesMut::with_capacity(len);
    m.encode(&mut out, version).unwrap();
    out
}

/// `kafka-protocol`'s encode of `m` at `version` into a buffer of `len` bytes.
pub fn kprs_encode<M: kprs::protocol::Encodable>(m: &M, version: i16, len: usize) -> BytesMut {
    let mut out = BytesMut::with_capacity(len);
    m.encode(&mut out, version).unwrap();
    out
}

/// Our Metadata v12 response decode.
pub fn ours_metadata(bytes: &Bytes) -> MetadataResponse {
    MetadataResponse::decode(&mut black_box(bytes.clone()), 12).unwrap()
}

/// `kafka-protocol`'s Metadata v12 response decode.
pub fn kprs_metadata(bytes: &Bytes) -> kprs::messages::MetadataResponse {
    kprs::messages::MetadataResponse::decode(&mut black_box(bytes.clone()), 12).unwrap()
}
