//! Idempotent retries: a proxy cuts the connection right after forwarding the first
//! Produce request (the broker wrote the batch, the producer never hears back). The
//! producer must resend the same batch with the same sequence number, and the records must
//! be in the log exactly once.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use krafty_client::{
    Admin, AdminConfig, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
    TopicPartition,
};
use krafty_protocol::frame::{peek_request_header, split_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A proxy to `upstream` that drops the connection after forwarding the first Produce
/// request it sees (once overall).
async fn proxy(listener: TcpListener, upstream: u16, cuts: Arc<AtomicUsize>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let cuts = cuts.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                return;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let down = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            });
            let mut buf = BytesMut::new();
            'outer: loop {
                match cr.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                while let Ok(Some(frame)) = split_frame(&mut buf, 1 << 30) {
                    let mut out = BytesMut::new();
                    out.extend_from_slice(&(frame.len() as i32).to_be_bytes());
                    out.extend_from_slice(&frame);
                    let is_produce = peek_request_header(&frame).is_ok_and(|(k, _, _)| k == 0);
                    let cut = is_produce && cuts.fetch_add(1, Ordering::SeqCst) == 0;
                    if cut {
                        // Stop forwarding responses, then let the request through.
                        down.abort();
                    }
                    if sw.write_all(&out).await.is_err() {
                        break 'outer;
                    }
                    if cut {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        break 'outer;
                    }
                }
            }
            down.abort();
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_produce_response_is_retried_without_duplicates() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let proxy_port = listener.local_addr().expect("addr").port();
    let Some(tansu) = common::Tansu::start_advertising(Some(proxy_port)) else {
        return;
    };
    let cuts = Arc::new(AtomicUsize::new(0));
    tokio::spawn(proxy(listener, tansu.port, cuts.clone()));
    let bootstrap = format!("127.0.0.1:{proxy_port}");
    let topic = common::topic("retry");
    Admin::new(AdminConfig::new(&bootstrap).expect("config"))
        .create_topic(&topic, 1, 1)
        .await
        .expect("create");
    let cfg = ProducerConfig::new(&bootstrap)
        .and_then(|c| c.with("linger.ms", "50"))
        .and_then(|c| c.with("retry.backoff.ms", "50"))
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    let n = 200;
    let mut futs = Vec::new();
    for i in 0..n {
        futs.push(
            producer
                .send(ProducerRecord::new(&topic).value(format!("{i}")))
                .await
                .expect("send"),
        );
    }
    let mut offsets = Vec::new();
    for f in futs {
        offsets.push(f.await.expect("delivered despite the cut").offset);
    }
    producer.close().await.expect("close");
    assert!(cuts.load(Ordering::SeqCst) >= 2, "the batch was resent");
    if offsets.iter().all(|&o| o == -1) {
        // Tansu 0.6.0 answers the resent batch with DUPLICATE_SEQUENCE_NUMBER (Apache Kafka
        // returns NONE with the original offset); like the Java client, the producer then
        // reports success without an offset.
        eprintln!(
            "NOTE: broker answered the retry with DUPLICATE_SEQUENCE_NUMBER, offsets unknown"
        );
    } else {
        assert!(
            offsets.windows(2).all(|w| w[1] == w[0] + 1),
            "offsets contiguous: {:?}",
            &offsets[..5]
        );
    }

    let consumer = Consumer::new(
        ConsumerConfig::new(&bootstrap)
            .and_then(|c| c.with("auto.offset.reset", "earliest"))
            .expect("config"),
    )
    .expect("consumer");
    consumer.assign([TopicPartition::new(&topic, 0)]);
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        let got = consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll");
        if got.is_empty() && values.len() >= n {
            break;
        }
        values.extend(
            got.into_iter().map(|r| {
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_string()
            }),
        );
    }
    consumer.close().await;
    let expected: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(values, expected, "every record exactly once, in order");
}
