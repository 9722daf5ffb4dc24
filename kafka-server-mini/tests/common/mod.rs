//! Helpers shared by the integration tests: an in-process broker and a raw codec client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::{Bytes, BytesMut};
use krafty_protocol::frame::{decode_typed_response, split_frame, write_typed_request};
use krafty_protocol::generated::fetch_request::{FetchPartition, FetchTopic};
use krafty_protocol::generated::produce_request::{PartitionProduceData, TopicProduceData};
use krafty_protocol::generated::{FetchRequest, FetchResponse, ProduceRequest, ProduceResponse};
use krafty_protocol::message::ClientRequest;
use krafty_protocol::records::{
    BatchIter, Compression, DecodeOptions, RawBatch, RecordBatchBuilder,
};
use krafty_protocol::wire::StrBytes;
use krafty_server::{Broker, BrokerConfig, BrokerHandle};

pub mod certs;
pub mod peer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn start(dir: &std::path::Path) -> BrokerHandle {
    let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir);
    c.set("group.initial.rebalance.delay.ms", "0").unwrap();
    Broker::start(c).await.unwrap()
}

pub struct Client {
    pub stream: TcpStream,
    buf: BytesMut,
    next_corr: i32,
}

impl Client {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: BytesMut::new(),
            next_corr: 1,
        }
    }

    pub fn encode<R: ClientRequest>(&mut self, version: i16, body: &R) -> (i32, BytesMut) {
        let corr = self.next_corr;
        self.next_corr += 1;
        let mut out = BytesMut::new();
        let id = StrBytes::from("it-client");
        write_typed_request(&mut out, corr, Some(&id), version, body).unwrap();
        (corr, out)
    }

    pub async fn send<R: ClientRequest>(&mut self, version: i16, body: &R) -> i32 {
        let (corr, out) = self.encode(version, body);
        self.stream.write_all(&out).await.unwrap();
        corr
    }

    /// The next response frame (without size prefix); `None` at EOF.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(f) = split_frame(&mut self.buf, 1 << 30).unwrap() {
                return Some(f.freeze());
            }
            let n = self.stream.read_buf(&mut self.buf).await.ok()?;
            if n == 0 {
                return None;
            }
        }
    }

    pub async fn call<R: ClientRequest>(&mut self, version: i16, body: &R) -> R::Response {
        let corr = self.send(version, body).await;
        let frame = self.read_frame().await.expect("response");
        let (h, r) = decode_typed_response::<R::Response>(frame, version).unwrap();
        assert_eq!(h.correlation_id, corr);
        r
    }
}

pub fn batch(n: usize, prefix: &str) -> Bytes {
    let mut b = RecordBatchBuilder::new(Compression::None);
    for i in 0..n {
        let v = format!("{prefix}-{i}");
        b.append(
            1_700_000_000_000 + i as i64,
            Some(b"k".as_slice()),
            Some(v.as_bytes()),
        )
        .unwrap();
    }
    b.finish().unwrap()
}

pub fn produce_req(topic: &str, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: StrBytes::from(topic.to_string()),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub async fn produce(c: &mut Client, topic: &str, partition: i32, records: Bytes) -> (i16, i64) {
    let r: ProduceResponse = c.call(9, &produce_req(topic, partition, records, -1)).await;
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

pub fn fetch_req(topic: &str, partition: i32, offset: i64, max_wait_ms: i32) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        topics: vec![FetchTopic {
            topic: StrBytes::from(topic.to_string()),
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Values of every record in a fetched `records` field (v2 batches or legacy sets).
pub fn values(records: &Bytes) -> Vec<(i64, String)> {
    let opts = DecodeOptions::default();
    let mut out = Vec::new();
    for entry in BatchIter::new(records.clone(), opts) {
        match entry.unwrap() {
            RawBatch::V2(raw) => {
                let b = raw.decode(&opts).unwrap();
                for r in &b.records {
                    let v = r
                        .value
                        .as_ref()
                        .map(|v| String::from_utf8_lossy(v).to_string());
                    out.push((b.offset_of(r), v.unwrap_or_default()));
                }
            }
            RawBatch::Legacy(m) => {
                for m in m.inner_messages(&opts).unwrap() {
                    let v = m
                        .value
                        .as_ref()
                        .map(|v| String::from_utf8_lossy(v).to_string());
                    out.push((m.offset, v.unwrap_or_default()));
                }
            }
        }
    }
    out
}

pub async fn fetch_all(
    c: &mut Client,
    topic: &str,
    partition: i32,
    version: i16,
) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    loop {
        let next = out.last().map_or(0, |(o, _)| o + 1);
        let r: FetchResponse = c.call(version, &fetch_req(topic, partition, next, 0)).await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let got = values(p.records.as_ref().unwrap());
        let got: Vec<_> = got.into_iter().filter(|(o, _)| *o >= next).collect();
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}
