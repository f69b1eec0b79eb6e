#!/usr/bin/env bash
# Runs a benchmark scenario on release binaries. Results go to bench/results/.
#   bash bench/run.sh [--duration SECS] [--connections N]   catalogue reads, as ratios to a bare
#       hyper baseline (SQLite with demo data; PostgreSQL too when TESSERA_BENCH_DATABASE_URL is set)
#   bash bench/run.sh flash [--buyers N] [--seats N] ...    the flash sale through the waiting room
#       (SQLite; PostgreSQL too when TESSERA_BENCH_DATABASE_URL is set)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
cargo build --release -p tessera -p tessera-bench
scenario=run
if [ "${1:-}" = flash ]; then
  scenario=flash
  shift
fi
exec "$CARGO_TARGET_DIR/release/tessera-bench" "$scenario" --tessera "$CARGO_TARGET_DIR/release/tessera" "$@"
