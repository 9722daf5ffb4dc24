//! `kafka-server-mini --listen 127.0.0.1:9092 --data-dir DIR [--set key=value]...
//! [--add-scram 'SCRAM-SHA-512=[name=alice,password=alice-secret]']...`
//!
//! Prints `listening on HOST:PORT` once per listener, in `listeners` order.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use krafty_server::{Broker, BrokerConfig};

/// A small single-node Kafka broker.
#[derive(Debug, Parser)]
#[command(name = "kafka-server-mini", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9092")]
    listen: SocketAddr,
    /// Data directory.
    #[arg(long)]
    data_dir: PathBuf,
    /// A Kafka broker config `key=value` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// A SCRAM user to store at start, in `kafka-storage format --add-scram` syntax
    /// (`SCRAM-SHA-512=[name=alice,password=alice-secret]`; repeatable).
    #[arg(long = "add-scram", value_name = "MECHANISM=[name=..,password=..]")]
    add_scram: Vec<String>,
    /// Log level (error, warn, info, debug, trace) or a tracing filter.
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut config = BrokerConfig::new(args.listen, args.data_dir);
    for pair in &args.set {
        if let Err(e) = config.set_pair(pair) {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    for seed in &args.add_scram {
        match krafty_server::security::credentials::parse_seed(seed) {
            Ok(s) => config.scram_seeds.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let handle = match Broker::start(config).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let mut out = std::io::stdout();
        for (_, addr) in handle.listener_addrs() {
            let _ = writeln!(out, "listening on {addr}");
        }
        let _ = out.flush();
        wait_for_signal().await;
        tracing::info!("shutting down");
        match handle.shutdown().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error during shutdown: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
