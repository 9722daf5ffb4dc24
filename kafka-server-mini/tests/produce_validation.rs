//! Produce validation as Kafka's LogValidator does it: every batch of a partition checked
//! (records inside compressed batches included) before any is appended, with Kafka's codes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::Bytes;
use common::{batch, fetch_all, produce, Client};
use krafty_protocol::records::{Compression, Record, RecordBatch};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A batch of `keys.len()` records with the given keys, offset deltas and timestamps.
fn custom(compression: Compression, recs: &[(Option<&str>, i32, i64)], last_delta: i32) -> Bytes {
    let mut b = RecordBatch::new(compression);
    b.base_timestamp = recs[0].2;
    for (key, delta, ts) in recs {
        let mut r = Record::new(
            key.map(|k| Bytes::from(k.to_string())),
            Some(Bytes::from("v")),
        );
        r.offset_delta = *delta;
        r.timestamp_delta = ts - recs[0].2;
        b.records.push(r);
    }
    b.update_from_records();
    b.last_offset_delta = last_delta;
    b.to_bytes().unwrap()
}

fn concat(parts: &[&Bytes]) -> Bytes {
    Bytes::from(
        parts
            .iter()
            .flat_map(|b| b.iter().copied())
            .collect::<Vec<u8>>(),
    )
}

#[tokio::test]
async fn batches_and_records_are_validated_before_anything_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let broker = common::start(dir.path()).await;
    broker.state().create_topic("t", 1, false).unwrap();
    let mut configs = std::collections::BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    broker
        .state()
        .create_topic_with("c", 1, false, configs)
        .unwrap();
    let mut c = Client::connect(broker.local_addr()).await;
    let t = now();
    let good = batch(2, "g");

    // all or nothing: a good batch followed by a corrupt one stores neither
    let mut bad_crc = batch(2, "x").to_vec();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    let r = produce(&mut c, "t", 0, concat(&[&good, &Bytes::from(bad_crc)])).await;
    assert_eq!(r.0, 2, "CORRUPT_MESSAGE");

    // records inside compressed batches: relative offsets must be 0, 1, 2...
    for comp in [Compression::None, Compression::Gzip, Compression::Lz4] {
        let gap = custom(comp, &[(Some("k"), 0, t), (Some("k"), 2, t)], 1);
        let r = produce(&mut c, "t", 0, concat(&[&good, &gap])).await;
        assert_eq!(r.0, 87, "{comp:?}: INVALID_RECORD");
    }
    // a CreateTime timestamp more than log.message.timestamp.after.max.ms (1 h) ahead
    let future = custom(Compression::Gzip, &[(Some("k"), 0, t + 2 * 3_600_000)], 0);
    assert_eq!(
        produce(&mut c, "t", 0, future).await.0,
        32,
        "INVALID_TIMESTAMP"
    );
    // nothing was stored by the refused requests
    assert!(fetch_all(&mut c, "t", 0, 12).await.is_empty());
    // old timestamps are fine (before.max.ms is unbounded by default)
    let old = custom(Compression::Gzip, &[(Some("k"), 0, t - 30 * 86_400_000)], 0);
    assert_eq!(
        produce(&mut c, "t", 0, concat(&[&good, &old])).await,
        (0, 0)
    );
    assert_eq!(fetch_all(&mut c, "t", 0, 12).await.len(), 3);

    // compacted topics need a key on every record, compressed or not
    for comp in [Compression::None, Compression::Gzip] {
        let keyless = custom(comp, &[(Some("k"), 0, t), (None, 1, t)], 1);
        assert_eq!(produce(&mut c, "c", 0, keyless).await.0, 87);
    }
    let keyed = custom(
        Compression::Gzip,
        &[(Some("a"), 0, t), (Some("b"), 1, t)],
        1,
    );
    assert_eq!(produce(&mut c, "c", 0, keyed).await, (0, 0));
    broker.shutdown().await.unwrap();
}
