//! `__transaction_state` records: Kafka's `TransactionLogKey` (version 0: the
//! transactional id) and `TransactionLogValue` (version 0: producer id and epoch, timeout,
//! status, partitions, timestamps), each prefixed by its int16 version as Kafka writes them.
//!
//! Owns: encoding [`TxnMetadata`] to a record and parsing records back. Must not: append
//! or read logs (the coordinator does).

use std::collections::BTreeSet;

use bytes::Bytes;
use krafty_protocol::generated::transaction_coordinator::transaction_log_value::PartitionsSchema;
use krafty_protocol::generated::transaction_coordinator::{TransactionLogKey, TransactionLogValue};
use krafty_protocol::message::Decode;
use krafty_protocol::wire::StrBytes;

use super::state::{TxnMetadata, TxnState};
use crate::group::offsets::records::versioned;

/// The internal topic holding the coordinator's state.
pub const TXN_TOPIC: &str = "__transaction_state";
/// The key version written.
pub const KEY_VERSION: i16 = 0;
/// The value version written (without KIP-890's tagged fields).
pub const VALUE_VERSION: i16 = 0;

/// Kafka's `TransactionState` id of a state.
pub fn status_id(s: TxnState) -> i8 {
    match s {
        TxnState::Empty => 0,
        TxnState::Ongoing => 1,
        TxnState::PrepareCommit => 2,
        TxnState::PrepareAbort => 3,
        TxnState::CompleteCommit => 4,
        TxnState::CompleteAbort => 5,
    }
}

fn status_from(id: i8) -> Option<TxnState> {
    Some(match id {
        0 => TxnState::Empty,
        1 => TxnState::Ongoing,
        2 => TxnState::PrepareCommit,
        3 => TxnState::PrepareAbort,
        4 => TxnState::CompleteCommit,
        5 => TxnState::CompleteAbort,
        _ => return None,
    })
}

/// The key and value recording `m`.
pub fn record(m: &TxnMetadata) -> Option<(Bytes, Bytes)> {
    let key = versioned(
        KEY_VERSION,
        &TransactionLogKey {
            transactional_id: StrBytes::from(m.transactional_id.clone()),
        },
    )?;
    let mut partitions: Vec<PartitionsSchema> = Vec::new();
    for (topic, p) in &m.partitions {
        match partitions.iter_mut().find(|s| s.topic.as_ref() == topic) {
            Some(s) => {
                let mut ids: Vec<i32> = s.partition_ids.iter().copied().collect();
                ids.push(*p);
                s.partition_ids = ids.into();
            }
            None => partitions.push(PartitionsSchema {
                topic: StrBytes::from(topic.clone()),
                partition_ids: vec![*p].into(),
                ..Default::default()
            }),
        }
    }
    let value = versioned(
        VALUE_VERSION,
        &TransactionLogValue {
            producer_id: m.producer_id,
            previous_producer_id: -1,
            next_producer_id: -1,
            producer_epoch: m.producer_epoch,
            transaction_timeout_ms: m.timeout_ms,
            transaction_status: status_id(m.state),
            transaction_partitions: Some(partitions),
            transaction_last_update_timestamp_ms: m.last_update_ms,
            transaction_start_timestamp_ms: m.start_ms,
            ..Default::default()
        },
    )?;
    Some((key, value))
}

fn split_version(mut b: Bytes) -> Option<(i16, Bytes)> {
    if b.len() < 2 {
        return None;
    }
    let v = i16::from_be_bytes([b[0], b[1]]);
    let rest = b.split_off(2);
    Some((v, rest))
}

/// Parses one record: the transactional id and its metadata (`None` for a tombstone).
/// Unknown versions or malformed bytes give `None` (the record is skipped).
pub fn parse(key: Bytes, value: Option<Bytes>) -> Option<(String, Option<TxnMetadata>)> {
    let (kv, mut kb) = split_version(key)?;
    if kv != 0 {
        return None;
    }
    let id = TransactionLogKey::decode(&mut kb, kv)
        .ok()?
        .transactional_id;
    let Some(value) = value else {
        return Some((id.to_string(), None));
    };
    let (vv, mut vb) = split_version(value)?;
    if !(0..=1).contains(&vv) {
        return None;
    }
    let v = TransactionLogValue::decode(&mut vb, vv).ok()?;
    let state = status_from(v.transaction_status)?;
    let mut partitions = BTreeSet::new();
    for s in v.transaction_partitions.unwrap_or_default() {
        for p in s.partition_ids.iter() {
            partitions.insert((s.topic.to_string(), *p));
        }
    }
    let mut m = TxnMetadata::new(&id, v.producer_id, v.transaction_timeout_ms, 0);
    m.producer_epoch = v.producer_epoch;
    m.state = state;
    m.partitions = partitions;
    m.start_ms = v.transaction_start_timestamp_ms;
    m.last_update_ms = v.transaction_last_update_timestamp_ms;
    Some((id.to_string(), Some(m)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut m = TxnMetadata::new("tx", 7, 1000, 5);
        m.producer_epoch = 3;
        m.state = TxnState::PrepareCommit;
        m.partitions.insert(("a".into(), 1));
        m.partitions.insert(("a".into(), 0));
        m.partitions.insert(("b".into(), 2));
        m.start_ms = 4;
        let (k, v) = record(&m).unwrap();
        assert_eq!(&k[..2], &[0, 0]);
        let (id, back) = parse(k.clone(), Some(v)).unwrap();
        let back = back.unwrap();
        assert_eq!(id, "tx");
        assert_eq!(
            (
                back.producer_id,
                back.producer_epoch,
                back.state,
                back.start_ms
            ),
            (7, 3, TxnState::PrepareCommit, 4)
        );
        assert_eq!(back.partitions, m.partitions);
        assert_eq!(parse(k, None), Some(("tx".into(), None)));
        assert_eq!(parse(Bytes::from_static(&[0]), None), None);
        assert!(parse(Bytes::from_static(&[0, 0, 0, 9, 1]), None).is_none());
    }
}
