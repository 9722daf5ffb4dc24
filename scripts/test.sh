#!/usr/bin/env bash
# The one test command (README "Test", and what .ci/run calls).
#
# 1. installs the third-party Kafka peers the interop tests use into a cache directory
#    (${KAFKA_PEERS_HOME:-~/.cache/kafka-peers}; nothing goes into the repo),
# 2. checks formatting and clippy (warnings are errors),
# 3. runs every test of the workspace (codec, golden frames, generator freshness, CLI,
#    broker, peers),
# 4. runs the fuzz targets for a short while when the fuzzer toolchain is present.
# Tests that need something missing (Java Kafka, Docker, a peer) print SKIP with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="${KAFKA_SHARED:-$root/../shared}"
start=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "installing peers"
if [ -x "$shared/peers/install.sh" ] || [ -f "$shared/peers/install.sh" ]; then
  bash "$shared/peers/install.sh" || echo "SKIP peers: install.sh failed; peer tests will skip"
else
  echo "SKIP peers: $shared/peers/install.sh not found; peer tests will skip"
fi

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
