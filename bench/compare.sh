#!/usr/bin/env bash
# Two builds of tessera side by side in one run, for "no slower than before" checks: every
# scenario runs for build A, then B, then A and B again (the flash sale on PostgreSQL once each:
# it takes minutes), so drift on a shared machine shows up as spread between a build's own runs.
#   bash bench/compare.sh A_TESSERA B_TESSERA [OUT_DIR]
# A_TESSERA/B_TESSERA are release `tessera` binaries (build the old one from a worktree with its
# own CARGO_TARGET_DIR). With TESSERA_BENCH_DATABASE_URL set, PostgreSQL scenarios run too.
# Each run writes its tables under OUT_DIR/<scenario>-<build><round>/; the last step prints them.
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(realpath "$1")
b=$(realpath "$2")
out=${3:-$(mktemp -d /tmp/tessera-compare.XXXX)}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
# The same package set as run.sh, so the features (and the cached artifacts) are the same.
cargo build --release -p tessera -p tessera-bench
bench="$CARGO_TARGET_DIR/release/tessera-bench"
pg=${TESSERA_BENCH_DATABASE_URL:-}

run() { # scenario build round args...
  local scenario=$1 name=$2 round=$3 bin
  shift 3
  [ "$name" = A ] && bin=$a || bin=$b
  mkdir -p "$out/$scenario-$name$round"
  echo "== $scenario, build $name, round $round"
  "$bench" "$scenario" --tessera "$bin" --out "$out/$scenario-$name$round" "$@" >"$out/$scenario-$name$round/log" 2>&1
}

unset TESSERA_BENCH_DATABASE_URL
for round in 1 2; do
  for name in A B; do
    if [ -n "$pg" ]; then run run "$name" "$round" --postgres "$pg"; else run run "$name" "$round"; fi
    if [ -n "$pg" ]; then run checkin "$name" "$round" --postgres "$pg"; else run checkin "$name" "$round"; fi
    run flash "$name" "$round"
  done
done
if [ -n "$pg" ]; then
  for name in A B; do run flash "$name" pg --no-sqlite --postgres "$pg"; done
fi
for f in "$out"/*/*-latest.md; do
  echo "## $(basename "$(dirname "$f")")"
  grep '^|' "$f" | grep -v -- '---' | head -12
done | tee "$out/summary.md"
echo "compare: tables in $out"
