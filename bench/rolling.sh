#!/usr/bin/env bash
# rolling.sh — a rolling restart of the edge fleet under load, counting
# failed requests (target: zero).
#
# Starts EDGES bin/caddy edges sharing caddy.storage.postgres, with the
# production health site and shutdown_delay, behind a TCP load balancer that
# follows /healthz (bench/rolling: balancer, load, upstream in one process),
# then restarts the edges one at a time (SIGTERM, wait, start, healthy) with
# CLIENTS clients sending requests throughout, and prints requests and
# failures per phase. Exits non-zero when a request failed.
#
# Needs PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432);
# uses the database tenantgate_bench_rolling (dropped at the end) and ports
# from BASE_PORT (23000) to BASE_PORT+100.
#
# Environment: EDGES (2), CLIENTS (32), SETTLE (5s), SHUTDOWN_DELAY (2s;
# 0s shows what the drain is for), BASE_PORT (23000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_SERVER=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
DB_NAME=tenantgate_bench_rolling
export DATABASE_URL="${PG_SERVER}/${DB_NAME}?sslmode=disable"
CERT_STORAGE_KEY=$(head -c 32 /dev/urandom | base64 -w0)
export CERT_STORAGE_KEY

drop_db() {
	psql "${PG_SERVER}/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
}
trap drop_db EXIT
drop_db

make --no-print-directory build >&2
work=$(mktemp -d /tmp/tenantgate-bench-rolling.XXXXXX)
trap 'drop_db; rm -rf "$work"' EXIT
"${GO:-go}" build -o "$work/rolling" ./bench/rolling
"$work/rolling" -caddy bin/caddy -edges "${EDGES:-2}" -clients "${CLIENTS:-32}" \
	-settle "${SETTLE:-5s}" -shutdown-delay "${SHUTDOWN_DELAY:-2s}" -base-port "${BASE_PORT:-23000}"
