//! `kafka-cli` over SASL_SSL (SCRAM-SHA-512, settings passed with `-X`) to the secured real
//! Apache Kafka of `scripts/real-kafka.sh` (`REAL_KAFKA_SECURE`, e.g. k44-sec): create a
//! topic, produce, consume; a wrong password fails with the broker's refusal and without
//! the password in the output. Without `REAL_KAFKA_SECURE` the test prints SKIP, or fails
//! under `CI=true`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

fn dist(args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka-dist.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kafka-dist.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cli(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let out = common::run_bounded(
        env!("CARGO_BIN_EXE_kafka-cli"),
        args,
        stdin,
        Duration::from_secs(90),
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{args:?} panicked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = cli(args, stdin);
    assert!(
        out.status.success(),
        "kafka-cli {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn produce_and_consume_over_sasl_ssl_scram() {
    let names = std::env::var("REAL_KAFKA_SECURE").unwrap_or_default();
    if names.trim().is_empty() {
        let reason = "REAL_KAFKA_SECURE is not set (scripts/real-kafka.sh up starts k44-sec)";
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("CI=true and {reason}");
        }
        eprintln!("SKIP: {reason}");
        return;
    }
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let bootstrap = dist(&["bootstrap", "--name", name, "--listener", "SASL_SSL"]);
        let ca = format!(
            "ssl.ca.location={}/ca.pem",
            dist(&["tls-dir", "--name", name])
        );
        let jaas = r#"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";"#;
        let sec = [
            "--bootstrap",
            &bootstrap,
            "-X",
            "security.protocol=SASL_SSL",
            "-X",
            &ca,
            "-X",
            "sasl.mechanism=SCRAM-SHA-512",
            "-X",
            jaas,
        ];
        let with = |args: &[&str]| -> Vec<String> {
            args.iter()
                .chain(sec.iter())
                .map(|s| s.to_string())
                .collect()
        };
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let topic = format!("cli-sec-{n}");
        let args = with(&["topics", "create", "--topic", &topic, "--partitions", "1"]);
        let created = ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), None);
        assert_eq!(created, format!("Created topic {topic}.\n"));
        let input: Vec<String> = (0..30).map(|i| format!("line {i}")).collect();
        let args = with(&["produce", "--topic", &topic]);
        let out = cli(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            Some(format!("{}\n", input.join("\n")).as_bytes()),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let args = with(&[
            "consume",
            "--topic",
            &topic,
            "--from-beginning",
            "--max-messages",
            "30",
        ]);
        let got = ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), None);
        assert_eq!(got.lines().collect::<Vec<_>>(), input, "{name}: consumed");
        eprintln!("{name}: kafka-cli over SASL_SSL SCRAM-SHA-512: created {topic}, produced and consumed 30");

        // A wrong password: refused, named, not echoed.
        let bad = [
            "topics",
            "list",
            "--bootstrap",
            &bootstrap,
            "-X",
            "security.protocol=SASL_SSL",
            "-X",
            &ca,
            "-X",
            "sasl.mechanism=SCRAM-SHA-512",
            "-X",
            "sasl.username=alice",
            "-X",
            "sasl.password=wrong-secret-123",
        ];
        let out = cli(&bad, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "wrong password let in: {err}");
        assert!(err.contains("SCRAM-SHA-512 authentication failed"), "{err}");
        assert!(!err.contains("wrong-secret-123"), "password echoed: {err}");
    }
}
