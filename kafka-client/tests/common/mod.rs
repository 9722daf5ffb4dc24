//! Shared helpers of the integration tests: a private Tansu broker per test binary.
#![allow(dead_code)]

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
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let Some(addr) = line
            .trim()
            .strip_prefix("listening on ")
            .map(str::to_string)
        else {
            peer_missing(&format!("kafka-server-mini did not start: {line:?}"));
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        Some(Mini {
            child,
            addr,
            _dir: dir,
        })
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

/// A running broker of either kind.
pub enum TestBroker {
    /// Tansu.
    Tansu(Tansu),
    /// kafka-server-mini.
    Mini(Mini),
}

impl TestBroker {
    /// `host:port`.
    pub fn bootstrap(&self) -> String {
        match self {
            TestBroker::Tansu(t) => t.bootstrap(),
            TestBroker::Mini(m) => m.bootstrap(),
        }
    }

    /// Whether this is Tansu (whose known deviations some tests tolerate).
    pub fn is_tansu(&self) -> bool {
        matches!(self, TestBroker::Tansu(_))
    }

    /// Starts the named broker (`tansu` or `mini`).
    pub fn start(kind: &str) -> Option<TestBroker> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        match kind {
            "tansu" => Tansu::start().map(TestBroker::Tansu),
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
