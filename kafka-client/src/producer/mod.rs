//! The producer: `send` records, get their offsets back.
//!
//! Owns: [`Producer`], which picks a partition ([`partitioner`]), appends to the
//! [`accumulator`] and lets the `sender` task deliver batches. Must not: block the caller
//! beyond `max.block.ms` (metadata of a new topic, or `buffer.memory` full).
//!
//! `send` is a two-step future: awaiting `send` appends the record (this is where
//! backpressure applies) and yields a [`DeliveryFuture`]; awaiting that yields the
//! [`RecordMetadata`] once the broker acknowledged the batch. Dropping the
//! `DeliveryFuture` is the fire-and-forget path.
//!
//! With `transactional.id` set, the producer is transactional (Java's `KafkaProducer`
//! transactions API): [`Producer::init_transactions`] once, then per transaction
//! [`Producer::begin_transaction`], sends, optionally
//! [`Producer::send_offsets_to_transaction`], and [`Producer::commit_transaction`] or
//! [`Producer::abort_transaction`]. Failures are [`Error::Transaction`] with a class
//! (abortable, fatal, fenced) saying what the application may do next.

pub mod accumulator;
pub mod partitioner;
mod record;
mod sender;
pub mod transaction;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use self::accumulator::{Accumulator, AccumulatorConfig};
pub use self::partitioner::{murmur2, Partitioner, StickyPartitioner};
pub use self::record::{DeliveryFuture, ProducerRecord, RecordMetadata};
use self::sender::Sender;
use self::transaction::{TransactionError, TransactionManager, TxnErrorClass, TxnSettings};
use crate::config::ProducerConfig;
use crate::consumer::ConsumerGroupMetadata;
use crate::error::{Error, Result};
use crate::net::{Metadata, Pool};
use crate::types::{now_ms, TopicPartition};

/// An asynchronous Kafka producer. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct Producer {
    cfg: ProducerConfig,
    acc: Arc<Accumulator>,
    metadata: Arc<Metadata>,
    sticky: StickyPartitioner,
    custom: Option<Box<dyn Partitioner>>,
    sender: Arc<Sender>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// The task failing batches at `delivery.timeout.ms`.
    expiry: JoinHandle<()>,
    /// The transaction manager (with `transactional.id`).
    txn: Option<Arc<TransactionManager>>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sender")
    }
}

impl Producer {
    /// Starts a producer (its sender task runs on the current tokio runtime). Connects
    /// lazily, on the first send.
    pub fn new(cfg: ProducerConfig) -> Result<Producer> {
        Self::with_partitioner(cfg, None)
    }

    /// Starts a producer with a custom partitioner, consulted for records without an
    /// explicit partition.
    pub fn with_partitioner(
        cfg: ProducerConfig,
        custom: Option<Box<dyn Partitioner>>,
    ) -> Result<Producer> {
        let cfg = cfg.validate()?;
        let pool = Arc::new(Pool::new(&cfg.common));
        pool.check()?;
        let metadata = Arc::new(Metadata::new(pool, &cfg.common, true));
        let acc = Arc::new(Accumulator::new(AccumulatorConfig {
            batch_size: cfg.batch_size,
            linger: cfg.linger,
            buffer_memory: cfg.buffer_memory,
            max_request_size: cfg.max_request_size,
            compression: cfg.compression,
            delivery_timeout: cfg.delivery_timeout,
            max_in_flight_per_partition: if cfg.enable_idempotence {
                cfg.max_in_flight.clamp(1, 5)
            } else {
                1
            },
            transactional: cfg.transactional_id.is_some(),
        }));
        let txn = cfg.transactional_id.as_ref().map(|id| {
            Arc::new(TransactionManager::new(
                TxnSettings {
                    transactional_id: id.clone(),
                    timeout: cfg.transaction_timeout,
                    max_block: cfg.max_block,
                    retry_backoff: cfg.common.retry_backoff,
                },
                metadata.pool().clone(),
            ))
        });
        let sender = Sender::new(acc.clone(), metadata.clone(), cfg.clone(), txn.clone());
        let task = tokio::spawn(sender.clone().run());
        let expiry = tokio::spawn(sender.clone().run_expiry());
        Ok(Producer {
            sticky: StickyPartitioner::new(cfg.batch_size),
            cfg,
            acc,
            metadata,
            custom,
            sender,
            task: std::sync::Mutex::new(Some(task)),
            expiry,
            txn,
        })
    }

    /// The effective configuration (after [`ProducerConfig::validate`]).
    pub fn config(&self) -> &ProducerConfig {
        &self.cfg
    }

    /// Appends a record to its partition's batch and returns its [`DeliveryFuture`].
    ///
    /// Waits up to `max.block.ms` for the topic's metadata and for buffer memory.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        if self.sender.stop.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        let deadline = Instant::now() + self.cfg.max_block;
        let topic = self.metadata.topic(&record.topic, deadline).await?;
        let n = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
        let partition = match record.partition {
            Some(p) if (0..n).contains(&p) => p,
            Some(p) => {
                return Err(Error::InvalidPartition {
                    topic: record.topic,
                    partition: p,
                })
            }
            None => self.choose_partition(&record, n)?,
        };
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let tp = TopicPartition::new(&record.topic, partition);
        if let Some(txn) = &self.txn {
            txn.add_partition(&tp)?;
        }
        self.acc
            .append(
                &tp,
                timestamp,
                record.key.as_deref(),
                record.value.as_deref(),
                &record.headers,
                deadline,
            )
            .await
    }

    fn choose_partition(&self, record: &ProducerRecord, n: i32) -> Result<i32> {
        if let Some(custom) = &self.custom {
            if let Some(p) = custom.partition(&record.topic, record.key.as_deref(), n) {
                if (0..n).contains(&p) {
                    return Ok(p);
                }
                return Err(Error::InvalidPartition {
                    topic: record.topic.clone(),
                    partition: p,
                });
            }
        }
        match (&record.key, self.cfg.partitioner_ignore_keys) {
            (Some(key), false) => Ok(partitioner::default_partition(key, n)),
            _ => {
                let size = accumulator::record_size_upper_bound(
                    record.key.as_deref(),
                    record.value.as_deref(),
                    &record.headers,
                );
                Ok(self.sticky.partition(&record.topic, n, size))
            }
        }
    }

    /// Sends a record and waits for its acknowledgement.
    pub async fn send_and_wait(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        self.send(record).await?.await
    }

    /// Makes every buffered record ready now and waits until all records sent before the
    /// call completed (successfully or not).
    pub async fn flush(&self) {
        let waits = self.acc.begin_flush();
        for mut rx in waits {
            let _ = rx.wait_for(Option::is_some).await;
        }
        self.acc.end_flush();
    }

    fn txn(&self) -> Result<&Arc<TransactionManager>> {
        self.txn.as_ref().ok_or_else(|| {
            Error::IllegalState("transactions need transactional.id to be set".into())
        })
    }

    /// The state of the transactional producer (`None` without `transactional.id`).
    pub fn transaction_state(&self) -> Option<transaction::TxnState> {
        self.txn.as_ref().map(|t| t.state())
    }

    /// Registers the `transactional.id` with its transaction coordinator
    /// (FindCoordinator, InitProducerId): gets the producer id and a new epoch, which
    /// fences any earlier producer with the same id and completes (aborts) a transaction
    /// it left open. Call once, before the first transaction. Retries the coordinator's
    /// retriable answers until `max.block.ms`; a timeout may be retried by calling again.
    pub async fn init_transactions(&self) -> Result<()> {
        self.txn()?.init().await
    }

    /// Opens a transaction: records sent from now on, and offsets given to
    /// [`send_offsets_to_transaction`](Self::send_offsets_to_transaction), commit or abort
    /// together.
    pub fn begin_transaction(&self) -> Result<()> {
        self.txn()?.begin()
    }

    /// Adds the consumer's offsets (the next offset to read per input partition) to the
    /// transaction, so they are committed to the consumer's group if and only if the
    /// transaction commits. `group` comes from
    /// [`Consumer::group_metadata`](crate::Consumer::group_metadata), so a consumer that
    /// left the group (a zombie) cannot commit (KIP-447).
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &[(TopicPartition, i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        self.txn()?.send_offsets(offsets, group).await
    }

    /// Commits the transaction: sends every buffered record, then EndTxn(commit). If a
    /// record of the transaction failed, the commit fails with an abortable
    /// [`Error::Transaction`] and [`abort_transaction`](Self::abort_transaction) must
    /// follow.
    pub async fn commit_transaction(&self) -> Result<()> {
        let txn = self.txn()?;
        txn.begin_end(true)?;
        self.flush().await;
        txn.end(true).await.map(drop)
    }

    /// Aborts the transaction: drops the records not sent yet (their delivery futures
    /// fail), waits for those in flight, then EndTxn(abort): read_committed consumers never
    /// see the transaction's records, and its offsets are not committed.
    pub async fn abort_transaction(&self) -> Result<()> {
        let txn = self.txn()?;
        txn.begin_end(false)?;
        let dropped_sequenced = self
            .acc
            .abort_all(&Error::Transaction(TransactionError::new(
                TxnErrorClass::Abortable,
                None,
                "the transaction was aborted",
            )));
        if dropped_sequenced {
            txn.note_sequence_gap();
        }
        self.flush().await;
        if txn.end(false).await? {
            // a new epoch: every partition's sequence starts again at 0
            self.acc.reset_sequences();
        }
        Ok(())
    }

    /// Number of partitions of `topic` (fetching metadata if needed).
    pub async fn partitions_for(&self, topic: &str) -> Result<usize> {
        let deadline = Instant::now() + self.cfg.max_block;
        Ok(self.metadata.topic(topic, deadline).await?.partitions.len())
    }

    /// Stops accepting records, delivers everything buffered (each batch still bounded by
    /// `delivery.timeout.ms`), then stops the sender and closes connections. A transaction
    /// still open (or failed) is aborted first, as Java's producer does on close.
    pub async fn close(&self) -> Result<()> {
        if let Some(txn) = &self.txn {
            if matches!(
                txn.state(),
                transaction::TxnState::InTransaction | transaction::TxnState::AbortableError
            ) {
                tracing::info!("aborting the open transaction on close");
                if let Err(e) = self.abort_transaction().await {
                    tracing::warn!(error = %e, "aborting the open transaction on close failed");
                }
            }
        }
        self.acc.close();
        self.flush().await;
        self.sender.stop.store(true, Ordering::SeqCst);
        self.acc.wake.notify_one();
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
        self.expiry.abort();
        self.metadata.pool().close_all();
        Ok(())
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.sender.stop.store(true, Ordering::SeqCst);
        self.acc.close();
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        self.expiry.abort();
        self.acc.abort_all(&Error::Closed);
    }
}
