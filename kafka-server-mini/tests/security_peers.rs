//! Real clients over the broker binary's secured listeners, with certificates made by rcgen
//! at test time: kcat, confluent-kafka (librdkafka) and kafka-python each produce and
//! consume over SSL, SASL_SSL + PLAIN, SASL_SSL + SCRAM-SHA-512 and mutual TLS
//! (`ssl.client.auth=required`); Kafka's own console producer over SASL_SSL + SCRAM-SHA-512
//! and `kafka-configs --alter --add-config SCRAM-SHA-512=[...]` (AlterUserScramCredentials)
//! followed by a connection as the new user; and the refusals real clients meet (wrong
//! password, untrusted certificate, no certificate), counted: `tried N, let in 0`.
//!
//! Missing peers skip with a reason outside CI and fail with `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::certs::{self, TestPki};
use common::peer::{peer_missing, workspace_root};

const N: usize = 10;

fn shared_peers() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared/peers"),
        manifest.join("../shared/peers"),
    ]
    .into_iter()
    .find(|p| p.join("env.sh").exists())
}

/// The broker binary with SSL, SASL_SSL and an mTLS listener; killed on drop.
struct SecureBroker {
    child: Child,
    ssl: SocketAddr,
    sasl_ssl: SocketAddr,
    mtls: SocketAddr,
}

impl Drop for SecureBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_broker(dir: &Path, pki: &TestPki) -> SecureBroker {
    start_broker_with(dir, pki, &[])
}

fn start_broker_with(dir: &Path, pki: &TestPki, extra: &[&str]) -> SecureBroker {
    let data = dir.join("data");
    let log = std::fs::File::create(dir.join("broker.stderr.log")).unwrap();
    let ks = pki.server_keystore.display().to_string();
    let ca = pki.ca.display().to_string();
    let sets = [
        "listeners=SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0,MTLS://127.0.0.1:0".to_string(),
        "listener.security.protocol.map=SSL:SSL,SASL_SSL:SASL_SSL,MTLS:SSL".to_string(),
        "ssl.keystore.type=PEM".to_string(),
        format!("ssl.keystore.location={ks}"),
        "listener.name.mtls.ssl.client.auth=required".to_string(),
        "ssl.truststore.type=PEM".to_string(),
        format!("listener.name.mtls.ssl.truststore.location={ca}"),
        "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512,OAUTHBEARER".to_string(),
        r#"listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";"#.to_string(),
        "group.initial.rebalance.delay.ms=0".to_string(),
    ];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafka-server-mini"));
    cmd.arg("--data-dir").arg(&data);
    for s in sets.iter().map(String::as_str).chain(extra.iter().copied()) {
        cmd.args(["--set", s]);
    }
    cmd.args([
        "--add-scram",
        "SCRAM-SHA-512=[name=scram-user,password=scram-secret]",
        "--log-level",
        "info,krafty_server=debug",
    ]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start kafka-server-mini");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addrs = Vec::new();
    for _ in 0..3 {
        let line = lines.next().expect("a listening line").unwrap();
        let addr: SocketAddr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        addrs.push(addr);
    }
    SecureBroker {
        child,
        ssl: addrs[0],
        sasl_ssl: addrs[1],
        mtls: addrs[2],
    }
}

/// One way in: the listener and what the client presents.
struct Case {
    name: &'static str,
    addr: SocketAddr,
    protocol: &'static str,
    mechanism: Option<(&'static str, &'static str, &'static str)>,
    cert: Option<(PathBuf, PathBuf)>,
}

fn cases(b: &SecureBroker, pki: &TestPki) -> Vec<Case> {
    vec![
        Case {
            name: "ssl",
            addr: b.ssl,
            protocol: "SSL",
            mechanism: None,
            cert: None,
        },
        Case {
            name: "sasl-plain",
            addr: b.sasl_ssl,
            protocol: "SASL_SSL",
            mechanism: Some(("PLAIN", "alice", "alice-secret")),
            cert: None,
        },
        Case {
            name: "sasl-scram512",
            addr: b.sasl_ssl,
            protocol: "SASL_SSL",
            mechanism: Some(("SCRAM-SHA-512", "scram-user", "scram-secret")),
            cert: None,
        },
        Case {
            name: "sasl-oauth",
            addr: b.sasl_ssl,
            protocol: "SASL_SSL",
            mechanism: Some(("OAUTHBEARER", "olivia", "")),
            cert: None,
        },
        Case {
            name: "mtls",
            addr: b.mtls,
            protocol: "SSL",
            mechanism: None,
            cert: Some((pki.client_cert.clone(), pki.client_key.clone())),
        },
    ]
}

fn json_conf(c: &Case, pki: &TestPki) -> String {
    let mut m = serde_like(&[
        ("protocol", c.protocol),
        ("ca", &pki.ca.display().to_string()),
    ]);
    if let Some((mech, user, pass)) = c.mechanism {
        m.push_str(&format!(
            r#","mechanism":"{mech}","user":"{user}","password":"{pass}""#
        ));
    }
    if let Some((cert, key)) = &c.cert {
        m.push_str(&format!(
            r#","cert":"{}","key":"{}""#,
            cert.display(),
            key.display()
        ));
    }
    format!("{{{m}}}")
}

fn serde_like(kv: &[(&str, &str)]) -> String {
    kv.iter()
        .map(|(k, v)| format!(r#""{k}":"{v}""#))
        .collect::<Vec<_>>()
        .join(",")
}

fn kcat_args(c: &Case, pki: &TestPki) -> Vec<String> {
    let mut a = vec![
        "-b".to_string(),
        c.addr.to_string(),
        "-X".into(),
        format!("security.protocol={}", c.protocol),
        "-X".into(),
        format!("ssl.ca.location={}", pki.ca.display()),
    ];
    if let Some(("OAUTHBEARER", user, _)) = c.mechanism {
        for kv in [
            "sasl.mechanism=OAUTHBEARER".to_string(),
            "enable.sasl.oauthbearer.unsecure.jwt=true".to_string(),
            format!("sasl.oauthbearer.config=principal={user}"),
        ] {
            a.push("-X".into());
            a.push(kv);
        }
    } else if let Some((mech, user, pass)) = c.mechanism {
        for kv in [
            format!("sasl.mechanism={mech}"),
            format!("sasl.username={user}"),
            format!("sasl.password={pass}"),
        ] {
            a.push("-X".into());
            a.push(kv);
        }
    }
    if let Some((cert, key)) = &c.cert {
        a.extend([
            "-X".into(),
            format!("ssl.certificate.location={}", cert.display()),
        ]);
        a.extend(["-X".into(), format!("ssl.key.location={}", key.display())]);
    }
    a
}

fn bash(peers: &Path, cmd: &str, stdin: Option<&str>) -> (i32, String) {
    let script = format!(
        "source '{}' >/dev/null 2>&1; {cmd}",
        peers.join("env.sh").display()
    );
    let mut child = Command::new("timeout")
        .args(["120", "bash", "-c", &script])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn quote(a: &[String]) -> String {
    a.iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// kcat produce + consume; Ok(()) or the reason.
fn kcat_round_trip(peers: &Path, c: &Case, pki: &TestPki, topic: &str) -> Result<(), String> {
    let args = quote(&kcat_args(c, pki));
    let input: String = (0..N).map(|i| format!("{topic}-{i}\n")).collect();
    let (code, out) = bash(peers, &format!("kcat {args} -P -t {topic}"), Some(&input));
    if code != 0 {
        return Err(format!("kcat produce exit {code}: {out}"));
    }
    let (code, out) = bash(
        peers,
        &format!("kcat {args} -C -t {topic} -o beginning -e -c {N} -q"),
        None,
    );
    let got = out.lines().filter(|l| l.starts_with(topic)).count();
    if code != 0 || got != N {
        return Err(format!("kcat consume exit {code}, {got} of {N}: {out}"));
    }
    Ok(())
}

fn python_round_trip(
    peers: &Path,
    lib: &str,
    c: &Case,
    pki: &TestPki,
    topic: &str,
) -> Result<(), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/security_peer.py");
    let cmd = format!(
        "python '{}' {lib} {} {topic} {N} '{}'",
        script.display(),
        c.addr,
        json_conf(c, pki)
    );
    let (code, out) = bash(peers, &cmd, None);
    match code {
        0 if out.contains("ok produced") => Ok(()),
        77 => Err("77".into()),
        _ => Err(format!("{lib} exit {code}: {out}")),
    }
}

#[test]
fn real_clients_over_ssl_sasl_and_mtls() {
    let Some(peers) = shared_peers() else {
        return peer_missing("shared/peers not found");
    };
    let (code, _) = bash(
        &peers,
        "command -v kcat && python -c 'import confluent_kafka, kafka'",
        None,
    );
    if code != 0 {
        return peer_missing("kcat, confluent-kafka or kafka-python is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = certs::make(dir.path());
    let broker = start_broker(dir.path(), &pki);
    let mut matrix = Vec::new();
    let mut failures = Vec::new();
    for case in cases(&broker, &pki) {
        for client in ["kcat", "confluent", "kafka-python"] {
            if case.name == "sasl-oauth" && client == "kafka-python" {
                continue; // kafka-python needs a token provider object, not a config
            }
            let topic = format!("sec-{}-{}", case.name, client.replace('-', ""));
            let r = match client {
                "kcat" => kcat_round_trip(&peers, &case, &pki, &topic),
                lib => python_round_trip(&peers, lib, &case, &pki, &topic),
            };
            matrix.push(format!(
                "{client:>12} x {:<14} {}",
                case.name,
                if r.is_ok() { "ok" } else { "FAILED" }
            ));
            if let Err(e) = r {
                failures.push(format!("{client} {}: {e}", case.name));
            }
        }
    }
    // kafkajs over SSL, mTLS (a client certificate) and SASL_SSL (PLAIN and SCRAM-SHA-512)
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/security_peer_kafkajs.js");
    let client_cert = format!(
        "'{}' '{}'",
        pki.client_cert.display(),
        pki.client_key.display()
    );
    for (name, addr, mech, user, pass, cert) in [
        ("ssl", broker.ssl, "none", "-", "-", String::new()),
        ("mtls", broker.mtls, "none", "-", "-", client_cert),
        (
            "sasl-plain",
            broker.sasl_ssl,
            "plain",
            "alice",
            "alice-secret",
            String::new(),
        ),
        (
            "sasl-scram512",
            broker.sasl_ssl,
            "scram-sha-512",
            "scram-user",
            "scram-secret",
            String::new(),
        ),
    ] {
        let topic = format!("sec-{name}-kafkajs");
        let cmd = format!(
            "node '{}' {addr} {topic} {N} '{}' {mech} {user} {pass} {cert}",
            js.display(),
            pki.ca.display()
        );
        let (code, out) = bash(&peers, &cmd, None);
        if code == 77 {
            return peer_missing("kafkajs is not installed");
        }
        let ok = code == 0 && out.contains("ok produced");
        matrix.push(format!(
            "{:>12} x {name:<14} {}",
            "kafkajs",
            if ok { "ok" } else { "FAILED" }
        ));
        if !ok {
            failures.push(format!("kafkajs {name}: exit {code}: {out}"));
        }
    }
    eprintln!(
        "connection matrix (client x way in):\n{}",
        matrix.join("\n")
    );
    assert!(
        failures.is_empty(),
        "failures: {failures:#?}\nbroker log: {}",
        dir.path().join("broker.stderr.log").display()
    );
}

#[test]
fn real_clients_are_refused() {
    let Some(peers) = shared_peers() else {
        return peer_missing("shared/peers not found");
    };
    let (code, _) = bash(&peers, "command -v kcat", None);
    if code != 0 {
        return peer_missing("kcat is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = certs::make(dir.path());
    let broker = start_broker(dir.path(), &pki);
    let wrong = [
        Case {
            name: "plain-wrong-password",
            addr: broker.sasl_ssl,
            protocol: "SASL_SSL",
            mechanism: Some(("PLAIN", "alice", "nope")),
            cert: None,
        },
        Case {
            name: "plain-unknown-user",
            addr: broker.sasl_ssl,
            protocol: "SASL_SSL",
            mechanism: Some(("PLAIN", "mallory", "x")),
            cert: None,
        },
        Case {
            name: "scram-wrong-password",
            addr: broker.sasl_ssl,
            protocol: "SASL_SSL",
            mechanism: Some(("SCRAM-SHA-512", "scram-user", "nope")),
            cert: None,
        },
        Case {
            name: "scram-unknown-user",
            addr: broker.sasl_ssl,
            protocol: "SASL_SSL",
            mechanism: Some(("SCRAM-SHA-512", "mallory", "x")),
            cert: None,
        },
        Case {
            name: "disabled-mechanism",
            addr: broker.sasl_ssl,
            protocol: "SASL_SSL",
            mechanism: Some(("SCRAM-SHA-256", "scram-user", "scram-secret")),
            cert: None,
        },
        Case {
            name: "mtls-no-cert",
            addr: broker.mtls,
            protocol: "SSL",
            mechanism: None,
            cert: None,
        },
        Case {
            name: "mtls-untrusted-cert",
            addr: broker.mtls,
            protocol: "SSL",
            mechanism: None,
            cert: Some((pki.rogue_cert.clone(), pki.rogue_key.clone())),
        },
    ];
    let mut let_in = Vec::new();
    for case in &wrong {
        let args = quote(&kcat_args(case, &pki));
        // metadata only: with refused credentials kcat cannot list any broker
        let (code, out) = bash(
            &peers,
            &format!("kcat {args} -L -m 3 -X topic.metadata.refresh.interval.ms=-1"),
            None,
        );
        eprintln!("{}: exit {code}", case.name);
        if code == 0 {
            let_in.push(format!("{}: {out}", case.name));
        }
    }
    eprintln!(
        "real clients: tried {}, let in {}",
        wrong.len(),
        let_in.len()
    );
    assert!(let_in.is_empty(), "let in: {let_in:#?}");
}

fn java_ready() -> Result<(), String> {
    let dist = workspace_root().join("scripts/kafka-dist.sh");
    let out = Command::new(&dist)
        .arg("fetch")
        .output()
        .map_err(|e| format!("run kafka-dist.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kafka-dist.sh fetch failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    match Command::new("java").arg("-version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("no java on PATH".into()),
    }
}

fn kafka_tool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let dist = workspace_root().join("scripts/kafka-dist.sh");
    let mut child = Command::new("timeout")
        .arg("180")
        .arg(dist)
        .arg("tool")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafka-dist.sh tool");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn kafka_tools_over_sasl_ssl_scram_and_alter_user_scram_credentials() {
    if let Err(why) = java_ready() {
        return peer_missing(&why);
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = certs::make(dir.path());
    let broker = start_broker(dir.path(), &pki);
    let client_config = |user: &str, pass: &str| {
        let p = dir.path().join(format!("{user}.properties"));
        std::fs::write(
            &p,
            format!(
                "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nssl.truststore.type=PEM\nssl.truststore.location={}\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{pass}\";\n",
                pki.ca.display()
            ),
        )
        .unwrap();
        p.display().to_string()
    };
    let bootstrap = broker.sasl_ssl.to_string();
    let admin = client_config("scram-user", "scram-secret");
    let input: String = (0..N).map(|i| format!("java-{i}\n")).collect();
    let (ok, out) = kafka_tool(
        &[
            "kafka-console-producer",
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "java-scram",
            "--producer.config",
            &admin,
        ],
        Some(&input),
    );
    assert!(ok, "console producer over SASL_SSL + SCRAM-SHA-512: {out}");
    let (ok, out) = kafka_tool(
        &[
            "kafka-configs",
            "--bootstrap-server",
            &bootstrap,
            "--command-config",
            &admin,
            "--alter",
            "--add-config",
            "SCRAM-SHA-512=[iterations=8192,password=bob-secret]",
            "--entity-type",
            "users",
            "--entity-name",
            "bob",
        ],
        None,
    );
    assert!(
        ok,
        "kafka-configs --alter (AlterUserScramCredentials): {out}"
    );
    // (kafka-configs --describe of users also asks DescribeClientQuotas, which this broker
    // does not serve; DescribeUserScramCredentials is covered by tests/security.rs)
    let bob = client_config("bob", "bob-secret");
    let (ok, out) = kafka_tool(
        &[
            "kafka-console-consumer",
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "java-scram",
            "--from-beginning",
            "--max-messages",
            &N.to_string(),
            "--timeout-ms",
            "30000",
            "--consumer.config",
            &bob,
        ],
        None,
    );
    let got = out.lines().filter(|l| l.starts_with("java-")).count();
    assert!(
        ok && got == N,
        "console consumer as bob: {got} of {N}: {out}"
    );
    let wrong = client_config("bob", "not-bobs");
    let (ok, out) = kafka_tool(
        &[
            "kafka-topics",
            "--bootstrap-server",
            &bootstrap,
            "--command-config",
            &wrong,
            "--list",
        ],
        None,
    );
    assert!(
        !ok && out.contains("Authentication failed"),
        "a wrong password must be refused: {out}"
    );
}

/// KIP-368 with a real client: librdkafka re-authenticates before `connections.max.reauth.ms`
/// ends, so a producer sending for several lifetimes is never cut off by the broker.
#[test]
fn librdkafka_reauthenticates_before_the_session_expires() {
    let Some(peers) = shared_peers() else {
        return peer_missing("shared/peers not found");
    };
    let (code, _) = bash(&peers, "python -c 'import confluent_kafka'", None);
    if code != 0 {
        return peer_missing("confluent-kafka is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = certs::make(dir.path());
    let broker = start_broker_with(dir.path(), &pki, &["connections.max.reauth.ms=1500"]);
    let script = format!(
        r#"
import time
from confluent_kafka import Producer
p = Producer({{"bootstrap.servers": "{addr}", "security.protocol": "SASL_SSL", "ssl.ca.location": "{ca}",
  "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "scram-user", "sasl.password": "scram-secret",
  "linger.ms": 0}})
errors = []
for i in range(12):
    p.produce("reauth", str(i).encode(), callback=lambda e, m: e and errors.append(str(e)))
    p.flush(10)
    time.sleep(0.5)
assert not errors, errors
print("ok delivered 12")
"#,
        addr = broker.sasl_ssl,
        ca = pki.ca.display()
    );
    let path = dir.path().join("reauth.py");
    std::fs::write(&path, script).unwrap();
    let (code, out) = bash(&peers, &format!("python '{}'", path.display()), None);
    drop(broker);
    let log = std::fs::read_to_string(dir.path().join("broker.stderr.log")).unwrap();
    let auths = log.matches("SASL authentication succeeded").count();
    let expired = log.matches("SASL session expired").count();
    eprintln!(
        "librdkafka: {auths} authentications, {expired} expired sessions; {}",
        out.trim()
    );
    assert!(code == 0 && out.contains("ok delivered"), "producer: {out}");
    assert_eq!(expired, 0, "the broker had to close an expired session");
    assert!(
        auths >= 3,
        "about 6 s with 1.5 s sessions: re-authentications expected, saw {auths}"
    );
}
