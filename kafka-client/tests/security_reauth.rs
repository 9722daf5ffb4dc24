//! KIP-368 re-authentication against real Apache Kafka: the secured node's SASL_PLAINTEXT
//! listener has `connections.max.reauth.ms=5000`; one producer keeps sending across several
//! session lifetimes, every record arrives, and the client replaced its connection with a
//! freshly authenticated one each time (counted by `net::sasl::reauthentications`, a
//! process-wide counter: this test has its own binary so nothing else moves it).
mod common;

use std::time::Duration;

use common::secure;
use krafty_client::net::sasl;
use krafty_client::{
    Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_reauthenticates_across_session_lifetimes() {
    for node in secure::secured() {
        let settings = secure::quick(
            &node.bootstrap("SASL_PLAINTEXT"),
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.username", "alice"),
                ("sasl.password", "alice-secret"),
            ],
        );
        let topic = common::topic("sec-reauth");
        secure::admin(&settings, &|_| {})
            .create_topic(&topic, 1, 1)
            .await
            .expect("create topic");
        let before = sasl::reauthentications();
        let mut pc = ProducerConfig::default();
        secure::apply(&mut pc.common, &settings, &|_| {}).expect("settings");
        let producer = Producer::new(pc).expect("producer");
        // 13 s of sending: the 5 s sessions are renewed at 85-95% (4.25-4.75 s), so at
        // least two renewals happen.
        const N: usize = 130;
        let mut futures = Vec::new();
        for i in 0..N {
            futures.push(
                producer
                    .send(ProducerRecord::new(&topic).value(format!("r{i}")))
                    .await
                    .expect("send"),
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (i, f) in futures.into_iter().enumerate() {
            f.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
        }
        producer.close().await.expect("close");
        let renewed = sasl::reauthentications() - before;
        let cc = ConsumerConfig::default()
            .with("auto.offset.reset", "earliest")
            .expect("consumer config");
        let mut cc = cc;
        secure::apply(&mut cc.common, &settings, &|_| {}).expect("settings");
        let consumer = Consumer::new(cc).expect("consumer");
        consumer.assign([TopicPartition::new(&topic, 0)]);
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while got.len() < N && tokio::time::Instant::now() < deadline {
            got.extend(
                consumer
                    .poll(Duration::from_millis(500))
                    .await
                    .expect("poll"),
            );
        }
        consumer.close().await;
        let values: Vec<String> = got
            .iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string())
            .collect();
        let expected: Vec<String> = (0..N).map(|i| format!("r{i}")).collect();
        assert_eq!(values, expected);
        println!(
            "RESULT {}: {N} records over ~13 s with 5 s SASL sessions: {renewed} re-authentications, all delivered and consumed",
            node.name
        );
        assert!(
            renewed >= 2,
            "expected at least 2 re-authentications, saw {renewed}"
        );
    }
}

/// Why re-authentication matters: real Kafka closes a connection that is used after its
/// SASL session expired (KIP-368). One connection, authenticated with a 5 s session, asks
/// for metadata inside the session (answered), reports `needs_reauthentication` after
/// 85-95% of it, and is closed by the broker when used after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_closes_a_connection_used_after_its_session() {
    use krafty_client::config::{SaslCredentials, SaslMechanism, Secret};
    use krafty_client::net::{Connection, ConnectionConfig};
    use krafty_client::protocol::generated::MetadataRequest;
    for node in secure::secured() {
        let bootstrap = node.bootstrap("SASL_PLAINTEXT");
        let (host, port) = bootstrap.rsplit_once(':').expect("host:port");
        let cfg = ConnectionConfig {
            client_id: "reauth-test".into(),
            request_timeout: Duration::from_secs(10),
            setup_timeout: Duration::from_secs(10),
            tls: None,
            sasl: Some(SaslCredentials::Password {
                mechanism: SaslMechanism::Plain,
                username: "alice".into(),
                password: Secret::new("alice-secret"),
            }),
        };
        let conn = Connection::connect(host, port.parse().expect("port"), &cfg)
            .await
            .expect("authenticated connection");
        let started = std::time::Instant::now();
        conn.send(&MetadataRequest::default())
            .await
            .expect("metadata inside the session");
        assert!(!conn.needs_reauthentication());
        tokio::time::sleep(Duration::from_millis(4800)).await;
        assert!(conn.needs_reauthentication(), "past 95% of the 5 s session");
        tokio::time::sleep(Duration::from_millis(700)).await;
        let after = conn.send(&MetadataRequest::default()).await;
        println!(
            "RESULT {}: request {:?} after the session start: {}",
            node.name,
            started.elapsed(),
            match &after {
                Ok(_) => "answered".to_string(),
                Err(e) => format!("refused: {e}"),
            }
        );
        assert!(after.is_err(), "the broker answered on an expired session");
    }
}
