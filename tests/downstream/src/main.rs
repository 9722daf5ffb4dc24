//! Produces and consumes lz4-compressed records through an in-process kafka-server-mini,
//! using krafty-client built with `default-features = false` and only the `lz4` codec, and
//! checks that the codecs left out are typed errors. Exits non-zero on any failure.

use std::time::Duration;

use krafty_client::protocol::records::{
    Compression, DecodeOptions, RawRecordBatch, RecordBatchBuilder,
};
use krafty_client::protocol::ErrorKind;
use krafty_client::{
    ConfigError, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
};
use krafty_server::{Broker, BrokerConfig};

const TOPIC: &str = "downstream";
const RECORDS: usize = 20;

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    disabled_codecs_are_typed_errors()?;

    let dir = tempfile::tempdir()?;
    let broker = Broker::start(BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path())).await?;
    let bootstrap = broker.local_addr().to_string();

    let producer = Producer::new(
        ProducerConfig::new(&bootstrap)?
            .with("compression.type", "lz4")?
            .with("linger.ms", "5")?,
    )?;
    let mut deliveries = Vec::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new(TOPIC)
            .key(format!("k{i}"))
            .value(format!("value {i}"));
        deliveries.push(producer.send(record).await?);
    }
    for d in deliveries {
        d.await?;
    }
    producer.close().await?;

    let consumer = Consumer::new(
        ConsumerConfig::new(&bootstrap)?
            .with("group.id", "downstream")?
            .with("auto.offset.reset", "earliest")?
            .with("enable.auto.commit", "false")?,
    )?;
    consumer.subscribe(&[TOPIC])?;
    let mut seen = Vec::new();
    for _ in 0..200 {
        for r in consumer.poll(Duration::from_millis(200)).await? {
            let value = r.value.as_deref().unwrap_or_default();
            seen.push(String::from_utf8_lossy(value).into_owned());
        }
        if seen.len() >= RECORDS {
            break;
        }
    }
    consumer.commit_sync().await?;
    consumer.close().await;
    broker.shutdown().await?;

    seen.sort();
    let mut want: Vec<String> = (0..RECORDS).map(|i| format!("value {i}")).collect();
    want.sort();
    if seen != want {
        return Err(format!("consumed {seen:?}, want {want:?}").into());
    }
    println!("downstream: produced and consumed {RECORDS} lz4 records; disabled codecs are typed errors");
    Ok(())
}

/// zstd is not built in: configuring it is a config error, building a batch with it and
/// reading a batch that uses it are `CompressionDisabled`, never a panic.
fn disabled_codecs_are_typed_errors() -> Result<(), BoxError> {
    if Compression::Zstd.is_enabled() || !Compression::Lz4.is_enabled() {
        return Err("expected lz4 built in and zstd left out".into());
    }
    match ProducerConfig::new("localhost:9092")?.with("compression.type", "zstd") {
        Err(ConfigError::InvalidValue { .. }) => {}
        other => return Err(format!("compression.type=zstd gave {other:?}").into()),
    }

    let mut builder = RecordBatchBuilder::new(Compression::Zstd);
    builder.append(0, Some(b"k"), Some(b"v"))?;
    match builder.finish() {
        Err(e) if *e.kind() == ErrorKind::CompressionDisabled("zstd") => {}
        other => return Err(format!("building a zstd batch gave {other:?}").into()),
    }

    // An uncompressed batch relabelled as zstd (attributes at bytes 21..23).
    let mut builder = RecordBatchBuilder::new(Compression::None);
    builder.append(0, Some(b"k"), Some(b"v"))?;
    let mut bytes = builder.finish()?.to_vec();
    bytes[22] = (bytes[22] & !0x07) | Compression::Zstd.id();
    let batch = RawRecordBatch::new(bytes.into())?;
    let opts = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    match batch.records(&opts) {
        Err(e) if *e.kind() == ErrorKind::CompressionDisabled("zstd") => Ok(()),
        Err(e) => Err(format!("reading a zstd batch gave {e}").into()),
        Ok(_) => Err("reading a zstd batch succeeded without zstd".into()),
    }
}
