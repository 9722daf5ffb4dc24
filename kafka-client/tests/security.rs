//! TLS and SASL against real Apache Kafka (`scripts/kafka-dist.sh start --security`, named
//! in `REAL_KAFKA_SECURE`): every security protocol and mechanism creates a topic, produces
//! and consumes; every refusal is the typed error naming the step; TLS throughput against
//! PLAINTEXT on the same node is printed (no timing assertion).
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::secure;
use krafty_client::config::{CommonConfig, OAuthToken, Secret};
use krafty_client::{AuthError, Error, Producer, ProducerConfig, ProducerRecord};

fn no_extra(_: &mut CommonConfig) {}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const PLAIN_JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";"#;
const SCRAM_JAAS: &str = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";"#;
const OAUTH_JAAS: &str = r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";"#;

/// A token callback: an unsecured JWT for alice issued `age` seconds ago, valid 3600 s.
fn token_callback(age: u64) -> impl Fn(&mut CommonConfig) {
    move |c: &mut CommonConfig| {
        c.set_oauthbearer_token_callback(move || {
            Ok(OAuthToken {
                token: Secret::new(krafty_client::protocol::sasl::oauthbearer::unsecured_jwt(
                    "alice",
                    now_secs().saturating_sub(age),
                    3600,
                    &[],
                )),
                lifetime: Duration::from_secs(3600),
            })
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_and_mechanism_round_trips() {
    for node in secure::secured() {
        let ca = node.file("ca.pem");
        let ca_pem = std::fs::read_to_string(node.tls.join("ca.pem")).expect("ca.pem");
        let client_pem = node.file("client.pem");
        let client_key = node.file("client.key");
        let keystore = node.file("client-keystore.pem");
        let chain = std::fs::read_to_string(node.tls.join("client.pem")).expect("client.pem");
        let key = std::fs::read_to_string(node.tls.join("client.key")).expect("client.key");
        let ssl = node.bootstrap("SSL");
        let mtls = node.bootstrap("MTLS");
        let alt = node.bootstrap("SSL_ALT");
        let sasl_plain = node.bootstrap("SASL_PLAINTEXT");
        let sasl_ssl = node.bootstrap("SASL_SSL");
        let tb = token_callback(0);
        #[allow(clippy::type_complexity)]
        let cases: Vec<(&str, &str, Vec<(&str, &str)>, &dyn Fn(&mut CommonConfig))> = vec![
            (
                "SSL",
                &ssl,
                vec![("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
                &no_extra,
            ),
            (
                "SSL inline Java truststore",
                &ssl,
                vec![
                    ("security.protocol", "SSL"),
                    ("ssl.truststore.type", "PEM"),
                    ("ssl.truststore.certificates", &ca_pem),
                ],
                &no_extra,
            ),
            (
                "SSL without host-name check (SSL_ALT on 127.0.0.2)",
                &alt,
                vec![
                    ("security.protocol", "SSL"),
                    ("ssl.ca.location", &ca),
                    ("ssl.endpoint.identification.algorithm", ""),
                ],
                &no_extra,
            ),
            (
                "mTLS, librdkafka keys (client.auth=required)",
                &mtls,
                vec![
                    ("security.protocol", "SSL"),
                    ("ssl.ca.location", &ca),
                    ("ssl.certificate.location", &client_pem),
                    ("ssl.key.location", &client_key),
                ],
                &no_extra,
            ),
            (
                "mTLS, Java PEM keystore file",
                &mtls,
                vec![
                    ("security.protocol", "SSL"),
                    ("ssl.truststore.type", "PEM"),
                    ("ssl.truststore.location", &ca),
                    ("ssl.keystore.type", "PEM"),
                    ("ssl.keystore.location", &keystore),
                ],
                &no_extra,
            ),
            (
                "mTLS, Java inline keystore",
                &mtls,
                vec![
                    ("security.protocol", "SSL"),
                    ("ssl.ca.location", &ca),
                    ("ssl.keystore.type", "PEM"),
                    ("ssl.keystore.certificate.chain", &chain),
                    ("ssl.keystore.key", &key),
                ],
                &no_extra,
            ),
            (
                "SASL_PLAINTEXT PLAIN",
                &sasl_plain,
                vec![
                    ("security.protocol", "SASL_PLAINTEXT"),
                    ("sasl.mechanism", "PLAIN"),
                    ("sasl.username", "alice"),
                    ("sasl.password", "alice-secret"),
                ],
                &no_extra,
            ),
            (
                "SASL_SSL PLAIN (jaas)",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.jaas.config", PLAIN_JAAS),
                ],
                &no_extra,
            ),
            (
                "SASL_SSL SCRAM-SHA-256 (jaas)",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.mechanism", "SCRAM-SHA-256"),
                    ("sasl.jaas.config", SCRAM_JAAS),
                ],
                &no_extra,
            ),
            (
                "SASL_SSL SCRAM-SHA-512",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.mechanism", "SCRAM-SHA-512"),
                    ("sasl.username", "alice"),
                    ("sasl.password", "alice-secret"),
                ],
                &no_extra,
            ),
            (
                "SASL_SSL OAUTHBEARER (jaas unsecured login)",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.mechanism", "OAUTHBEARER"),
                    ("sasl.jaas.config", OAUTH_JAAS),
                ],
                &no_extra,
            ),
            (
                "SASL_SSL OAUTHBEARER (librdkafka unsecure jwt)",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.mechanism", "OAUTHBEARER"),
                    ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
                    ("sasl.oauthbearer.config", "principal=alice"),
                ],
                &no_extra,
            ),
            (
                "SASL_SSL OAUTHBEARER (token callback)",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.mechanism", "OAUTHBEARER"),
                ],
                &tb,
            ),
        ];
        for (i, (what, bootstrap, settings, extra)) in cases.iter().enumerate() {
            let topic = common::topic(&format!("sec-{i}"));
            let settings = secure::quick(bootstrap, settings);
            match secure::roundtrip(&settings, *extra, &topic, 20).await {
                Ok(()) => eprintln!(
                    "{}: {what}: created {topic}, produced and consumed 20",
                    node.name
                ),
                Err(e) => panic!("{}: {what}: {e}", node.name),
            }
        }
    }
}

/// What a refused connection must fail with.
enum Expect {
    BadCredentials,
    MechanismNotEnabled(&'static [&'static str]),
    Certificate,
    /// Closed or timed out (no TLS/SASL step to name): plaintext to TLS, no client
    /// certificate where one is required, no SASL on a SASL listener.
    Refused,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed_and_nobody_gets_in() {
    for node in secure::secured() {
        let ca = node.file("ca.pem");
        let untrusted = node.file("untrusted-ca.pem");
        let ssl = node.bootstrap("SSL");
        let mtls = node.bootstrap("MTLS");
        let alt = node.bootstrap("SSL_ALT");
        let sasl_plain = node.bootstrap("SASL_PLAINTEXT");
        let sasl_ssl = node.bootstrap("SASL_SSL");
        let expired = token_callback(7200);
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            &str,
            &str,
            Vec<(&str, &str)>,
            &dyn Fn(&mut CommonConfig),
            Expect,
        )> = vec![
            (
                "PLAIN wrong password",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.username", "alice"),
                    ("sasl.password", "not-the-password"),
                ],
                &no_extra,
                Expect::BadCredentials,
            ),
            (
                "SCRAM-SHA-512 wrong password",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.mechanism", "SCRAM-SHA-512"),
                    ("sasl.username", "alice"),
                    ("sasl.password", "not-the-password"),
                ],
                &no_extra,
                Expect::BadCredentials,
            ),
            (
                "SCRAM-SHA-256 unknown user",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.mechanism", "SCRAM-SHA-256"),
                    ("sasl.username", "mallory"),
                    ("sasl.password", "alice-secret"),
                ],
                &no_extra,
                Expect::BadCredentials,
            ),
            (
                "PLAIN unknown user",
                &sasl_plain,
                vec![
                    ("security.protocol", "SASL_PLAINTEXT"),
                    ("sasl.username", "mallory"),
                    ("sasl.password", "alice-secret"),
                ],
                &no_extra,
                Expect::BadCredentials,
            ),
            (
                "SCRAM-SHA-512 where only PLAIN is enabled",
                &sasl_plain,
                vec![
                    ("security.protocol", "SASL_PLAINTEXT"),
                    ("sasl.mechanism", "SCRAM-SHA-512"),
                    ("sasl.username", "alice"),
                    ("sasl.password", "alice-secret"),
                ],
                &no_extra,
                Expect::MechanismNotEnabled(&["PLAIN"]),
            ),
            (
                "expired OAUTHBEARER token",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &ca),
                    ("sasl.mechanism", "OAUTHBEARER"),
                ],
                &expired,
                Expect::BadCredentials,
            ),
            (
                "untrusted CA",
                &ssl,
                vec![
                    ("security.protocol", "SSL"),
                    ("ssl.ca.location", &untrusted),
                ],
                &no_extra,
                Expect::Certificate,
            ),
            (
                "host name not in the certificate (127.0.0.2)",
                &alt,
                vec![("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
                &no_extra,
                Expect::Certificate,
            ),
            (
                "SASL_SSL with an untrusted CA",
                &sasl_ssl,
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", &untrusted),
                    ("sasl.username", "alice"),
                    ("sasl.password", "alice-secret"),
                ],
                &no_extra,
                Expect::Certificate,
            ),
            (
                "plaintext client to the SSL listener",
                &ssl,
                vec![],
                &no_extra,
                Expect::Refused,
            ),
            (
                "no client certificate where it is required",
                &mtls,
                vec![("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
                &no_extra,
                Expect::Refused,
            ),
            (
                "no SASL on the SASL_PLAINTEXT listener",
                &sasl_plain,
                vec![],
                &no_extra,
                Expect::Refused,
            ),
        ];
        let tried = cases.len();
        let let_in = AtomicUsize::new(0);
        for (what, bootstrap, settings, extra, expect) in &cases {
            let settings = secure::quick(bootstrap, settings);
            let admin = secure::admin(&settings, *extra);
            let started = Instant::now();
            let result = admin.list_topics().await;
            let took = started.elapsed();
            admin.close();
            let e = match result {
                Ok(topics) => {
                    let_in.fetch_add(1, Ordering::SeqCst);
                    eprintln!(
                        "{}: {what}: LET IN (saw {} topics)",
                        node.name,
                        topics.len()
                    );
                    continue;
                }
                Err(e) => e,
            };
            eprintln!("{}: {what}: refused in {took:?}: {e}", node.name);
            assert!(
                !e.to_string().contains("alice-secret")
                    && !e.to_string().contains("not-the-password"),
                "{what}: secret in the error: {e}"
            );
            // Far looser than the 10 s timeouts: a refusal must not hang.
            assert!(took < Duration::from_secs(60), "{what}: took {took:?}");
            match expect {
                Expect::BadCredentials => assert!(
                    matches!(e, Error::Authentication(AuthError::BadCredentials { .. })),
                    "{what}: {e:?}"
                ),
                Expect::MechanismNotEnabled(enabled) => match &e {
                    Error::Authentication(AuthError::MechanismNotEnabled {
                        requested,
                        enabled: got,
                    }) => {
                        assert_eq!(requested, "SCRAM-SHA-512");
                        assert_eq!(got, enabled, "{what}");
                    }
                    other => panic!("{what}: {other:?}"),
                },
                Expect::Certificate => assert!(
                    matches!(
                        e,
                        Error::Authentication(AuthError::CertificateVerification(_))
                    ),
                    "{what}: {e:?}"
                ),
                Expect::Refused => assert!(
                    matches!(
                        e,
                        Error::Disconnected(_)
                            | Error::Timeout(_)
                            | Error::Io(_)
                            | Error::NoBrokerAvailable(_)
                            | Error::Authentication(AuthError::TlsHandshake(_))
                    ),
                    "{what}: {e:?}"
                ),
            }
        }
        let let_in = let_in.load(Ordering::SeqCst);
        println!("{}: tried {tried}, let in {let_in}", node.name);
        eprintln!("{}: tried {tried}, let in {let_in}", node.name);
        assert_eq!(let_in, 0, "{}: refusals let someone in", node.name);
    }
}

/// Records/s of `n` 100-byte records produced with `settings` (acks=all, defaults).
async fn produce_rate(settings: &[(String, String)], topic: &str, n: usize) -> f64 {
    let mut pc = ProducerConfig::default();
    secure::apply(&mut pc.common, settings, &no_extra).expect("settings");
    let producer = Producer::new(pc).expect("producer");
    // Warm up: metadata, connection, handshake.
    producer
        .send(ProducerRecord::new(topic).value(vec![0u8; 100]))
        .await
        .expect("send")
        .await
        .expect("warm-up delivery");
    let started = Instant::now();
    let mut futures = Vec::with_capacity(n);
    for _ in 0..n {
        futures.push(
            producer
                .send(ProducerRecord::new(topic).value(vec![7u8; 100]))
                .await
                .expect("send"),
        );
    }
    for f in futures {
        f.await.expect("delivered");
    }
    let secs = started.elapsed().as_secs_f64();
    producer.close().await.expect("close");
    n as f64 / secs.max(1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_throughput_against_plaintext() {
    const N: usize = 50_000;
    for node in secure::secured() {
        let ca = node.file("ca.pem");
        let plain = secure::quick(&node.bootstrap("PLAINTEXT"), &[]);
        let ssl = secure::quick(
            &node.bootstrap("SSL"),
            &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
        );
        let topic = common::topic("sec-perf");
        secure::admin(&plain, &no_extra)
            .create_topic(&topic, 1, 1)
            .await
            .expect("create topic");
        // Alternating rounds, best of each: the first round also warms the broker's JIT.
        let (mut p, mut s) = (0f64, 0f64);
        for _ in 0..2 {
            p = p.max(produce_rate(&plain, &topic, N).await);
            s = s.max(produce_rate(&ssl, &topic, N).await);
        }
        println!(
            "RESULT {}: produce {N} x 100 B, best of 2 alternating rounds: PLAINTEXT {p:.0} rec/s, SSL {s:.0} rec/s, SSL/PLAINTEXT {:.2}",
            node.name,
            s / p
        );
        assert!(s > 0.0 && p > 0.0);
    }
}

/// A producer and a consumer with a wrong password fail with the typed refusal (as Java's
/// `AuthenticationException`), not after `max.block.ms` or by polling empty forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_and_consumer_report_bad_credentials() {
    use krafty_client::{Consumer, ConsumerConfig, TopicPartition};
    for node in secure::secured() {
        let settings = secure::quick(
            &node.bootstrap("SASL_PLAINTEXT"),
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.username", "alice"),
                ("sasl.password", "not-the-password"),
            ],
        );
        let mut pc = ProducerConfig::default();
        secure::apply(&mut pc.common, &settings, &no_extra).expect("settings");
        let producer = Producer::new(pc).expect("producer");
        let started = Instant::now();
        let sent = match producer
            .send(ProducerRecord::new("sec-any").value("x"))
            .await
        {
            Ok(delivery) => delivery.await.map(|_| ()),
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        eprintln!(
            "{}: producer with a wrong password: {sent:?} in {took:?}",
            node.name
        );
        assert!(
            matches!(
                sent,
                Err(Error::Authentication(AuthError::BadCredentials { .. }))
            ),
            "{sent:?}"
        );
        assert!(
            took < Duration::from_secs(30),
            "took {took:?} (max.block.ms is 60 s)"
        );
        let _ = producer.close().await;

        let mut cc = ConsumerConfig::default();
        secure::apply(&mut cc.common, &settings, &no_extra).expect("settings");
        let consumer = Consumer::new(cc).expect("consumer");
        consumer.assign([TopicPartition::new("sec-any", 0)]);
        let started = Instant::now();
        let polled = consumer.poll(Duration::from_secs(5)).await;
        eprintln!(
            "{}: consumer with a wrong password: {:?} in {:?}",
            node.name,
            polled.as_ref().map(|r| r.len()),
            started.elapsed()
        );
        assert!(
            matches!(
                polled,
                Err(Error::Authentication(AuthError::BadCredentials { .. }))
            ),
            "{:?}",
            polled.map(|r| r.len())
        );
        consumer.close().await;
    }
}

/// A consumer group over SASL_SSL with SCRAM-SHA-256: the coordinator connection is
/// authenticated like the data one; the group joins, consumes and commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_consumer_over_sasl_ssl() {
    use krafty_client::{Consumer, ConsumerConfig, TopicPartition};
    for node in secure::secured() {
        let ca = node.file("ca.pem");
        let settings = secure::quick(
            &node.bootstrap("SASL_SSL"),
            &[
                ("security.protocol", "SASL_SSL"),
                ("ssl.ca.location", &ca),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("sasl.username", "alice"),
                ("sasl.password", "alice-secret"),
            ],
        );
        let topic = common::topic("sec-group");
        // Round trip first: creates the topic with 10 records.
        secure::roundtrip(&settings, &no_extra, &topic, 10)
            .await
            .expect("round trip");
        let group = common::topic("sec-g");
        let mut cc = ConsumerConfig::default()
            .with("group.id", &group)
            .and_then(|c| c.with("auto.offset.reset", "earliest"))
            .and_then(|c| c.with("enable.auto.commit", "false"))
            .expect("consumer config");
        secure::apply(&mut cc.common, &settings, &no_extra).expect("settings");
        let consumer = Consumer::new(cc).expect("consumer");
        consumer.subscribe(&[&topic]).expect("subscribe");
        let mut got = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while got < 10 && tokio::time::Instant::now() < deadline {
            got += consumer
                .poll(Duration::from_millis(500))
                .await
                .expect("poll")
                .len();
        }
        assert_eq!(got, 10, "{}: records through the group", node.name);
        consumer.commit_sync().await.expect("commit");
        let committed = consumer
            .committed(&[TopicPartition::new(&topic, 0)])
            .await
            .expect("committed");
        eprintln!(
            "{}: group {group} over SASL_SSL committed {committed:?}",
            node.name
        );
        assert_eq!(
            committed.get(&TopicPartition::new(&topic, 0)),
            Some(&10),
            "committed offset"
        );
        consumer.close().await;
    }
}
