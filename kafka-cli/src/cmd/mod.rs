//! The subcommands: the clap argument tree, dispatch and the CLI error type.
//!
//! Owns: [`Cli`] (the top-level arguments), [`Command`] (one variant per subcommand group)
//! and [`CliError`]. Each group lives in its own module (`frames`; later `produce`, `consume`,
//! `topics`, `groups`, `perf`) that exposes an `Args` struct for its variant of [`Command`]
//! and a `run` function returning the exit status. To add a group: add the module, a variant
//! here and its arm in [`Command::run`].

pub mod frames;

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
}

/// The subcommand groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode Kafka protocol frames and check that they round-trip byte for byte.
    Frames(frames::FramesArgs),
}

impl Command {
    /// Runs the subcommand. `Ok` carries the exit status of a command that ran to the end
    /// (e.g. failure when `frames check` found failing frames); `Err` is an error that stopped
    /// it, which the caller prints to stderr.
    pub fn run(&self) -> Result<ExitCode, CliError> {
        match self {
            Command::Frames(args) => frames::run(args),
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
