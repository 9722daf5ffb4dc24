//! What the peer interop tests share: the one CI-or-skip decision for a missing peer, the
//! broker binary on a free port, and the real Kafka clusters named by
//! `REAL_KAFKA_CLUSTERS`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Whether this is a CI run (`CI` set to anything but `false`/`0`/empty).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"))
}

/// A peer (a client, a tool, a real Kafka) the test needs is missing or would not start.
/// With `CI=true` that fails the test with the reason (an interop test that skips in CI
/// proves nothing); outside CI it prints `SKIP: reason` and the caller returns.
pub fn peer_missing(reason: &str) {
    if in_ci() {
        panic!("peer missing with CI=true (CI never passes by skipping): {reason}");
    }
    eprintln!("SKIP: {reason} (with CI=true this fails)");
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The real Kafka clusters `REAL_KAFKA_CLUSTERS` names (comma-separated), each with its
/// bootstrap list from `scripts/kafka-dist.sh bootstrap --name NAME`. `Err` says why there
/// are none (unset variable, a cluster that is not running).
pub fn real_kafka_clusters() -> Result<Vec<(String, String)>, String> {
    let names = std::env::var("REAL_KAFKA_CLUSTERS").unwrap_or_default();
    let names: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(
            "REAL_KAFKA_CLUSTERS is not set (scripts/test.sh starts the real \
                    clusters with scripts/real-kafka.sh up and exports it)"
                .into(),
        );
    }
    let script = workspace_root().join("scripts/kafka-dist.sh");
    names
        .into_iter()
        .map(|name| {
            let out = Command::new("bash")
                .arg(&script)
                .args(["bootstrap", "--name", name])
                .output()
                .map_err(|e| format!("run {}: {e}", script.display()))?;
            let bootstrap = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !out.status.success() || bootstrap.is_empty() {
                return Err(format!(
                    "real Kafka cluster {name} has no bootstrap list: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok((name.to_string(), bootstrap))
        })
        .collect()
}

/// The kafka-server-mini binary on a free port with its own data folder; killed on drop.
pub struct BrokerProc {
    child: Child,
    port: u16,
}

/// Starts the kafka-server-mini binary on a free port with its data in `data_dir` (stderr
/// goes to `data_dir.stderr.log`), `group.initial.rebalance.delay.ms=0` and each
/// `key=value` of `sets`; returns the child and the port it printed (`listening on ...`).
pub fn spawn_broker(data_dir: &Path, sets: &[&str]) -> (Child, u16) {
    let log = data_dir.with_extension("stderr.log");
    let stderr = std::fs::File::create(&log).expect("create the broker's stderr log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafka-server-mini"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args([
            "--set",
            "group.initial.rebalance.delay.ms=0",
            "--log-level",
            "info",
        ]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start kafka-server-mini");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the broker's first line");
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, port)
}

impl BrokerProc {
    /// Starts the binary on `data_dir` (see [`spawn_broker`]).
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Starts the binary on `data_dir` with extra `key=value` settings.
    pub fn start_with(data_dir: &Path, sets: &[&str]) -> Self {
        let (child, port) = spawn_broker(data_dir, sets);
        BrokerProc { child, port }
    }

    /// `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The listening address.
    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// `kill -9`.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL the broker");
        self.child.wait().expect("reap the broker");
    }

    /// SIGTERM, then waits up to 10 s for the exit (SIGKILL after that).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Some(s) = self.child.try_wait().expect("poll the broker") {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill().expect("SIGKILL the broker");
        self.child.wait().expect("reap the broker")
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
