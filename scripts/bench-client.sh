#!/usr/bin/env bash
# kafka-client against librdkafka's rdkafka_performance, side by side on one release-built
# kafka-server-mini: produce MSGS x SIZE B to a 1-partition topic (acks=all, linger.ms=20,
# batch.size 1,000,000 like librdkafka's default), then consume them. RUNS runs each, a fresh
# topic per run; prints the median records/s of each and the ratio ours/theirs.
#   usage: scripts/bench-client.sh        env: MSGS (1000000) SIZE (100) RUNS (3)
# Needs the peers (../shared/peers/install.sh). Builds into $CARGO_TARGET_DIR (default
# target/). Our consumer is measured in its fetch phase (kafka-consumer-perf-test's
# fetch.nMsg.sec: after the group assigned partitions), since joining a group waits for the
# broker's group.initial.rebalance.delay.ms (3 s, Kafka's default), which librdkafka's
# partition-assigned consumer does not.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/../shared/peers/env.sh"
command -v rdkafka_performance >/dev/null || { echo "SKIP: rdkafka_performance not installed"; exit 77; }
msgs="${MSGS:-1000000}"; size="${SIZE:-100}"; runs="${RUNS:-3}"
target="${CARGO_TARGET_DIR:-$here/target}"
(cd "$here" && cargo build -q --release -p krafty-server -p krafty-cli)
cli="$target/release/kafka-cli"
data="$(mktemp -d)"; out="$data/broker.out"
"$target/release/kafka-server-mini" --listen 127.0.0.1:0 --data-dir "$data/log" --log-level warn >"$out" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$out" && break; sleep 0.1; done
b="$(sed -n 's/^listening on //p' "$out")"
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
rd_p=(); rd_c=(); our_p=(); our_c=()
for r in $(seq "$runs"); do
  "$cli" topics create -b "$b" --topic "rd-$r" --partitions 1 >/dev/null
  "$cli" topics create -b "$b" --topic "our-$r" --partitions 1 >/dev/null
  rd_p+=("$(rdkafka_performance -P -t "rd-$r" -p 0 -s "$size" -c "$msgs" -a -1 -b "$b" \
    -X broker.address.family=v4 -X linger.ms=20 -X queue.buffering.max.messages=2000000 2>&1 \
    | sed -nE 's/^% [0-9]+ messages produced.* ([0-9]+) msgs\/s.*/\1/p' | tail -1)")
  our_p+=("$("$cli" perf producer -b "$b" --topic "our-$r" --num-records "$msgs" --record-size "$size" \
    -X acks=all -X linger.ms=20 -X batch.size=1000000 | sed -nE 's/^[0-9]+ records sent, ([0-9.]+) records\/sec.*/\1/p')")
  rd_c+=("$(rdkafka_performance -C -t "rd-$r" -p 0 -o beginning -c "$msgs" -e -b "$b" \
    -X broker.address.family=v4 2>&1 | sed -nE 's/^% [0-9]+ messages .*consumed.* ([0-9]+) msgs\/s.*/\1/p' | tail -1)")
  our_c+=("$("$cli" perf consumer -b "$b" --topic "our-$r" --messages "$msgs" | tail -1 | awk -F', ' '{print $10}')")
done
report() {
  local name=$1 ours theirs; shift
  ours="$(printf '%s\n' "${@:1:$runs}" | median)"; theirs="$(printf '%s\n' "${@:$((runs+1))}" | median)"
  printf '%-9s ours=%.0f rdkafka=%.0f ratio=%.2f samples_ours=%s samples_rdkafka=%s\n' "$name" "$ours" "$theirs" \
    "$(echo "$ours $theirs" | awk '{print $1/$2}')" "$(IFS=,; echo "${*:1:$runs}")" "$(IFS=,; echo "${*:$((runs+1))}")"
}
echo "records/s, $msgs x $size B, 1 partition, kafka-server-mini $(cd "$here" && git rev-parse --short HEAD)"
report produce "${our_p[@]}" "${rd_p[@]}"
report consume "${our_c[@]}" "${rd_c[@]}"
