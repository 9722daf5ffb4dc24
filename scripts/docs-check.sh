#!/usr/bin/env bash
# Builds the API docs of the published crates with every rustdoc warning (broken links,
# missing docs, bad code blocks) an error. (The doc tests, each library's quick start and the
# README's Rust blocks compiled through the `tests` crate, run in `cargo test --workspace`.)
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --no-deps --locked \
  -p krafty-protocol -p krafty-client -p krafty-server -p krafty-cli
