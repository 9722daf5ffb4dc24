//! The subcommands: the clap argument tree, dispatch and the CLI error type.
//!
//! Owns: [`Cli`] (the top-level arguments), [`Command`] (one variant per subcommand group)
//! and [`CliError`]. Each group lives in its own module that exposes an `Args` struct for its
//! variant of [`Command`] and a `run` function returning the exit status:
//!
//! - [`frames`]: decode frames, check that they round-trip (no network);
//! - [`produce`]: stdin lines to records (`kafka-console-producer`, `kcat -P`);
//! - [`consume`]: records to stdout lines (`kafka-console-consumer`, `kcat -C`);
//! - [`topics`]: list/create/describe/delete (`kafka-topics.sh`);
//! - [`groups`]: list/describe/delete/reset-offsets (`kafka-consumer-groups.sh`);
//! - [`acls`]: create/list/delete ACLs (`kafka-acls.sh`);
//! - [`perf`]: producer and consumer throughput (`kafka-producer-perf-test.sh`,
//!   `kafka-consumer-perf-test.sh`);
//! - [`client_args`]: `--bootstrap`, `-X key=value` and the tokio runtime, shared by the
//!   commands that talk to a cluster.
//!
//! To add a group: add the module, a variant here and its arm in [`Command::run`].

pub mod acls;
pub mod client_args;
pub mod consume;
pub mod frames;
pub mod groups;
pub mod perf;
pub mod produce;
pub mod topics;

use std::fmt;
use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The command-line tool of the pure-Rust Kafka SDK.
#[derive(Debug, Parser)]
#[command(name = "kafka-cli", version, propagate_version = true)]
pub struct Cli {
    /// The subcommand group to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log to stderr: -v info, -vv debug, -vvv trace (RUST_LOG works too).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommand groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode Kafka protocol frames and check that they round-trip byte for byte.
    Frames(frames::FramesArgs),
    /// Write stdin lines as records to a topic.
    Produce(produce::ProduceArgs),
    /// Print a topic's records, one per line.
    Consume(consume::ConsumeArgs),
    /// List, create, describe and delete topics.
    Topics(topics::TopicsArgs),
    /// List, describe and delete consumer groups; reset their offsets.
    Groups(groups::GroupsArgs),
    /// Producer and consumer throughput tests in the format of Kafka's perf-test tools.
    Perf(perf::PerfArgs),
    /// Create, list and delete ACLs (`kafka-acls.sh`).
    Acls(acls::AclsArgs),
}

impl Command {
    /// Runs the subcommand. `Ok` carries the exit status of a command that ran to the end
    /// (e.g. failure when `frames check` found failing frames); `Err` is an error that stopped
    /// it, which the caller prints to stderr.
    pub fn run(&self) -> Result<ExitCode, CliError> {
        match self {
            Command::Frames(args) => frames::run(args),
            Command::Produce(args) => produce::run(args),
            Command::Consume(args) => consume::run(args),
            Command::Topics(args) => topics::run(args),
            Command::Groups(args) => groups::run(args),
            Command::Perf(args) => perf::run(args),
            Command::Acls(args) => acls::run(args),
        }
    }
}

/// An error that stops a subcommand.
#[derive(Debug)]
pub enum CliError {
    /// Something the user should read: an unreadable file, a decode error, bad arguments.
    Message(String),
    /// Writing to stdout failed (e.g. a closed pipe).
    Output(io::Error),
}

impl CliError {
    /// An error with a message for the user.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError::Message(message.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Message(m) => f.write_str(m),
            CliError::Output(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<io::Error> for CliError {
    /// Wraps an error writing the output; errors reading input files get a message instead.
    fn from(e: io::Error) -> Self {
        CliError::Output(e)
    }
}
