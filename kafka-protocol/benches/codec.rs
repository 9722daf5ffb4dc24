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

mod workload;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use workload::*;

fn bench_produce(c: &mut Criterion) {
    let bytes = encode(&produce_request(), 9);
    let theirs = kprs_shallow(&bytes);
    let ours = ours_shallow(&bytes);
    assert_eq!(
        ours_deep(&bytes),
        kprs_deep(&bytes),
        "both decoders see the same records"
    );
    let len = bytes.len();
    let mut g = c.benchmark_group("produce_v9");
    g.throughput(Throughput::Bytes(len as u64));
    g.bench_function("decode_shallow/ours", |b| b.iter(|| ours_shallow(&bytes)));
    g.bench_function("decode_shallow/kafka-protocol", |b| {
        b.iter(|| kprs_shallow(&bytes))
    });
    g.bench_function("decode_deep/ours", |b| {
        b.iter(|| ours_deep(black_box(&bytes)))
    });
    g.bench_function("decode_deep/kafka-protocol", |b| {
        b.iter(|| kprs_deep(black_box(&bytes)))
    });
    g.bench_function("encode/ours", |b| b.iter(|| ours_encode(&ours, 9, len)));
    g.bench_function("encode/kafka-protocol", |b| {
        b.iter(|| kprs_encode(&theirs, 9, len))
    });
    g.finish();
}

fn bench_metadata(c: &mut Criterion) {
    let bytes = encode(&metadata_response(), 12);
    let theirs = kprs_metadata(&bytes);
    let ours = ours_metadata(&bytes);
    assert_eq!(
        kprs_encode(&theirs, 12, 0).freeze(),
        bytes,
        "both codecs agree on the bytes"
    );
    let len = bytes.len();
    let mut g = c.benchmark_group("metadata_v12");
    g.throughput(Throughput::Bytes(len as u64));
    g.bench_function("decode/ours", |b| b.iter(|| ours_metadata(&bytes)));
    g.bench_function("decode/kafka-protocol", |b| {
        b.iter(|| kprs_metadata(&bytes))
    });
    g.bench_function("encode/ours", |b| b.iter(|| ours_encode(&ours, 12, len)));
    g.bench_function("encode/kafka-protocol", |b| {
        b.iter(|| kprs_encode(&theirs, 12, len))
    });
    g.finish();
}

fn bench_batch_encode(c: &mut Criterion) {
    let n = record_count();
    let value = vec![b'x'; VALUE_LEN];
    let theirs = kprs_records(n);
    let mut g = c.benchmark_group("batch_encode_1mib");
    g.throughput(Throughput::Bytes(BATCH_BYTES as u64));
    g.sample_size(30);
    for (name, ours_c, their_c) in codecs() {
        g.bench_function(format!("{name}/ours"), |b| {
            b.iter(|| ours_batch_encode(ours_c, &value, n))
        });
        g.bench_function(format!("{name}/kafka-protocol"), |b| {
            b.iter(|| kprs_batch_encode(their_c, &theirs))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_produce, bench_metadata, bench_batch_encode);
criterion_main!(benches);
