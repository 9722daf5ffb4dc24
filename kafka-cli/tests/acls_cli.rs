//! `kafka-cli acls create|list|delete` end to end against an in-process kafka-server-mini
//! with SASL_PLAINTEXT PLAIN and the StandardAuthorizer (super user `admin`); a user
//! without cluster DESCRIBE is refused the listing.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Output;
use std::time::Duration;

use krafty_server::{Broker, BrokerConfig};

fn cli(bootstrap: &str, user: &str, args: &[&str]) -> Output {
    let pass = format!("sasl.password={user}-secret");
    let name = format!("sasl.username={user}");
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--bootstrap",
        bootstrap,
        "-X",
        "security.protocol=SASL_PLAINTEXT",
        "-X",
        "sasl.mechanism=PLAIN",
        "-X",
        &name,
        "-X",
        &pass,
    ]);
    common::run_bounded(
        env!("CARGO_BIN_EXE_kafka-cli"),
        &all,
        None,
        Duration::from_secs(60),
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn acls_create_list_delete_like_kafka_acls() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    for (k, v) in [
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.enabled.mechanisms", "PLAIN"),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";"#,
        ),
        (
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        ),
        ("super.users", "User:admin"),
    ] {
        c.set(k, v).unwrap();
    }
    let broker = rt.block_on(Broker::start(c)).unwrap();
    let bs = broker.local_addr().to_string();

    let out = cli(
        &bs,
        "admin",
        &[
            "acls",
            "create",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Read",
            "--operation",
            "Write",
            "--topic",
            "orders-",
            "--resource-pattern-type",
            "prefixed",
            "--group",
            "billing",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        4,
        "{}",
        text(&out.stdout)
    );

    let out = cli(
        &bs,
        "admin",
        &[
            "acls",
            "list",
            "--topic",
            "orders-eu",
            "--resource-pattern-type",
            "match",
        ],
    );
    let listed = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(listed.starts_with(
        "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders-, patternType=PREFIXED)`:"
    ), "{listed}");
    assert!(listed.contains("operation=READ") && listed.contains("operation=WRITE"));
    assert!(!listed.contains("billing"), "{listed}");

    let out = cli(&bs, "alice", &["acls", "list"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("CLUSTER_AUTHORIZATION_FAILED"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(
        &bs,
        "admin",
        &[
            "acls",
            "delete",
            "--principal",
            "User:alice",
            "--group",
            "billing",
            "--resource-pattern-type",
            "prefixed",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Removed 2 ACL(s)"),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&bs, "admin", &["acls", "list"]);
    assert!(!text(&out.stdout).contains("billing"));
    assert!(text(&out.stdout).contains("orders-"));
    rt.block_on(broker.shutdown()).unwrap();
}
