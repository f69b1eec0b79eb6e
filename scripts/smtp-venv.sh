#!/usr/bin/env bash
# Makes .venv-smtp with aiosmtpd (PyPI): the real SMTP server the e-mail tests talk to. Safe to
# run from many test processes at once (flock) and a no-op once the venv works. Prints the
# venv's python.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-smtp"
exec 9>"${TMPDIR:-/tmp}/tessera-smtp-venv.lock"
flock 9
if ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check 'aiosmtpd>=1.4,<2' >&2
fi
echo "$venv/bin/python"
