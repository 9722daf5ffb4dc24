#!/usr/bin/env bash
# Re-records the Java golden frames: Apache Kafka's own Java producer, consumer and admin client
# (through Kafka's command-line tools) talking to a real Apache Kafka broker, recorded by the
# shared recording proxy, then reduced to a representative set with the shared selector.
#
#   scripts/record-java-golden.sh [RAWDIR]
#
# Writes kafka-protocol/tests/data/golden-frames/java-<variant>/ (same layout as the other
# golden sets: NNNNN-<key>-v<ver>.{request,response}.bin and index.tsv; see README.md there)
# and java-coverage.md next to them. RAWDIR keeps the raw recordings (default: a temp dir).
#
# Needs Java 17+ and Maven (scripts/kafka-dist.sh), python3, and the shared peers folder
# (KAFKA_SHARED, default ../shared next to the repository): peers/capture_proxy.py,
# peers/golden/select_golden.py and kafka-message-specs.
# Env: KAFKA_DIST_HOME (cache of kafka-dist.sh; a private cluster named golden-cap is started
# there and stopped at the end), KAFKA_DIST_VERSION (the broker; default: the specs' 4.0.x
# release), JAVA_GOLDEN_CLIENTS (client versions to record, default "4.0.2 3.9.1": the 4.0.2
# client speaks some versions newer than the specs, e.g. Produce v12 and Metadata v13, which
# the round-trip test only checks to be refused; 3.9.1 stays within them). Folders:
# java-<run> for the first client version, java-<major.minor>-<run> for the others.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${KAFKA_SHARED:-$root/../shared}"
proxy_py="$shared/peers/capture_proxy.py"
select_py="$shared/peers/golden/select_golden.py"
specs="$shared/kafka-message-specs"
for f in "$proxy_py" "$select_py" "$specs"; do
  [ -e "$f" ] || { echo "record-java-golden: $f missing (set KAFKA_SHARED)" >&2; exit 1; }
done
dist="$root/scripts/kafka-dist.sh"
dest="$root/kafka-protocol/tests/data/golden-frames"
raw="${1:-$(mktemp -d /tmp/java-golden-raw-XXXXXX)}"
mkdir -p "$raw"
cluster=golden-cap

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pport=$(free_port)
# The broker advertises the proxy's port so that every connection of the Java clients (the
# bootstrap one and the ones to the broker by its node id) goes through the proxy; a later
# duplicate key in server.properties wins for java.util.Properties.
upstream=$("$dist" start --name "$cluster" -n 1 --set "advertised.listeners=PLAINTEXT://127.0.0.1:$pport")
upstream="${upstream%%,*}"
proxy_pid=""
stop_proxy() {
  if [ -n "$proxy_pid" ]; then kill -TERM "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=""; fi
}
cleanup() { stop_proxy; "$dist" stop --name "$cluster" >/dev/null 2>&1 || true; }
trap cleanup EXIT

wait_port() {
  python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("proxy did not start")
PY
}

# record LABEL: runs the rest of the arguments (a shell function) with the proxy recording
# into RAWDIR/java__LABEL.
record() {
  local label="java__$1"; shift
  rm -rf "${raw:?}/$label"
  python3 "$proxy_py" "$pport" "$upstream" "$raw" "$label" --seconds 600 2>>"$raw/$label.proxy.log" &
  proxy_pid=$!
  wait_port "$pport"
  "$@" >"$raw/$label.log" 2>&1 || { echo "record-java-golden: $label failed:" >&2; tail -20 "$raw/$label.log" >&2; exit 1; }
  stop_proxy
  echo "record-java-golden: $label: $(($(wc -l <"$raw/$label/index.tsv") - 1)) frames" >&2
}

bs="127.0.0.1:$pport"
client_version=""
tool() { "$dist" tool -v "$client_version" "$@"; }
lines() {
  local i
  for i in $(seq 1 "$1"); do printf 'smoke-seq:%s,client:java\tkey-%s:%s:%s\n' "$i" "$((i % 17))" "$2" "$i"; done
}

admin_setup() {
  tool kafka-topics --bootstrap-server "$bs" --create --topic "$topic" --partitions 3 --replication-factor 1
}
produce() {
  lines 200 "$1" | tool kafka-console-producer --bootstrap-server "$bs" --topic "$topic" \
    --compression-codec "$1" --property parse.key=true --property key.separator=: \
    --property parse.headers=true --producer-property linger.ms=5
}
consume() {
  tool kafka-console-consumer --bootstrap-server "$bs" --topic "$topic" --group "$group" \
    --from-beginning --max-messages 1000 --timeout-ms 20000 \
    --property print.key=true --property print.headers=true --property print.partition=true \
    --property print.offset=true
}
admin() {
  tool kafka-topics --bootstrap-server "$bs" --create --topic "${topic}-admin" --partitions 2 --replication-factor 1 --config retention.ms=3600000
  tool kafka-topics --bootstrap-server "$bs" --list
  tool kafka-topics --bootstrap-server "$bs" --describe --topic "${topic}-admin"
  tool kafka-topics --bootstrap-server "$bs" --alter --topic "${topic}-admin" --partitions 4
  tool kafka-configs --bootstrap-server "$bs" --describe --entity-type topics --entity-name "$topic"
  tool kafka-configs --bootstrap-server "$bs" --alter --entity-type topics --entity-name "$topic" --add-config retention.ms=7200000,cleanup.policy=delete
  tool kafka-configs --bootstrap-server "$bs" --describe --entity-type brokers --entity-name 1
  tool kafka-configs --bootstrap-server "$bs" --alter --entity-type brokers --entity-name 1 --add-config log.cleaner.threads=2
  tool kafka-consumer-groups --bootstrap-server "$bs" --list
  tool kafka-consumer-groups --bootstrap-server "$bs" --describe --group "$group"
  tool kafka-consumer-groups --bootstrap-server "$bs" --reset-offsets --group "$group" --topic "$topic" --to-earliest --execute
  tool kafka-get-offsets --bootstrap-server "$bs" --topic "$topic"
  printf '{"partitions":[{"topic":"%s","partition":0,"offset":3}],"version":1}\n' "$topic" >"$raw/delete-records.json"
  tool kafka-delete-records --bootstrap-server "$bs" --offset-json-file "$raw/delete-records.json"
  tool kafka-consumer-groups --bootstrap-server "$bs" --delete --group "$group"
  tool kafka-topics --bootstrap-server "$bs" --delete --topic "${topic}-admin"
}

first=1
for client_version in ${JAVA_GOLDEN_CLIENTS:-4.0.2 3.9.1}; do
  prefix=""
  [ "$first" = 1 ] || prefix="$(echo "$client_version" | cut -d. -f1,2)-"
  first=0
  topic="java-golden-${prefix}t"
  group="java-golden-${prefix}g"
  record "${prefix}setup" admin_setup
  for codec in none gzip snappy lz4 zstd; do record "${prefix}producer-$codec" produce "$codec"; done
  record "${prefix}consumer" consume
  record "${prefix}admin" admin
  # The setup run only creates the topic the others use; the admin run has CreateTopics too.
  rm -rf "${raw:?}/java__${prefix}setup"
done

python3 "$select_py" "$raw" "$dest" "$specs" --per-group "${GOLDEN_PER_GROUP:-3}" --max-mb 4 \
  --table "$dest/java-coverage.md" >/dev/null
echo "record-java-golden: frames in $dest/java-*, coverage in $dest/java-coverage.md, raw in $raw" >&2
