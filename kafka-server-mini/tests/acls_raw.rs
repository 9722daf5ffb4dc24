//! The request-wide authorization checks at the protocol level (PLAINTEXT, principal
//! `User:ANONYMOUS`): each API refused with Kafka's error code without its ACL, then let
//! through once the ACL exists. Complements `acls.rs` (SASL users, our client).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Client;
use krafty_protocol::generated::describe_topic_partitions_request::TopicRequest;
use krafty_protocol::generated::join_group_request::JoinGroupRequestProtocol;
use krafty_protocol::generated::metadata_request::MetadataRequestTopic;
use krafty_protocol::generated::offset_delete_request::OffsetDeleteRequestTopic;
use krafty_protocol::generated::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use krafty_protocol::generated::OffsetForLeaderEpochRequest;
use krafty_protocol::generated::{
    DeleteGroupsRequest, DescribeClusterRequest, DescribeTopicPartitionsRequest,
    DescribeUserScramCredentialsRequest, FindCoordinatorRequest, HeartbeatRequest,
    InitProducerIdRequest, JoinGroupRequest, MetadataRequest, OffsetDeleteRequest,
    SyncGroupRequest,
};
use krafty_protocol::wire::StrBytes;
use krafty_server::authorizer::{AclBinding, AclOperation, PatternType, Permission, ResourceType};
use krafty_server::{Broker, BrokerConfig};

const TOPIC_AUTHZ: i16 = 29;
const GROUP_AUTHZ: i16 = 30;
const CLUSTER_AUTHZ: i16 = 31;

fn s(v: &str) -> StrBytes {
    StrBytes::from(v.to_string())
}

fn anonymous(kind: ResourceType, name: &str, op: AclOperation) -> AclBinding {
    AclBinding {
        resource_type: kind,
        resource_name: name.into(),
        pattern_type: PatternType::Literal,
        principal: "User:ANONYMOUS".into(),
        host: "*".into(),
        operation: op,
        permission: Permission::Allow,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_wide_checks_refuse_then_allow() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    c.set("group.initial.rebalance.delay.ms", "0").unwrap();
    c.set(
        "authorizer.class.name",
        "kafka.security.authorizer.AclAuthorizer",
    )
    .unwrap();
    let broker = Broker::start(c).await.unwrap();
    broker.state().create_topic("t", 1, false).unwrap();
    let mut cl = Client::connect(broker.local_addr()).await;
    let (mut tried, mut let_in) = (0usize, 0usize);
    let mut refused = |what: &str, code: i16, want: i16| {
        tried += 1;
        if code == 0 {
            let_in += 1;
        }
        assert_eq!(code, want, "{what}");
    };

    let r = cl.call(0, &DescribeClusterRequest::default()).await;
    refused("DescribeCluster", r.error_code, CLUSTER_AUTHZ);
    let idem = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    refused(
        "InitProducerId",
        cl.call(4, &idem).await.error_code,
        CLUSTER_AUTHZ,
    );
    let txn = InitProducerIdRequest {
        transactional_id: Some(s("tx")),
        ..idem.clone()
    };
    refused(
        "InitProducerId transactional",
        cl.call(4, &txn).await.error_code,
        53,
    );
    let find = FindCoordinatorRequest {
        key: s("g"),
        ..Default::default()
    };
    refused(
        "FindCoordinator",
        cl.call(3, &find).await.error_code,
        GROUP_AUTHZ,
    );
    let join = JoinGroupRequest {
        group_id: s("g"),
        session_timeout_ms: 10000,
        rebalance_timeout_ms: 10000,
        member_id: s(""),
        protocol_type: s("consumer"),
        protocols: vec![JoinGroupRequestProtocol {
            name: s("range"),
            metadata: bytes::Bytes::from_static(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            ..Default::default()
        }],
        ..Default::default()
    };
    refused("JoinGroup", cl.call(5, &join).await.error_code, GROUP_AUTHZ);
    let hb = HeartbeatRequest {
        group_id: s("g"),
        generation_id: 1,
        member_id: s("m"),
        ..Default::default()
    };
    refused("Heartbeat", cl.call(3, &hb).await.error_code, GROUP_AUTHZ);
    let sync = SyncGroupRequest {
        group_id: s("g"),
        generation_id: 1,
        member_id: s("m"),
        ..Default::default()
    };
    refused("SyncGroup", cl.call(3, &sync).await.error_code, GROUP_AUTHZ);
    let od = OffsetDeleteRequest {
        group_id: s("g"),
        topics: vec![OffsetDeleteRequestTopic {
            name: s("t"),
            ..Default::default()
        }],
    };
    refused(
        "OffsetDelete",
        cl.call(0, &od).await.error_code,
        GROUP_AUTHZ,
    );
    let dg = DeleteGroupsRequest {
        groups_names: vec![s("g")],
        ..Default::default()
    };
    refused(
        "DeleteGroups",
        cl.call(2, &dg).await.results[0].error_code,
        GROUP_AUTHZ,
    );
    let scram = DescribeUserScramCredentialsRequest::default();
    refused(
        "DescribeUserScramCredentials",
        cl.call(0, &scram).await.error_code,
        CLUSTER_AUTHZ,
    );
    let md = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(s("auto-created")),
            ..Default::default()
        }]),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    let r = cl.call(9, &md).await;
    refused("Metadata auto-create", r.topics[0].error_code, TOPIC_AUTHZ);
    assert!(broker.state().topic("auto-created").is_none());
    let all = cl
        .call(
            9,
            &MetadataRequest {
                topics: None,
                ..Default::default()
            },
        )
        .await;
    assert!(all.topics.is_empty(), "topics without DESCRIBE are hidden");
    let dtp = DescribeTopicPartitionsRequest {
        topics: vec![TopicRequest {
            name: s("t"),
            ..Default::default()
        }],
        response_partition_limit: 100,
        ..Default::default()
    };
    let r = cl.call(0, &dtp).await;
    refused(
        "DescribeTopicPartitions",
        r.topics[0].error_code,
        TOPIC_AUTHZ,
    );
    // follower requests need CLUSTER_ACTION; consumers DESCRIBE / READ / WRITE on the topic
    let leader_epoch = |replica_id: i32| OffsetForLeaderEpochRequest {
        replica_id,
        topics: vec![OffsetForLeaderTopic {
            topic: s("t"),
            partitions: vec![OffsetForLeaderPartition {
                partition: 0,
                current_leader_epoch: -1,
                leader_epoch: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = cl.call(3, &leader_epoch(1)).await;
    refused(
        "OffsetForLeaderEpoch (replica)",
        r.topics[0].partitions[0].error_code,
        CLUSTER_AUTHZ,
    );
    let r = cl.call(3, &leader_epoch(-1)).await;
    refused(
        "OffsetForLeaderEpoch (consumer)",
        r.topics[0].partitions[0].error_code,
        TOPIC_AUTHZ,
    );
    let mut fetch = common::fetch_req("t", 0, 0, 0);
    fetch.replica_id = 1;
    let r = cl.call(12, &fetch).await;
    refused("Fetch (replica)", r.error_code, CLUSTER_AUTHZ);
    let r = cl.call(12, &common::fetch_req("t", 0, 0, 0)).await;
    refused(
        "Fetch (consumer)",
        r.responses[0].partitions[0].error_code,
        TOPIC_AUTHZ,
    );
    let mut produce = common::produce_req("t", 0, common::batch(1, "x"), -1);
    let r = cl.call(9, &produce).await;
    refused(
        "Produce",
        r.responses[0].partition_responses[0].error_code,
        TOPIC_AUTHZ,
    );
    produce.transactional_id = Some(s("tx"));
    let r = cl.call(9, &produce).await;
    refused(
        "Produce (transactional)",
        r.responses[0].partition_responses[0].error_code,
        53,
    );
    println!("tried {tried}, let in {let_in}");

    // with the ACLs
    broker
        .state()
        .authorizer
        .store
        .add(&[
            anonymous(
                ResourceType::Cluster,
                "kafka-cluster",
                AclOperation::Describe,
            ),
            anonymous(
                ResourceType::Cluster,
                "kafka-cluster",
                AclOperation::IdempotentWrite,
            ),
            anonymous(ResourceType::Group, "g", AclOperation::Read),
            anonymous(ResourceType::Topic, "*", AclOperation::Describe),
            anonymous(ResourceType::Cluster, "kafka-cluster", AclOperation::Create),
        ])
        .unwrap();
    assert_eq!(
        cl.call(0, &DescribeClusterRequest::default())
            .await
            .error_code,
        0
    );
    assert_eq!(cl.call(4, &idem).await.error_code, 0);
    assert_eq!(cl.call(3, &find).await.error_code, 0);
    // READ implies DESCRIBE: the group is found; JoinGroup v5 asks for a member id (79)
    assert_eq!(cl.call(5, &join).await.error_code, 79);
    let r = cl.call(9, &md).await;
    assert_eq!(
        r.topics[0].error_code, 0,
        "CREATE on the cluster auto-creates"
    );
    let all = cl
        .call(
            9,
            &MetadataRequest {
                topics: None,
                ..Default::default()
            },
        )
        .await;
    assert!(all.topics.len() >= 2);
    assert_eq!(cl.call(0, &dtp).await.topics[0].error_code, 0);
    broker.shutdown().await.unwrap();
}
