#!/usr/bin/env bash
# cargo-deny over the whole dependency tree (config: deny.toml), without network access for the
# checks themselves:
#   - licences, bans and sources: always; any error fails the script.
#   - advisories: against a local clone of the RustSec advisory database at $TESSERA_ADVISORY_DB
#     (default $HOME/.cache/tessera-advisory-db) when there is one; otherwise the script says it
#     skipped them and how to get the database, and that alone does not fail it. These machines
#     cannot reach GitHub, where the database lives, so the clone is made and refreshed on a
#     machine that can (and copied over):
#       git clone https://github.com/rustsec/advisory-db "$HOME/.cache/tessera-advisory-db"
#       git -C "$HOME/.cache/tessera-advisory-db" pull
# Installs the pinned cargo-deny with `cargo install --locked` if it is missing (4-6 minutes on
# 2 cores, from crates.io). Needs cargo and jq. Exits non-zero if any check that ran failed.
# Duplicate-version warnings are printed without their inclusion graphs; for those, run
# `cargo deny check bans`.
set -euo pipefail
# A relative TESSERA_ADVISORY_DB is taken from the directory the script was started in.
db="${TESSERA_ADVISORY_DB:-$HOME/.cache/tessera-advisory-db}"
case "$db" in /*) ;; *) db="$PWD/$db" ;; esac
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
# Where cargo-deny 0.20 looks for the default database (https://github.com/RustSec/advisory-db)
# under its db-path: the URL's last segment and a hash of the URL.
DENY_DB_DIRNAME=advisory-db-3157b0e258782691
# The advisory database counts as old (a warning, not an error) after this many days.
STALE_DAYS=90

say() { echo "deny.sh: $*"; }

# --- cargo-deny itself --------------------------------------------------------------------------
installed=$(cargo deny --version 2>/dev/null | awk '{print $2}' || true)
if [ "$installed" != "$DENY_VERSION" ]; then
  if [ -z "$installed" ]; then
    say "cargo-deny is not installed; installing cargo-deny $DENY_VERSION with cargo install --locked (takes several minutes)"
  else
    say "cargo-deny $installed is installed, this project pins $DENY_VERSION; installing $DENY_VERSION with cargo install --locked (takes several minutes)"
  fi
  build_dir="${TMPDIR:-/tmp}/tessera-cargo-deny-build"
  CARGO_TARGET_DIR="$build_dir" cargo install --locked --quiet "cargo-deny@$DENY_VERSION" </dev/null
  rm -rf "$build_dir"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- the crate graph ----------------------------------------------------------------------------
# `cargo metadata` (not offline) downloads from crates.io any crate of Cargo.lock that is not in
# cargo's cache yet (other platforms' crates, say), which `cargo deny --offline` could not; once
# they are cached it does not touch the network.
#
# cargo-deny's `allow-wildcard-paths` lets a crate depend on a workspace path crate with no
# version only if the crate is unpublished (`publish = false`). Tessera's crates are not
# published, but their manifests do not say so yet, so here they are marked unpublished in the
# metadata handed to cargo-deny (a no-op once the manifests say `publish = false`). A wildcard
# version on a crates.io dependency is still an error.
cargo metadata --format-version 1 --all-features </dev/null \
  | jq -c '.workspace_members as $ws
           | .packages |= map(if (.id as $id | $ws | index($id)) and .publish == null
                              then .publish = [] else . end)' >"$tmp/metadata.json"

deny() {
  cargo deny --offline --metadata-path "$tmp/metadata.json" "$@" </dev/null
}

status=0
say "cargo-deny $DENY_VERSION: checking licences, bans and sources"
deny check --hide-inclusion-graph licenses bans sources || status=1

# --- advisories ---------------------------------------------------------------------------------
refresh_help() {
  say "  the project's machines cannot reach GitHub; on a machine that can, make the clone with"
  say "    git clone https://github.com/rustsec/advisory-db \"$db\""
  say "  or refresh an existing one with"
  say "    git -C \"$db\" pull"
  say "  and copy the directory here (TESSERA_ADVISORY_DB names another location)"
}
if [ ! -e "$db" ]; then
  say "advisories SKIPPED: no RustSec advisory database at $db (TESSERA_ADVISORY_DB)"
  refresh_help
elif [ ! -d "$db/crates" ] \
  || [ "$(git -C "$db" rev-parse --show-toplevel 2>/dev/null)" != "$(cd "$db" && pwd -P)" ] \
  || ! newest=$(git -C "$db" log -1 --format=%ct 2>/dev/null); then
  say "advisories SKIPPED: $db is not a git clone of the RustSec advisory database (or git cannot read it)"
  refresh_help
else
  db=$(cd "$db" && pwd -P)
  # deny.toml reads the database from $CARGO_HOME/advisory-dbs$TESSERA_DENY_DB_SUBDIR/$DENY_DB_DIRNAME.
  root="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/tessera-offline"
  mkdir -p "$root"
  ln -sfn "$db" "$root/$DENY_DB_DIRNAME"
  age_days=$(( ($(date +%s) - newest) / 86400 ))
  say "cargo-deny $DENY_VERSION: checking advisories against $db (newest advisory commit $(date -u -d "@$newest" +%F), $age_days days old)"
  if [ "$age_days" -gt "$STALE_DAYS" ]; then
    say "WARNING: the advisory database is more than $STALE_DAYS days old; advisories published since are not checked"
    refresh_help
  fi
  TESSERA_DENY_DB_SUBDIR=/tessera-offline deny check --hide-inclusion-graph advisories || status=1
fi

if [ "$status" -ne 0 ]; then
  say "FAILED (see the errors above; deny.toml is the configuration)"
fi
exit "$status"
