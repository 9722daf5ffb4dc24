#!/usr/bin/env bash
# Short fuzzing run of the codec (kafka-protocol/fuzz), the broker's request path
# (kafka-server-mini/fuzz: broker_request, sasl_exchange) and the consumer's fetch-response path
# (kafka-client/fuzz: fetch_response), all in cargo-fuzz layout.
#
# Runs every fuzz target for FUZZ_SECONDS (default 25) seconds, seeded with the golden
# frames of kafka-protocol/tests/data/golden-frames. Needs a nightly toolchain and
# cargo-fuzz; cargo-fuzz is installed into ${KAFKA_TOOLS_HOME:-$HOME/.cache/kafka-tools}
# when missing. Without them it prints `SKIP fuzz: <reason>` and exits 0.
# Exits non-zero when a target finds a crash (the input is left in
# kafka-protocol/fuzz/artifacts/<target>/; reproduce with
# `cargo +nightly fuzz run -D --sanitizer none <target> <file>` from kafka-protocol/).
#
# Environment:
#   FUZZ_SECONDS       seconds per target (default 25; 5 targets)
#   FUZZ_TARGETS       space-separated subset of targets (default: all)
#   KAFKA_TOOLS_HOME   where cargo-fuzz is installed if missing
#   FUZZ_TARGET_DIR    the shared target directory (default target/fuzz)
#   FUZZ_RELEASE=1     optimized build (-O -a) for long runs: ~10x the execs/s, ~2-3x the
#                      build time
#
# Build choice: `cargo +nightly fuzz build -D --sanitizer none`, line tables only, with the
# dependencies (compression codecs, CRCs, libFuzzer's runtime) at opt-level 1 and the codec
# at opt-level 0 (kafka-protocol/fuzz/Cargo.toml).
# The generated codec is a large crate and its build dominates a short run. Measured on
# this 2-core machine (shared with other builds, so wall times are inflated; CPU times in
# parentheses), clean builds of the three targets:
#   cargo-fuzz default (-O, ASan, 1 codegen unit)       8m51s  (7m13s CPU)
#   -O -a --sanitizer none --codegen-units 16            7m26s  (4m42s CPU)
#   same at opt-level 1                                  6m27s  (3m33s CPU)
#   -D (ASan)                                            4m23s  (2m25s CPU)
#   -D --sanitizer none                                  2m42s  (1m52s CPU)
#   -D --sanitizer none, line tables, deps at opt 2      5m54s  (3m16s CPU)
#   -D --sanitizer none, line tables, deps at opt 1      2m52s                 <- used
# Execs/s of the used build (25 s each, seeded): request_decode ~21,800, response_decode
# ~15,400, record_batch_decode ~5,200; with the deps at opt-level 0 they were ~4,000,
# ~1,500 and ~110 (libFuzzer's comparison tracing and gzip/zstd unoptimized), with the
# whole build at -O (opt-level 1) request_decode ran ~35,000. The 25-second smoke run
# gains less from that than it loses in build time; use FUZZ_RELEASE=1 for long runs.
# No sanitizer: the codec is safe Rust (`unsafe_code = "forbid"`), so ASan would find
# nothing the bounds checks do not; panics, overflow checks and debug assertions (on in
# -D) are what we fuzz for. Without ASan, libFuzzer's -malloc_limit_mb cannot see single
# huge allocations (only RSS is limited); tests/hostile_input.rs checks those.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CRATE="$ROOT/kafka-protocol"
FUZZ_DIR="$CRATE/fuzz"
GOLDEN="$CRATE/tests/data/golden-frames"
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
TARGETS=${FUZZ_TARGETS:-"request_decode response_decode record_batch_decode broker_request sasl_exchange fetch_response"}
SERVER_FUZZ="$ROOT/kafka-server-mini/fuzz"
CLIENT_FUZZ="$ROOT/kafka-client/fuzz"
# the crate (cargo-fuzz directory's parent) of each target
crate_of() {
    case "$1" in
    broker_request | sasl_exchange) echo "$ROOT/kafka-server-mini" ;;
    fetch_response) echo "$ROOT/kafka-client" ;;
    *) echo "$CRATE" ;;
    esac
}
TOOLS=${KAFKA_TOOLS_HOME:-$HOME/.cache/kafka-tools}
if [ "${FUZZ_RELEASE:-0}" = 1 ]; then
    BUILD_FLAGS=(-O -a --sanitizer none --codegen-units 16)
else
    BUILD_FLAGS=(-D --sanitizer none)
    export CARGO_PROFILE_DEV_DEBUG=line-tables-only
fi
# One target directory for the three fuzz crates: the dependencies they share (codecs,
# CRCs, libFuzzer) are built once, and the disk holds one copy.
BUILD_FLAGS+=(--target-dir "${FUZZ_TARGET_DIR:-$ROOT/target/fuzz}")

skip() {
    echo "SKIP fuzz: $*"
    exit 0
}

start=$(date +%s)

# --- toolchain -------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || skip "cargo not found"
command -v rustup >/dev/null 2>&1 || skip "rustup not found (cargo-fuzz needs a nightly toolchain)"
rustup run nightly rustc --version >/dev/null 2>&1 \
    || skip "no nightly toolchain (install with: rustup toolchain install nightly)"

export PATH="$TOOLS/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz into $TOOLS"
    mkdir -p "$TOOLS"
    log="$TOOLS/cargo-fuzz-install.log"
    if ! CARGO_INSTALL_ROOT="$TOOLS" cargo install cargo-fuzz --locked >"$log" 2>&1; then
        skip "cargo install cargo-fuzz failed: $(grep -m1 -E '^error' "$log" || tail -n1 "$log")"
    fi
    cargo fuzz --version >/dev/null 2>&1 || skip "cargo-fuzz installed but not runnable"
fi
echo "fuzz: $(cargo fuzz --version), $(rustup run nightly rustc --version)"

# --- seed corpora from the golden frames -------------------------------------------------
# corpus/ and artifacts/ are gitignored; the seeds are rebuilt on every run (the fuzzer's
# own finds from earlier runs are kept).
cd "$CRATE" || exit 1
mkdir -p "$FUZZ_DIR/corpus/request_decode" "$FUZZ_DIR/corpus/response_decode" \
    "$FUZZ_DIR/corpus/record_batch_decode" "$SERVER_FUZZ/corpus/broker_request" \
    "$CLIENT_FUZZ/corpus/fetch_response"

byte() { printf "\\$(printf '%03o' $(($1 & 255)))"; }
seeds=0
for dir in "$GOLDEN"/*/; do
    client=$(basename "$dir")
    for f in "$dir"*.bin; do
        [ -e "$f" ] || continue
        name=$(basename "$f")
        stem=${name%%.*}             # NNNNN-<key>-v<version>
        key=$(echo "$stem" | cut -d- -f2)
        version=$(echo "$stem" | cut -d- -f3 | tr -d v)
        case "$name" in
        *.request.bin)
            cp "$f" "$FUZZ_DIR/corpus/request_decode/golden-$client-$name"
            # broker_request input: the same request frame, through the broker
            cp "$f" "$SERVER_FUZZ/corpus/broker_request/golden-$client-$name"
            ;;
        *.response.bin)
            # response_decode input: api key (2 bytes BE), version (2 bytes BE), frame.
            { byte $((key >> 8)); byte "$key"; byte $((version >> 8)); byte "$version"; cat "$f"; } \
                >"$FUZZ_DIR/corpus/response_decode/golden-$client-$name"
            if [ "$((10#$key))" = 1 ]; then
                # fetch_response input: version (2 bytes BE), fetch offset (8 bytes), frame.
                { byte $((version >> 8)); byte "$version"; printf '\0\0\0\0\0\0\0\0'; cat "$f"; } \
                    >"$CLIENT_FUZZ/corpus/fetch_response/golden-$client-$name"
            fi
            ;;
        esac
        seeds=$((seeds + 1))
    done
done
echo "fuzz: $seeds golden frames copied into the request/response corpora"

# record_batch_decode input: a flags byte (0: CRCs not checked) then records. The records
# are cut out of the golden Produce requests and Fetch responses by scanning for v2 batches
# (magic 2 at byte 16, a sane length and codec) and CRC-checked legacy messages.
if command -v python3 >/dev/null 2>&1; then
    python3 - "$GOLDEN" "$FUZZ_DIR/corpus/record_batch_decode" <<'PY' || echo "fuzz: record seed extraction failed; starting record_batch_decode from scratch"
import glob, hashlib, os, struct, sys, zlib
golden, out = sys.argv[1], sys.argv[2]
found = set()
for path in sorted(glob.glob(os.path.join(golden, "*", "*.bin"))):
    name = os.path.basename(path)
    key = int(name.split(".")[0].split("-")[1])
    request = name.endswith(".request.bin")
    if not ((key == 0 and request) or (key == 1 and not request)):
        continue  # records live in Produce requests and Fetch responses
    data = open(path, "rb").read()
    i, n = 0, len(data)
    while i + 26 <= n:
        magic = data[i + 16]
        (length,) = struct.unpack_from(">i", data, i + 8)
        end = i + 12 + length
        ok = False
        if magic == 2 and 49 <= length and end <= n and i + 61 <= n:
            (count,) = struct.unpack_from(">i", data, i + 57)
            ok = (data[i + 22] & 7) <= 4 and 0 <= count <= length
        elif magic in (0, 1) and 14 <= length and end <= n:
            (crc,) = struct.unpack_from(">I", data, i + 12)
            ok = crc == zlib.crc32(data[i + 16:end]) & 0xffffffff
        if not ok:
            i += 1
            continue
        # Extend over the batches/messages that follow back to back: one `records` field.
        j = end
        while j + 17 <= n:
            (l2,) = struct.unpack_from(">i", data, j + 8)
            if data[j + 16] != magic or l2 < 14 or j + 12 + l2 > n:
                break
            j += 12 + l2
        for chunk in {data[i:end], data[i:j]}:
            found.add(b"\x00" + chunk)
        i = j
for seed in found:
    with open(os.path.join(out, "golden-" + hashlib.sha1(seed).hexdigest()), "wb") as f:
        f.write(seed)
print("fuzz: %d record seeds extracted from golden Produce/Fetch frames" % len(found))
PY
else
    echo "fuzz: python3 not found; record_batch_decode starts without golden seeds"
fi

# --- build -------------------------------------------------------------------------------
for target in $TARGETS; do
    dir=$(crate_of "$target")
    echo "fuzz: building $target in $dir (cargo +nightly fuzz build ${BUILD_FLAGS[*]})"
    build_start=$(date +%s)
    if ! (cd "$dir" && cargo +nightly fuzz build "${BUILD_FLAGS[@]}" "$target"); then
        echo "fuzz: FAILED to build $target"
        exit 1
    fi
    echo "fuzz: build of $target took $(($(date +%s) - build_start)) s"
done

# --- run ---------------------------------------------------------------------------------
failed=()
summary=()
for target in $TARGETS; do
    dir=$(crate_of "$target")
    log="$dir/fuzz/artifacts/$target.log"
    mkdir -p "$dir/fuzz/artifacts/$target"
    echo "fuzz: running $target for ${FUZZ_SECONDS}s"
    (cd "$dir" && cargo +nightly fuzz run "${BUILD_FLAGS[@]}" "$target" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1) >"$log" 2>&1
    rc=$?
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    rate=$(grep -m1 'stat::average_exec_per_sec' "$log" | awk '{print $2}')
    cov=$(grep -E '^#[0-9]+.*(DONE|INITED)' "$log" | tail -n1 | grep -oE 'cov: [0-9]+' || true)
    if [ $rc -ne 0 ]; then
        failed+=("$target")
        echo "fuzz: $target FAILED (exit $rc); last lines of $log:"
        tail -n 40 "$log"
        summary+=("$target: CRASH (see $log and $dir/fuzz/artifacts/$target/)")
    else
        summary+=("$target: ${execs:-?} execs, ${rate:-?} execs/s, ${cov:-cov: ?}")
    fi
done

echo "fuzz: summary (${FUZZ_SECONDS}s per target, total $(($(date +%s) - start)) s)"
for line in "${summary[@]}"; do
    echo "  $line"
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: crashes found in: ${failed[*]}"
    exit 1
fi
echo "fuzz: OK"
