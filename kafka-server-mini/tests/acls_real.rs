//! Real Kafka as the judge of the ACL APIs: the same CreateAcls / DescribeAcls / DeleteAcls
//! sequence from our admin client, and the same refused CreateTopics of a SASL user, against
//! Apache Kafka with `StandardAuthorizer` and against kafka-server-mini; the outcomes must be
//! equal.
//!
//! The real node is a private one (`scripts/kafka-dist.sh start --security --authorizer`,
//! super user `User:ANONYMOUS` on its PLAINTEXT listener, PLAIN user alice on
//! SASL_PLAINTEXT), named by `ACL_JUDGE_CLUSTER` (default `acl-judge`): reused when it
//! already runs, else started here and stopped at the end. Runs when `REAL_KAFKA_CLUSTERS`
//! is set (real Kafka is available, as scripts/test.sh arranges); otherwise `SKIP:`, and a
//! failure with `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::process::Command;

use common::peer::{peer_missing, workspace_root};
use krafty_client::admin::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};
use krafty_client::{Admin, AdminConfig};
use krafty_server::{Broker, BrokerConfig};

fn dist(args: &[&str]) -> Result<String, String> {
    let out = Command::new("timeout")
        .arg("240")
        .arg(workspace_root().join("scripts/kafka-dist.sh"))
        .args(args)
        .output()
        .map_err(|e| format!("kafka-dist.sh: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The private authorizer node; stopped on drop when this test started it.
struct Judge {
    name: String,
    started: bool,
}

impl Drop for Judge {
    fn drop(&mut self) {
        if self.started {
            let _ = dist(&["stop", "--name", &self.name]);
        }
    }
}

fn admin(bootstrap: &str, user: Option<&str>) -> Admin {
    let mut c = AdminConfig::default();
    c.set("bootstrap.servers", bootstrap).unwrap();
    c.set("request.timeout.ms", "10000").unwrap();
    if let Some(u) = user {
        for (k, v) in [
            ("security.protocol", "SASL_PLAINTEXT".to_string()),
            ("sasl.mechanism", "PLAIN".into()),
            ("sasl.username", u.into()),
            ("sasl.password", format!("{u}-secret")),
        ] {
            c.set(k, &v).unwrap();
        }
    }
    Admin::new(c)
}

fn binding(
    rt: ResourceType,
    name: &str,
    pt: PatternType,
    op: AclOperation,
    perm: AclPermissionType,
) -> AclBinding {
    AclBinding::new(rt, name, pt, "User:alice", op, perm)
}

/// The sequence both brokers get; returns what each step answered, as text.
async fn sequence(root: &Admin, alice: &Admin) -> Vec<String> {
    use AclOperation::*;
    use AclPermissionType::*;
    use PatternType::*;
    use ResourceType::*;
    let mut seen = Vec::new();
    let code = |r: &krafty_client::Error| r.kafka_code().map(|c| c.name().to_string());
    let acls = [
        binding(Topic, "judge-", Prefixed, Read, Allow),
        binding(Topic, "judge-x", Literal, Write, Deny),
        binding(Group, "*", Literal, Read, Allow),
        binding(Cluster, "other-cluster", Literal, Alter, Allow),
    ];
    let created = root.create_acls(&acls).await.unwrap();
    seen.push(format!(
        "create: {:?}",
        created
            .iter()
            .map(|r| r.as_ref().err().and_then(code))
            .collect::<Vec<_>>()
    ));
    // MATCH on judge-x: the prefixed and the literal topic ACLs
    let mut f = AclBindingFilter::any();
    f.resource_type = Topic;
    f.resource_name = Some("judge-x".into());
    f.pattern_type = Match;
    let mut found = root.describe_acls(&f).await.unwrap();
    found.sort();
    seen.push(format!("describe match judge-x: {found:?}"));
    let mut all = root.describe_acls(&AclBindingFilter::any()).await.unwrap();
    all.sort();
    seen.push(format!("describe any: {all:?}"));
    // alice may not create topics (no CREATE ACL), nor administer ACLs
    let r = alice
        .create_topics(&[krafty_client::NewTopic::new("judge-x", 1, 1)])
        .await;
    seen.push(format!(
        "alice create topic: {:?}",
        r.map(|v| v
            .into_iter()
            .map(|r| r.err().and_then(|e| code(&e)))
            .collect::<Vec<_>>())
            .map_err(|e| code(&e))
    ));
    let r = alice.describe_acls(&AclBindingFilter::any()).await;
    seen.push(format!(
        "alice describe acls: {:?}",
        r.map_err(|e| code(&e))
    ));
    // delete by an exact filter, then by a type filter
    let mut removed = root
        .delete_acls(&[acls[1].to_filter()])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect::<Vec<_>>();
    seen.push(format!("delete exact: {removed:?}"));
    let mut f = AclBindingFilter::any();
    f.resource_type = Topic;
    removed = root
        .delete_acls(&[f])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    seen.push(format!("delete topics: {removed:?}"));
    let mut f = AclBindingFilter::any();
    f.pattern_type = Literal;
    let left = root.delete_acls(&[f]).await.unwrap();
    seen.push(format!("delete literal: {left:?}"));
    seen.push(format!(
        "left: {:?}",
        root.describe_acls(&AclBindingFilter::any()).await.unwrap()
    ));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_apis_answer_as_real_kafka_does() {
    if std::env::var("REAL_KAFKA_CLUSTERS").is_err() {
        return peer_missing("REAL_KAFKA_CLUSTERS is not set: no real Kafka to judge the ACL APIs");
    }
    let name = std::env::var("ACL_JUDGE_CLUSTER").unwrap_or_else(|_| "acl-judge".into());
    let mut judge = Judge {
        name: name.clone(),
        started: false,
    };
    let plain = match dist(&["bootstrap", "--name", &name]) {
        Ok(b) => b,
        Err(_) => {
            judge.started = true;
            dist(&[
                "start",
                "-v",
                "4.4.0",
                "--name",
                &name,
                "-n",
                "1",
                "--security",
                "--authorizer",
            ])
            .expect("start the real authorizer node")
        }
    };
    let sasl = dist(&["bootstrap", "--name", &name, "--listener", "SASL_PLAINTEXT"]).unwrap();
    let real_root = admin(&plain, None);
    let real_alice = admin(&sasl, Some("alice"));
    // start from no ACLs (a reused node may hold some from an interrupted run)
    real_root
        .delete_acls(&[AclBindingFilter::any()])
        .await
        .unwrap();
    let real = sequence(&real_root, &real_alice).await;

    let dir = tempfile::tempdir().unwrap();
    let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    for (k, v) in [
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        ),
        ("sasl.enabled.mechanisms", "PLAIN"),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";"#,
        ),
        (
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        ),
        ("super.users", "User:ANONYMOUS"),
    ] {
        c.set(k, v).unwrap();
    }
    let mini = Broker::start(c).await.unwrap();
    let mini_root = admin(&mini.listener_addr("PLAINTEXT").unwrap().to_string(), None);
    let mini_alice = admin(
        &mini.listener_addr("SASL_PLAINTEXT").unwrap().to_string(),
        Some("alice"),
    );
    let ours = sequence(&mini_root, &mini_alice).await;
    for (r, o) in real.iter().zip(&ours) {
        println!("real Kafka: {r}\nours:       {o}");
    }
    assert_eq!(real, ours);
    assert!(real[0].contains("INVALID_REQUEST"), "{}", real[0]);
    for a in [real_root, real_alice, mini_root, mini_alice] {
        a.close();
    }
    mini.shutdown().await.unwrap();
    drop(judge);
}
