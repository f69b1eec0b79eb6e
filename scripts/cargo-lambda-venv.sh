#!/usr/bin/env bash
# Makes .venv-cargo-lambda with cargo-lambda (PyPI): the local Lambda runtime emulator the Lambda
# test runs the binary under. Safe to run from many test processes at once (flock) and a no-op
# once the venv works. Prints the path of the cargo-lambda program.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-cargo-lambda"
exec 9>"${TMPDIR:-/tmp}/tessera-cargo-lambda-venv.lock"
flock 9
if ! "$venv/bin/cargo-lambda" lambda --help >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check 'cargo-lambda>=1,<2' >&2
fi
echo "$venv/bin/cargo-lambda"
