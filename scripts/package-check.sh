#!/usr/bin/env bash
# Packages every publishable crate as `cargo publish` would, in dependency order, and builds
# each package from its tarball alone (no ../shared, no sibling folders):
#   krafty-protocol -> krafty-client, krafty-server -> krafty-cli
# The crates are not on crates.io yet, so `cargo publish --dry-run` of a crate that depends
# on a sibling could not resolve it; `cargo package` with several `-p` (cargo >= 1.90) packs
# them together and verifies each against a local registry overlay holding the siblings'
# tarballs, which is what a publish in this order would see. Then lists each package's files
# to check that nothing large (test data, benches, fuzz corpora) is shipped.
# krafty-codegen is not published (publish = false): its output only compiles inside
# krafty-protocol, whose generated code is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
crates=(krafty-protocol krafty-client krafty-server krafty-cli)
args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done
cargo package --locked "${args[@]}" "$@"
for c in "${crates[@]}"; do
  n=$(cargo package --list --locked -p "$c" "$@" 2>/dev/null | wc -l)
  f=$(ls target/package/"$c"-[0-9]*.crate)
  echo "package-check: $c: $n files, $f ($(stat -c %s "$f") bytes)"
done
echo "package-check: ${#crates[@]} passed, 0 failed"
