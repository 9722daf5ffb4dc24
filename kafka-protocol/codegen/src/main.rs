//! `krafty-codegen [SPEC_DIR] [OUT_DIR]`: regenerates `kafka-protocol/src/generated`.
//!
//! Defaults: `../shared/kafka-message-specs` and `kafka-protocol/src/generated`, relative to
//! the workspace root (the current directory).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: krafty-codegen [SPEC_DIR] [OUT_DIR]");
        return ExitCode::SUCCESS;
    }
    let spec_dir = PathBuf::from(args.first().map_or("../shared/kafka-message-specs", |s| s));
    let out_dir = PathBuf::from(args.get(1).map_or("kafka-protocol/src/generated", |s| s));
    let files = match krafty_codegen::generate(&spec_dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = krafty_codegen::write_all(&out_dir, &files) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    println!("wrote {} files to {}", files.len(), out_dir.display());
    ExitCode::SUCCESS
}
