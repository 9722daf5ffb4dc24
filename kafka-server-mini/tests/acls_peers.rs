//! ACLs with real peers: kcat (librdkafka) is refused on a topic without an ACL and allowed
//! once it exists; Apache Kafka's own `kafka-acls` tool adds, lists and removes ACLs on
//! kafka-server-mini (the binary, SASL_PLAINTEXT PLAIN, StandardAuthorizer, super user
//! `admin`). Without kcat or Java the tests print `SKIP:` (and fail with `CI=true`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::peer::{peer_missing, spawn_broker, workspace_root};
use krafty_client::admin::{AclBinding, AclBindingFilter, AclOperation, AclPermissionType};
use krafty_client::admin::{PatternType, ResourceType};
use krafty_client::{Admin, AdminConfig, NewTopic};

const JAAS: &str = r#"listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";"#;

/// kafka-server-mini with one SASL_PLAINTEXT listener and the authorizer; killed on drop.
struct Secured {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Secured {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (child, port) = spawn_broker(
            &dir.path().join("data"),
            &[
                "listeners=SASL_PLAINTEXT://127.0.0.1:0",
                "sasl.enabled.mechanisms=PLAIN",
                JAAS,
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "super.users=User:admin",
            ],
        );
        Secured {
            child,
            port,
            _dir: dir,
        }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn admin(&self, user: &str) -> Admin {
        let mut c = AdminConfig::default();
        for (k, v) in [
            ("bootstrap.servers", self.bootstrap()),
            ("security.protocol", "SASL_PLAINTEXT".into()),
            ("sasl.mechanism", "PLAIN".into()),
            ("sasl.username", user.into()),
            ("sasl.password", format!("{user}-secret")),
        ] {
            c.set(k, &v).unwrap();
        }
        Admin::new(c)
    }
}

impl Drop for Secured {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shared_peers() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared/peers"),
        manifest.join("../shared/peers"),
        PathBuf::from("/work/shared/peers"),
    ]
    .into_iter()
    .find(|p| p.join("env.sh").exists())
}

/// Runs `cmd` in bash with the peers on PATH; exit code and stdout + stderr.
fn bash(peers: &Path, cmd: &str, stdin: Option<&str>) -> (i32, String) {
    let script = format!(
        "source '{}' >/dev/null 2>&1; {cmd}",
        peers.join("env.sh").display()
    );
    let mut child = Command::new("timeout")
        .args(["120", "bash", "-c", &script])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn allow(topic: &str, op: AclOperation) -> AclBinding {
    AclBinding::new(
        ResourceType::Topic,
        topic,
        PatternType::Literal,
        "User:alice",
        op,
        AclPermissionType::Allow,
    )
}

#[test]
fn kcat_is_refused_without_an_acl_then_allowed() {
    let Some(peers) = shared_peers() else {
        return peer_missing("shared/peers not found");
    };
    if bash(&peers, "command -v kcat", None).0 != 0 {
        return peer_missing("kcat is not installed");
    }
    let broker = Secured::start();
    let rt = rt();
    let root = broker.admin("admin");
    rt.block_on(root.create_topic("kc", 1, 1)).unwrap();
    let kcat = format!(
        "kcat -b {} -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN \
         -X sasl.username=alice -X sasl.password=alice-secret -X message.timeout.ms=5000",
        broker.bootstrap()
    );
    let (mut tried, mut let_in) = (0, 0);
    // refused: produce (WRITE) and consume (READ)
    let (code, out) = bash(&peers, &format!("{kcat} -P -t kc"), Some("refused\n"));
    tried += 1;
    println!("kcat produce without an ACL: exit {code}: {}", out.trim());
    assert!(code != 0, "kcat produced without an ACL: {out}");
    assert!(
        out.contains("authorization failed") || out.contains("Authorization failed"),
        "{out}"
    );
    let (code, out) = bash(
        &peers,
        &format!("{kcat} -C -t kc -o beginning -e -q -m 5"),
        None,
    );
    tried += 1;
    let got_refused = out.lines().any(|l| l == "refused");
    if got_refused {
        let_in += 1;
    }
    println!("kcat consume without an ACL: exit {code}: {}", out.trim());
    assert!(code != 0 && !got_refused, "{out}");
    println!("tried {tried}, let in {let_in}");

    // allowed: with WRITE and READ on the topic
    let created = rt
        .block_on(root.create_acls(&[
            allow("kc", AclOperation::Write),
            allow("kc", AclOperation::Read),
        ]))
        .unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    let (code, out) = bash(&peers, &format!("{kcat} -P -t kc"), Some("allowed\n"));
    assert_eq!(code, 0, "kcat produce with an ACL: {out}");
    let (code, out) = bash(
        &peers,
        &format!("{kcat} -C -t kc -o beginning -e -q -c 1"),
        None,
    );
    assert_eq!(
        (code, out.trim()),
        (0, "allowed"),
        "kcat consume with an ACL"
    );
    root.close();
}

/// Runs Kafka's `kafka-acls` through `scripts/kafka-dist.sh tool`.
fn kafka_acls(args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("timeout")
        .arg("180")
        .arg(workspace_root().join("scripts/kafka-dist.sh"))
        .arg("tool")
        .arg("kafka-acls")
        .args(args)
        .output()
        .ok()?;
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[test]
fn kafka_acls_tool_adds_lists_and_removes_acls() {
    let java = Command::new(workspace_root().join("scripts/kafka-dist.sh"))
        .arg("fetch")
        .output();
    if !java.is_ok_and(|o| o.status.success()) {
        return peer_missing("Java or Kafka's jars (scripts/kafka-dist.sh fetch) are missing");
    }
    let broker = Secured::start();
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("admin.properties");
    std::fs::write(
        &props,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
         sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\";\n",
    )
    .unwrap();
    let bs = broker.bootstrap();
    let props = props.to_string_lossy().to_string();
    let common = [
        "--bootstrap-server",
        bs.as_str(),
        "--command-config",
        props.as_str(),
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = common.iter().chain(extra).copied().collect();
        kafka_acls(&args).expect("run kafka-acls")
    };
    let (ok, out) = run(&[
        "--add",
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
    ]);
    println!("kafka-acls --add:\n{out}");
    assert!(ok, "{out}");
    let root = broker.admin("admin");
    let rt = rt();
    let stored = rt
        .block_on(root.describe_acls(&AclBindingFilter::any()))
        .unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored
        .iter()
        .all(|b| b.pattern_type == PatternType::Prefixed
            && b.resource_name == "orders-"
            && b.principal == "User:alice"));
    let (ok, out) = run(&[
        "--list",
        "--topic",
        "orders-eu",
        "--resource-pattern-type",
        "match",
    ]);
    println!("kafka-acls --list:\n{out}");
    assert!(
        ok && out.contains("orders-") && out.contains("User:alice"),
        "{out}"
    );
    // alice may now write orders-eu (prefixed ACL) but not other topics
    let alice = broker.admin("alice");
    rt.block_on(root.create_topics(&[
        NewTopic::new("orders-eu", 1, 1),
        NewTopic::new("other", 1, 1),
    ]))
    .unwrap();
    assert_eq!(
        rt.block_on(alice.list_topics()).unwrap(),
        vec!["orders-eu".to_string()]
    );
    let (ok, out) = run(&[
        "--remove",
        "--force",
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
    ]);
    println!("kafka-acls --remove:\n{out}");
    assert!(ok, "{out}");
    assert!(rt
        .block_on(root.describe_acls(&AclBindingFilter::any()))
        .unwrap()
        .is_empty());
    assert!(rt.block_on(alice.list_topics()).unwrap().is_empty());
    root.close();
    alice.close();
}
