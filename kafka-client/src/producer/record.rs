//! The records an application hands to the producer and what it gets back.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;

use crate::error::{Error, Result};

/// A record to send.
///
/// ```
/// use krafty_client::ProducerRecord;
/// let r = ProducerRecord::new("events").key("user-1").value("clicked").header("trace", "abc");
/// assert_eq!(r.topic, "events");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// An explicit partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// The key; `None` is a null key.
    pub key: Option<Bytes>,
    /// The value; `None` is a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// The create timestamp in ms; `None` uses the current time.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with no key, value or headers.
    pub fn new(topic: impl Into<String>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            ..Default::default()
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    #[must_use]
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push((key.into(), Some(value.into())));
        self
    }

    /// Sends to this partition.
    #[must_use]
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create timestamp (ms since the epoch).
    #[must_use]
    pub fn timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 with `acks=0`.
    pub offset: i64,
    /// The record's timestamp: its create time, or the broker's append time for topics
    /// with `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
}

/// The broker's answer for a whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchResult {
    pub base_offset: i64,
    pub log_append_time: i64,
}

pub(crate) type BatchOutcome = Option<std::result::Result<BatchResult, Error>>;

/// The future outcome of one sent record: await it for its [`RecordMetadata`], or drop it
/// (the record is still sent; fire-and-forget costs no extra allocation).
#[derive(Debug)]
#[must_use = "await the DeliveryFuture to learn the outcome, or drop it explicitly"]
pub struct DeliveryFuture {
    pub(crate) rx: watch::Receiver<BatchOutcome>,
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) offset_delta: i32,
    pub(crate) timestamp: i64,
}

impl DeliveryFuture {
    /// The partition the record was appended to.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    async fn wait(mut self) -> Result<RecordMetadata> {
        let outcome = match self.rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone(),
            Err(_) => return Err(Error::Closed),
        };
        match outcome {
            Some(Ok(r)) => Ok(RecordMetadata {
                topic: self.topic,
                partition: self.partition,
                offset: if r.base_offset < 0 {
                    -1
                } else {
                    r.base_offset + i64::from(self.offset_delta)
                },
                timestamp: if r.log_append_time >= 0 {
                    r.log_append_time
                } else {
                    self.timestamp
                },
            }),
            Some(Err(e)) => Err(e),
            None => Err(Error::Closed),
        }
    }
}

impl IntoFuture for DeliveryFuture {
    type Output = Result<RecordMetadata>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<RecordMetadata>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}
