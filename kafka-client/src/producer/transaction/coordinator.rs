//! Requests to the coordinators of a transactional producer: the transaction coordinator
//! of its `transactional.id` and the group coordinator of a consumer group (TxnOffsetCommit).
//!
//! Owns: finding a coordinator (FindCoordinator, key type 1 or 0) and keeping the
//! transaction coordinator's connection, retrying retriable answers and network errors
//! (a new lookup after NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a lost connection;
//! CONCURRENT_TRANSACTIONS after 20 ms) until `max.block.ms`, and reading the error code
//! of AddPartitionsToTxn and TxnOffsetCommit answers. Must not: know the transaction's
//! state (the manager turns a failure into a state).

use std::sync::Arc;
use std::time::Duration;

use krafty_protocol::generated::{AddPartitionsToTxnResponse, TxnOffsetCommitResponse};
use krafty_protocol::message::ClientRequest;
use tokio::time::Instant;

use super::error::{classify_error, TransactionError, TxnErrorClass};
use crate::error::{Error, KafkaCode, Result};
use crate::net::coordinator_lookup::{find_coordinator, KEY_TYPE_GROUP, KEY_TYPE_TRANSACTION};
use crate::net::{Connection, Pool};

/// The retry backoff after CONCURRENT_TRANSACTIONS (Java's
/// `TransactionManager.ADD_PARTITIONS_RETRY_BACKOFF_MS`), when below `retry.backoff.ms`.
const CONCURRENT_TRANSACTIONS_BACKOFF: Duration = Duration::from_millis(20);

/// How a coordinator request's answer reads: Kafka's error code of the whole request.
pub(super) type CodeOf<R> = fn(&R) -> i16;

/// The retrying request path to the coordinators of one transactional id.
#[derive(Debug)]
pub(super) struct Coordinators {
    pool: Arc<Pool>,
    transactional_id: String,
    /// `max.block.ms`: how long one call retries.
    max_block: Duration,
    /// `retry.backoff.ms`.
    retry_backoff: Duration,
    /// The transaction coordinator's connection, once found.
    txn_coordinator: tokio::sync::Mutex<Option<Connection>>,
}

impl Coordinators {
    /// Requests on behalf of `transactional_id` through `pool`.
    pub fn new(
        pool: Arc<Pool>,
        transactional_id: String,
        max_block: Duration,
        retry_backoff: Duration,
    ) -> Self {
        Coordinators {
            pool,
            transactional_id,
            max_block,
            retry_backoff,
            txn_coordinator: tokio::sync::Mutex::new(None),
        }
    }

    /// A request to the transaction coordinator, retried until `max.block.ms`.
    pub async fn to_txn_coordinator<R: ClientRequest>(
        &self,
        req: &R,
        what: &str,
        code_of: CodeOf<R::Response>,
    ) -> Result<R::Response> {
        let key = self.transactional_id.clone();
        self.call(
            req,
            what,
            code_of,
            &key,
            KEY_TYPE_TRANSACTION,
            &self.txn_coordinator,
        )
        .await
    }

    /// A request to the coordinator of consumer group `group`, retried until
    /// `max.block.ms` (looked up anew for each call).
    pub async fn to_group_coordinator<R: ClientRequest>(
        &self,
        group: &str,
        req: &R,
        what: &str,
        code_of: CodeOf<R::Response>,
    ) -> Result<R::Response> {
        let cache = tokio::sync::Mutex::new(None);
        self.call(req, what, code_of, group, KEY_TYPE_GROUP, &cache)
            .await
    }

    /// Sends `req` to the coordinator of `key` (found with FindCoordinator and kept in
    /// `cache`), retrying retriable answers and network errors with `retry.backoff.ms`
    /// until `max.block.ms`; a non-retriable code is a [`TransactionError`].
    async fn call<R: ClientRequest>(
        &self,
        req: &R,
        what: &str,
        code_of: CodeOf<R::Response>,
        key: &str,
        key_type: i8,
        cache: &tokio::sync::Mutex<Option<Connection>>,
    ) -> Result<R::Response> {
        let deadline = Instant::now() + self.max_block;
        let mut last = String::from("no attempt");
        loop {
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "{what} for transactional id {} within max.block.ms ({last})",
                    self.transactional_id
                )));
            }
            let conn = {
                let mut c = cache.lock().await;
                match c.as_ref().filter(|c| !c.is_closed()) {
                    Some(conn) => Ok(conn.clone()),
                    None => match find_coordinator(&self.pool, key, key_type).await {
                        Ok((_, conn)) => {
                            *c = Some(conn.clone());
                            Ok(conn)
                        }
                        Err(e) => Err(e),
                    },
                }
            };
            let outcome = match conn {
                Ok(conn) => conn.send(req).await,
                Err(e) => Err(e),
            };
            let error = match outcome {
                Ok(resp) => {
                    let code = KafkaCode::from_code(code_of(&resp));
                    if code == KafkaCode::None {
                        return Ok(resp);
                    }
                    Error::Broker {
                        code,
                        context: format!("{what} ({})", self.transactional_id),
                    }
                }
                Err(e) => e,
            };
            let class = classify_error(&error);
            if class != TxnErrorClass::Retriable {
                return Err(Error::Transaction(TransactionError::from_error(
                    &error, what,
                )));
            }
            if !matches!(
                error.kafka_code(),
                Some(KafkaCode::ConcurrentTransactions | KafkaCode::CoordinatorLoadInProgress)
            ) {
                *cache.lock().await = None;
            }
            tracing::debug!(what, error = %error, "retrying transactional request");
            // CONCURRENT_TRANSACTIONS mostly means the previous transaction's markers are
            // still being written: retry soon (Java's 20 ms for AddPartitionsToTxn)
            let backoff = if error.kafka_code() == Some(KafkaCode::ConcurrentTransactions) {
                self.retry_backoff.min(CONCURRENT_TRANSACTIONS_BACKOFF)
            } else {
                self.retry_backoff
            };
            last = error.to_string();
            tokio::time::sleep(backoff).await;
        }
    }
}

/// The error of an AddPartitionsToTxn v0-v3 answer: the first partition error that is not
/// OPERATION_NOT_ATTEMPTED (which only says another partition failed).
pub(super) fn add_partitions_code(resp: &AddPartitionsToTxnResponse) -> i16 {
    if resp.error_code != 0 {
        return resp.error_code;
    }
    let codes = resp
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| t.results_by_partition.iter())
        .map(|p| p.partition_error_code)
        .filter(|&c| c != 0);
    let mut fallback = 0;
    for c in codes {
        if c != KafkaCode::OperationNotAttempted.code() {
            return c;
        }
        fallback = c;
    }
    fallback
}

/// The error of a TxnOffsetCommit answer: the first partition error.
pub(super) fn txn_offset_commit_code(resp: &TxnOffsetCommitResponse) -> i16 {
    resp.topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| p.error_code)
        .find(|&c| c != 0)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::error::classify;
    use super::*;
    use krafty_protocol::generated::add_partitions_to_txn_response::{
        AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
    };
    use krafty_protocol::wire::StrBytes;

    #[test]
    fn add_partitions_reports_the_real_cause_over_operation_not_attempted() {
        let part = |code: i16| AddPartitionsToTxnPartitionResult {
            partition_index: 0,
            partition_error_code: code,
            ..Default::default()
        };
        let resp = AddPartitionsToTxnResponse {
            results_by_topic_v3_and_below: vec![AddPartitionsToTxnTopicResult {
                name: StrBytes::from_static_str("t"),
                results_by_partition: vec![
                    part(KafkaCode::OperationNotAttempted.code()),
                    part(KafkaCode::TopicAuthorizationFailed.code()),
                    part(0),
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            add_partitions_code(&resp),
            KafkaCode::TopicAuthorizationFailed.code()
        );
        assert_eq!(
            classify(KafkaCode::from_code(add_partitions_code(&resp))),
            TxnErrorClass::Abortable
        );
    }
}
