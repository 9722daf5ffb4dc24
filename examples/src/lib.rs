//! Runnable examples of the kafka-rs SDK.
//!
//! Every binary in `src/bin/` takes `--bootstrap HOST:PORT`; without it, it starts a
//! [`krafty_server`] broker in-process (see [`start_or_connect`]) so it runs with
//! nothing else installed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, Error, KafkaCode, Producer, ProducerConfig,
};
use krafty_server::{Broker, BrokerConfig, BrokerHandle};

/// The error type of the examples' `main`s.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A kafka-server-mini broker running in this process, with its temporary data directory.
pub struct LocalBroker {
    handle: BrokerHandle,
    _dir: tempfile::TempDir,
}

impl LocalBroker {
    /// The broker's handle.
    pub fn handle(&self) -> &BrokerHandle {
        &self.handle
    }

    /// Stops the broker and removes its data directory.
    pub async fn shutdown(self) -> Result<(), BoxError> {
        self.handle.shutdown().await?;
        Ok(())
    }
}

/// Returns `(bootstrap, broker)`: the given bootstrap address and `None`, or, when none is
/// given, the address of a kafka-server-mini started in-process on `127.0.0.1:0` with a
/// temporary data dir and a zero initial rebalance delay (so groups form at once).
pub async fn start_or_connect(
    bootstrap: Option<String>,
) -> Result<(String, Option<LocalBroker>), BoxError> {
    if let Some(b) = bootstrap {
        return Ok((b, None));
    }
    let dir = tempfile::tempdir()?;
    let mut config = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    config.set("group.initial.rebalance.delay.ms", "0")?;
    let handle = Broker::start(config).await?;
    let bootstrap = handle.local_addr().to_string();
    Ok((bootstrap, Some(LocalBroker { handle, _dir: dir })))
}

/// Shuts the in-process broker down, if there is one.
pub async fn shutdown(broker: Option<LocalBroker>) -> Result<(), BoxError> {
    if let Some(b) = broker {
        b.shutdown().await?;
    }
    Ok(())
}

/// `prefix-<millis>`: a name unique per run, so reruns against a long-lived broker start clean.
pub fn unique(prefix: &str) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("{prefix}-{ms}")
}

/// An admin client.
pub fn admin(bootstrap: &str) -> krafty_client::Result<Admin> {
    Ok(Admin::new(AdminConfig::new(bootstrap)?))
}

/// A producer with default settings (acks=all, idempotence as configured by default).
pub fn producer(bootstrap: &str) -> krafty_client::Result<Producer> {
    Producer::new(ProducerConfig::new(bootstrap)?.with("linger.ms", "5")?)
}

/// A group consumer reading from the earliest offset, with short session timeouts and
/// `enable.auto.commit=false` (the examples commit explicitly).
pub fn group_consumer(bootstrap: &str, group: &str) -> krafty_client::Result<Consumer> {
    let cfg = ConsumerConfig::new(bootstrap)?
        .with("group.id", group)?
        .with("auto.offset.reset", "earliest")?
        .with("enable.auto.commit", "false")?
        .with("heartbeat.interval.ms", "500")?
        .with("session.timeout.ms", "6000")?
        .with("max.poll.interval.ms", "30000")?;
    Consumer::new(cfg)
}

/// Creates `topic` with `partitions` partitions (replication factor 1); an existing topic
/// is fine.
pub async fn ensure_topic(
    admin: &Admin,
    topic: &str,
    partitions: i32,
) -> krafty_client::Result<()> {
    match admin.create_topic(topic, partitions, 1).await {
        Ok(()) => Ok(()),
        Err(Error::Broker {
            code: KafkaCode::TopicAlreadyExists,
            ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `topic` (`partitions` partitions, if missing) and writes `count` records to
/// it, record `i` being `record(i)` = (key, value), each acknowledged before the next; prints
/// `seeded N records into TOPIC`. Used by the consumer examples when they run on their
/// in-process broker, so there is something to read.
pub async fn seed(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    count: usize,
    record: impl Fn(usize) -> (String, String),
) -> Result<(), BoxError> {
    let admin = admin(bootstrap)?;
    ensure_topic(&admin, topic, partitions).await?;
    admin.close();
    let producer = producer(bootstrap)?;
    for i in 0..count {
        let (key, value) = record(i);
        producer
            .send_and_wait(
                krafty_client::ProducerRecord::new(topic)
                    .key(key)
                    .value(value),
            )
            .await?;
    }
    producer.close().await?;
    println!("seeded {count} records into {topic}");
    Ok(())
}

/// How long the examples poll before giving up.
pub const POLL_DEADLINE: Duration = Duration::from_secs(30);

/// Renders a key or value for printing: UTF-8 text, `<null>`, or `<N bytes>`.
pub fn show(b: Option<&Bytes>) -> String {
    match b {
        None => "<null>".to_string(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            Err(_) => format!("<{} bytes>", b.len()),
        },
    }
}
