#!/usr/bin/env bash
# Holds the OpenAPI document to what the server does: schemathesis (PyPI, installed into
# .venv-schemathesis on first use) generates requests from /openapi.json and runs them against a
# real server (debug build, a fresh SQLite database with the demo catalogue) as an admin and as
# an attendee, for ST_SECONDS each (default 90).
#
# Any failure fails the script: server errors, undocumented status codes, content types,
# response headers and response bodies that do not match the document, and schema-valid
# requests the server refuses (positive_data_acceptance) other than the refusals no schema can
# state, which scripts/schemathesis_hooks.py lists one by one.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
seconds="${ST_SECONDS:-90}"
venv="$root/.venv-schemathesis"
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
  echo "schemathesis.sh: installing schemathesis from PyPI into .venv-schemathesis"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'schemathesis>=4.3,<5'
fi
cargo build -q -p tessera
bin="$CARGO_TARGET_DIR/debug/tessera"
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DATABASE_URL="sqlite://$dir/st.db" TESSERA_LOG=warn TESSERA_MAIL_OUTBOX="$dir/outbox"
# The fuzzer signs in far more often than a person: limits that would refuse it are raised.
# An idle keep-alive connection the server closes just as the client reuses it is a client-side
# error to schemathesis: keep them open for the run.
export TESSERA_LOGIN_LIMIT_PER_EMAIL=1000000 TESSERA_LOGIN_LIMIT_PER_IP=1000000 TESSERA_SHED_MAX_LAG_MS=0
export TESSERA_CHAT_MESSAGES_PER_SECOND=1000000 TESSERA_FILES_DIR="$dir/files"
export TESSERA_HEADER_READ_TIMEOUT_SECS=300
"$bin" migrate >/dev/null
"$bin" admin create --email admin@st.test --password admin-password-1 >/dev/null
"$bin" serve --listen "127.0.0.1:$port" --demo >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.2; done
token() {
  curl -sf -X POST "$base/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'
}
curl -sf -X POST "$base/auth/register" -H 'content-type: application/json' \
  -d '{"name":"Fuzzy","email":"attendee@st.test","password":"attendee-password-1"}' >/dev/null
admin=$(token admin@st.test admin-password-1)
attendee=$(token attendee@st.test attendee-password-1)
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,positive_data_acceptance
export PYTHONPATH="$root/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks
status=0
for who in admin attendee; do
  tok=$admin; [ "$who" = attendee ] && tok=$attendee
  echo "schemathesis.sh: $seconds s as $who (checks: $checks)"
  "$venv/bin/st" run "$base/openapi.json" -H "Authorization: Bearer $tok" --checks "$checks" \
    --max-time "$seconds" --workers 1 --seed "${ST_SEED:-1}" --no-color </dev/null >"$dir/st-$who.log" 2>&1 || status=1
  sed -n '/SUMMARY/,$p' "$dir/st-$who.log"
  if [ "$status" -ne 0 ]; then sed -n "/FAILURES\|ERRORS/,/SUMMARY/p" "$dir/st-$who.log" | head -300 || true; fi
done
if grep -q '"level":"ERROR"' "$dir/server.log"; then
  echo "schemathesis.sh: the server logged errors:"; grep '"level":"ERROR"' "$dir/server.log" | head -20
  status=1
fi
exit "$status"
