#!/usr/bin/env bash
# Start a server, run `kycguard bench load` against it, stop it. Used for the README's load table.
#   scripts/bench-load.sh LABEL WORKERS [DATABASE_URL REDIS_URL] -- [bench load options]
# e.g. scripts/bench-load.sh sqlite_1w 1 -- --sessions 20 --duration 60
#      scripts/bench-load.sh pg_redis_2w 2 postgresql+psycopg://postgres@127.0.0.1/kyc_bench redis://127.0.0.1:6379/0 -- --sessions 20
set -euo pipefail
label=$1 workers=$2; shift 2
db="" redis=""
if [ "${1:-}" != "--" ]; then db=$1 redis=$2; shift 2; fi
[ "${1:-}" = "--" ] && shift
DATA=${DATA:-../shared/data}
OUT=${BENCH_OUT:-bench-results}/load
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export KYCGUARD_DATA_DIR=$dir KYCGUARD_PORT=$port KYCGUARD_SECURITY__PURGE_INTERVAL_S=0
# a benchmark drives thousands of requests from one address and key
export KYCGUARD_SECURITY__RATE_LIMITS__PER_ADDRESS=100000000 KYCGUARD_SECURITY__RATE_LIMITS__PER_KEY=100000000
# a shared database needs data keys given, the same for every worker (a benchmark makes its own)
[ -n "$db" ] && export KYCGUARD_DATABASE_URL=$db KYCGUARD_REDIS_URL=$redis \
  KYCGUARD_DATA_KEYS=${KYCGUARD_DATA_KEYS:-k1:$(openssl rand -base64 32)}
KG=".venv/bin/python -m kycguard.cli"
$KG db upgrade
key=$($KG keys create --role integrator --name bench --tenant bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
$KG serve --workers "$workers" >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server; wait $server || true; rm -rf "$dir"' EXIT
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 2; done
$KG bench load --url "http://127.0.0.1:$port" --key "$key" --label "$label" --out "$OUT" \
  --video "$DATA/faces/face_recognition_examples/video/short_hamilton_clip.mp4" \
  --id-image "$DATA/documents/mrz_specimens/images/passport_uk.jpg" \
  --selfie "$DATA/faces/face_recognition_examples/by_identity/barack_obama/obama.jpg" "$@"
