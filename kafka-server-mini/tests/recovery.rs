//! Crash recovery: whatever an unclean stop leaves at the tail of the log (zeros, random
//! bytes, half a batch, a flipped bit, a cut or missing index, no checkpoint), the log opens,
//! is cut at the first invalid batch and serves every record before it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{batch, fetch_all, produce, Client};
use krafty_protocol::records::{Compression, RecordBatchBuilder, RecordBatchHeader};
use krafty_server::log::{Log, LogConfig};

fn cfg(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        roll_ms: i64::MAX,
        retention_ms: -1,
        retention_bytes: -1,
        index_interval_bytes: 256,
        flush_interval_messages: i64::MAX,
        flush_interval_ms: -1,
        log_append_time: false,
        cleanup: krafty_server::log::cleaner::CleanupConfig::default(),
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn records(n: usize, tag: u64, compression: Compression) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(compression);
    for i in 0..n {
        let v = format!("v{tag}-{i}-{}", "x".repeat((tag % 90) as usize));
        b.append(1_000 + i as i64, Some(&b"key"[..]), Some(v.as_bytes()))
            .unwrap();
    }
    b.finish().unwrap().to_vec()
}

/// Appends `batches` batches; returns the log end offset after each one.
fn write(log: &mut Log, batches: usize, seed: u64) -> Vec<i64> {
    (0..batches)
        .map(|i| {
            let comp = if i % 3 == 0 {
                Compression::Gzip
            } else {
                Compression::None
            };
            let mut b = records(1 + (i + seed as usize) % 4, seed + i as u64, comp);
            log.append(&mut b, 0).unwrap();
            log.log_end_offset()
        })
        .collect()
}

fn active_log_file(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// Every offset in `[start, end)` reads back as a valid batch holding it.
fn assert_serves(log: &Log, end: i64) {
    assert_eq!(log.log_end_offset(), end);
    let mut offset = log.log_start_offset();
    while offset < end {
        let bytes = log.read(offset, 1, true).unwrap().expect("offset in range");
        let h = RecordBatchHeader::parse(&bytes).unwrap();
        h.verify_crc(&bytes[..h.total_size()]).unwrap();
        assert!(h.base_offset <= offset && offset <= h.last_offset());
        offset = h.next_offset();
    }
}

/// How a case damages the tail after an unclean stop.
#[derive(Debug, Clone, Copy)]
enum Damage {
    Zeros(usize),
    Random(usize),
    /// A plausible header (next offset, magic 2, length `n`) then random bytes: CRC fails.
    FakeHeader(usize),
    /// The first `n` bytes of a real batch (a torn write).
    Torn(usize),
    /// Flip one bit at this byte of the last batch.
    FlipInLast(usize),
    /// Cut the active segment's `.index` / `.timeindex` to this many bytes.
    CutIndexes(u64),
    /// Delete both index files of the active segment.
    DeleteIndexes,
}

/// One case: write, stop uncleanly, damage, reopen (twice: the second open must cut
/// nothing more), write again. Returns the log end offset expected and found.
fn run_case(damage: Damage, segment_bytes: u64, rp: Option<i64>, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed | 1);
    let mut log = Log::open(dir.path(), cfg(segment_bytes), None, None).unwrap();
    let ends = write(&mut log, 12, seed);
    let leo = *ends.last().unwrap();
    drop(log); // kill: no flush, no checkpoint
    let path = active_log_file(dir.path());
    let mut expected = leo;
    match damage {
        Damage::Zeros(n) => append_bytes(&path, &vec![0; n]),
        Damage::Random(n) => append_bytes(&path, &rng.bytes(n)),
        Damage::FakeHeader(n) => {
            let mut h = records(2, 7, Compression::None);
            h[..8].copy_from_slice(&leo.to_be_bytes());
            let len = i32::try_from(n.max(61) - 12).unwrap();
            h[8..12].copy_from_slice(&len.to_be_bytes());
            h.truncate(61);
            h.extend(rng.bytes(n.saturating_sub(61)));
            append_bytes(&path, &h);
        }
        Damage::Torn(n) => {
            let b = records(3, 5, Compression::None);
            append_bytes(&path, &b[..n.min(b.len() - 1)]);
        }
        Damage::FlipInLast(at) => {
            let mut raw = std::fs::read(&path).unwrap();
            // find the last batch of the active segment
            let mut pos = 0;
            let mut last = 0;
            while pos < raw.len() {
                last = pos;
                pos += RecordBatchHeader::parse(&raw[pos..]).unwrap().total_size();
            }
            let size = raw.len() - last;
            let i = last + at % size;
            // the base offset (bytes 0..8) and leader epoch (12..16) are outside the CRC
            // (Kafka cannot see such a flip either: the batch stays valid), so flip the
            // length (8..12) or anything from the magic on
            let i = match i - last {
                0..=7 => last + 8 + (i - last) % 4,
                12..=15 => i + 4,
                _ => i,
            };
            raw[i] ^= 1 << (at % 8);
            std::fs::write(&path, &raw).unwrap();
            expected = ends[ends.len() - 2];
        }
        Damage::CutIndexes(n) => {
            for ext in ["index", "timeindex"] {
                let p = path.with_extension(ext);
                let f = OpenOptions::new().write(true).open(&p).unwrap();
                let len = f.metadata().unwrap().len();
                f.set_len(n.min(len)).unwrap();
            }
        }
        Damage::DeleteIndexes => {
            for ext in ["index", "timeindex"] {
                std::fs::remove_file(path.with_extension(ext)).unwrap();
            }
        }
    }
    let log = Log::open(dir.path(), cfg(segment_bytes), rp, None)
        .unwrap_or_else(|e| panic!("{damage:?} rp={rp:?}: open failed: {e}"));
    assert_eq!(
        log.log_end_offset(),
        expected,
        "{damage:?} rp={rp:?} seed={seed}"
    );
    assert_serves(&log, expected);
    drop(log);
    // a second life: reopen with full recovery cuts nothing more, appends work, and a
    // kill after them loses nothing written before it
    let mut log = Log::open(dir.path(), cfg(segment_bytes), None, None).unwrap();
    assert_eq!(log.log_end_offset(), expected, "{damage:?}: second open");
    let more = write(&mut log, 3, seed + 1);
    let end = *more.last().unwrap();
    drop(log);
    append_bytes(&active_log_file(dir.path()), &[0; 17]);
    let log = Log::open(dir.path(), cfg(segment_bytes), Some(expected), None).unwrap();
    assert_serves(&log, end);
}

#[test]
fn tail_sweep_zeros_random_torn_fake_headers() {
    let mut lengths: Vec<usize> = vec![1, 2, 3, 7, 8, 11, 12, 16, 17, 60, 61, 62, 100, 511];
    lengths.extend([4095, 4096, 4097, 8192 + 13, 3 * 4096 + 1]);
    let mut cases = 0;
    for (i, &n) in lengths.iter().enumerate() {
        let seed = 0x9e37_79b9 + i as u64;
        for damage in [
            Damage::Zeros(n),
            Damage::Random(n),
            Damage::FakeHeader(n),
            Damage::Torn(n),
        ] {
            // a small segment size so several segments exist; recovery point absent (no
            // checkpoint) or at the start
            for rp in [None, Some(0)] {
                run_case(damage, 1500, rp, seed);
                cases += 1;
            }
        }
    }
    println!("tail sweep: {cases} cases recovered");
}

#[test]
fn bit_flips_in_the_last_batch_cut_that_batch() {
    let mut cases = 0;
    for at in (0..400).step_by(7) {
        run_case(Damage::FlipInLast(at), 1 << 20, None, 77 + at as u64);
        cases += 1;
    }
    println!("bit flips: {cases} cases recovered");
}

#[test]
fn cut_or_missing_indexes_are_rebuilt() {
    for n in [0, 1, 7, 8, 9, 12, 13, 23] {
        run_case(Damage::CutIndexes(n), 1 << 20, Some(0), 5 + n);
        run_case(Damage::CutIndexes(n), 1500, None, 9 + n);
    }
    run_case(Damage::DeleteIndexes, 1 << 20, Some(0), 3);
    run_case(Damage::DeleteIndexes, 1500, None, 4);
}

#[test]
fn corrupt_tail_before_the_recovery_point_is_repaired_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), cfg(1500), None, None).unwrap();
    write(&mut log, 30, 1);
    log.flush().unwrap();
    let leo = log.log_end_offset();
    assert!(log.segment_count() >= 3);
    drop(log);
    // garbage after the first (flushed, sealed) segment's data
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    append_bytes(&logs[0], &[0xab; 100]);
    let log = Log::open(dir.path(), cfg(1500), Some(leo), None).unwrap();
    // the later flushed segments are kept, the garbage is gone
    assert_eq!(log.log_end_offset(), leo);
    assert_serves(&log, leo);
}

async fn kill_like_life<F, Fut>(dir: &Path, f: F)
where
    F: FnOnce(krafty_server::BrokerHandle) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let broker = common::start(dir).await;
    f(broker).await;
}

/// The reproduction: writes, an unclean stop (the runtime dies with the broker:
/// no flush, no checkpoint), 100 zero bytes appended to the active segment; the broker
/// starts and serves every record.
#[test]
fn broker_starts_after_zero_bytes_appended_to_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let d = dir.path().to_path_buf();
    rt().block_on(kill_like_life(&d, |broker| async move {
        broker.state().create_topic("crash", 1, false).unwrap();
        let mut c = Client::connect(broker.local_addr()).await;
        for i in 0..10 {
            assert_eq!(
                produce(&mut c, "crash", 0, batch(10, &format!("a{i}")))
                    .await
                    .0,
                0
            );
        }
        std::mem::forget(broker); // no clean shutdown
    }));
    let seg = active_log_file(&dir.path().join("crash-0"));
    append_bytes(&seg, &[0; 100]);
    rt().block_on(async {
        let broker = common::start(&d).await;
        let mut c = Client::connect(broker.local_addr()).await;
        assert_eq!(fetch_all(&mut c, "crash", 0, 12).await.len(), 100);
        assert_eq!(produce(&mut c, "crash", 0, batch(1, "z")).await, (0, 100));
        broker.shutdown().await.unwrap();
    });
}
