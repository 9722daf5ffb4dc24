//! Every frame captured from real clients (librdkafka via confluent-kafka and kcat,
//! kafka-python, kafkajs, sarama) talking to a real broker (Tansu), and from Apache Kafka's
//! Java client and tools talking to Apache Kafka 4.0.2 (`java-*`, recorded by
//! `scripts/record-java-golden.sh`), decodes and re-encodes to the identical bytes. The
//! frames are kept in
//! `tests/data/golden-frames/<client>-<variant>/NNNNN-<key>-v<version>.{request,response}.bin`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use krafty_protocol::frame::{decode_request, decode_response, write_request, write_response};
use krafty_protocol::generated::ApiKey;
use krafty_protocol::ErrorKind;

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
    let mut newer_than_specs = Vec::new();
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
            if !api_key.valid_versions().contains(version) {
                // Newer than the message specs the codec is generated from (Kafka 4.0.2's
                // Java client and broker speak e.g. Metadata v13): the codec must refuse it
                // with a typed UnsupportedVersion error. Once the specs cover the version,
                // the frame falls under the byte-exact check below.
                let result = if response {
                    decode_response(raw.clone(), api_key, version).map(|_| ())
                } else {
                    decode_request(raw.clone()).map(|_| ())
                };
                match result {
                    Err(e) if matches!(e.kind(), ErrorKind::UnsupportedVersion) => {
                        newer_than_specs.push(name.clone())
                    }
                    other => failures.push(format!(
                        "{}: version outside the specs not refused as unsupported: {other:?}",
                        path.display()
                    )),
                }
                continue;
            }
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
    if !newer_than_specs.is_empty() {
        println!(
            "NOTE: {} golden frames use versions newer than the specs and were only checked to be \
             refused as unsupported: {}",
            newer_than_specs.len(),
            newer_than_specs.join(" ")
        );
    }
    assert!(
        checked >= 600 + 90,
        "expected the ~606 third-party and ~94 Java golden frames (within the specs), found {checked}"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} frames failed",
        failures.len()
    );
}
