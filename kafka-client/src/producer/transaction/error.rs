//! How a transactional failure leaves the producer, as Java's `TransactionManager` decides.
//!
//! Owns: [`TxnErrorClass`] (retriable / abortable / fatal / fenced), the mapping of Kafka
//! error codes to it ([`classify`]), and [`TransactionError`], the typed error the
//! transactional API returns. Must not: send anything or change state.

use std::fmt;

use crate::error::{Error, KafkaCode};

/// What a failure means for the transaction and the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnErrorClass {
    /// A later attempt of the same request may succeed (coordinator moving or loading,
    /// a concurrent transaction still completing): the client retries by itself.
    Retriable,
    /// The current transaction cannot commit; [`abort_transaction`] makes the producer
    /// usable again (topic/group authorization, a failed batch, a stale group member).
    ///
    /// [`abort_transaction`]: crate::Producer::abort_transaction
    Abortable,
    /// The producer cannot continue (authorization of the transactional id, an invalid
    /// transaction state, an unsupported broker); only closing it is left.
    Fatal,
    /// Another producer with the same `transactional.id` took over (PRODUCER_FENCED,
    /// INVALID_PRODUCER_EPOCH): this one is a zombie and must be closed. Fatal.
    Fenced,
}

/// The class of a Kafka error code answered to a transactional request (InitProducerId,
/// AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn) or to a transactional
/// Produce.
pub fn classify(code: KafkaCode) -> TxnErrorClass {
    match code {
        KafkaCode::ProducerFenced | KafkaCode::InvalidProducerEpoch => TxnErrorClass::Fenced,
        KafkaCode::TransactionalIdAuthorizationFailed
        | KafkaCode::ClusterAuthorizationFailed
        | KafkaCode::InvalidTxnState
        | KafkaCode::InvalidProducerIdMapping
        | KafkaCode::InvalidTransactionTimeout
        | KafkaCode::UnsupportedVersion
        | KafkaCode::UnsupportedForMessageFormat
        | KafkaCode::TransactionalIdNotFound
        | KafkaCode::InvalidRequest => TxnErrorClass::Fatal,
        KafkaCode::CoordinatorLoadInProgress
        | KafkaCode::CoordinatorNotAvailable
        | KafkaCode::NotCoordinator
        | KafkaCode::ConcurrentTransactions
        | KafkaCode::RequestTimedOut
        | KafkaCode::NetworkException
        | KafkaCode::UnknownTopicOrPartition => TxnErrorClass::Retriable,
        // TOPIC/GROUP_AUTHORIZATION_FAILED, OPERATION_NOT_ATTEMPTED, TRANSACTION_ABORTABLE,
        // UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID, sequence errors and
        // anything else a single request can fail with: abort and go on.
        _ => TxnErrorClass::Abortable,
    }
}

/// The class of a client error met while a transaction was open: broker codes per
/// [`classify`], network failures retriable, anything else (a batch that timed out, a
/// record too large) abortable.
pub fn classify_error(error: &Error) -> TxnErrorClass {
    match error {
        Error::Transaction(t) => t.class,
        Error::Broker { code, .. } => classify(*code),
        e if e.is_retriable() => TxnErrorClass::Retriable,
        _ => TxnErrorClass::Abortable,
    }
}

/// A failed transactional operation: its class and what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionError {
    /// Abortable, fatal or fenced (never retriable: those are retried internally until
    /// `max.block.ms`, then reported as a timeout).
    pub class: TxnErrorClass,
    /// The Kafka code behind it, if the broker answered one.
    pub code: Option<KafkaCode>,
    /// What the producer was doing and why it failed.
    pub message: String,
}

impl TransactionError {
    /// An error of `class` with a message.
    pub fn new(class: TxnErrorClass, code: Option<KafkaCode>, message: impl Into<String>) -> Self {
        TransactionError {
            class,
            code,
            message: message.into(),
        }
    }

    /// From a client error: its class ([`classify_error`], a retriable one counted as
    /// abortable since it was not retried further) and text.
    pub fn from_error(error: &Error, doing: &str) -> Self {
        if let Error::Transaction(t) = error {
            return t.clone();
        }
        let class = match classify_error(error) {
            TxnErrorClass::Retriable => TxnErrorClass::Abortable,
            c => c,
        };
        TransactionError::new(class, error.kafka_code(), format!("{doing}: {error}"))
    }

    /// Whether another producer with the same `transactional.id` fenced this one.
    pub fn is_fenced(&self) -> bool {
        self.class == TxnErrorClass::Fenced
    }

    /// Whether aborting the transaction makes the producer usable again.
    pub fn is_abortable(&self) -> bool {
        self.class == TxnErrorClass::Abortable
    }

    /// Whether the producer can only be closed (fatal or fenced).
    pub fn is_fatal(&self) -> bool {
        matches!(self.class, TxnErrorClass::Fatal | TxnErrorClass::Fenced)
    }
}

impl fmt::Display for TransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.class {
            TxnErrorClass::Retriable => "retriable",
            TxnErrorClass::Abortable => "abortable",
            TxnErrorClass::Fatal => "fatal",
            TxnErrorClass::Fenced => "fenced",
        };
        write!(f, "{class} transaction error: {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_as_java_does() {
        assert_eq!(classify(KafkaCode::ProducerFenced), TxnErrorClass::Fenced);
        assert_eq!(
            classify(KafkaCode::InvalidProducerEpoch),
            TxnErrorClass::Fenced
        );
        assert_eq!(
            classify(KafkaCode::TransactionalIdAuthorizationFailed),
            TxnErrorClass::Fatal
        );
        assert_eq!(classify(KafkaCode::InvalidTxnState), TxnErrorClass::Fatal);
        assert_eq!(
            classify(KafkaCode::ConcurrentTransactions),
            TxnErrorClass::Retriable
        );
        assert_eq!(
            classify(KafkaCode::CoordinatorLoadInProgress),
            TxnErrorClass::Retriable
        );
        assert_eq!(
            classify(KafkaCode::NotCoordinator),
            TxnErrorClass::Retriable
        );
        assert_eq!(
            classify(KafkaCode::TopicAuthorizationFailed),
            TxnErrorClass::Abortable
        );
        assert_eq!(
            classify(KafkaCode::GroupAuthorizationFailed),
            TxnErrorClass::Abortable
        );
        assert_eq!(
            classify(KafkaCode::TransactionAbortable),
            TxnErrorClass::Abortable
        );
        assert_eq!(
            classify(KafkaCode::IllegalGeneration),
            TxnErrorClass::Abortable
        );
    }

    #[test]
    fn client_errors_are_classified() {
        let timeout = Error::Timeout("batch".into());
        assert_eq!(classify_error(&timeout), TxnErrorClass::Retriable);
        let t = TransactionError::from_error(&timeout, "produce");
        assert!(t.is_abortable() && !t.is_fatal());
        let fenced = Error::broker(KafkaCode::ProducerFenced.code(), "EndTxn");
        let t = TransactionError::from_error(&fenced, "commit");
        assert!(t.is_fenced() && t.is_fatal());
        let too_large = Error::RecordTooLarge { size: 2, limit: 1 };
        assert_eq!(classify_error(&too_large), TxnErrorClass::Abortable);
    }
}
