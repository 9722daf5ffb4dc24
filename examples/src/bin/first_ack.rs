//! Time from starting kafka-server-mini in-process to the first acknowledged produce: what a
//! test that needs a broker pays before its first assertion (issue 12's startup figure).
//!
//! Each run starts a broker on `127.0.0.1:0` with a fresh temporary data directory, makes a
//! producer (`acks=all`, `linger.ms=0`), sends one record to a topic that does not exist yet
//! (auto-created, as a test's first produce usually is) and waits for its acknowledgement;
//! then it shuts the broker down. Prints each run and the median. Build with `--release`
//! for the figure in BENCHMARKS.md.
//!
//! ```text
//! cargo run -q --release -p examples --bin first_ack -- --runs 11
//! ```

use std::time::{Duration, Instant};

use clap::Parser;
use examples::BoxError;
use krafty_client::{Producer, ProducerConfig, ProducerRecord};
use krafty_server::{Broker, BrokerConfig};

/// Measure in-process broker start to the first acknowledged produce.
#[derive(Parser)]
struct Args {
    /// How many broker starts to measure.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let mut totals = Vec::with_capacity(args.runs);
    for run in 1..=args.runs.max(1) {
        let dir = tempfile::tempdir()?;
        let began = Instant::now();
        let broker =
            Broker::start(BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path())).await?;
        let started = began.elapsed();
        let bootstrap = broker.local_addr().to_string();
        let producer = Producer::new(
            ProducerConfig::new(&bootstrap)?
                .with("acks", "all")?
                .with("linger.ms", "0")?,
        )?;
        let delivery = producer
            .send(ProducerRecord::new("first-ack").value("hello"))
            .await?;
        let meta = delivery.await?;
        let total = began.elapsed();
        println!(
            "run {run}: broker started in {:.1} ms, first record acknowledged at {:.1} ms (offset {})",
            ms(started),
            ms(total),
            meta.offset
        );
        totals.push(total);
        producer.close().await?;
        broker.shutdown().await?;
    }
    totals.sort();
    println!(
        "in-process broker start to first acknowledged produce: median {:.1} ms over {} runs",
        ms(totals[totals.len() / 2]),
        totals.len()
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
