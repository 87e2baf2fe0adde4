#!/usr/bin/env bash
# edge.sh — what the tenant handler costs at the edge.
#
# Runs two bin/caddy processes in front of the SAME upstream (bench/edge):
#   gateway: the project Caddyfile as is;
#   plain:   the same Caddyfile with the `tenant` handler line removed
#            (plain Caddy reverse_proxy with the same transport, logs, TLS…).
# Then, alternately (gateway/plain, then plain/gateway, …), wrk with
# CONNECTIONS connections for DURATION against each, ROUNDS times, and prints
# every run, the medians, and the ratios gateway/plain of throughput (target
# ≥ 0.93) and p99 latency (target ≤ 1.10).
#
# Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL or the local defaults);
# installs wrk with apt when missing. Uses ports 22080–22199 and the control
# database tenantgate_bench_edge, dropped at the end.
#
# Environment: ROUNDS (3), DURATION (10s), CONNECTIONS (64), THREADS (2),
# WARMUP (2s), ACCESS_LOG (discard; "stdout" sends logs to the void too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
PG_SERVER=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
DB_NAME=tenantgate_bench_edge
export DATABASE_URL="${PG_SERVER}/${DB_NAME}?sslmode=disable"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export REDIS_KEY_PREFIX="tgbench:edge:$$:"
export BASE_DOMAIN=localhost
export ACCESS_LOG=${ACCESS_LOG:-discard}
HOST=acme.localhost
UPSTREAM=127.0.0.1:22100

work=$(mktemp -d /tmp/tenantgate-bench-edge.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	drop_bench_db "$PG_SERVER" "$DB_NAME"
	drop_redis_prefix "$REDIS_URL" "$REDIS_KEY_PREFIX"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { bench_die "$@"; }

need_apt wrk wrk

echo "building bin/caddy and the bench helper…"
go build -o bin/caddy ./cmd/caddy
go build -o "$work/edge" ./bench/edge

"$work/edge" seed "$DATABASE_URL" acme
export TENANT_SIGNING_KEYS="bench:$(head -c 32 /dev/urandom | base64)"

"$work/edge" upstream "$UPSTREAM" &
pids+=($!)
wait_port 22100 10 || die "the upstream did not start"

# The plain config: the project Caddyfile without the tenant handler line.
grep -v '^[[:space:]]*tenant[[:space:]]*$' Caddyfile >"$work/Caddyfile.plain"
cmp -s Caddyfile "$work/Caddyfile.plain" && die "no 'tenant' directive line found in Caddyfile"

start_caddy() { # name config http https admin
	HTTP_PORT=$3 HTTPS_PORT=$4 CADDY_ADMIN=127.0.0.1:$5 \
		APP_UPSTREAMS=$UPSTREAM ADMIN_UPSTREAMS=$UPSTREAM \
		XDG_DATA_HOME="$work/$1/data" XDG_CONFIG_HOME="$work/$1/config" \
		bin/caddy run --config "$2" --adapter caddyfile >"$work/$1.log" 2>&1 &
	pids+=($!)
	wait_port "$3" 30 || { cat "$work/$1.log" >&2; die "caddy ($1) did not start"; }
}
start_caddy gateway Caddyfile 22080 22443 22019
start_caddy plain "$work/Caddyfile.plain" 22081 22444 22020
declare -A port=([gateway]=22080 [plain]=22081)

# Sanity: the gateway serves the tenant, the plain config proxies blindly.
for name in gateway plain; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:${port[$name]}/")
	[[ $code == 200 ]] || die "$name answered $code for $HOST"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: nobody.localhost" "http://127.0.0.1:22080/")
[[ $code == 404 ]] || die "gateway answered $code for an unknown host, want 404"

declare -A rps p99 reqs
run() { wrk_round "$1" "$2" "${port[$1]}" "$HOST"; }

echo "wrk: $CONNECTIONS connections, $THREADS threads, $DURATION per run (after ${WARMUP} warm-up), $ROUNDS rounds, Host $HOST"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(gateway plain); else order=(plain gateway); fi
	for name in "${order[@]}"; do run "$name" "$r"; done
done

column() { round_column "$@"; }
ratios() { round_ratios "$1" gateway plain; }
g_rps=$(column rps gateway | median)
p_rps=$(column rps plain | median)
g_p99=$(column p99 gateway | median)
p_p99=$(column p99 plain | median)
t_ratio=$(ratios rps | median)
l_ratio=$(ratios p99 | median)
awk -v rounds="$ROUNDS" -v gr="$g_rps" -v pr="$p_rps" -v gp="$g_p99" -v pp="$p_p99" -v tr="$t_ratio" -v lr="$l_ratio" 'BEGIN {
	printf "\nmedian of %s rounds\n", rounds
	printf "  gateway (tenant handler) %10.0f req/s   p99 %7.3f ms\n", gr, gp
	printf "  plain reverse_proxy      %10.0f req/s   p99 %7.3f ms\n", pr, pp
	printf "  throughput ratio %.3f (target >= 0.93) %s   (median of per-round ratios)\n", tr, (tr >= 0.93 ? "ok" : "MISSED")
	printf "  p99 ratio        %.3f (target <= 1.10) %s\n", lr, (lr <= 1.10 ? "ok" : "MISSED")
}'
