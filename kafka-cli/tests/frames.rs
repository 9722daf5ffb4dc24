//! `kafka-cli frames` end to end: runs the built binary on the repo's copy of the golden
//! frames (`kafka-protocol/tests/data/golden-frames`) and on corrupted copies in temp dirs.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The golden frames kept in the kafka-protocol crate.
fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kafka-protocol/tests/data/golden-frames")
}

/// A small Metadata v12 request (66 bytes, one topic) and its response, from the kcat snappy
/// run.
fn metadata_request() -> PathBuf {
    golden().join("kcat-snappy/00007-3-v12.request.bin")
}

fn metadata_response() -> PathBuf {
    golden().join("kcat-snappy/00007-3-v12.response.bin")
}

fn kafka_cli(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-cli"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Fails the test if the binary panicked rather than reporting an error.
fn assert_no_panic(out: &Output) {
    assert!(
        !stderr(out).contains("panicked"),
        "kafka-cli panicked: {}",
        stderr(out)
    );
}

/// The golden sets recorded from the peers (every frame within the specs' versions), or the
/// Java sets (`java-*`, some recorded from Kafka 4.0.2's client with versions newer than the
/// specs).
fn golden_sets(java: bool) -> Vec<String> {
    let mut sets: Vec<String> = std::fs::read_dir(golden())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter(|e| e.file_name().to_string_lossy().starts_with("java-") == java)
        .map(|e| e.path().display().to_string())
        .collect();
    sets.sort();
    sets
}

#[test]
fn check_passes_on_every_golden_frame() {
    let sets = golden_sets(false);
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"frames", &"check"];
    args.extend(sets.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>));
    let out = kafka_cli(&args);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(
        text.lines().last(),
        Some("checked 606 frames: 606 ok, 0 failed"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "no failure lines expected: {text}");
}

/// The Java sets: every frame within the specs round-trips; the frames the Kafka 4.0.2
/// client sent at versions newer than the specs (Produce v12, Metadata v13, ...) are
/// reported as unsupported versions, and nothing else fails.
#[test]
fn check_on_java_golden_frames_fails_only_on_versions_newer_than_the_specs() {
    let sets = golden_sets(true);
    assert!(!sets.is_empty(), "no java-* golden sets");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"frames", &"check"];
    args.extend(sets.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>));
    let out = kafka_cli(&args);
    assert_no_panic(&out);
    let text = stdout(&out);
    let (failures, summary): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|l| !l.starts_with("checked "));
    for line in &failures {
        assert!(
            line.contains("unsupported version"),
            "unexpected failure: {line}"
        );
    }
    assert_eq!(
        summary,
        vec![format!("checked 188 frames: 150 ok, {} failed", failures.len()).as_str()],
        "{text}"
    );
}

#[test]
fn check_reports_a_corrupted_frame_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    // Metadata v12 request body: topics, allow_auto_topic_creation (bool),
    // include_topic_authorized_operations (bool), tagged fields. A bool byte of 2 decodes as
    // true and re-encodes as 1, so the bytes differ exactly there.
    let mut bytes = std::fs::read(metadata_request()).unwrap();
    let at = bytes.len() - 3;
    assert_eq!(bytes[at], 1, "allow_auto_topic_creation byte moved?");
    bytes[at] = 2;
    let bad = dir.path().join("00007-3-v12.request.bin");
    std::fs::write(&bad, &bytes).unwrap();
    std::fs::copy(
        metadata_response(),
        dir.path().join("00007-3-v12.response.bin"),
    )
    .unwrap();
    // Not frame files: skipped.
    std::fs::write(dir.path().join("index.tsv"), "file\n").unwrap();

    let out = kafka_cli(&[&"frames", &"check", &dir.path()]);
    assert_no_panic(&out);
    assert!(!out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with(&bad.display().to_string()), "{text}");
    assert!(
        lines[0].contains(&format!("differ at offset {at}:")),
        "{text}"
    );
    assert_eq!(lines[1], "checked 2 frames: 1 ok, 1 failed");
}

#[test]
fn check_reports_decode_errors_and_recurses_one_level() {
    let parent = tempfile::tempdir().unwrap();
    let client = parent.path().join("some-client");
    std::fs::create_dir(&client).unwrap();
    let bytes = std::fs::read(metadata_response()).unwrap();
    std::fs::write(
        client.join("00007-3-v12.response.bin"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let out = kafka_cli(&[&"frames", &"check", &parent.path()]);
    assert_no_panic(&out);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(text.contains("some-client"), "{text}");
    assert!(text.contains("decode error: MetadataResponse"), "{text}");
    assert!(text.contains("truncated"), "{text}");
    assert!(
        text.ends_with("checked 1 frames: 0 ok, 1 failed\n"),
        "{text}"
    );
}

#[test]
fn check_fails_when_no_frame_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let out = kafka_cli(&[&"frames", &"check", &dir.path()]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "checked 0 frames: 0 ok, 0 failed\n");
    assert!(stderr(&out).contains("no frame files"), "{}", stderr(&out));
}

#[test]
fn decode_request_as_text() {
    let out = kafka_cli(&[&"frames", &"decode", &metadata_request()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("66 bytes, no size prefix"), "{text}");
    assert!(
        text.contains(
            "Metadata request: api key 3, version 12, header v2, correlation id 2, \
             client id \"rdkafka\""
        ),
        "{text}"
    );
    assert!(text.contains("MetadataRequest {"), "{text}");
    assert!(text.contains("allow_auto_topic_creation: true,"), "{text}");
    assert!(text.contains("\"smoke-kcat-snappy-feb2d8fa\""), "{text}");
}

#[test]
fn decode_request_as_json() {
    let out = kafka_cli(&[&"frames", &"decode", &"--json", &metadata_request()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["api_key"], 3);
    assert_eq!(v["api_name"], "Metadata");
    assert_eq!(v["api_version"], 12);
    assert_eq!(v["direction"], "request");
    assert_eq!(v["size_prefix"], false);
    assert_eq!(v["header"]["correlation_id"], 2);
    assert_eq!(v["header"]["client_id"], "rdkafka");
    assert_eq!(v["body"]["allow_auto_topic_creation"], true);
    assert_eq!(v["body"]["topics"][0]["name"], "smoke-kcat-snappy-feb2d8fa");
}

#[test]
fn decode_response_as_text_and_json() {
    let out = kafka_cli(&[&"frames", &"decode", &metadata_response()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("Metadata response: api key 3, version 12 (from the file name), header v1"),
        "{text}"
    );
    assert!(text.contains("host: \"127.0.0.1\""), "{text}");

    let out = kafka_cli(&[&"frames", &"decode", &"--json", &metadata_response()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["api_key"], 3);
    assert_eq!(v["api_version"], 12);
    assert_eq!(v["direction"], "response");
    assert_eq!(v["header"]["correlation_id"], 2);
    assert_eq!(v["body"]["brokers"][0]["host"], "127.0.0.1");
    assert_eq!(v["body"]["cluster_id"], "kafka-peers-33355");
    assert_eq!(v["body"]["topics"][0]["name"], "smoke-kcat-snappy-feb2d8fa");
}

#[test]
fn decode_response_needs_its_api_from_flags_or_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reply.bin");
    std::fs::copy(metadata_response(), &file).unwrap();

    let out = kafka_cli(&[&"frames", &"decode", &"--response", &file]);
    assert_no_panic(&out);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--api-key"), "{}", stderr(&out));

    let out = kafka_cli(&[
        &"frames",
        &"decode",
        &"--response",
        &"--api-key",
        &"Metadata",
        &"--api-version",
        &"12",
        &"--json",
        &file,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["body"]["controller_id"], 111);
}

#[test]
fn decode_detects_a_size_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(metadata_request()).unwrap();
    let mut framed = (bytes.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    let file = dir.path().join("framed.bin");
    std::fs::write(&file, framed).unwrap();
    let out = kafka_cli(&[&"frames", &"decode", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("70 bytes, 4-byte size prefix detected and stripped"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn decode_checks_flags_against_the_request_header() {
    let out = kafka_cli(&[
        &"frames",
        &"decode",
        &"--api-key",
        &"0",
        &metadata_request(),
    ]);
    assert_no_panic(&out);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
}

#[test]
fn decode_of_a_truncated_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(metadata_request()).unwrap();
    let file = dir.path().join("00007-3-v12.request.bin");
    // The header ends at byte 18 (its client id is "rdkafka"): cut inside the client id.
    std::fs::write(&file, &bytes[..14]).unwrap();
    let out = kafka_cli(&[&"frames", &"decode", &file]);
    assert_no_panic(&out);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("cannot decode"), "{err}");
    assert!(err.contains("RequestHeader.client_id (v2)"), "{err}");
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn decode_of_a_missing_file_is_a_clear_error() {
    let out = kafka_cli(&[&"frames", &"decode", &"/nonexistent/frame.bin"]);
    assert_no_panic(&out);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot read /nonexistent/frame.bin"));
}
