#!/usr/bin/env bash
# Instructions per codec operation, ours against the `kafka-protocol` crate, counted by
# valgrind's callgrind: counts are the same run after run whatever else the machine does,
# where times on a shared 2-core VM move by ±30 % (BENCHMARKS.md, "Instruction counts").
#
#   usage: scripts/bench-instructions.sh [OPERATION...]   (default: every operation)
#   env:   LOW (1) HIGH (5): the two iteration counts; per operation = difference of the
#          two totals / (HIGH - LOW), so preparing the inputs cancels out.
#
# Prints one line per operation: ours, kafka-protocol, ratio (their instructions / ours:
# above 1 we execute fewer). The operations are kafka-protocol/benches/instructions.rs's
# (the same workloads as the criterion bench, kafka-protocol/benches/workload/).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed (apt install valgrind)"; exit 77; }
low="${LOW:-1}"; high="${HIGH:-5}"
[ "$high" -gt "$low" ] || { echo "HIGH must be above LOW" >&2; exit 2; }
bin=$(cargo bench -q -p krafty-protocol --bench instructions --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="instructions" and m.get("executable"): print(m["executable"])' | tail -1)
[ -n "$bin" ] || { echo "could not build the instructions bench" >&2; exit 1; }
ops=("$@"); [ ${#ops[@]} -gt 0 ] || mapfile -t ops < <("$bin" list)
count() { # OPERATION SIDE N -> total instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 \
    | sed -nE 's/^==[0-9]+== Collected : ([0-9]+)$/\1/p'
}
per_op() { # OPERATION SIDE -> instructions per operation
  local a b; a=$(count "$1" "$2" "$low"); b=$(count "$1" "$2" "$high")
  [ -n "$a" ] && [ -n "$b" ] || { echo "callgrind gave no count for $1 $2" >&2; exit 1; }
  echo $(( (b - a) / (high - low) ))
}
printf '%-28s %14s %16s %7s\n' operation ours kafka-protocol ratio
for op in "${ops[@]}"; do
  o=$(per_op "$op" ours); t=$(per_op "$op" kafka-protocol)
  printf '%-28s %14d %16d %6.2fx\n' "$op" "$o" "$t" "$(python3 -c "print($t/$o)")"
done
