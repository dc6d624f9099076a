#!/usr/bin/env bash
# Benchmark one daphne process on PostgreSQL: fresh bench database, N chargers, the load client.
#
#   bench/run.sh --chargers 5000 --duration 120                  # fleet: 300 s heartbeats, 60 s meter values
#   bench/run.sh --chargers 1000 --rate 1000 --duration 60 --processes 2   # sustained message rate
#
# Every argument goes to bench/load.py; --chargers (default 5000) also sizes the seeding.
# Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/csms_bench; the database
# is dropped and created again), BENCH_PORT (8765), PYTHON (.venv/bin/python), LOG_LEVEL (INFO),
# CSMS_* settings pass through to daphne. Output: the report on stdout, var/bench-*.json, var/bench-daphne.log.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PORT=${BENCH_PORT:-8765}
export DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/csms_bench}
# Production-like: DEBUG off (no query log kept in memory), a throwaway secret, and the Redis channel
# layer of production when BENCH_REDIS_URL is set (else the in-memory layer, whose receive() walks
# every channel: slow past a few thousand sockets).
export DEBUG=false SECRET_KEY=bench-only-not-a-secret LOG_LEVEL=${LOG_LEVEL:-INFO}
export DJANGO_SETTINGS_MODULE=csms.settings
if [[ -n ${BENCH_REDIS_URL:-} ]]; then export REDIS_URL=$BENCH_REDIS_URL; else unset REDIS_URL; fi

chargers=5000
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --chargers) chargers=${args[i + 1]} ;;
    --chargers=*) chargers=${args[i]#*=} ;;
  esac
done

# Each socket is a file descriptor, in daphne and in the client.
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < chargers + 200 )); then
  echo "ulimit -n is $(ulimit -n): too low for $chargers sockets; raise the hard limit" >&2
  exit 1
fi

database=${DATABASE_URL##*/}
admin_url=${DATABASE_URL%/*}/postgres
psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database"
"$PYTHON" manage.py migrate -v0
"$PYTHON" bench/seed.py --chargers "$chargers"

mkdir -p var
"$PYTHON" -m daphne -b 127.0.0.1 -p "$PORT" --websocket_timeout -1 csms.asgi:application \
  > var/bench-daphne.log 2>&1 &
daphne=$!
trap 'kill "$daphne" 2>/dev/null || true; wait "$daphne" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$daphne" || { cat var/bench-daphne.log; exit 1; }
  sleep 0.1
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
"$PYTHON" bench/load.py --url "ws://127.0.0.1:$PORT/ocpp" --server-pid "$daphne" \
  --json "var/bench-$stamp.json" "$@"
echo "daphne peak RSS (VmHWM): $(grep VmHWM "/proc/$daphne/status" | awk '{print $2/1024 " MiB"}')"
psql "$DATABASE_URL" -qXAt -c "SELECT 'rows: ' || (SELECT count(*) FROM stations_frame) || ' frames, '
  || (SELECT count(*) FROM stations_metersample) || ' meter samples, '
  || (SELECT count(*) FROM stations_chargingsession) || ' sessions, '
  || (SELECT count(*) FROM stations_statuschange) || ' status changes'"
