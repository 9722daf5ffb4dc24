//! Control records: the transaction markers (and KRaft control records) of control batches.
//!
//! Owns: the key of every control record ([`ControlRecordType`]) and the value of commit and
//! abort markers ([`EndTxnMarker`]), plus building a whole marker batch. Must not: decide
//! when markers are written (that is the transaction coordinator's job).
//!
//! ```text
//! ControlRecordKey  => version int16 (0), type int16 (0 ABORT, 1 COMMIT, 2 LEADER_CHANGE,
//!                      3 SNAPSHOT_HEADER, 4 SNAPSHOT_FOOTER, 5 KRAFT_VERSION, 6 KRAFT_VOTERS)
//! EndTxnMarkerValue => version int16 (0), coordinatorEpoch int32
//! ```
//! A control batch has the control bit set in its attributes and holds exactly one record.

use bytes::{BufMut, Bytes, BytesMut};

use super::{BatchAttributes, Compression, Record, RecordBatch};
use crate::error::{Error, ErrorKind, Result};

/// The type of a control record, from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// A transaction was aborted (0).
    Abort,
    /// A transaction was committed (1).
    Commit,
    /// KRaft: the quorum leader changed (2).
    LeaderChange,
    /// KRaft: start of a snapshot (3).
    SnapshotHeader,
    /// KRaft: end of a snapshot (4).
    SnapshotFooter,
    /// KRaft: the kraft.version feature changed (5).
    KRaftVersion,
    /// KRaft: the voter set changed (6).
    KRaftVoters,
    /// A type this crate does not know; Kafka skips those.
    Unknown(i16),
}

impl ControlRecordType {
    /// The version of the control record key this crate writes.
    pub const CURRENT_KEY_VERSION: i16 = 0;

    /// The wire id of the type.
    pub fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::LeaderChange => 2,
            ControlRecordType::SnapshotHeader => 3,
            ControlRecordType::SnapshotFooter => 4,
            ControlRecordType::KRaftVersion => 5,
            ControlRecordType::KRaftVoters => 6,
            ControlRecordType::Unknown(id) => id,
        }
    }

    /// The type with wire id `id`.
    pub fn from_id(id: i16) -> Self {
        match id {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            2 => ControlRecordType::LeaderChange,
            3 => ControlRecordType::SnapshotHeader,
            4 => ControlRecordType::SnapshotFooter,
            5 => ControlRecordType::KRaftVersion,
            6 => ControlRecordType::KRaftVoters,
            other => ControlRecordType::Unknown(other),
        }
    }

    /// Parses a control record key (`version int16, type int16`; later key versions may
    /// append fields, which are ignored as Kafka does). A missing key, a key shorter than 4
    /// bytes or a negative version is an error.
    pub fn parse_key(key: Option<&[u8]>) -> Result<Self> {
        let Some(key) = key else {
            return Err(Error::new(ErrorKind::UnexpectedNull).context("ControlRecord", "key", 0));
        };
        let Some([v0, v1, t0, t1]) = key.first_chunk::<4>().copied() else {
            return Err(Error::new(ErrorKind::Truncated {
                needed: 4,
                remaining: key.len(),
            })
            .context("ControlRecord", "key", 0));
        };
        if i16::from_be_bytes([v0, v1]) < 0 {
            return Err(Error::new(ErrorKind::InvalidRecords(
                "negative control record key version",
            ))
            .context("ControlRecord", "version", 0));
        }
        Ok(Self::from_id(i16::from_be_bytes([t0, t1])))
    }

    /// The key of a control record of this type (key version 0).
    pub fn encode_key(self) -> Bytes {
        let mut key = BytesMut::with_capacity(4);
        key.put_i16(Self::CURRENT_KEY_VERSION);
        key.put_i16(self.id());
        key.freeze()
    }

    /// The type of a decoded control record.
    pub fn of(record: &Record) -> Result<Self> {
        Self::parse_key(record.key.as_deref())
    }
}

/// The value of a commit or abort marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndTxnMarker {
    /// COMMIT or ABORT (the record's key).
    pub control_type: ControlRecordType,
    /// Epoch of the transaction coordinator that wrote the marker.
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    /// The version of the marker value this crate writes.
    pub const CURRENT_VERSION: i16 = 0;

    /// Parses a marker from a control record: its key (which must be COMMIT or ABORT) and its
    /// value (`version int16, coordinatorEpoch int32`, later versions may append fields).
    pub fn from_record(record: &Record) -> Result<Self> {
        let control_type = ControlRecordType::of(record)?;
        if !matches!(
            control_type,
            ControlRecordType::Commit | ControlRecordType::Abort
        ) {
            return Err(Error::new(ErrorKind::InvalidRecords(
                "control record is not a transaction marker",
            ))
            .context("EndTxnMarker", "type", 0));
        }
        let value = record.value.as_deref().ok_or_else(|| {
            Error::new(ErrorKind::UnexpectedNull).context("EndTxnMarker", "value", 0)
        })?;
        let Some([v0, v1, e0, e1, e2, e3]) = value.first_chunk::<6>().copied() else {
            return Err(Error::new(ErrorKind::Truncated {
                needed: 6,
                remaining: value.len(),
            })
            .context("EndTxnMarker", "value", 0));
        };
        if i16::from_be_bytes([v0, v1]) < 0 {
            return Err(
                Error::new(ErrorKind::InvalidRecords("negative end txn marker version")).context(
                    "EndTxnMarker",
                    "version",
                    0,
                ),
            );
        }
        Ok(EndTxnMarker {
            control_type,
            coordinator_epoch: i32::from_be_bytes([e0, e1, e2, e3]),
        })
    }

    /// The marker value (version 0).
    pub fn encode_value(&self) -> Bytes {
        let mut value = BytesMut::with_capacity(6);
        value.put_i16(Self::CURRENT_VERSION);
        value.put_i32(self.coordinator_epoch);
        value.freeze()
    }

    /// The marker as the single record of a control batch (offset and timestamp delta 0).
    pub fn to_record(&self) -> Record {
        Record::new(
            Some(self.control_type.encode_key()),
            Some(self.encode_value()),
        )
    }

    /// A complete control batch holding this marker for the given producer, as a transaction
    /// coordinator writes it: transactional and control bits set, uncompressed, one record.
    pub fn to_batch(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        timestamp: i64,
        partition_leader_epoch: i32,
    ) -> RecordBatch {
        let mut batch = RecordBatch::new(Compression::None);
        batch.attributes = BatchAttributes::new(Compression::None)
            .with_transactional(true)
            .with_control(true);
        batch.partition_leader_epoch = partition_leader_epoch;
        batch.producer_id = producer_id;
        batch.producer_epoch = producer_epoch;
        batch.base_timestamp = timestamp;
        batch.max_timestamp = timestamp;
        batch.records.push(self.to_record());
        batch
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_and_value_round_trip() {
        for control_type in [ControlRecordType::Commit, ControlRecordType::Abort] {
            let marker = EndTxnMarker {
                control_type,
                coordinator_epoch: 17,
            };
            let record = marker.to_record();
            assert_eq!(record.key.as_deref().unwrap().len(), 4);
            assert_eq!(EndTxnMarker::from_record(&record).unwrap(), marker);
        }
        assert_eq!(
            ControlRecordType::parse_key(Some(&[0, 0, 0, 9, 0xff])).unwrap(),
            ControlRecordType::Unknown(9)
        );
        assert_eq!(
            ControlRecordType::from_id(2),
            ControlRecordType::LeaderChange
        );
    }

    #[test]
    fn malformed_markers_are_errors() {
        assert!(ControlRecordType::parse_key(None).is_err());
        assert!(ControlRecordType::parse_key(Some(&[0, 0, 1])).is_err());
        assert!(ControlRecordType::parse_key(Some(&[0xff, 0xff, 0, 1])).is_err());
        let mut record = EndTxnMarker {
            control_type: ControlRecordType::Commit,
            coordinator_epoch: 1,
        }
        .to_record();
        record.value = Some(Bytes::from_static(&[0, 0, 0]));
        assert!(EndTxnMarker::from_record(&record).is_err());
        record.value = None;
        assert!(EndTxnMarker::from_record(&record).is_err());
        record.key = Some(ControlRecordType::LeaderChange.encode_key());
        assert!(EndTxnMarker::from_record(&record).is_err());
    }
}
