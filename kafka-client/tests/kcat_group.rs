//! Sharing a consumer group with librdkafka (kcat -G): offsets we commit are where kcat
//! resumes, and offsets kcat commits are where we resume.
mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
};

async fn produce(bootstrap: &str, topic: &str, from: usize, to: usize) {
    let producer =
        Producer::new(ProducerConfig::new(bootstrap).expect("config")).expect("producer");
    for i in from..to {
        let _ = producer
            .send(
                ProducerRecord::new(topic)
                    .key(format!("k{i}"))
                    .value(format!("{i}")),
            )
            .await
            .expect("send");
    }
    producer.close().await.expect("close");
}

fn our_consumer(bootstrap: &str, group: &str) -> Consumer {
    let cfg = ConsumerConfig::new(bootstrap)
        .and_then(|c| c.with("group.id", group))
        .and_then(|c| c.with("auto.offset.reset", "earliest"))
        .and_then(|c| c.with("enable.auto.commit", "false"))
        .and_then(|c| c.with("max.poll.records", "25"))
        .and_then(|c| c.with("partition.assignment.strategy", "range"))
        .and_then(|c| c.with("max.poll.interval.ms", "10000"))
        .and_then(|c| c.with("heartbeat.interval.ms", "500"))
        // Tansu 0.6.0 holds our JoinGroup after the MEMBER_ID_REQUIRED round trip for
        // about the session timeout (45 s by default); a short session keeps this quick.
        .and_then(|c| c.with("session.timeout.ms", "6000"))
        .expect("config");
    Consumer::new(cfg).expect("consumer")
}

async fn our_poll(c: &Consumer, at_least: usize, secs: u64) -> Vec<i64> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        let rs = c.poll(Duration::from_millis(300)).await.expect("poll");
        if rs.is_empty() && out.len() >= at_least {
            break;
        }
        out.extend(rs.iter().map(|r| {
            String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                .parse::<i64>()
                .unwrap_or(-1)
        }));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_shared_with_kcat() {
    let Some(kcat) = common::peer_bin("kcat") else {
        common::peer_missing("kcat is not installed (run ../shared/peers/install.sh)");
        return;
    };
    let Some(tansu) = common::Tansu::start() else {
        return;
    };
    let bootstrap = tansu.bootstrap();
    let topic = common::topic("kg");
    let group = common::topic("kgroup");
    Admin::new(AdminConfig::new(&bootstrap).expect("config"))
        .create_topic(&topic, 3, 1)
        .await
        .expect("create");
    produce(&bootstrap, &topic, 0, 300).await;

    // We consume part of it and commit.
    let ours = our_consumer(&bootstrap, &group);
    ours.subscribe(&[&topic]).expect("subscribe");
    let mut mine = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while mine.len() < 100 && tokio::time::Instant::now() < deadline {
        let rs = ours.poll(Duration::from_millis(300)).await.expect("poll");
        mine.extend(rs.iter().map(|r| {
            String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                .parse::<i64>()
                .unwrap_or(-1)
        }));
    }
    ours.commit_sync().await.expect("commit");
    ours.close().await;

    // kcat joins the same group and reads exactly the rest.
    let run_kcat = || {
        Command::new(&kcat)
            .args([
                "-b",
                &bootstrap,
                "-G",
                &group,
                "-X",
                "auto.offset.reset=earliest",
                "-e",
                "-q",
                "-f",
                "%s\n",
                &topic,
            ])
            .output()
            .expect("kcat")
    };
    let out = run_kcat();
    assert!(
        out.status.success(),
        "kcat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let all: HashSet<i64> = mine.iter().chain(&theirs).copied().collect();
    assert_eq!(
        mine.len() + theirs.len(),
        300,
        "no record twice (ours {}, kcat {})",
        mine.len(),
        theirs.len()
    );
    assert_eq!(all.len(), 300, "every record once");

    // kcat committed on close: we resume after its offsets and see only new records.
    produce(&bootstrap, &topic, 300, 350).await;
    let ours = our_consumer(&bootstrap, &group);
    ours.subscribe(&[&topic]).expect("subscribe");
    let mut rest = our_poll(&ours, 50, 40).await;
    ours.close().await;
    rest.sort_unstable();
    assert_eq!(
        rest,
        (300..350).collect::<Vec<i64>>(),
        "resumed at kcat's commits"
    );
}
