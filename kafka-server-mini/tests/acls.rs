//! ACLs and the authorizer over SASL_PLAINTEXT PLAIN, with our admin client, producer and
//! consumer: every protected operation is refused without its ACL (with Kafka's error code)
//! and works once the ACL is created; Metadata hides topics; deny wins; ACLs survive a
//! restart; a broker without an authorizer answers SECURITY_DISABLED.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use krafty_client::admin::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, ConfigResource, OffsetSpec,
    PatternType, ResourceType,
};
use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, KafkaCode, NewTopic, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};
use krafty_server::{Broker, BrokerConfig, BrokerHandle};

const PLAIN_USERS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";"#;

async fn start(dir: &std::path::Path, authorizer: bool) -> BrokerHandle {
    let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir);
    let mut settings = vec![
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.enabled.mechanisms", "PLAIN"),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            PLAIN_USERS,
        ),
        ("group.initial.rebalance.delay.ms", "0"),
    ];
    if authorizer {
        settings.push((
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        ));
        settings.push(("super.users", "User:admin"));
    }
    for (k, v) in settings {
        c.set(k, v).unwrap();
    }
    Broker::start(c).await.unwrap()
}

fn sasl(b: &BrokerHandle, user: &str) -> Vec<(String, String)> {
    let addr = b.listener_addr("SASL_PLAINTEXT").unwrap();
    [
        ("bootstrap.servers", addr.to_string()),
        ("security.protocol", "SASL_PLAINTEXT".into()),
        ("sasl.mechanism", "PLAIN".into()),
        ("sasl.username", user.into()),
        ("sasl.password", format!("{user}-secret")),
        ("request.timeout.ms", "5000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn admin(b: &BrokerHandle, user: &str) -> Admin {
    let mut c = AdminConfig::default();
    for (k, v) in sasl(b, user) {
        c.set(&k, &v).unwrap();
    }
    Admin::new(c)
}

fn allow(rt: ResourceType, name: &str, op: AclOperation) -> AclBinding {
    AclBinding::new(
        rt,
        name,
        PatternType::Literal,
        "User:alice",
        op,
        AclPermissionType::Allow,
    )
}

async fn grant(root: &Admin, acls: &[AclBinding]) {
    for r in root.create_acls(acls).await.unwrap() {
        r.unwrap();
    }
}

fn code<T: std::fmt::Debug>(r: &krafty_client::Result<T>) -> Option<KafkaCode> {
    match r {
        Ok(_) => None,
        Err(e) => e.kafka_code(),
    }
}

/// Counts refusals: each must carry `want`.
struct Refusals {
    tried: usize,
    let_in: usize,
}

impl Refusals {
    fn check<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        r: krafty_client::Result<T>,
        want: KafkaCode,
    ) {
        self.tried += 1;
        if r.is_ok() {
            self.let_in += 1;
        }
        assert_eq!(code(&r), Some(want), "{what}: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protected_operation_is_refused_then_allowed_by_its_acl() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), true).await;
    let root = admin(&broker, "admin");
    let alice = admin(&broker, "alice");
    let mut no = Refusals {
        tried: 0,
        let_in: 0,
    };
    use AclOperation::*;
    use KafkaCode::*;
    use ResourceType::{Cluster, Group, Topic};

    root.create_topics(&[NewTopic::new("t1", 1, 1), NewTopic::new("secret", 1, 1)])
        .await
        .unwrap()
        .into_iter()
        .for_each(|r| r.unwrap());

    // Metadata hides topics without DESCRIBE; named ones are TOPIC_AUTHORIZATION_FAILED
    assert_eq!(alice.list_topics().await.unwrap(), Vec::<String>::new());
    no.check(
        "describe secret",
        alice.describe_topics(&["secret"]).await,
        TopicAuthorizationFailed,
    );

    // CreateTopics: CREATE on the topic (or cluster)
    let created = alice
        .create_topics(&[NewTopic::new("t-new", 1, 1)])
        .await
        .unwrap();
    no.check(
        "create topic",
        created.into_iter().next().unwrap(),
        TopicAuthorizationFailed,
    );
    grant(
        &root,
        &[AclBinding::new(
            Topic,
            "t-",
            PatternType::Prefixed,
            "User:alice",
            Create,
            AclPermissionType::Allow,
        )],
    )
    .await;
    alice
        .create_topics(&[NewTopic::new("t-new", 1, 1)])
        .await
        .unwrap()
        .remove(0)
        .unwrap();

    // Produce: WRITE on the topic
    let mut pc = ProducerConfig::default();
    for (k, v) in sasl(&broker, "alice") {
        pc.set(&k, &v).unwrap();
    }
    pc.set("delivery.timeout.ms", "8000").unwrap();
    pc.set("max.block.ms", "5000").unwrap();
    pc.set("enable.idempotence", "false").unwrap();
    // DESCRIBE lets the producer see t1 in Metadata; Produce itself needs WRITE
    grant(&root, &[allow(Topic, "t1", Describe)]).await;
    let producer = Producer::new(pc.clone()).unwrap();
    no.check(
        "produce",
        producer
            .send_and_wait(ProducerRecord::new("t1").value("x"))
            .await,
        TopicAuthorizationFailed,
    );
    let _ = producer.close().await;
    // an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic
    let idempotent = {
        let mut c = pc.clone();
        c.set("enable.idempotence", "true").unwrap();
        c
    };
    let producer = Producer::new(idempotent.clone()).unwrap();
    no.check(
        "idempotent produce",
        producer
            .send_and_wait(ProducerRecord::new("t1").value("x"))
            .await,
        ClusterAuthorizationFailed,
    );
    let _ = producer.close().await;
    grant(&root, &[allow(Topic, "t1", Write)]).await;
    for cfg in [pc, idempotent] {
        let producer = Producer::new(cfg).unwrap();
        producer
            .send_and_wait(ProducerRecord::new("t1").value("hello"))
            .await
            .unwrap();
        let _ = producer.close().await;
    }
    // t1 is listed; `secret` and `t-new` (CREATE does not imply DESCRIBE) stay hidden
    assert_eq!(alice.list_topics().await.unwrap(), vec!["t1".to_string()]);
    let t1p0 = TopicPartition::new("t1", 0);
    alice
        .list_offsets(&[(t1p0.clone(), OffsetSpec::Latest)])
        .await
        .unwrap();

    // Groups: READ on the group; offsets need READ/DESCRIBE on the topic
    no.check(
        "list group offsets",
        alice.list_group_offsets("g1").await,
        GroupAuthorizationFailed,
    );
    no.check(
        "commit group offsets",
        alice.alter_group_offsets("g1", &[(t1p0.clone(), 0)]).await,
        GroupAuthorizationFailed,
    );
    no.check(
        "describe group",
        alice.describe_groups(&["g1"]).await,
        GroupAuthorizationFailed,
    );
    grant(&root, &[allow(Group, "g1", Read)]).await;
    no.check(
        "commit offsets of an unreadable topic",
        alice.alter_group_offsets("g1", &[(t1p0.clone(), 0)]).await,
        TopicAuthorizationFailed,
    );
    alice.list_group_offsets("g1").await.unwrap();

    // Consume in the group: READ topic + READ group
    let mut cc = ConsumerConfig::default()
        .with("group.id", "g1")
        .and_then(|c| c.with("auto.offset.reset", "earliest"))
        .and_then(|c| c.with("enable.auto.commit", "false"))
        .unwrap();
    for (k, v) in sasl(&broker, "alice") {
        cc.set(&k, &v).unwrap();
    }
    grant(&root, &[allow(Topic, "t1", Read)]).await;
    let consumer = Consumer::new(cc).unwrap();
    consumer.subscribe(&["t1"]).unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.is_empty() && tokio::time::Instant::now() < deadline {
        got = consumer.poll(Duration::from_millis(500)).await.unwrap();
    }
    assert_eq!(got.len(), 2);
    consumer.commit_sync().await.unwrap();
    consumer.close().await;

    // ListGroups filters to the groups the principal may DESCRIBE
    root.alter_group_offsets("hidden-group", &[(t1p0.clone(), 0)])
        .await
        .unwrap();
    let listed: Vec<String> = alice
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.group_id)
        .collect();
    assert_eq!(listed, vec!["g1".to_string()]);

    // DeleteRecords / CreatePartitions / configs / DeleteTopics
    no.check(
        "delete records",
        alice.delete_records(&[(t1p0.clone(), 1)]).await,
        TopicAuthorizationFailed,
    );
    no.check(
        "create partitions",
        alice.create_partitions("t1", 2).await,
        TopicAuthorizationFailed,
    );
    no.check(
        "describe configs",
        alice
            .describe_configs(ConfigResource::Topic("t1".into()))
            .await,
        TopicAuthorizationFailed,
    );
    no.check(
        "alter configs",
        alice
            .alter_configs(
                ConfigResource::Topic("t1".into()),
                &[("retention.ms".to_string(), "60000".to_string())],
            )
            .await,
        TopicAuthorizationFailed,
    );
    no.check(
        "delete topic",
        alice.delete_topics(&["t1"]).await.unwrap().remove(0),
        TopicAuthorizationFailed,
    );
    grant(
        &root,
        &[
            allow(Topic, "t1", Delete),
            allow(Topic, "t1", Alter),
            allow(Topic, "t1", AlterConfigs),
        ],
    )
    .await;
    alice.delete_records(&[(t1p0.clone(), 1)]).await.unwrap();
    alice.create_partitions("t1", 2).await.unwrap();
    alice
        .describe_configs(ConfigResource::Topic("t1".into()))
        .await
        .unwrap();
    alice
        .alter_configs(
            ConfigResource::Topic("t1".into()),
            &[("retention.ms".to_string(), "60000".to_string())],
        )
        .await
        .unwrap();

    // cluster-level: ACL administration (DESCRIBE / ALTER on the cluster)
    no.check(
        "describe acls",
        alice.describe_acls(&AclBindingFilter::any()).await,
        ClusterAuthorizationFailed,
    );
    no.check(
        "create acls",
        alice
            .create_acls(&[allow(Topic, "secret", Read)])
            .await
            .unwrap()
            .remove(0),
        ClusterAuthorizationFailed,
    );
    no.check(
        "delete acls",
        alice
            .delete_acls(&[AclBindingFilter::any()])
            .await
            .unwrap()
            .remove(0),
        ClusterAuthorizationFailed,
    );
    grant(&root, &[allow(Cluster, "kafka-cluster", Describe)]).await;
    assert!(!alice
        .describe_acls(&AclBindingFilter::any())
        .await
        .unwrap()
        .is_empty());

    // deny wins over allow
    grant(
        &root,
        &[AclBinding::new(
            Topic,
            "t",
            PatternType::Prefixed,
            "User:*",
            Alter,
            AclPermissionType::Deny,
        )],
    )
    .await;
    no.check(
        "create partitions under a DENY",
        alice.create_partitions("t1", 3).await,
        TopicAuthorizationFailed,
    );

    // finally: DELETE lets the topic go
    alice
        .delete_topics(&["t1"])
        .await
        .unwrap()
        .remove(0)
        .unwrap();

    println!("tried {}, let in {}", no.tried, no.let_in);
    assert_eq!(no.let_in, 0);
    root.close();
    alice.close();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_survive_a_restart_and_bad_bindings_are_invalid_requests() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), true).await;
    let root = admin(&broker, "admin");
    let b = AclBinding::new(
        ResourceType::Group,
        "app-",
        PatternType::Prefixed,
        "User:alice",
        AclOperation::Read,
        AclPermissionType::Allow,
    );
    let bad_cluster = AclBinding::new(
        ResourceType::Cluster,
        "not-the-cluster",
        PatternType::Literal,
        "User:alice",
        AclOperation::Alter,
        AclPermissionType::Allow,
    );
    let mut bad_principal = b.clone();
    bad_principal.principal = "alice".into();
    let r = root
        .create_acls(&[b.clone(), bad_cluster, bad_principal])
        .await
        .unwrap();
    assert!(r[0].is_ok());
    assert_eq!(code(&r[1]), Some(KafkaCode::InvalidRequest));
    assert_eq!(code(&r[2]), Some(KafkaCode::InvalidRequest));
    root.close();
    broker.shutdown().await.unwrap();

    let broker = start(dir.path(), true).await;
    let root = admin(&broker, "admin");
    let mut f = AclBindingFilter::any();
    f.resource_type = ResourceType::Group;
    f.resource_name = Some("app-orders".into());
    f.pattern_type = PatternType::Match;
    assert_eq!(root.describe_acls(&f).await.unwrap(), vec![b.clone()]);
    let removed = root
        .delete_acls(&[b.to_filter()])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(removed, vec![b]);
    assert!(root
        .describe_acls(&AclBindingFilter::any())
        .await
        .unwrap()
        .is_empty());
    root.close();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_authorizer_everything_is_allowed_and_acl_apis_are_security_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), false).await;
    let alice = admin(&broker, "alice");
    alice.create_topic("open", 1, 1).await.unwrap();
    assert_eq!(alice.list_topics().await.unwrap(), vec!["open".to_string()]);
    assert_eq!(
        code(&alice.describe_acls(&AclBindingFilter::any()).await),
        Some(KafkaCode::SecurityDisabled)
    );
    let r = alice
        .create_acls(&[allow(ResourceType::Topic, "open", AclOperation::Read)])
        .await
        .unwrap();
    assert_eq!(code(&r[0]), Some(KafkaCode::SecurityDisabled));
    alice.close();
    broker.shutdown().await.unwrap();
}
