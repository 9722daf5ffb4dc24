//! Record batches captured from real clients (confluent/librdkafka, kafka-python, kafkajs,
//! kcat, sarama) with every codec, read from the shared golden frames.
//!
//! Owns: the check that this module decodes what real producers write. Batches are located
//! inside Produce requests and Fetch responses without the message codec: at every offset
//! where a v2 header parses with a valid CRC-32C and a length inside the frame, or a legacy
//! message has a valid CRC-32, there is a batch (a false positive would need a 32-bit CRC
//! collision). Every record is decoded, keys are checked against the `key-<n>` pattern of the
//! capture runs, and batches are re-encoded.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::header::{RecordBatchHeader, MIN_BATCH_LENGTH};
use super::legacy::MESSAGE_OVERHEAD_V0;
use super::{
    Compression, DecodeOptions, LegacyMessage, RawRecordBatch, RecordBatch, LOG_OVERHEAD,
    MAGIC_OFFSET,
};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden-frames")
}

/// A batch found in a frame.
enum Found {
    V2(RawRecordBatch),
    Legacy(LegacyMessage),
}

/// Scans `frame` for batches and legacy messages with valid checksums.
fn find_batches(frame: &Bytes) -> Vec<Found> {
    let mut found = Vec::new();
    let mut at = 0;
    while at + MAGIC_OFFSET < frame.len() {
        let rest = frame.slice(at..);
        match rest[MAGIC_OFFSET] {
            2 => {
                if let Ok(header) = RecordBatchHeader::parse(&rest) {
                    let size = header.total_size();
                    if header.batch_length >= MIN_BATCH_LENGTH
                        && size <= rest.len()
                        && header.verify_crc(&rest[..size]).is_ok()
                    {
                        found.push(Found::V2(RawRecordBatch::new(rest.slice(..size)).unwrap()));
                        at += size;
                        continue;
                    }
                }
            }
            0 | 1 => {
                let size = i32::from_be_bytes(rest[8..12].try_into().unwrap());
                if let Ok(size) = usize::try_from(size) {
                    let end = LOG_OVERHEAD + size;
                    if size >= MESSAGE_OVERHEAD_V0
                        && end <= rest.len()
                        && crc32fast::hash(&rest[16..end])
                            == u32::from_be_bytes(rest[12..16].try_into().unwrap())
                    {
                        let mut entry = rest.slice(..end);
                        found.push(Found::Legacy(
                            LegacyMessage::decode(&mut entry, true).unwrap(),
                        ));
                        at += end;
                        continue;
                    }
                }
            }
            _ => {}
        }
        at += 1;
    }
    found
}

fn check_key(key: Option<&[u8]>, what: &str) {
    let key = key.unwrap_or_else(|| panic!("{what}: null key"));
    let key = std::str::from_utf8(key).unwrap();
    let n = key
        .strip_prefix("key-")
        .unwrap_or_else(|| panic!("{what}: key {key:?}"));
    assert!(n.parse::<u64>().is_ok(), "{what}: key {key:?}");
}

#[test]
fn golden_frames_decode() {
    let dir = golden_dir();
    let Ok(runs) = std::fs::read_dir(&dir) else {
        // the frames come from the peers kit: with CI=true their absence is a failure
        let reason = format!("no golden frames at {}", dir.display());
        let ci =
            std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"));
        assert!(
            !ci,
            "missing with CI=true (CI never passes by skipping): {reason}"
        );
        eprintln!("SKIP: {reason} (with CI=true this fails)");
        return;
    };
    let opts = DecodeOptions::default();
    let mut per_codec: BTreeMap<String, usize> = BTreeMap::new();
    let mut frames = 0;
    let mut runs: Vec<PathBuf> = runs.filter_map(|e| Some(e.ok()?.path())).collect();
    runs.sort();
    for run in runs.iter().filter(|p| p.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(run)
            .unwrap()
            .filter_map(|e| Some(e.ok()?.path()))
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let produce = name.contains("-0-v") && name.ends_with(".request.bin");
            let fetch = name.contains("-1-v") && name.ends_with(".response.bin");
            if !produce && !fetch {
                continue;
            }
            let what = format!("{}/{name}", run.file_name().unwrap().to_string_lossy());
            let frame = Bytes::from(std::fs::read(&file).unwrap());
            let found = find_batches(&frame);
            if produce {
                assert!(!found.is_empty(), "{what}: no batch found");
            }
            frames += 1;
            for batch in found {
                match batch {
                    Found::V2(raw) => {
                        let codec = raw.header().compression().unwrap();
                        let decoded = raw.decode(&opts).unwrap();
                        assert_eq!(decoded.records.len(), raw.header().records_count as usize);
                        if !decoded.is_control() {
                            for record in &decoded.records {
                                check_key(record.key.as_deref(), &what);
                                for header in &record.headers {
                                    assert!(
                                        header.key.starts_with("smoke-") || header.key == "client",
                                        "{what}: header {:?}",
                                        header.key
                                    );
                                }
                            }
                        }
                        // Re-encoding: identical bytes when uncompressed; with our own
                        // compressor, the same records.
                        let again = decoded.to_bytes().unwrap();
                        if codec == Compression::None {
                            assert_eq!(&again, raw.as_bytes(), "{what}");
                        }
                        let back = RecordBatch::decode(&mut again.clone(), &opts).unwrap();
                        assert_eq!(back, decoded, "{what}");
                        *per_codec.entry(format!("v2 {}", codec.name())).or_default() += 1;
                    }
                    Found::Legacy(message) => {
                        let codec = message.compression().unwrap();
                        let inner = message.inner_messages(&opts).unwrap();
                        assert!(!inner.is_empty());
                        for m in &inner {
                            check_key(m.key.as_deref(), &what);
                        }
                        if message.is_wrapper() {
                            // Inner offsets are absolute and end at the wrapper's.
                            assert_eq!(inner.last().unwrap().offset, message.offset, "{what}");
                        }
                        let key = format!("magic {} {}", message.magic, codec.name());
                        *per_codec.entry(key).or_default() += 1;
                    }
                }
            }
        }
    }
    eprintln!("golden frames: {frames} frames, batches per format: {per_codec:?}");
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        assert!(
            per_codec.contains_key(&format!("v2 {codec}")),
            "no v2 {codec} batch in the golden frames"
        );
    }
    assert!(per_codec.keys().any(|k| k.starts_with("magic 1")));
}
