#!/usr/bin/env bash
# Schemathesis against the live OpenAPI schema: a fresh PostgreSQL database with a
# small simulated fleet, gunicorn on a loopback port, then generated requests to
# every operation (no 5xx, every response as the schema says). Called by .ci/run
# after the test suite; it can also run alone on a machine with PostgreSQL.
#
# Environment: DATABASE_URL (its server is used, never its database),
# SCHEMATHESIS_DB (default inferscope_schemathesis), SCHEMATHESIS_EXAMPLES (per
# operation, default 25), SCHEMATHESIS_MAX_TIME (seconds for the people's pass,
# default 180; the agents' pass, four operations, gets half).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

log() { printf '\n=== %s\n' "$*"; }

ROOT=$PWD
BIN=.venv/bin
# From the lock (requirements/dev.txt), never an unpinned install here.
[ -x "$BIN/schemathesis" ] || { echo "no $BIN/schemathesis: run make .venv/.installed-dev"; exit 1; }

SERVER=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
SERVER=${SERVER%/*}
DB=${SCHEMATHESIS_DB:-inferscope_schemathesis}
case "$DB" in test | postgres | template*) echo "refusing database name $DB"; exit 2 ;; esac
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-25}
MAX_TIME=${SCHEMATHESIS_MAX_TIME:-180}

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 40); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    fi
    psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

log "schemathesis: database $DB"
psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)"
psql -q "$SERVER/postgres" -c "CREATE DATABASE \"$DB\""
export DATABASE_URL="$SERVER/$DB"
# Its own data dir (secret key, embedded broker): nothing shared with the tests.
export INFERSCOPE_DATA_DIR="$WORK/data"
export CELERY_BROKER_URL=filesystem:// CACHE_URL=""
# Thousands of requests from one token: the rate limit is tested elsewhere.
export API_TOKEN_RATE=100000/min
"$BIN/python" manage.py migrate -v 0
"$BIN/python" .ci/schemathesis_seed.py
"$BIN/python" manage.py runjobs rollup_pending recompute_recommendations
DJANGO_SUPERUSER_PASSWORD=$("$BIN/python" -c 'import secrets; print(secrets.token_hex(16))') \
    "$BIN/python" manage.py createsuperuser --noinput --username fuzz --email fuzz@example.org
TOKEN=$("$BIN/python" manage.py create_api_token fuzz --scope write --name schemathesis 2>/dev/null)
AGENT_TOKEN=$("$BIN/python" manage.py create_agent fuzz-agent | tail -n 1)

PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
log "schemathesis: server on $BASE"
setsid "$BIN/gunicorn" inferscope.wsgi:application --bind "127.0.0.1:$PORT" --workers 4 \
    --timeout 60 --access-logfile - > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
ok=""
for _ in $(seq 60); do
    curl -fsS "$BASE/healthz" > /dev/null 2>&1 && { ok=1; break; }
    sleep 0.5
done
[ -n "$ok" ] || { echo "the server did not answer /healthz"; tail -n 50 "$WORK/server.log"; exit 1; }

# One pass as a person (a write token, superuser: every operation is allowed), one
# as an agent over the agent operations, which refuse personal tokens; the schema
# itself needs a person, so the agent pass reads it from a file.
AGENT_PATHS='^/api/v1/(ingest|profiling/agent/.*|profiling/runs)$'
curl -fsS -H "Authorization: Bearer $TOKEN" -H "Accept: application/json" \
    "$BASE/api/schema/" > "$WORK/schema.json"
status=0
total=0
run_pass() {
    local name=$1 token=$2 seconds=$3
    shift 3
    log "schemathesis: $name"
    # From $WORK: schemathesis keeps a crash cache in the working directory.
    # One worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis
    # calls it while describing strategies.
    (cd "$WORK" && "$ROOT/$BIN/schemathesis" run "$@" \
        -H "Authorization: Bearer $token" \
        --checks not_a_server_error,response_schema_conformance \
        --max-examples "$EXAMPLES" --max-time "$seconds" --request-timeout 30 \
        --workers 1 --seed 10 --no-color --generation-database none) \
        2>&1 | tee "$WORK/$name.log" || status=1
    local cases
    cases=$(grep -oE '^ *[0-9]+ generated' "$WORK/$name.log" | grep -oE '[0-9]+' | tail -n 1)
    total=$((total + ${cases:-0}))
}
run_pass people "$TOKEN" "$MAX_TIME" "$BASE/api/schema/" --exclude-path-regex "$AGENT_PATHS"
run_pass agents "$AGENT_TOKEN" $((MAX_TIME / 2)) "$WORK/schema.json" --url "$BASE" \
    --include-path-regex "$AGENT_PATHS"

requests=$(grep -c '" [0-9][0-9][0-9] ' "$WORK/server.log" || true)
server_errors=$(grep -cE '" 5[0-9][0-9] ' "$WORK/server.log" || true)
echo "schemathesis total: $total test cases generated, $requests requests served, $server_errors answered 5xx"
if [ "$total" -lt 500 ]; then echo "fewer than 500 generated test cases"; status=1; fi
if [ "$status" -ne 0 ]; then
    grep -E '" 5[0-9][0-9] ' "$WORK/server.log" | head -n 20 || true
    grep -E "Traceback|ERROR" -A 15 "$WORK/server.log" | head -n 80 || true
fi
exit "$status"
