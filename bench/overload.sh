#!/usr/bin/env bash
# overload.sh — the edge past its capacity, limits off then on (issue 15);
# see bench/overload/main.go for what is measured and how.
#
# Needs PostgreSQL and Redis (BENCH_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432; REDIS_URL). Uses the control database
# tenantgate_bench_overload (dropped at the end), a Redis key prefix of its
# own, and ports BASE_PORT (25000) to BASE_PORT+3. Extra arguments go to the
# program (e.g. -knee 3000 -overload 10s; -h lists them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

PG_SERVER=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
DB_NAME=tenantgate_bench_overload
export DATABASE_URL="${PG_SERVER}/${DB_NAME}?sslmode=disable"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export REDIS_KEY_PREFIX="tgbench:overload:$$:"
TENANT_SIGNING_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"
export TENANT_SIGNING_KEYS

work=$(mktemp -d /tmp/tenantgate-bench-overload.XXXXXX)
cleanup() {
	drop_bench_db "$PG_SERVER" "$DB_NAME"
	drop_redis_prefix "$REDIS_URL" "$REDIS_KEY_PREFIX"
	rm -rf "$work"
}
trap cleanup EXIT
drop_bench_db "$PG_SERVER" "$DB_NAME"

echo "building bin/caddy and bench/overload…"
"${GO:-go}" build -o bin/caddy ./cmd/caddy
"${GO:-go}" build -o "$work/overload" ./bench/overload
"$work/overload" -caddy bin/caddy -caddyfile Caddyfile -base-port "${BASE_PORT:-25000}" "$@"
