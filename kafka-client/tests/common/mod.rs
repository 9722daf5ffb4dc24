//! Shared helpers of the integration tests: a private Tansu broker per test binary.
#![allow(dead_code)]

pub mod secure;
pub mod txn;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

/// The `shared/` folder next to the repository.
pub fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// The peers' install folder.
pub fn peers_home() -> PathBuf {
    std::env::var_os("KAFKA_PEERS_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kafka-peers")
        })
}

/// Whether this is a CI run (`CI` set to anything but `false`/`0`/empty).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"))
}

/// A peer (Tansu, kcat, a Python client, the broker binary, a real Kafka) the test needs is
/// missing or would not start. With `CI=true` that fails the test with the reason (an
/// interop test that skips in CI proves nothing); outside CI it prints `SKIP: reason` and
/// the caller returns.
pub fn peer_missing(reason: &str) {
    if in_ci() {
        panic!("peer missing with CI=true (CI never passes by skipping): {reason}");
    }
    eprintln!("SKIP: {reason} (with CI=true this fails)");
}

/// A Tansu broker on a free port, stopped on drop.
pub struct Tansu {
    pub port: u16,
}

impl Tansu {
    /// Starts Tansu, or returns `None` after [`peer_missing`] when it is not installed or
    /// does not start.
    pub fn start() -> Option<Tansu> {
        Self::start_advertising(None)
    }

    /// Starts Tansu advertising `advertised` (a proxy's port) instead of its own port.
    pub fn start_advertising(advertised: Option<u16>) -> Option<Tansu> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let script = shared_dir().join("peers/start-tansu.sh");
        if !script.exists() || !peers_home().join("bin/tansu").exists() {
            peer_missing("Tansu is not installed (run ../shared/peers/install.sh)");
            return None;
        }
        for _ in 0..3 {
            let port = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
                Ok(a) => a.port(),
                Err(e) => {
                    peer_missing(&format!("Tansu: no free port ({e})"));
                    return None;
                }
            };
            let mut cmd = Command::new("bash");
            cmd.arg(&script).arg(port.to_string());
            if let Some(a) = advertised {
                cmd.arg(a.to_string());
            }
            let out = match cmd.output() {
                Ok(out) => out,
                Err(e) => {
                    peer_missing(&format!("Tansu: cannot run {}: {e}", script.display()));
                    return None;
                }
            };
            if out.status.success() {
                return Some(Tansu { port });
            }
            eprintln!(
                "tansu failed to start on {port}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        peer_missing("Tansu would not start (three tries; see the errors above)");
        None
    }

    /// `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let script = shared_dir().join("peers/start-tansu.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("stop")
            .arg(self.port.to_string())
            .output();
    }
}

/// The path of a peer tool (`kcat`, ...) if installed.
pub fn peer_bin(name: &str) -> Option<PathBuf> {
    let p = peers_home().join("bin").join(name);
    p.exists().then_some(p)
}

/// A unique topic name.
pub fn topic(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{n}")
}

/// A kafka-server-mini broker run from its built binary (`cargo build -p
/// kafka-server-mini`), killed on drop.
pub struct Mini {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Mini {
    /// Starts the broker, or returns `None` (after printing why) when its binary is not
    /// built or does not start.
    pub fn start() -> Option<Mini> {
        Self::start_with(&[]).map(|(mini, _)| mini)
    }

    /// Starts the broker with extra command-line arguments (`--set k=v`, `--add-scram ..`);
    /// returns it with the address of each of its listeners, in `listeners` order (one
    /// `listening on` line each).
    pub fn start_with(extra: &[String]) -> Option<(Mini, Vec<String>)> {
        use std::io::BufRead;
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
        let bin = target.join("debug/kafka-server-mini");
        if !bin.exists() {
            peer_missing(&format!(
                "{} not built (cargo build -p krafty-server)",
                bin.display()
            ));
            return None;
        }
        let listeners = extra
            .iter()
            .find_map(|a| a.strip_prefix("listeners="))
            .map_or(1, |l| l.split(',').count());
        let dir = tempfile::tempdir().expect("temporary data folder");
        let spawned = Command::new(&bin)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
                "--data-dir",
            ])
            .arg(dir.path())
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                peer_missing(&format!(
                    "kafka-server-mini: cannot run {}: {e}",
                    bin.display()
                ));
                return None;
            }
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let mut reader = std::io::BufReader::new(stdout);
        let mut addrs = Vec::new();
        for _ in 0..listeners {
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let Some(addr) = line.trim().strip_prefix("listening on ") else {
                peer_missing(&format!("kafka-server-mini did not start: {line:?}"));
                let _ = child.kill();
                let _ = child.wait();
                return None;
            };
            addrs.push(addr.to_string());
        }
        let mini = Mini {
            child,
            addr: addrs[0].clone(),
            _dir: dir,
        };
        Some((mini, addrs))
    }

    /// `host:port`.
    pub fn bootstrap(&self) -> String {
        self.addr.clone()
    }
}

impl Drop for Mini {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One of the shared real Apache Kafka clusters that `scripts/real-kafka.sh up` starts
/// (`k40-1`, `k40-3`, `k44-1`, `k44-3`), named in the env `REAL_KAFKA_CLUSTERS`.
pub struct RealKafka {
    /// The cluster name (`k44-3`).
    pub name: String,
    /// Its bootstrap list.
    pub bootstrap: String,
    /// Its node count (1 or 3).
    pub nodes: usize,
}

/// `scripts/kafka-dist.sh` of this repository.
pub fn kafka_dist_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka-dist.sh")
}

/// `SKIP: reason` outside CI; a panic with the reason under `CI=true` (see `peer_missing`).
pub fn skip_or_fail(reason: &str) {
    peer_missing(reason)
}

impl RealKafka {
    /// The cluster `name` if `REAL_KAFKA_CLUSTERS` lists it and it answers `bootstrap`;
    /// otherwise `None` after `SKIP` (outside CI) or a panic (with `CI=true`).
    pub fn get(name: &str) -> Option<RealKafka> {
        let listed = std::env::var("REAL_KAFKA_CLUSTERS").unwrap_or_default();
        if listed.trim().is_empty() {
            skip_or_fail(&format!(
                "REAL_KAFKA_CLUSTERS is not set, no real Kafka cluster {name} \
                 (run scripts/real-kafka.sh up and export what it prints)"
            ));
            return None;
        }
        if !listed.split(',').any(|n| n.trim() == name) {
            eprintln!("SKIP: REAL_KAFKA_CLUSTERS={listed} does not list {name}");
            return None;
        }
        let out = Command::new("bash")
            .arg(kafka_dist_script())
            .args(["bootstrap", "--name", name])
            .output();
        let bootstrap = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Ok(o) => {
                panic!(
                    "REAL_KAFKA_CLUSTERS lists {name} but kafka-dist.sh bootstrap failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            Err(e) => panic!("running kafka-dist.sh: {e}"),
        };
        let nodes = bootstrap.split(',').count();
        Some(RealKafka {
            name: name.to_string(),
            bootstrap,
            nodes,
        })
    }
}

/// The real clusters a test can run against (`REAL_KAFKA_CLUSTERS` names).
pub const REAL_CLUSTERS: [&str; 4] = ["k40-1", "k40-3", "k44-1", "k44-3"];

/// Defines a module `$name` with one test per real Kafka cluster (`k40_1`, `k40_3`,
/// `k44_1`, `k44_3`), each running `super::$scenario(cluster_name).await`.
#[macro_export]
macro_rules! real_kafka_tests {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn k40_1() {
                super::$scenario("k40-1").await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn k40_3() {
                super::$scenario("k40-3").await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn k44_1() {
                super::$scenario("k44-1").await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn k44_3() {
                super::$scenario("k44-3").await;
            }
        }
    };
}

/// A running broker of any kind.
pub enum TestBroker {
    /// Tansu.
    Tansu(Tansu),
    /// kafka-server-mini.
    Mini(Mini),
    /// A shared real Apache Kafka cluster.
    Real(RealKafka),
}

impl TestBroker {
    /// `host:port`.
    pub fn bootstrap(&self) -> String {
        match self {
            TestBroker::Tansu(t) => t.bootstrap(),
            TestBroker::Mini(m) => m.bootstrap(),
            TestBroker::Real(r) => r.bootstrap.clone(),
        }
    }

    /// Whether this is a real Apache Kafka cluster.
    pub fn is_real(&self) -> bool {
        matches!(self, TestBroker::Real(_))
    }

    /// How many brokers serve (1, or 3 for a 3-node real cluster).
    pub fn nodes(&self) -> usize {
        match self {
            TestBroker::Real(r) => r.nodes,
            _ => 1,
        }
    }

    /// The replication factor topics of this test get: every broker of the cluster
    /// (3 on a 3-node cluster, whose `min.insync.replicas` is 2).
    pub fn rf(&self) -> i16 {
        self.nodes() as i16
    }

    /// Whether this is Tansu (whose known deviations some tests tolerate).
    pub fn is_tansu(&self) -> bool {
        matches!(self, TestBroker::Tansu(_))
    }

    /// Starts the named broker (`tansu` or `mini`), or picks the real cluster of that name
    /// (`k40-1`, `k40-3`, `k44-1`, `k44-3`).
    pub fn start(kind: &str) -> Option<TestBroker> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        match kind {
            "tansu" => Tansu::start().map(TestBroker::Tansu),
            k if REAL_CLUSTERS.contains(&k) => RealKafka::get(k).map(TestBroker::Real),
            _ => Mini::start().map(TestBroker::Mini),
        }
    }
}

/// The `venv/bin/python` of the peers kit (confluent-kafka and kafka-python), if installed.
pub fn peer_python() -> Option<PathBuf> {
    let p = peers_home().join("venv/bin/python");
    p.exists().then_some(p)
}

/// A kafka-server-mini broker that can be killed (`kill -9`) and restarted on the same
/// port and data directory; killed on drop.
pub struct RestartableMini {
    child: Option<std::process::Child>,
    addr: String,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl RestartableMini {
    /// The built broker binary, or `None` (after printing why).
    fn binary() -> Option<PathBuf> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
        let bin = target.join("debug/kafka-server-mini");
        if !bin.exists() {
            peer_missing(&format!(
                "{} not built (cargo build -p krafty-server)",
                bin.display()
            ));
            return None;
        }
        Some(bin)
    }

    /// Spawns the broker on `listen`, returning it and the address it printed.
    fn spawn(
        bin: &std::path::Path,
        listen: &str,
        dir: &std::path::Path,
    ) -> Option<(std::process::Child, String)> {
        use std::io::BufRead;
        let mut child = Command::new(bin)
            .args(["--listen", listen, "--log-level", "warn", "--data-dir"])
            .arg(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let stdout = child.stdout.take()?;
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        match line.trim().strip_prefix("listening on ") {
            Some(addr) => Some((child, addr.to_string())),
            None => {
                eprintln!("kafka-server-mini did not start on {listen}: {line:?}");
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }

    /// Starts the broker on a free port with a fresh data directory, or returns `None`
    /// (after printing why).
    pub fn start() -> Option<RestartableMini> {
        let bin = Self::binary()?;
        let dir = tempfile::tempdir().expect("temporary data folder");
        let Some((child, addr)) = Self::spawn(&bin, "127.0.0.1:0", dir.path()) else {
            peer_missing("kafka-server-mini did not start");
            return None;
        };
        Some(RestartableMini {
            child: Some(child),
            addr,
            bin,
            dir,
        })
    }

    /// `host:port` (the same across restarts).
    pub fn bootstrap(&self) -> String {
        self.addr.clone()
    }

    /// Kills the broker with SIGKILL (no clean shutdown) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker again on the same port and data directory (killing it first if
    /// it still runs); retries for a few seconds while the port is not yet free.
    pub fn restart(&mut self) -> bool {
        self.kill9();
        for _ in 0..50 {
            if let Some((child, addr)) = Self::spawn(&self.bin, &self.addr, self.dir.path()) {
                assert_eq!(addr, self.addr, "restarted on the same address");
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }
}

impl Drop for RestartableMini {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits until every broker of `bootstrap` (each asked on its own) knows `topic` with
/// `partitions` partitions, each with a leader, and every leader answers ListOffsets for it.
/// Real Kafka applies a created topic (or added partitions) asynchronously on every broker
/// after CreateTopics answers, as Java's AdminClient documents; tests wait as Kafka's own
/// tests do (`waitForTopicCreated`). Panics after 30 s.
pub async fn wait_topic_ready(bootstrap: &str, topic: &str, partitions: i32) {
    use krafty_client::admin::OffsetSpec;
    use krafty_client::{Admin, AdminConfig, TopicPartition};
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    for addr in bootstrap.split(',') {
        let admin = Admin::new(AdminConfig::new(addr).expect("admin config"));
        let mut last: String;
        loop {
            let described = admin.describe_topics(&[topic]).await;
            let ok = match &described {
                Ok(d) => {
                    d[0].partitions.len() == partitions as usize
                        && d[0].partitions.iter().all(|p| p.leader >= 0)
                }
                Err(_) => false,
            };
            if ok {
                let tps: Vec<_> = (0..partitions)
                    .map(|p| (TopicPartition::new(topic, p), OffsetSpec::Latest))
                    .collect();
                match admin.list_offsets(&tps).await {
                    Ok(_) => break,
                    Err(e) => last = format!("list_offsets: {e}"),
                }
            } else {
                last = format!("{described:?}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "topic {topic} not ready on {addr} within 30 s: {last}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        admin.close();
    }
}

/// Creates `topic` with `partitions` partitions, replicated on every broker of `broker`
/// (its [`TestBroker::rf`]), and waits until it is ready everywhere ([`wait_topic_ready`]).
pub async fn create_topic(broker: &TestBroker, topic: &str, partitions: i32) {
    let bootstrap = broker.bootstrap();
    krafty_client::Admin::new(krafty_client::AdminConfig::new(&bootstrap).expect("config"))
        .create_topic(topic, partitions, broker.rf())
        .await
        .expect("create topic");
    wait_topic_ready(&bootstrap, topic, partitions).await;
}
