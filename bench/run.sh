#!/usr/bin/env bash
# Runs a benchmark scenario on release binaries. Results go to bench/results/.
#   bash bench/run.sh [--duration SECS] [--connections N]   catalogue reads, as ratios to a bare
#       hyper baseline (SQLite with demo data; PostgreSQL too when TESSERA_BENCH_DATABASE_URL is set)
#   bash bench/run.sh flash [--buyers N] [--seats N] ...    the flash sale through the waiting room
#       (SQLite; PostgreSQL too when TESSERA_BENCH_DATABASE_URL is set)
#   bash bench/run.sh checkin [--tickets N] [--connections N]   door scans of N valid tickets, then
#       every code again (refused), as ratios to the hyper baseline
#   bash bench/run.sh overload [--connections N] [--factor 10]   catalogue reads at N clients, then
#       at N×factor with load shedding on and off
#   bash bench/run.sh chat [--chats 50 --members 20 --senders 16 --idle 10000]   WebSocket delivery:
#       messages/s accepted and delivered, p99 send-to-delivery, and RSS with idle connections
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
cargo build --release -p tessera -p tessera-bench
scenario=run
if [ "${1:-}" = flash ] || [ "${1:-}" = checkin ] || [ "${1:-}" = overload ] || [ "${1:-}" = chat ]; then
  scenario=$1
  shift
fi
# The chat scenario opens over 10,000 connections (both ends in this process and the server).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec "$CARGO_TARGET_DIR/release/tessera-bench" "$scenario" --tessera "$CARGO_TARGET_DIR/release/tessera" "$@"
