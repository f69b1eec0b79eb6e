#!/usr/bin/env bash
# Makes .venv-moto with moto's server (PyPI): the local AWS emulator the S3 tests talk to. Safe to
# run from many test processes at once (flock) and a no-op once the venv works. Prints the path of
# the moto_server program.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-moto"
exec 9>"${TMPDIR:-/tmp}/tessera-moto-venv.lock"
flock 9
if ! "$venv/bin/python" -c 'import moto.server' >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5,<6' >&2
fi
echo "$venv/bin/moto_server"
