//! `kafka-cli`: the command-line tool of the pure-Rust Kafka SDK.
//!
//! This file is the thin entry point: it parses the arguments ([`cmd::Cli`]), runs the chosen
//! subcommand and turns its outcome into the process exit status. Errors are printed to
//! stderr as `kafka-cli: error: ...` with exit status 1; usage errors exit with status 2
//! (clap's convention). The subcommands live in [`cmd`], one module per group.

// The doc comments of the argument structs are clap's `--help` text, read in a terminal:
// placeholders such as `<key>` are meant literally there, not as HTML.
#![allow(rustdoc::invalid_html_tags)]

mod body_view;
mod cmd;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::Parser;

use crate::cmd::{Cli, CliError};

/// Logs to stderr: `-v` info, `-vv` debug, `-vvv` trace; without `-v`, `RUST_LOG` decides
/// (nothing is logged when it is unset).
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match verbose {
        0 => match EnvFilter::try_from_default_env() {
            Ok(f) => f,
            Err(_) => return,
        },
        1 => EnvFilter::new("info"),
        2 => EnvFilter::new("debug"),
        _ => EnvFilter::new("trace"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match cli.command.run() {
        Ok(status) => status,
        // The reader went away (`kafka-cli ... | head`): stop quietly, like other tools do.
        Err(CliError::Output(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafka-cli: error: {e}");
            ExitCode::FAILURE
        }
    }
}
