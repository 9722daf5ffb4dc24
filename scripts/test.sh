#!/usr/bin/env bash
# The one test command (README "Test", and what .ci/run calls).
#
# 1. installs the third-party Kafka peers the interop tests use into a cache directory
#    (${KAFKA_PEERS_HOME:-~/.cache/kafka-peers}; nothing goes into the repo),
# 2. checks formatting and clippy (warnings are errors),
# 3. runs every test of the workspace (codec, golden frames, generator freshness, CLI,
#    broker, peers),
# 4. runs the fuzz targets for a short while when the fuzzer toolchain is present.
# Tests that need something missing (Java Kafka, a peer) print SKIP with the reason outside CI
# and FAIL with CI=true; only the testcontainers example skips in CI too (no Docker engine).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="${KAFKA_SHARED:-$root/../shared}"
start=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

# ---- peers (issue 9 item 6) -------------------------------------------------------------
# scripts/peers.sh installs every peer (../shared/peers/install.sh), checks each one runs,
# builds the Go peers (tests/go-peers -> ~/.cache/krafty-go-peers) and fetches Apache Kafka's
# jars. With CI=true a peer that cannot be installed, built or run fails the run here with its
# reason (and each test that needs it fails too); outside CI the tests print SKIP, loudly.
step "installing and checking peers"
KAFKA_SHARED="$shared" bash scripts/peers.sh
# ---- end of peers -------------------------------------------------------------------------

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

if [ -d "$shared/golden-frames" ]; then
  step "kafka-cli frames check on the shared golden frames"
  cargo run -q --locked -p krafty-cli -- frames check "$shared/golden-frames"
fi

step "fuzz"
bash scripts/fuzz.sh

step "done"
