//! The admin client against real brokers: topics and the cluster; configs; groups and
//! their committed offsets; partition offsets and deleting records. kafka-server-mini must
//! answer everything right; where Tansu lacks an API or deviates, its run prints a `NOTE:`
//! line with what Tansu answered.
mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use krafty_client::admin::{AlterConfigOp, ConfigEntry, ConfigResource, OffsetSpec};
use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, Error, KafkaCode, NewTopic, Producer,
    ProducerConfig, ProducerRecord, TopicPartition,
};

async fn admin_ops(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let admin = Admin::new(AdminConfig::new(&broker.bootstrap()).expect("config"));
    let cluster = admin.describe_cluster().await.expect("describe cluster");
    assert_eq!(cluster.brokers.len(), broker.nodes());
    let rf = broker.rf();
    let a = common::topic("adm-a");
    let b = common::topic("adm-b");
    let results = admin
        .create_topics(&[
            NewTopic::new(&a, 2, rf),
            NewTopic::new(&b, 1, rf).config("cleanup.policy", "delete"),
        ])
        .await
        .expect("create");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    common::wait_topic_ready(&broker.bootstrap(), &a, 2).await;
    common::wait_topic_ready(&broker.bootstrap(), &b, 1).await;
    let again = admin.create_topic(&a, 2, rf).await;
    assert!(
        matches!(
            again,
            Err(Error::Broker {
                code: KafkaCode::TopicAlreadyExists,
                ..
            })
        ),
        "{again:?}"
    );
    let names = admin.list_topics().await.expect("list");
    assert!(names.contains(&a) && names.contains(&b), "{names:?}");
    let described = admin.describe_topics(&[&a]).await.expect("describe");
    assert_eq!(described[0].partitions.len(), 2);
    assert!(described[0].partitions.iter().all(|p| cluster
        .brokers
        .iter()
        .any(|b| b.node_id == p.leader)
        && p.replicas.len() == rf as usize));
    match admin.create_partitions(&a, 4).await {
        Ok(()) => {
            common::wait_topic_ready(&broker.bootstrap(), &a, 4).await;
            let described = admin.describe_topics(&[&a]).await.expect("describe");
            assert_eq!(described[0].partitions.len(), 4);
        }
        Err(e) => eprintln!("NOTE: {kind}: CreatePartitions failed: {e}"),
    }
    let deleted = admin.delete_topics(&[&b]).await.expect("delete");
    assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");
    // Real Kafka removes a deleted topic from every broker's metadata shortly after
    // DeleteTopics answers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut names = admin.list_topics().await.expect("list");
    while names.contains(&b) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        names = admin.list_topics().await.expect("list");
    }
    assert!(!names.contains(&b), "{names:?}");
    let missing = admin.describe_topics(&["no-such-topic-xyz"]).await;
    assert!(missing.is_err(), "{missing:?}");
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tansu() {
    admin_ops("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_mini() {
    admin_ops("mini").await;
}

/// One broker's run: mini must get everything right, Tansu's deviations become NOTE lines.
struct Run {
    kind: &'static str,
    tansu: bool,
}

impl Run {
    /// `Some(value)` on success; on an error, panics for mini and prints a NOTE for Tansu.
    fn ok<T, E: Debug>(&self, what: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) if self.tansu => {
                eprintln!("NOTE: {}: {what} failed: {e:?}", self.kind);
                None
            }
            Err(e) => panic!("{}: {what}: {e:?}", self.kind),
        }
    }

    /// Whether `cond` holds; if not, panics for mini and prints a NOTE for Tansu.
    fn check(&self, what: &str, cond: bool, detail: impl Debug) -> bool {
        if !cond {
            if self.tansu {
                eprintln!("NOTE: {}: {what}: got {detail:?}", self.kind);
            } else {
                panic!("{}: {what}: got {detail:?}", self.kind);
            }
        }
        cond
    }

    /// Checks that `r` is the broker error `code`.
    fn check_code<T: Debug>(&self, what: &str, r: &krafty_client::Result<T>, code: KafkaCode) {
        self.check(what, matches!(r, Err(e) if e.kafka_code() == Some(code)), r);
    }
}

fn admin_for(bootstrap: &str) -> Admin {
    Admin::new(AdminConfig::new(bootstrap).expect("config"))
}

fn entry<'a>(entries: &'a [ConfigEntry], name: &str) -> Option<&'a ConfigEntry> {
    entries.iter().find(|e| e.name == name)
}

/// DescribeConfigs until `done` holds (or 30 s pass): real Kafka applies an altered config
/// on every broker shortly after the alter answers, as Java's AdminClient documents.
async fn describe_eventually(
    admin: &Admin,
    resource: &ConfigResource,
    done: impl Fn(&[ConfigEntry]) -> bool,
) -> krafty_client::Result<Vec<ConfigEntry>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = admin.describe_configs(resource.clone()).await;
        match &r {
            Ok(es) if !done(es) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => return r,
        }
    }
}

async fn configs(kind: &'static str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let run = Run {
        kind,
        tansu: broker.is_tansu(),
    };
    let admin = admin_for(&broker.bootstrap());
    let topic = common::topic("adm-cfg");
    let created = admin
        .create_topics(&[NewTopic::new(&topic, 1, broker.rf()).config("retention.ms", "12345")])
        .await
        .expect("create");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    common::wait_topic_ready(&broker.bootstrap(), &topic, 1).await;
    let resource = ConfigResource::Topic(topic.clone());

    if let Some(entries) = run.ok(
        "describe_configs(topic)",
        admin.describe_configs(resource.clone()).await,
    ) {
        let e = entry(&entries, "retention.ms");
        run.check(
            "retention.ms after create",
            e.is_some_and(|e| e.value.as_deref() == Some("12345") && !e.is_default),
            e,
        );
        run.check(
            "retention.ms source is a topic config (1)",
            e.is_some_and(|e| e.source == 1),
            e,
        );
    }

    let set = admin
        .incremental_alter_configs(
            resource.clone(),
            &[AlterConfigOp::Set("retention.ms".into(), "54321".into())],
        )
        .await;
    if run.ok("incremental_alter_configs(set)", set).is_some() {
        if let Some(entries) = run.ok(
            "describe_configs after set",
            describe_eventually(&admin, &resource, |es| {
                entry(es, "retention.ms").is_some_and(|e| e.value.as_deref() == Some("54321"))
            })
            .await,
        ) {
            let e = entry(&entries, "retention.ms");
            run.check(
                "retention.ms after incremental set",
                e.is_some_and(|e| e.value.as_deref() == Some("54321")),
                e,
            );
        }
        let del = admin
            .incremental_alter_configs(
                resource.clone(),
                &[AlterConfigOp::Delete("retention.ms".into())],
            )
            .await;
        if run.ok("incremental_alter_configs(delete)", del).is_some() {
            if let Some(entries) = run.ok(
                "describe_configs after delete",
                describe_eventually(&admin, &resource, |es| {
                    entry(es, "retention.ms").is_some_and(|e| e.source != 1)
                })
                .await,
            ) {
                let e = entry(&entries, "retention.ms");
                run.check(
                    "retention.ms back to the default after delete",
                    e.is_some_and(|e| e.value.as_deref() != Some("54321") && e.source != 1),
                    e,
                );
            }
        }
    }

    let legacy = admin
        .alter_configs(
            resource.clone(),
            &[("cleanup.policy".to_string(), "compact".to_string())],
        )
        .await;
    if run.ok("alter_configs (legacy)", legacy).is_some() {
        if let Some(entries) = run.ok(
            "describe_configs after legacy alter",
            describe_eventually(&admin, &resource, |es| {
                entry(es, "cleanup.policy").is_some_and(|e| e.value.as_deref() == Some("compact"))
            })
            .await,
        ) {
            let e = entry(&entries, "cleanup.policy");
            run.check(
                "cleanup.policy after legacy alter",
                e.is_some_and(|e| e.value.as_deref() == Some("compact")),
                e,
            );
        }
    }

    let cluster = admin.describe_cluster().await.expect("describe cluster");
    let node = cluster.brokers[0].node_id;
    if let Some(entries) = run.ok(
        "describe_configs(broker)",
        admin.describe_configs(ConfigResource::Broker(node)).await,
    ) {
        run.check("broker configs are listed", !entries.is_empty(), &entries);
        eprintln!("{kind}: broker {node} has {} configs", entries.len());
    }

    let missing = admin
        .incremental_alter_configs(
            ConfigResource::Topic("no-such-topic-cfg".into()),
            &[AlterConfigOp::Set("retention.ms".into(), "1".into())],
        )
        .await;
    run.check("altering a missing topic fails", missing.is_err(), &missing);
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_tansu() {
    configs("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_mini() {
    configs("mini").await;
}

fn group_consumer(bootstrap: &str, group: &str) -> Consumer {
    let cfg = ConsumerConfig::new(bootstrap)
        .and_then(|c| c.with("group.id", group))
        .and_then(|c| c.with("client.id", "adm-test-consumer"))
        .and_then(|c| c.with("auto.offset.reset", "earliest"))
        .and_then(|c| c.with("enable.auto.commit", "false"))
        .and_then(|c| c.with("heartbeat.interval.ms", "300"))
        .and_then(|c| c.with("session.timeout.ms", "6000"))
        .expect("config");
    Consumer::new(cfg).expect("consumer")
}

/// Creates `topic` with `partitions` partitions and writes `per_partition` records to the
/// first `written` of them, with timestamps `base + offset`.
async fn produce(
    broker: &common::TestBroker,
    topic: &str,
    partitions: i32,
    written: i32,
    per_partition: i64,
    base: i64,
) {
    let bootstrap = &broker.bootstrap();
    common::create_topic(broker, topic, partitions).await;
    let producer =
        Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    for p in 0..written {
        for i in 0..per_partition {
            producer
                .send_and_wait(
                    ProducerRecord::new(topic)
                        .partition(p)
                        .timestamp(base + i)
                        .value(format!("{p}-{i}")),
                )
                .await
                .expect("send");
        }
    }
    producer.close().await.expect("close producer");
}

async fn groups(kind: &'static str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let run = Run {
        kind,
        tansu: broker.is_tansu(),
    };
    let bootstrap = broker.bootstrap();
    let admin = admin_for(&bootstrap);
    let topic = common::topic("adm-grp");
    produce(&broker, &topic, 2, 2, 10, 1_000_000).await;
    let tp0 = TopicPartition::new(&topic, 0);
    let tp1 = TopicPartition::new(&topic, 1);
    let group = common::topic("adm-g");
    let nodes: Vec<i32> = admin
        .describe_cluster()
        .await
        .expect("cluster")
        .brokers
        .iter()
        .map(|b| b.node_id)
        .collect();

    // A live member.
    let consumer = group_consumer(&bootstrap, &group);
    consumer.subscribe(&[&topic]).expect("subscribe");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut got = 0;
    while (got == 0 || consumer.assignment().len() < 2) && tokio::time::Instant::now() < deadline {
        got += consumer
            .poll(Duration::from_millis(300))
            .await
            .expect("poll")
            .len();
    }
    assert_eq!(
        consumer.assignment().len(),
        2,
        "{kind}: the member owns both partitions"
    );

    if let Some(described) = run.ok(
        "describe_groups(live)",
        admin.describe_groups(&[&group]).await,
    ) {
        let g = &described[0];
        run.check("live group id", g.group_id == group, g);
        run.check("live group is Stable", g.state == "Stable", g);
        run.check("live group protocol type", g.protocol_type == "consumer", g);
        run.check("live group protocol (assignor)", !g.protocol.is_empty(), g);
        run.check(
            "coordinator is a broker of the cluster",
            nodes.contains(&g.coordinator),
            g,
        );
        run.check("one member", g.members.len() == 1, g);
        if let Some(m) = g.members.first() {
            let mut assignment = m.assignment.clone();
            assignment.sort();
            run.check(
                "member assignment",
                assignment == vec![tp0.clone(), tp1.clone()],
                m,
            );
            run.check("member client id", m.client_id == "adm-test-consumer", m);
            run.check("member id", !m.member_id.is_empty(), m);
        }
    }
    if let Some(listed) = run.ok("list_groups(live)", admin.list_groups().await) {
        let g = listed.iter().find(|g| g.group_id == group);
        run.check(
            "live group listed as a consumer group",
            g.is_some_and(|g| g.protocol_type == "consumer"),
            &listed,
        );
        run.check(
            "live group state (ListGroups v4+)",
            g.is_some_and(|g| g.state.as_deref().is_none_or(|s| s == "Stable")),
            g,
        );
    }
    let altered = admin.alter_group_offsets(&group, &[(tp0.clone(), 1)]).await;
    run.check_code(
        "alter_group_offsets on a live group",
        &altered,
        KafkaCode::NonEmptyGroup,
    );
    let deleted = admin.delete_groups(&[&group]).await.expect("delete_groups");
    run.check_code(
        "delete_groups on a live group",
        &deleted[0],
        KafkaCode::NonEmptyGroup,
    );

    // Commit and leave.
    let committed = consumer
        .commit_offsets(&[(tp0.clone(), 3), (tp1.clone(), 5)])
        .await;
    if run.ok("member commit", committed).is_none() {
        // Seed the offsets the rest of the test expects once the member is gone.
        consumer.close().await;
        let seeded = admin
            .alter_group_offsets(&group, &[(tp0.clone(), 3), (tp1.clone(), 5)])
            .await;
        run.ok("alter_group_offsets to seed offsets", seeded);
    }
    consumer.close().await;

    let expect = |pairs: &[(&TopicPartition, i64)]| -> BTreeMap<TopicPartition, i64> {
        pairs.iter().map(|(tp, o)| ((*tp).clone(), *o)).collect()
    };
    let offsets = |m: BTreeMap<TopicPartition, krafty_client::admin::OffsetAndMetadata>| {
        m.into_iter()
            .map(|(tp, o)| (tp, o.offset))
            .collect::<BTreeMap<_, _>>()
    };
    if let Some(listed) = run.ok(
        "list_group_offsets after commit",
        admin.list_group_offsets(&group).await,
    ) {
        let got = offsets(listed);
        run.check(
            "committed offsets",
            got == expect(&[(&tp0, 3), (&tp1, 5)]),
            &got,
        );
    }
    if let Some(described) = run.ok(
        "describe_groups(empty)",
        admin.describe_groups(&[&group]).await,
    ) {
        let g = &described[0];
        run.check(
            "group is Empty after its member left",
            g.state == "Empty" && g.members.is_empty(),
            g,
        );
    }

    let altered = admin.alter_group_offsets(&group, &[(tp0.clone(), 7)]).await;
    if run
        .ok("alter_group_offsets(empty group)", altered)
        .is_some()
    {
        if let Some(listed) = run.ok(
            "list_group_offsets after alter",
            admin.list_group_offsets(&group).await,
        ) {
            let got = offsets(listed);
            run.check(
                "offsets after alter",
                got == expect(&[(&tp0, 7), (&tp1, 5)]),
                &got,
            );
        }
    }

    let removed = admin
        .delete_group_offsets(&group, std::slice::from_ref(&tp1))
        .await;
    if run.ok("delete_group_offsets", removed).is_some() {
        if let Some(listed) = run.ok(
            "list_group_offsets after delete",
            admin.list_group_offsets(&group).await,
        ) {
            let got = offsets(listed);
            let want = expect(&[(&tp0, 7)]);
            run.check("offsets after delete_group_offsets", got == want, &got);
        }
    }

    let deleted = admin.delete_groups(&[&group]).await.expect("delete_groups");
    if run
        .ok("delete_groups(empty group)", deleted[0].clone())
        .is_some()
    {
        if let Some(listed) = run.ok("list_groups after delete", admin.list_groups().await) {
            run.check(
                "deleted group is not listed",
                !listed.iter().any(|g| g.group_id == group),
                &listed,
            );
        }
        let again = admin.delete_groups(&[&group]).await.expect("delete_groups");
        run.check_code(
            "deleting a deleted group",
            &again[0],
            KafkaCode::GroupIdNotFound,
        );
    }
    let unknown = admin.describe_groups(&["adm-no-such-group"]).await;
    match &unknown {
        Ok(d) => {
            run.check("unknown group is Dead", d[0].state == "Dead", d);
        }
        Err(e) => {
            run.check(
                "unknown group is GROUP_ID_NOT_FOUND",
                e.kafka_code() == Some(KafkaCode::GroupIdNotFound),
                e,
            );
        }
    }
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_tansu() {
    groups("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_mini() {
    groups("mini").await;
}

async fn offsets_and_records(kind: &'static str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let run = Run {
        kind,
        tansu: broker.is_tansu(),
    };
    let bootstrap = broker.bootstrap();
    let admin = admin_for(&bootstrap);
    let topic = common::topic("adm-off");
    let base = 1_700_000_000_000;
    produce(&broker, &topic, 2, 1, 10, base).await;
    let tp0 = TopicPartition::new(&topic, 0);

    let specs = [
        (OffsetSpec::Earliest, 0, "earliest"),
        (OffsetSpec::Latest, 10, "latest"),
        (OffsetSpec::Timestamp(base + 4), 4, "timestamp base+4"),
        (
            OffsetSpec::Timestamp(base + 100),
            -1,
            "timestamp after every record",
        ),
    ];
    for (spec, want, what) in specs {
        if let Some(r) = run.ok(
            &format!("list_offsets {what}"),
            admin.list_offsets(&[(tp0.clone(), spec)]).await,
        ) {
            let got = r.get(&tp0).copied();
            run.check(
                &format!("list_offsets {what}"),
                got.is_some_and(|g| g.offset == want),
                got,
            );
            if spec == OffsetSpec::Timestamp(base + 4) {
                run.check(
                    &format!("list_offsets {what} timestamp"),
                    got.is_some_and(|g| g.timestamp == base + want),
                    got,
                );
            }
        }
    }
    // MaxTimestamp on its own client: Tansu drops the connection on it. Real Kafka answered
    // -1 once, right after the produce, on a loaded machine (its answer is bounded by the
    // high watermark and read from the segment's cached max timestamp): it gets a few
    // chances; kafka-server-mini must be right the first time.
    let max_admin = admin_for(&bootstrap);
    let mut max = max_admin
        .list_offsets(&[(tp0.clone(), OffsetSpec::MaxTimestamp)])
        .await;
    for _ in 0..20 {
        let unanswered = matches!(&max, Ok(r) if r.get(&tp0).is_some_and(|g| g.offset == -1));
        if !(broker.is_real() && unanswered) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        max = max_admin
            .list_offsets(&[(tp0.clone(), OffsetSpec::MaxTimestamp)])
            .await;
    }
    if let Some(r) = run.ok("list_offsets max timestamp", max) {
        let got = r.get(&tp0).copied();
        run.check(
            "list_offsets max timestamp",
            got.is_some_and(|g| g.offset == 9 && g.timestamp == base + 9),
            got,
        );
    }
    max_admin.close();
    // Several partitions in one call.
    let tp1 = TopicPartition::new(&topic, 1);
    if let Some(r) = run.ok(
        "list_offsets of two partitions",
        admin
            .list_offsets(&[
                (tp0.clone(), OffsetSpec::Latest),
                (tp1.clone(), OffsetSpec::Latest),
            ])
            .await,
    ) {
        run.check(
            "latest of both partitions",
            r.get(&tp0).map(|r| r.offset) == Some(10) && r.get(&tp1).map(|r| r.offset) == Some(0),
            &r,
        );
    }
    let bad = admin
        .list_offsets(&[(TopicPartition::new(&topic, 9), OffsetSpec::Latest)])
        .await;
    run.check_code(
        "list_offsets of a missing partition",
        &bad,
        KafkaCode::UnknownTopicOrPartition,
    );

    if let Some(low) = run.ok(
        "delete_records before 4",
        admin.delete_records(&[(tp0.clone(), 4)]).await,
    ) {
        run.check("new low watermark", low.get(&tp0) == Some(&4), &low);
        if let Some(r) = run.ok(
            "list_offsets earliest after delete_records",
            admin
                .list_offsets(&[(tp0.clone(), OffsetSpec::Earliest)])
                .await,
        ) {
            run.check(
                "earliest == low watermark",
                r.get(&tp0).map(|r| r.offset) == Some(4),
                &r,
            );
        }
        let all = admin.delete_records(&[(tp0.clone(), -1)]).await;
        if let Some(low) = run.ok("delete_records up to the high watermark", all) {
            run.check("low watermark at the end", low.get(&tp0) == Some(&10), &low);
        }
        let beyond = admin.delete_records(&[(tp0.clone(), 100)]).await;
        run.check_code(
            "delete_records beyond the high watermark",
            &beyond,
            KafkaCode::OffsetOutOfRange,
        );
    }
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_and_records_tansu() {
    offsets_and_records("tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_and_records_mini() {
    offsets_and_records("mini").await;
}

real_kafka_tests!(admin_real, admin_ops);
real_kafka_tests!(configs_real, configs);
real_kafka_tests!(groups_real, groups);
real_kafka_tests!(offsets_and_records_real, offsets_and_records);
