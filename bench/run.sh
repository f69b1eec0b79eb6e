#!/usr/bin/env bash
# Runs the catalogue benchmark: builds release binaries, starts a bare hyper baseline and Tessera
# (SQLite with demo data; PostgreSQL too when TESSERA_BENCH_DATABASE_URL is set), loads each in
# turn and prints throughput and p99 as ratios to the baseline. Results go to bench/results/.
# Usage: bash bench/run.sh [--duration SECS] [--connections N]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
cargo build --release -p tessera -p tessera-bench
"$CARGO_TARGET_DIR/release/tessera-bench" run --tessera "$CARGO_TARGET_DIR/release/tessera" "$@"
