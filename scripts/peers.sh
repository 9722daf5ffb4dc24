#!/usr/bin/env bash
# Installs and checks every third-party peer the interop tests use, and builds the Go peers.
# Called by scripts/test.sh; runnable alone.
#
#   scripts/peers.sh            install (../shared/peers/install.sh), then check each peer
#
# Peers: Tansu, kcat, rdkafka_performance, confluent-kafka and kafka-python (the peers' venv),
# kafkajs, sarama_smoke (Debian's sarama), the Go peers (franz-go and IBM/sarama from
# tests/go-peers, built with `go build` into ${KRAFTY_GO_PEERS_HOME:-~/.cache/krafty-go-peers}),
# and Java + Maven with Apache Kafka's jars for real Kafka (scripts/kafka-dist.sh fetch, both
# pinned versions). Prints one `ok`/`MISSING` line per peer with its reason.
#
# With CI=true (anything but false/0/empty) a peer that cannot be installed, built or run
# FAILS (exit 1, every reason listed): CI never passes by skipping. Outside CI the script
# exits 0 and the tests that need a missing peer print SKIP with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="${KAFKA_SHARED:-$root/../shared}"
peers_home="${KAFKA_PEERS_HOME:-$HOME/.cache/kafka-peers}"
go_home="${KRAFTY_GO_PEERS_HOME:-$HOME/.cache/krafty-go-peers}"
case "${CI:-}" in ""|0|false|FALSE) ci=0;; *) ci=1;; esac

missing=()
ok() { printf '  %-22s ok: %s\n' "$1" "$2"; }
miss() { printf '  %-22s MISSING: %s\n' "$1" "$2"; missing+=("$1: $2"); }

if [ -f "$shared/peers/install.sh" ]; then
  bash "$shared/peers/install.sh" || echo "peers: $shared/peers/install.sh failed (checking each peer below)"
  # shellcheck source=/dev/null
  source "$shared/peers/env.sh" >/dev/null 2>&1
else
  miss "peers kit" "$shared/peers/install.sh not found (set KAFKA_SHARED)"
fi

echo "peers:"
if out=$("$peers_home/bin/tansu" --version 2>&1); then ok tansu "$out"; else miss tansu "$peers_home/bin/tansu does not run: ${out:-not installed}"; fi
if out=$("$peers_home/bin/kcat" -V 2>&1 | head -1) && [ -n "$out" ] && [ -x "$peers_home/bin/kcat" ]; then ok kcat "$out"; else miss kcat "$peers_home/bin/kcat not installed"; fi
if [ -x "$peers_home/bin/rdkafka_performance" ] && { "$peers_home/bin/rdkafka_performance" 2>&1 || true; } | grep -q Usage; then
  ok rdkafka_performance "$peers_home/bin/rdkafka_performance"
else
  miss rdkafka_performance "$peers_home/bin/rdkafka_performance not installed or does not run"
fi
py="$peers_home/venv/bin/python"
for m in confluent_kafka:confluent-kafka kafka:kafka-python; do
  if out=$("$py" -c "import ${m%%:*} as m; print(getattr(m, '__version__', ''))" 2>&1); then ok "${m#*:}" "$out"; else miss "${m#*:}" "cannot import ${m%%:*} with $py: $(echo "$out" | tail -1)"; fi
done
if out=$(NODE_PATH="$peers_home/node/node_modules" node -e "console.log(require('kafkajs/package.json').version)" 2>&1); then ok kafkajs "$out"; else miss kafkajs "node cannot load kafkajs from $peers_home/node/node_modules: $(echo "$out" | tail -1)"; fi
if [ -x "$peers_home/bin/sarama_smoke" ]; then ok sarama_smoke "$peers_home/bin/sarama_smoke"; else miss sarama_smoke "$peers_home/bin/sarama_smoke not built"; fi

# Go peers: pinned go.mod/go.sum in tests/go-peers, modules from the Go module proxy
if command -v go >/dev/null; then
  mkdir -p "$go_home"
  for p in franz sarama; do
    t0=$(date +%s%N)
    if out=$(cd "tests/go-peers/$p" && go build -mod=readonly -o "$go_home/$p-smoke" . 2>&1); then
      ok "go peer $p" "$go_home/$p-smoke (go build $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
    else
      miss "go peer $p" "go build failed: $(echo "$out" | tail -3 | tr '\n' ' ')"
    fi
  done
else
  miss "go peers" "go not found (install Go 1.24+)"
fi

# Java + Maven: Apache Kafka's published jars for real Kafka and Kafka's tools
versions=$(bash scripts/kafka-dist.sh versions 2>/dev/null | sed -n 's/.*spec=\([^ ]*\) newest=\([^ ]*\).*/\1 \2/p')
for v in ${versions:-4.0.2 4.4.0}; do
  if out=$(bash scripts/kafka-dist.sh fetch -v "$v" 2>&1); then
    ok "kafka $v jars" "$(echo "$out" | tail -1)"
  else
    miss "kafka $v jars" "scripts/kafka-dist.sh fetch -v $v failed: $(echo "$out" | tail -2 | tr '\n' ' ')"
  fi
done
if out=$(java -version 2>&1 | head -1); then ok java "$out"; else miss java "java not found (a JDK 17+)"; fi

if ((${#missing[@]})); then
  if ((ci)); then
    echo "FAIL peers (CI=true: CI never passes by skipping):" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
  fi
  echo "SKIP peers: ${#missing[@]} missing; the tests that need them print SKIP (with CI=true they fail):"
  printf '  %s\n' "${missing[@]}"
fi
exit 0
