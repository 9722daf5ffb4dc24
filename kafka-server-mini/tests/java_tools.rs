//! Apache Kafka's own Java tools and Java client against kafka-server-mini (the binary on a
//! free port), run through `scripts/kafka-dist.sh tool ...` from Kafka's published jars:
//! console producer/consumer with every codec, the perf tools, the admin tools (compared with
//! what the same commands print against a real Kafka 4.0 cluster), a Java consumer group of
//! several console consumers, and `kafka-dump-log` over the broker's segment files.
//!
//! Needs Java 17+ and the jars (`scripts/kafka-dist.sh fetch`, Maven). Without them the tests
//! print `SKIP: <reason>` and return, except with `CI=true`, where they fail. The comparison
//! with real Kafka needs `REAL_KAFKA_CLUSTERS` to name `k40-1` (see `scripts/real-kafka.sh`);
//! without it that half skips the same way (fails in CI).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

mod common;

use krafty_client::producer::partitioner::default_partition;
use krafty_protocol::records::{Compression, RecordBatchHeader};

/// The real cluster the admin tools' output is compared with.
const REAL_CLUSTER: &str = "k40-1";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dist() -> PathBuf {
    repo_root().join("scripts/kafka-dist.sh")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (outside CI) or fails (in CI) with `reason`.
fn skip_or_fail(test: &str, reason: &str) {
    if in_ci() {
        panic!("{test}: {reason} (CI=true: a missing prerequisite is a failure)");
    }
    println!("SKIP: {test}: {reason}");
}

/// Whether Java and Kafka's jars are available (fetched once per test binary).
fn java_ready(test: &str) -> bool {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let out = Command::new(dist())
            .arg("fetch")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", dist().display()))?;
        if !out.status.success() {
            return Err(format!(
                "kafka-dist.sh fetch failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let java = Command::new("java").arg("-version").output();
        match java {
            Ok(o) if o.status.success() => Ok(()),
            _ => Err("no java on PATH".to_string()),
        }
    });
    match ready {
        Ok(()) => true,
        Err(reason) => {
            skip_or_fail(test, reason);
            false
        }
    }
}

/// The bootstrap of the real cluster named by `REAL_KAFKA_CLUSTERS`, if any.
fn real_bootstrap(test: &str) -> Option<String> {
    let listed = std::env::var("REAL_KAFKA_CLUSTERS")
        .map(|v| v.split(',').any(|n| n.trim() == REAL_CLUSTER))
        .unwrap_or(false);
    if !listed {
        skip_or_fail(
            test,
            &format!(
                "REAL_KAFKA_CLUSTERS does not name {REAL_CLUSTER}; no comparison with real Kafka"
            ),
        );
        return None;
    }
    let out = Command::new(dist())
        .args(["bootstrap", "--name", REAL_CLUSTER])
        .output()
        .expect("run kafka-dist.sh bootstrap");
    assert!(
        out.status.success(),
        "{test}: no bootstrap for {REAL_CLUSTER}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// kafka-server-mini as a child process on a free port, with its own data directory.
struct Mini {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Mini {
    fn start(sets: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (child, port) = common::peer::spawn_broker(&dir.path().join("data"), sets);
        Mini { child, port, dir }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Clean stop (SIGTERM): segments and indexes flushed.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..300 {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("kafka-server-mini did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Mini {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg("180").arg(dist()).arg("tool").args(args);
    cmd
}

/// Runs a Kafka tool, returns its output whatever the exit status.
fn tool_output(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tool_cmd(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run kafka-dist.sh tool");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Runs a Kafka tool that must succeed; returns its stdout.
fn tool(args: &[&str]) -> String {
    tool_in(args, None)
}

fn tool_in(args: &[&str], stdin: Option<&str>) -> String {
    let out = tool_output(args, stdin);
    assert!(
        out.status.success(),
        "{} failed ({}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A topic or group name unique to this run (the real cluster is shared).
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Keyed input lines `key-<i>:<tag>-value-<i>` for the console producer.
fn keyed_lines(n: usize, tag: &str) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("key-{i}"), format!("{tag}-value-{i}")))
        .collect()
}

fn producer_input(lines: &[(String, String)]) -> String {
    lines.iter().map(|(k, v)| format!("{k}:{v}\n")).collect()
}

/// Parses console consumer lines printed with `print.partition=true` and `print.key=true`:
/// `Partition:<p>\t<key>\t<value>`.
fn parse_consumed(out: &str) -> Vec<(i32, String, String)> {
    out.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let p = parts.next()?.strip_prefix("Partition:")?.parse().ok()?;
            Some((p, parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

/// Every produced line came back once, each on the partition the Java producer's murmur2
/// chose (checked with our client's partitioner).
fn assert_all_back(
    produced: &[(String, String)],
    consumed: &[(i32, String, String)],
    partitions: i32,
) {
    let mut got: BTreeMap<&str, Vec<(i32, &str)>> = BTreeMap::new();
    for (p, k, v) in consumed {
        got.entry(v.as_str()).or_default().push((*p, k.as_str()));
    }
    for (k, v) in produced {
        let hits = got.get(v.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(hits.len(), 1, "{v} consumed {} times", hits.len());
        let want = default_partition(k.as_bytes(), partitions);
        assert_eq!(
            hits[0],
            (want, k.as_str()),
            "{k}:{v} on the wrong partition"
        );
    }
    assert_eq!(consumed.len(), produced.len(), "unexpected extra records");
}

/// The compression codecs of every batch in the topic's segment files.
fn stored_codecs(data: &Path, topic: &str) -> Vec<Compression> {
    let mut codecs = Vec::new();
    for entry in std::fs::read_dir(data).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name.rsplit_once('-').map(|(t, _)| t) != Some(topic) {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().and_then(|e| e.to_str()) != Some("log") {
                continue;
            }
            let bytes = std::fs::read(&f).unwrap();
            let mut pos = 0;
            while pos + RecordBatchHeader::SIZE <= bytes.len() {
                let h = RecordBatchHeader::parse(&bytes[pos..]).unwrap();
                codecs.push(h.compression().unwrap());
                pos += h.total_size();
            }
        }
    }
    codecs
}

fn console_round_trip(codec: &str, compression: Compression) {
    let test = format!("console_round_trip_{codec}");
    if !java_ready(&test) {
        return;
    }
    let mini = Mini::start(&["num.partitions=3"]);
    let bs = mini.bootstrap();
    let topic = format!("console-{codec}");
    let lines = keyed_lines(40, codec);
    // The Java producer auto-creates the topic (3 partitions) through Metadata.
    tool_in(
        &[
            "kafka-console-producer",
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--compression-codec",
            codec,
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        Some(&producer_input(&lines)),
    );
    let codecs = stored_codecs(&mini.data_dir(), &topic);
    assert!(!codecs.is_empty(), "no batches stored");
    assert!(
        codecs.iter().all(|c| *c == compression),
        "stored batches {codecs:?}, want {compression:?}"
    );
    let consume = |group: Option<&str>| {
        let mut args = vec![
            "kafka-console-consumer",
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--from-beginning",
            "--max-messages",
            "40",
            "--timeout-ms",
            "30000",
            "--property",
            "print.key=true",
            "--property",
            "print.partition=true",
        ];
        if let Some(g) = group {
            args.extend(["--group", g]);
        }
        parse_consumed(&tool(&args))
    };
    assert_all_back(&lines, &consume(None), 3);
    assert_all_back(&lines, &consume(Some("console-group")), 3);
}

#[test]
fn console_round_trip_none() {
    console_round_trip("none", Compression::None);
}

#[test]
fn console_round_trip_gzip() {
    console_round_trip("gzip", Compression::Gzip);
}

#[test]
fn console_round_trip_snappy() {
    console_round_trip("snappy", Compression::Snappy);
}

#[test]
fn console_round_trip_lz4() {
    console_round_trip("lz4", Compression::Lz4);
}

#[test]
fn console_round_trip_zstd() {
    console_round_trip("zstd", Compression::Zstd);
}

/// `kafka-producer-perf-test` and `kafka-consumer-perf-test` complete with every record.
#[test]
fn perf_tools_complete() {
    if !java_ready("perf_tools_complete") {
        return;
    }
    let mini = Mini::start(&[]);
    let bs = mini.bootstrap();
    let props = format!("bootstrap.servers={bs}");
    let out = tool(&[
        "kafka-producer-perf-test",
        "--topic",
        "perf",
        "--num-records",
        "3000",
        "--record-size",
        "100",
        "--throughput",
        "-1",
        "--producer-props",
        &props,
        "compression.type=lz4",
        "acks=all",
    ]);
    assert!(
        out.lines().any(|l| l.starts_with("3000 records sent")),
        "producer perf output: {out}"
    );
    let out = tool(&[
        "kafka-consumer-perf-test",
        "--bootstrap-server",
        &bs,
        "--topic",
        "perf",
        "--messages",
        "3000",
        "--timeout",
        "30000",
    ]);
    // CSV: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, ...
    let row = out
        .lines()
        .find(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no result row in consumer perf output: {out}"));
    let n_msg: i64 = row.split(", ").nth(4).unwrap().trim().parse().unwrap();
    assert_eq!(n_msg, 3000, "consumer perf output: {out}");
}

/// Output normalised for comparison between brokers: names replaced by placeholders, topic
/// ids and whitespace runs folded, `Configs:` limited to the keys the scenario sets, and
/// table rows sorted (Kafka prints partitions in hash-map order).
fn normalize(out: &str, names: &[(&str, &str)]) -> Vec<String> {
    const KEPT_CONFIGS: &[&str] = &["retention.ms", "cleanup.policy"];
    let mut lines: Vec<String> = out
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            for (from, to) in names {
                l = l.replace(from, to);
            }
            let words: Vec<&str> = l.split_whitespace().collect();
            let words: Vec<String> = words
                .iter()
                .enumerate()
                .map(|(i, w)| match i.checked_sub(1).map(|p| words[p]) {
                    Some("TopicId:") => "ID".to_string(),
                    Some("Configs:") => w
                        .split(',')
                        .filter(|kv| {
                            KEPT_CONFIGS
                                .iter()
                                .any(|k| kv.starts_with(&format!("{k}=")))
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => (*w).to_string(),
                })
                .filter(|w| !w.is_empty())
                .collect();
            words.join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

/// Runs `scenario` against kafka-server-mini and (when listed) the real cluster and asserts
/// the normalised outputs are equal, step by step.
fn compare_with_real(
    test: &str,
    sets: &[&str],
    scenario: fn(&str, &str, &str) -> Vec<(String, String)>,
) {
    if !java_ready(test) {
        return;
    }
    let mini = Mini::start(sets);
    let topic = unique("jt");
    let group = unique("jg");
    let ours = scenario(&mini.bootstrap(), &topic, &group);
    let Some(real) = real_bootstrap(test) else {
        return;
    };
    let rtopic = unique("jt");
    let rgroup = unique("jg");
    let theirs = scenario(&real, &rtopic, &rgroup);
    assert_eq!(ours.len(), theirs.len());
    for ((step, a), (_, b)) in ours.iter().zip(&theirs) {
        let a = normalize(a, &[(&topic, "TOPIC"), (&group, "GROUP")]);
        let b = normalize(b, &[(&rtopic, "TOPIC"), (&rgroup, "GROUP")]);
        assert_eq!(
            a, b,
            "{test}: `{step}` prints differently (left: kafka-server-mini, right: Apache Kafka)"
        );
    }
}

/// `kafka-topics` create / list / describe / alter partitions / delete.
#[test]
fn topics_tool_matches_real_kafka() {
    compare_with_real("topics_tool_matches_real_kafka", &[], |bs, topic, _| {
        let only_ours = |out: String| -> String {
            out.lines()
                .filter(|l| l.trim() == topic)
                .map(|l| format!("{l}\n"))
                .collect()
        };
        let t = |args: &[&str]| {
            let mut all = vec!["kafka-topics", "--bootstrap-server", bs];
            all.extend_from_slice(args);
            tool(&all)
        };
        let mut steps = vec![(
            "create".to_string(),
            t(&[
                "--create",
                "--topic",
                topic,
                "--partitions",
                "3",
                "--replication-factor",
                "1",
                "--config",
                "retention.ms=3600000",
            ]),
        )];
        steps.push(("list".into(), only_ours(t(&["--list"]))));
        steps.push(("describe".into(), t(&["--describe", "--topic", topic])));
        steps.push((
            "alter".into(),
            t(&["--alter", "--topic", topic, "--partitions", "5"]),
        ));
        let described = t(&["--describe", "--topic", topic]);
        assert!(described.contains("PartitionCount: 5"), "{described}");
        steps.push(("describe after alter".into(), described));
        steps.push(("delete".into(), t(&["--delete", "--topic", topic])));
        steps
    });
}

/// `kafka-configs` describe / alter of a topic, describe of the broker.
#[test]
fn configs_tool_matches_real_kafka() {
    compare_with_real("configs_tool_matches_real_kafka", &[], |bs, topic, _| {
        tool(&[
            "kafka-topics",
            "--bootstrap-server",
            bs,
            "--create",
            "--topic",
            topic,
            "--partitions",
            "1",
            "--replication-factor",
            "1",
            "--config",
            "retention.ms=3600000",
        ]);
        let c = |args: &[&str]| {
            let mut all = vec!["kafka-configs", "--bootstrap-server", bs];
            all.extend_from_slice(args);
            tool(&all)
        };
        let describe = [
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            topic,
        ];
        let mut steps = vec![("describe".to_string(), c(&describe))];
        steps.push((
            "alter".into(),
            c(&[
                "--alter",
                "--entity-type",
                "topics",
                "--entity-name",
                topic,
                "--add-config",
                "retention.ms=7200000,cleanup.policy=delete",
            ]),
        ));
        steps.push(("describe after alter".into(), c(&describe)));
        steps.push((
            "delete-config".into(),
            c(&[
                "--alter",
                "--entity-type",
                "topics",
                "--entity-name",
                topic,
                "--delete-config",
                "cleanup.policy",
            ]),
        ));
        steps.push(("describe after delete-config".into(), c(&describe)));
        // Only the heading: other users of the shared cluster may have set dynamic configs.
        let broker = c(&[
            "--describe",
            "--entity-type",
            "brokers",
            "--entity-name",
            "1",
        ]);
        steps.push((
            "describe broker".into(),
            broker.lines().next().unwrap_or_default().to_string(),
        ));
        tool(&[
            "kafka-topics",
            "--bootstrap-server",
            bs,
            "--delete",
            "--topic",
            topic,
        ]);
        steps
    });
}

/// `kafka-consumer-groups` list / describe / reset-offsets (dry run and execute) / delete,
/// `kafka-get-offsets` and `kafka-delete-records` with a JSON offsets file.
#[test]
fn groups_and_offsets_tools_match_real_kafka() {
    compare_with_real(
        "groups_and_offsets_tools_match_real_kafka",
        &[],
        |bs, topic, group| {
            tool(&[
                "kafka-topics",
                "--bootstrap-server",
                bs,
                "--create",
                "--topic",
                topic,
                "--partitions",
                "3",
                "--replication-factor",
                "1",
            ]);
            let lines = keyed_lines(30, "g");
            tool_in(
                &[
                    "kafka-console-producer",
                    "--bootstrap-server",
                    bs,
                    "--topic",
                    topic,
                    "--property",
                    "parse.key=true",
                    "--property",
                    "key.separator=:",
                ],
                Some(&producer_input(&lines)),
            );
            // Consumes all 30 records and commits the positions on close (a part would make
            // the committed offsets depend on fetch timing).
            tool(&[
                "kafka-console-consumer",
                "--bootstrap-server",
                bs,
                "--topic",
                topic,
                "--group",
                group,
                "--from-beginning",
                "--max-messages",
                "30",
                "--timeout-ms",
                "30000",
            ]);
            let g = |args: &[&str]| {
                let mut all = vec!["kafka-consumer-groups", "--bootstrap-server", bs];
                all.extend_from_slice(args);
                tool(&all)
            };
            let only_ours = |out: String| -> String {
                out.lines()
                    .filter(|l| l.trim() == group)
                    .map(|l| format!("{l}\n"))
                    .collect()
            };
            let mut steps = vec![("list".to_string(), only_ours(g(&["--list"])))];
            steps.push(("describe".into(), g(&["--describe", "--group", group])));
            let reset = |mode: &str| {
                g(&[
                    "--reset-offsets",
                    "--group",
                    group,
                    "--topic",
                    topic,
                    "--to-earliest",
                    mode,
                ])
            };
            steps.push(("reset dry-run".into(), reset("--dry-run")));
            steps.push(("reset execute".into(), reset("--execute")));
            steps.push((
                "describe after reset".into(),
                g(&["--describe", "--group", group]),
            ));
            let get_offsets = |time: &str| {
                tool(&[
                    "kafka-get-offsets",
                    "--bootstrap-server",
                    bs,
                    "--topic",
                    topic,
                    "--time",
                    time,
                ])
            };
            steps.push(("get-offsets latest".into(), get_offsets("-1")));
            let json = std::env::temp_dir().join(format!("{topic}.json"));
            std::fs::write(
                &json,
                format!(
                    r#"{{"partitions":[{{"topic":"{topic}","partition":0,"offset":3}},{{"topic":"{topic}","partition":2,"offset":-1}}],"version":1}}"#
                ),
            )
            .unwrap();
            let deleted = tool(&[
                "kafka-delete-records",
                "--bootstrap-server",
                bs,
                "--offset-json-file",
                json.to_str().unwrap(),
            ]);
            let _ = std::fs::remove_file(&json);
            steps.push(("delete-records".into(), deleted));
            steps.push(("get-offsets earliest".into(), get_offsets("-2")));
            steps.push(("delete group".into(), g(&["--delete", "--group", group])));
            tool(&[
                "kafka-topics",
                "--bootstrap-server",
                bs,
                "--delete",
                "--topic",
                topic,
            ]);
            steps
        },
    );
}

/// Dynamic broker configs are a deliberate gap (README): kafka-configs says why.
#[test]
fn configs_tool_broker_alter_is_refused_with_reason() {
    if !java_ready("configs_tool_broker_alter_is_refused_with_reason") {
        return;
    }
    let mini = Mini::start(&[]);
    let out = tool_output(
        &[
            "kafka-configs",
            "--bootstrap-server",
            &mini.bootstrap(),
            "--alter",
            "--entity-type",
            "brokers",
            "--entity-name",
            "1",
            "--add-config",
            "log.cleaner.threads=2",
        ],
        None,
    );
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("InvalidRequestException")
            && text.contains("Dynamic broker configs are not supported"),
        "{text}"
    );
}

/// A console consumer process whose printed lines arrive on a channel.
struct ConsoleConsumer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl ConsoleConsumer {
    fn start(bs: &str, topic: &str, group: &str) -> Self {
        let mut child = tool_cmd(&[
            "kafka-console-consumer",
            "--bootstrap-server",
            bs,
            "--topic",
            topic,
            "--group",
            group,
            "--from-beginning",
            "--property",
            "print.partition=true",
            "--consumer-property",
            "session.timeout.ms=6000",
            "--consumer-property",
            "heartbeat.interval.ms=500",
            "--consumer-property",
            "auto.commit.interval.ms=200",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kafka-console-consumer");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        ConsoleConsumer { child, lines }
    }

    /// Values received so far, with their partitions.
    fn drain(&self, into: &mut Vec<(i32, String)>) {
        while let Ok(l) = self.lines.try_recv() {
            if let Some((p, v)) = l
                .strip_prefix("Partition:")
                .and_then(|r| r.split_once('\t'))
                .and_then(|(p, v)| Some((p.parse().ok()?, v.to_string())))
            {
                into.push((p, v));
            }
        }
    }

    /// SIGTERM: the console consumer's shutdown hook closes the consumer (LeaveGroup).
    fn terminate(&mut self) {
        // `timeout` forwards SIGTERM to the JVM it runs.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ConsoleConsumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two Java console consumers in one group over 4 partitions both get records; after one is
/// killed the other takes over its partitions and nothing is lost.
#[test]
fn java_console_consumer_group_rebalances() {
    if !java_ready("java_console_consumer_group_rebalances") {
        return;
    }
    let mini = Mini::start(&["num.partitions=4"]);
    let bs = mini.bootstrap();
    let (topic, group) = ("java-group", "java-group-g");
    tool(&[
        "kafka-topics",
        "--bootstrap-server",
        &bs,
        "--create",
        "--topic",
        topic,
        "--partitions",
        "4",
        "--replication-factor",
        "1",
    ]);
    let mut a = ConsoleConsumer::start(&bs, topic, group);
    let mut b = ConsoleConsumer::start(&bs, topic, group);
    // One long-lived Java producer fed round by round through stdin.
    let mut producer = tool_cmd(&[
        "kafka-console-producer",
        "--bootstrap-server",
        &bs,
        "--topic",
        topic,
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
        "--producer-property",
        "linger.ms=0",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start kafka-console-producer");
    let mut feed = producer.stdin.take().unwrap();
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    let mut produced = Vec::new();
    let mut round = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    // Rounds of 20 keyed records until both members received some of the latest round.
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "members never shared the partitions: a {got_a:?} b {got_b:?}"
        );
        round += 1;
        let (before_a, before_b) = (got_a.len(), got_b.len());
        for i in 0..20 {
            let v = format!("r{round}-{i}");
            writeln!(feed, "k{round}-{i}:{v}").unwrap();
            produced.push(v);
        }
        feed.flush().unwrap();
        let want = produced.len();
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while got_a.len() + got_b.len() < want && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
            a.drain(&mut got_a);
            b.drain(&mut got_b);
        }
        if got_a.len() > before_a && got_b.len() > before_b && got_a.len() + got_b.len() >= want {
            break;
        }
    }
    let parts = |got: &[(i32, String)], from: usize| -> std::collections::BTreeSet<i32> {
        got[from..].iter().map(|(p, _)| *p).collect()
    };
    // Kill one member; the other must take every partition and get the next round.
    a.terminate();
    a.drain(&mut got_a);
    let from_b = got_b.len();
    round += 1;
    for i in 0..40 {
        let v = format!("r{round}-{i}");
        writeln!(feed, "k{round}-{i}:{v}").unwrap();
        produced.push(v);
    }
    feed.flush().unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let seen = |a: &[(i32, String)], b: &[(i32, String)]| -> std::collections::BTreeSet<String> {
        a.iter().chain(b).map(|(_, v)| v.clone()).collect()
    };
    while !produced.iter().all(|v| seen(&got_a, &got_b).contains(v))
        && std::time::Instant::now() < until
    {
        std::thread::sleep(Duration::from_millis(200));
        b.drain(&mut got_b);
    }
    drop(feed);
    let _ = producer.wait();
    let all = seen(&got_a, &got_b);
    let lost: Vec<_> = produced.iter().filter(|v| !all.contains(*v)).collect();
    assert!(lost.is_empty(), "lost records: {lost:?}");
    assert_eq!(
        parts(&got_b, from_b),
        (0..4).collect(),
        "the remaining member did not take every partition"
    );
    // The remaining member as kafka-consumer-groups shows it: member ids are Kafka's
    // `<client.id>-<UUID>` and it owns all 4 partitions.
    let members = tool(&[
        "kafka-consumer-groups",
        "--bootstrap-server",
        &bs,
        "--describe",
        "--group",
        group,
        "--members",
    ]);
    let rows: Vec<Vec<&str>> = members
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.first() == Some(&group))
        .collect();
    assert_eq!(rows.len(), 1, "{members}");
    let (member_id, client_id, owned) = (rows[0][1], rows[0][3], rows[0][4]);
    let uuid = member_id
        .strip_prefix(&format!("{client_id}-"))
        .unwrap_or_else(|| panic!("member id {member_id} does not start with {client_id}-"));
    assert!(
        uuid.len() == 36 && uuid.split('-').map(str::len).eq([8, 4, 4, 4, 12]),
        "member id {member_id} is not <client.id>-<UUID>"
    );
    assert_eq!(owned, "4", "{members}");
    b.terminate();
}

/// `kafka-dump-log` over kafka-server-mini's `.log`, `.index` and `.timeindex` files, after
/// producing with every codec into small segments: every batch decodes, every record is
/// there, and the index checks find no mismatch.
#[test]
fn dump_log_reads_our_segments() {
    if !java_ready("dump_log_reads_our_segments") {
        return;
    }
    let mut mini = Mini::start(&["log.segment.bytes=2048", "log.index.interval.bytes=128"]);
    let bs = mini.bootstrap();
    let topic = "dump";
    tool(&[
        "kafka-topics",
        "--bootstrap-server",
        &bs,
        "--create",
        "--topic",
        topic,
        "--partitions",
        "1",
        "--replication-factor",
        "1",
    ]);
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    // One producer per codec, in parallel; small batches (batch.size) so each segment holds
    // several batches and the offset index gets entries.
    let producers: Vec<_> = codecs
        .iter()
        .map(|codec| {
            let input: String = (0..60)
                .map(|i| format!("{codec}-{i}:{codec}-payload-{i:04}\n"))
                .collect();
            let bs = bs.clone();
            let codec = codec.to_string();
            std::thread::spawn(move || {
                tool_in(
                    &[
                        "kafka-console-producer",
                        "--bootstrap-server",
                        &bs,
                        "--topic",
                        "dump",
                        "--compression-codec",
                        &codec,
                        "--property",
                        "parse.key=true",
                        "--property",
                        "key.separator=:",
                        "--producer-property",
                        "batch.size=400",
                    ],
                    Some(&input),
                )
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    mini.stop();
    let dir = mini.data_dir().join("dump-0");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("log" | "index" | "timeindex")
            )
        })
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    let segments = files.iter().filter(|f| f.ends_with(".log")).count();
    assert!(segments >= 3, "expected rolled segments, got {files:?}");
    let list = files.join(",");
    let dump = |extra: &[&str]| {
        let mut args = vec!["kafka-dump-log", "--files", &list];
        args.extend_from_slice(extra);
        let out = tool_output(&args, None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "kafka-dump-log {extra:?} failed: {err}\n{text}"
        );
        for bad in [
            "mismatch",
            "corrupt",
            "exception",
            "isvalid: false",
            "failed sanity",
        ] {
            assert!(
                !text.to_lowercase().contains(bad) && !err.to_lowercase().contains(bad),
                "kafka-dump-log {extra:?} reports {bad:?}:\n{text}\n{err}"
            );
        }
        text
    };
    let data = dump(&["--print-data-log"]);
    for codec in codecs {
        assert!(
            data.contains(&format!("compresscodec: {codec}")),
            "no {codec} batch in the dump"
        );
        for i in 0..60 {
            let payload = format!("payload: {codec}-payload-{i:04}");
            assert_eq!(
                data.matches(&format!("{payload}\n")).count()
                    + usize::from(data.ends_with(&payload)),
                1,
                "{payload} not dumped exactly once"
            );
        }
    }
    let index_entries = data
        .lines()
        .filter(|l| l.starts_with("offset: ") && l.contains(" position: "))
        .count();
    assert!(index_entries > 0, "no offset index entries dumped:\n{data}");
    let sanity = dump(&["--index-sanity-check"]);
    assert!(sanity.contains("passed sanity check"), "{sanity}");
    dump(&["--verify-index-only"]);
}

/// `kafka-dump-log` over a `.txnindex` kafka-server-mini wrote for two aborted transactions
/// (raw protocol: InitProducerId, AddPartitionsToTxn, transactional Produce, EndTxn): Kafka's
/// reader decodes both entries with their producer id and offsets, and reads the segment's
/// control batches as COMMIT/ABORT markers.
#[test]
fn dump_log_reads_our_txnindex() {
    use krafty_protocol::generated::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use krafty_protocol::generated::create_topics_request::CreatableTopic;
    use krafty_protocol::generated::{
        AddPartitionsToTxnRequest, CreateTopicsRequest, EndTxnRequest, InitProducerIdRequest,
    };
    use krafty_protocol::records::RecordBatchBuilder;
    use krafty_protocol::wire::StrBytes;
    if !java_ready("dump_log_reads_our_txnindex") {
        return;
    }
    let mut mini = Mini::start(&[]);
    let addr: std::net::SocketAddr = mini.bootstrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pid = rt.block_on(async {
        let mut c = common::Client::connect(addr).await;
        let r = c
            .call(
                4,
                &CreateTopicsRequest {
                    topics: vec![CreatableTopic {
                        name: StrBytes::from("tx"),
                        num_partitions: 1,
                        replication_factor: 1,
                        ..Default::default()
                    }],
                    timeout_ms: 5000,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(r.topics[0].error_code, 0);
        let r = c
            .call(
                4,
                &InitProducerIdRequest {
                    transactional_id: Some(StrBytes::from("dump")),
                    transaction_timeout_ms: 60_000,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(r.error_code, 0);
        let (pid, epoch) = (r.producer_id, r.producer_epoch);
        for (i, commit) in [false, true, false].into_iter().enumerate() {
            let r = c
                .call(
                    3,
                    &AddPartitionsToTxnRequest {
                        v3_and_below_transactional_id: StrBytes::from("dump"),
                        v3_and_below_producer_id: pid,
                        v3_and_below_producer_epoch: epoch,
                        v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                            name: StrBytes::from("tx"),
                            partitions: vec![0].into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(
                r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
                0
            );
            let mut b = RecordBatchBuilder::new(Compression::None)
                .producer(pid, epoch, i as i32 * 2)
                .transactional(true);
            for j in 0..2 {
                b.append(
                    1_700_000_000_000,
                    None,
                    Some(format!("r{i}-{j}").as_bytes()),
                )
                .unwrap();
            }
            let mut req = common::produce_req("tx", 0, b.finish().unwrap(), -1);
            req.transactional_id = Some(StrBytes::from("dump"));
            let r: krafty_protocol::generated::ProduceResponse = c.call(9, &req).await;
            assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
            let r = c
                .call(
                    3,
                    &EndTxnRequest {
                        transactional_id: StrBytes::from("dump"),
                        producer_id: pid,
                        producer_epoch: epoch,
                        committed: commit,
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(r.error_code, 0);
        }
        pid
    });
    mini.stop();
    let dir = mini.data_dir().join("tx-0");
    let index = dir.join("00000000000000000000.txnindex");
    let out = tool_output(
        &["kafka-dump-log", "--files", &index.to_string_lossy()],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // records 0-1 aborted (marker 2), 3-4 committed (marker 5), 6-7 aborted (marker 8)
    for (first, last) in [(0, 2), (6, 8)] {
        let want = format!("producerId: {pid} firstOffset: {first} lastOffset: {last}");
        assert!(text.contains(&want), "{want} not in:\n{text}");
    }
    let log = dir.join("00000000000000000000.log");
    let out = tool_output(
        &[
            "kafka-dump-log",
            "--files",
            &log.to_string_lossy(),
            "--print-data-log",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("endTxnMarker: ABORT").count(), 2, "{text}");
    assert_eq!(text.matches("endTxnMarker: COMMIT").count(), 1, "{text}");
    assert_eq!(text.matches("isTransactional: true").count(), 6, "{text}");
}
