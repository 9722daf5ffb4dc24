#!/usr/bin/env bash
# Builds tests/downstream, a crate outside the workspace that depends on krafty-client by
# path with `default-features = false` and only the lz4 codec (and on krafty-server without
# its binary), with warnings denied, and runs it: it produces and consumes lz4 records
# through an in-process kafka-server-mini and checks that the left-out codecs are typed
# errors. Its target dir is target/downstream, beside the workspace's.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cd tests/downstream
RUSTFLAGS="${RUSTFLAGS:-} -D warnings" CARGO_TARGET_DIR="$root/target/downstream" \
  cargo run --locked
