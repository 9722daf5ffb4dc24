//! Every frame captured from real clients (librdkafka via confluent-kafka and kcat,
//! kafka-python, kafkajs, sarama) talking to a real broker decodes and re-encodes to the
//! identical bytes. The frames are a copy of `../shared/golden-frames` kept in
//! `tests/data/golden-frames/<client>-<variant>/NNNNN-<key>-v<version>.{request,response}.bin`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use krafty_protocol::frame::{decode_request, decode_response, write_request, write_response};
use krafty_protocol::generated::ApiKey;

fn frames_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-frames")
}

fn parse_name(name: &str) -> Option<(i16, i16, bool)> {
    let (stem, response) = if let Some(s) = name.strip_suffix(".request.bin") {
        (s, false)
    } else if let Some(s) = name.strip_suffix(".response.bin") {
        (s, true)
    } else {
        return None;
    };
    let mut parts = stem.split('-');
    let _seq = parts.next()?;
    let key = parts.next()?.parse().ok()?;
    let version = parts.next()?.strip_prefix('v')?.parse().ok()?;
    Some((key, version, response))
}

#[test]
fn every_golden_frame_round_trips() {
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(frames_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let Some((key, version, response)) = parse_name(&name) else {
                continue;
            };
            let raw = Bytes::from(std::fs::read(&path).unwrap());
            let api_key = ApiKey::from_i16(key).unwrap();
            let mut out = BytesMut::new();
            let result = if response {
                decode_response(raw.clone(), api_key, version)
                    .and_then(|(h, b)| write_response(&mut out, &h, version, &b))
            } else {
                decode_request(raw.clone())
                    .and_then(|f| write_request(&mut out, &f.header, &f.body))
            };
            checked += 1;
            match result {
                Err(e) => failures.push(format!("{}: {e}", path.display())),
                Ok(()) if out[4..] != raw[..] => {
                    let at = out[4..]
                        .iter()
                        .zip(raw.iter())
                        .position(|(a, b)| a != b)
                        .unwrap_or(out.len().min(raw.len() + 4) - 4);
                    failures.push(format!(
                        "{}: re-encoded bytes differ at offset {at} ({} vs {} bytes)",
                        path.display(),
                        out.len() - 4,
                        raw.len()
                    ))
                }
                Ok(()) => {}
            }
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(
        checked >= 600,
        "expected the ~606 golden frames, found {checked}"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} frames failed",
        failures.len()
    );
}
