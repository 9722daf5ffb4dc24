//! The admin client against real brokers.
mod common;

use kafka_client::{Admin, AdminConfig, Error, KafkaCode, NewTopic};

async fn admin_ops(kind: &str) {
    let Some(broker) = common::TestBroker::start(kind) else {
        return;
    };
    let admin = Admin::new(AdminConfig::new(&broker.bootstrap()).expect("config"));
    let cluster = admin.describe_cluster().await.expect("describe cluster");
    assert_eq!(cluster.brokers.len(), 1);
    let a = common::topic("adm-a");
    let b = common::topic("adm-b");
    let results = admin
        .create_topics(&[
            NewTopic::new(&a, 2, 1),
            NewTopic::new(&b, 1, 1).config("cleanup.policy", "delete"),
        ])
        .await
        .expect("create");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let again = admin.create_topic(&a, 2, 1).await;
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
    assert!(described[0]
        .partitions
        .iter()
        .all(|p| p.leader == cluster.brokers[0].node_id));
    match admin.create_partitions(&a, 4).await {
        Ok(()) => {
            let described = admin.describe_topics(&[&a]).await.expect("describe");
            assert_eq!(described[0].partitions.len(), 4);
        }
        Err(e) => eprintln!("NOTE: {kind}: CreatePartitions failed: {e}"),
    }
    let deleted = admin.delete_topics(&[&b]).await.expect("delete");
    assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");
    let names = admin.list_topics().await.expect("list");
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
