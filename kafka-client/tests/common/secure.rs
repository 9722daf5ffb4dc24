//! The secured real Apache Kafka nodes (`scripts/kafka-dist.sh start --security`) named in
//! `REAL_KAFKA_SECURE`, and a round trip (create a topic, produce, consume) through them.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use krafty_client::config::CommonConfig;
use krafty_client::{
    Admin, AdminConfig, ConfigError, Consumer, ConsumerConfig, Error, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};

/// One secured node: its name and certificate directory.
pub struct Secured {
    /// The kafka-dist cluster name.
    pub name: String,
    /// `ca.pem`, `untrusted-ca.pem`, `client.pem`, `client.key`, `client-keystore.pem`.
    pub tls: PathBuf,
}

fn dist(args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka-dist.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(args)
        .output()
        .expect("run kafka-dist.sh");
    assert!(
        out.status.success(),
        "kafka-dist.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The secured nodes of `REAL_KAFKA_SECURE`; unset: SKIP outside CI, failure with CI=true.
pub fn secured() -> Vec<Secured> {
    let names = std::env::var("REAL_KAFKA_SECURE").unwrap_or_default();
    if names.trim().is_empty() {
        super::peer_missing(
            "REAL_KAFKA_SECURE is not set (scripts/real-kafka.sh up starts the secured Kafka k44-sec)",
        );
        return Vec::new();
    }
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| Secured {
            name: name.to_string(),
            tls: PathBuf::from(dist(&["tls-dir", "--name", name])),
        })
        .collect()
}

impl Secured {
    /// The bootstrap address of `listener` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL,
    /// SSL_ALT, MTLS).
    pub fn bootstrap(&self, listener: &str) -> String {
        dist(&["bootstrap", "--name", &self.name, "--listener", listener])
    }

    /// A file of the certificate directory, as a string for settings.
    pub fn file(&self, f: &str) -> String {
        self.tls.join(f).display().to_string()
    }
}

/// Applies `settings` (and `extra`, for API-only settings such as the token callback) to a
/// client's common configuration.
pub fn apply(
    common: &mut CommonConfig,
    settings: &[(String, String)],
    extra: &dyn Fn(&mut CommonConfig),
) -> Result<(), ConfigError> {
    for (k, v) in settings {
        let mut a = AdminConfig {
            common: common.clone(),
        };
        a.set(k, v)?;
        *common = a.common;
    }
    extra(common);
    Ok(())
}

/// Settings with short timeouts, so refusals come back fast.
pub fn quick(bootstrap: &str, settings: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v = vec![
        ("bootstrap.servers".to_string(), bootstrap.to_string()),
        ("request.timeout.ms".to_string(), "10000".to_string()),
        (
            "socket.connection.setup.timeout.ms".to_string(),
            "10000".to_string(),
        ),
    ];
    v.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    v
}

/// An admin client with `settings`.
pub fn admin(settings: &[(String, String)], extra: &dyn Fn(&mut CommonConfig)) -> Admin {
    let mut cfg = AdminConfig::default();
    apply(&mut cfg.common, settings, extra).expect("admin settings");
    Admin::new(cfg)
}

/// Creates a topic, produces `n` records and consumes them back, all with `settings`.
pub async fn roundtrip(
    settings: &[(String, String)],
    extra: &dyn Fn(&mut CommonConfig),
    topic: &str,
    n: usize,
) -> Result<(), Error> {
    let admin = admin(settings, extra);
    admin.create_topic(topic, 1, 1).await?;
    admin.close();
    let mut pc = ProducerConfig::default();
    apply(&mut pc.common, settings, extra)?;
    let producer = Producer::new(pc)?;
    let mut futures = Vec::new();
    for i in 0..n {
        futures.push(
            producer
                .send(ProducerRecord::new(topic).value(format!("v{i}")))
                .await?,
        );
    }
    for f in futures {
        f.await?;
    }
    producer.close().await?;
    let mut cc = ConsumerConfig::default().with("auto.offset.reset", "earliest")?;
    apply(&mut cc.common, settings, extra)?;
    let consumer = Consumer::new(cc)?;
    consumer.assign([TopicPartition::new(topic, 0)]);
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n && tokio::time::Instant::now() < deadline {
        got.extend(consumer.poll(Duration::from_millis(500)).await?);
    }
    consumer.close().await;
    let values: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string())
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    assert_eq!(values, expected, "{topic}: consumed values");
    Ok(())
}
