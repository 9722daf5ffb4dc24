//! Unit tests of the log cleaner: keys updated many times, tombstones, lag settings,
//! producer state, control batches, a bounded offset map, crashes at every swap step and
//! `__consumer_offsets` replay after compaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use krafty_protocol::records::control::{ControlRecordType, EndTxnMarker};
use krafty_protocol::records::{
    BatchIter, Compression, DecodeOptions, RawBatch, RecordBatchBuilder, RecordBatchHeader,
};

use super::cleaner::{clean_partition, plan, LogCleanState, LogSnapshot, Reason};
use super::offset_map::ENTRY_BYTES;
use super::swap::SwapStep;
use super::CleanupConfig;
use crate::log::{Log, LogConfig};
use crate::partition::Partition;

const BUF: u64 = 128 << 20;

/// Compacted-log settings built from the broker defaults (so fields added to `LogConfig`
/// later keep their defaults here).
fn cfg(segment_bytes: u64) -> LogConfig {
    let bc = crate::config::BrokerConfig::new(([127, 0, 0, 1], 0).into(), "/nonexistent");
    let mut c = LogConfig::from_broker(&bc);
    c.segment_bytes = segment_bytes;
    c.roll_ms = i64::MAX;
    c.retention_ms = -1;
    c.index_interval_bytes = 100;
    c.cleanup = CleanupConfig {
        compact: true,
        delete: false,
        ..CleanupConfig::default()
    };
    c
}

type Rec<'a> = (Option<&'a str>, Option<&'a str>);

fn batch(records: &[Rec<'_>], ts: i64) -> Vec<u8> {
    batch_with(RecordBatchBuilder::new(Compression::None), records, ts)
}

fn batch_with(mut b: RecordBatchBuilder, records: &[Rec<'_>], ts: i64) -> Vec<u8> {
    for (k, v) in records {
        b.append(ts, k.map(str::as_bytes), v.map(str::as_bytes))
            .unwrap();
    }
    b.finish().unwrap().to_vec()
}

fn open(dir: &Path, c: LogConfig) -> Partition {
    Partition::new("t".into(), 0, Log::open(dir, c, None, None).unwrap())
}

/// A visible record: offset, key, value.
type Seen = (i64, Option<String>, Option<String>);

/// Every record from the log start, checking CRCs and strictly increasing offsets.
fn read_all(log: &Log) -> (Vec<Seen>, Vec<RecordBatchHeader>) {
    let opts = DecodeOptions::default();
    let mut out: Vec<Seen> = Vec::new();
    let mut headers = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let bytes = log.read(offset, 1 << 20, true).unwrap().unwrap();
        if bytes.is_empty() {
            break;
        }
        let mut progressed = false;
        for entry in BatchIter::new(bytes, opts) {
            let Ok(RawBatch::V2(raw)) = entry else { break };
            let h = *raw.header();
            if h.next_offset() <= offset {
                continue;
            }
            h.verify_crc(raw.as_bytes()).unwrap();
            let b = raw.decode(&opts).unwrap();
            for r in &b.records {
                let o = b.offset_of(r);
                assert!(out.last().is_none_or(|l| l.0 < o), "offsets increase");
                assert!(o <= h.last_offset());
                if !h.is_control() {
                    let s = |x: &Option<Bytes>| {
                        x.as_ref().map(|v| String::from_utf8_lossy(v).into_owned())
                    };
                    out.push((o, s(&r.key), s(&r.value)));
                }
            }
            headers.push(h);
            offset = h.next_offset();
            progressed = true;
        }
        assert!(progressed, "read made progress at {offset}");
    }
    (out, headers)
}

fn latest(records: &[Seen]) -> BTreeMap<String, Option<String>> {
    let mut m = BTreeMap::new();
    for (_, k, v) in records {
        if let Some(k) = k {
            m.insert(k.clone(), v.clone());
        }
    }
    m
}

/// Appends `n` single-record batches over `keys` keys (values `v<i>`), timestamps `ts`.
fn fill(p: &Partition, n: usize, keys: usize, ts: i64) {
    let mut st = p.lock();
    for i in 0..n {
        let k = format!("k{}", i % keys);
        let v = format!("v{i}");
        st.log
            .append(&mut batch(&[(Some(&k), Some(&v))], ts), 0)
            .unwrap();
    }
}

fn check_same_origin(before: &[Seen], after: &[Seen]) {
    let orig: BTreeMap<i64, &Seen> = before.iter().map(|r| (r.0, r)).collect();
    for r in after {
        assert_eq!(
            orig.get(&r.0).copied(),
            Some(r),
            "offset {} kept as written",
            r.0
        );
    }
}

#[test]
fn keys_updated_many_times_keep_only_the_latest_with_offsets_preserved() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path(), cfg(700));
    fill(&p, 300, 10, 1000);
    let (before, _) = read_all(&p.lock().log);
    let leo = p.lock().log.log_end_offset();
    let mut state = LogCleanState::default();
    let stats = clean_partition(&p, &mut state, 10_000, BUF, None)
        .unwrap()
        .expect("a fully dirty log is due");
    let (after, _) = read_all(&p.lock().log);
    assert_eq!(latest(&after), latest(&before));
    check_same_origin(&before, &after);
    assert!(
        after.len() < before.len() / 5,
        "{} of {}",
        after.len(),
        before.len()
    );
    assert_eq!(p.lock().log.log_end_offset(), leo);
    let active = p.lock().log.segments().next_back().unwrap().base_offset();
    assert_eq!(state.first_dirty, active);
    let cleaned: Vec<&Seen> = after.iter().filter(|r| r.0 < active).collect();
    let keys: std::collections::BTreeSet<_> = cleaned.iter().map(|r| r.1.clone()).collect();
    assert_eq!(
        keys.len(),
        cleaned.len(),
        "one record per key below the active segment"
    );
    assert_eq!(stats.records_read, active as u64);
    assert_eq!(stats.records_kept, cleaned.len() as u64);
    // nothing dirty: not due again
    assert!(clean_partition(&p, &mut state, 10_001, BUF, None)
        .unwrap()
        .is_none());
    // the cleaned log reopens (full recovery) with the same content
    drop(p);
    let p = open(dir.path(), cfg(700));
    assert_eq!(read_all(&p.lock().log).0, after);
}

#[test]
fn tombstones_stay_for_delete_retention_then_go() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(300);
    c.cleanup.delete_retention_ms = 1000;
    let p = open(dir.path(), c);
    {
        let mut st = p.lock();
        for r in [
            (Some("a"), Some("1")),
            (Some("b"), Some("1")),
            (Some("a"), None),
            (Some("c"), Some("1")),
            (Some("c"), None),
        ] {
            st.log.append(&mut batch(&[r], 5), 0).unwrap();
        }
    }
    fill(&p, 12, 3, 5); // k0..k2, rolls the tombstones out of the active segment
    let t0 = 50_000;
    let mut state = LogCleanState::default();
    clean_partition(&p, &mut state, t0, BUF, None)
        .unwrap()
        .unwrap();
    let (after, headers) = read_all(&p.lock().log);
    let m = latest(&after);
    assert_eq!(m.get("a"), Some(&None), "tombstone kept");
    assert_eq!(m.get("b"), Some(&Some("1".to_string())));
    let tomb = headers
        .iter()
        .find(|h| h.delete_horizon_ms().is_some())
        .expect("the tombstone's batch carries its delete horizon");
    assert_eq!(tomb.delete_horizon_ms(), Some(t0 + 1000));
    assert_eq!(state.next_horizon, Some(t0 + 1000));
    // before the horizon: nothing to do
    assert!(clean_partition(&p, &mut state, t0 + 500, BUF, None)
        .unwrap()
        .is_none());
    let stats = clean_partition(&p, &mut state, t0 + 1001, BUF, None)
        .unwrap()
        .expect("the horizon passed: due");
    assert!(stats.records_kept < stats.records_read);
    let (gone, headers) = read_all(&p.lock().log);
    let m = latest(&gone);
    assert!(
        !m.contains_key("a") && !m.contains_key("c"),
        "tombstones removed: {m:?}"
    );
    assert_eq!(m.get("b"), Some(&Some("1".to_string())));
    assert!(headers.iter().all(|h| h.delete_horizon_ms().is_none()));
    assert_eq!(state.next_horizon, None);
    check_same_origin(&after, &gone);
}

#[test]
fn min_compaction_lag_holds_young_segments_and_max_lag_forces_a_clean() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(400);
    c.cleanup.min_compaction_lag_ms = 1000;
    let p = open(dir.path(), c.clone());
    let now = 100_000;
    fill(&p, 40, 4, now - 10); // all young
    let mut state = LogCleanState::default();
    assert!(clean_partition(&p, &mut state, now, BUF, None)
        .unwrap()
        .is_none());
    // later, the same data is older than the lag: cleaned
    assert!(clean_partition(&p, &mut state, now + 2000, BUF, None)
        .unwrap()
        .is_some());

    // max.compaction.lag.ms: a dirty ratio far below the minimum, yet old dirty data
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(400);
    c.cleanup.min_cleanable_dirty_ratio = 0.99;
    let p = open(dir.path(), c.clone());
    fill(&p, 200, 50, now - 5000);
    let mut state = LogCleanState::default();
    clean_partition(&p, &mut state, now, BUF, None)
        .unwrap()
        .unwrap();
    fill(&p, 12, 3, now - 5000);
    let snap = LogSnapshot::of(&p.lock().log);
    assert_eq!(
        plan(&snap, &state, now, |_| Some(now - 5000)),
        None,
        "ratio too low"
    );
    c.cleanup.max_compaction_lag_ms = 1000;
    p.lock().log.set_config(c);
    let snap = LogSnapshot::of(&p.lock().log);
    let due = plan(&snap, &state, now, |_| Some(now - 5000)).unwrap();
    assert_eq!(due.reason, Reason::MaxCompactionLag);
    assert!(plan(&snap, &state, now, |_| Some(now - 10)).is_none());
    assert!(clean_partition(&p, &mut state, now, BUF, None)
        .unwrap()
        .is_some());
}

#[test]
fn last_batch_of_a_producer_is_kept_empty_and_sequences_continue() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path(), cfg(300));
    {
        let mut st = p.lock();
        for seq in [0, 2] {
            let b = RecordBatchBuilder::new(Compression::None).producer(7, 0, seq);
            let mut raw = batch_with(b, &[(Some("a"), Some("p")), (Some("x"), Some("p"))], 1);
            let h = st.log.append(&mut raw, 0).unwrap();
            st.producers.record(&h);
        }
        // another writer overwrites both keys
        st.log
            .append(
                &mut batch(&[(Some("a"), Some("n")), (Some("x"), Some("n"))], 1),
                0,
            )
            .unwrap();
    }
    fill(&p, 12, 3, 1);
    let mut state = LogCleanState::default();
    let stats = clean_partition(&p, &mut state, 10_000, BUF, None)
        .unwrap()
        .unwrap();
    assert_eq!(stats.empty_batches_kept, 1);
    let (_, headers) = read_all(&p.lock().log);
    let pid: Vec<_> = headers.iter().filter(|h| h.producer_id == 7).collect();
    assert_eq!(pid.len(), 1, "only the producer's last batch stays");
    assert_eq!(
        (
            pid[0].records_count,
            pid[0].base_offset,
            pid[0].last_offset(),
            pid[0].base_sequence
        ),
        (0, 2, 3, 2)
    );
    drop(p);
    // producer state rebuilt from the compacted log continues the sequence
    let p = open(dir.path(), cfg(300));
    let next = RecordBatchBuilder::new(Compression::None).producer(7, 0, 4);
    let raw = batch_with(next, &[(Some("a"), Some("p2"))], 1);
    let h = RecordBatchHeader::parse(&raw).unwrap();
    assert_eq!(
        p.lock().producers.check(&h),
        crate::partition::producer_state::SequenceCheck::Append
    );
}

#[test]
fn control_batches_get_a_horizon_then_go() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(300);
    c.cleanup.delete_retention_ms = 100;
    let p = open(dir.path(), c);
    {
        let mut st = p.lock();
        let b = RecordBatchBuilder::new(Compression::None)
            .producer(9, 0, 0)
            .transactional(true);
        st.log
            .append(&mut batch_with(b, &[(Some("t"), Some("1"))], 1), 0)
            .unwrap();
        let marker = EndTxnMarker {
            control_type: ControlRecordType::Commit,
            coordinator_epoch: 0,
        };
        let mut m = marker.to_batch(9, 0, 1, 0).to_bytes().unwrap().to_vec();
        st.log.append(&mut m, 0).unwrap();
        // the producer's later data: the marker is not its last batch
        let b = RecordBatchBuilder::new(Compression::None).producer(9, 0, 1);
        st.log
            .append(&mut batch_with(b, &[(Some("u"), Some("1"))], 1), 0)
            .unwrap();
    }
    fill(&p, 12, 3, 1);
    let mut state = LogCleanState::default();
    clean_partition(&p, &mut state, 1000, BUF, None)
        .unwrap()
        .unwrap();
    let (_, headers) = read_all(&p.lock().log);
    let ctrl: Vec<_> = headers.iter().filter(|h| h.is_control()).collect();
    assert_eq!(ctrl.len(), 1);
    assert_eq!(ctrl[0].delete_horizon_ms(), Some(1100));
    clean_partition(&p, &mut state, 1101, BUF, None)
        .unwrap()
        .expect("horizon passed");
    let (recs, headers) = read_all(&p.lock().log);
    assert!(headers.iter().all(|h| !h.is_control()), "marker removed");
    assert_eq!(latest(&recs).get("t"), Some(&Some("1".to_string())));
}

#[test]
fn a_full_offset_map_cleans_in_several_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path(), cfg(700));
    {
        // 10 keys, each updated 30 times in a row
        let mut st = p.lock();
        for i in 0..300 {
            let (k, v) = (format!("k{}", i / 30), format!("v{i}"));
            st.log
                .append(&mut batch(&[(Some(&k), Some(&v))], 1), 0)
                .unwrap();
        }
    }
    let (before, _) = read_all(&p.lock().log);
    let mut state = LogCleanState::default();
    let mut rounds = 0;
    let mut c = p.lock().log.config().clone();
    c.cleanup.min_cleanable_dirty_ratio = 0.0;
    p.lock().log.set_config(c);
    while clean_partition(&p, &mut state, 10_000, ENTRY_BYTES * 4, None)
        .unwrap()
        .is_some()
    {
        rounds += 1;
        assert!(rounds < 50, "converges");
        let (now, _) = read_all(&p.lock().log);
        assert_eq!(latest(&now), latest(&before), "round {rounds}");
        check_same_origin(&before, &now);
    }
    assert!(
        rounds > 1,
        "a map of 3 keys needs several rounds for 10 keys"
    );
    let active = p.lock().log.segments().next_back().unwrap().base_offset();
    assert_eq!(state.first_dirty, active);
}

fn stale_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cleaned") || n.ends_with(".swap") || n.ends_with(".deleted"))
        .collect()
}

#[test]
fn a_crash_at_any_swap_step_restarts_to_a_valid_log_with_the_same_content() {
    let steps = [
        Some(SwapStep::CleanedWritten),
        Some(SwapStep::Committed),
        Some(SwapStep::OldRenamed(1)),
        Some(SwapStep::OldRenamed(2)),
        Some(SwapStep::OldRenamed(3)),
        Some(SwapStep::IndexesInPlace),
        Some(SwapStep::LogInPlace),
        None,
    ];
    for step in steps {
        for recovery_point_at_end in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let p = open(dir.path(), cfg(600));
            fill(&p, 200, 8, 1);
            let (before, _) = read_all(&p.lock().log);
            let leo = p.lock().log.log_end_offset();
            let segments = p.lock().log.segment_count();
            assert!(segments > 4, "{segments} segments");
            // group every old segment into one cleaned segment
            p.lock().log.set_config(cfg(1 << 20));
            let mut state = LogCleanState::default();
            let r = clean_partition(&p, &mut state, 10_000, BUF, step);
            match step {
                Some(s) => assert!(
                    matches!(r, Err(super::cleaner::CleanerError::InjectedCrash(x)) if x == s),
                    "{step:?}: {r:?}"
                ),
                None => assert!(r.unwrap().is_some()),
            }
            drop(p); // the crash: nothing else reaches the disk
            let rp = recovery_point_at_end.then_some(leo);
            let log = Log::open(dir.path(), cfg(600), rp, Some(0)).unwrap();
            assert!(
                stale_files(dir.path()).is_empty(),
                "{step:?}: {:?}",
                stale_files(dir.path())
            );
            let (after, _) = read_all(&log);
            assert_eq!(log.log_end_offset(), leo, "{step:?}");
            assert_eq!(latest(&after), latest(&before), "{step:?}");
            check_same_origin(&before, &after);
            let committed = !matches!(step, Some(SwapStep::CleanedWritten));
            if committed {
                assert!(after.len() < before.len() / 4, "{step:?}: the clean won");
                assert!(log.segment_count() <= 3, "{step:?}");
            } else {
                assert_eq!(after, before, "{step:?}: rolled back");
            }
            // reads through the rebuilt indexes find every kept offset
            for r in &after {
                let b = log.read(r.0, 1, true).unwrap().unwrap();
                let h = RecordBatchHeader::parse(&b).unwrap();
                assert!(h.base_offset <= r.0 && r.0 <= h.last_offset());
            }
            // and the log cleans again normally
            let p = Partition::new("t".into(), 0, log);
            let mut state = LogCleanState::default();
            clean_partition(&p, &mut state, 20_000, BUF, None).unwrap();
            assert_eq!(latest(&read_all(&p.lock().log).0), latest(&before));
        }
    }
}

#[test]
fn consumer_offsets_replay_reads_a_compacted_log() {
    use crate::group::coordinator::GroupCoordinator;
    use crate::group::offsets::CommittedOffset;
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(400);
    c.cleanup.delete_retention_ms = 0;
    let p = Arc::new(open(dir.path(), c.clone()));
    let bc = crate::config::BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    let coord = GroupCoordinator::new(&bc);
    coord.attach_store(p.clone());
    let off = |o: i64| CommittedOffset {
        offset: o,
        leader_epoch: -1,
        metadata: String::new(),
        commit_timestamp: crate::broker::now_ms(),
    };
    for i in 0..60i32 {
        let o = i64::from(i);
        assert_eq!(
            coord.commit("g1", -1, "", vec![("t".into(), i % 3, off(o))]),
            0
        );
        assert_eq!(coord.commit("g2", -1, "", vec![("t".into(), 0, off(o))]), 0);
    }
    assert_eq!(coord.delete_group("g2"), 0);
    for i in 0..20 {
        assert_eq!(coord.commit("g3", -1, "", vec![("u".into(), 0, off(i))]), 0);
    }
    let now = crate::broker::now_ms();
    let mut state = LogCleanState::default();
    clean_partition(&p, &mut state, now, BUF, None)
        .unwrap()
        .unwrap();
    // the group tombstones are kept until the horizon (delete.retention.ms = 0) passes
    let stats = clean_partition(&p, &mut state, now + 10, BUF, None)
        .unwrap()
        .unwrap();
    assert!(stats.records_kept < 10, "{stats:?}");
    drop(coord);
    let replayed = GroupCoordinator::new(&bc);
    replayed.attach_store(p.clone());
    for part in 0..3 {
        let want = (0..60i64).filter(|i| i % 3 == part).max().unwrap();
        assert_eq!(
            replayed.committed("g1", "t", part as i32).unwrap().offset,
            want
        );
    }
    assert!(
        replayed.with_group("g2", |_| ()).is_none(),
        "deleted group stays deleted"
    );
    assert_eq!(replayed.committed("g3", "u", 0).unwrap().offset, 19);
}

#[test]
fn compressed_batches_are_rebuilt_with_their_codec() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path(), cfg(600));
    {
        let mut st = p.lock();
        for i in 0..40 {
            let vals: Vec<String> = (0..5).map(|j| format!("v{i}-{j}")).collect();
            let keys: Vec<String> = (0..5).map(|j| format!("k{}", (i * 5 + j) % 7)).collect();
            let recs: Vec<Rec<'_>> = keys
                .iter()
                .zip(&vals)
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str())))
                .collect();
            let mut raw = batch_with(RecordBatchBuilder::new(Compression::Gzip), &recs, 3);
            st.log.append(&mut raw, 0).unwrap();
        }
    }
    let (before, _) = read_all(&p.lock().log);
    let mut state = LogCleanState::default();
    clean_partition(&p, &mut state, 10_000, BUF, None)
        .unwrap()
        .unwrap();
    let (after, headers) = read_all(&p.lock().log);
    assert_eq!(latest(&after), latest(&before));
    check_same_origin(&before, &after);
    assert!(after.len() < before.len() / 3);
    assert!(headers
        .iter()
        .all(|h| h.compression().unwrap() == Compression::Gzip));
    assert!(
        headers
            .iter()
            .any(|h| i64::from(h.records_count) < i64::from(h.last_offset_delta) + 1),
        "a rebuilt batch keeps its last offset delta"
    );
}
