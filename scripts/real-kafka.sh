#!/usr/bin/env bash
# The real Apache Kafka clusters the test suite judges against, shared by every test that
# needs one (started once, before `cargo test`; stopped after):
#
#   scripts/real-kafka.sh up      starts the clusters below, prints NAME=BOOTSTRAP lines and
#                                 the `export REAL_KAFKA_CLUSTERS=...` and
#                                 `export REAL_KAFKA_SECURE=...` lines the tests read
#   scripts/real-kafka.sh down    stops them
#
# Clusters (names are what tests pass to `scripts/kafka-dist.sh bootstrap --name NAME`):
#   k40-1  Apache Kafka 4.0.x (the specs' release), one combined broker+controller node
#   k40-3  the same, 3 nodes (replication factor 3, min.insync.replicas=2)
#   k44-1  the newest 4.x Maven serves, one node
#   k44-3  the same, 3 nodes
#   k44-sec  the newest 4.x, one node with TLS and SASL listeners beside PLAINTEXT
#          (kafka-dist.sh start --security; issue 13); listed in REAL_KAFKA_SECURE, not in
#          REAL_KAFKA_CLUSTERS. k40-sec (4.0.x) is the same and starts only when named in
#          REAL_KAFKA_SET.
# REAL_KAFKA_SET restricts the set (e.g. "k40-1 k44-3").
set -euo pipefail
cd "$(dirname "$0")/.."
dist=scripts/kafka-dist.sh
set_="${REAL_KAFKA_SET:-k40-1 k40-3 k44-1 k44-3 k44-sec}"

# One retry: a node can still lose its port to another process between the pick and its bind.
start_cluster() {
  "$dist" start "$@" || { echo "real-kafka: start $* failed; retrying once" >&2; "$dist" start "$@"; }
}

case "${1:-}" in
  up)
    names=()
    secure=()
    for n in $set_; do
      case "$n" in
        k40-*) v=spec ;;
        k44-*) v=newest ;;
        *) echo "real-kafka: unknown cluster $n" >&2; exit 2 ;;
      esac
      nodes="${n##*-}"
      if [ "$nodes" = sec ]; then
        b=$(start_cluster --name "$n" -v "$v" -n 1 --security)
        echo "$n=$b"
        secure+=("$n")
        continue
      fi
      b=$(start_cluster --name "$n" -v "$v" -n "$nodes")
      echo "$n=$b"
      names+=("$n")
    done
    echo "export REAL_KAFKA_CLUSTERS=$(IFS=,; echo "${names[*]}")"
    echo "export REAL_KAFKA_SECURE=$(IFS=,; echo "${secure[*]+"${secure[*]}"}")"
    ;;
  down)
    for n in $set_; do "$dist" stop --name "$n" || true; done
    ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
